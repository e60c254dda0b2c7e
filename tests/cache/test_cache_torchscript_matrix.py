"""TorchScript checkpoints against the result cache's key and ``--from``'s check, one change at
a time, scripted and traced: each change of what the model computes gives another key and a
refused report, and what changes nothing keeps both (the archive saved again, with extra files,
or compiled after another class of its name). Each change moves the gradient alone: the first
batch's loss (the entry's witness) and the mean loss (``--from``'s loss check) stay as they were,
so only the fingerprints can tell.

The same module compiled in a process that had compiled another class of its name first (a
notebook cell run again) is written with each class in a file of its own, not with its module's
other classes in one: the code was keyed by its files, so the cache missed and ``gate --from``
refused the model's own report (``the model's TorchScript differs``)."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from prunelimit.api import CurvatureOptions
from prunelimit.baseline import check_same_problem, provenance
from prunelimit.cache import archive_fingerprint, input_key, split_key
from prunelimit.errors import UsageError
from tests.conftest import archive_inputs, provenance_report

# every knob moves the gradient by a scale and leaves the value: h.detach() * (1 - s) + h * s
NET_PY = '''import torch
from torch import nn
from typing import List


class Act(nn.Module):
    def forward(self, h):
        return {act}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b, self.act = nn.Linear(64, 4), nn.Linear(4, 10), Act()
        self.register_buffer("shift", torch.full((4,), 0.1))
        self.t = torch.full((4,), {t})
        self.scale, self.k, self.flag = {scale}, {k}, {flag}
        self.ws: List[float] = [{w}]

    def helper(self, h):
        return h.detach() * (1.0 - {helper}) + h * {helper}

    @torch.jit.export
    def post(self, y):
        return y.detach() * (1.0 - {post}) + y * {post}

    def forward(self, x):
        h = self.helper(self.act(self.a(x) + self.shift))
        h = h.detach() * (1.0 - self.t) + h * self.t
        h = h.detach() * (1.0 - self.scale) + h * self.scale
        h = h.detach() * (1.0 - {const}) + h * {const}
        for _ in range(self.k):
            h = h.detach() * 0.5 + h * 0.5
        if not self.flag:
            h = h.detach() * 0.5 + h * 0.5
        for w in self.ws:
            h = h.detach() * (1.0 - w) + h * w
{branch}        return self.post(self.b(h))
'''
# the submodule's code long enough for temporaries (``_0 = …``), which torch numbers on through a file
BASE = dict(act="torch.relu(h).detach() * 0.0 + torch.relu(h) + h.sum() * 0.0", t="1.0", scale="1.0", k="0",
            flag="True", w="1.0", helper="1.0", post="1.0", const="1.0", branch="")
CHANGED = {
    "forward constant": dict(const="0.5"),
    "forward branch": dict(branch="        if h.dim() == 2:\n            h = h.detach() * 0.5 + h * 0.5\n"),
    "helper method": dict(helper="0.5"),
    "exported method forward calls": dict(post="0.5"),
    "submodule's code": dict(act="torch.relu(h).detach() * 0.5 + torch.relu(h) * 0.5"),
    "tensor attribute": dict(t="0.5"),
    "float attribute": dict(scale="0.5"),
    "int attribute": dict(k="1"),
    "bool attribute": dict(flag="False"),
    "list attribute": dict(w="0.5"),
    "buffer": {},  # the buffer's value, below
}
UNCHANGED = ("loaded and saved again", "extra files", "compiled after another class of its name")


class _Scale(torch.nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, h):
        return h.detach() * (1.0 - self.scale) + h * self.scale


def _net(folder, monkeypatch, name: str, **changes) -> torch.nn.Module:
    """A fresh ``Net`` of :data:`NET_PY` with ``changes``, its module imported as ``name`` (new classes each call)."""
    path = folder / f"{name}_{len(list(folder.glob('*.py')))}.py"  # a file each: no source read stale
    path.write_text(NET_PY.format(**{**BASE, **changes}))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # where TorchScript reads the classes' source
    spec.loader.exec_module(module)
    return module.Net()


def _compiled(family: str, net: torch.nn.Module) -> torch.jit.ScriptModule:
    return torch.jit.script(net) if family == "script" else torch.jit.trace(net, torch.zeros(2, 64))


def _key(inputs) -> str:
    """The cache key's digest, without the witness."""
    return split_key(input_key(inputs, "spectrum", CurvatureOptions()))[0]


def _provenance(inputs):
    return provenance(inputs, CurvatureOptions())


@pytest.fixture(scope="module", params=["script", "trace"])
def base(request, tmp_path_factory):
    """The family, its module's name, the base archive (the first class of that name compiled in this
    process), its key and provenance."""
    family, folder = request.param, tmp_path_factory.mktemp(f"base_{request.param}")
    name = f"plmatrix_{family}"
    with pytest.MonkeyPatch.context() as monkeypatch:
        path = folder / "base.pt"
        torch.jit.save(_compiled(family, _net(folder, monkeypatch, name)), path)
        inputs = archive_inputs(path)
        yield family, name, path, _key(inputs), _provenance(inputs)


@pytest.mark.parametrize("change", sorted(CHANGED))
def test_a_change_of_what_the_model_computes_is_another_key_and_problem(tmp_path, monkeypatch, base, change):
    """The key holds the checkpoint's :func:`archive_fingerprint` (one that differs is another key)."""
    family, name, base_path, _, before = base
    net = _net(tmp_path, monkeypatch, name, **CHANGED[change])
    if change == "buffer":
        net.shift.fill_(0.2)
    path = tmp_path / "changed.pt"
    torch.jit.save(_compiled(family, net), path)
    assert archive_fingerprint(path) != archive_fingerprint(base_path)
    with pytest.raises(UsageError, match="was computed for another problem than this model"):
        check_same_problem("base.json", provenance_report(before), _provenance(archive_inputs(path)))


@pytest.mark.parametrize("how", UNCHANGED)
def test_the_same_model_saved_otherwise_keeps_its_key_and_problem(tmp_path, monkeypatch, base, how):
    family, name, base_path, key, before = base
    path = tmp_path / "again.pt"
    if how == "loaded and saved again":
        torch.jit.save(torch.jit.load(base_path), path)
    elif how == "extra files":
        torch.jit.save(_compiled(family, _net(tmp_path, monkeypatch, name)), path, _extra_files={"epoch.txt": b"7"})
    else:
        _compiled(family, _net(tmp_path, monkeypatch, name, const="0.5"))  # another Net of the same name first
        torch.jit.save(_compiled(family, _net(tmp_path, monkeypatch, name)), path)
    inputs = archive_inputs(path)
    assert _key(inputs) == key
    assert check_same_problem("base.json", provenance_report(before), _provenance(inputs)) == []


def test_a_compiled_submodule_of_the_other_kind_is_keyed_by_its_code(tmp_path, monkeypatch, base):
    """A traced submodule of a scripted model (its scale compiled in as a constant), or a scripted
    one (its scale an attribute) of a traced model."""
    family, name, *_ = base
    paths = []
    for scale in (1.0, 0.5):
        net = _net(tmp_path, monkeypatch, name)
        net.act = torch.jit.trace(_Scale(scale), torch.zeros(2, 4)) if family == "script" else \
            torch.jit.script(_Scale(scale))
        paths.append(tmp_path / f"mixed{scale}.pt")
        torch.jit.save(_compiled(family, net), paths[-1])
    assert archive_fingerprint(paths[0]) != archive_fingerprint(paths[1])
    with pytest.raises(UsageError, match="the model's TorchScript differs"):
        check_same_problem("base.json", provenance_report(_provenance(archive_inputs(paths[0]))),
                           _provenance(archive_inputs(paths[1])))


def test_a_report_recording_the_code_by_its_files_still_compares(tmp_path, monkeypatch, base):
    """A report of an older prunelimit records ``weights.code``, ``weights.classes`` (the traced
    model's two ``Linear`` variants) and ``weights.tensors`` by the archive's files: it reads for
    the model it was computed for, and is refused for another code."""
    family, name, _, _, before = base
    older = provenance_report(before)
    older["weights"].update(code=before.code_by_file, classes=before.classes_by_file, tensors=before.tensors_by_file)
    assert older["weights"]["code"] not in (None, before.code)
    assert older["weights"]["tensors"] not in (None, before.tensors)
    assert older["weights"]["classes"] not in (None, before.classes) if family == "trace" else before.classes is None
    assert check_same_problem("older.json", older, before) == []
    path = tmp_path / "changed.pt"
    torch.jit.save(_compiled(family, _net(tmp_path, monkeypatch, name, const="0.5")), path)
    with pytest.raises(UsageError, match="the model's TorchScript differs"):
        check_same_problem("older.json", older, _provenance(archive_inputs(path)))
