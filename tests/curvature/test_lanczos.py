"""Lanczos and its Gauss quadrature against dense linear algebra (numpy eigh, A^k)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.curvature.lanczos import LanczosRuns, lanczos, lanczos_lockstep, ritz, ritz_vectors
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import rademacher
from prunelimit.errors import NumericalError, UsageError


def _symmetric(dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
    return (a + a.T) / (2 * dim**0.5)


def test_top_eigenvalue_matches_eigh():
    a = _symmetric(200, 0)
    start = torch.ones(200, dtype=torch.float64)
    res = lanczos(DenseOperator(a), 120, start)
    nodes, weights = ritz(res.alpha, res.beta)
    exact = np.linalg.eigh(a.numpy())[0]
    # Extreme Ritz values converge first; with full reorthogonalisation in float64 they
    # reach rounding level long before 120 steps, so 1e-10 relative is a safe bound.
    assert abs(nodes[-1] - exact[-1]) <= 1e-10 * abs(exact[-1])
    assert abs(nodes[0] - exact[0]) <= 1e-10 * abs(exact[0])
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)


# Moment error allowed per basis storage: Gauss quadrature is exact, so what remains is the
# rounding of the stored basis that reorthogonalisation projects against, about the
# storage's unit roundoff (float32 6e-8, float16 4.9e-4, bfloat16 3.9e-3; measured 5e-8,
# 1.0e-4 and 1.1e-3 here), with a margin of ~10.
MOMENT_TOL = {torch.float64: 1e-10, torch.float32: 1e-6, torch.float16: 3e-3, torch.bfloat16: 2e-2}


@pytest.mark.parametrize("storage", list(MOMENT_TOL))
def test_quadrature_moments_are_exact_below_2m(storage):
    a = _symmetric(60, 1)
    gen = torch.Generator().manual_seed(2)
    v = torch.randn(60, generator=gen, dtype=torch.float64)
    m = 8
    res = lanczos(DenseOperator(a), m, v, storage_dtype=storage)
    nodes, weights = ritz(res.alpha, res.beta)
    u = (v / v.norm()).numpy()
    an = a.numpy()
    power = u.copy()
    for k in range(2 * m):
        exact = u @ power
        quad = np.sum(weights * nodes**k)
        # Gauss quadrature with m nodes integrates polynomials of degree < 2m exactly;
        # float64 rounding of the moments (|θ| ≤ ~2) stays far below 1e-10.
        assert abs(quad - exact) <= MOMENT_TOL[storage] * max(1.0, np.sum(weights * np.abs(nodes) ** k))
        power = an @ power


def test_breakdown_returns_shorter_tridiagonal():
    # Diagonal matrix with 3 distinct eigenvalues: the Krylov space of any start vector
    # has dimension 3, so Lanczos must stop after 3 steps and be exact.
    diag = torch.tensor([1.0, 1.0, 2.0, 2.0, 5.0, 5.0, 5.0], dtype=torch.float64)
    start = torch.ones(7, dtype=torch.float64)
    res = lanczos(DenseOperator(torch.diag(diag)), 7, start)
    assert res.steps == 3
    nodes, weights = ritz(res.alpha, res.beta)
    np.testing.assert_allclose(nodes, [1.0, 2.0, 5.0], atol=1e-12)
    np.testing.assert_allclose(weights, [2 / 7, 2 / 7, 3 / 7], atol=1e-12)


def test_lockstep_runs_equal_single_runs_and_drop_out_at_breakdown():
    # Run 0 starts on 3 eigenvalues' worth of eigenvectors (breaks down after 3 steps),
    # runs 1 and 2 are generic: each must equal its own single run bit for bit (the same
    # arithmetic), and the operator must be asked only for the runs still going.
    diag = torch.tensor([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    starts = torch.randn(3, 8, generator=gen, dtype=torch.float64)
    starts[0, 4:] = 0.0
    widths, products = [], []

    class Recording(DenseOperator):
        def matmat(self, V):
            widths.append(V.shape[1])
            return super().matmat(V)

    op = Recording(torch.diag(diag))
    results = lanczos_lockstep(op, 6, starts, callback=products.append)
    assert [r.steps for r in results] == [3, 6, 6]
    assert widths == [3, 3, 3, 2, 2, 2]
    assert products == list(np.cumsum(widths))
    for start, together in zip(starts, results):
        alone = lanczos(op, 6, start)
        np.testing.assert_array_equal(together.alpha, alone.alpha)
        np.testing.assert_array_equal(together.beta, alone.beta)
        assert together.residual == alone.residual


def test_ritz_vectors_are_eigenvectors():
    a = _symmetric(50, 3)
    res = lanczos(DenseOperator(a), 50, torch.ones(50, dtype=torch.float64), keep_basis=True)
    nodes, vectors, residual = ritz_vectors(res)
    # m = D steps: the Krylov space is the whole space, every pair is exact to rounding.
    r = torch.from_numpy(nodes)[:, None] * vectors - vectors @ a
    assert float(r.abs().max()) < 1e-10
    assert np.all(residual < 1e-8)


def test_bad_lockstep_starts_refused():
    identity = DenseOperator(torch.eye(4, dtype=torch.float64))
    with pytest.raises(UsageError):
        lanczos_lockstep(identity, 3, torch.ones(4, dtype=torch.float64))  # not k × dim
    with pytest.raises(NumericalError):
        lanczos_lockstep(identity, 3, torch.zeros(2, 4, dtype=torch.float64))


def test_bad_inputs_refused():
    a = torch.eye(4, dtype=torch.float64)
    with pytest.raises(UsageError):
        lanczos(DenseOperator(a), 0, torch.ones(4, dtype=torch.float64))
    with pytest.raises(NumericalError):
        lanczos(DenseOperator(a), 2, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(NumericalError):
        lanczos(DenseOperator(a * float("nan")), 2, torch.ones(4, dtype=torch.float64))


def test_an_exhausting_run_restarts_past_breakdowns_to_every_eigenvalue() -> None:
    """Eigenvalues 0 (×9), 1, 2, 3 (×30 each) of a rotated 99-dim matrix: a plain run breaks
    down after 4 steps (its distinct eigenvalues); carried on by ``exhaust`` it restarts
    orthogonally to its basis until D steps, and its tridiagonal holds all 99 with their
    multiplicities, the quadrature exact at weight 1/D each."""
    from prunelimit.curvature.slq import runs_quadrature

    lam = torch.cat([torch.zeros(9, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0]).repeat_interleave(30)])
    q, _ = torch.linalg.qr(torch.randn(99, 99, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    op = DenseOperator((q * lam) @ q.T)
    runs = LanczosRuns(op, rademacher(99, torch.Generator().manual_seed(1))[None], 8)
    runs.extend(99)
    assert runs.steps == [4] and runs.broken_down == [True]
    runs.exhaust()
    assert runs.extend(99) == 95 and runs.steps == [99] and runs.broken_down == [True]
    quad = runs_quadrature(runs.results(), runs.broken_down, 99)
    assert quad.exact
    np.testing.assert_allclose(np.sort(quad.nodes[0]), lam.numpy(), atol=1e-10)
    np.testing.assert_allclose(quad.weights[0], 1 / 99)
