"""TorchScript the result cache's key and ``--from``'s check must tell apart beyond the cases of
``test_cache_torchscript_matrix``: a trace specialised by its example input (a batch-size branch,
``x.size(0)`` read as a number, a data-dependent ``if`` the tracer froze one way), a tensor constant
a trace captured (the archive's ``constants.pkl``), a method of a ``trace_module`` of several, a
scripted function the module calls, a ``torch.tensor`` literal in scripted code, the class of one
element of a ``ModuleList`` or ``ModuleDict`` iterated in ``forward``, and an eager module
(``--trust-pickle``) holding a scripted one its ``__setstate__`` loads by a path built at run time.
Each change moves the gradient alone: the first batch's loss (the entry's witness) is the base's,
so only the fingerprints can tell; a change they missed was answered with the base's ρ*."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import pytest
import torch

from prunelimit.api import CurvatureOptions
from prunelimit.baseline import check_same_problem, provenance
from prunelimit.cache import input_key, split_key
from prunelimit.errors import UsageError
from tests.conftest import archive_inputs, provenance_report

# every knob moves the gradient by a scale and leaves the value: h.detach() * (1 - s) + h * s;
# a knob off (``False and …``) is skipped while tracing, so it leaves no trace in the code
NET_PY = '''import torch
from torch import nn

T = torch.full((4,), {t})


@torch.jit.script
def scaled(h):
    return h.detach() * (1.0 - {fn}) + h * {fn}


class Keep(nn.Module):
    def forward(self, h):
        return h


class Half(nn.Module):
    def forward(self, h):
        return h.detach() * 0.5 + h * 0.5


class Scripted(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.blocks = nn.ModuleList([Keep(), {listed}()])
        self.named = nn.ModuleDict({{"keep": Keep(), "other": {named}()}})

    def forward(self, x):
        h = scaled(torch.relu(self.a(x)))
        t = torch.tensor([{lit}, {lit}, {lit}, {lit}])
        h = h.detach() * (1.0 - t) + h * t
        for block in self.blocks:
            h = block(h)
        for block in self.named.values():
            h = block(h)
        return self.b(h)


class Traced(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = h.detach() * (1.0 - T) + h * T
        if {branch} and x.shape[0] <= 16:
            h = h.detach() * 0.5 + h * 0.5
        if {size}:
            c = min(1.0, int(x.size(0)) / 32.0)
            h = h.detach() * (1.0 - c) + h * c
        if {data_if} and bool(x.sum() > 0):
            h = h.detach() * 0.5 + h * 0.5
        return self.b(h)

    def other(self, x):
        return self.forward(x) * 2.0
'''
BASE = dict(t="1.0", fn="1.0", lit="1.0", listed="Keep", named="Keep", branch="False", size="False",
            data_if="False")


def _example(rows: int = 32, sign: float = -1.0) -> torch.Tensor:
    return torch.full((rows, 64), sign)


# case: (class, how it is compiled, the base's knobs and example input, the change's)
CASES = {
    "traced on a smaller batch (a batch-size branch)": ("Traced", "trace", dict(branch="True"), _example(),
                                                        {}, _example(8)),
    "traced on a smaller batch (x.size(0) read as a number)": ("Traced", "trace", dict(size="True"), _example(),
                                                               {}, _example(16)),
    "traced on other data (a data-dependent if)": ("Traced", "trace", dict(data_if="True"), _example(),
                                                   {}, _example(sign=1.0)),
    "a tensor constant of the trace (constants.pkl)": ("Traced", "trace", {}, _example(), dict(t="0.5"), _example()),
    "trace_module of forward and another method": ("Traced", "trace_module", {}, _example(), dict(t="0.5"),
                                                   _example()),
    "a scripted function forward calls": ("Scripted", "script", {}, None, dict(fn="0.5"), None),
    "a torch.tensor literal in scripted code": ("Scripted", "script", {}, None, dict(lit="0.5"), None),
    "the class of a ModuleList element": ("Scripted", "script", {}, None, dict(listed="Half"), None),
    "the class of a ModuleDict element": ("Scripted", "script", {}, None, dict(named="Half"), None),
}


def _compiled(folder, monkeypatch, case: str, knobs: dict, example) -> torch.jit.ScriptModule:
    """A fresh module of :data:`NET_PY` with ``knobs``, compiled as ``case`` says; its source module
    is imported as ``plspecial`` (new classes each call: TorchScript reads their source there)."""
    cls, how = CASES[case][:2]
    path = folder / f"plspecial_{len(list(folder.glob('*.py')))}.py"  # a file each: no source read stale
    path.write_text(NET_PY.format(**{**BASE, **knobs}))
    spec = importlib.util.spec_from_file_location("plspecial", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "plspecial", module)
    spec.loader.exec_module(module)
    net = getattr(module, cls)()
    if how == "script":
        return torch.jit.script(net)
    with warnings.catch_warnings():  # the tracer warns of what it freezes: the point here
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        if how == "trace_module":
            return torch.jit.trace_module(net, {"forward": example, "other": example})
        return torch.jit.trace(net, example)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_change_a_trace_or_script_holds_is_another_key_and_problem(tmp_path, monkeypatch, case):
    _, _, base_knobs, base_example, changed_knobs, changed_example = CASES[case]
    paths = [tmp_path / "base.pt", tmp_path / "changed.pt"]
    for path, knobs, example in ((paths[0], base_knobs, base_example),
                                 (paths[1], {**base_knobs, **changed_knobs}, changed_example)):
        torch.jit.save(_compiled(tmp_path, monkeypatch, case, knobs, example), path)
    _assert_told_apart(*(archive_inputs(path) for path in paths))


# an eager module holding a scripted one that its __setstate__ loads from beside its file, by a path no
# string of its code names: pickle cannot hold a scripted module, so a pickled model holds one so
HOLDER_PY = '''import os

import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, h):
        return h.detach() * (1.0 - self.c) + h * self.c


def _sub_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "".join(map(chr, (115, 117, 98))) + ".pt")


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.sub = torch.jit.load(_sub_path())

    def forward(self, x):
        return self.b(self.sub(torch.relu(self.a(x))))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_modules"] = {k: v for k, v in self._modules.items() if k != "sub"}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._modules["sub"] = torch.jit.load(_sub_path())
'''


def test_a_scripted_module_an_eager_one_loads_is_keyed_by_its_code(tmp_path, monkeypatch):
    """The same pickled eager module, the scripted submodule it loads replaced in place: its code
    (a scale compiled in) is keyed and compared as the model holds it, not as the pickle names it."""
    (tmp_path / "plholder.py").write_text(HOLDER_PY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "plholder", raising=False)
    import plholder

    for c in (1.0, 0.5):
        torch.jit.save(torch.jit.script(plholder.Scale(c)), tmp_path / f"sub{c}.pt")
    (tmp_path / "sub.pt").write_bytes((tmp_path / "sub1.0.pt").read_bytes())
    torch.save(plholder.Holder(), tmp_path / "holder.pt")
    base = archive_inputs(tmp_path / "holder.pt")
    (tmp_path / "sub.pt").write_bytes((tmp_path / "sub0.5.pt").read_bytes())
    _assert_told_apart(base, archive_inputs(tmp_path / "holder.pt"))


def _assert_told_apart(base, changed) -> None:
    """The same first-batch loss (the witness: only the fingerprints can tell), another key, and the
    base's report refused for the changed model."""
    options = CurvatureOptions()
    (base_key, base_witness), (key, witness) = (split_key(input_key(i, "spectrum", options)) for i in (base, changed))
    assert witness == pytest.approx(base_witness, rel=1e-6)  # the change moves the gradient alone
    assert key != base_key
    with pytest.raises(UsageError, match="was computed for another problem than this model"):
        check_same_problem("base.json", provenance_report(provenance(base, options)), provenance(changed, options))
