"""After each stage, adaptive SLQ's progress status says what its product budget still
allows and what that costs at the runs' rate: each stage's bar ends with its own products,
so its ETA said nothing of the stages after it (a 35k-parameter CNN's first line read 'eta
0:01:42' for a run that took 12 min 55 s to its 1,600 products)."""

from __future__ import annotations

import re

import pytest

from prunelimit.curvature.adaptive import AdaptivePlan, Afterwards, adaptive_slq

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


def _stated(timed, products: int, runs: int = 1, check: int = 0) -> tuple[list[tuple[int, int, str]], object]:
    """``runs`` runs in lockstep on ``timed``'s clock to ``products`` products, never precise
    enough (``check``: a data check of that many parts after them): each status's
    (products done, seconds its worst case states, text), and the result."""
    plan = AdaptivePlan(tolerance=1e-9, max_products=products, initial_steps=8, initial_runs=runs, lockstep=runs,
                        after=Afterwards(per_step=check))
    seen: list[tuple[int, int, str]] = []

    def progress(done, total, text, left=None) -> None:
        worst = re.search(r"at worst [\d,]+ products(?: and a data check of [\d,]+)?, ≈ (\d+):(\d+):(\d+) more$",
                          text)
        h, m, s = map(int, worst.groups()) if worst else (0, 0, -1)
        seen.append((done, 3600 * h + 60 * m + s, text))

    result = adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds, progress=progress)
    return seen, result


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
    3 s each at least from the end of the first whole stage at that rate on, where the runs'
    mean (2.4 s at the 128th product) read 0.79 of it. Stages of 8, 16, 32, 64, 128 steps: the
    128-step stage (products 64 to 128) is the first slow whole one. The steps' fitted cost
    (``StepCosts``) takes the jump for a cost growing with the steps and prices them higher
    still: 1.11-1.46 of the time left, under 1.5 (a worst case errs high)."""
    seen, _ = _stated(_Slowing(_operator(400)), 200)
    checked = set()
    for done, stated, text in seen:
        if not 128 <= done < 200:
            continue
        assert 3 * (200 - done) <= stated < 1.5 * 3 * (200 - done), (done, text)
        checked.add(done)
    assert checked == set(range(128, 200))


class _Reorthogonalising(_Timed):
    """A step of index k takes 1 + 0.1·k s a product: each Lanczos step reorthogonalises
    against the k basis vectors before it, so its cost grows with k (one call a step here,
    every run of a lockstep group at the same step)."""

    def __init__(self, op) -> None:
        super().__init__(op)
        self.step = 0

    def matvec(self, v):
        return self.matmat(v[:, None])[:, 0]

    def matmat(self, vs):
        self.step += 1
        self.seconds += vs.shape[1] * (1.0 + 0.1 * self.step)
        return self.op.matmat(vs)


@pytest.mark.parametrize("runs, check", [(1, 0), (2, 0), (1, 1)])
def test_the_worst_case_prices_the_steps_at_their_growing_cost(runs: int, check: int) -> None:
    """``runs`` runs in lockstep to the budget of 200 products a run, a product at step k
    taking 1 + 0.1·k s: the status prices the products left at the cost the steps' fit
    (exact here: a + b·k) gives the steps they take, within 1 s, once 64 steps are timed (a
    stage's first step is not: it reserves the bases), from the 69th step on; and a
    data check of one part (``check``, beyond the budget) at the steps
    from 1 to the runs' 200. The slowest rate so far (the current step's at most), which priced
    them before, read 925 s of the 1,605 s left at one run's 100th product and 0.17-0.83 of the
    time left from the 10th to the 190th."""
    timed = _Reorthogonalising(_operator(400))
    seen, result = _stated(timed, 200 * runs, runs, check)
    assert result.stopped_by == "max-hvps" and result.quadrature.hvps == 200 * runs and timed.step == 200
    checked = set()
    checking = sum(1.0 + 0.1 * k for k in range(1, 201)) * check
    for done, stated, text in seen:
        if not 69 * runs <= done < 200 * runs:
            continue
        truth = runs * sum(1.0 + 0.1 * k for k in range(done // runs + 1, 201)) + checking
        # 1 s either way: the text rounds up to whole seconds, the fit's sums round at 1e-13
        assert abs(stated - truth) <= 1, (done, text, truth)
        assert ("data check of 200," in text) == bool(check)
        checked.add(done)
    assert checked == set(range(69 * runs, 200 * runs, runs))


class _Reserving(_Reorthogonalising):
    """``_Reorthogonalising`` whose first step of every stage (steps of 8, 16, 32, 64, 128,
    then the budget's 200) also takes 50 s: a stage's first product reserves its bases' rows."""

    def matmat(self, vs):
        if self.step + 1 in (9, 17, 33, 65, 129):
            self.seconds += 50.0
        return super().matmat(vs)


def test_a_stages_first_product_does_not_price_the_rest() -> None:
    """After the last stage's first product (the 129th, 50 s of reservation and 13.9 s of step)
    the status is within 1 s of the seconds left, which take no more reservation. The slowest
    rate had the current stage's, over that product alone: it read 4,537 s with 1,243 left."""
    seen, _ = _stated(_Reserving(_operator(400)), 200)
    checked = set()
    for done, stated, text in seen:
        if not 129 <= done < 200:
            continue
        truth = sum(1.0 + 0.1 * k for k in range(done + 1, 201))
        assert abs(stated - truth) <= 1, (done, text, truth)  # the text's whole seconds, the sums' rounding
        checked.add(done)
    assert checked == set(range(129, 200))


class _Loaded(_Reorthogonalising):
    """``_Reorthogonalising`` on a machine whose load doubles every product's seconds from
    the 201st step on."""

    def matmat(self, vs):
        self.step += 1
        self.seconds += vs.shape[1] * (1.0 + 0.1 * self.step) * (2.0 if self.step > 200 else 1.0)
        return self.op.matmat(vs)


def test_the_worst_case_follows_the_load_of_the_latest_steps() -> None:
    """One run to 400 products, the load doubling at the 201st: once the latest 64 steps all
    ran under it (the 264th product on), the status is within 5 % of the seconds left (1.001
    to 1.025 of them: the slope, fitted over every step, takes a little of the jump for
    growth). A level fitted over every step too (the fit's intercept) lagged the load: 0.89."""
    seen, _ = _stated(_Loaded(_operator(500)), 400)
    checked = set()
    for done, stated, text in seen:
        if not 264 <= done < 400:
            continue
        truth = sum(2.0 * (1.0 + 0.1 * k) for k in range(done + 1, 401))
        assert 0.95 * truth <= stated <= 1.05 * truth, (done, text, truth)
        checked.add(done)
    assert checked == set(range(264, 400))


def _focusing(quad):
    """Truncation falling as 1/steps, one run's probe part small: the runs focus on the first
    (``tests.curvature.test_adaptive``'s, whose tolerance the runs never meet here)."""
    from prunelimit.curvature.adaptive import Assessment

    trunc = 4.0 / int((quad.weights > 0).sum(axis=1).max())
    return Assessment(0.5, trunc + 0.001, trunc, 0.001, 0.002)


def test_before_a_focus_the_worst_case_prices_the_first_run_going_on_alone() -> None:
    """Three runs in lockstep, 1 s a product, 600 products at most and a data check of one
    part after them: after two stages (16 steps, 48 products) the first run goes on alone to
    16 + 552 = 568 steps, and the check with it. Before the focus the status priced every run
    going on to (48 + 552) / 3 = 200 steps and 'a data check of 200': 752 s where 1,120 s
    were left at the 48th product, 0.67 of them. Now it states the dearer of the two, the
    first run going on alone from where it is (k steps, 600 − 3k products left): a check of
    k + 600 − 3k products, and their seconds and the runs' left, exactly (1 s a product: the
    text's whole seconds); at most 30 s above the seconds left (the focus came later than
    at once), and those exactly at the 48th product."""
    timed = _Timed(_operator(900))
    plan = AdaptivePlan(tolerance=0.001, max_products=600, initial_steps=8, initial_runs=3, lockstep=3,
                        after=Afterwards(per_step=1))
    seen: list[tuple[float, int, str]] = []
    result = adaptive_slq(timed, plan, _focusing, seed=0, clock=lambda: timed.seconds,
                          progress=lambda done, total, text, left=None: seen.append((timed.seconds, done, text)))
    assert [(s.runs, s.steps) for s in result.trail][:3] == [(3, 8), (3, 16), (1, 32)]
    assert result.steps == 568 and result.quadrature.hvps == 600
    before = [(now, done, text) for now, done, text in seen if done <= 48]
    assert [done for _, done, _ in before] == [*range(3, 25, 3), 24, *range(27, 49, 3), 48]  # a status a step, a stage
    for now, done, text in before:
        check, h, m, s = re.search(r"at worst 600 products and a data check of ([\d,]+), ≈ (\d+):(\d+):(\d+) more$",
                                   text).groups()
        stated = 3600 * int(h) + 60 * int(m) + int(s)
        assert int(check) == done // 3 + 600 - done and stated == 600 - done + int(check), text
        truth = timed.seconds - now + 568
        assert truth <= stated <= truth + 30 and (stated == truth or done < 48), (text, truth)
