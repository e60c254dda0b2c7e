"""A "rounding" stop leaves the budget unspent only where a remedy follows it.

Adaptive SLQ stopped as soon as the part no stage shrinks (``Assessment.fixed``, the
products' rounding) reached the tolerance, on the assumption that a float64 re-run would
follow; where none could (a --max-hvps without room for it, a float64 model), the steps and
probe parts stayed as wide as the first stages left them: a 147-weight classifier fitted
near zero loss stated ρ* = 59 % ± 16 pt after 192 of its 300 products, 0.6 pt of it
rounding. The runs now stop there at once only where ``AdaptivePlan.remedy`` says so;
else they aim the parts they shrink at the tolerance itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from prunelimit.curvature.operator import DenseOperator

FIXED = 0.02  # the part no stage shrinks, above the tolerance
TOLERANCE = 0.01


def _operator(dim: int = 120) -> DenseOperator:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return DenseOperator(torch.tensor((q * rng.lognormal(-2, 1.5, dim)) @ q.T))


def _assess(quad) -> Assessment:
    """A truncation part 0.32/m at m steps, no probe part, and ``FIXED``."""
    steps = int((quad.weights > 0).sum(axis=1).max())
    truncation = 0.32 / steps
    return Assessment(0.5, truncation + FIXED, truncation, 0.0, fixed=FIXED)


def _run(remedy=None):
    plan = AdaptivePlan(tolerance=TOLERANCE, max_products=5_000, initial_steps=8, initial_runs=2, remedy=remedy)
    return adaptive_slq(_operator(), plan, _assess, seed=0)


def test_without_a_remedy_the_runs_narrow_the_other_parts_to_the_tolerance() -> None:
    """Before: "rounding" after the first stage, its truncation part 0.04, four times the
    tolerance, with 4,984 products unspent. Now the truncation part is aimed at the
    tolerance (0.32/m ≤ 0.01 from 32 steps on) and the runs stop "rounding" there, far
    inside the budget; the ± is then within the tolerance of the fixed part. Exact
    arithmetic on the assessment's closed form."""
    for remedy in (None, lambda result: False):
        result = _run(remedy)
        assert result.stopped_by == "rounding"
        last = result.trail[-1]
        assert last.steps >= 32 and last.plus_minus - FIXED <= TOLERANCE
        assert math.isclose(last.plus_minus, 0.32 / last.steps + FIXED, rel_tol=1e-12)
        assert last.products < 5_000 / 10


def test_where_a_remedy_follows_the_runs_stop_at_once_and_leave_it_the_budget() -> None:
    """The remedy (the api's float64 re-run) is asked of the answer the stop would return:
    the first stage's, 2 runs × 8 steps, which it then starts from."""
    seen = []

    def remedy(result) -> bool:
        seen.append((result.stopped_by, result.quadrature.hvps, result.steps))
        return True

    result = _run(remedy)
    assert result.stopped_by == "rounding" and result.trail[-1].products == 2 * 8
    assert seen == [("rounding", 16, 8)]
