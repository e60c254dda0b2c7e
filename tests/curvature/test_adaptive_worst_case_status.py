"""After each stage, adaptive SLQ's progress status says what its product budget still
allows and what that costs at the runs' rate: each stage's bar ends with its own products,
so its ETA said nothing of the stages after it (a 35k-parameter CNN's first line read 'eta
0:01:42' for a run that took 12 min 55 s to its 1,600 products)."""

from __future__ import annotations

import re

from prunelimit.curvature.adaptive import AdaptivePlan, adaptive_slq

from tests.curvature.test_adaptive import _assess_by_steps, _operator, _Timed


def _statuses(time_budget: float | None = None) -> tuple[list[tuple[float, int, str]], object]:
    """One run at 1 s a product on the simulated clock, never precise enough: 200 products at most."""
    timed = _Timed(_operator(400))
    plan = AdaptivePlan(tolerance=1e-9, max_products=200, initial_steps=8, initial_runs=1, time_budget=time_budget)
    seen: list[tuple[float, int, str]] = []
    result = adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds,
                          progress=lambda done, total, text, left=None: seen.append((timed.seconds, done, text)))
    return seen, result


def test_every_status_states_the_budgets_worst_case_at_the_runs_rate() -> None:
    """At 1 s a product (exact on this clock: the products are its only seconds), from the
    first product on the status says what is left of the 200 products: 'first stage; at
    worst 200 products, ≈ 0:03:19 more' where the first stage's bar ends at 8, and the run
    does end at the budget, where nothing is left to state."""
    seen, result = _statuses()
    assert result.stopped_by == "max-hvps"
    assert seen[0][1:] == (1, "first stage; at worst 200 products, ≈ 0:03:19 more")
    for _, done, text in seen:
        if done == 200:  # nothing left: no worst case to state
            assert "at worst" not in text
            continue
        h, m, s = map(int, re.search(r"; at worst 200 products, ≈ (\d+):(\d+):(\d+) more$", text).groups())
        assert 3600 * h + 60 * m + s == 200 - done, (done, text)
    assert result.quadrature.hvps == 200


def test_a_time_budget_states_no_worst_case() -> None:
    """Under a time budget the bar's total already stops where the budget does."""
    seen, _ = _statuses(time_budget=100.0)
    assert seen and not any("at worst" in text for _, _, text in seen)


class _Slowing(_Timed):
    """Products at 1 s each for the first 40, then 3 s each: a run going on alone after a
    focus, its basis grown, is slower than the runs' mean so far."""

    def matvec(self, v):
        self.seconds += 1.0 if self.seconds < 40 else 3.0
        return self.op.matvec(v)

    def matmat(self, vs):
        for _ in range(vs.shape[1]):
            self.seconds += 1.0 if self.seconds < 40 else 3.0
        return self.op.matmat(vs)


def test_the_worst_case_is_priced_at_the_slowest_rate_the_runs_have_shown() -> None:
    """Past the 40th product every product takes 3 s: the status prices the 200 - done left at
    3 s each from the end of the first whole stage at that rate on, where the runs' mean (2.4 s
    at the 128th product) read 0.79 of it. Stages of 8, 16, 32, 64, 128 steps: the 128-step
    stage (products 64 to 128) is the first slow whole one."""
    timed = _Slowing(_operator(400))
    plan = AdaptivePlan(tolerance=1e-9, max_products=200, initial_steps=8, initial_runs=1)
    seen: list[tuple[int, str]] = []
    adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds,
                 progress=lambda done, total, text, left=None: seen.append((done, text)))
    checked = set()
    for done, text in seen:
        if not 128 <= done < 200:
            continue
        h, m, s = map(int, re.search(r"at worst 200 products, ≈ (\d+):(\d+):(\d+) more$", text).groups())
        assert 3600 * h + 60 * m + s == 3 * (200 - done), (done, text)
        checked.add(done)
    assert checked == set(range(128, 200))
