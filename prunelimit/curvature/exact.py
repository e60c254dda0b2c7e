"""Exact Hessians for small models, and their spectra in the SLQ result format.

Used as the oracle for SLQ accuracy and as ``--method exact``. ``exact_quadrature``
wraps all eigenvalues as nodes with weights 1/D, so exact and estimated spectra go
through the same F code.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from prunelimit.curvature.lanczos import Matvec
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.errors import UsageError

DEFAULT_MAX_DIM = 10_000


class LinearOperator(Protocol):
    dim: int

    def matvec(self, v: Tensor) -> Tensor: ...


COLUMN_BLOCK = 128  # unit vectors per batched product: bounds the vmapped activations


def exact_hessian(op: LinearOperator, max_dim: int = DEFAULT_MAX_DIM, progress=None) -> Tensor:
    """The D×D float64 Hessian of an operator with ``.dim`` and ``.matvec``; see :func:`dense_matrix`.

    Operators with a batched ``matmat`` (``HessianOperator``) form it ``COLUMN_BLOCK``
    columns at a time; ``progress(done)`` reports columns.
    """
    matmat = getattr(op, "matmat", None)
    if matmat is None:
        return dense_matrix(op.matvec, op.dim, max_dim)
    _check_dim(op.dim, max_dim)
    h = torch.empty(op.dim, op.dim, dtype=torch.float64)
    eye = torch.eye(op.dim, dtype=torch.float64)
    for start in range(0, op.dim, COLUMN_BLOCK):
        stop = min(start + COLUMN_BLOCK, op.dim)
        h[start:stop] = matmat(eye[start:stop]).to("cpu", torch.float64)
        if progress is not None:
            progress(stop)
    return (h + h.T) / 2


def _check_dim(dim: int, max_dim: int) -> None:
    if dim > max_dim:
        raise UsageError(
            f"exact Hessian of dimension {dim} exceeds the limit of {max_dim}; "
            "use SLQ (method default) or raise max_dim"
        )


def dense_matrix(matvec: Matvec, dim: int, max_dim: int = DEFAULT_MAX_DIM) -> Tensor:
    """The D×D float64 matrix from D products with unit vectors, symmetrised.

    Symmetrising removes only the rounding asymmetry of the HVPs (the exact Hessian is
    symmetric). Refuses ``dim > max_dim`` (D HVPs and D² memory).
    """
    _check_dim(dim, max_dim)
    h = torch.empty(dim, dim, dtype=torch.float64)
    unit = torch.zeros(dim, dtype=torch.float64)
    for i in range(dim):
        unit[i] = 1.0
        h[:, i] = matvec(unit).to("cpu", torch.float64)
        unit[i] = 0.0
    return (h + h.T) / 2


def exact_quadrature(h: Tensor | np.ndarray, hvps: int = 0) -> SpectralQuadrature:
    """All eigenvalues of the symmetric matrix ``h`` as one quadrature run, weights 1/D."""
    matrix = np.asarray(h, dtype=np.float64)
    eigenvalues = np.linalg.eigvalsh(matrix)
    dim = len(eigenvalues)
    return SpectralQuadrature(
        nodes=eigenvalues[None, :],
        weights=np.full((1, dim), 1.0 / dim),
        dim=dim,
        signed=True,
        hvps=hvps,
    )
