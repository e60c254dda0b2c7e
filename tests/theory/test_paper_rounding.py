"""The paper method's ± covers its own arithmetic's rounding (``theory.paper.rounding_reach``):
its answer is a grid point of ``gw`` looked up at integer R of whole weights, so the
grid part of its ± reaches as far as those roundings can move it from the continuous
root of the same spectrum, not only half a step of the 1/1000 grid."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.theory.limit import predict_limit
from prunelimit.theory.paper import paper_limit
from prunelimit.theory.profile import MagnitudeProfile

TENSORS = [torch.tensor([0.5, -1.0]), torch.tensor([2.0, 3.0])]
NODES, WEIGHTS, EPS = np.array([[2.0]]), np.array([[1.0]]), 0.5


def test_the_hand_checked_example_is_within_its_rounding() -> None:
    """tests/theory/test_paper_method.py works it by hand: the paper answers 0.333, the
    continuous root is 0.38618. gw at ⌊R⌋ of the ⌊4ρ⌋ smallest weights (1 below ρ = 1/2,
    then 1/3) has its grid root at the jump, 0.500 (|1/3 − 0.5| < |1 − 0.499|), gw at ⌈R_i⌉
    (1/3 up to ρ = 1/4, then 1/9) at 0.250: the reach is max(0.167, 0.083) + half a step =
    0.1675 (before: 0.0005 whatever the gap)."""
    p = paper_limit(TENSORS, NODES, WEIGHTS, EPS)
    exact = predict_limit(MagnitudeProfile.from_tensors(TENSORS), NODES, WEIGHTS, 4, EPS)
    assert p.rounding == pytest.approx(0.1675, abs=1e-12)
    assert abs(p.ratio - exact.ratio) <= p.rounding


def test_many_weights_far_from_integer_r_cost_half_a_step() -> None:
    """R large and 10,000 weights: the roundings move nothing, half a grid step is left."""
    tensors = [torch.linspace(1.0, 2.0, 10_000)]
    p = paper_limit(tensors, np.array([[1e-3]]), np.array([[1.0]]), 1e-2)
    exact = predict_limit(MagnitudeProfile.from_tensors(tensors), np.array([[1e-3]]), np.array([[1.0]]), 1, 1e-2)
    assert abs(p.ratio - exact.ratio) <= p.rounding <= 0.0025


def test_a_17_parameter_model_states_a_paper_plus_minus_covering_its_gap(mlp17) -> None:
    """D = 17 (12 prunable weights, R about 1): before, ± 0.0005 of grid while the paper's
    answer lay 0.026 from the continuous ρ* of its own spectrum."""
    model, (x, y) = mlp17
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = prunelimit.bounds(model, (x, y), method="paper")
    assert abs(r.ratio - r.prediction.ratio) <= r.uncertainty.grid
    assert math.isclose(r.uncertainty.grid, r.paper.rounding)
