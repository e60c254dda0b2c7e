"""Adaptive SLQ within a host-memory limit on its Lanczos bases (``max_basis_rows``): it
stops there instead of exhausting the machine, and a focus frees the other runs' bases so
the first run can grow past what every run could share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from prunelimit.curvature.lanczos import LanczosRuns
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq


def _operator(dim: int = 120, seed: int = 0) -> DenseOperator:
    rng = np.random.default_rng(seed)
    lam = rng.lognormal(-2, 1.5, dim)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return DenseOperator(torch.tensor((q * lam) @ q.T))


def _steps(quad) -> int:
    return int((quad.weights > 0).sum(axis=1).max())


def _power_law(quad) -> Assessment:
    """Truncation 0.01·(24/m)², no probe part: 26 steps meet 0.01 (test_adaptive_growth)."""
    trunc = 0.01 * (24 / _steps(quad)) ** 2
    return Assessment(0.5, trunc, trunc, 0.0)


def test_memory_limit_stops_the_runs_and_the_answer_is_the_fixed_plan_it_reached() -> None:
    """60 rows for 4 runs: 4 × 8 = 32 rows, then growth to 13 steps (52 rows plus the 8-row
    copy a basis makes while it grows ≤ 60); 4 × 14 + 13 > 60, so it stops there."""
    op = _operator()
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=4, lockstep=2,
                        max_basis_rows=60)
    result = adaptive_slq(op, plan, _power_law, seed=5)
    assert result.stopped_by == "memory" and [s.steps for s in result.trail] == [8, 13]
    assert all(s.runs * s.steps <= 60 for s in result.trail)
    fixed = slq(op, 13, 4, 5, "h", lockstep=2)
    np.testing.assert_allclose(result.quadrature.nodes, fixed.nodes, rtol=1e-12, atol=1e-14)
    unlimited = adaptive_slq(op, AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=4,
                                              lockstep=2), _power_law, seed=5)
    assert unlimited.stopped_by == "tolerance" and unlimited.steps == 26


def test_first_stage_is_cut_to_the_memory_limit() -> None:
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=32, initial_runs=3, max_basis_rows=30)
    result = adaptive_slq(_operator(), plan, _power_law, seed=1)
    assert result.trail[0].runs == 3 and result.trail[0].steps == 10
    with pytest.raises(ValueError, match="max_basis_rows"):
        adaptive_slq(_operator(), AdaptivePlan(0.01, 100, 8, 3, max_basis_rows=0), _power_law)


def test_a_focus_frees_the_other_bases_and_the_first_run_grows_past_a_shared_limit() -> None:
    """Slow truncation 0.1·(16/m)^0.5 (0.01 out of reach), one run's probe part 0.004: after
    4 × 16 (64 of 80 rows) the first run goes on alone, its bases' rows freed, and grows
    to 48 steps (32 + 48 ≤ 80 while it copies) — beyond the 20 steps four runs could
    share — then stops at the memory limit."""
    op = _operator()

    def assess(quad) -> Assessment:
        trunc = 0.1 * (16 / _steps(quad)) ** 0.5
        statistical = 0.004 if quad.runs == 1 else 0.001
        return Assessment(0.5, trunc + statistical, trunc, statistical, 0.004)

    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=4, lockstep=2,
                        max_basis_rows=80)
    result = adaptive_slq(op, plan, assess, seed=5)
    assert result.stopped_by == "memory" and result.quadrature.runs == 1 and result.steps == 48
    np.testing.assert_allclose(result.quadrature.nodes, slq(op, 48, 1, 5, "h").nodes, rtol=1e-9, atol=1e-12)


def test_released_runs_keep_their_quadrature_but_cannot_grow() -> None:
    op = _operator()
    runs = LanczosRuns(op, torch.ones(2, 120, dtype=torch.float64), 10)
    runs.extend(10)
    before = runs.results()
    runs.release(1)
    assert runs.allocated == [10, 0]
    after = runs.results()
    np.testing.assert_array_equal(before[1].alpha, after[1].alpha)
    runs.extend(12, runs=1)  # the first run still grows
    assert runs.steps == [12, 10]
    with pytest.raises(RuntimeError, match="released"):
        runs.extend(14)
