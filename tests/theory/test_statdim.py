"""F(R) = mean_runs Σ_k τ_k 2ε/(2ε + |θ_k| R²) and its options (docs/theory.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prunelimit.errors import NumericalError, UsageError
from prunelimit.theory.statdim import stat_dim_fraction, stat_dim_fraction_per_run


def _quadrature(runs: int = 3, m: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    nodes = rng.normal(size=(runs, m)) * np.logspace(-4, 2, m)
    weights = rng.random((runs, m))
    return nodes, weights / weights.sum(axis=1, keepdims=True)


def test_hand_value():
    # nodes 1 and 3 with weight 1/2 each, 2ε = 1, R = 1:  ½·1/2 + ½·1/4 = 0.375 (exact in binary)
    assert stat_dim_fraction([1.0, 3.0], [0.5, 0.5], 1.0, 0.5) == 0.375
    # tangent geometry: ½·min(1, 1/1) + ½·min(1, 1/3) = 2/3
    assert stat_dim_fraction([1.0, 3.0], [0.5, 0.5], 1.0, 0.5, geometry="tangent") == pytest.approx(2 / 3, rel=1e-15)


def test_f_is_one_at_zero_and_decreasing():
    nodes, weights = _quadrature()
    for geometry in ("disc", "tangent"):
        assert stat_dim_fraction(nodes, weights, 0.0, 0.1, geometry=geometry) == pytest.approx(1.0, abs=1e-15)
    radii = np.linspace(0.0, 50.0, 501)
    f = stat_dim_fraction(nodes, weights, radii, 0.1)
    assert f.shape == radii.shape
    assert np.all(np.diff(f) < 0)  # every node is non-zero -> strictly decreasing
    assert f[-1] > 0


def test_vectorised_matches_scalar_and_brute_force():
    nodes, weights = _quadrature()
    radii = np.array([0.0, 0.3, 2.0, 7.5])
    per_run = stat_dim_fraction_per_run(nodes, weights, radii, 0.05)
    assert per_run.shape == (3, 4)
    for j, r in enumerate(radii):
        for i in range(3):
            brute = math.fsum(t * 0.1 / (0.1 + abs(l) * r * r) for l, t in zip(nodes[i], weights[i]))
            # same formula, different summation order -> 1e-14 relative
            assert per_run[i, j] == pytest.approx(brute, rel=1e-14)
        assert stat_dim_fraction(nodes, weights, r, 0.05) == pytest.approx(per_run[:, j].mean(), rel=1e-14)


def test_tangent_dominates_disc_and_flat_dominates_abs():
    nodes, weights = _quadrature()
    radii = np.linspace(0.0, 20.0, 41)
    disc = stat_dim_fraction(nodes, weights, radii, 0.1)
    assert np.all(stat_dim_fraction(nodes, weights, radii, 0.1, geometry="tangent") >= disc)
    flat = stat_dim_fraction(nodes, weights, radii, 0.1, negative="flat")
    assert np.all(flat >= disc)
    # flat = abs on the positive nodes plus the negative nodes' full weight
    neg = (weights * (nodes < 0)).sum(axis=1).mean()
    pos_only = stat_dim_fraction(np.where(nodes < 0, 0.0, nodes), weights, radii, 0.1)
    np.testing.assert_allclose(flat, pos_only, rtol=1e-15)
    assert flat[-1] > neg


def test_zero_fraction_mixture():
    nodes, weights = _quadrature()
    base = stat_dim_fraction(nodes, weights, 3.0, 0.1)
    assert stat_dim_fraction(nodes, weights, 3.0, 0.1, zero_fraction=0.25) == pytest.approx(
        0.25 + 0.75 * base, rel=1e-15
    )


def test_bad_inputs():
    nodes, weights = _quadrature()
    with pytest.raises(UsageError):
        stat_dim_fraction(np.abs(nodes), weights, 1.0, 0.1, negative="flat", signed=False)
    with pytest.raises(UsageError):
        stat_dim_fraction(nodes, weights, 1.0, 0.0)
    with pytest.raises(UsageError):
        stat_dim_fraction(nodes, weights[:, :-1], 1.0, 0.1)
    with pytest.raises(NumericalError):
        stat_dim_fraction(nodes, 2 * weights, 1.0, 0.1)
    with pytest.raises(NumericalError):
        stat_dim_fraction(np.where(nodes > 0, np.nan, nodes), weights, 1.0, 0.1)
