"""The default's exact-vs-SLQ choice gives the same answer from one run to the next on a
busy machine: the timing's statistic, the tie rule near the budget, and the watch over the
exact columns, each fed synthetic timings (no test here measures time)."""

from __future__ import annotations

import types

import pytest
import torch

from prunelimit import api
from prunelimit.api import curvature
from prunelimit.api.options import EXACT_TIME_BUDGET_S
from prunelimit.curvature import exact

BUDGET = EXACT_TIME_BUDGET_S


class _Clocked:
    """A CPU operator whose every product advances ``clock`` by the next of ``seconds``,
    and records torch's thread count while it runs."""

    device = torch.device("cpu")

    def __init__(self, seconds: list[float]) -> None:
        self.dim, self.now, self.threads = 8, 0.0, []
        self._seconds = iter(seconds)

    def clock(self) -> float:
        return self.now

    def matvec(self, v):
        self.threads.append(torch.get_num_threads())
        self.now += next(self._seconds)
        return v


def test_a_column_is_priced_by_the_fastest_timed_product_on_one_thread(monkeypatch) -> None:
    """A warm-up product (untimed), then 9, 2 and 5 ms (one product slowed by other load
    more than another): the column costs the fastest, 2 ms, all taken on one thread and
    torch's threads restored after. Binary-exact durations, so the result is exact."""
    op = _Clocked([1.0, 9 / 1024, 2 / 1024, 5 / 1024])
    monkeypatch.setattr(curvature, "_clock", lambda device: op.clock)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert curvature._seconds_per_column(op) == 2 / 1024
        assert op.threads == [1, 1, 1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_eigenvalues_are_priced_by_the_fastest_solve_on_one_thread(monkeypatch) -> None:
    """Two timed solves of the 1,024-row problem take 3 s and 1 s on the injected CPU clock:
    a 4,096-row one is predicted from the faster, 1 s × (4096/1024)³ at half the rate per n³
    (``exact.eigenvalue_scale``) = 32 s, the solves on one thread."""
    durations, threads, now = iter([3.0, 1.0]), [], [0.0]

    def solve(a):
        threads.append(torch.get_num_threads())
        now[0] += next(durations)
        return torch.zeros(a.shape[0], dtype=a.dtype)

    monkeypatch.setattr(torch.linalg, "eigvalsh", solve)
    monkeypatch.setattr(exact, "time", types.SimpleNamespace(process_time=lambda: now[0]))
    assert exact.eigenvalue_seconds(4096) == 32.0
    assert threads == [1, 1]


def _choice(dim: int, predicted: float, **options) -> api.SolverChoice:
    """The default's choice for D = ``dim`` whose D columns are predicted at ``predicted`` s."""
    return api.choose_solver(api.CurvatureOptions(**options), dim, predicted / dim)


@pytest.mark.parametrize("dim", [1_000, 5_000])
def test_predictions_near_the_budget_do_not_flip_the_choice(dim) -> None:
    """Runs of the same command predict 0.7, 0.9, 1.1 and 1.4 × the budget (timing scatter on
    a loaded machine): one answer, the exact spectrum, whose columns' own rate then decides."""
    choices = [_choice(dim, factor * BUDGET) for factor in (0.7, 0.9, 1.1, 1.4)]
    assert {c.solver for c in choices} == {"exact"}
    assert all("a tie the timing cannot settle" in c.reason for c in choices[2:])


@pytest.mark.parametrize("dim", [1_000, 5_000])
def test_predictions_beyond_the_tie_take_slq(dim) -> None:
    """Over 1.5 × the budget the prediction refuses the exact spectrum, whatever D."""
    assert _choice(dim, 1.6 * BUDGET).solver == "slq-h"
    assert _choice(dim, 1.6 * BUDGET).reason.endswith("> 90 s, 1.5× the 60 s budget")


def test_the_tie_follows_a_smaller_time_budget() -> None:
    """With --time-budget 10 the tie reaches 15 s."""
    assert _choice(5_000, 14.0, time_budget=10.0).solver == "exact"
    assert _choice(5_000, 16.0, time_budget=10.0).reason.endswith("> 15 s, 1.5× the 10 s budget (--time-budget)")


@pytest.mark.parametrize("predicted, solver, ending", [
    (30.0, "exact", "≤ 60 s"), (1.6 * BUDGET, "slq-h", "> 90 s, 1.5× the 60 s budget")])
def test_a_time_budget_over_the_exact_limit_is_not_named_as_that_limit(predicted, solver, ending) -> None:
    """--time-budget 3600 leaves the exact spectrum its own 60 s limit, and the reason read
    "≤ 60 s (--time-budget)" (or "the 60 s budget (--time-budget)"), as if 3600 had been 60."""
    choice = _choice(5_000, predicted, time_budget=3600.0)
    assert choice.solver == solver
    assert ending in choice.reason and "--time-budget" not in choice.reason, choice.reason


def _watch(monkeypatch, blocks: list[float], dim: int = 1_000, budget: float | None = None) -> int | None:
    """Columns done when the default's watch leaves the exact spectrum (``None``: never),
    fed one column per block, each taking the given seconds on its clock; under
    ``--time-budget budget`` that clock is the spectrum's wall clock (``elapsed``) too."""
    now = [0.0]
    monkeypatch.setattr(curvature, "_clock", lambda device: lambda: now[0])
    check = curvature._exact_watch(api.CurvatureOptions(time_budget=budget), types.SimpleNamespace(device=None), dim,
                                   0.0, None if budget is None else (lambda: now[0]))
    for done, seconds in enumerate(blocks, start=1):
        now[0] += seconds
        try:
            check(done)
        except curvature._ExactTooSlow:
            return done
    return None


def test_a_burst_of_load_does_not_leave_the_exact_columns(monkeypatch) -> None:
    """Columns that take 1 ms unloaded, every other one slowed to 1 s by other load (threads
    waiting for a core): their mean predicts ≈ 500 s for D = 1,000, their fastest 1 s; the
    exact spectrum is kept."""
    assert _watch(monkeypatch, [1.0, 2**-10] * 400) is None


def test_columns_slower_than_the_budget_leave_the_exact_spectrum(monkeypatch) -> None:
    """Every column takes 1 s (the timed products misjudged them): 1,000 would take 1,000 s,
    over 1.5 × the budget; judged once 5 % of the budget (3 s) is spent, at column 3."""
    assert _watch(monkeypatch, [1.0] * 10) == 3


def test_the_watch_leaves_nothing_it_would_have_chosen(monkeypatch) -> None:
    """Columns whose fastest predicts just within 1.5 × the budget (0.089 s each, 89 s for
    1,000) are kept to the end: the watch refuses only what the prediction would have."""
    assert _watch(monkeypatch, [0.089] * 999) is None


def test_a_deadline_leaves_columns_the_rate_so_far_will_not_finish(monkeypatch) -> None:
    """Under --time-budget 40 a loaded machine formed the columns of a 1,948-parameter Conv1d
    net at 22 ms each on the wall clock, some blocks faster: the fastest block's rate kept
    them for 1,342 columns (29 s), then left them for SLQ in the 7 s left (± 0.053, where
    --time-budget 20 had left them at once: ± 0.023). Columns alternating 10 and 90 ms (50 s
    for 1,000 at their mean, 10 s at their fastest) are left once 5 % of the budget is spent,
    not at 75 % of the columns; steady ones that fit are kept to the end."""
    assert _watch(monkeypatch, [0.01, 0.09] * 500, budget=40.0) <= 50
    assert _watch(monkeypatch, [0.035] * 999, budget=40.0) is None
