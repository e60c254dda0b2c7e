"""A time budget holds the products an assessment measures (``AdaptivePlan.measuring``):
the products' error measured again over all the curvature data at the first assessment
whose rounding part calls for it, a float64 product among them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from tests.curvature.test_adaptive import _operator, _Timed

# The measuring at 1 s a float32 product: one float32 product and one float64 at 19 times
# its seconds (a float64 convolution on a GPU), 20 s; it counts 2 products.
MEASURING_S = 20.0


def _measuring_once(timed: _Timed):
    """An assessment whose first call measures (the clock moves MEASURING_S) and no later one."""
    calls = []

    def assess(quad) -> Assessment:
        calls.append(quad.hvps)
        products = 2 if len(calls) == 1 else 0
        timed.seconds += MEASURING_S if products else 0.0
        steps = int((quad.weights > 0).sum(axis=1).max())
        return Assessment(0.5, 1.0 / steps, 1.0 / steps, 0.0, products=products)

    return assess


@pytest.mark.parametrize("budget", [25.0, 40.0, 60.0])
def test_a_time_budget_holds_the_measuring_of_the_first_assessment(budget) -> None:
    """One run of 8 steps first, at 1 s a product: before, the measuring's 20 s was not held,
    so a 25 s budget ran the 8 steps and ended at 28 s. Now the runs stop where the next step
    and the measuring would pass the budget (exact: the clock is the products and the
    measuring), 5 steps in 25 s; a later stage, with nothing left to measure, holds no more
    of it, and prices its steps at the runs' own 1 s a product: the measuring's seconds in
    their rate made it 2.8 s after the first stage, and a 40 s budget ended at 39 s."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=budget, initial_steps=8, initial_runs=1,
                        measuring=MEASURING_S)
    result = adaptive_slq(timed, plan, _measuring_once(timed), seed=0, clock=lambda: timed.seconds)
    assert result.stopped_by == "time-budget"
    assert timed.seconds <= budget
    assert timed.seconds + 1 > budget  # the next step would not have fitted: the budget is used
    if budget == 25.0:  # the first stage is cut where the next step and the measuring would not fit
        assert result.steps == 5 and timed.seconds == 25.0


def test_without_a_time_budget_the_measuring_price_changes_nothing() -> None:
    """The price only stops runs under a time budget: without one the runs are the same."""
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=1)
    free = adaptive_slq(_Timed(_operator()), plan, _measuring_once(_Timed(_operator())), seed=0)
    priced = adaptive_slq(_Timed(_operator()), replace(plan, measuring=MEASURING_S),
                          _measuring_once(_Timed(_operator())), seed=0)
    assert [s.to_json() for s in priced.trail] == [s.to_json() for s in free.trail]


def test_a_time_budget_holds_measuring_priced_in_seconds() -> None:
    """The caller's timed price of the measuring (``measuring_seconds``: its own operators'
    builds and products, which the runs' seconds a product priced 4-5× short on CPU
    convolution nets) is held as the products' price is: 20 s of it cut a 25 s budget's
    first stage at 5 steps, ending at 25 s (before, no such price: 8 steps, 28 s), and a
    later stage holds none of it."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=25.0, initial_steps=8, initial_runs=1,
                        measuring_seconds=MEASURING_S)
    result = adaptive_slq(timed, plan, _measuring_once(timed), seed=0, clock=lambda: timed.seconds)
    assert result.stopped_by == "time-budget"
    assert result.steps == 5 and timed.seconds == 25.0
