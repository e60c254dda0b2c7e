"""A data spec read for a model of another float type than float32: its real inputs are read
in the model's type, as the library takes the caller's data in it, so a ``--model`` factory
that builds a float64, float16 or bfloat16 model runs through the command line and gives
the library's numbers for the same model object. The command line refused it (exit 3,
"has float64 parameters but data digits:train is read as float32; build the model in
float32"), stricter than the library for the same model.

Tiny seeded models on 150 bundled digits, ``method="exact"``: the command line and the
library run the same code on the same tensors in the same order, so their numbers agree to
the last bit; the comparisons allow 1e-12 relative (float64 ulps), none is expected.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import textwrap

import pytest
import torch

import prunelimit
from prunelimit.api import CurvatureOptions
from prunelimit.cache import input_key
from prunelimit.data.spec import load_dataset
from prunelimit.inputs import load_inputs

SAMPLES = 150
EXACT = ("--method", "exact")
FACTORIES = textwrap.dedent("""
    import torch
    from torch import nn


    def make(dtype="float32"):
        return nn.Sequential(nn.Linear(64, 3), nn.ReLU(), nn.Linear(3, 10)).to(getattr(torch, dtype))


    def cnn(dtype="float32"):
        return nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 9, 10)).to(getattr(torch, dtype))


    class Tokens(nn.Module):  # integer token ids into nn.Embedding: they stay int64 in a float64 model
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(17, 2)
            self.head = nn.Linear(8 * 2, 10)

        def forward(self, x):
            return self.head(self.emb(x).flatten(1))


    def tokens():
        return Tokens().double()


    def mixed():  # one layer in float64: no one type to read the data in
        net = make()
        net[2].double()
        return net
""")
NAMESPACE: dict = {}
exec(compile(FACTORIES, "nets.py", "exec"), NAMESPACE)


@pytest.fixture
def nets(tmp_path):
    """The factory file and, per factory call, a checkpoint of what it builds after
    ``torch.manual_seed(0)`` (in the model's own float type); returns ``build(call)`` →
    (checkpoint, spec, model)."""
    path = tmp_path / "nets.py"
    path.write_text(FACTORIES)

    def build(name: str, **kwargs):
        torch.manual_seed(0)
        model = NAMESPACE[name](**kwargs)
        suffix = "".join(f"_{v}" for v in kwargs.values())
        ckpt = tmp_path / f"{name}{suffix}.pt"
        torch.save(model.state_dict(), ckpt)
        spec = f"{path}:{name}" + "".join(f":{k}={v}" for k, v in kwargs.items())
        return str(ckpt), spec, model.eval()

    return build


def _digits(spec: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The data as a library caller holds it for a model of ``dtype``: x in that type."""
    data = load_dataset(spec, max_samples=SAMPLES)
    return data.x.to(dtype), data.y


def _json(cli, *args) -> dict:
    # the commands that store curvature in the result cache; info and the law store nothing
    cached = ("--no-cache",) if args[0] in ("bounds", "spectrum", "verify", "gate", "prune") else ()
    result = cli(*args, "--max-samples", SAMPLES, *cached, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _same(a, b) -> bool:
    return a == pytest.approx(b, rel=1e-12, abs=0)


@pytest.mark.parametrize("factory,data", [("make", "digits:train"), ("cnn", "digits:train:image=1")])
def test_a_float64_factory_gives_the_librarys_numbers(cli, nets, tmp_path, factory, data):
    """bounds, spectrum, verify, gate, prune, info and law nplh on a float64 MLP and CNN
    factory: each command's numbers are the library's for the same float64 model object."""
    ckpt, spec, model = nets(factory, dtype="float64")
    given = _digits(data, torch.float64)
    run = (ckpt, "--model", spec, "--data", data)
    bounds = _json(cli, "bounds", *run, *EXACT)
    expected = prunelimit.bounds(model, given, method="exact").to_json()
    assert _same(bounds["loss"], expected["loss"]) and _same(bounds["epsilon"], expected["epsilon"])
    assert _same(bounds["prediction"]["ratio"], expected["prediction"]["ratio"])
    assert _same(bounds["bounds"]["lower"], expected["bounds"]["lower"])
    spectrum = _json(cli, "spectrum", *run, *EXACT)
    assert _same(spectrum["spectrum"]["lambda_max"],
                 prunelimit.spectrum(model, given, method="exact").to_json()["spectrum"]["lambda_max"])
    verify = _json(cli, "verify", *run, *EXACT)
    measured = prunelimit.verify(model, given, method="exact").to_json()["actual"]
    assert _same(verify["actual"]["dense_loss"], measured["dense_loss"])
    assert verify["actual"]["loss_ratio"] == measured["loss_ratio"] and verify["actual"]["curve"] == measured["curve"]
    gate = _json(cli, "gate", *run, *EXACT, "--min-ratio", "0.3")
    assert _same(gate["measured"], prunelimit.gate(model, given, min_ratio=0.3, method="exact").to_json()["measured"])
    info = _json(cli, "info", *run)
    library_info = prunelimit.info(model, given).to_json()
    assert _same(info["loss"], library_info["loss"]) and info["accuracy"] == library_info["accuracy"]
    if factory == "make":  # the magnitude-only commands once: pruning and the law read no convolution apart
        pruned = _json(cli, "prune", *run, *EXACT, "--ratio", "auto", "-o", tmp_path / "p.pt")
        library_pruned = prunelimit.prune(model, "auto", given, method="exact").to_json()
        assert pruned["ratio"] == library_pruned["ratio"] and pruned["layers"] == library_pruned["layers"]
        law = _json(cli, "law", "nplh", *run, "-o", tmp_path / "points.csv")
        library_law = prunelimit.nplh(model, given).to_json()
        assert _same(law["alpha0"], library_law["alpha0"]) and _same(law["c"], library_law["c"])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_half_precision_factory_gives_the_librarys_numbers(cli, nets, dtype):
    """A float16 or bfloat16 factory's model is read as a float32 model, its inputs in float32
    (as a checkpoint stored in that type), as the library reads such an object: the same ρ* and ε."""
    ckpt, spec, model = nets("make", dtype=dtype)
    doc = _json(cli, "bounds", ckpt, "--model", spec, "--data", "digits:train", *EXACT)
    expected = prunelimit.bounds(model, _digits("digits:train", getattr(torch, dtype)), method="exact").to_json()
    assert _same(doc["prediction"]["ratio"], expected["prediction"]["ratio"])
    assert _same(doc["epsilon"], expected["epsilon"]) and _same(doc["loss"], expected["loss"])


def test_a_whole_module_pickled_in_float16_runs_as_its_factory_would(cli, nets, tmp_path):
    """The rule is the model's, however it was saved: a module pickled in float16 is read as
    the float16 factory's model (it was refused, "save the module in float32")."""
    ckpt, spec, model = nets("make", dtype="float16")
    whole = tmp_path / "whole.pt"
    torch.save(model, whole)
    pickled = _json(cli, "bounds", whole, "--trust-pickle", "--data", "digits:train", *EXACT)
    built = _json(cli, "bounds", ckpt, "--model", spec, "--data", "digits:train", *EXACT)
    assert pickled["prediction"]["ratio"] == built["prediction"]["ratio"]


def test_float64_inputs_of_a_file_keep_their_digits_in_a_float64_model(cli, nets, tmp_path):
    """A ``tensors:`` file of float64 inputs is read whole for a float64 model (not rounded
    to float32 first), and as float32 for a float32 model, as before: each model's loss is the
    library's on the file's x in that type (1e-12: the same sums)."""
    torch.manual_seed(1)
    x, y = torch.randn(SAMPLES, 64, dtype=torch.float64), torch.randint(0, 10, (SAMPLES,))
    data = tmp_path / "train64.pt"
    torch.save({"x": x, "y": y}, data)
    for dtype in ("float64", "float32"):
        ckpt, spec, model = nets("make", dtype=dtype)
        doc = _json(cli, "info", ckpt, "--model", spec, "--data", f"tensors:{data}")
        assert _same(doc["loss"], prunelimit.info(model, (x.to(getattr(torch, dtype)), y)).loss)
    assert x.float().double().ne(x).any()  # the file's values are not float32 ones: the test can tell


def test_real_targets_are_read_in_float64_for_a_float64_model(cli, nets, tmp_path):
    """Regression targets of a float64 file keep their digits for a float64 model (the loss
    is the library's on the file's y, 1e-12), and stay float32 for a float16 one, read as a
    float32 model with its inputs (the library's on x.float() and y.float(), as given to it)."""
    torch.manual_seed(1)
    x, y = torch.randn(SAMPLES, 64, dtype=torch.float64), torch.randn(SAMPLES, 10, dtype=torch.float64)
    data = tmp_path / "regression64.pt"
    torch.save({"x": x, "y": y}, data)
    models = {}
    for dtype, inputs, targets in (("float64", x, y), ("float16", x.float(), y.float())):
        ckpt, spec, models[dtype] = nets("make", dtype=dtype)
        doc = _json(cli, "info", ckpt, "--model", spec, "--data", f"tensors:{data}", "--loss", "mse")
        assert _same(doc["loss"], prunelimit.info(models[dtype], (inputs, targets), loss="mse").loss)
    assert not _same(prunelimit.info(models["float64"], (x, y.float()), loss="mse").loss,
                     prunelimit.info(models["float64"], (x, y), loss="mse").loss)  # float32 targets would show


def test_token_ids_stay_integers_in_a_float64_model(cli, nets, tmp_path):
    """Only real inputs take the model's float type: a float64 model of an ``nn.Embedding``
    gets its token ids as int64 (floats would fail the lookup), and the library's numbers."""
    torch.manual_seed(1)
    x, y = torch.randint(0, 17, (SAMPLES, 8)), torch.randint(0, 10, (SAMPLES,))
    data = tmp_path / "ids.pt"
    torch.save({"x": x, "y": y}, data)
    ckpt, spec, model = nets("tokens")
    doc = _json(cli, "bounds", ckpt, "--model", spec, "--data", f"tensors:{data}", *EXACT, "--batch-size", "50")
    expected = prunelimit.bounds(model, (x, y), method="exact", batch_size=50).to_json()
    assert _same(doc["prediction"]["ratio"], expected["prediction"]["ratio"])


def test_a_model_of_several_float_types_is_refused_naming_the_fix(cli, nets):
    ckpt, spec, _ = nets("mixed")
    result = cli("bounds", ckpt, "--model", spec, "--data", "digits:train", "--no-cache")
    assert result.exit_code == 3, result.output
    assert "has float32/float64 parameters but data digits:train is read as float32; build the model in one " \
           "float type of float32, float64, float16 or bfloat16" in " ".join(result.stderr.split())


def test_float64_and_float32_builds_of_one_factory_never_share_a_cache_entry(cli, nets, monkeypatch, tmp_path):
    """The result cache keys the model's float type (its state's dtypes, and the data read in
    it): a float64 run, then a float32 run of the same factory, each read back their own
    ``--no-cache`` numbers; the key of one set of inputs in both types differs."""
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(tmp_path / "cache"))
    ckpt, spec, _ = nets("make")  # float32 weights, which load into either build
    runs = {}
    for dtype in ("float64", "float32"):
        args = ("bounds", ckpt, "--model", f"{spec}:dtype={dtype}", "--data", "digits:train", *EXACT,
                "--max-samples", SAMPLES, "--json")
        stored, read, fresh = (json.loads(cli(*args, *more).stdout) for more in ((), (), ("--no-cache",)))
        runs[dtype] = stored["prediction"]["ratio"]
        assert stored["prediction"]["ratio"] == read["prediction"]["ratio"] == fresh["prediction"]["ratio"]
        assert stored["epsilon"] == read["epsilon"] == fresh["epsilon"]
    assert runs["float64"] != runs["float32"]  # else the test could not tell the entries apart
    inputs = load_inputs(ckpt, model=spec, data="digits:train", max_samples=SAMPLES)
    wide = dataclasses.replace(inputs, loaded=dataclasses.replace(inputs.loaded, model=copy.deepcopy(inputs.model).double()),
                               batches=[(x.double(), y) for x, y in inputs.batches])
    options = CurvatureOptions(method="exact")
    assert input_key(inputs, "bounds", options) != input_key(wide, "bounds", options)


def test_a_float32_report_is_not_read_for_the_float64_build(cli, nets, tmp_path):
    """``--from`` a report of the float32 build on the float64 one, or a gate baseline: other
    weights (their float type) and other batches, refused, saying that the float type differs
    (``weights.dtype``); it said "other analysis batches: samples, their order or the batch
    size", of the same samples."""
    ckpt, spec, _ = nets("make")
    report = tmp_path / "r32.json"
    report.write_text(cli("bounds", ckpt, "--model", f"{spec}:dtype=float32", "--data", "digits:train", *EXACT,
                          "--max-samples", SAMPLES, "--no-cache", "--json").stdout)
    assert json.loads(report.read_text())["weights"]["dtype"] == "float32"
    wide = (ckpt, "--model", f"{spec}:dtype=float64", "--data", "digits:train", "--max-samples", SAMPLES, "--no-cache")
    result = cli("verify", *wide, "--from", report)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "was computed for another problem than this model: the weights differ (in float type at least: float32 " \
           "there, float64 here); data fingerprint" in said
    assert "(the data read in the model's float type: float32 there, float64 here)" in said
    result = cli("gate", *wide, *EXACT, "--baseline", report, "--max-drop", "0.01")
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "is not comparable with this model: data fingerprint" in said
    assert "(the data read in the model's float type: float32 there, float64 here)" in said
