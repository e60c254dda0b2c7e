"""What a time-budget stop returns (``curvature.adaptive``): the same earlier answers a
product stop at the same point returns. Where the stages since the runs last changed only
grew their steps, they bound the same probes, and the tightest of them is returned where it
is tighter than the latest (``test_adaptive_last_steps_widen.py``). Before, a time budget
weighed only the last whole stage (and, after a stage adding runs, the runs it finished)
against the cut one: 3 runs at 1 s a product, ± 0.025 at 16 steps, 0.05 at 32 and 0.08
beyond, cut at 150 s in the stage to 64 steps, returned 32 steps' 0.05 where --max-hvps 150
returned 16 steps' 0.025; spent exactly between stages (96 s) it returned the latest, 0.05.
Simulated clock: 1 s a product, nothing else takes time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from tests.curvature.test_adaptive import _Timed, _operator
from tests.curvature.test_adaptive_last_steps_widen import _steps


def _widening(quad) -> Assessment:
    """The steps part 0.4/steps up to 16 steps, 0.05 at 17 to 32 and 0.08 past 32, the
    estimate moving (a narrowing bracket, an estimate moving within it); a probe part no
    focus can meet (``statistical_alone`` ∞). 3 runs: 8, 16 and 32 steps, then a stage
    to 64."""
    steps = _steps(quad)
    trunc = 0.4 / steps if steps <= 16 else 0.05 if steps <= 32 else 0.08
    estimate = 0.5 if steps <= 16 else 0.45 if steps <= 32 else 0.4
    return Assessment(estimate, trunc + 1e-4, trunc, 1e-4)


PLAN = AdaptivePlan(tolerance=1e-3, max_products=10_000, initial_steps=8, initial_runs=3)


@pytest.mark.parametrize("seconds", [150, 96])
def test_a_time_budget_stop_returns_what_a_product_stop_at_that_point_does(seconds) -> None:
    """150 s: the stage to 64 steps cut at 50 (± 0.08), the last whole stage 32 steps'
    (± 0.05), the 16 steps' before it 0.025. 96 s: spent as the 32-step stage ends. Each
    time-budget answer equals --max-hvps of the same products' (a whole stage to 50 steps
    at 150), the 16 steps' ± 0.025: exact arithmetic of binary fractions, compared exactly
    but for the ± summed in float (``approx``'s relative 1e-6)."""
    timed = _Timed(_operator(400))
    result = adaptive_slq(timed, replace(PLAN, time_budget=float(seconds)), _widening, seed=0,
                          clock=lambda: timed.seconds)
    products = adaptive_slq(_operator(400), replace(PLAN, max_products=seconds), _widening, seed=0)
    assert result.stopped_by == "time-budget" and products.stopped_by == "max-hvps"
    assert timed.seconds == seconds == result.quadrature.hvps == products.quadrature.hvps
    # the runs went past 16 steps and widened: the stages happened
    assert max(s.steps for s in result.trail) == (50 if seconds == 150 else 32)
    assert max(s.plus_minus for s in result.trail) == pytest.approx(0.08 + 1e-4 if seconds == 150 else 0.05 + 1e-4)
    last = result.trail[-1]
    assert (last.runs, last.steps, last.estimate) == (3, 16, 0.5) == (
        products.trail[-1].runs, products.trail[-1].steps, products.trail[-1].estimate)
    assert last.plus_minus == pytest.approx(0.4 / 16 + 1e-4) == products.trail[-1].plus_minus
    assert last.products == seconds  # every product counted
    assert _steps(result.quadrature) == 16 and result.quadrature.runs == 3
    assert (result.quadrature.nodes == products.quadrature.nodes).all()


def test_a_time_budget_does_not_return_an_earlier_answer_stating_less_rounding() -> None:
    """The same stages, a fixed (rounding) part of 0.06 found from 32 steps on: the earlier
    answers left it out, so the cut stage's, which states it, is weighed only against the 32
    steps' (± 0.05 + 0.06, tighter than the cut's 0.08 + 0.06), as a product stop would."""
    def rounding_from_32(quad) -> Assessment:
        verdict = _widening(quad)
        part = 0.06 if _steps(quad) >= 32 else 0.0
        return replace(verdict, plus_minus=verdict.plus_minus + part, fixed=part)

    timed = _Timed(_operator(400))
    result = adaptive_slq(timed, replace(PLAN, time_budget=150.0), rounding_from_32, seed=0,
                          clock=lambda: timed.seconds)
    assert result.stopped_by == "time-budget"
    last = result.trail[-1]
    assert (last.steps, last.estimate) == (32, 0.45) and last.plus_minus == pytest.approx(0.05 + 1e-4 + 0.06)
