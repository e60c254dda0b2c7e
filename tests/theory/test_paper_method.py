"""The reference code's arithmetic (Zhang et al., NeurIPS 2024; docs/methods.md), checked by hand and against
a line-by-line transcription of the reference loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prunelimit.errors import NumericalError
from prunelimit.theory.limit import predict_limit
from prunelimit.theory.paper import code_density, code_gw, code_radii, paper_limit
from prunelimit.theory.profile import MagnitudeProfile

# Weights 0.5, -1 | 2, 3 in two tensors; one spectral node θ = 2 (one run); ε = 0.5, so 2ε = 1.
TENSORS = [torch.tensor([0.5, -1.0]), torch.tensor([2.0, 3.0])]
NODES, WEIGHTS, EPS = np.array([[2.0]]), np.array([[1.0]]), 0.5


def test_hand_checked_example():
    """Worked by hand:

    * density: grid = linspace(1.99, 2.01, 100000), var = 1e-10·max(1, 0.02) = 1e-10, so the
      density is a Gaussian of std 1e-5 centred on 2 and sampled every 2e-7; averaging
      f(t) = 1/(1 + t R²) over it gives f(2) up to f''·var/2 < 1e-12.
    * gw(R) = 1/(1 + 2R²): gw(0..4) = 1, 1/3, 1/9, 1/19, 1/33. The table runs to
      ⌊‖(0.5,1)‖ + ‖(2,3)‖⌋ = ⌊1.118 + 3.606⌋ = 4.
    * R on the ratio grid ρ_i = i/1000 (N = 4, n_p = max(1, ceil(4ρ))):
        i = 0..250:   n_p = 1, R = 0.5          -> round half to even -> 0, gw = 1
        i = 251..500: n_p = 2, R = √1.25 = 1.118 -> 1, gw = 1/3
        i = 501..750: n_p = 3, R = √5.25 = 2.291 -> 2, gw = 1/9
        i = 751..999: n_p = 4, R = √14.25 = 3.775 -> 4, gw = 1/33
    * |gw − ρ_i| is smallest at i = 333 (|1/3 − 0.333| = 3.3e-4) -> ρ̂ = 0.333.
    """
    p = paper_limit(TENSORS, NODES, WEIGHTS, EPS)
    # 1e-9: the smoothing error bound above (< 1e-12) with a wide margin.
    np.testing.assert_allclose(p.gw, [1, 1 / 3, 1 / 9, 1 / 19, 1 / 33], rtol=1e-9)
    assert p.ratio == 0.333 and p.density == pytest.approx(0.667)
    assert p.radius == pytest.approx(math.sqrt(1.25), rel=1e-15) and p.radius_index == 1
    np.testing.assert_allclose(p.radii[[0, 250, 251, 500, 501, 750, 751, 999]],
                               np.sqrt([0.25, 0.25, 1.25, 1.25, 5.25, 5.25, 14.25, 14.25]), rtol=1e-15)
    assert not p.table_clamped


def test_differs_from_continuous_root_where_rounding_matters():
    """Continuous root by hand: on ρ ∈ [1/4, 1/2], R² = 0.25 + (4ρ − 1)·1 = 4ρ − 0.75, so
    ρ = 1/(1 + 2R²) = 1/(8ρ − 0.5), i.e. 8ρ² − 0.5ρ − 1 = 0, ρ* = (0.5 + √32.25)/16 = 0.38618.
    The paper method looks gw up at round(√1.25) = 1 instead and lands on 0.333."""
    profile = MagnitudeProfile.from_tensors(TENSORS)
    exact = predict_limit(profile, NODES, WEIGHTS, 4, EPS)
    assert exact.ratio == pytest.approx((0.5 + math.sqrt(32.25)) / 16, rel=1e-12)
    assert exact.ratio - paper_limit(TENSORS, NODES, WEIGHTS, EPS).ratio > 0.05


def _reference_density(eigenvalues, weights, num_bins, sigma_squared, overhead=0.01):
    """density_plot.density_generate, transcribed loop for loop."""
    eigenvalues, weights = np.array(eigenvalues), np.array(weights)
    lambda_max = np.mean(np.max(eigenvalues, axis=1), axis=0) + overhead
    lambda_min = np.mean(np.min(eigenvalues, axis=1), axis=0) - overhead
    grids = np.linspace(lambda_min, lambda_max, num=num_bins)
    sigma = sigma_squared * max(1, (lambda_max - lambda_min))
    out = np.zeros((eigenvalues.shape[0], num_bins))
    for i in range(eigenvalues.shape[0]):
        for j in range(num_bins):
            g = np.exp(-(grids[j] - eigenvalues[i, :]) ** 2 / (2.0 * sigma)) / np.sqrt(2 * np.pi * sigma)
            out[i, j] = np.sum(g * weights[i, :])
    density = np.mean(out, axis=0)
    return density / (np.sum(density) * (grids[1] - grids[0])), grids


def _reference_gw(density, grids, R, ep):
    """cal_rate.cal_gw after the zero-density filter (z = 0 bin of mass 0 appended)."""
    dens = [d for d in density if d > 0] + [0.0]
    grid = [g for d, g in zip(density, grids) if d > 0] + [1e-30]
    total = 0.0
    for d, g in zip(dens, grid):
        radius_2 = 2 * ep / abs(g)
        total += d * radius_2 / (R**2 + radius_2)
    return total / sum(dens)


def test_matches_transcribed_reference_loops():
    rng = np.random.default_rng(0)
    nodes = np.sort(rng.normal(size=(2, 6)) * 3.0, axis=1)
    weights = rng.random((2, 6))
    weights /= weights.sum(axis=1, keepdims=True)
    bins, sig2 = 3000, 1e-3  # small grid, wide kernel: fast and every bin populated
    grid, density = code_density(nodes, weights, bins, sig2)
    ref_density, ref_grid = _reference_density(nodes, weights, bins, sig2)
    np.testing.assert_array_equal(grid, ref_grid)
    # same terms, different summation order -> 1e-12 relative on populated bins
    np.testing.assert_allclose(density, ref_density, rtol=1e-12, atol=1e-300)
    gw = code_gw(grid, density, 6, 0.02)
    np.testing.assert_allclose(gw, [_reference_gw(ref_density, ref_grid, r, 0.02) for r in range(6)], rtol=1e-12)


def test_code_ratio_grid_quirks():
    # ties at the threshold are pruned: for (1, 1, 1, 2) at ρ = 0, 1/4, 2/4, 3/4,
    # n_p = 1, 1, 2, 3 but τ = 1 every time, so all three 1s go and R = √3 throughout
    _, radii = code_radii([np.array([1.0, 1.0, 1.0, 2.0])], levels=4)
    np.testing.assert_allclose(radii, np.full(4, math.sqrt(3)), rtol=1e-15)
    # n_p = ceil(ρN) with no tolerance: 0.07·100 = 7.000000000000001 -> 8 weights, where
    # SPEC's MP (MagnitudeProfile) removes 7
    w = np.arange(1, 101, dtype=np.float64)
    _, radii = code_radii([w])
    assert radii[70] == pytest.approx(math.sqrt(sum(k * k for k in range(1, 9))), rel=1e-15)
    assert MagnitudeProfile.from_tensors([torch.from_numpy(w)]).radius(0.07) == pytest.approx(
        math.sqrt(sum(k * k for k in range(1, 8))), rel=1e-15
    )


def test_code_edge_cases():
    # a grid point at exactly 0: the term takes its limit 1 (the code would give NaN)
    np.testing.assert_allclose(code_gw(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 3, 0.5),
                               [1.0, 0.75, 0.6], rtol=1e-15)
    # zero fraction z: one extra bin of mass z/(1−z)·Σp at λ = 1e-30 -> gw = z + (1−z)·gw₀
    base = code_gw(np.array([1.0, 2.0]), np.array([1.0, 3.0]), 4, 0.5)
    np.testing.assert_allclose(code_gw(np.array([1.0, 2.0]), np.array([1.0, 3.0]), 4, 0.5, 0.2),
                               0.2 + 0.8 * base, rtol=1e-14)
    # one tensor: ‖w‖ = 3.775 rounds to 4 past the table 0..3 -> last entry used, flagged
    assert paper_limit([torch.tensor([0.5, 1.0, 2.0, 3.0])], NODES, WEIGHTS, EPS).table_clamped
    # a kernel far narrower than the grid step: the density underflows to zero everywhere
    with pytest.raises(NumericalError):
        code_density(np.array([[0.0, 0.5, 1.0]]), np.full((1, 3), 1 / 3), bins=8, sigma_squared=1e-30)


@pytest.mark.parametrize("zeros", [1000, 900])
def test_paper_lower_bound_is_never_below_the_share_of_exact_zeros(zeros):
    """As for the default method (test_limit_root): removing only exact zeros leaves the loss
    unchanged, so ρ_L is raised to the last grid ratio whose pruned weights are all zero;
    all zero gives ρ_L = ρ̂ = ρ_U = 0.999, the grid's end."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=1000) * 0.05
    w[rng.permutation(1000)[:zeros]] = 0.0
    tensors = [torch.from_numpy(w[:400]), torch.from_numpy(w[400:])]
    nodes, weights = rng.gamma(0.5, 2.0, size=(1, 40)), np.full((1, 40), 1 / 40)
    p = paper_limit(tensors, nodes, weights, 1e-3, bound_mode="akf", dim=400)  # a_η/√D ≈ 0.35
    floor = int(np.count_nonzero(p.radii == 0.0)) - 1  # the last grid index removing only zeros
    assert floor >= min(zeros, 999) - 1  # the code's ceil(ρ_i·N) in float64 may take one more
    assert p.margin > 0.3 and p.lower == floor / 1000 and p.lower <= p.ratio <= p.upper
    if zeros == 1000:
        assert (p.lower, p.ratio, p.upper) == (0.999, 0.999, 0.999)
    q = paper_limit([torch.from_numpy(rng.normal(size=1000))], nodes, weights, 1e-3, bound_mode="akf", dim=400)
    shifted = q.gw[np.rint(q.radii).astype(int)] - q.margin
    assert q.radii[0] > 0 and q.lower == np.argmin(np.abs(shifted - q.ratios)) / 1000  # no zeros: the AKF shift alone
