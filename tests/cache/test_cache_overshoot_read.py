"""A cached command reads the overshoot check stored beside its spectrum: the check's two or
three passes over the analysis data (pruned to ρ_L and ρ* − 5 points) were made again by every
cached ``bounds``, ``gate``, ``verify`` and ``prune --ratio auto`` (2.1 s of a cached gate on a
25M-weight archive), though ε and the ratios the stored spectrum fixes are the same. Counted,
not timed: the calls of ``overshoot_check``, which makes those passes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import prunelimit.api.limit as limit
import prunelimit.pruning.actual as actual
from prunelimit.api.limit import bounds
from prunelimit.api.options import CurvatureOptions
from prunelimit.cache import open_store

PLAN = CurvatureOptions(iterations=30, runs=2)  # a fixed plan: its entry is keyed without ε


@pytest.fixture()
def checks(monkeypatch) -> list:
    """The ratios of each ``overshoot_check`` call."""
    made: list = []
    check = actual.overshoot_check

    def counted(*args, **kwargs):
        made.append(args[4:6])
        return check(*args, **kwargs)

    monkeypatch.setattr(actual, "overshoot_check", counted)
    return made


def _untimed(report) -> str:
    doc = report.to_json()
    doc.pop("timing")
    doc["spectrum"] = {k: v for k, v in doc["spectrum"].items() if k not in ("seconds", "cached")}
    return json.dumps(doc, sort_keys=True, default=str)


def test_a_cached_bounds_makes_no_pass_and_reports_the_same(fitted_inputs, tmp_path, checks) -> None:
    store = open_store(tmp_path / "cache", True)
    first = bounds(fitted_inputs, PLAN, store=store)
    again = bounds(fitted_inputs, PLAN, store=store)
    assert again.spectrum.cached and len(checks) == 1  # 2 before: the check ran again on the hit
    assert replace(again.overshoot, seconds=0.0) == replace(first.overshoot, seconds=0.0)  # every point and loss
    assert _untimed(again) == _untimed(first)


def test_a_cached_gate_reads_the_check_a_bounds_stored(fitted_inputs, tmp_path, checks) -> None:
    from prunelimit.api.gating import gate
    from prunelimit.gate_rules import GateRule

    store = open_store(tmp_path / "cache", True)
    first = bounds(fitted_inputs, PLAN, store=store)
    report = gate(fitted_inputs, [GateRule("r", use="lower", min_ratio=0.0)], PLAN, store=store)
    assert len(checks) == 1
    assert report.to_json()["overshoot"] == first.overshoot.to_json()


def test_an_entry_stored_without_the_check_is_read_and_the_check_run(fitted_inputs, tmp_path, checks,
                                                                     monkeypatch) -> None:
    """A spectrum an older prunelimit stored (no check beside it) still hits; the check is run
    once, and kept for the next command."""
    store = open_store(tmp_path / "cache", True)
    with monkeypatch.context() as m:
        m.setattr(limit, "store_result", lambda *args: None)
        first = bounds(fitted_inputs, PLAN, store=store)
    second = bounds(fitted_inputs, PLAN, store=store)
    third = bounds(fitted_inputs, PLAN, store=store)
    assert second.spectrum.cached and len(checks) == 2
    assert _untimed(second) == _untimed(first) == _untimed(third)


@pytest.mark.parametrize("then", [{"epsilon": 0.05}, {"scope": "layer"}])
def test_another_epsilon_or_scope_measures_its_own_check(fitted_inputs, tmp_path, checks, then) -> None:
    """The same spectrum (a fixed plan's is keyed without ε), other points pruned: measured, and
    as an uncached run measures them."""
    store = open_store(tmp_path / "cache", True)
    scope = then.get("scope", "global")
    options = CurvatureOptions(iterations=30, runs=2, epsilon=then.get("epsilon"))
    bounds(fitted_inputs, PLAN, store=store)
    read = bounds(fitted_inputs, options, scope=scope, store=store)
    fresh = bounds(fitted_inputs, options, scope=scope)
    assert read.spectrum.cached and len(checks) == 3
    assert read.overshoot.to_json() == fresh.overshoot.to_json()  # same points, same losses: exact
