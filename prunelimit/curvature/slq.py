"""Stochastic Lanczos quadrature (SLQ): the Hessian spectrum as nodes and weights.

Each run draws a Rademacher probe ``z``, runs Lanczos from it, and turns the tridiagonal
into a Gauss quadrature ``(θ_k, τ_k)`` of the probe's spectral measure, so that
``(1/D)·tr f(H) ≈ mean_runs Σ_k τ_k f(θ_k)``. Methods:

* ``"h"``: Lanczos on ``H`` (the reference code's method, ``--method paper``); nodes are
  signed eigenvalue estimates. Biased for ``f(λ) = 1/(1 + c|λ|)`` because ``|λ|`` has a kink
  at 0, where most of the spectrum sits (SPEC §3, research/baseline.md §5);
* ``"h2"``: Lanczos on ``H²`` (two HVPs a step); nodes ``sqrt(max(θ, 0))`` are eigenvalue
  estimates of ``|H|`` and the measure lives on ``[0, ∞)``, so ``1/(1 + c·x)`` is only
  singular at the end point. The default; see docs/accuracy.md for the study.

Every run is seeded from ``seed`` alone: the same seed and operator give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from prunelimit.curvature.lanczos import Matvec, lanczos, ritz, ritz_vectors
from prunelimit.errors import UsageError

METHODS = ("h", "h2")
DEFAULT_METHOD = "h2"
DEFAULT_ITERATIONS = 100
DEFAULT_RUNS = 8
DEFLATION_TOL = 1e-6  # relative residual below which a Ritz pair counts as converged

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SpectralQuadrature:
    """Quadrature of the normalised spectral measure, one row per probe run.

    ``weights`` rows sum to 1 (zero-weight padding fills rows of runs that broke down
    early). ``signed``: nodes are eigenvalues λ of H; otherwise they are |λ|.
    ``hvps``: Hessian-vector products spent.
    """

    nodes: np.ndarray
    weights: np.ndarray
    dim: int
    signed: bool
    hvps: int = 0

    @property
    def runs(self) -> int:
        return int(self.nodes.shape[0])

    def expectation(self, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Per-run estimate ``Σ_k τ_k f(θ_k)`` of ``(1/D) tr f``; ``f`` is vectorised."""
        return np.sum(self.weights * f(self.nodes), axis=1)

    def mean(self, f: Callable[[np.ndarray], np.ndarray]) -> float:
        """Mean over runs of :meth:`expectation`."""
        return float(np.mean(self.expectation(f)))

    def abs_nodes(self) -> np.ndarray:
        """Nodes as estimates of |λ| regardless of ``signed``."""
        return np.abs(self.nodes)


def rademacher(dim: int, generator: torch.Generator) -> Tensor:
    """A ±1 float64 vector drawn from ``generator``."""
    bits = torch.randint(0, 2, (dim,), generator=generator, dtype=torch.int64)
    return (2 * bits - 1).to(torch.float64)


def slq(
    matvec: Matvec,
    dim: int,
    iterations: int = DEFAULT_ITERATIONS,
    runs: int = DEFAULT_RUNS,
    seed: int = 0,
    method: str = DEFAULT_METHOD,
    callback: ProgressCallback | None = None,
    storage_dtype: torch.dtype | None = None,
    deflate: int = 0,
) -> SpectralQuadrature:
    """SLQ with ``runs`` Rademacher probes and ``iterations`` Lanczos steps each.

    ``deflate=k``: a first Lanczos run on H (``iterations`` steps) yields converged
    extreme Ritz pairs; up to ``k`` of the largest ``|θ|`` enter exactly (weight 1/D each)
    and SLQ runs on the deflated operator ``PHP`` with probes ``Pz``, scaled to the
    remaining ``D − k'`` dimensions. ``callback(done, total)`` reports Lanczos steps.
    """
    if method not in METHODS:
        raise UsageError(f"unknown SLQ method {method!r}; choose one of {', '.join(METHODS)}")
    if runs < 1:
        raise UsageError(f"SLQ needs at least 1 run, got {runs}")
    generator = torch.Generator().manual_seed(seed)
    m = min(iterations, dim)
    hvps = 0
    exact_nodes = np.zeros(0)
    project = None
    if deflate > 0:
        first = lanczos(matvec, dim, m, rademacher(dim, generator), keep_basis=True)
        hvps += first.steps
        theta, vectors, residual = ritz_vectors(first)
        order = np.argsort(-np.abs(theta))
        good = [i for i in order[:deflate] if residual[i] <= DEFLATION_TOL * abs(theta[i])]
        exact_nodes = theta[good]
        basis = vectors[good]
        project = lambda v: v - basis.T @ (basis @ v.to(torch.float64))  # noqa: E731
    k = len(exact_nodes)
    per_step = 2 if method == "h2" else 1
    op = matvec if project is None else (lambda v: project(matvec(project(v))))  # noqa: E731
    op = _square(op) if method == "h2" else op
    nodes = np.zeros((runs, m + k))
    weights = np.zeros((runs, m + k))
    nodes[:, :k] = np.abs(exact_nodes) if method == "h2" else exact_nodes
    weights[:, :k] = 1.0 / dim
    for r in range(runs):
        step_cb = None
        if callback is not None:
            done = r * m
            step_cb = lambda j, done=done: callback(done + j, runs * m)  # noqa: E731
        probe = rademacher(dim, generator)
        if project is not None:
            probe = project(probe)
        result = lanczos(op, dim, m, probe, storage_dtype=storage_dtype, callback=step_cb)
        theta, tau = ritz(result.alpha, result.beta)
        if method == "h2":
            theta = np.sqrt(np.maximum(theta, 0.0))
        nodes[r, k : k + len(theta)] = theta
        weights[r, k : k + len(tau)] = tau * (dim - k) / dim
        hvps += per_step * result.steps
    return SpectralQuadrature(nodes, weights, dim, signed=method == "h", hvps=hvps)


def extreme_eigenvalues(
    matvec: Matvec, dim: int, iterations: int = 50, seed: int = 0
) -> tuple[float, float]:
    """``(λmax, λmin)`` of the operator: extreme Ritz values of one Lanczos run on H."""
    start = rademacher(dim, torch.Generator().manual_seed(seed))
    result = lanczos(matvec, dim, iterations, start)
    theta, _ = ritz(result.alpha, result.beta)
    return float(theta[-1]), float(theta[0])


def _square(matvec: Matvec) -> Matvec:
    return lambda v: matvec(matvec(v))


def default_runs(dim: int) -> int:
    return DEFAULT_RUNS
