"""Exact Hessians for small models, and their spectra in the SLQ result format.

Used as the oracle for SLQ accuracy and as ``--method exact``. ``exact_quadrature``
wraps all eigenvalues as nodes with weights 1/D, so exact and estimated spectra go
through the same F code.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import Tensor

from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.errors import UsageError, option
from prunelimit.threads import one_thread

# The dense float64 Hessian may take this much memory (plus eigvalsh's copy: ``exact_host_bytes``):
# the cap behind both the default's exact-vs-SLQ choice (``prunelimit.api.choose_solver``)
# and the dimensions ``exact_hessian`` accepts.
EXACT_MEMORY_BYTES = 2 * 2**30
MAX_DIM = math.isqrt(EXACT_MEMORY_BYTES // 8)  # 16,384
COLUMN_BLOCK = 128  # unit vectors per batched product on an accelerator: bounds the vmapped activations
# ... and on a CPU, on the recomputing engine: a wider block cost more per column than the single
# product the default's solver choice times (docs/benchmarks.md, "Exact columns in blocks on a CPU")
CPU_COLUMN_BLOCK = 8
EIGEN_CALIBRATION = 1024  # rows of the eigenvalue problem timed to predict a larger one (~0.2 s)
EIGEN_REPEATS = 2  # solves of it timed: the fastest predicts
# A larger problem costs less per n³ than the timed one (LAPACK's blocked reduction runs
# nearer the cores' peak): its rate is the timed one's × sqrt(n/D), but not below this share
# of it. One thread, CPU time, measured/timed rate at D rows (docs/benchmarks.md, "The
# eigenvalues' prediction"): 0.56 at 1,500, 0.45 at 2,410, 0.37 at 4,000, 0.34 at 6,000 on
# this machine (torch 2.13), 0.68 at 2,048 and 0.53 at 6,000 on an earlier one; the rule
# gives 0.83, 0.65, 0.51, 0.5 and 0.71, 0.5: high by at most 1.5×, low by at most 6 %.
EIGEN_RATE_FLOOR = 0.5


def columns_per_product(op: CurvatureOperator) -> int:
    """Unit columns ``exact_hessian`` asks of one product: one from an operator on a CPU that
    keeps its gradient graphs (``engine == "cached"``), where a batched backward is slower
    per column (docs/benchmarks.md §1) and holds activations for every column at once (2.0 GB
    against 0.36 GB for a 700-parameter CNN with BatchNorm on 1,437 digits, float64);
    ``CPU_COLUMN_BLOCK`` from the recomputing one on a CPU: one graph rebuild serves them all,
    but a block of 128 cost up to 2.4× a single product per column (a TransformerEncoder),
    past the prediction the default's solver choice makes from single products; else
    ``COLUMN_BLOCK`` (an explicit matrix's too): an accelerator runs them in parallel (it
    takes one at a time after running out of memory: ``HessianOperator.matmat``)."""
    on_cpu = {"cached": 1, "revrev": CPU_COLUMN_BLOCK}.get(getattr(op, "engine", None))
    return on_cpu if on_cpu is not None and op.device.type == "cpu" else COLUMN_BLOCK


def require_exact_fits(dim: int, max_dim: int = MAX_DIM) -> None:
    """Refuse an exact Hessian of ``dim > max_dim`` (D products, 8·D² bytes): a ``UsageError``."""
    if dim > max_dim:
        raise UsageError(
            f"exact Hessian of dimension {dim:,} exceeds the limit of {max_dim:,} (D products, 8·D² bytes); "
            f"use SLQ ({option('method', 'slq')}, or the default)"
        )


def exact_host_bytes(dim: int) -> int:
    """Host memory the exact spectrum of a ``dim``-parameter Hessian holds at its peak, 16·D²
    bytes: the dense float64 matrix and the copy torch's eigenvalue solver takes of it (LAPACK
    overwrites its input; its own workspace is O(D)). ``--method exact``'s measured peak resident
    memory was this plus 302-322 MB (torch, the model and data) at D = 2,410, 6,010 and 12,010
    (docs/benchmarks.md, Memory)."""
    return 2 * 8 * dim * dim


def exact_hessian(op: CurvatureOperator, max_dim: int = MAX_DIM, progress=None, check=None) -> Tensor:
    """The D×D float64 matrix of ``op`` from D products with unit vectors, symmetrised.

    Formed ``columns_per_product(op)`` columns at a time by ``op.matmat``; ``progress(done)`` reports
    columns, and ``check(done)`` (if given) may raise to abandon the work between blocks.
    Symmetrising removes only the rounding asymmetry of the products (the exact Hessian is
    symmetric); it is done in place, block by block, so the matrix is the only D² array
    held. Refuses ``D > max_dim`` (D products and D² memory).
    """
    dim = op.shape[0]
    require_exact_fits(dim, max_dim)
    h = torch.empty(dim, dim, dtype=torch.float64)
    block = columns_per_product(op)
    for start in range(0, dim, block):
        stop = min(start + block, dim)
        units = torch.zeros(dim, stop - start, dtype=torch.float64)
        units[start:stop].fill_diagonal_(1.0)
        h[:, start:stop] = op.matmat(units).to("cpu", torch.float64)
        if progress is not None:
            progress(stop)
        if check is not None:
            check(stop)
    for start in range(0, dim, COLUMN_BLOCK):
        # Averaging a block of columns with the matching rows also sets those rows: a later
        # block re-averages two equal numbers where it meets this one.
        stop = min(start + COLUMN_BLOCK, dim)
        mean = (h[:, start:stop] + h[start:stop, :].T) / 2
        h[:, start:stop] = mean
        h[start:stop, :] = mean.T
    return h


def eigenvalue_seconds(dim: int) -> float:
    """Predicted seconds of ``exact_quadrature`` on a D×D matrix: one seeded symmetric
    eigenvalue problem of at most ``EIGEN_CALIBRATION`` rows is solved ``EIGEN_REPEATS``
    times on one thread, and the fastest (this process's CPU time, like the products: other
    load only slows a solve, and one thread does not count threads spinning for a core) is
    scaled to D rows by ``eigenvalue_scale``. It errs high, towards SLQ, by up to 1.5× on
    one thread, and by what the solver's threads speed it up on more."""
    n = min(dim, EIGEN_CALIBRATION)
    a = torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a += a.T.clone()
    seconds = []
    with one_thread():
        for _ in range(EIGEN_REPEATS):
            start = time.process_time()
            torch.linalg.eigvalsh(a)
            seconds.append(time.process_time() - start)
    return min(seconds) * eigenvalue_scale(dim, n)


def eigenvalue_scale(dim: int, timed: int) -> float:
    """Factor from the seconds of a ``timed``-row eigenvalue problem to a ``dim``-row one:
    (D/n)³ at a rate per n³ falling as sqrt(n/D), to ``EIGEN_RATE_FLOOR`` of the timed one.
    Plain (D/n)³ read 2.1-3.0× high at D = 2,048-6,000 (14.7 s predicted for 5.0 s at 6,000
    rows, one thread), so the default took SLQ where the exact spectrum fitted its budget."""
    ratio = dim / timed  # at least 1: the timed problem is never the larger
    return ratio**3 * max(EIGEN_RATE_FLOOR, ratio**-0.5)


def exact_quadrature(h: Tensor | np.ndarray, hvps: int = 0) -> SpectralQuadrature:
    """All eigenvalues of the symmetric matrix ``h`` as one quadrature run, weights 1/D."""
    # torch's solver runs on --threads (numpy's LAPACK keeps a thread pool of its own)
    eigenvalues = torch.linalg.eigvalsh(torch.as_tensor(h, dtype=torch.float64).cpu()).numpy()
    dim = len(eigenvalues)
    return SpectralQuadrature(
        nodes=eigenvalues[None, :],
        weights=np.full((1, dim), 1.0 / dim),
        dim=dim,
        signed=True,
        hvps=hvps,
        exact=True,
    )
