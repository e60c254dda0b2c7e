"""TorchScript forms the result cache's key and ``--from``'s check were not yet tested on, probed in
review round 48 and found right, pinned: tensors held in a list, dict, tuple or ``Optional``
attribute, a ``torch.jit.Attribute``, ``torch.ops.aten`` called directly, ``torch.jit.annotate``
beside a ``@torch.jit.unused`` method, a ``torch.jit.interface`` submodule swapped, a model frozen
but for one submodule (``preserved_attrs``: the rest's weights and attributes become constants of its
code). Each change moves the gradient alone, so the first batch's loss (the entry's witness) is the
base's and only the key can tell. And an archive zipped again (members in another order, compressed,
under another top folder, with folder entries), which torch loads alike, keeps its key and report."""

# no ``from __future__ import annotations``: TorchScript reads a module attribute's interface type
# (``act: _Act``) from the class's annotations, which it would find a string
import zipfile
from typing import Dict, List, Optional, Tuple

import pytest
import torch
from torch import nn

from prunelimit.api import CurvatureOptions
from prunelimit.baseline import check_same_problem, provenance
from prunelimit.cache import input_key, split_key
from prunelimit.errors import UsageError
from tests.conftest import archive_inputs, provenance_report


def _scaled(h, s):
    """``h`` in value, its gradient scaled by ``s``."""
    return h.detach() * (1.0 - s) + h * s


class _Base(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)


class _Listed(_Base):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.ts: List[torch.Tensor] = [torch.full((4,), s)]

    def forward(self, x):
        h = torch.relu(self.a(x))
        for t in self.ts:
            h = h.detach() * (1.0 - t) + h * t
        return self.b(h)


class _Keyed(_Base):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.ts: Dict[str, torch.Tensor] = {"s": torch.full((4,), s)}

    def forward(self, x):
        h, t = torch.relu(self.a(x)), self.ts["s"]
        return self.b(h.detach() * (1.0 - t) + h * t)


class _Paired(_Base):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.ts: Tuple[torch.Tensor, torch.Tensor] = (torch.full((4,), s), torch.ones(4))

    def forward(self, x):
        h, t = torch.relu(self.a(x)), self.ts[0]
        return self.b(h.detach() * (1.0 - t) + h * t)


class _Optional(_Base):
    def __init__(self, s: Optional[float]) -> None:
        super().__init__()
        self.t: Optional[torch.Tensor] = None if s is None else torch.full((4,), s)

    def forward(self, x):
        h, t = torch.relu(self.a(x)), self.t
        if t is not None:
            h = h.detach() * (1.0 - t) + h * t
        return self.b(h)


class _Typed(_Base):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = torch.jit.Attribute(s, float)

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.b(h.detach() * (1.0 - self.s) + h * self.s)


class _Aten(_Base):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = s

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.b(torch.ops.aten.add(torch.ops.aten.mul(h.detach(), 1.0 - self.s), torch.ops.aten.mul(h, self.s)))


class _Annotated(_Base):
    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = s

    @torch.jit.unused
    def never(self, h):
        return h * 3.0

    def forward(self, x):
        h = torch.relu(self.a(x))
        held = torch.jit.annotate(List[torch.Tensor], [])
        held.append(h.detach() * (1.0 - self.s) + h * self.s)
        return self.b(held[0])


@torch.jit.interface
class _Act(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        pass


class _Whole(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h


class _Half(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.detach() * 0.5 + h * 0.5


class _Interfaced(_Base):
    act: _Act

    def __init__(self, half: bool) -> None:
        super().__init__()
        self.act = _Half() if half else _Whole()

    def forward(self, x):
        return self.b(self.act.forward(torch.relu(self.a(x))))


def _frozen(s: float) -> torch.jit.ScriptModule:
    """``_Aten`` frozen but for ``b``: ``a``'s weights and the scale are constants of its code."""
    return torch.jit.freeze(torch.jit.script(_Aten(s).eval()), preserved_attrs=["b"])


FORMS = {  # a form: how each archive is made, of the base's argument and the changed one's
    "list of tensors": (lambda s: torch.jit.script(_Listed(s)), 1.0, 0.5),
    "dict of tensors": (lambda s: torch.jit.script(_Keyed(s)), 1.0, 0.5),
    "tuple of tensors": (lambda s: torch.jit.script(_Paired(s)), 1.0, 0.5),
    "Optional tensor, None or one": (lambda s: torch.jit.script(_Optional(s)), None, 0.5),
    "torch.jit.Attribute": (lambda s: torch.jit.script(_Typed(s)), 1.0, 0.5),
    "torch.ops.aten": (lambda s: torch.jit.script(_Aten(s)), 1.0, 0.5),
    "annotate and unused": (lambda s: torch.jit.script(_Annotated(s)), 1.0, 0.5),
    "interface submodule swapped": (lambda half: torch.jit.script(_Interfaced(half)), False, True),
    "frozen but for one submodule": (_frozen, 1.0, 0.5),
}


def _read(path):
    """The key's digest and witness, and the provenance ``--from`` compares, of the archive ``path``."""
    inputs = archive_inputs(path)
    return split_key(input_key(inputs, "spectrum", CurvatureOptions())), provenance(inputs, CurvatureOptions())


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_form_that_moves_the_gradient_is_another_key_and_problem(tmp_path, form):
    make, *arguments = FORMS[form]
    read = []
    for i, argument in enumerate(arguments):
        torch.jit.save(make(argument), tmp_path / f"{i}.pt")
        read.append(_read(tmp_path / f"{i}.pt"))
    ((key, witness), base), ((other_key, other_witness), changed) = read
    assert witness == other_witness and key != other_key
    with pytest.raises(UsageError, match="was computed for another problem than this model"):
        check_same_problem("base.json", provenance_report(base), changed)


def _zipped_again(path, to, order: int, compression: int, top: str | None = None) -> None:
    """``path``'s members zipped into ``to`` in ``order`` (1 or -1 by name), with ``compression``;
    ``top``: under that top folder, each folder with an entry of its own."""
    with zipfile.ZipFile(path) as archive, zipfile.ZipFile(to, "w") as out:
        written = set()
        for info in sorted(archive.infolist(), key=lambda info: info.filename, reverse=order < 0):
            name = info.filename if top is None else f"{top}/{info.filename.split('/', 1)[1]}"
            folder = name.rsplit("/", 1)[0] + "/"
            if top is not None and folder not in written:
                written.add(folder)
                out.writestr(folder, b"")
            out.writestr(name, archive.read(info), compress_type=compression)


@pytest.mark.parametrize("how", [(-1, zipfile.ZIP_STORED), (1, zipfile.ZIP_DEFLATED),
                                 (-1, zipfile.ZIP_DEFLATED, "elsewhere")], ids=["reversed", "deflated", "moved"])
def test_the_archive_zipped_again_keeps_its_key_and_problem(tmp_path, how):
    base = tmp_path / "base.pt"
    torch.jit.save(torch.jit.script(_Listed(0.5)), base)
    _zipped_again(base, tmp_path / "again.pt", *how)
    torch.jit.load(tmp_path / "again.pt")  # torch reads it alike
    (key, _), before = _read(base)
    (again, _), after = _read(tmp_path / "again.pt")
    assert again == key
    assert check_same_problem("base.json", provenance_report(before), after) == []
