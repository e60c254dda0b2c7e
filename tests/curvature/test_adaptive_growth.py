"""Predicted step growth of adaptive SLQ (``curvature.adaptive.predicted_steps``): a
truncation part that falls as a power law is met in one extension, not a doubling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.curvature.adaptive import MIN_GROWTH, TARGET_SHARE, AdaptivePlan, Assessment, adaptive_slq, \
    predicted_steps
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq


def _operator(dim: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    lam = rng.lognormal(-2, 1.5, dim)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    h = torch.tensor((q * lam) @ q.T)
    return DenseOperator(h)


def _power_law(scale: float, rate: float):
    """Truncation part ``0.01 · (scale / m)^rate`` after m steps, no probe part."""
    def assess(quad) -> Assessment:
        steps = int((quad.weights > 0).sum(axis=1).max())
        trunc = 0.01 * (scale / steps) ** rate
        return Assessment(0.5, trunc, trunc, 0.0)

    return assess


def test_power_law_is_met_in_one_predicted_extension_equal_to_the_fixed_plan() -> None:
    """0.01·(24/m)²: 0.09 at 8, 0.0225 at 16; the law through them asks for
    16·(0.0225 / (0.9·0.01))^(1/2) = 25.3 → 26 steps, where it is 0.0085 ≤ 0.01."""
    op = _operator()
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=4, lockstep=2)
    result = adaptive_slq(op, plan, _power_law(24, 2), seed=5)
    assert [s.steps for s in result.trail] == [8, 16, 26] and result.stopped_by == "tolerance"
    fixed = slq(op, 26, 4, 5, "h", lockstep=2)
    np.testing.assert_allclose(result.quadrature.nodes, fixed.nodes, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.quadrature.weights, fixed.weights, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("history, allowed, expected", [
    ([(32, 0.05)], 0.01, 64),                      # one point: no rate yet, double
    ([(32, 0.05), (64, 0.02)], 0.01, 118),         # rate log2(2.5) = 1.32: 64·(0.02/0.009)^(1/1.32) = 117.2
    ([(32, 0.05), (64, 0.012)], 0.01, 80),         # the law asks for 74: a step grows by MIN_GROWTH at least
    ([(32, 0.05), (64, 0.049)], 0.01, 128),        # stalled: at most a doubling
    ([(32, 0.05), (64, 0.06)], 0.01, 128),         # not shrinking: double
    ([(32, 0.05), (64, 0.02)], -0.001, 128),       # the statistical part alone exceeds the tolerance
])
def test_predicted_steps(history, allowed, expected) -> None:
    assert predicted_steps(history, allowed) == expected
    assert MIN_GROWTH * history[-1][0] <= predicted_steps(history, allowed) <= 2 * history[-1][0]
    assert TARGET_SHARE < 1
