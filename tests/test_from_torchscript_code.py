"""A saved prediction is refused for a TorchScript model whose code differs from the one it was
computed for, though their weights are the same (``weights.code`` of a report): two archives of
one state dict, ReLU and sigmoid, passed ``gate --from`` in silence on each other's report."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from tests.conftest import report_read_back

ARGS = ("--data", "digits:train", "--max-samples", 300, "--trust-pickle")


class _Net(nn.Module):
    def __init__(self, act: str) -> None:
        super().__init__()
        self.a, self.b, self.act = nn.Linear(64, 4), nn.Linear(4, 10), act

    def forward(self, x):
        h = self.a(x)
        return self.b(torch.relu(h) if self.act == "relu" else torch.sigmoid(h))


@pytest.fixture
def archives(tmp_path):
    """``relu.pt`` and ``sig.pt``: scripted archives of one state dict, the activation their code's only difference."""
    torch.manual_seed(0)
    relu, sig = _Net("relu"), _Net("sigmoid")
    sig.load_state_dict(relu.state_dict())
    for name, net in (("relu", relu), ("sig", sig)):
        torch.jit.save(torch.jit.script(net), tmp_path / f"{name}.pt")
    return tmp_path / "relu.pt", tmp_path / "sig.pt"


def test_a_report_of_other_torchscript_code_is_refused(cli, archives, tmp_path):
    relu, sig = archives
    result = cli("bounds", relu, *ARGS, "--json")
    assert result.exit_code == 0, result.stderr
    report = tmp_path / "relu.json"
    report.write_text(result.stdout)
    assert json.loads(result.stdout)["weights"]["code"]
    for command in (("gate", sig, *ARGS, "--from", report, "--min-ratio", 0), ("verify", sig, *ARGS, "--from", report)):
        refused = cli(*command)
        assert refused.exit_code == 2, refused.stdout
        assert "the model's TorchScript differs (its code, a constant compiled into it or a value its modules hold " \
               "besides tensors)" in refused.stderr
    assert cli("gate", relu, *ARGS, "--from", report, "--min-ratio", 0).exit_code == 0  # its own code


def test_an_older_report_without_code_and_an_eager_model_are_not_compared(cli, archives, tmp_path, own_ckpt):
    """A report that records no code (an older prunelimit's) is read as before, and a model that
    holds no TorchScript records none. The other archive's model is still told apart, by its
    loss on the data (``baseline.check_same_loss``)."""
    relu, sig = archives
    doc = json.loads(cli("bounds", relu, *ARGS, "--json").stdout)
    del doc["weights"]["code"]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    assert cli("gate", relu, *ARGS, "--from", older, "--min-ratio", 0).exit_code == 0
    refused = cli("gate", sig, *ARGS, "--from", older, "--min-ratio", 0)
    assert refused.exit_code == 2 and "computed for another model than this one" in refused.stderr
    eager = cli("bounds", own_ckpt, "--max-samples", 300, "--json")
    assert json.loads(eager.stdout)["weights"]["code"] is None


def test_the_code_fingerprint_leaves_the_weights_out(archives):
    """Two archives of one code and other weights: one code fingerprint (the weights are
    compared by ``weights.fingerprint``), other full-archive fingerprints."""
    from prunelimit.cache import scripted_fingerprints

    relu, _ = archives
    first = torch.jit.load(relu)
    second = torch.jit.load(relu)
    with torch.no_grad():
        second.a.weight.add_(1.0)
    assert scripted_fingerprints(first, code_only=True) == scripted_fingerprints(second, code_only=True)
    assert scripted_fingerprints(first) != scripted_fingerprints(second)


# a factory's scripted module whose @torch.jit.ignore method and function (Python, run by its TorchScript)
# move the gradient alone: h.detach() * (1 - s) + h * s, s = {c} * self.scale, then s = {f}
IGNORED_PY = '''import torch
from torch import nn


@torch.jit.ignore
def twist(h):
    return h.detach() * (1.0 - {f}) + h * {f}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.scale = {scale}

    @torch.jit.ignore
    def mix(self, h):
        s = {c} * self.scale
        return h.detach() * (1.0 - s) + h * s

    def forward(self, x):
        return self.b(twist(self.mix(torch.relu(self.a(x)))))


def build():
    return torch.jit.script(Net())
'''


def test_a_scripted_module_that_cannot_be_saved_is_compared_by_its_code(cli, tmp_path):
    """A scripted module with a ``@torch.jit.ignore`` method cannot be saved (TorchScript exports no
    Python), and its report recorded no code: ``gate --from`` read it for the method's other code and
    gated on the first's ρ* in silence (what else counts: the test below)."""
    factory = tmp_path / "ignored.py"
    factory.write_text(IGNORED_PY.format(c="1.0", scale="1.0", f="1.0"))
    ckpt = tmp_path / "weights.pt"
    torch.manual_seed(0)
    torch.save(_Net("relu").state_dict(), ckpt)  # the factory's layers: Linear(64, 4), Linear(4, 10)
    args = (ckpt, "--model", f"{factory}:build", "--data", "digits:train", "--max-samples", 300)
    made, report = report_read_back(cli, tmp_path, *args)
    assert made["weights"]["code"]
    factory.write_text(IGNORED_PY.format(c="0.5", scale="1.0", f="1.0"))
    for command in ("gate", "verify"):
        refused = cli(command, *args, "--from", report, *(("--min-ratio", 0) if command == "gate" else ()))
        assert refused.exit_code == 2, refused.stdout
        assert "the model's TorchScript differs" in refused.stderr


def _ignored(folder, monkeypatch, **knobs) -> torch.jit.ScriptModule:
    """A fresh scripted ``Net`` of :data:`IGNORED_PY` with ``knobs``, its source imported as ``plignored``
    whatever it holds (as a notebook's cell run again), so that only its code tells it apart."""
    import importlib.util
    import sys

    path = folder / f"plignored_{len(list(folder.glob('*.py')))}.py"  # a file each: no source read stale
    path.write_text(IGNORED_PY.format(**{"c": "1.0", "scale": "1.0", "f": "1.0", **knobs}))
    spec = importlib.util.spec_from_file_location("plignored", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "plignored", module)
    spec.loader.exec_module(module)
    return module.build()


def test_the_code_of_a_scripted_module_that_cannot_be_saved_is_its_python_too(tmp_path, monkeypatch):
    """Under one module name (a file's name and bytes make it, so any edit of a ``--model`` file gives
    another): each ignored method's and function's body and each attribute count; the weights do not,
    nor compiling the same code again."""
    from prunelimit.baseline import _code

    base = _code(_ignored(tmp_path, monkeypatch))["code"]
    assert base is not None
    again = _ignored(tmp_path, monkeypatch)
    assert _code(again)["code"] == base
    with torch.no_grad():
        again.a.weight.add_(1.0)
    assert _code(again)["code"] == base
    for knobs in (dict(c="0.5"), dict(scale="0.5"), dict(f="0.5")):
        assert _code(_ignored(tmp_path, monkeypatch, **knobs))["code"] != base, knobs


# a trace around a scripted module with a @torch.jit.ignore method, which TorchScript cannot save: {c} scales the
# gradient in the ignored method's Python, the factory's t in a plain tensor attribute, which the trace holds as a
# constant of its code (``CONSTANTS.c0``)
TRACED_PY = '''import torch
from torch import nn


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 4)

    @torch.jit.ignore
    def mix(self, h):
        return h.detach() * (1.0 - {c}) + h * {c}

    def forward(self, x):
        return self.mix(torch.relu(self.a(x)))


class Outer(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.inner = torch.jit.script(Inner())
        self.b = nn.Linear(4, 10)
        self.t = torch.full((4,), t)

    def forward(self, x):
        h = self.inner(x)
        return self.b(h.detach() * (1.0 - self.t) + h * self.t)


def build(t=1.0):
    return torch.jit.trace(Outer(t), torch.zeros(2, 64))
'''


def test_a_trace_around_a_module_that_cannot_be_saved_is_compared_by_its_code(cli, tmp_path):
    """A trace around such a module recorded ``weights.code`` null, its code not read (the trace's compiled half,
    ``_actual_script_module``, was read as a module held outside the model, which could not be saved), and
    ``gate --from`` refused its report for the very factory it was computed for ('this model's code cannot be
    read'). It is compared by its code now, as a scripted module that cannot be saved is, with the tensor
    constants the trace holds: its own report reads; one of the ignored method's other Python or another
    constant, each moving the gradient alone, is refused."""
    factory = tmp_path / "traced.py"
    factory.write_text(TRACED_PY.format(c="1.0"))
    ckpt = tmp_path / "weights.pt"
    torch.manual_seed(0)
    torch.save({f"inner.{k}" if k.startswith("a.") else k: v for k, v in _Net("relu").state_dict().items()}, ckpt)
    args = (ckpt, "--model", f"{factory}:build", "--data", "digits:train", "--max-samples", 200)
    made, report = report_read_back(cli, tmp_path, *args)
    assert made["weights"]["code"] is not None
    for command in (("gate", "--min-ratio", 0, "--use", "predicted"), ("verify",)):
        read = cli(command[0], *args, "--from", report, *command[1:])
        assert read.exit_code == 0, read.stderr
    for c, spec in (("1.0", "build:t=0.5"), ("0.5", "build")):
        factory.write_text(TRACED_PY.format(c=c))
        refused = cli("gate", *args[:2], f"{factory}:{spec}", *args[3:], "--from", report, "--min-ratio", 0)
        assert refused.exit_code == 2, (c, spec, refused.stdout)
        assert "the model's TorchScript differs" in refused.stderr, (c, spec)


def test_a_report_of_a_model_whose_code_could_not_be_read_is_not_read(cli, tmp_path):
    """A report recording ``weights.code`` and ``weights.python`` null beside its weights (its model's code
    could not be read: a value whose attributes raise when read) is read for no model: a scripted copy of
    one state dict, whose code is read, refuses it."""
    torch.manual_seed(0)
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(_Net("relu")), scripted)
    doc = json.loads(cli("bounds", scripted, *ARGS, "--json").stdout)
    doc["weights"]["code"] = doc["weights"]["python"] = None
    report = tmp_path / "unread.json"
    report.write_text(json.dumps(doc))
    refused = cli("gate", scripted, *ARGS, "--from", report, "--min-ratio", 0)
    assert refused.exit_code == 2 and "the code of the model it was computed for could not be read" in refused.stderr
