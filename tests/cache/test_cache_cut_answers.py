"""A stored answer that a limit cut short of its tolerance is read back only where computing
again would get no further: a cut by ``--max-hvps`` or a given ``--basis-memory`` (the same
products on any machine) answers the same call, a cut by the wall clock (``--time-budget``)
or by the host memory available at the start (``--basis-memory auto``) does not, and a
larger budget is a new entry."""

from __future__ import annotations

import json

import pytest

from tests.cache.test_cache import SMALL

BOUNDS = ("--data", "digits:train", *SMALL, "--json")
MISSED = "is not within the tolerance"


def _doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _twice(cli, ckpt, cache, *flags) -> tuple[dict, dict]:
    return _doc(cli("bounds", ckpt, *BOUNDS, *cache, *flags)), _doc(cli("bounds", ckpt, *BOUNDS, *cache, *flags))


def test_an_answer_the_time_budget_cut_short_is_computed_again(cli, own_ckpt, tmp_path):
    """Measured before: ``bounds --time-budget T`` cut short (± over the tolerance: 100 pt
    here, the budget spent on loading) was read back by the next ``--time-budget T``, which on
    a quieter machine gets further in the same seconds; now it is computed again."""
    first, again = _twice(cli, own_ckpt, ("--cache-dir", tmp_path / "cache"), "--time-budget", "0.001")
    assert first["spectrum"]["stopped_by"] == "time-budget" and any(MISSED in w for w in first["warnings"])
    assert again["timing"]["cached"] is False and again["timing"]["hvps"] > 0


def test_an_answer_the_available_memory_cut_short_is_computed_again(cli, own_ckpt, tmp_path, monkeypatch):
    """``--basis-memory auto`` is half the host memory available at the start (here made 40 kB):
    another run may find more, so its cut answer is computed again too."""
    from prunelimit import device

    monkeypatch.setattr(device, "available_host_mb", lambda: 0.04)
    first, again = _twice(cli, own_ckpt, ("--cache-dir", tmp_path / "cache"), "--method", "slq")
    assert first["spectrum"]["stopped_by"] == "memory" and any(MISSED in w for w in first["warnings"])
    assert again["timing"]["cached"] is False


@pytest.mark.parametrize("limit", [("--max-hvps", "20"), ("--basis-memory", "0.02")])
def test_an_answer_a_limit_of_products_cut_short_answers_the_same_call(cli, own_ckpt, tmp_path, limit):
    """A limit the key holds whole (products, a given memory) stops a recomputation at the
    same answer on any machine: read back, with its warning that the ± missed the tolerance."""
    first, again = _twice(cli, own_ckpt, ("--cache-dir", tmp_path / "cache"), "--method", "slq", *limit)
    assert first["spectrum"]["stopped_by"] in ("max-hvps", "memory")
    assert again["timing"]["cached"] is True and again["prediction"] == first["prediction"]
    assert again["warnings"] == first["warnings"]


@pytest.mark.parametrize("limit", ["--max-hvps", "--time-budget"])
def test_a_larger_budget_after_a_cut_answer_computes(cli, own_ckpt, tmp_path, limit):
    """A larger budget is a new entry: it never gets the cut answer back."""
    cache = ("--cache-dir", tmp_path / "cache")
    small, large = {"--max-hvps": ("20", "400"), "--time-budget": ("0.001", "600")}[limit]
    cut = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--method", "slq", limit, small))
    assert any(MISSED in w for w in cut["warnings"])
    more = _doc(cli("bounds", own_ckpt, *BOUNDS, *cache, "--method", "slq", limit, large))
    assert more["timing"]["cached"] is False and more["timing"]["hvps"] > cut["timing"]["hvps"]
    assert more["prediction"]["uncertainty"]["plus_minus"] < cut["prediction"]["uncertainty"]["plus_minus"]


def test_only_a_machine_limit_that_missed_the_tolerance_is_computed_again():
    """The rule itself: a cut by the clock or the available memory whose ± still met the
    tolerance answers the call (no tolerance note), and a given --basis-memory is held by the key."""
    from dataclasses import replace
    from types import SimpleNamespace

    from prunelimit.api import CurvatureOptions
    from prunelimit.api.stored import _cut_by_the_machine

    cut = {(stop, note, memory): _cut_by_the_machine(SimpleNamespace(stopped_by=stop, tolerance_note=note),
                                                     replace(CurvatureOptions(), basis_memory_mb=memory))
           for stop in ("time-budget", "memory", "max-hvps", "tolerance") for note in (None, "missed")
           for memory in (None, 64.0)}
    assert {k for k, v in cut.items() if v} == {("time-budget", "missed", None), ("time-budget", "missed", 64.0),
                                                ("memory", "missed", None)}
