"""ρ* = root of F(R(ρ)) = ρ, its bounds, per-run spread and the Jensen check (docs/theory.md)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from prunelimit.data.batches import mse_loss
from prunelimit.errors import UsageError
from prunelimit.theory.epsilon import batch_losses, epsilon_from_losses
from prunelimit.theory.limit import (
    a_eta,
    abs_trace,
    jensen_bound,
    jensen_ratio,
    predict_from_quadrature,
    predict_limit,
)
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.statdim import stat_dim_fraction


def _brute_f(eigs, radius, eps):
    """F written out: (1/D) Σ 2ε/(2ε + |λ|R²), exactly summed."""
    return math.fsum(2 * eps / (2 * eps + abs(l) * radius * radius) for l in eigs) / len(eigs)


def _brute_limit(eigs, w, eps):
    """Independent ρ*: scan the knots k/N of the piecewise-linear R², then bisect in the
    bracketing segment (no brentq, no MagnitudeProfile)."""
    sq = np.sort(np.asarray(w, dtype=np.float64) ** 2)
    c = [0.0]
    for v in sq:
        c.append(c[-1] + v)
    n = len(sq)
    g = [_brute_f(eigs, math.sqrt(c[k]), eps) - k / n for k in range(n + 1)]
    k = next(k for k in range(n) if g[k] > 0 >= g[k + 1])
    lo, hi = 0.0, 1.0
    for _ in range(200):
        t = 0.5 * (lo + hi)
        rho = (k + t) / n
        if _brute_f(eigs, math.sqrt(c[k] + t * (c[k + 1] - c[k])), eps) - rho > 0:
            lo = t
        else:
            hi = t
    return (k + 0.5 * (lo + hi)) / n


@pytest.fixture(scope="module")
def least_squares():
    """Linear model y = Xw, loss mean((Xw − y)²): Hessian 2XᵀX/n exactly; w* = lstsq."""
    g = torch.Generator().manual_seed(0)
    n, d = 200, 12
    scales = torch.logspace(-2, 0.5, d, dtype=torch.float64)  # spread-out spectrum
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * scales
    y = x @ torch.randn(d, 1, generator=g, dtype=torch.float64) + 0.5 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    w_star = torch.linalg.lstsq(x, y).solution.T
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(w_star)
    batches = [(x[i : i + 20], y[i : i + 20]) for i in range(0, n, 20)]
    hessian = (2.0 * x.T @ x / n).numpy()
    return SimpleNamespace(model=model, batches=batches, x=x, y=y, hessian=hessian, d=d)


def test_least_squares_hessian_is_closed_form(least_squares):
    ls = least_squares
    w = ls.model.weight.detach().clone().reshape(-1)
    h = torch.autograd.functional.hessian(lambda v: ((ls.x @ v - ls.y[:, 0]) ** 2).mean(), w)
    # float64 autograd vs closed form: rounding only -> 1e-12 absolute
    np.testing.assert_allclose(h.numpy(), ls.hessian, atol=1e-12)


def test_least_squares_f_and_limit_match_brute_force(least_squares):
    ls = least_squares
    eigs = np.linalg.eigvalsh(ls.hessian)
    eps = epsilon_from_losses(batch_losses(ls.model, ls.batches, mse_loss))
    nodes, weights = eigs[None, :], np.full((1, ls.d), 1.0 / ls.d)
    profile = MagnitudeProfile.from_tensors([ls.model.weight])
    w = ls.model.weight.detach().numpy().reshape(-1)
    # The target is 1e-6 relative; both sides are exact formulas, so they agree far closer.
    for r in np.linspace(0.0, 2.0 * float(np.linalg.norm(w)), 25):
        assert stat_dim_fraction(nodes, weights, r, eps) == pytest.approx(_brute_f(eigs, r, eps), rel=1e-12)
    pred = predict_limit(profile, nodes, weights, ls.d, eps)
    oracle = _brute_limit(eigs, w, eps)
    assert 0.0 < oracle < 1.0
    assert pred.ratio == pytest.approx(oracle, rel=1e-9)
    assert pred.density == pytest.approx(1.0 - oracle, rel=1e-9)
    assert pred.radius == pytest.approx(profile.radius_continuous(pred.ratio), rel=1e-15)


def test_bounds_bracket_and_shrink_with_dimension():
    rng = np.random.default_rng(3)
    profile = MagnitudeProfile.from_tensors([torch.from_numpy(rng.normal(size=5000) * 0.05)])
    nodes = rng.normal(size=(2, 30)) * np.logspace(-3, 1, 30)
    weights = rng.random((2, 30))
    weights /= weights.sum(axis=1, keepdims=True)
    widths = []
    for dim in (10**3, 10**4, 10**5, 10**6, 10**8):
        p = predict_limit(profile, nodes, weights, dim, 1e-3)
        assert p.margin == pytest.approx(a_eta(0.01) / math.sqrt(dim), rel=1e-15)
        assert p.lower < p.ratio < p.upper
        assert not (p.lower_clipped or p.upper_clipped)
        widths.append(p.upper - p.lower)
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert widths[-1] < 1e-3
    assert a_eta(0.01) == pytest.approx(6.923, abs=5e-4)  # a_η = sqrt(8 ln(4/η)), docs/theory.md


def test_geometric_bounds_and_clipping():
    rng = np.random.default_rng(4)
    profile = MagnitudeProfile.from_tensors([torch.from_numpy(rng.normal(size=2000) * 0.05)])
    nodes, weights = rng.gamma(0.5, 2.0, size=(1, 40)), np.full((1, 40), 1 / 40)
    p = predict_limit(profile, nodes, weights, 10**6, 1e-3, bound_mode="geom")
    assert p.lower == p.ratio and p.upper > p.ratio and p.margin == 0.0
    none = predict_limit(profile, nodes, weights, 10**6, 1e-3, bound_mode="none")
    assert none.lower is None and none.upper is None and none.ratio == p.ratio
    # D = 40: a_η/√D > 1, so nothing is guaranteed feasible and nothing shown infeasible.
    tiny = predict_limit(profile, nodes, weights, 40, 1e-3)
    assert (tiny.lower, tiny.upper) == (0.0, 1.0)
    assert tiny.lower_clipped and tiny.upper_clipped and len(tiny.notes) == 2
    with pytest.raises(UsageError):
        predict_limit(profile, nodes, weights, 10, 1e-3, bound_mode="akf2")
    with pytest.raises(UsageError):
        predict_limit(profile, nodes, weights, 10, 1e-3, eta=1.5)


@pytest.mark.parametrize("zeros", [1200, 700])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_lower_bound_is_never_below_the_share_of_exact_zeros(zeros, scope):
    """Removing only exact zeros leaves w and the loss unchanged: feasible for certain, so
    ρ_L ≥ their share, whatever a_η/√D; all zero gives ρ_L = ρ* = ρ_U = 1."""
    from prunelimit.theory.profile import path_profile

    rng = np.random.default_rng(5)
    w = rng.normal(size=1200) * 0.05
    w[rng.permutation(1200)[:zeros]] = 0.0
    profile = path_profile([torch.from_numpy(w[:500]), torch.from_numpy(w[500:])], scope)
    nodes, weights = rng.gamma(0.5, 2.0, size=(1, 40)), np.full((1, 40), 1 / 40)
    p = predict_limit(profile, nodes, weights, 40, 1e-3)  # a_η/√D > 1: the AKF alone gives ρ_L = 0
    share = min(np.mean(w[:500] == 0), np.mean(w[500:] == 0)) if scope == "layer" else zeros / 1200
    assert profile.zero_ratio == pytest.approx(share, abs=1e-15)
    assert p.lower >= share and p.lower <= p.ratio <= p.upper and not p.lower_clipped
    if zeros == 1200:
        assert (p.lower, p.ratio, p.upper) == (1.0, 1.0, 1.0)


def test_per_run_spread():
    rng = np.random.default_rng(5)
    profile = MagnitudeProfile.from_tensors([torch.from_numpy(rng.normal(size=3000) * 0.05)])
    one = rng.gamma(0.5, 2.0, size=25)
    tau = rng.random(25)
    tau /= tau.sum()
    same = predict_limit(profile, np.tile(one, (4, 1)), np.tile(tau, (4, 1)), 10**6, 1e-3)
    assert same.spread == 0.0
    assert np.all(same.per_run_ratios == same.ratio)
    nodes = one * rng.uniform(0.5, 2.0, size=(4, 25))
    diff = predict_limit(profile, nodes, np.tile(tau, (4, 1)), 10**6, 1e-3)
    alone = [predict_limit(profile, nodes[i], tau, 10**6, 1e-3).ratio for i in range(4)]
    np.testing.assert_allclose(diff.per_run_ratios, alone, rtol=1e-14)
    assert diff.spread == pytest.approx(float(np.std(alone)), rel=1e-12) and diff.spread > 0


def test_duck_typed_quadrature_and_unsigned_flat():
    rng = np.random.default_rng(6)
    profile = MagnitudeProfile.from_tensors([torch.from_numpy(rng.normal(size=500))])
    q = SimpleNamespace(nodes=np.abs(rng.normal(size=(1, 8))), weights=np.full((1, 8), 1 / 8), dim=600, signed=False)
    assert predict_from_quadrature(profile, q, 0.01).ratio == predict_limit(profile, q.nodes, q.weights, 600, 0.01).ratio
    with pytest.raises(UsageError):
        predict_from_quadrature(profile, q, 0.01, negative="flat")


def test_jensen_bound_and_zero_fraction(least_squares):
    ls = least_squares
    eigs = np.linalg.eigvalsh(ls.hessian)
    nodes, weights = eigs[None, :], np.full((1, ls.d), 1.0 / ls.d)
    eps = 0.05
    trace = abs_trace(nodes, weights, ls.d)
    assert trace == pytest.approx(float(np.trace(ls.hessian)), rel=1e-12)  # PSD: Tr|H| = Tr H
    radii = np.linspace(0.0, 10.0, 101)
    assert np.all(stat_dim_fraction(nodes, weights, radii, eps) >= jensen_bound(trace, ls.d, radii, eps) - 1e-15)
    profile = MagnitudeProfile.from_tensors([ls.model.weight])
    pred = predict_limit(profile, nodes, weights, ls.d, eps)
    assert jensen_ratio(profile, trace, ls.d, eps) <= pred.ratio
    mixed = predict_limit(profile, nodes, weights, ls.d, eps, zero_fraction=0.3)
    assert mixed.ratio > pred.ratio
    r = profile.radius_continuous(mixed.ratio)
    assert 0.3 + 0.7 * _brute_f(eigs, r, eps) == pytest.approx(mixed.ratio, abs=1e-12)


# Ranges bound the slope of g(ρ) = F(R(ρ)) − ρ: |dR²/dρ| ≤ N·max w² ≤ 50 and
# |dF/dR²| ≤ max|λ|/(2ε) ≤ 500, so a root located to float64 resolution in ρ (~1e-16)
# leaves |g| ≲ 2.5e4·1e-15 — well inside the 1e-9 asserted.
@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    w=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=50),
    runs=st.integers(1, 3),
    m=st.integers(1, 8),
    eps=st.floats(0.01, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_root_satisfies_fixed_point(w, runs, m, eps, seed):
    rng = np.random.default_rng(seed)
    nodes = rng.uniform(-10.0, 10.0, size=(runs, m))
    weights = rng.uniform(0.01, 1.0, size=(runs, m))
    weights /= weights.sum(axis=1, keepdims=True)
    profile = MagnitudeProfile.from_tensors([torch.tensor(w, dtype=torch.float64)])
    pred = predict_limit(profile, nodes, weights, 10**6, eps)
    rho = pred.ratio
    assert 0.0 <= rho <= 1.0
    assert abs(stat_dim_fraction(nodes, weights, profile.radius_continuous(rho), eps) - rho) < 1e-9
    assert pred.lower <= rho <= pred.upper
