"""Under a time budget the total adaptive SLQ gives a progress bar is what the budget leaves
at the rate the current stage makes its products, so that the ETA read at that rate ends
within the budget."""

from __future__ import annotations

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq

from tests.curvature.test_adaptive import _operator, _Timed


class _Batched(_Timed):
    """``op`` on a clock where one block product takes a second whatever its width: runs
    in lockstep make their products three times as fast as one run alone."""

    def matmat(self, vs):
        self.seconds += 1.0
        return self.op.matmat(vs)


def _one_probe_left(quad) -> Assessment:
    """Truncation falling as 1/steps, one run's probe part small: after five stages of three
    runs the first goes on alone (here to every eigenvalue of D = 400)."""
    trunc = 4.0 / int((quad.weights > 0).sum(axis=1).max())
    return Assessment(0.5, trunc + 0.001, trunc, 0.001, 0.002)


def test_the_total_under_a_time_budget_follows_the_stages_own_rate() -> None:
    """Three runs in lockstep make 3 products a second for 128 s; then the first goes on
    alone at 1 a second with 122 s of a 250 s budget left. The total was what the time left
    affords at the mean rate since the start (3 a second): 656 expected at 385 done, 271
    products that take 271 s at the rate they come (eta 0:04:31 with 0:02:01 left), the total
    shrinking to 506 as the mean slowed. It now takes the slower of that mean and the
    stage's own rate: 506 from the stage's second product. The runs stop where they did."""
    timed = _Batched(_operator(400))
    plan = AdaptivePlan(tolerance=0.01, max_products=2000, initial_steps=8, initial_runs=3, lockstep=3,
                        time_budget=250.0)
    seen: list[tuple[float, int, int]] = []
    result = adaptive_slq(timed, plan, _one_probe_left, seed=0, clock=lambda: timed.seconds,
                          progress=lambda done, planned, text, left=None: seen.append((timed.seconds, done, planned)))
    assert result.stopped_by == "time-budget" and [s.runs for s in result.trail][-2:] == [3, 1]
    assert result.trail[-1].products == 506  # where the clock stopped them, as before
    alone = [(now, done, planned) for now, done, planned in seen if done > result.trail[-2].products]
    # one product a second: what remains of the total fits the time left (one product of slack:
    # the stage's first product, before its rate is known)
    assert all(planned - done <= 250.0 - now + 1 for now, done, planned in alone[1:]), alone[:3]
    assert all(done <= planned for _, done, planned in seen)
