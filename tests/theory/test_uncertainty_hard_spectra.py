"""ρ* ± its uncertainty on spectra shaped unlike ``test_uncertainty.py``'s: an indefinite
bulk of exact zeros and small eigenvalues of both signs under a few stiff directions (a
plainly trained MLP, docs/benchmarks.md §5: half the mass at 0, λmax far above the bulk,
ρ* deep in the bulk), ρ* at the clipping edges 0 and 1, ``--negative flat``, and models
small enough for Lanczos to exhaust the space.

Oracle: ``Q diag(λ) Qᵀ`` in a random orthonormal basis (on a diagonal matrix Rademacher
probes have no variance at all), the exact ρ* solved from λ itself. Each coverage test
runs a fixed plan over 100 seeds: a 95 % rate has a binomial s.d. of 2.2 pt there, and
0.89 is its 99 % lower limit (95 − 2.58 × 2.2), so a pass rules out a rate clearly below
the stated one without flaking on a fair one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.api.curvature import LimitTarget, slq_uncertainty
from prunelimit.api.options import CurvatureOptions
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq
from prunelimit.theory.limit import predict_from_quadrature, predict_limit
from prunelimit.theory.profile import MagnitudeProfile

SEEDS, LOWEST = 100, 0.89  # the 99 % binomial lower limit of a 95 % rate over 100 seeds (module doc)


def _mlp_like(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Half the eigenvalues within 1e-9 of 0, 44 % in ±1.6e-3 (40 % of them negative), the
    rest log-uniform up to λmax = 1.37: the mnist1d MLP's shape (docs/benchmarks.md §5)."""
    zeros, bulk = dim // 2, int(0.44 * dim)
    tail = dim - zeros - bulk
    signs = np.where(rng.random(bulk) < 0.4, -1.0, 1.0)
    stiff = np.exp(rng.uniform(np.log(2e-3), np.log(1.37), tail))
    stiff[0] = 1.37
    return np.concatenate([rng.normal(0, 1e-9, zeros), rng.uniform(0, 1.6e-3, bulk) * signs, stiff])


def _problem(lam: np.ndarray, epsilon: float, negative: str = "abs", seed: int = 0):
    """``(operator, limit target, exact ρ*)`` of the spectrum ``lam`` in a random basis."""
    dim = len(lam)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    profile = MagnitudeProfile.from_tensors([torch.tensor(rng.laplace(0, 0.05, dim))])
    exact = predict_limit(profile, lam[None], np.full((1, dim), 1 / dim), dim, epsilon, bound_mode="none",
                          negative=negative).ratio
    return DenseOperator(torch.tensor((q * lam) @ q.T)), LimitTarget(epsilon, "given", profile, (), ()), exact


def _coverage(op, target: LimitTarget, exact: float, steps: int, runs: int, negative: str = "abs") -> float:
    """How often the stated ± of a fixed plan held the exact ρ*, as the library states it
    (``slq_uncertainty``: the bracket, or m/2 vs m steps under ``flat``); every ± finite,
    non-negative and below 1."""
    options = CurvatureOptions(negative=negative, iterations=steps, runs=runs)
    hits = 0
    for seed in range(SEEDS):
        quad = slq(op, steps, runs, seed, "h")
        ratio = predict_from_quadrature(target.profile, quad, target.epsilon, bound_mode="none",
                                        negative=negative).ratio
        u = slq_uncertainty(target, quad, options, ratio, None, op.dtype)
        assert 0.0 <= u.plus_minus < 1.0 and np.isfinite(u.stderr)
        hits += abs(ratio - exact) <= u.plus_minus
    return hits / SEEDS


@pytest.mark.parametrize("runs,steps", [(3, 12), (1, 24)])
def test_indefinite_bulk_at_zero_under_stiff_outliers(runs: int, steps: int) -> None:
    """The MLP-like spectrum at ε = 2e-6 (ρ* = 0.565, R²/2ε in the thousands there): F turns
    on deep inside the bulk. Three runs (the jackknife and the bound both compete) and one
    (the bound alone). Measured 100/100 for both (2026-12-03; at D = 1,000 a 3-run
    jackknife over the same shape's exact per-probe measures held it in 283/300 even when
    runs were doubled until the ± met 0.01)."""
    op, target, exact = _problem(_mlp_like(96, np.random.default_rng(1)), 2e-6)
    assert 0.3 < exact < 0.8
    assert _coverage(op, target, exact, steps, runs) >= LOWEST


def test_negative_flat_on_an_indefinite_bulk() -> None:
    """``--negative flat`` (no bracket: the m/2-vs-m change stands in for the steps part).
    Measured 99/100 (2026-12-03)."""
    op, target, exact = _problem(_mlp_like(96, np.random.default_rng(2)), 2e-6, "flat")
    assert _coverage(op, target, exact, 24, 3, "flat") >= LOWEST


@pytest.mark.parametrize("edge", ["near 0", "near 1"])
def test_ratio_at_the_clipping_edges(edge: str) -> None:
    """ρ* ≈ 0.02 (every direction stiff, a tiny ε) and ρ* ≈ 0.99 (one eigenvalue over
    zeros): the bound's interval, taken at its far end, must not shrink towards the edge.
    Measured 100/100 each (ρ* = 0.032 and 0.990; 2026-12-03)."""
    rng = np.random.default_rng(3)
    if edge == "near 0":
        lam, epsilon = np.exp(rng.uniform(np.log(0.5), np.log(50.0), 96)), 1e-7
    else:
        lam, epsilon = np.zeros(96), 1e-4
        lam[0] = 5.0
    op, target, exact = _problem(lam, epsilon)
    assert (exact < 0.05) if edge == "near 0" else (exact > 0.95)
    assert _coverage(op, target, exact, 12, 3) >= LOWEST


@pytest.mark.parametrize("dim", [5, 20])
def test_tiny_models_exhaust_the_space_to_the_exact_ratio(dim: int) -> None:
    """D = 5 and 20, an indefinite spectrum with a double zero: adaptive SLQ carries a run
    through the whole space and states the exact ρ* with ± 0, under both negative modes."""
    from prunelimit.api.curvature import _slq_spectrum
    from prunelimit.api.options import SolverChoice

    lam = np.random.default_rng(4).normal(0, 1, dim)
    lam[:2] = 0.0
    for negative in ("abs", "flat"):
        op, target, exact = _problem(lam, 1e-3, negative)
        op.lockstep = 1
        options = CurvatureOptions(negative=negative, seed=0)
        quad, stopped, _ = _slq_spectrum(op, SolverChoice("slq-h", True, 32, 3, "test"), options, target,
                                         torch.float64, None)
        ratio = predict_from_quadrature(target.profile, quad, target.epsilon, bound_mode="none",
                                        negative=negative).ratio
        u = slq_uncertainty(target, quad, options, ratio, None, op.dtype)
        assert stopped == "converged" and quad.exact
        assert u.plus_minus == 0.0 and ratio == pytest.approx(exact, abs=1e-9)


def test_a_plan_too_short_to_say_anything_states_at_most_the_whole_range() -> None:
    """A fixed plan of 2 steps on a 21-parameter model: the bracket knows almost nothing
    and the bound's interval adds to it. ρ* lies in [0, 1], so a half-width of 1 around
    any estimate already covers every ratio; the library stated ρ* = 0.168 ± 1.26 (±126 pt)
    before, now ± 1 at most, in the ± and the JSON alike."""
    import prunelimit

    torch.manual_seed(0)
    x, y = torch.randn(64, 2) * torch.tensor([3.0, 0.1]), torch.randint(0, 3, (64,))
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3))
    result = prunelimit.bounds(model, (x, y), batch_size=16, method="slq", iterations=2, runs=1, epsilon=1e-4)
    u = result.uncertainty
    assert u.steps + u.statistical > 1.0  # the parts as measured: each is kept as it is
    assert u.plus_minus == 1.0 and result.to_json()["prediction"]["uncertainty"]["plus_minus"] == 1.0


def _negatives_at_one_over_c(dim: int, negative: str) -> tuple:
    """A log-normal spectrum at ε = 7.7e-4, where ρ* of D = 200 of its eigenvalues is 0.5,
    with 40 % of them set to −(0.3 … 3)/c, c = R(0.5)²/2ε = 28.6: negative curvature of
    the size where ``abs`` and ``flat`` part most (``(operator, target, exact ρ*)``)."""
    rng = np.random.default_rng(5)
    lam = rng.lognormal(-3, 2, dim)
    count = int(0.4 * dim)
    lam[:count] = -rng.uniform(0.3, 3.0, count) / 28.6
    return _problem(lam, 7.7e-4, negative)


def test_negative_flat_states_a_bracket_that_covers_at_few_steps() -> None:
    """``--negative flat`` with 40 % of the spectrum near −1/c, 3 runs × 12 steps: the change
    of ρ* between 6 and 12 steps, the steps part before, held the exact ρ* in 31/100 seeds
    with a median ± of 0.095; ρ* was 0.14 off at worst (ρ* = 0.601). The runs' own Gauss
    rules bound a term non-increasing in λ (Chebyshev–Markov–Stieltjes), now the steps part:
    100/100, median ± 0.38. (The m/2-vs-m change is small by coincidence at some steps and
    not at others: 8 and 16 steps held it in 100 and 96 seeds.)"""
    op, target, exact = _negatives_at_one_over_c(200, "flat")
    assert 0.3 < exact < 0.8
    assert _coverage(op, target, exact, 12, 3, "flat") >= LOWEST


def test_negative_flat_bracket_holds_the_probes_exact_ratio() -> None:
    """The flat bracket is a theorem, not a rate: on every seed it holds the ρ* of the same
    probes' exact measures (weights: the squared components of each Rademacher probe,
    drawn as ``slq`` draws them, in H's eigenbasis), at every number of steps, to rounding
    (1e-7: float64 Lanczos runs met the inequalities behind it to within 1e-7 of a weight,
    where a Ritz value had converged onto an eigenvalue; ρ* moves at most what F moves)."""
    from prunelimit.curvature.slq import rademacher
    from prunelimit.theory.uncertainty import flat_bracket_ratios

    dim = 60
    op, target, _ = _negatives_at_one_over_c(dim, "flat")
    lam, basis = np.linalg.eigh(op.matrix.numpy())
    for seed in range(20):
        generator = torch.Generator().manual_seed(seed)
        probes = torch.stack([rademacher(dim, generator) for _ in range(3)]).numpy()
        weights = (probes @ basis) ** 2 / dim
        probes_exact = predict_limit(target.profile, np.tile(lam, (3, 1)), weights, dim, target.epsilon,
                                     bound_mode="none", negative="flat").ratio
        for steps in (4, 10, 25):
            lo, hi = flat_bracket_ratios(target.profile, slq(op, steps, 3, seed, "h"), target.epsilon)
            assert lo - 1e-7 <= probes_exact <= hi + 1e-7
        # and it closes as the nodes fill the spectrum (a bracket of [0, 1] would hold any ρ*):
        # measured at most 0.073 wide at 25 of the 60 steps over these seeds
        assert hi - lo < 0.15


def test_jackknife_taken_over_the_bracket_where_rho_sits_at_a_null_space_edge() -> None:
    """70 % of the eigenvalues exactly 0 under a fine indefinite bulk (±1.6e-3) and a tail
    to 1.37 (the mnist1d shape, docs/benchmarks.md §5, with a larger null space), at an ε so
    small (1e-20) that every nonzero eigenvalue is stiff: the exact ρ* is the null share,
    0.70. Forty steps cannot part the null space from the bulk, so every run's Gauss rule
    puts the null mass on a node near 1e-6, its ρ* near 0 and the three runs in agreement:
    the jackknife at the estimate read ~0 and, the tighter, was stated, while the bracket's
    far end sat at the probes' own null share, a probe-noise draw off 0.70. It held the
    exact ρ* in 121 of 200 seeds (60.5 %) before the jackknife was also taken on the
    bracket's bounding rules (the largest stated); now 199/200 (2026-12-07; median ± 0.71
    before, 0.79 now). At an ordinary ε (4e-6, ρ* = 0.716) the same plan covered 200/200
    before and after, its median ± 0.197 on both (both re-run 2026-12-07)."""
    rng = np.random.default_rng(6)
    dim = 200
    zeros, bulk = int(0.7 * dim), int(0.25 * dim)
    signs = np.where(rng.random(bulk) < 0.4, -1.0, 1.0)
    stiff = np.exp(rng.uniform(np.log(2e-3), np.log(1.37), dim - zeros - bulk))
    lam = np.concatenate([np.zeros(zeros), rng.uniform(0, 1.6e-3, bulk) * signs, stiff])
    op, target, exact = _problem(lam, 1e-20)
    assert exact == pytest.approx(0.7, abs=1e-6)
    assert _coverage(op, target, exact, 40, 3) >= LOWEST
