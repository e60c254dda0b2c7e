"""Gauss / Gauss–Radau bounds on ``zᵀ f(|H|) z`` from Lanczos runs on H (``curvature.bracket``).

Oracle: symmetric matrices with a known spectrum (a trained network's shape: a cluster at
0 of both signs plus a log-normal tail), where ``zᵀ f(|H|) z`` is computed exactly from the
eigendecomposition. The bounds are theorems in exact arithmetic; float64 rounding of a
200-dimensional problem moves them by ~1e-13, hence the 1e-10 relative slack.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.curvature.bracket import abs_bracket
from prunelimit.curvature.lanczos import lanczos
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import rademacher, slq

SLACK = 1e-10


def _matrix(dim: int, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    rng = np.random.default_rng(seed)
    tail = dim - dim // 2
    lam = np.concatenate([rng.normal(0, 1e-3, dim // 2), rng.lognormal(-2, 1.5, tail) * rng.choice([1, 1, 1, -1], tail)])
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return lam, torch.tensor((q * lam) @ q.T), torch.tensor(q)


def _rule_sum(rule, f) -> float:
    nodes, weights = rule
    return float(np.sum(weights * f(nodes)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("steps", [3, 4, 9, 20, 60])
def test_gauss_and_radau_bracket_the_exact_quadratic_form(seed: int, steps: int) -> None:
    dim = 200
    lam, h, q = _matrix(dim, seed)
    z = rademacher(dim, torch.Generator().manual_seed(seed))
    run = lanczos(DenseOperator(h), steps, z)
    bracket = abs_bracket(run.alpha, run.beta)
    # The probe's spectral measure: weights (qᵀz)²/‖z‖² on the eigenvalues.
    mass = ((q.T @ z) ** 2).numpy() / float(z @ z)
    for c in (1.0, 1e2, 1e4, 1e6):
        def f(x):
            return 1.0 / (1.0 + c * np.abs(x))

        exact = float(mass @ f(lam))
        assert _rule_sum(bracket.lower, f) <= exact * (1 + SLACK)
        assert exact <= _rule_sum(bracket.upper, f) * (1 + SLACK)


def test_bracket_tightens_with_steps_and_collapses_at_breakdown() -> None:
    dim = 60
    lam, h, q = _matrix(dim, 7)
    z = rademacher(dim, torch.Generator().manual_seed(1))

    def width(steps: int) -> float:
        run = lanczos(DenseOperator(h), steps, z)
        b = abs_bracket(run.alpha, run.beta, exact=len(run.alpha) < steps or steps == dim)
        f = lambda x: 1.0 / (1.0 + 1e3 * np.abs(x))  # noqa: E731
        return _rule_sum(b.upper, f) - _rule_sum(b.lower, f)

    widths = [width(m) for m in (5, 11, 21, 41)]
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert width(dim) == 0.0  # the whole space: the Gauss rule is the measure


def test_too_few_steps_give_the_trivial_bounds() -> None:
    """With < 3 steps no moment of λ² beyond the mass is known: F ∈ [0, 1]."""
    b = abs_bracket(np.array([0.5, 0.1]), np.array([0.2]))
    f = lambda x: 1.0 / (1.0 + np.abs(x))  # noqa: E731
    assert _rule_sum(b.lower, f) == pytest.approx(0.0, abs=1e-300)
    assert _rule_sum(b.upper, f) == 1.0


def test_slq_attaches_bounding_rules_only_where_they_hold() -> None:
    dim = 50
    _, h, _ = _matrix(dim, 3)
    plain = slq(DenseOperator(h), 12, 2, 0, "h")
    assert plain.lower is not None and plain.upper is not None
    assert plain.lower.runs == plain.upper.runs == 2
    np.testing.assert_allclose(plain.lower.weights.sum(axis=1), 1.0)
    assert slq(DenseOperator(h), 12, 2, 0, "h2").lower is None  # nodes of H², not a run on H
    assert slq(DenseOperator(h), 12, 2, 0, "h", deflate=2).lower is None  # exact nodes mixed in


def test_the_radau_node_at_zero_stays_at_zero_for_any_curvature_scale() -> None:
    """40 % of the eigenvalues exactly 0 (a trained ReLU network's dead directions): the
    Gauss–Radau rule's node fixed at 0 came back from the eigen-solve as ~1e-8 (the square
    root of rounding ~1e-16 in λ²), so from c = R²/2ε of 1e8 (c·λmax ≈ 3e8, within the range
    docs/accuracy.md finds F ≥ 0.2 on; a zero-loss fit, or a small --epsilon, far beyond) that
    node counted as curved and the upper bound fell below the exact value: 0.30 against 0.40
    at 1e8, 5e-5 at 1e12 (0.73 of the weight sat on it). The node is 0 by construction: now
    exactly 0."""
    dim = 200
    rng = np.random.default_rng(0)
    lam = np.concatenate([np.zeros(80), rng.lognormal(-2, 1.5, 80), -rng.lognormal(-5, 1, 40)])
    z = rademacher(dim, torch.Generator().manual_seed(0))
    run = lanczos(DenseOperator(torch.tensor(np.diag(lam))), 32, z)
    bracket = abs_bracket(run.alpha, run.beta)
    assert bracket.upper[0].min() == 0.0
    mass = (z**2).numpy() / float(z @ z)  # on a diagonal matrix the probe's measure is z_i²/‖z‖²
    for c in (1e4, 1e6, 1e8, 1e9, 1e12, 1e30):
        exact = float(mass @ (1.0 / (1.0 + c * np.abs(lam))))  # → the mass at 0, 0.4
        assert exact <= _rule_sum(bracket.upper, lambda x, c=c: 1.0 / (1.0 + c * x)) * (1 + SLACK)


def test_the_plus_minus_holds_a_null_space_at_a_tiny_epsilon() -> None:
    """The same spectrum at ε = 1e-30, so that only the exact zeros count as flat: ρ* = 0.4
    exactly. Three runs of 32 steps stated ρ* = 0 ± 5e-9 (the upper bound had lost the
    zeros' mass); the ± now reaches 0.4."""
    from prunelimit.theory.limit import predict_from_quadrature, predict_limit
    from prunelimit.theory.profile import MagnitudeProfile
    from prunelimit.theory.uncertainty import ratio_uncertainty

    dim, epsilon = 200, 1e-30
    rng = np.random.default_rng(0)
    lam = np.concatenate([np.zeros(80), rng.lognormal(-2, 1.5, 80), -rng.lognormal(-5, 1, 40)])
    profile = MagnitudeProfile.from_tensors([torch.tensor(rng.laplace(0, 0.05, dim))])
    exact = predict_limit(profile, lam[None], np.full((1, dim), 1 / dim), dim, epsilon, bound_mode="none").ratio
    assert exact == pytest.approx(0.4)
    for seed in range(3):
        quad = slq(DenseOperator(torch.tensor(np.diag(lam))), 32, 3, seed, "h")
        ratio = predict_from_quadrature(profile, quad, epsilon, bound_mode="none").ratio
        u = ratio_uncertainty(profile, quad, epsilon, ratio)
        assert abs(ratio - exact) <= u.plus_minus


def _dense_bracket(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """The oracle: the Jacobi matrix of ν by dense Householder tridiagonalisation of T²
    (LAPACK ``dsytrd`` on the lower triangle never moves ``e₁``: the Lanczos tridiagonal of
    T² from ``e₁``), and the Gauss and Gauss–Radau rules from it with a dense Radau solve."""
    import scipy.linalg

    t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    n = (len(alpha) - 1) // 2
    _, diagonal, off, _, info = scipy.linalg.lapack.dsytrd(t @ t, lower=1)
    assert info == 0
    a, b = diagonal[:n], np.abs(off[:n])
    jacobi = np.diag(a) + np.diag(b[: n - 1], 1) + np.diag(b[: n - 1], -1)
    last = float(np.linalg.solve(jacobi, np.eye(n)[-1] * b[n - 1] ** 2)[-1])
    rules = [scipy.linalg.eigh_tridiagonal(a, b[: n - 1]), scipy.linalg.eigh_tridiagonal(np.append(a, last), b[:n])]
    rules[1][0][0] = 0.0  # the Radau node fixed at 0, the smallest, as the bracket sets it
    return a, b, [(np.sqrt(np.maximum(x, 0.0)), v[0] ** 2) for x, v in rules]


@pytest.mark.parametrize("steps", [3, 4, 9, 60, 201, 500])
def test_the_band_reduction_gives_the_dense_oracles_jacobi_matrix_and_rules(steps: int) -> None:
    """ν's Jacobi matrix comes from a band reduction of T²'s leading 2n + 1 rows, O(n²),
    where Lanczos with full reorthogonalisation on the rule's squared nodes took O(n³) (0.6 s
    at 2,000 steps): the same matrix, to rounding, as a dense Householder reduction of all
    of T², and the same Gauss and Gauss–Radau sums. Both reductions are backward stable,
    ~m·1e-16 of ‖T‖² in the entries, hence 1e-11 of it; the sums, of g ≤ 1 with weights
    summing to 1, to 1e-8: ν's rules amplify that rounding (at 500 steps the old Lanczos
    path's sums were 1.2e-9 from the oracle's, and this one's 1.1e-9)."""
    from prunelimit.curvature.bracket import _squared_jacobi

    dim = 1500
    rng = np.random.default_rng(steps)
    lam = np.concatenate([rng.normal(0, 1e-3, dim - 300), rng.lognormal(-2, 1.5, 200), -rng.lognormal(-5, 1, 100)])
    run = lanczos(DenseOperator(torch.tensor(np.diag(lam))), steps, rademacher(dim, torch.Generator().manual_seed(1)))
    a, b, rules = _dense_bracket(run.alpha, run.beta)
    scale = float(np.max(lam**2))
    got_a, got_b = _squared_jacobi(run.alpha.copy(), run.beta.copy(), (steps - 1) // 2)
    np.testing.assert_allclose(got_a, a, rtol=0, atol=1e-11 * scale)
    np.testing.assert_allclose(got_b, b, rtol=0, atol=1e-11 * scale)
    bracket = abs_bracket(run.alpha, run.beta)
    for got, want in zip((bracket.lower, bracket.upper), rules):
        for c in (1.0, 1e2, 1e4, 1e6, 1e8):
            def g(x, c=c):
                return 1.0 / (1.0 + c * x)

            assert _rule_sum(got, g) == pytest.approx(_rule_sum(want, g), rel=0, abs=1e-8)
