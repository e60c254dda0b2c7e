"""The loss a checkpoint records (``meta.loss``) is the one every later command uses.

A model trained with ``--loss mse`` is analysed, pruned and verified with mse without
repeating the flag; a typed ``--loss`` wins; a recorded ``file.py:fn`` is code and runs
only when the user types it or passes ``--trust-pickle``. Labels that fit neither loss say
what to change.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.data.batches import cross_entropy_loss, mse_loss
from prunelimit.errors import InputError, UsageError
from prunelimit.inputs import load_inputs
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.load import load_model
from prunelimit.models.spec import build_model

REG_SPEC = "mlp:8,16,1"


@pytest.fixture
def regression(tmp_path):
    """A regression checkpoint recording ``mse`` and its real-valued data (ce refuses it)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 8, generator=g)
    torch.save({"x": x, "y": x[:, :1].tanh()}, tmp_path / "reg.pt")
    torch.manual_seed(0)
    path = tmp_path / "mse.pt"
    save_checkpoint(path, REG_SPEC, build_model(REG_SPEC).state_dict(),
                    meta={"data": f"tensors:{tmp_path / 'reg.pt'}", "loss": "mse"})
    return path


def _digits_ckpt(tmp_path, loss: str):
    torch.manual_seed(0)
    path = tmp_path / "cls.pt"
    save_checkpoint(path, "mlp:64,8,10", build_model("mlp:64,8,10").state_dict(),
                    meta={"data": "digits:test", "loss": loss})
    return path


def test_the_recorded_loss_is_used_and_a_typed_one_wins(regression, tmp_path):
    inputs = load_inputs(regression, device="cpu", data_from_checkpoint=True)
    assert inputs.loss_fn is mse_loss and inputs.loss == "mse"
    with pytest.raises(InputError, match="real-valued targets"):  # ce on the same data: the typed loss is used
        load_inputs(regression, loss="ce", device="cpu", data_from_checkpoint=True)
    cls = _digits_ckpt(tmp_path, "mse")  # integer labels: ce typed over a recorded mse
    assert load_inputs(cls, loss="ce", device="cpu", data_from_checkpoint=True).loss_fn is cross_entropy_loss


def test_a_file_without_a_recorded_loss_uses_ce(own_ckpt):
    inputs = load_inputs(own_ckpt, device="cpu", data_from_checkpoint=True)
    assert inputs.loss_fn is cross_entropy_loss and inputs.loss == "ce"


def test_a_recorded_loss_file_is_code_run_only_when_trusted(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "myloss.py").write_text(
        f"import pathlib, torch\npathlib.Path({str(marker)!r}).touch()\n"
        "def fn(model, batch):\n    return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])\n")
    ckpt = _digits_ckpt(tmp_path, f"{tmp_path / 'myloss.py'}:fn")
    with pytest.raises(InputError, match="records the loss .* run code; if you trust it, pass --loss"):
        load_inputs(ckpt, device="cpu", data_from_checkpoint=True)
    # nothing evaluated (info without data): no refusal, and still no code
    assert load_inputs(ckpt, device="cpu").batches is None
    assert not marker.exists()
    trusted = load_inputs(ckpt, device="cpu", trust_pickle=True, data_from_checkpoint=True)
    assert marker.exists() and trusted.loss_fn.__name__ == "fn"


def test_an_unknown_recorded_loss_names_the_file(tmp_path):
    ckpt = _digits_ckpt(tmp_path, "hinge")
    with pytest.raises(InputError, match="records an unknown loss 'hinge'; pass --loss"):
        load_inputs(ckpt, device="cpu", data_from_checkpoint=True)


def test_mse_training_is_recorded_through_prune_and_refused_on_resume_with_another_loss(regression, tmp_path):
    from prunelimit import api
    from prunelimit.pruning.lomp import LompConfig

    data = load_model(regression).meta["data"]
    out = tmp_path / "lomp.pt"
    config = LompConfig(epochs=1, lr=0.01)
    api.train(REG_SPEC, data, out, config, loss="mse", device="cpu")
    assert load_model(out).meta["loss"] == "mse"
    with pytest.raises(UsageError, match="trained with --loss mse, not ce; resume with --loss mse"):
        api.train(REG_SPEC, data, out, config, loss="ce", device="cpu", resume=True)
    api.train(REG_SPEC, data, out, config, device="cpu", resume=True)  # the recorded loss: nothing left to do

    pruned = tmp_path / "pruned.pt"
    report = api.prune(load_inputs(out, device="cpu", data_from_checkpoint=True), 0.5, pruned)
    assert report.after.loss > 0 and load_model(pruned).meta["loss"] == "mse"


def test_labels_that_do_not_fit_the_loss_say_what_to_change(tmp_path):
    ckpt = _digits_ckpt(tmp_path, "ce")
    x = np.zeros((8, 64), np.float32)
    np.savez(tmp_path / "f.npz", x=x, y=np.arange(8, dtype=np.float32))  # class indices saved as floats
    with pytest.raises(InputError, match=r"whole numbers: give class indices as integers y\.long\(\), or use "):
        load_inputs(ckpt, data=f"tensors:{tmp_path / 'f.npz'}", device="cpu")
    np.savez(tmp_path / "r.npz", x=x, y=np.linspace(0, 1, 8))  # real targets: no word of class indices
    with pytest.raises(InputError, match=r"has real-valued targets; use loss mse for regression$"):
        load_inputs(ckpt, data=f"tensors:{tmp_path / 'r.npz'}", device="cpu")
    with pytest.raises(InputError, match=r"y holds 1 value\(s\) per sample but the model gives 10 outputs"):
        load_inputs(ckpt, data="digits:test", loss="mse", device="cpu")  # it was torch's "shape ... is invalid"


def test_a_checkpoint_read_from_another_folder_finds_its_recorded_data_and_loss_beside_it(tmp_path, monkeypatch):
    """`train` ran in run/ and recorded `tensors:train.pt` and `losses.py:fn`: from the folder
    above, both are read beside the checkpoint (they were not found); from a folder holding
    another train.pt, the data is refused (that file was read in silence)."""
    run, other = tmp_path / "run", tmp_path / "other"
    run.mkdir(), other.mkdir()
    torch.manual_seed(0)
    x, y = torch.randn(40, 8), torch.randint(0, 3, (40,))
    torch.save({"x": x, "y": y}, run / "train.pt")
    torch.save({"x": -x, "y": y}, other / "train.pt")
    (run / "losses.py").write_text("import torch.nn.functional as F\n"
                                   "def fn(model, batch): return F.cross_entropy(model(batch[0]), batch[1])\n")
    save_checkpoint(run / "m.pt", "mlp:8,3", build_model("mlp:8,3").state_dict(),
                    meta={"data": "tensors:train.pt", "loss": "losses.py:fn"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"records the loss 'run/losses.py:fn', which would import and run code; "
                                         r"if you trust it, pass --loss run/losses.py:fn"):
        load_inputs("run/m.pt", data_from_checkpoint=True)
    inputs = load_inputs("run/m.pt", data_from_checkpoint=True, trust_pickle=True)
    assert inputs.data_spec == "tensors:run/train.pt" and inputs.loss == "run/losses.py:fn"
    assert torch.equal(torch.cat([b[0] for b in inputs.batches]), x)
    monkeypatch.chdir(other)
    with pytest.raises(InputError, match=r"both train.pt \(here\) and \.\./run/train.pt \(beside the checkpoint\) "
                                         r"exist; pass --data SPEC"):
        load_inputs("../run/m.pt", data_from_checkpoint=True, loss="ce")
    assert load_inputs("../run/m.pt", "mlp:8,3", data="tensors:train.pt", loss="ce").data_spec == "tensors:train.pt"


_RECURRENT = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.rnn = kind(8, 6, batch_first=True)
        self.head = nn.Linear(6, 10)

    def forward(self, x):
        return self.head(self.rnn(x.reshape(x.shape[0], 8, 8))[0][:, -1])


def lstm():
    torch.manual_seed(0)
    return Net(nn.LSTM)


def gru():
    torch.manual_seed(0)
    return Net(nn.GRU)
'''


def _selection_case(tmp_path, case: str) -> tuple[str, list[str]]:
    """A model spec and the ``prune`` flags of a non-default prunable set."""
    (tmp_path / "nets.py").write_text(_RECURRENT)
    if case == "mlp-exclude":
        return "mlp:64,8,10", ["--exclude", "0"]
    return f"{tmp_path / 'nets.py'}:{case.removesuffix('-include')}", ["--include", "rnn"]


@pytest.mark.parametrize("case", ["lstm-include", "gru-include", "mlp-exclude"])
def test_a_pruned_file_is_measured_with_the_prunable_set_it_was_pruned_with(cli, tmp_path, case):
    """``prune --include rnn`` (or ``--exclude``) records its set beside ``meta.pruned``, and
    ``info`` of the file, of its ``export`` and of its ``--format safetensors`` copy, and
    ``load_inputs`` without the flags count what was pruned:
    the same N, the same achieved sparsity, the same tensors. (They counted the default set.)"""
    import json

    from prunelimit.io.checkpoint import read_checkpoint

    model, flags = _selection_case(tmp_path, case)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "dense.pt", model, build_model(model).state_dict())
    pruned, sparse = tmp_path / "p.pt", tmp_path / "p.sparse.safetensors"
    result = cli("prune", tmp_path / "dense.pt", "--model", model, "--ratio", "0.5", *flags, "-o", pruned,
                 "--format", "prunelimit", "--format", "safetensors", "--json")
    assert result.exit_code == 0, result.stderr
    layers = json.loads(result.stdout)["layers"]
    n, zeros = sum(layer["total"] for layer in layers), sum(layer["zeros"] for layer in layers)
    meta = read_checkpoint(pruned).meta["pruned"]
    assert (meta["include"], meta["exclude"]) == ((["rnn"], []) if flags[0] == "--include" else ([], ["0"]))
    assert cli("export", pruned, "--model", model, "-o", sparse).exit_code == 0
    for path in (pruned, sparse, tmp_path / "p.safetensors"):  # the plain safetensors: no masks, the set in its header
        info = cli("info", path, "--model", model, "--json")
        assert info.exit_code == 0 and "warning" not in info.stderr, info.stderr
        body = json.loads(info.stdout)
        assert [layer["name"] for layer in body["layers"]] == [layer["name"] for layer in layers]
        assert (body["params"]["prunable"], sum(layer["zeros"] for layer in body["layers"])) == (n, zeros)
        assert load_inputs(path, model).selection == load_inputs(tmp_path / "dense.pt", model,
                                                                 include=tuple(meta["include"]),
                                                                 exclude=tuple(meta["exclude"])).selection


def test_a_given_prunable_set_that_differs_from_the_recorded_one_wins_with_one_warning(cli, tmp_path):
    """An explicit ``--include``/``--exclude`` is used, and one warning line names what the file
    records and what this run uses, and the masks the run leaves out of N."""
    import json

    model, flags = _selection_case(tmp_path, "lstm-include")
    save_checkpoint(tmp_path / "dense.pt", model, build_model(model).state_dict())
    assert cli("prune", tmp_path / "dense.pt", "--model", model, "--ratio", "0.5", *flags,
               "-o", tmp_path / "p.pt").exit_code == 0
    info = cli("info", tmp_path / "p.pt", "--model", model, "--exclude", "rnn", "--json")
    assert info.exit_code == 0, info.stderr
    assert [layer["name"] for layer in json.loads(info.stdout)["layers"]] == ["head.weight"]
    warned = [line for line in info.stderr.splitlines() if "warning" in line]
    assert len(warned) == 1, info.stderr
    assert all(part in warned[0] for part in ("--include 'rnn'", "--exclude 'rnn', as given", "rnn.weight_ih_l0"))


def test_masks_outside_the_prunable_set_in_use_are_never_ignored_in_silence(cli, tmp_path):
    """A file holding masks on tensors the set in use does not count (``--format torch-prune``,
    which records no set; a library ``prune(include=...).apply``) warns, naming them and the
    ``--include`` that counts them; a file recording an unknown set is a one-line input error."""
    import prunelimit

    model, flags = _selection_case(tmp_path, "lstm-include")
    save_checkpoint(tmp_path / "dense.pt", model, build_model(model).state_dict())
    assert cli("prune", tmp_path / "dense.pt", "--model", model, "--ratio", "0.5", *flags, "--format", "torch-prune",
               "-o", tmp_path / "p.pt").exit_code == 0
    info = cli("info", tmp_path / "p.prune.pt", "--model", model)
    assert info.exit_code == 0 and "masks on 2 tensor(s)" in info.stderr and "--include 'rnn'" in info.stderr, \
        info.stderr
    net = build_model(model)
    pruned = prunelimit.prune(net, 0.5, include=("rnn",)).apply(net)  # records its set, as the file does
    # the library caller reads the sets and the fix as keywords, the command line's text above as flags
    with pytest.warns(UserWarning, match=r"the model was pruned with include=\('rnn',\); this run uses include="
                      r"\('head',\), as given\. It has .*rnn\.weight_ih_l0, rnn\.weight_hh_l0.*; include=\('rnn',\) \(a glob"):
        prunelimit.prune(pruned, 0.5, include=("head",))  # the applied masks, read with another set
    save_checkpoint(tmp_path / "other.pt", "mlp:64,8,10", build_model("mlp:64,8,10").state_dict(),
                    meta={"pruned": {"include": ["rnn"], "exclude": []}})
    with pytest.raises(InputError, match=r"pruned with --include 'rnn', which does not fit this model"):
        load_inputs(tmp_path / "other.pt")


def test_a_pruned_torchscript_archive_records_its_prunable_set(cli, tmp_path):
    """A TorchScript model is saved pruned as an archive with its meta: read back without
    ``--exclude``, it counts the set it was pruned with (it counted the default set)."""
    import json

    torch.jit.save(torch.jit.script(build_model("mlp:64,8,10").eval()), tmp_path / "ts.pt")
    result = cli("prune", tmp_path / "ts.pt", "--trust-pickle", "--ratio", "0.5", "--exclude", "0",
                 "-o", tmp_path / "p.pt", "--json")
    assert result.exit_code == 0, result.stderr
    info = cli("info", tmp_path / "p.pt", "--trust-pickle", "--json")
    assert info.exit_code == 0 and "warning" not in info.stderr, info.stderr
    body = json.loads(info.stdout)
    assert [layer["name"] for layer in body["layers"]] == ["2.weight"] == \
        [layer["name"] for layer in json.loads(result.stdout)["layers"]]
    assert body["params"]["prunable"] == 80


def test_a_model_that_fixes_the_batch_size_is_refused_before_the_work(tiny_model):
    """The last batch runs at load time when its size differs: a model that fails only there
    stopped midway as an internal error; the library names its own parameters."""
    import prunelimit

    class Fixed(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.view(16, -1))

    x, y = torch.randn(40, 64), torch.arange(40) % 10
    with pytest.raises(InputError, match=r"last batch of .*, of 8 samples where the others hold 16 .*"
                                         r"if model or loss fixes the batch size .* pass a batch_size that divides"):
        prunelimit.bounds(Fixed(tiny_model), (x, y), batch_size=16, method="paper", iterations=4, runs=1)
    # batches that divide the data: the curvature walks them as given, not regrouped into chunks it cannot take
    with pytest.warns(UserWarning, match="fails on a chunk of 32 samples .*walk your batches as given"):
        result = prunelimit.bounds(Fixed(tiny_model), (x[:32], y[:32]), batch_size=16, method="paper", iterations=4,
                                   runs=1)
    plain = prunelimit.bounds(tiny_model, (x[:32], y[:32]), batch_size=16, method="paper", iterations=4, runs=1)
    assert result.ratio == pytest.approx(plain.ratio, abs=1e-6)  # the same function: float32 sums in another order


@pytest.mark.parametrize("command", [("info",), ("spectrum", "--no-cache"), ("bounds", "--no-cache"),
                                     ("prune", "--ratio", "0.6", "-o", "again.pt"), ("law", "nplh"),
                                     ("gate", "--min-ratio", "0.1", "--use", "actual")])
def test_every_json_report_that_counts_the_set_carries_its_warnings(cli, tmp_path, command):
    """A set given beside the recorded one (and the masks it leaves out) qualifies every
    number counted over the set: the JSON's ``warnings`` hold the line, as ``bounds``' did,
    and stderr shows it once. ``info --json`` had no ``warnings``; ``spectrum``, ``law nplh``,
    ``prune`` with a given ratio and ``gate --use actual`` (no bounds computed) left it out of
    theirs (``prune`` printed it twice)."""
    import json

    save_checkpoint(tmp_path / "dense.pt", "mlp:64,8,10", build_model("mlp:64,8,10").state_dict())
    assert cli("prune", tmp_path / "dense.pt", "--ratio", "0.5", "--exclude", "2", "-o", tmp_path / "p.pt").exit_code == 0
    where = [tmp_path / "again.pt" if arg == "again.pt" else arg for arg in command[1:]]
    result = cli(command[0], *where[:1] if command[0] == "law" else (), tmp_path / "p.pt", *where[1:] if command[0] == "law" else where,
                 "--data", "digits:train", "--max-samples", "200", "--exclude", "0", "--json")
    assert result.exit_code == 0, result.stderr
    line = f"checkpoint {tmp_path / 'p.pt'} was pruned with --exclude '2'; this run uses --exclude '0', as given."
    warned = [w for w in json.loads(result.stdout)["warnings"] if w.startswith(line)]
    assert len(warned) == 1 and "masks on 1 tensor(s) outside the prunable set in use (0.weight)" in warned[0]
    assert result.stderr.count(line) == 1, result.stderr


class _SpareHead(torch.nn.Module):
    """A classifier whose forward never calls its second head (``spare``): a common leftover."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Linear(8, 3)
        self.spare = torch.nn.Linear(8, 5)

    def forward(self, x):
        return self.body(x)


def test_parameters_the_loss_never_reaches_are_named_once(recwarn):
    """A spare head counted in N and D as zero-curvature directions and raised ρ* with no
    word: the load-time check now finds parameters with no gradient and names them, with the
    keyword that leaves them out (``exclude=('spare',)``, not the command line's flag); N and D
    are not changed behind the caller's back."""
    import warnings

    import prunelimit

    torch.manual_seed(0)
    model = _SpareHead()
    data = (torch.randn(64, 8), torch.arange(64) % 3)
    inputs = prunelimit.inputs_from(model, data)
    said = [str(w.message) for w in recwarn if "no gradient" in str(w.message)]
    assert len(said) == 1 and "spare.weight, spare.bias" in said[0] and "exclude=('spare',)" in said[0], said
    assert said[0] in inputs.load_warnings  # and so in every report's warnings
    assert prunelimit.info(model).to_json()["params"]["hessian"] == 3 * 8 + 3 + 5 * 8 + 5  # D as documented
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prunelimit.inputs_from(model, data, exclude=("spare",))  # left out: nothing to say


def test_an_unused_parameter_of_the_model_itself_is_not_sent_to_exclude(recwarn):
    """--exclude takes module globs: a root parameter (an EmbeddingBag-style ``bias`` forward
    skips) has no module to name, and the warning said "leave them out with --exclude"."""
    import prunelimit

    torch.manual_seed(0)
    model = torch.nn.Linear(8, 3)
    model.forward = lambda x: x @ model.weight.T  # the bias unused
    prunelimit.inputs_from(model, (torch.randn(64, 8), torch.arange(64) % 3))
    (said,) = [str(w.message) for w in recwarn if "no gradient" in str(w.message)]
    assert "(bias)" in said and "count in D " in said and said.endswith("remove them from the model, or use them in forward")


@pytest.mark.parametrize("command", [("info",), ("bounds",), ("verify",), ("gate", "--min-ratio", "0.1"),
                                     ("verify", "--from", "b.json"), ("gate", "--min-ratio", "0.1", "--from", "b.json"),
                                     ("verify", "--from", "t.json"), ("gate", "--min-ratio", "0.1", "--from", "t.json")])
def test_a_training_record_says_what_it_left_unused(cli, tmp_path, command):
    """A training checkpoint (epoch, model_state_dict, optimizer_state_dict) loads its weights,
    and every report now says, in its JSON ``warnings`` and once on stderr, that the epoch and
    the optimizer state were not used: only ``info`` showed it (``format nested``). A saved
    prediction (``--from``) of the plain weights (b.json) or of the record itself (t.json,
    which states it too) leaves it said once."""
    import json

    state = build_model("mlp:64,8,10").state_dict()
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9)
    torch.save({"epoch": 7, "model_state_dict": state, "optimizer_state_dict": optimizer.state_dict()},
               tmp_path / "train.pt")
    torch.save(state, tmp_path / "plain.pt")  # the same weights alone: nothing to say
    common = ["--model", "mlp:64,8,10", "--data", "digits:train", "--max-samples", "200", "--threads", "1"]
    exact = ["--method", "exact", "--no-cache"]
    saved = cli("bounds", tmp_path / "plain.pt", *common, *exact, "--json")
    assert saved.exit_code == 0 and "training record" not in saved.stdout + saved.stderr, saved.stderr
    (tmp_path / "b.json").write_text(saved.stdout)
    (tmp_path / "t.json").write_text(cli("bounds", tmp_path / "train.pt", *common, *exact, "--json").stdout)
    where = [tmp_path / arg if arg.endswith(".json") else arg for arg in command[1:]]
    computed = command[0] != "info" and "--from" not in command
    result = cli(command[0], tmp_path / "train.pt", *where, *common, *exact * computed, "--json")
    assert result.exit_code == 0, result.stderr
    line = (f"checkpoint {tmp_path / 'train.pt'} is a training record: the weights were read from "
            "'model_state_dict'; 'epoch', 'optimizer_state_dict' beside them are not used")
    assert json.loads(result.stdout)["warnings"].count(line) == 1
    assert result.stderr.count(line) == 1, result.stderr


@pytest.mark.parametrize("masks, message", [
    ({"nope.weight": torch.ones(4, 8, dtype=torch.bool)}, r"mask names \['nope.weight'\] are not parameters"),
    ({"0.weight": torch.ones(3, 3, dtype=torch.bool)}, r"mask for 0.weight has shape \(3, 3\), weight \(4, 8\)"),
    ([1, 2], r"masks must map parameter names to bool tensors"),
])
def test_inputs_from_checks_the_masks_it_is_given(masks, message):
    """``prunelimit.inputs_from(model, data, masks=...)`` took any masks: a name of no parameter
    or a mask of another shape was read in silence (the commands then ran as if unpruned), a
    list failed in torch's words. They are refused as ``train(masks=...)`` refuses them."""
    import prunelimit

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    with pytest.raises(UsageError, match=message):
        prunelimit.inputs_from(model, (torch.randn(16, 8), torch.arange(16) % 3), masks=masks)


def test_inputs_from_reads_a_float_mask_as_kept_where_nonzero():
    """A ``weight_mask`` (float 0/1), as ``train(masks=...)`` reads it: held as the bool mask."""
    import prunelimit

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    keep = torch.rand(4, 8) > 0.5
    data = (torch.randn(16, 8), torch.arange(16) % 3)
    given = prunelimit.inputs_from(model, data, masks={"0.weight": keep.float()}).loaded.masks["0.weight"]
    assert given.dtype == torch.bool and torch.equal(given, keep)


def _torch_pruned_mlp() -> torch.nn.Module:
    from torch.nn.utils import prune

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    return model


@pytest.mark.parametrize("masks", [None, {"0.weight": torch.ones(6, 8, dtype=torch.bool)}])
def test_inputs_from_a_torch_pruned_model_says_how_to_give_it(masks):
    """A model still carrying ``torch.nn.utils.prune`` (``0.weight_orig`` and ``0.weight_mask``):
    masks keyed ``0.weight`` were refused as naming no parameter (the message suggested that very
    name), and without masks its pruned layer fell out of the prunable set (N 18 of 66), with a
    warning about weight_norm. The Inputs outlive the call, so it cannot be read as pruned for
    their time: refused with the steps that give it, which the functions' own reading matches."""
    import prunelimit
    from prunelimit import api
    from torch.nn.utils import prune

    gen = torch.Generator().manual_seed(0)
    data = (torch.randn(64, 8, generator=gen), torch.randint(0, 3, (64,), generator=gen))
    model = _torch_pruned_mlp()
    with pytest.raises(UsageError) as refused:
        prunelimit.inputs_from(model, data, masks=masks)
    assert "torch.nn.utils.prune" in str(refused.value)
    assert "masks = {'0.weight': model.get_submodule('0').weight_mask.bool()}" in str(refused.value)
    assert "torch.nn.utils.prune.remove(model.get_submodule('0'), 'weight')" in str(refused.value)
    # the steps it names, then the Inputs: the prediction the functions give on the torch-pruned model
    kept = {"0.weight": model.get_submodule("0").weight_mask.bool()}
    prune.remove(model.get_submodule("0"), "weight")
    given = api.bounds(prunelimit.inputs_from(model, data, masks=kept, batch_size=16), api.CurvatureOptions(method="exact"))
    direct = prunelimit.bounds(_torch_pruned_mlp(), data, batch_size=16, method="exact")
    assert given.to_json()["params"] == direct.to_json()["params"] == {"hessian": 75, "prunable": 66}
    assert given.ratio == direct.ratio


@pytest.mark.parametrize("stored", [torch.float16, torch.bfloat16])
def test_soft_targets_stored_in_half_precision_are_told_to_be_probabilities(stored) -> None:
    """Under the ce loss, softmax rows saved in float16 or bfloat16 (read back as float32)
    sum to 1 only within their type's rounding (here 2.9e-4 and 2.2e-3): the 1e-4 of float32
    rounding took them for regression targets, and the error said "use loss='mse' for
    regression" instead of naming them soft targets, as it does for float32 rows."""
    import prunelimit

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=generator)
    soft = torch.softmax(3 * torch.randn(64, 10, generator=generator), 1).to(stored).float()
    assert (soft.sum(1, dtype=torch.float64) - 1).abs().max() > 1e-4  # the rounding this is about
    with pytest.raises(InputError, match=r"^data has real-valued targets; they are probabilities \(soft targets\)"):
        prunelimit.bounds(build_model("mlp:8,6,10"), (x, soft))


class _Squeezed(torch.nn.Module):
    """A one-logit model whose forward gives one value a sample, of shape (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).squeeze(-1)


_CLASS_OUTPUT_CASES = {
    # one value a sample: torch's cross-entropy read the (N,) output as one sample's N class scores and
    # the float labels as its probabilities, and the loss came out in silence (info's loss 298.7)
    "one value a sample": (lambda: _Squeezed(), (64, 8), lambda g: torch.randint(0, 2, (64,), generator=g).float(),
                           r"^the model gives one value a sample on data \(an output of shape \(32,\)\), but the "
                           r"CrossEntropyLoss criterion needs one score a class, an output of shape \(N, C\)"),
    # an x of one dimension too many, carried through the Linear layers: "data has label 2 but the model has 2
    # outputs" of a model with 3
    "x of a dimension too many": (lambda: build_model("mlp:8,6,3"), (64, 2, 8),
                                  lambda g: torch.randint(0, 3, (64,), generator=g),
                                  r"^data: the model's output has shape \(N, 2, 3\) and y \(N,\); .* y of shape "
                                  r"\(N, 3\); one class index a sample needs an output of shape \(N, C\): check the "
                                  r"shape of x"),
    # a sequence model's (N, T, C) beside (N, T) labels: torch's "Expected target size [32, 3], got [32, 5]"
    "classes last": (lambda: build_model("mlp:8,6,3"), (64, 5, 8), lambda g: torch.randint(0, 3, (64, 5), generator=g),
                     r"^data: the model's output has shape \(N, 5, 3\) and y \(N, 5\); .* its classes are in the last "
                     r"dimension: give them in dim 1, a module whose forward returns model\(x\)\.movedim\(-1, 1\)"),
}


@pytest.mark.parametrize("case", _CLASS_OUTPUT_CASES)
def test_a_class_loss_refuses_an_output_its_labels_do_not_index(case) -> None:
    """A class-index loss reads an (N, C) output, or (N, C, d…) beside (N, d…) labels: any other
    output is refused naming both shapes and the fix (seen failing before: the first case
    passed in silence, the others named a wrong class count or gave torch's message)."""
    import prunelimit

    build, x_shape, labels, message = _CLASS_OUTPUT_CASES[case]
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    data = (torch.randn(*x_shape, generator=generator), labels(generator))
    with pytest.raises(InputError, match=message):
        prunelimit.info(build(), data, loss=torch.nn.CrossEntropyLoss(), batch_size=32)


def test_a_class_loss_reads_per_position_labels_beside_an_output_of_classes_in_dim_1() -> None:
    """(N, C, d) outputs beside (N, d) labels, torch's own layout for cross-entropy, are read."""
    import prunelimit

    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    data = (torch.randn(64, 5, 8, generator=generator), torch.randint(0, 5, (64, 3), generator=generator))
    report = prunelimit.info(build_model("mlp:8,6,3"), data, batch_size=32)
    assert report.loss is not None and 0.0 < report.loss < 10.0  # a finite per-position mean


_LATER_BATCH_CASES = {
    # each was torch's own error and traceback from the middle of the work (the first batch alone was checked)
    "a feature missing": (lambda x, y: (x[:, :5], y),
                          r"^the model fails on data batch 1 \(RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    "float64": (lambda x, y: (x.double(), y), r"^the model has float32 parameters but data batch 1 is float64; "),
    # joining the batches' labels raised "Tensors must have same number of dimensions: got 1 and 2"
    "a label column": (lambda x, y: (x, y[:, None]), r"^data batch 1: y has shape \(16, 1\), but the ce loss needs one "
                                                     r"class index per sample"),
}


@pytest.mark.parametrize("case", _LATER_BATCH_CASES)
def test_a_later_batch_of_another_form_is_checked_and_named(case) -> None:
    """Batches given in hand are checked as the first is, each form once: one that does not fit
    the model or the loss is refused naming its index (seen failing before: torch's errors)."""
    import prunelimit

    spoil, message = _LATER_BATCH_CASES[case]
    generator = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, 8, generator=generator), torch.randint(0, 3, (16,), generator=generator))
               for _ in range(3)]
    batches[1] = spoil(*batches[1])
    torch.manual_seed(0)
    with pytest.raises(InputError, match=message):
        prunelimit.info(build_model("mlp:8,6,3"), batches)


class _MeanOfTokens(torch.nn.Module):
    """Token ids of any length in, one row of class scores a sample out."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(20, 6)
        self.head = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(x).mean(1))


def test_batches_of_their_own_lengths_are_read() -> None:
    """A loader that pads each batch to its own length gives x of other shapes: accepted, each
    form checked once."""
    import prunelimit

    generator = torch.Generator().manual_seed(0)
    batches = [(torch.randint(0, 20, (16, length), generator=generator), torch.randint(0, 3, (16,), generator=generator))
               for length in (5, 7, 5, 9)]
    torch.manual_seed(0)
    report = prunelimit.info(_MeanOfTokens(), batches)
    assert report.loss is not None and 0.0 < report.loss < 10.0  # a finite mean over the four batches


@pytest.mark.parametrize("outputs, message", [
    (3, r"^data has label 3 but the model has 3 outputs; check data and model \(its last layer's out_features, one "
        r"a class\)$"),
    (1, r"^data has label 1 but the model has 1 outputs; check data and model \(its last layer's out_features, one "
        r"a class\); for two classes as one logit a sample, give loss=nn.BCEWithLogitsLoss\(\)$"),
])
def test_a_label_past_the_outputs_names_the_library_fix(outputs, message) -> None:
    """A library caller built the module itself: the command line's model-spec hint "(e.g.
    :num_classes=...)" meant nothing to it (seen failing before), and a one-logit model of two
    classes is told the criterion that takes it."""
    import prunelimit

    generator = torch.Generator().manual_seed(0)
    y = torch.arange(64) % (outputs + 1)
    torch.manual_seed(0)
    with pytest.raises(InputError, match=message):
        prunelimit.info(build_model(f"mlp:8,6,{outputs}"), (torch.randn(64, 8, generator=generator), y))
