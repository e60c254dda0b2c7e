"""A product or memory budget that ends the runs after a stage that only grew their steps
(``curvature.adaptive``): where that last stage's ± is wider than the one before it, the
earlier answer is returned. Both bracket the same probes; the estimate moving within a
narrowing bracket widens the ± stated about it (a 35,386-parameter CNN on the digits,
3 runs: ρ* 0.611 ± 0.061 at 512 steps, then 0.576 ± 0.088 at 533 with the last 63 of
its 1,600 products, which the default returned)."""

from __future__ import annotations

import math

import pytest

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from tests.curvature.test_adaptive import _operator


def _steps(quad) -> int:
    return int((quad.weights > 0).sum(axis=1).min())


def _widening(quad) -> Assessment:
    """The steps part 0.4/steps up to 16 steps, then 0.05 (wider than 16 steps' 0.025) with
    the estimate moved; a probe part no focus can meet (``statistical_alone`` ∞)."""
    steps = _steps(quad)
    trunc = 0.4 / steps if steps <= 16 else 0.05
    estimate = 0.5 if steps <= 16 else 0.45
    return Assessment(estimate, trunc + 1e-4, trunc, 1e-4)


def _narrowing(quad) -> Assessment:
    trunc = 0.4 / _steps(quad)
    return Assessment(0.5, trunc + 1e-4, trunc, 1e-4)


def _memory_rows(plan: AdaptivePlan) -> AdaptivePlan:
    """The same stages, ended by the bases' memory instead of the product budget: 3 runs of
    20 steps fit, with the copy a basis makes while it grows."""
    return AdaptivePlan(tolerance=plan.tolerance, max_products=10_000, initial_steps=8, initial_runs=3,
                        max_basis_rows=3 * 20 + 20)


@pytest.mark.parametrize("limit", ["max-hvps", "memory"])
def test_a_last_steps_stage_that_widens_the_answer_gives_way_to_the_one_before(limit) -> None:
    plan = AdaptivePlan(tolerance=1e-3, max_products=60, initial_steps=8, initial_runs=3)
    if limit == "memory":
        plan = _memory_rows(plan)
    result = adaptive_slq(_operator(), plan, _widening, seed=0)
    assert result.stopped_by == limit
    last, before = result.trail[-1], result.trail[-2]
    widened = [s for s in result.trail if s.steps > 16]
    assert widened and widened[-1].plus_minus == pytest.approx(0.05 + 1e-4)  # the stage happened
    # the answer returned is the 16-step stage's (3 runs × 16 steps), every product counted
    assert (last.runs, last.steps, last.estimate) == (3, 16, 0.5)
    assert last.plus_minus == pytest.approx(0.4 / 16 + 1e-4)
    assert last.plus_minus < before.plus_minus
    assert _steps(result.quadrature) == 16 and result.quadrature.runs == 3
    assert result.quadrature.hvps == before.products == last.products


def test_a_last_steps_stage_that_narrows_the_answer_is_returned() -> None:
    plan = AdaptivePlan(tolerance=1e-3, max_products=60, initial_steps=8, initial_runs=3)
    result = adaptive_slq(_operator(), plan, _narrowing, seed=0)
    assert result.stopped_by == "max-hvps"
    assert [s.plus_minus for s in result.trail] == sorted((s.plus_minus for s in result.trail), reverse=True)
    assert _steps(result.quadrature) == result.trail[-1].steps > 16
    assert not math.isinf(result.trail[-1].plus_minus)


def test_a_stage_that_adds_probes_is_not_weighed_against_the_one_before() -> None:
    """Where the last stage added runs its probe part is another estimate, not the same
    probes bounded tighter: the latest answer stands, as before."""
    def probes_widen(quad) -> Assessment:
        probes = 0.01 if quad.runs <= 3 else 0.02
        return Assessment(0.5, probes + 1e-5, 1e-5, probes)

    plan = AdaptivePlan(tolerance=1e-3, max_products=40, initial_steps=8, initial_runs=3)
    result = adaptive_slq(_operator(), plan, probes_widen, seed=0)
    assert result.stopped_by == "max-hvps"
    assert result.quadrature.runs > 3 and result.trail[-1].plus_minus == pytest.approx(0.02 + 1e-5)
    assert result.quadrature.runs == result.trail[-1].runs  # no earlier answer's row appended
