"""The total adaptive SLQ gives a progress bar holds what must follow the runs at the
stage's steps (``Afterwards.expected``): the data check (the first probe's steps again on
each of 4 parts) and the trace's top-ups (to 8 samples). It held the runs alone: on a
2,410-parameter MLP over 200 of 400 samples the bar stood at 1,538 of 1,538 (no time left,
by its ETA) with the 2,048 products of the data check and 5 top-ups, half the work, ahead."""

from __future__ import annotations

from prunelimit.curvature.adaptive import AdaptivePlan, Afterwards, adaptive_slq

from tests.curvature.test_adaptive import _assess_by_steps, _operator

AFTER = Afterwards(per_step=4, runs_to=8)


def _run(after: Afterwards):
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=3, after=after)
    seen: list[tuple[int, int]] = []
    result = adaptive_slq(_operator(), plan, _assess_by_steps(32), seed=0,
                          progress=lambda done, planned, text, left=None: seen.append((done, planned)))
    return result, seen


def test_the_total_expects_the_data_check_and_the_top_ups_from_each_stage_on() -> None:
    result, seen = _run(AFTER)
    assert result.stopped_by == "tolerance" and [s.steps for s in result.trail] == [8, 16, 32]
    # 3 runs of 32 steps, then 4 × 32 data-check products and 5 top-ups: the total from the
    # last stage's first product on
    final = 3 * 32 + 4 * 32 + 5
    last_stage = [(done, planned) for done, planned in seen if done > 3 * 16]
    assert last_stage and all(planned == final for _, planned in last_stage), last_stage
    first_stage = [planned for done, planned in seen if done <= 3 * 8]
    assert set(first_stage) == {3 * 8 + 4 * 8 + 5}  # the first stage's steps, and what follows them
    assert all(done <= planned for done, planned in seen)


def test_nothing_to_follow_leaves_the_runs_total() -> None:
    """No data check and a run per trace sample: the total is the runs' alone, as before."""
    result, seen = _run(Afterwards(per_step=0, runs_to=0))
    assert seen[-1] == (result.quadrature.hvps, result.quadrature.hvps)
