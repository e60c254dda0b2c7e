"""SLQ's progress count ends at its total: a fixed plan whose runs break down (a rank below
D, exact zeros) took fewer steps than it planned, and its count stopped short of the total:
4 runs × 10 steps made 24 products and the count ended at 36/40, as a group after a run that
broke down started its count where the plan said, not where the steps were."""

from __future__ import annotations

import torch

from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq
from prunelimit.report.progress import Tally, advanced


def _rank_deficient(dim: int = 12) -> DenseOperator:
    """5 distinct non-zero eigenvalues and 7 zeros: a plain run breaks down after 6 steps."""
    eigenvalues = torch.tensor([0.0] * 7 + [0.5, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    return DenseOperator(q @ torch.diag(eigenvalues) @ q.T)


def test_a_plan_whose_runs_break_down_ends_its_count_at_its_total() -> None:
    calls: list[tuple[int, int]] = []
    quad = slq(_rank_deficient(), iterations=10, runs=4, seed=0, method="h",
               callback=lambda done, total: calls.append((done, total)))
    count = Tally()
    for done, total in calls:
        count = advanced(count, done, total, absolute=True)
        assert count.done <= count.total  # never past 100 %
    assert quad.hvps < 4 * 10  # the runs broke down: fewer steps than planned
    assert (count.done, count.total) == (quad.hvps, quad.hvps)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)  # the count never jumps back


def test_a_lockstep_plan_ends_its_count_at_the_products_made() -> None:
    calls: list[tuple[int, int]] = []
    quad = slq(_rank_deficient(), iterations=10, runs=4, seed=0, method="h", lockstep=2,
               callback=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (quad.hvps, quad.hvps)
