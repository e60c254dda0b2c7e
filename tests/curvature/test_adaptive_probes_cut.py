"""A time budget that cuts a stage adding runs (``curvature.adaptive``): the runs are taken
one after another, and the runs the stage finished, without the one the clock cut short,
are weighed against the cut stage's answer and the last whole stage's. Simulated clocks:
no test here measures time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from tests.curvature.test_adaptive import _operator, _Timed

# Truncation part: 0.01 at 8 steps, growing as 1/steps² for the shortest run (a run cut
# short has a wide bracket); probe part 0.1/√runs. After 3 runs of 8 steps (± 0.0677) the
# probe part is the larger: the next stage adds 3 runs of 8 steps.
TRUNCATION, PROBES = 0.01, 0.1


def _shortest_run_bound(timed: _Timed, seconds_per_squared_step: float = 0.0):
    def assess(quad) -> Assessment:
        steps = (quad.weights > 0).sum(axis=1)
        timed.seconds += seconds_per_squared_step * float((steps.astype(float) ** 2).sum())  # the assessment's cost
        trunc = TRUNCATION * (8.0 / steps.min()) ** 2
        probes = PROBES / math.sqrt(quad.runs)
        return Assessment(0.5, trunc + probes, trunc, probes)

    return assess


@pytest.mark.parametrize("lockstep", [1, 2])
def test_a_cut_probes_stage_answers_with_the_runs_it_finished(lockstep) -> None:
    """43 s at 1 s a product: 3 runs of 8 steps (24 s), then the 3 new runs one after
    another: 8, 8 and 3 steps when the clock stops them. The cut stage's answer (± 0.112, the
    3-step run's bracket) is wider than the 3 whole runs' (± 0.0677), which was returned
    before: the 19 products of the new runs spent for nothing. Now the first 5 runs, all
    of 8 steps, answer: ± 0.0547 (exact on this clock: the products are the only seconds)."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=43.0, initial_steps=8, initial_runs=3,
                        lockstep=lockstep)
    result = adaptive_slq(timed, plan, _shortest_run_bound(timed), seed=0, clock=lambda: timed.seconds)
    steps = (result.quadrature.weights > 0).sum(axis=1)
    assert result.stopped_by == "time-budget"
    assert steps.tolist() == [8] * 5, steps.tolist()
    assert result.quadrature.hvps == timed.seconds == 43.0
    assert result.trail[-1].plus_minus == pytest.approx(TRUNCATION + PROBES / math.sqrt(5), rel=1e-12)
    assert [(s.runs, s.steps) for s in result.trail] == [(3, 8), (6, 8), (5, 8)]  # the cut stage, then the answer


def test_the_finished_runs_assessment_is_held_by_the_time_budget() -> None:
    """Each assessment takes 8 ms a squared step of its runs (6 runs of 8 steps: 3.1 s), on the
    same clock: the stage that adds runs holds two after its last step, the cut stage's and
    its finished runs', so both end within the budget (47.7 s of 50; holding one, the second
    ended at 50.7 s). Before, the 3 whole runs answered (± 0.0677); now the first 5 (± 0.0547)."""
    timed = _Timed(_operator())
    budget = 50.0
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=budget, initial_steps=8, initial_runs=3)
    result = adaptive_slq(timed, plan, _shortest_run_bound(timed, 8e-3), seed=0, clock=lambda: timed.seconds)
    steps = (result.quadrature.weights > 0).sum(axis=1)
    assert result.stopped_by == "time-budget" and result.trail[-1].runs == 5
    assert np.all(steps == 8), steps.tolist()
    assert timed.seconds <= budget


@pytest.mark.parametrize("budget", [30.0, 33.0, 40.0, 45.0, 55.0])
def test_the_top_ups_are_held_for_the_fewest_runs_a_cut_stage_may_answer_with(budget) -> None:
    """Top-ups to 8 samples at the runs' 1 s a product follow the answer. A cut stage that
    adds runs may answer with the last whole stage's runs or those it finished, fewer than it
    started: priced after every run started, the answer's top-ups ended a second past the
    budget (30 s: 26 products, the 3 whole runs answered, 5 top-ups: 31 s). Now they end
    within it (exact on this clock)."""
    from prunelimit.curvature.adaptive import Afterwards

    after = Afterwards(runs_to=8)
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=budget, initial_steps=8, initial_runs=3,
                        after=after)
    result = adaptive_slq(timed, plan, _shortest_run_bound(timed), seed=0, clock=lambda: timed.seconds)
    assert result.stopped_by == "time-budget" and result.trail[-1].runs < 8
    assert timed.seconds + after.seconds(result.quadrature.runs, result.steps, 1.0) <= budget
