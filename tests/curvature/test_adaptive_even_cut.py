"""A time budget that cuts a steps stage of several runs (``curvature.adaptive``): the
runs end within a step of each other, not the first ones at the stage's steps and the last
where they began."""

from __future__ import annotations

import numpy as np
import pytest

from prunelimit.curvature.adaptive import AdaptivePlan, Afterwards, Assessment, adaptive_slq
from tests.curvature.test_adaptive import _operator, _Timed


def _assess_by_mean_steps(quad) -> Assessment:
    """A truncation part that is the runs' mean of 1/steps² (each run's own bracket falls
    with its own steps), no probe part."""
    steps = (quad.weights > 0).sum(axis=1).astype(float)
    trunc = float(np.mean(1.0 / steps**2))
    return Assessment(0.5, trunc, trunc, 0.0)


@pytest.mark.parametrize("budget, lockstep", [(40.0, 1), (41.0, 1), (44.0, 2)])
def test_a_cut_steps_stage_leaves_every_run_within_a_step_of_the_others(budget, lockstep) -> None:
    """At 1 s a product, 3 runs of 8 steps (24 s), then a stage to 16 steps that the budget
    cuts. Before, the groups grew one after the other: at 40 s the runs stood at 16, 16 and
    8 steps, the steps part (the runs' mean) shrunk for two of three. Now every group takes
    a step in turn: 14, 13 and 13 steps for the same 40 products, and a smaller ± (exact:
    the clock is the products)."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=budget, initial_steps=8, initial_runs=3,
                        lockstep=lockstep)
    result = adaptive_slq(timed, plan, _assess_by_mean_steps, seed=0, clock=lambda: timed.seconds)
    steps = (result.quadrature.weights > 0).sum(axis=1)
    assert result.stopped_by == "time-budget" and result.quadrature.runs == 3
    assert steps.sum() == result.quadrature.hvps == timed.seconds <= budget
    assert steps.max() - steps.min() <= 1, steps.tolist()
    uneven = np.array([16, 16, steps.sum() - 32])  # the same products, the first groups first
    assert result.trail[-1].plus_minus < np.mean(1.0 / uneven.astype(float) ** 2)


def test_a_cut_steps_stage_prices_the_data_check_at_the_even_steps() -> None:
    """A data check of 1 s a step at the first probe's steps follows the runs: grown one
    after the other, the first run's 16 steps priced it at 17 s and the runs stopped at 16,
    15 and 8 steps (39 products); grown in turn, it is priced at the runs' own steps, and
    they take more products in the same budget (41: 14, 14 and 13 steps)."""
    after = Afterwards(per_step=1, step_seconds=1.0)
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=56.0, initial_steps=8, initial_runs=3,
                        after=after)
    result = adaptive_slq(timed, plan, _assess_by_mean_steps, seed=0, clock=lambda: timed.seconds)
    steps = (result.quadrature.weights > 0).sum(axis=1)
    assert result.stopped_by == "time-budget"
    assert steps.max() - steps.min() <= 1, steps.tolist()
    assert timed.seconds + after.seconds(3, int(steps.max()), 1.0) <= 56.0
    assert result.quadrature.hvps > 39
