"""Lanczos tridiagonalisation with full reorthogonalisation, and its Gauss quadrature.

The Lanczos basis lives in host memory (SPEC §7: device memory stays within a few
parameter-sized vectors); the recurrence itself runs in float64 on the host. The basis
may be stored in a narrower dtype to save memory; reorthogonalisation then projects
against the rounded vectors, which is still a full (if slightly less exact) projection.

Breakdown: when the new residual norm β falls below ``breakdown_tol`` relative to the
size of T, the Krylov space is (numerically) invariant, so the current tridiagonal
already represents the start vector's spectral measure exactly; the run stops early and
returns the shorter tridiagonal (``len(alpha) < iterations``) rather than restarting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from prunelimit.errors import NumericalError, UsageError

Matvec = Callable[[Tensor], Tensor]
StepCallback = Callable[[int], None]

# Above this many bytes a float64 basis is stored as float32 by default.
AUTO_FLOAT64_BASIS_BYTES = 2 * 2**30
# Storage dtypes a user may pick for the basis (``--basis-dtype``). The 16-bit ones halve
# a float32 basis again; their rounding (~1e-3) limits how exactly the basis is kept
# orthogonal, which docs/benchmarks.md measures on ρ*.
BASIS_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
# DGKS: repeat Gram–Schmidt when a pass shrinks the vector below this fraction. One pass
# leaves an error ~ε·(norm before / norm after), so a second is needed only after a large
# cancellation; skipping it otherwise halves the reorthogonalisation, which cost as much
# as the HVPs on a 266k-parameter MLP (docs/benchmarks.md).
_DGKS_ETA = 2**-0.5


@dataclass(frozen=True)
class LanczosResult:
    """Tridiagonal ``T`` (diagonal ``alpha``, off-diagonal ``beta``) and optionally the basis.

    ``basis`` (rows = orthonormal Lanczos vectors, host memory) is kept only on request.
    ``len(alpha) < iterations`` means breakdown: the Krylov space became invariant.
    ``residual`` is the norm of the last residual (the β that would follow ``beta``; 0
    after a breakdown); Ritz pair ``i`` has residual ``residual·|s_{k,i}|``.
    """

    alpha: np.ndarray
    beta: np.ndarray
    residual: float = 0.0
    basis: Tensor | None = None

    @property
    def steps(self) -> int:
        return len(self.alpha)


def lanczos(
    matvec: Matvec,
    dim: int,
    iterations: int,
    start: Tensor,
    reorth: bool = True,
    storage_dtype: torch.dtype | None = None,
    keep_basis: bool = False,
    breakdown_tol: float = 1e-10,
    callback: StepCallback | None = None,
) -> LanczosResult:
    """Run ``iterations`` Lanczos steps of the symmetric operator ``matvec`` from ``start``.

    ``matvec`` receives float64 host vectors and may return any float dtype/device.
    Full reorthogonalisation is classical Gram–Schmidt, applied a second time only
    when the first pass removed most of the vector (DGKS; "twice is enough").
    ``storage_dtype`` defaults to float64, or float32 when the basis would exceed 2 GiB;
    float32 also suits a float32 operator (its products carry that rounding already) and
    halves the reorthogonalisation's memory traffic (docs/benchmarks.md).
    ``callback(step)`` is called after every step (progress bars).
    """
    if iterations < 1:
        raise UsageError(f"Lanczos needs at least 1 iteration, got {iterations}")
    if start.shape != (dim,):
        raise UsageError(f"Lanczos start vector has shape {tuple(start.shape)}, expected ({dim},)")
    iterations = min(iterations, dim)
    if storage_dtype is None:
        too_big = iterations * dim * 8 > AUTO_FLOAT64_BASIS_BYTES
        storage_dtype = torch.float32 if too_big else torch.float64
    q = start.detach().to("cpu", torch.float64)
    norm = float(q.norm())
    if not np.isfinite(norm) or norm == 0.0:
        raise NumericalError("the Lanczos start vector is zero or not finite")
    q = q / norm
    basis = torch.empty(iterations, dim, dtype=storage_dtype)
    basis[0] = q
    alpha: list[float] = []
    beta: list[float] = []
    q_prev = torch.zeros_like(q)
    for j in range(iterations):
        w = matvec(q).detach().to("cpu", torch.float64)
        a = float(q @ w)
        # q·w is NaN/Inf iff some entry of w is (0·Inf = NaN): a scalar check of the vector.
        if not np.isfinite(a):
            raise NumericalError(f"the operator returned NaN/Inf at Lanczos step {j + 1}")
        w = torch.sub(w, q, alpha=a)  # a new tensor: the in-place updates below never touch the operator's
        if beta:
            w.sub_(q_prev, alpha=beta[-1])
        if reorth:
            w, b = _reorthogonalised(basis, j + 1, w)
        else:
            b = float(w.norm())
        alpha.append(a)
        if callback is not None:
            callback(j + 1)
        scale = max(max(abs(x) for x in alpha), max(beta, default=0.0))
        if b <= breakdown_tol * max(scale, np.finfo(float).tiny):
            b = 0.0
            break
        if j == iterations - 1:
            break
        beta.append(b)
        q_prev, q = q, w / b
        basis[j + 1] = q
    k = len(alpha)
    return LanczosResult(
        alpha=np.asarray(alpha),
        beta=np.asarray(beta[: k - 1]),
        residual=b,
        basis=basis[:k] if keep_basis else None,
    )


def ritz(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature of T: Ritz values (ascending) and weights (squared first components).

    Solved in float64 by ``scipy.linalg.eigh_tridiagonal``; weights sum to 1.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    if len(alpha) == 1:
        return alpha.copy(), np.ones(1)
    nodes, vecs = scipy.linalg.eigh_tridiagonal(alpha, beta)
    return nodes, vecs[0] ** 2


def ritz_vectors(result: LanczosResult) -> tuple[np.ndarray, Tensor, np.ndarray]:
    """Ritz values (ascending), Ritz vectors (rows, float64) and their residual norms.

    Needs ``keep_basis=True``. Residual of pair ``i``: ``‖H y_i − θ_i y_i‖ = residual·|s_{k,i}|``.
    """
    if result.basis is None:
        raise UsageError("Ritz vectors need the Lanczos basis; run lanczos(..., keep_basis=True)")
    alpha = np.asarray(result.alpha, dtype=np.float64)
    if len(alpha) == 1:
        nodes, vecs = alpha.copy(), np.ones((1, 1))
    else:
        nodes, vecs = scipy.linalg.eigh_tridiagonal(alpha, result.beta)
    coeffs = torch.from_numpy(np.ascontiguousarray(vecs.T))
    vectors = torch.stack([_combine(result.basis, result.steps, c) for c in coeffs])
    return nodes, vectors, result.residual * np.abs(vecs[-1])


def _reorthogonalised(basis: Tensor, rows: int, w: Tensor) -> tuple[Tensor, float]:
    """``w`` (updated in place) without its components along the first ``rows`` basis
    vectors, and its norm."""
    norm = float(w.norm())
    for _ in range(2):
        before = norm
        w.sub_(_combine(basis, rows, _project(basis, rows, w)))
        norm = float(w.norm())
        if norm > _DGKS_ETA * before:
            break
    return w, norm


def _project(basis: Tensor, rows: int, w: Tensor) -> Tensor:
    # A narrower basis is projected in its own dtype: its vectors carry that rounding
    # already, and widening it on the fly would cost more than the float64 product.
    return (basis[:rows] @ w.to(basis.dtype)).to(w.dtype)


def _combine(basis: Tensor, rows: int, coeffs: Tensor) -> Tensor:
    return (coeffs.to(basis.dtype) @ basis[:rows]).to(coeffs.dtype)
