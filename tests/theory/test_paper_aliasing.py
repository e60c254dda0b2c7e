"""The reference density's third source of error: a kernel narrower than the grid step
aliases node weights onto grid points. Measured, and zero where the kernel is resolved."""

from __future__ import annotations

import numpy as np
import pytest

from prunelimit.theory.paper import code_density, paper_limit, smoothed_density


def _spectrum(low: float, high: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    nodes = np.sort(rng.uniform(low, high, size=(2, 40)), axis=1)
    nodes[:, 0], nodes[:, -1] = low, high  # both runs inside the grid, whose ends are the mean extremes ± 0.01
    return nodes, rng.dirichlet(np.ones(40), size=2)


def test_wide_spectrum_aliases_node_weights():
    """Range ≈ 200: kernel std 1e-5·√200 ≈ 1.4e-4 against a step of 200/99,999 ≈ 2e-3, so a
    node midway between grid points is ~7 std from both and keeps almost nothing, while one
    on a grid point keeps step/(√(2π)·std) ≈ 5.6× its weight."""
    nodes, weights = _spectrum(0.0, 200.0)
    _, _, a = smoothed_density(nodes, weights)
    assert a.aliased and a.kernel_std == pytest.approx(1e-5 * np.sqrt(a.grid_step * 99_999), rel=1e-12)
    assert a.kernel_std / a.grid_step < 0.1
    assert a.mass_min < 0.5 and a.mass_max > 1.5 and a.moved > 0.1
    assert paper_limit([np.linspace(-1, 1, 50)], nodes, weights, 0.1).aliasing == a


def test_resolved_kernel_keeps_every_weight():
    """Range 0.6 (< 1): std 1e-5 against a step of 6e-6; each node's sampled Gaussian sums
    to 1 up to the Riemann-sum error, far below 1e-6 at 1.7 samples per std."""
    nodes, weights = _spectrum(0.2, 0.8)
    _, _, a = smoothed_density(nodes, weights)
    assert not a.aliased
    assert abs(a.mass_min - 1) < 1e-6 and abs(a.mass_max - 1) < 1e-6 and a.moved < 1e-6


def test_nodes_beyond_the_grid_count_as_lost():
    """The grid spans the runs' *mean* extremes ± 0.01: a run whose smallest node lies
    further out loses that node's weight, which the measure reports as well."""
    nodes, weights = _spectrum(0.2, 0.8)
    nodes[0, 0] = 0.1
    _, _, a = smoothed_density(nodes, weights)
    assert a.mass_min < 1e-6 and a.moved >= weights[0, 0] / 2 - 1e-9


def test_density_itself_is_unchanged():
    nodes, weights = _spectrum(0.0, 50.0, seed=1)
    grid, density = code_density(nodes, weights)
    grid2, density2, _ = smoothed_density(nodes, weights)
    assert np.array_equal(grid, grid2) and np.array_equal(density, density2)
