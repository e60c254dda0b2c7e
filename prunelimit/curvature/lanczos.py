"""Lanczos tridiagonalisation with full reorthogonalisation, and its Gauss quadrature.

The Lanczos basis lives in host memory (device memory stays within a few
parameter-sized vectors; docs/benchmarks.md, Memory); the recurrence itself runs in
float64 on the host. The basis
may be stored in a narrower dtype to save memory; reorthogonalisation then projects
against the rounded vectors, which is still a full (if slightly less exact) projection.

Breakdown: when the new residual norm β falls below ``breakdown_tol`` relative to the
size of T, the Krylov space is (numerically) invariant, so the current tridiagonal
already represents the start vector's spectral measure exactly; the run stops early and
returns the shorter tridiagonal (``len(alpha) < iterations``) rather than restarting.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from prunelimit.curvature.operator import Columnwise, CurvatureOperator
from prunelimit.device import ieee_float32
from prunelimit.errors import NumericalError, UsageError

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
# What ``--basis-dtype`` accepts: a name above, or ``auto`` (``prunelimit.api.curvature.basis_storage`` picks).
BASIS_CHOICES = ("auto", *BASIS_DTYPES)
# DGKS: repeat Gram–Schmidt when a pass shrinks the vector below this fraction. One pass
# leaves an error ~ε·(norm before / norm after), so a second is needed only after a large
# cancellation; skipping it otherwise halves the reorthogonalisation, which cost as much
# as the HVPs on a 266k-parameter MLP (docs/benchmarks.md).
_DGKS_ETA = 2**-0.5
# An exhausting run's restarts (``LanczosRuns.exhaust``): seeded apart from the probes, so
# the same run gives the same numbers; a ±1 vector of norm √D keeps a norm of about √r
# outside a basis that leaves r dimensions, far above this unless the basis spans the space.
RESTART_SEED, RESTART_TRIES, RESTART_MIN_NORM = 1, 3, 1e-3
# ``reorthogonalisation_seconds`` times a projection against rows of this many elements in
# all (64 MiB in float32): a basis that fits a CPU cache projects at a third of the seconds
# a row that a run of hundreds of steps takes (26,832 parameters: 4 µs a row at 64 rows, 11
# at 800), and the data check of such a run is what the timing prices.
TIMING_ELEMENTS = 2**24
# ... and at least this many rows, whatever D: a row's seconds are a difference between
# projections against these and against half of them, which one row against two lost in the
# clock's noise (11.2 million parameters: 160 ms and 156 ms, ± 10 ms).
MIN_TIMING_ROWS = 8
TIMED_PROJECTIONS = 4


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
    op: CurvatureOperator,
    iterations: int,
    start: Tensor,
    reorth: bool = True,
    storage_dtype: torch.dtype | None = None,
    keep_basis: bool = False,
    breakdown_tol: float = 1e-10,
    callback: StepCallback | None = None,
) -> LanczosResult:
    """Run ``iterations`` Lanczos steps of the symmetric operator ``op`` from ``start``.

    Each step is one ``op.matvec`` of a float64 host vector (the product may come back in
    any float dtype/device). Full reorthogonalisation is classical Gram–Schmidt, applied a
    second time only when the first pass removed most of the vector (DGKS; "twice is enough").
    ``storage_dtype`` defaults to float64, or float32 when the basis would exceed 2 GiB;
    float32 also suits a float32 operator (its products carry that rounding already) and
    halves the reorthogonalisation's memory traffic (docs/benchmarks.md).
    ``callback(step)`` is called after every step (progress bars).
    """
    dim = op.shape[0]
    if start.shape != (dim,):
        raise UsageError(f"Lanczos start vector has shape {tuple(start.shape)}, expected ({dim},)")
    (result,) = lanczos_lockstep(
        Columnwise(op), iterations, start[None], reorth, storage_dtype, keep_basis, breakdown_tol, callback
    )
    return result


def lanczos_lockstep(
    op: CurvatureOperator,
    iterations: int,
    starts: Tensor,
    reorth: bool = True,
    storage_dtype: torch.dtype | None = None,
    keep_basis: bool = False,
    breakdown_tol: float = 1e-10,
    callback: StepCallback | None = None,
) -> list[LanczosResult]:
    """Independent Lanczos runs from the rows of ``starts`` (k × D), advanced in lockstep.

    Every step applies the operator once to the current vectors of all runs still going,
    ``op.matmat(Q)`` for the columns ``Q`` (D × a, float64, host), so an operator that
    serves several vectors in one data pass (``HessianOperator.matmat``) serves every run.
    Each run is exactly what ``lanczos`` gives from its start vector (the same arithmetic,
    to the rounding of the operator's block product; ``Columnwise(op)`` makes it the same
    products), and holds its own basis; a run that breaks down drops out.
    ``callback(products)`` gets the operator products so far, summed over runs, after every step.
    """
    if iterations < 1:
        raise UsageError(f"Lanczos needs at least 1 iteration, got {iterations}")
    runs = LanczosRuns(op, starts, min(iterations, op.shape[0]), reorth, storage_dtype, breakdown_tol)
    runs.extend(iterations, callback)
    return runs.results(keep_basis)


class LanczosRuns:
    """Lanczos runs of ``op`` from the rows of ``starts`` that can be extended step by step.

    ``extend(m)`` brings every run that has not broken down to ``m`` steps in lockstep
    (one ``op.matmat`` a step); a later ``extend`` to more steps continues the same
    recurrences, so runs extended in stages are bit for bit the runs made in one go
    (adaptive SLQ grows its runs until its error bounds are small enough). ``capacity``
    sizes the bases up front; they grow when a run outgrows it. The storage dtype is
    fixed at construction.
    """

    def __init__(
        self,
        op: CurvatureOperator,
        starts: Tensor,
        capacity: int,
        reorth: bool = True,
        storage_dtype: torch.dtype | None = None,
        breakdown_tol: float = 1e-10,
    ) -> None:
        dim = op.shape[0]
        if starts.ndim != 2 or starts.shape[1] != dim or starts.shape[0] < 1:
            raise UsageError(f"Lanczos start vectors have shape {tuple(starts.shape)}, expected (k, {dim})")
        self.op = op
        self.dim = dim
        capacity = max(1, min(capacity, dim))
        if storage_dtype is None:
            storage_dtype = torch.float32 if capacity * dim * 8 > AUTO_FLOAT64_BASIS_BYTES else torch.float64
        self._runs = [_Run(s, capacity, storage_dtype, reorth, breakdown_tol) for s in starts]

    @property
    def steps(self) -> list[int]:
        """Steps taken by each run."""
        return [len(r.alpha) for r in self._runs]

    @property
    def broken_down(self) -> list[bool]:
        """Whether each run ended by breakdown (its quadrature is then exact)."""
        return [r.finished for r in self._runs]

    def extend(self, iterations: int, callback: StepCallback | None = None, runs: int | None = None,
               until: Callable[[], bool] | None = None) -> int:
        """Advance every run (the first ``runs`` only, if given) that has not broken down to
        ``min(iterations, dim)`` steps; returns the operator products spent
        (``callback(products)`` after each step). ``until`` is asked before every step after
        the first: once it is true the runs stop short (a time budget)."""
        target = min(iterations, self.dim)
        products = 0
        going = [r for r in self._runs[:runs] if not r.finished and len(r.alpha) < target]
        for run in going:
            run.reserve(target)
        while going and not (products and until is not None and until()):
            block = self.op.matmat(torch.stack([r.q for r in going], dim=1))
            # One contiguous row a run: each run's dot products see a plain vector.
            ws = block.detach().to("cpu", torch.float64).T.contiguous()
            for run, w in zip(going, ws):
                run.advance(w)
            products += len(going)
            if callback is not None:
                callback(products)
            going = [r for r in going if not r.finished and len(r.alpha) < target]
        return products

    def reserve(self, iterations: int, runs: int | None = None) -> None:
        """Room for ``min(iterations, dim)`` basis vectors in every run (the first ``runs``
        only, if given) that has not broken down: ``extend`` a step at a time then copies no
        basis."""
        for run in self._runs[:runs]:
            if not run.finished:
                run.reserve(min(iterations, self.dim))

    def exhaust(self, run: int = 0) -> None:
        """Let run ``run`` go on past a breakdown until its basis spans the whole space: at an
        invariant Krylov space it restarts from a seeded vector orthogonal to its basis (an
        uncoupled block of ``T``, β = 0), so after D steps in all ``T`` holds every
        eigenvalue of ``op`` (``slq.runs_quadrature``: the exact spectrum) whatever their
        multiplicities, which stop a plain run at as many steps as distinct eigenvalues. The
        probe's own rule is unchanged: the later blocks carry no weight of it."""
        self._runs[run].exhaust()

    @property
    def allocated(self) -> list[int]:
        """Basis rows each run holds in host memory (its capacity; 0 once released)."""
        return [len(r.basis) for r in self._runs]

    def release(self, first: int = 0) -> None:
        """Free the bases of the runs from index ``first`` on; their tridiagonals stay, so
        ``results()`` still gives their quadrature, but they can no longer be extended."""
        for run in self._runs[first:]:
            run.basis, run.released = run.basis[:0].clone(), True

    def results(self, keep_basis: bool = False) -> list[LanczosResult]:
        return [r.result(keep_basis) for r in self._runs]


class _Run:
    """One Lanczos recurrence: its basis, tridiagonal and current vectors.

    ``q`` is always the next vector to multiply (after step j it is q_{j+1}, with β_j
    already in ``beta``), so the recurrence can be continued at any time; ``finished``
    means breakdown (an invariant Krylov space).
    """

    def __init__(self, start: Tensor, capacity: int, storage: torch.dtype, reorth: bool, tol: float) -> None:
        q = start.detach().to("cpu", torch.float64)
        norm = float(q.norm())
        if not np.isfinite(norm) or norm == 0.0:
            raise NumericalError("the Lanczos start vector is zero or not finite")
        self.q = q / norm
        self.q_prev = torch.zeros_like(q)
        self.basis = torch.empty(capacity, len(q), dtype=storage)
        self.alpha: list[float] = []
        self.beta: list[float] = []
        self.residual = 0.0
        self.finished = False
        self.released = False
        self._reorth, self._tol = reorth, tol
        self._scale = 0.0  # max |entry| of the tridiagonal so far: the breakdown test's scale
        self._restarts: torch.Generator | None = None  # set by ``exhaust``: restart at breakdowns

    def exhaust(self) -> None:
        """Restart at every breakdown until the basis spans the space (``LanczosRuns.exhaust``);
        a run that already broke down restarts now."""
        self._restarts = torch.Generator().manual_seed(RESTART_SEED)
        if self.finished and len(self.alpha) < len(self.q):
            self.finished = self._restart(len(self.alpha))

    def _restart(self, rows: int) -> bool:
        """A new block after ``rows`` basis vectors that span an invariant space: ``q`` becomes
        a seeded ±1 vector orthogonal to them and β = 0 uncouples the block. ``True`` (the run
        ends) when no such vector is found, the rounding of the basis leaving nothing outside it."""
        for _ in range(RESTART_TRIES):
            bits = torch.randint(0, 2, (len(self.q),), generator=self._restarts, dtype=torch.int64)
            fresh, norm = _reorthogonalised(self.basis, rows, (2 * bits - 1).to(torch.float64))
            if norm > RESTART_MIN_NORM:
                self.beta.append(0.0)
                self.q_prev, self.q, self.residual = self.q, fresh / norm, 0.0
                return False
        return True

    def reserve(self, steps: int) -> None:
        """Room for ``steps`` basis vectors (copies the basis once when it must grow)."""
        if self.released:
            raise RuntimeError("a Lanczos run whose basis was released cannot be extended")
        if steps > len(self.basis):
            grown = torch.empty(steps, self.basis.shape[1], dtype=self.basis.dtype)
            grown[: len(self.alpha)] = self.basis[: len(self.alpha)]
            self.basis = grown

    def advance(self, w: Tensor) -> None:
        """One step with ``w = H q`` (float64, host)."""
        j = len(self.alpha)
        self.reserve(j + 1)
        self.basis[j] = self.q
        a = float(self.q @ w)
        # q·w is NaN/Inf iff some entry of w is (0·Inf = NaN): a scalar check of the vector.
        if not np.isfinite(a):
            raise NumericalError(f"the operator returned NaN/Inf at Lanczos step {j + 1}")
        w = torch.sub(w, self.q, alpha=a)  # a new tensor: the in-place updates below never touch the operator's
        if self.beta:
            w.sub_(self.q_prev, alpha=self.beta[-1])
        if self._reorth:
            w, b = _reorthogonalised(self.basis, j + 1, w)
        else:
            b = float(w.norm())
        self.alpha.append(a)
        self.residual = b
        # the tridiagonal's largest entry so far, kept as it grows (a scan is O(steps) a step)
        self._scale = scale = max(self._scale, abs(a))
        if j + 1 == len(w):
            self.residual, self.finished = 0.0, True
        elif b <= self._tol * max(scale, np.finfo(float).tiny):
            self.residual = 0.0
            self.finished = self._restarts is None or self._restart(j + 1)
        else:
            self.beta.append(b)
            self._scale = max(self._scale, b)
            self.q_prev, self.q = self.q, w / b

    def result(self, keep_basis: bool) -> LanczosResult:
        k = len(self.alpha)
        return LanczosResult(
            alpha=np.asarray(self.alpha),
            beta=np.asarray(self.beta[: k - 1]),
            residual=self.residual,
            basis=self.basis[:k] if keep_basis else None,
        )


def ritz(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature of T: Ritz values (ascending) and weights (squared first components).

    Solved in float64 by ``scipy.linalg.eigh_tridiagonal``; weights sum to 1.
    """
    import scipy.linalg  # here: --help and info start without SciPy (~0.35 s)

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
    import scipy.linalg

    alpha = np.asarray(result.alpha, dtype=np.float64)
    if len(alpha) == 1:
        nodes, vecs = alpha.copy(), np.ones((1, 1))
    else:
        nodes, vecs = scipy.linalg.eigh_tridiagonal(alpha, result.beta)
    coeffs = torch.from_numpy(np.ascontiguousarray(vecs.T))
    with ieee_float32():  # a float32 basis's combinations would round at the model's switches
        vectors = torch.stack([_combine(result.basis, result.steps, c) for c in coeffs])
    return nodes, vectors, result.residual * np.abs(vecs[-1])


def reorthogonalisation_seconds(dim: int, storage_dtype: torch.dtype,
                                clock: Callable[[], float] = time.perf_counter,
                                max_bytes: float = math.inf) -> float:
    """Seconds a Lanczos step's reorthogonalisation takes per basis vector it projects
    against, on ``clock``: step j projects against j of them, so a run's m steps take
    m(m+1)/2 times this beyond their products (with thousands of parameters and hundreds
    of steps, more than the products). Timed on a basis of zeros stored as ``storage_dtype``
    (the products cost what any values do; a projection that removes nothing takes one
    pass, as a run's steps mostly do: the DGKS test): the difference between projections
    against all of its rows and against half of them, each the fastest of
    ``TIMED_PROJECTIONS`` after an untimed one (other processes' load only adds to a time:
    a difference of the slower ones is the noise's), is a row's. A
    projection's own costs (``w``'s norms and casts, passes over D) come once a step, in
    the step's price; over the one row that 2²⁴ elements held past D = 8.4 million they
    made a row 100-140 ms where it takes 5-10 ms (D = 11.1 million on a CPU: an MLP's runs
    stopped after 5 steps of a 60 s --time-budget with about 20 s of it left; 496 rows a part at
    31 steps for a CIFAR ResNet-18, whose runs a 150 s budget stopped at 30 steps with a third
    of it left), so the basis holds at least ``MIN_TIMING_ROWS``, but never more bytes than
    ``max_bytes`` (the host memory the bases may hold, ``--basis-memory``): 8 rows are 360 MB
    at D = 11.2 million, and a basis that may hold fewer is timed on those, at least one
    (a run could hold no more rows than that anyway). Where the clock's noise leaves no
    difference, the mean over all the rows, which errs high."""
    held = max(1, int(max_bytes // (dim * storage_dtype.itemsize))) if math.isfinite(max_bytes) else dim
    rows = min(max(MIN_TIMING_ROWS, min(dim, TIMING_ELEMENTS // dim)), held)
    basis = torch.zeros(rows, dim, dtype=storage_dtype)
    w = torch.ones(dim, dtype=torch.float64)

    def projection(count: int) -> float:
        seconds = []
        for _ in range(1 + TIMED_PROJECTIONS):
            copy = w.clone()  # outside the timing: a step projects its own vector
            start = clock()
            _reorthogonalised(basis, count, copy)
            seconds.append(clock() - start)
        return min(seconds[1:])

    whole, half = projection(rows), projection(rows // 2)
    row = (whole - half) / (rows - rows // 2)
    return row if row > 0 else whole / rows


def _reorthogonalised(basis: Tensor, rows: int, w: Tensor) -> tuple[Tensor, float]:
    """``w`` (updated in place) without its components along the first ``rows`` basis
    vectors, and its norm."""
    norm = float(w.norm())
    with ieee_float32():
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
