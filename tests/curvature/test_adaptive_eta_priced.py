"""Under a time budget adaptive SLQ prices the work left for a progress bar's ETA
(``progress(..., left=seconds)``): the runs' products at their rate, what follows them at
the plan's ``Afterwards.seconds``, never past what the budget leaves. A GPU ResNet-18 over
an 8,192-sample subset read 'eta 0:04:11' with 47 s of a 150 s budget's work left: every
product priced at the runs' rate, where the data check's, over a quarter of the subset
each, cost 0.37 s against 1.27 s."""

from __future__ import annotations

from prunelimit.curvature.adaptive import AdaptivePlan, Afterwards, adaptive_slq

from tests.curvature.test_adaptive import _assess_by_steps, _operator, _Timed

# The data check's products over a quarter of the data each: 4 a step, 1 s the step (0.25 s a
# product against the runs' 1 s); top-ups to 8 samples at the runs' rate.
AFTER = Afterwards(per_step=4, runs_to=8, step_seconds=1.0)
BUDGET = 100.0


def _priced_run():
    """One run at 1 s a product on the simulated clock, never precise enough: the time budget stops it."""
    timed = _Timed(_operator(400))
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, initial_steps=8, initial_runs=1, time_budget=BUDGET,
                        after=AFTER)
    seen: list[tuple[float, int, int, float | None]] = []
    result = adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds,
                          progress=lambda done, total, text, left=None: seen.append((timed.seconds, done, total, left)))
    return result, seen


def test_the_eta_prices_the_data_check_at_its_own_cost_within_the_budget() -> None:
    """The runs stop at 46 steps (46 s), leaving the data check's 184 products (46 s) and 7
    top-ups (7 s): the last count says 53 s, where all 191 at the runs' rate read 191 s,
    past the 54 s the budget had left. Every price ends within the budget, and from the
    second product on (the first has no rate yet) the run's last stage ends where its
    prices said, to the second (exact on this clock: the products are the only seconds)."""
    result, seen = _priced_run()
    assert result.stopped_by == "time-budget"
    runs, steps = result.quadrature.runs, result.steps
    end = result.trail[-1].seconds + AFTER.seconds(runs, steps, 1.0)  # when the data check and top-ups end
    assert (runs, steps) == (1, 46) and end == 99.0
    now, done, total, left = seen[-1]
    assert (done, total, left) == (46, 46 + 4 * 46 + 7, 53.0)
    priced = [(now, left) for now, _, _, left in seen if left is not None]
    assert len(priced) == len(seen) - 1  # all but the first product's
    assert all(now + left <= BUDGET for now, left in priced)
    last_stage = [(now, left) for now, left in priced if now > result.trail[-2].seconds]
    assert last_stage and all(abs(now + left - end) <= 1.0 for now, left in last_stage), last_stage


def test_no_time_budget_prices_nothing() -> None:
    """Without a time budget the data check is not timed: the bar keeps the measured rate."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=3, after=AFTER)
    lefts = []
    adaptive_slq(timed, plan, _assess_by_steps(32), seed=0,
                 progress=lambda done, total, text, left=None: lefts.append(left))
    assert lefts and set(lefts) == {None}
