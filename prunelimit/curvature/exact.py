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

from prunelimit.curvature.slq import SpectralQuadrature
from prunelimit.errors import UsageError

DEFAULT_MAX_DIM = 10_000


class LinearOperator(Protocol):
    dim: int

    def matvec(self, v: Tensor) -> Tensor: ...


def exact_hessian(op: LinearOperator, max_dim: int = DEFAULT_MAX_DIM) -> Tensor:
    """The D×D float64 Hessian from D HVPs with unit vectors, symmetrised.

    Symmetrising removes only the rounding asymmetry of the HVPs (the exact Hessian is
    symmetric). Refuses ``dim > max_dim`` (D HVPs and D² memory).
    """
    if op.dim > max_dim:
        raise UsageError(
            f"exact Hessian of dimension {op.dim} exceeds the limit of {max_dim}; "
            "use SLQ (--method default) or raise max_dim"
        )
    h = torch.empty(op.dim, op.dim, dtype=torch.float64)
    unit = torch.zeros(op.dim, dtype=torch.float64)
    for i in range(op.dim):
        unit[i] = 1.0
        h[:, i] = op.matvec(unit).to("cpu", torch.float64)
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
