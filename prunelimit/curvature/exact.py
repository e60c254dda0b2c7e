"""Exact Hessians for small models, and their spectra in the SLQ result format.

Used as the oracle for SLQ accuracy and as ``--method exact``. ``exact_quadrature``
wraps all eigenvalues as nodes with weights 1/D, so exact and estimated spectra go
through the same F code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.errors import UsageError

# The dense float64 Hessian may take this much memory (plus eigvalsh's copy): the one
# limit behind both the default's exact-vs-SLQ choice (``prunelimit.api.choose_solver``)
# and the dimensions ``exact_hessian`` accepts.
EXACT_MEMORY_BYTES = 2 * 2**30
MAX_DIM = math.isqrt(EXACT_MEMORY_BYTES // 8)  # 16,384
COLUMN_BLOCK = 128  # unit vectors per batched product: bounds the vmapped activations


def columns_per_product(op: CurvatureOperator) -> int:
    """Unit columns ``exact_hessian`` asks of one product: one from an operator on a CPU that
    keeps its gradient graphs (``engine == "cached"``), where a batched backward is slower
    per column (docs/benchmarks.md §1) and holds activations for every column at once (2.0 GB
    against 0.36 GB for a 700-parameter CNN with BatchNorm on 1,437 digits, float64);
    else ``COLUMN_BLOCK``: one graph rebuild serves them all, and an accelerator runs them
    in parallel (it takes one at a time after running out of memory: ``HessianOperator.matmat``)."""
    cached_on_cpu = getattr(op, "engine", None) == "cached" and op.device.type == "cpu"
    return 1 if cached_on_cpu else COLUMN_BLOCK


def exact_hessian(op: CurvatureOperator, max_dim: int = MAX_DIM, progress=None) -> Tensor:
    """The D×D float64 matrix of ``op`` from D products with unit vectors, symmetrised.

    Formed ``columns_per_product(op)`` columns at a time by ``op.matmat``; ``progress(done)`` reports
    columns. Symmetrising removes only the rounding asymmetry of the products (the exact
    Hessian is symmetric). Refuses ``D > max_dim`` (D products and D² memory).
    """
    dim = op.shape[0]
    if dim > max_dim:
        raise UsageError(
            f"exact Hessian of dimension {dim} exceeds the limit of {max_dim}; "
            "use SLQ (method default) or raise max_dim"
        )
    h = torch.empty(dim, dim, dtype=torch.float64)
    eye = torch.eye(dim, dtype=torch.float64)
    block = columns_per_product(op)
    for start in range(0, dim, block):
        stop = min(start + block, dim)
        h[:, start:stop] = op.matmat(eye[:, start:stop]).to("cpu", torch.float64)
        if progress is not None:
            progress(stop)
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
