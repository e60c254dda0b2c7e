"""What a cache entry can make the decoder build: the result classes and plain values, nothing
else (an entry is read from a folder another job of the same user may have written)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from prunelimit.api.curvature import SpectrumReport
from prunelimit.api.layers import StoredBlocks
from prunelimit.api.verification import StoredSearch
from prunelimit.cache import RESULT_CLASSES, Entry, _field_hints, from_entry, to_entry
from prunelimit.pruning.actual import OvershootCheck

ROOT = Path(__file__).resolve().parents[2]
# the results stored_result reads (api.stored, api.layers, api.verification, api.limit)
STORED = (SpectrumReport, StoredBlocks, StoredSearch, OvershootCheck)


def _declared(hint, found: set) -> set:
    """The dataclasses ``hint`` names, and those their fields declare, to the end."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if hint not in found:
            found.add(hint)
            for field_hint in _field_hints(hint).values():
                _declared(field_hint, found)
    for arg in typing.get_args(hint):
        _declared(arg, found)
    return found


def test_the_allowlist_is_the_classes_the_results_declare():
    """A field of a new class added to a result and not to RESULT_CLASSES would leave every such
    result uncached (to_entry refuses it); a class listed that no result declares could be built
    from an entry for nothing."""
    declared = set().union(*(_declared(cls, set()) for cls in STORED))
    assert {f"{c.__module__}:{c.__qualname__}" for c in declared} == RESULT_CLASSES


def _node(name: str, **fields) -> dict:
    return {"dataclass": name, "fields": fields}


CONFIG = ("prunelimit.laws.errorlaw:Config", {"width": 1.0, "depth": 1.0, "eps_np": 0.1, "eps_np_measured": True})


@pytest.mark.parametrize("name, fields", [
    CONFIG,  # another module's dataclass: decoding imported its module
    ("prunelimit.cache:Entry", {"payload": 1}),  # a class of the package, no result's
    ("prunelimit.api.curvature:SpectrumReport.__init__", {}),  # a name inside a listed class
    ("prunelimit.api.curvature:np", {}),  # not a class at all
])
def test_an_entry_naming_another_class_is_no_result(name, fields):
    """Untyped fields (``StoredBlocks.blocks`` is typed; a dict of the gradient is not) could
    hold any prunelimit dataclass: it was built, and a hit returned it."""
    from prunelimit.curvature.layers import BlockCurvature  # noqa: F401 - a stored blocks result is built

    payload = to_entry(StoredBlocks("exact", [])).payload
    payload["fields"]["method"] = _node(name, **fields)
    with pytest.raises(ValueError, match="not a stored result"):
        from_entry(Entry(payload), StoredBlocks)


def test_decoding_imports_no_module_an_entry_names():
    """In a fresh process: an entry naming a dataclass of a module not yet imported leaves it
    unimported (importing a module runs its top level)."""
    code = f"""
import json, sys
from prunelimit.api.layers import StoredBlocks
from prunelimit.api.verification import StoredSearch
from prunelimit.cache import Entry, from_entry
module = {CONFIG[0].partition(":")[0]!r}
assert module not in sys.modules
payload = {{"dataclass": "prunelimit.api.layers:StoredBlocks", "fields": {{"method": "exact", "blocks": {{"list": [
    {{"dataclass": {CONFIG[0]!r}, "fields": {json.dumps(CONFIG[1]).replace("true", "True")}}}]}}}}}}
try:
    from_entry(Entry(payload), StoredBlocks)
except ValueError:
    pass
print(module in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_storing_another_class_is_refused():
    """The encoder refuses what the decoder would refuse: such a result runs uncached (with a
    warning), it is never stored to be recomputed on every read."""
    from prunelimit.laws.errorlaw import Config

    with pytest.raises(TypeError, match="cannot store a Config"):
        to_entry(StoredBlocks("exact", [Config(1.0, 1.0, 0.1, True)]))
