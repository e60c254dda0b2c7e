"""Stochastic Lanczos quadrature (SLQ): the Hessian spectrum as nodes and weights.

Each run draws a Rademacher probe ``z``, runs Lanczos from it, and turns the tridiagonal
into a Gauss quadrature ``(θ_k, τ_k)`` of the probe's spectral measure, so that
``(1/D)·tr f(H) ≈ mean_runs Σ_k τ_k f(θ_k)``. Methods:

* ``"h"`` (default): Lanczos on ``H`` (the reference code's method, ``--method paper``);
  nodes are signed eigenvalue estimates. Biased for ``f(λ) = 1/(1 + c|λ|)`` because ``|λ|``
  has a kink at 0, where most of the spectrum sits (docs/accuracy.md);
* ``"h2"``: Lanczos on ``H²`` (two HVPs a step); nodes ``sqrt(max(θ, 0))`` are eigenvalue
  estimates of ``|H|``. Measured worse than ``"h"`` per HVP on digits MLPs
  (docs/accuracy.md); kept for comparison.

Whether a spectrum is worth an SLQ estimate at all, or the exact one (all eigenvalues of
``prunelimit.curvature.exact.exact_hessian``) is affordable, is decided by the caller:
``prunelimit.api.choose_solver`` for the commands.

Every run is seeded from ``seed`` alone: the same seed and operator give the same numbers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from prunelimit.curvature.bracket import abs_bracket
from prunelimit.curvature.lanczos import LanczosResult, LanczosRuns, lanczos, ritz, ritz_vectors
from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.errors import UsageError

METHODS = ("h", "h2")
DEFAULT_METHOD = "h"
DEFAULT_ITERATIONS = 200  # "h" at m=200 is within ~1 % up to c·λmax = 1e4-1e5 (docs/accuracy.md)
DEFAULT_RUNS = 8
DEFLATION_TOL = 1e-6  # relative residual below which a Ritz pair counts as converged
# Runs advanced together on a recomputing HVP engine (HessianOperator.lockstep): one graph
# rebuild serves them all. 4 cut the time per probe on an MLP and a LeNet; 8 gained nothing
# more on the MLP and lost on the LeNet (benchmarks/bench_lockstep.py; docs/benchmarks.md,
# Lockstep SLQ on the recomputing engine). Their bases are held at once, up to LOCKSTEP_BASIS_BYTES.
LOCKSTEP_PROBES = 4
LOCKSTEP_BASIS_BYTES = 16 * 2**30

ProgressCallback = Callable[[int, int], None]


def rademacher(dim: int, generator: torch.Generator) -> Tensor:
    """A ±1 float64 vector drawn from ``generator``."""
    bits = torch.randint(0, 2, (dim,), generator=generator, dtype=torch.int64)
    return (2 * bits - 1).to(torch.float64)


def slq(
    op: CurvatureOperator,
    iterations: int = DEFAULT_ITERATIONS,
    runs: int = DEFAULT_RUNS,
    seed: int = 0,
    method: str = DEFAULT_METHOD,
    callback: ProgressCallback | None = None,
    storage_dtype: torch.dtype | None = None,
    deflate: int = 0,
    lockstep: int = 1,
    until: Callable[[], bool] | None = None,
    span: bool = False,
    grouped: Callable[[SpectralQuadrature], None] | None = None,
) -> SpectralQuadrature:
    """Spectral quadrature of ``op`` by ``method`` (see the module doc) from ``runs``
    Rademacher probes and ``iterations`` Lanczos steps each.

    ``deflate=k``: a first Lanczos run on H (``iterations`` steps) yields converged
    extreme Ritz pairs; up to ``k`` of the largest ``|θ|`` enter exactly (weight 1/D each)
    and SLQ runs on the deflated operator ``PHP`` with probes ``Pz``, scaled to the
    remaining ``D − k'`` dimensions. ``callback(done, total)`` reports Lanczos steps.

    ``lockstep=k`` advances the runs in groups of ``k`` (``LanczosRuns``), applying the
    operator to a group's vectors at once by ``op.matmat``. Probes and results are those
    of one run after another, to the rounding of the operator's block product
    (``Columnwise(op)``: the same products); the bases of a group are held together.

    ``until`` is asked before every product after the first: once it is true the runs stop
    where they are and the groups not started stay out (a time budget).

    ``span``: where the steps reach D (plain runs on H), the first run goes on past a
    breakdown until it spans the space (``LanczosRuns.exhaust``), the exact spectrum
    (``runs_quadrature``), as adaptive SLQ's does. A plain run stops after as many steps as
    H has distinct eigenvalues (a rank below D, exact zeros), one probe's estimate: a fixed
    plan of 50 steps × 2 probes on a 33-weight linear model of rank 16 stated ρ* 0.668 ± 0.114
    against the exact 0.515. Its products stay within the ``iterations`` a run was given.

    ``grouped(quadrature)`` is called after each group with the quadrature of the runs so far
    (a running estimate for a progress status).
    """
    if method not in METHODS:
        raise UsageError(f"unknown SLQ method {method!r}; choose one of {', '.join(METHODS)}")
    if runs < 1:
        raise UsageError(f"SLQ needs at least 1 run, got {runs}")
    if lockstep < 1:
        raise UsageError(f"lockstep must be at least 1 run, got {lockstep}")
    dim = op.shape[0]
    generator = torch.Generator().manual_seed(seed)
    m = min(iterations, dim)
    hvps = 0
    exact_nodes = np.zeros(0)
    basis = None  # of the deflated eigenvectors (rows)
    if deflate > 0:
        first = lanczos(op, m, rademacher(dim, generator), keep_basis=True)
        hvps += first.steps
        theta, vectors, residual = ritz_vectors(first)
        order = np.argsort(-np.abs(theta))
        good = [i for i in order[:deflate] if residual[i] <= DEFLATION_TOL * abs(theta[i])]
        exact_nodes = theta[good]
        basis = vectors[good]
    block: CurvatureOperator = op if basis is None else _Deflated(op, basis)
    per_step = 2 if method == "h2" else 1
    if method == "h2":
        block = _Squared(block)
    results, broken = [], []
    stepped = 0  # the steps the groups before this one took: fewer than planned where a run broke down
    for first in range(0, runs, lockstep):
        if hvps and until is not None and until():
            break
        group = range(first, min(first + lockstep, runs))
        step_cb = None
        if callback is not None:
            # the steps taken and those planned for the runs left: a count that neither jumps nor
            # ends short of its total where a run broke down (a rank below D) or spanned the space
            step_cb = lambda j, done=stepped, total=stepped + (runs - first) * m: callback(done + j, total)  # noqa: E731
        probes = torch.stack([rademacher(dim, generator) for _ in group])
        if basis is not None:
            probes = _project(probes, basis)
        group_runs = LanczosRuns(block, probes, m, storage_dtype=storage_dtype)
        if span and first == 0 and m == dim and method == "h" and basis is None:
            group_runs.exhaust()
        taken = group_runs.extend(m, step_cb, until=until)
        stepped += taken
        hvps += per_step * taken
        results += group_runs.results()
        broken += group_runs.broken_down
        if grouped is not None:
            grouped(runs_quadrature(results, broken, dim, method, exact_nodes, hvps, iterations=m))
    if callback is not None and stepped < runs * m:  # runs stopped early or were cut: the steps taken are the total
        callback(stepped, stepped)
    short = any(r.steps < m and not b for r, b in zip(results, broken))  # cut by ``until``: steps as taken
    return runs_quadrature(results, broken, dim, method, exact_nodes, hvps,
                           iterations=max(r.steps for r in results) if short else m)


def runs_quadrature(
    results: list[LanczosResult], broken_down: list[bool], dim: int, method: str = "h",
    exact_nodes: np.ndarray = np.zeros(0), hvps: int = 0, iterations: int | None = None,
) -> SpectralQuadrature:
    """The quadrature of Lanczos runs (one row each), with the rule after half the steps
    (``half``) and, for plain runs on H, the Gauss/Gauss–Radau bounding rules on |λ|
    (``lower``/``upper``, ``prunelimit.curvature.bracket``). ``exact_nodes``: deflated
    eigenvalues entering every row exactly (weight 1/D each). ``iterations``: the steps the
    runs were asked for (default: the longest run), whose half defines ``half``."""
    k = len(exact_nodes)
    m = iterations or max(r.steps for r in results)
    nodes, weights = _rows(len(results), m + k, exact_nodes, dim, method)
    half_nodes, half_weights = _rows(len(results), m // 2 + k, exact_nodes, dim, method)
    for r, result in enumerate(results):
        steps = result.steps
        for out_nodes, out_weights, s in ((nodes, weights, steps), (half_nodes, half_weights, min(steps, m // 2))):
            if s == 0:
                continue
            theta, tau = ritz(result.alpha[:s], result.beta[: s - 1])
            if method == "h2":
                theta = np.sqrt(np.maximum(theta, 0.0))
            out_nodes[r, k : k + len(theta)] = theta
            out_weights[r, k : k + len(tau)] = tau * (dim - k) / dim
    signed = method == "h"
    taken = tuple(r.steps for r in results)
    half = SpectralQuadrature(half_nodes, half_weights, dim, signed) if m // 2 >= 1 else None
    lower = upper = moments = None
    if method == "h" and k == 0:
        moments = np.array([_first_step_moment(r) for r in results])
        spanning = next((r for r in results if r.steps == dim), None)
        if spanning is not None:
            # A run of D steps without breakdown has the whole space as its Krylov space:
            # its Ritz values are H's D eigenvalues (all simple), and the exact measure
            # weights each 1/D. Every row is that spectrum: no probe noise is left (the
            # probes' own weights scatter, and a few runs can agree by chance at small D).
            theta, _ = ritz(spanning.alpha, spanning.beta)
            nodes, weights = np.tile(theta, (len(results), 1)), np.full((len(results), dim), 1.0 / dim)
            rule = _padded([(np.abs(theta), weights[0])] * len(results), dim)
            return SpectralQuadrature(nodes, weights, dim, signed=True, hvps=hvps, half=half, lower=rule,
                                      upper=rule, exact=True, second_moments=moments, run_steps=taken)
        brackets = [abs_bracket(r.alpha, r.beta, exact=b) for r, b in zip(results, broken_down)]
        lower = _padded([b.lower for b in brackets], dim)
        upper = _padded([b.upper for b in brackets], dim)
    return SpectralQuadrature(nodes, weights, dim, signed=signed, hvps=hvps, half=half, lower=lower, upper=upper,
                              second_moments=moments, run_steps=taken)


def _first_step_moment(result: LanczosResult) -> float:
    """``‖Hq₁‖² = α₁² + β₁²`` of a run's unit start vector: ``β₁`` is the first off-diagonal,
    or the residual after a run of one step (0 after a breakdown, where ``Hq₁ = α₁q₁``)."""
    beta = result.beta[0] if len(result.beta) else result.residual
    return float(result.alpha[0] ** 2 + beta**2) if result.steps else 0.0


def _padded(rules: list[tuple[np.ndarray, np.ndarray]], dim: int) -> SpectralQuadrature:
    """Rules of different lengths as zero-weight-padded rows of an unsigned quadrature."""
    width = max(len(nodes) for nodes, _ in rules)
    nodes, weights = np.zeros((len(rules), width)), np.zeros((len(rules), width))
    for r, (x, w) in enumerate(rules):
        nodes[r, : len(x)], weights[r, : len(w)] = x, w
    return SpectralQuadrature(nodes, weights, dim, signed=False)


def _rows(runs: int, width: int, exact_nodes: np.ndarray, dim: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded node/weight rows with the deflated (exact) nodes in front."""
    k = len(exact_nodes)
    nodes, weights = np.zeros((runs, width)), np.zeros((runs, width))
    nodes[:, :k] = np.abs(exact_nodes) if method == "h2" else exact_nodes
    weights[:, :k] = 1.0 / dim
    return nodes, weights


def extreme_eigenvalues(
    op: CurvatureOperator, iterations: int = 50, seed: int = 0, storage_dtype: torch.dtype | None = None
) -> tuple[float, float]:
    """``(λmax, λmin)`` of the operator: extreme Ritz values of one Lanczos run on H."""
    start = rademacher(op.shape[0], torch.Generator().manual_seed(seed))
    result = lanczos(op, iterations, start, storage_dtype=storage_dtype)
    theta, _ = ritz(result.alpha, result.beta)
    return float(theta[-1]), float(theta[0])


def _project(rows: Tensor, basis: Tensor) -> Tensor:
    """``rows`` without their components along the orthonormal rows of ``basis``."""
    return rows - (rows.to("cpu", torch.float64) @ basis.T) @ basis


class _Deflated:
    """``P H P`` with ``P`` the projector off the orthonormal rows of ``basis``."""

    def __init__(self, op: CurvatureOperator, basis: Tensor) -> None:
        self.op, self.basis = op, basis
        self.shape, self.dtype, self.device = op.shape, op.dtype, op.device

    def matvec(self, v: Tensor) -> Tensor:
        return self.matmat(v[:, None])[:, 0]

    def matmat(self, V: Tensor) -> Tensor:
        # Projected as rows (the probes' layout), so a group's products equal one run's.
        inner = _project(V.T.contiguous(), self.basis).T
        return _project(self.op.matmat(inner).T.contiguous(), self.basis).T


class _Squared:
    """``H²``: two products of ``op`` a product."""

    def __init__(self, op: CurvatureOperator) -> None:
        self.op = op
        self.shape, self.dtype, self.device = op.shape, op.dtype, op.device

    def matvec(self, v: Tensor) -> Tensor:
        return self.op.matvec(self.op.matvec(v))

    def matmat(self, V: Tensor) -> Tensor:
        return self.op.matmat(self.op.matmat(V))
