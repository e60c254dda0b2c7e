"""`prunelimit export` on the bundled example: size, bit-exact reload, readers, bench, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch.nn.utils import prune
from typer.testing import CliRunner

from prunelimit import load_sparse
from prunelimit.cli import app
from prunelimit.io.checkpoint import SAFETENSORS_PRUNED, read_checkpoint

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
CHEAP_BOUNDS = ("--method", "slq", "--iterations", "8", "--runs", "1", "--max-samples", "256", "--no-cache", "--json")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def pruned(tmp_path_factory) -> Path:
    """The bundled example pruned to ratio 0.9 by `prunelimit prune`, as the README does."""
    path = tmp_path_factory.mktemp("pruned") / "pruned.pt"
    result = run("prune", EXAMPLE, "--ratio", "0.9", "-o", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def exported(pruned, tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("exported") / "model.sparse.safetensors"
    result = run("export", pruned, "-o", path, "--json")
    assert result.exit_code == 0, result.output
    return path, json.loads(result.stdout)


def test_ratio_09_file_is_at_most_03_of_the_dense_state_dict(pruned, exported):
    path, doc = exported
    dense = sum(t.numel() * t.element_size() for t in read_checkpoint(pruned).state_dict.values())
    assert doc["schema"] == "prunelimit.export/1"
    assert doc["size"]["dense_bytes"] == dense
    assert doc["size"]["file_bytes"] == path.stat().st_size
    assert path.stat().st_size <= 0.3 * dense  # measured: 0.253 (2,442 of 9,640 bytes, header included)
    assert {t["name"]: t["format"] for t in doc["tensors"]}["0.weight"] == "csr"


def test_load_sparse_gives_the_pruned_weights_and_masks_bit_for_bit(pruned, exported):
    path, _ = exported
    raw, back = read_checkpoint(pruned), read_checkpoint(path)
    assert back.kind == "sparse" and back.model_spec == raw.model_spec and back.meta["data"] == raw.meta["data"]
    dense = load_sparse(path)
    assert list(dense) == list(raw.state_dict)
    for name, tensor in raw.state_dict.items():
        assert torch.equal(dense[name].view(torch.int32), tensor.view(torch.int32)), name
    assert all(torch.equal(back.masks[k], raw.masks[k]) for k in raw.masks) and back.masks.keys() == raw.masks.keys()


def test_info_and_bounds_read_the_exported_file_as_the_pruned_one(pruned, exported):
    path, _ = exported
    docs = [json.loads(run("info", ckpt, "--json").stdout) for ckpt in (pruned, path)]
    assert docs[1]["format"] == "sparse"
    for doc in docs:
        doc.pop("checkpoint"), doc.pop("format")
    assert docs[0] == docs[1]
    ratios = []
    for ckpt in (pruned, path):
        result = run("bounds", ckpt, *CHEAP_BOUNDS)
        assert result.exit_code == 0, result.output
        ratios.append(json.loads(result.stdout)["prediction"]["ratio"])
    assert ratios[0] == ratios[1]  # same weights, same seed: the same number, not just a close one


def test_bench_and_report(pruned, tmp_path):
    out = tmp_path / "m.safetensors"
    result = run("export", pruned, "-o", out, "--bench", "--batch-size", "8", "--device", "cpu", "--json",
                 "--report", tmp_path / "rep")
    assert result.exit_code == 0, result.output
    bench = json.loads(result.stdout)["bench"]
    assert [row["batch"] for row in bench["latency"]] == [1, 8]
    assert bench["sparse_layers"] == ["0", "2"] and bench["pattern"] == "csr"
    assert all(row["verdict"] in ("faster", "slower", "no gain") and row["dense_ms"] > 0 for row in bench["latency"])
    assert bench["max_abs_diff"] < 1e-4  # float32 sums in another order: rounding only, outputs are O(10)
    assert "prunelimit export" in (tmp_path / "rep" / "report.html").read_text()
    console = run("export", pruned, "-o", tmp_path / "c.safetensors", "--bench", "--batch-size", "4")
    assert console.exit_code == 0 and "speedup" in console.stdout and "csr" in console.stdout


def test_bench_times_the_prunable_set_in_use(pruned, tmp_path):
    """--include/--exclude were accepted with --bench and changed nothing: every Linear layer
    holding a zero ran sparse. The set in use (typed, else the one the file was pruned with)
    is what runs sparse; a pruned layer outside it stays dense and is named."""
    result = run("export", pruned, "-o", tmp_path / "m.safetensors", "--bench", "--batch-size", "2", "--device", "cpu",
                 "--exclude", "2", "--json")
    assert result.exit_code == 0, result.output
    bench = json.loads(result.stdout)["bench"]
    assert bench["sparse_layers"] == ["0"] and bench["dense_layers"] == ["2 (outside the prunable set: --exclude '2')"]
    assert "this run uses --exclude '2', as given" in " ".join(result.stderr.split())


def test_bench_loss_checks_the_data_only(tmp_path):
    """--loss does not enter the timing or the output difference; like every command that
    reads data, --bench runs the model on it once with the loss to check they fit. A
    regression model whose file records no loss needs --loss mse there, so it is accepted."""
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    net = build_model("mlp:8,6,1")
    with torch.no_grad():
        net[0].weight[:, ::2] = 0
    torch.save({"x": torch.randn(16, 8), "y": torch.randn(16, 1)}, tmp_path / "reg.pt")
    save_checkpoint(tmp_path / "p.pt", "mlp:8,6,1", net.state_dict(), masks={"0.weight": net[0].weight != 0},
                    meta={"data": f"tensors:{tmp_path / 'reg.pt'}"})
    args = ("export", tmp_path / "p.pt", "-o", tmp_path / "m.safetensors", "--bench", "--batch-size", "4", "--json")
    refused = run(*args)
    assert refused.exit_code == 3 and "--loss mse" in refused.stderr and not (tmp_path / "m.safetensors").exists()
    result = run(*args, "--loss", "mse")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bench"]["sparse_layers"] == ["0"]


def test_prune_scope_two_four_then_export(tmp_path):
    out = tmp_path / "p24.pt"
    result = run("prune", EXAMPLE, "--scope", "2:4", "--ratio", "0.5", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ratio"]["achieved"] == 0.5
    assert run("export", out, "-o", tmp_path / "p24.safetensors").exit_code == 0
    refused = run("prune", EXAMPLE, "--scope", "2:4", "-o", tmp_path / "auto.pt")
    assert refused.exit_code == 2 and "--ratio 0.5" in refused.stderr and not (tmp_path / "auto.pt").exists()


@pytest.fixture
def corrupt(exported, tmp_path) -> Path:
    path = tmp_path / "corrupt.safetensors"
    raw = bytearray(exported[0].read_bytes())
    raw[-60:] = b"\xff" * 60  # the last CSR/bitmap bytes: pointers or bits that cannot be
    path.write_bytes(bytes(raw))
    return path


@pytest.fixture
def maskless(pruned, tmp_path) -> Path:
    """The pruned example as `prune --format safetensors` writes it: its zeros and meta.pruned, no masks."""
    path = tmp_path / "maskless.safetensors"
    save_file(read_checkpoint(pruned).state_dict, str(path),
              metadata={SAFETENSORS_PRUNED: json.dumps({"ratio": 0.9, "scope": "global", "include": [], "exclude": []})})
    return path


@pytest.fixture
def bad_torch_prune(pruned, tmp_path) -> Path:
    """A torch.nn.utils.prune state dict whose weight_mask has another shape than its weight_orig."""
    state = dict(read_checkpoint(pruned).state_dict)
    state["0.weight_orig"], state["0.weight_mask"] = state.pop("0.weight"), torch.ones(3, 3)
    torch.save(state, tmp_path / "bad.prune.pt")
    return tmp_path / "bad.prune.pt"


@pytest.mark.parametrize("case", ["not-pruned", "pruned-without-masks", "torch-prune-mask-shape", "exists",
                                  "unwritable", "missing-folder", "extension", "pattern-cpu", "pattern-without-bench",
                                  "corrupt-input", "overwrite-input"])
def test_bad_input(case, pruned, corrupt, maskless, bad_torch_prune, tmp_path):
    out = tmp_path / "out.safetensors"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    args, code, words = {
        "not-pruned": ((EXAMPLE, "-o", out), 2, "not a pruned checkpoint"),
        # it was pruned: "prune it first" (at --ratio auto) named the wrong fix
        "pruned-without-masks": ((maskless, "-o", out), 2, "records a pruning (ratio 0.9) but holds no pruning masks "
                                 "(prune --format safetensors writes none); export the checkpoint prune wrote beside "
                                 f"it, or derive the masks again: prunelimit prune {maskless} --model SPEC --ratio 0.9"),
        # torch's own RuntimeError (an internal error, exit 5) before
        "torch-prune-mask-shape": ((bad_torch_prune, "-o", out), 3, "the mask '0.weight' matches no weight of its shape"),
        "exists": ((pruned, "-o", out), 2, "--force"),
        "unwritable": ((pruned, "-o", locked / "m.safetensors"), 2, "not writable"),
        "missing-folder": ((pruned, "-o", tmp_path / "no" / "m.safetensors"), 2, "does not exist"),
        "extension": ((pruned, "-o", tmp_path / "m.pt"), 2, ".safetensors"),
        "pattern-cpu": ((pruned, "-o", out, "--bench", "--pattern", "2:4", "--device", "cpu"), 2, "CUDA"),
        "pattern-without-bench": ((pruned, "-o", out, "--pattern", "2:4"), 2, "--bench"),
        "corrupt-input": ((corrupt, "-o", out), 3, "corrupt.safetensors"),
        "overwrite-input": ((corrupt, "-o", corrupt, "--force"), 2, "would overwrite the input"),
    }[case]
    if case == "exists":
        out.write_text("keep me")
    if case == "unwritable" and _root_can_write(locked):
        pytest.skip("running as root: a read-only folder is still writable")
    result = run("export", *args)
    assert result.exit_code == code, result.output
    assert words in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    assert "Traceback" not in result.output and result.stdout == ""
    assert (out.read_text() == "keep me") if case == "exists" else not out.exists()
    assert not list(tmp_path.glob(".*.tmp")) and not list(locked.iterdir())


def _root_can_write(folder: Path) -> bool:
    try:
        (folder / "probe").write_text("")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_corrupt_sparse_file_is_refused_by_the_readers(corrupt):
    result = run("info", corrupt)
    assert result.exit_code == 3 and "corrupt.safetensors" in result.stderr and "export it again" in result.stderr


def test_export_never_replaces_a_data_file_the_checkpoint_records(pruned, tmp_path):
    """A tensors: file may carry any name; the sparse file records it again, so replacing it
    (even with --force) would leave a file pointing at itself. Known only once it is read."""
    data = tmp_path / "eval.safetensors"
    torch.save({"x": torch.randn(8, 64), "y": torch.randint(0, 10, (8,))}, data)
    before = data.read_bytes()
    ckpt = torch.load(pruned, weights_only=True)
    ckpt["meta"]["eval_data"] = f"tensors:{data}"
    torch.save(ckpt, tmp_path / "p.pt")
    result = run("export", tmp_path / "p.pt", "-o", data, "--force")
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr, result.stderr
    assert data.read_bytes() == before


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2, torch.float16, torch.bfloat16])
def test_a_pruned_checkpoint_stored_in_a_narrow_float_type_exports_and_reads_back(pruned, tmp_path, dtype):
    """float8 weights failed with an internal error (torch has no signbit or masked_fill
    kernel for them); every narrow float type exports bit for bit, and each reader reads it."""
    raw = torch.load(pruned, weights_only=True)
    raw["state_dict"] = {k: v.to(dtype) for k, v in raw["state_dict"].items()}
    narrow, out = tmp_path / "narrow.pt", tmp_path / "narrow.safetensors"
    torch.save(raw, narrow)
    result = run("export", narrow, "-o", out)
    assert result.exit_code == 0, result.output
    dense = load_sparse(out)
    int_view = {1: torch.int8, 2: torch.int16}[raw["state_dict"]["0.weight"].element_size()]
    for name, tensor in raw["state_dict"].items():
        assert dense[name].dtype == dtype and torch.equal(dense[name].view(int_view), tensor.view(int_view)), name
    for ckpt in (narrow, out):
        result = run("info", ckpt, "--data", "digits:test", "--max-samples", "64", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["params"]["prunable"] == 2048 + 320


def test_prune_and_export_from_another_folder_record_the_data_as_read_from_there(tmp_path, monkeypatch):
    """The copies are written to other folders, so they record the data as found from the
    current folder (beside the source): they copied `tensors:train.pt`, relative to a
    folder they were not in, and the next command found no data."""
    from prunelimit.data.spec import load_dataset
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    folder = tmp_path / "run"
    folder.mkdir()
    data = load_dataset("digits:train", max_samples=200)
    torch.save({"x": data.x, "y": data.y}, folder / "train.pt")
    torch.manual_seed(0)
    save_checkpoint(folder / "m.pt", "mlp:64,8,10", build_model("mlp:64,8,10").state_dict(),
                    meta={"data": "tensors:train.pt", "eval_data": "tensors:train.pt"})
    (tmp_path / "pruned").mkdir(), (tmp_path / "sparse").mkdir()
    monkeypatch.chdir(tmp_path)
    assert run("prune", "run/m.pt", "--ratio", "0.5", "-o", "pruned/p.pt").exit_code == 0
    assert run("export", "pruned/p.pt", "-o", "sparse/e.safetensors").exit_code == 0
    for ckpt in ("pruned/p.pt", "sparse/e.safetensors"):
        meta = read_checkpoint(ckpt).meta
        assert (meta["data"], meta["eval_data"]) == ("tensors:run/train.pt",) * 2, ckpt
        result = run("bounds", ckpt, "--method", "exact", "--json", "--no-cache")
        assert result.exit_code == 0, result.output


def test_export_passes_on_an_untrusted_recorded_factory_whose_file_is_gone(tmp_path, monkeypatch):
    """export never builds an untrusted recorded `nets.py:make` (it only records it again), so
    its file need not be found: a file in neither folder is refused only where it would be
    read (with --trust-pickle, or by info), naming it as recorded."""
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    net = build_model("mlp:64,8,10")
    masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in net.named_parameters() if name.endswith("weight")}
    (tmp_path / "run").mkdir()
    save_checkpoint(tmp_path / "run" / "p.pt", "nets.py:make", net.state_dict(), masks=masks)
    monkeypatch.chdir(tmp_path)
    assert run("export", "run/p.pt", "-o", "e.safetensors").exit_code == 0
    assert read_checkpoint("e.safetensors").model_spec == "nets.py:make"
    result = run("export", "run/p.pt", "-o", "f.safetensors", "--trust-pickle")
    assert result.exit_code == 3 and "records the model 'nets.py:make', but neither nets.py (here) nor " \
        "run/nets.py (beside the checkpoint) exists; pass --model SPEC" in " ".join(result.output.split())


def test_a_torch_prune_file_of_a_tied_model_stores_the_tie_once(tmp_path):
    """``prune --format torch-prune`` masks a tied Parameter under its first key only, the
    later key holding ``weight_orig`` itself: the fold made the first a new tensor, so the
    weight was stored twice and read back as two tensors."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 8))
    model[1].weight = model[0].weight
    keep = torch.rand(8, 8) > 0.7
    with torch.no_grad():
        model[0].weight.masked_fill_(~keep, 0.0)
    prune.custom_from_mask(model[0], "weight", keep)
    torch.save(model.state_dict(), tmp_path / "tied.prune.pt")
    result = run("export", tmp_path / "tied.prune.pt", "-o", tmp_path / "tied.safetensors", "--json")
    assert result.exit_code == 0, result.output
    aliases = {t["name"]: t["alias"] for t in json.loads(result.stdout)["tensors"]}
    assert aliases == {"0.bias": None, "0.weight": None, "1.weight": "0.weight", "1.bias": None}
    back = load_sparse(tmp_path / "tied.safetensors")
    assert back["1.weight"] is back["0.weight"] and torch.equal(back["0.weight"], model[0].weight)


def _maskless_own(pruned, tmp_path) -> Path:
    """A prunelimit checkpoint pruned layer-wise that lost its masks: it records its model spec and data."""
    raw = torch.load(pruned, weights_only=True)
    raw.pop("masks")
    raw["meta"]["pruned"] = {**raw["meta"]["pruned"], "scope": "layer"}
    torch.save(raw, tmp_path / "own.pt")
    return tmp_path / "own.pt"


def _maskless_torchscript(pruned, tmp_path) -> Path:
    """A TorchScript archive (its architecture is its code) recording a pruning, no masks."""
    from prunelimit.io.checkpoint import torchscript_writer
    from prunelimit.models.spec import build_model

    model = build_model("mlp:64,32,10")
    torchscript_writer(torch.jit.script(model), {}, {"pruned": {"ratio": 0.9, "scope": "global"}})(
        tmp_path / "ts.pt")
    return tmp_path / "ts.pt"


def _plain_torchscript(pruned, tmp_path) -> Path:
    from prunelimit.models.spec import build_model

    torch.jit.script(build_model("mlp:64,32,10")).save(str(tmp_path / "plain-ts.pt"))
    return tmp_path / "plain-ts.pt"


@pytest.mark.parametrize("make, options, fix", [
    # it records its spec and data: "--model SPEC" named an option it does not need; its scope was lost
    (_maskless_own, (), "derive the masks again: prunelimit prune {path} --ratio 0.9 --scope layer -o pruned.pt"),
    (_maskless_torchscript, ("--trust-pickle",),
     "derive the masks again: prunelimit prune {path} --trust-pickle --ratio 0.9 -o pruned.pt"),
    (_plain_torchscript, ("--trust-pickle",),
     "prune it first, e.g. prunelimit prune {path} --trust-pickle --data SPEC --ratio auto -o pruned.pt"),
    # the spec the user typed, not a placeholder
    (lambda pruned, tmp_path: None, ("--model", "mlp:64,32,10"),  # the maskless fixture
     "derive the masks again: prunelimit prune {path} --model mlp:64,32,10 --ratio 0.9 -o pruned.pt"),
])
def test_a_file_without_masks_is_told_the_prune_command_that_fits_it(make, options, fix, pruned, maskless, tmp_path):
    """The refusal's `prune` command carries the options this file needs (--trust-pickle for
    code, --model only without a spec, the typed one when given, --data when none is
    recorded, the recorded scope) and no others; a suggestion without a placeholder runs, and
    its output exports."""
    path = make(pruned, tmp_path) or maskless
    result = run("export", path, "-o", tmp_path / "out.safetensors", *options)
    assert result.exit_code == 2 and not (tmp_path / "out.safetensors").exists(), result.output
    said = " ".join(result.stderr.split())
    assert fix.format(path=path) in said, said
    assert ("prune --format safetensors writes none" in said) == (path.suffix == ".safetensors")
    if "SPEC" not in fix:
        command = fix.format(path=path).split("prunelimit ", 1)[1].split()
        command[command.index("pruned.pt")] = str(tmp_path / "pruned.pt")
        assert run(*command).exit_code == 0
        trust = [o for o in options if o == "--trust-pickle"]  # the pruned file records the spec it was given
        assert run("export", tmp_path / "pruned.pt", "-o", tmp_path / "out.safetensors", *trust).exit_code == 0


def test_the_report_draws_each_tensor_s_density_and_sizes(exported, pruned, tmp_path):
    """`export --report` wrote a page without a figure where every other command's has one:
    it draws each tensor's kept density and its bytes dense and exported."""
    result = run("export", pruned, "-o", tmp_path / "m.safetensors", "--report", tmp_path / "r")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "<figcaption>density and size per tensor</figcaption>" in page and "data:image/png;base64," in page
    table = page.partition("<h2>Tensors</h2>")[2].partition("</table>")[0]  # one row a tensor, as on the console
    assert table.count("<tr>") == 1 + len(json.loads(run("export", pruned, "-o", tmp_path / "n.safetensors",
                                                         "--json").stdout)["tensors"])


def _training_record(pruned, tmp_path) -> Path:
    """The pruned weights as a training script saves them: torch.nn.utils.prune's
    ``weight_orig``/``weight_mask`` under ``model_state_dict``, beside an epoch and optimizer state."""
    raw = torch.load(pruned, weights_only=True)
    state = {}
    for key, value in raw["state_dict"].items():
        if key in raw["masks"]:
            state |= {f"{key}_orig": value, f"{key}_mask": raw["masks"][key].float()}
        else:
            state[key] = value
    torch.save({"epoch": 3, "model_state_dict": state, "optimizer_state_dict": {"state": {}, "param_groups": []}},
               tmp_path / "record.pt")
    return tmp_path / "record.pt"


@pytest.mark.parametrize("bench", [(), ("--bench", "--data", "digits", "--batch-size", "2", "--device", "cpu")])
def test_a_training_record_is_noted_once_as_every_reader_notes_it(bench, pruned, tmp_path):
    """export read a training record with its own reader and said nothing of the epoch and
    optimizer state it passed over, while info/bounds/verify/gate warn once on stderr and in
    the JSON ``warnings``: export now does the same, with --bench (which loads the file twice) too."""
    record = _training_record(pruned, tmp_path)
    note = ("the weights were read from 'model_state_dict'; 'epoch', 'optimizer_state_dict' beside them "
            "are not used")
    base = ("export", record, "--model", "mlp:64,32,10", *bench)
    result = run(*base, "-o", tmp_path / "j.safetensors", "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert [w for w in warnings if note in w] == [f"checkpoint {record} is a training record: {note}"]
    assert " ".join(result.stderr.split()).count(note) == 1
    console = run(*base, "-o", tmp_path / "c.safetensors")
    assert console.exit_code == 0, console.output
    # on stderr, not again under the table
    assert " ".join(console.stderr.split()).count(note) == 1 and note not in " ".join(console.stdout.split())
    plain = run("export", pruned, "-o", tmp_path / "p.safetensors", "--json")
    assert json.loads(plain.stdout)["warnings"] == [] and "training record" not in plain.stderr
