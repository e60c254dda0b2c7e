"""The spectrum as a quadrature rule: the common result of SLQ and exact eigensolves.

Downstream code (F(R), the limit) evaluates ``Σ_k τ_k f(θ_k)`` directly from the nodes
and weights (docs/methods.md), never through a smoothed density.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from prunelimit.equality import compared_by_value
from prunelimit.report.notebook import brief


@brief
@compared_by_value
@dataclass(frozen=True)
class SpectralQuadrature:
    """Quadrature of the normalised spectral measure, one row per probe run.

    ``weights`` rows sum to 1 (zero-weight padding fills rows of runs that broke down
    early). ``signed``: nodes are eigenvalues λ of H; otherwise they are |λ|.
    ``hvps``: Hessian-vector products spent. ``half``: the quadrature of the same runs
    after only the first half of the Lanczos steps (the convergence check of docs/methods.md: a result
    that still moves between m/2 and m steps has not converged). ``lower``/``upper``:
    per-run rules on |λ| whose sums bound each run's exact ``zᵀ f(|H|) z`` from below and
    above for completely monotone ``f(|λ|) = g(λ²)`` such as F's terms
    (``prunelimit.curvature.bracket``); ``None`` where no such bracket is known.
    ``exact``: every row is the whole spectrum (all D eigenvalues, weights 1/D), so no
    probe or truncation error is left. ``second_moments``: per run ``‖Hz‖²/‖z‖²`` of its
    probe (the first Lanczos step's ``α₁² + β₁²``, exact whatever the steps, where the
    rule's own second moment needs two), behind the trace's error bound
    (``prunelimit.curvature.trace``); ``None`` where the rows are not plain runs on H.
    ``product_error``: ``‖H̃z − Hz‖/‖z‖`` measured on one probe, the products' (float32)
    against float64 ones over the same data (0: float64 products, or not measured), in
    eigenvalue units: eigenvalues below it are not resolved (``theory.uncertainty.rounding_floor``).
    ``float64_products``: the nodes come from float64 products: the exact spectrum's float64
    columns, a float64 model's SLQ runs, or a float32 model's adaptive SLQ run again on them
    where the float32 products' error alone kept ρ*'s ± above the tolerance.
    ``slice_error``: a fixed plan's ``product_error`` as a slice of the data measured it, where
    the error over all the data could be measured after the runs (ρ*'s ± at ε and the tolerance
    decide whether it is: ``api.curvature.fixed_plan_error``); ``None`` elsewhere.
    ``run_steps``: each run's Lanczos steps, in row order (``None``: not recorded, as for the
    exact spectrum). A time budget that cuts a stage of new runs, which run one after the
    other, leaves them unequal (32, 32 and 5 steps), where ``steps`` is the longest's alone.
    """

    nodes: np.ndarray
    weights: np.ndarray
    dim: int
    signed: bool
    hvps: int = 0
    half: "SpectralQuadrature | None" = None
    lower: "SpectralQuadrature | None" = None
    upper: "SpectralQuadrature | None" = None
    exact: bool = False
    second_moments: np.ndarray | None = None
    product_error: float = field(default=0.0, repr=False)  # kept out of the brief repr: a report holds several
    float64_products: bool = field(default=False, repr=False)
    run_steps: tuple[int, ...] | None = field(default=None, repr=False)
    slice_error: float | None = field(default=None, repr=False)

    @property
    def runs(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def steps(self) -> int:
        """Lanczos steps of its longest run (a run's nodes, one a step)."""
        return int(max(len(r) for r in self.nodes))

    @property
    def fewest_steps(self) -> int:
        """Lanczos steps of its shortest run (``steps`` where ``run_steps`` is not recorded)."""
        return min(self.run_steps) if self.run_steps else self.steps

    def expectation(self, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Per-run estimate ``Σ_k τ_k f(θ_k)`` of ``(1/D) tr f``; ``f`` is vectorised."""
        return np.sum(self.weights * f(self.nodes), axis=1)

    def mean(self, f: Callable[[np.ndarray], np.ndarray]) -> float:
        """Mean over runs of :meth:`expectation`."""
        return float(np.mean(self.expectation(f)))

    def abs_nodes(self) -> np.ndarray:
        """Nodes as estimates of |λ| regardless of ``signed``."""
        return np.abs(self.nodes)
