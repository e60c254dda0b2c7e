"""ρ* is solved once a ``bounds`` on the global path: a fixed plan read from the cache solved it
in ``fixed_plan_error`` (whether the products' error is measured over all the data), again in
``_solved_for`` on the same rule, and ``bounds`` a third time beside its bounds (~0.4 s each on a
25M-weight model); a computed spectrum's ρ* was solved again by ``bounds`` too. Counted, not
timed: the solves whose root is ρ* (the per-run, half-rule and bound solves have other roots)."""

from __future__ import annotations

import pytest

from prunelimit.api.limit import bounds
from prunelimit.api.options import CurvatureOptions
from prunelimit.cache import open_store

PLAN = CurvatureOptions(iterations=30, runs=2)  # a fixed plan, whose read solves ρ* for this run's ε


def test_a_cached_bounds_solves_the_limit_once(fitted_inputs, tmp_path, roots) -> None:
    store = open_store(tmp_path / "cache", True)
    first = bounds(fitted_inputs, PLAN, store=store)
    assert first.spectrum.quadrature.slice_error is not None  # fixed_plan_error decides on a read
    # the runs' decision on the slice's error and the spectrum's ρ* solve the same rule: once
    # (tests/api/test_fresh_command_work_once.py); bounds' own was a third before
    assert roots.count(first.ratio) == 1
    roots.clear()
    read = bounds(fitted_inputs, PLAN, store=store)
    assert read.spectrum.cached
    assert roots.count(read.ratio) == 1  # 3 before
    # the same numbers: ρ* is the root it was (exact), and its bounds are solved as before
    assert (read.ratio, read.lower, read.upper, read.half_ratio) == (first.ratio, first.lower, first.upper,
                                                                     first.half_ratio)
    assert read.prediction.per_run_ratios.tolist() == first.prediction.per_run_ratios.tolist()


@pytest.mark.parametrize("options, scope", [(CurvatureOptions(iterations=30, runs=2, epsilon=0.05), "global"),
                                            (PLAN, "layer")])
def test_another_epsilon_or_path_solves_its_own_limit(fitted_inputs, tmp_path, options, scope) -> None:
    """A read for another ε (the fixed plan's entry is keyed without it) or along the layer-wise
    path gives the ρ* and bounds an uncached run computes: exact, the same solves on the same rule."""
    store = open_store(tmp_path / "cache", True)
    bounds(fitted_inputs, PLAN, store=store)
    read = bounds(fitted_inputs, options, scope=scope, store=store)
    fresh = bounds(fitted_inputs, options, scope=scope)
    assert read.spectrum.cached
    assert (read.ratio, read.lower, read.upper) == (fresh.ratio, fresh.lower, fresh.upper)
