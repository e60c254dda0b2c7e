"""The one-probe Hutchinson bound on ρ*'s probe noise (``theory.uncertainty.hutchinson_bound``).

Oracle: the same kind of matrices as ``test_uncertainty`` (a trained network's spectral
shape, rotated by a random orthogonal Q so probes have variance), Lanczos through the
whole space so each run is exact and only Hutchinson noise is left.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq
from prunelimit.theory.limit import predict_limit
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.uncertainty import (
    Uncertainty,
    coverage_factor,
    hutchinson_bound,
    initial_runs,
    jackknife_stderr,
    normal_factor,
    ratio_uncertainty,
)

EPSILON = 0.01


def _problem(dim: int, seed: int):
    rng = np.random.default_rng(seed)
    tail = dim - dim // 2
    lam = np.concatenate([rng.normal(0, 1e-3, dim // 2), rng.lognormal(-2, 1.5, tail) * rng.choice([1, 1, 1, -1], tail)])
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    profile = MagnitudeProfile.from_tensors([torch.tensor(rng.laplace(0, 0.05, dim))])
    exact = predict_limit(profile, lam[None], np.full((1, dim), 1 / dim), dim, EPSILON, bound_mode="none")
    return DenseOperator(torch.tensor((q * lam) @ q.T)), lam, profile, exact


def test_variance_bound_holds_for_the_quadratic_form_at_the_root() -> None:
    """``Var(zᵀAz)/D² ≤ 2F/D`` for ``A = f(H)``, f ∈ [0, 1]: checked on the exact
    variance ``2(‖A‖_F² − Σ A_ii²)/D²`` at the exact root's radius (no sampling)."""
    dim = 200
    op, lam, _, exact = _problem(dim, 5)
    radius = exact.radius
    f = 2 * EPSILON / (2 * EPSILON + np.abs(lam) * radius**2)
    h = op.matmat(torch.eye(dim, dtype=torch.float64)).numpy()
    w, v = np.linalg.eigh(h)
    a = (v * (2 * EPSILON / (2 * EPSILON + np.abs(w) * radius**2))) @ v.T
    variance = 2 * (np.sum(a**2) - np.sum(np.diag(a) ** 2)) / dim**2
    assert f.mean() == pytest.approx(exact.ratio, abs=1e-9)  # F = ρ* at the root
    assert 0 < variance <= hutchinson_bound(exact.ratio, dim, 1) ** 2


def test_one_probe_bound_covers_the_truth_at_its_stated_rate() -> None:
    """One exact run per seed: ``1.96·bound`` must cover the exact ρ* in at least 95 % of
    300 seeds. The bound is an upper bound on σ (here about twice it), so the rate is
    well above 95 %; 95 % is the claim (binomial s.d. 1.3 pt over 300 draws)."""
    dim = 160
    op, _, profile, exact = _problem(dim, 1)
    hits = 0
    for seed in range(300):
        quad = slq(op, dim, 1, seed, "h")
        ratio = predict_limit(profile, quad.nodes, quad.weights, dim, EPSILON, bound_mode="none").ratio
        u = ratio_uncertainty(profile, quad, EPSILON, ratio)
        assert u.probes_kind == "bound" and u.steps == pytest.approx(0.0, abs=1e-12)
        assert u.statistical == pytest.approx(normal_factor() * hutchinson_bound(ratio, dim, 1))
        hits += abs(ratio - exact.ratio) <= u.plus_minus
    assert hits / 300 >= 0.95


def test_the_tighter_of_jackknife_and_bound_is_stated() -> None:
    """With several runs the jackknife·t and the bound·1.96 are both computed; the stated
    statistical part is the smaller."""
    dim = 160
    op, _, profile, _ = _problem(dim, 2)
    quad = slq(op, dim, 4, 0, "h")
    ratio = predict_limit(profile, quad.nodes, quad.weights, dim, EPSILON, bound_mode="none").ratio
    u = ratio_uncertainty(profile, quad, EPSILON, ratio)
    jackknife = coverage_factor(4) * jackknife_stderr(profile, np.abs(quad.nodes), quad.weights, EPSILON)
    bound = normal_factor() * hutchinson_bound(ratio, dim, 4)
    assert 0 < jackknife != pytest.approx(bound)
    assert u.statistical == pytest.approx(min(jackknife, bound), rel=1e-12)
    assert u.probes_kind == ("jackknife" if jackknife < bound else "bound")


def test_bound_scales_as_one_over_root_kd() -> None:
    assert hutchinson_bound(0.5, 10_000, 1) == pytest.approx(0.01)
    assert hutchinson_bound(0.5, 10_000, 4) == pytest.approx(0.005)
    assert Uncertainty(0.004, 0.001, None, 1, probes_kind="bound").plus_minus == pytest.approx(
        0.001 + 1.959964 * 0.004, rel=1e-6)


def test_large_models_start_with_one_run() -> None:
    """One run once 1.96·√(2/D) ≤ tolerance/2: D ≥ 2·(1.96/0.005)² ≈ 307,000 at 0.01."""
    threshold = math.ceil(2 * (normal_factor() / 0.005) ** 2)
    assert initial_runs(threshold, 0.01, 3) == 1
    assert initial_runs(threshold - 1, 0.01, 3) == 3
    assert initial_runs(11_000_000, 0.002, 3) == 1  # a ResNet-18 at a tight tolerance
