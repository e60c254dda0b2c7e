"""The reference code's limit arithmetic, re-implemented faithfully (``--method paper``).

Research note §2.4 and §3.2 (official repo ``density_plot.density_generate`` and
``cal_rate.cal_sparse_rate``), step by step:

1. Density on a grid: ``grid = linspace(mean_runs(min θ) − 0.01, mean_runs(max θ) + 0.01,
   100000)``; kernel variance ``var = σ²·max(1, grid[-1] − grid[0])`` with σ² = 1e-10
   (the range includes the 0.01 overheads, as in the code);
   ``φ_j = mean_runs Σ_k τ_k N(t_j; θ_k, var)``, normalised so ``Σ φ_j Δt = 1``.
2. ``gw(R) = Σ_j p_j r_j²/(R² + r_j²) / Σ_j p_j`` with ``r_j² = 2ε/|t_j|``, tabulated at
   integers ``R = 0..⌊Σ_tensors ‖p‖₂⌋``. With the "important eigenvalues" fraction z, one
   more bin of mass ``z/(1−z)·Σ p`` sits at eigenvalue 1e-30.
3. Ratio grid ``ρ_i = i/1000``: ``n_p = max(1, ceil(ρ_i·N))`` in float64 exactly as the
   code forms it (no tolerance), threshold ``τ = sort(|w|)[n_p − 1]``, every weight with
   ``|w| ≤ τ`` pruned (ties too), ``R_i`` = l2 norm of the pruned weights.
4. ``ρ̂ = argmin_i |gw(round(R_i)) − ρ_i| / 1000`` (first minimum; round half to even as
   ``torch.round``).

The reference code reports only ρ̂. The bounds are computed by the same arithmetic, so
one method is one pipeline: with the AKF margin ``s = a_η/√D``, ``ρ_L = argmin_i
|gw(round R_i) − s − ρ_i|`` and ``ρ_U = argmin_i |gw(round R_i) + s − ρ_i|`` on the same
grid and table, ``ρ_L`` raised to the last grid ratio whose pruned weights are all exact
zeros (``R_i = 0``; 0.999, the grid's end, for an all-zero model) as the default method
raises it to their share; ``bound_mode="geom"`` takes ``ρ_L = ρ̂`` and ``ρ_U`` from the table of the
tangent-cone term. ``gw(round R_i) − ρ_i`` strictly decreases along the grid, so the first
minimiser moves down as the shift grows: ``ρ_L ≤ ρ̂ ≤ ρ_U`` always. ``negative="flat"``
(not in the reference code, which takes |λ|) gives negative grid points curvature 0, a
free direction, in ρ̂ and both bounds alike.

Deliberate deviations, each where the code would crash or return NaN:
* a grid point at exactly t = 0 with positive density: the code divides 2ε by 0 and
  the whole of gw becomes NaN; here the term is evaluated as ``2ε/(2ε + |t|R²)``, which
  equals the code's expression wherever that is finite and takes its limit 1 at t = 0;
* ``round(R_i)`` beyond the table (possible when ``‖w‖`` rounds up past
  ``⌊Σ‖p‖₂⌋``, e.g. a single tensor): the code raises IndexError; here the last table
  entry is used and ``table_clamped`` is set;
* a density that underflows to all zeros (kernel far narrower than the grid step, a
  spectrum range of thousands): the code divides by 0; here NumericalError.
Short of that, a kernel narrower than the grid step (range above about 1) already
distorts the node weights; :class:`KernelAliasing` measures by how much.
The code sums per-tensor norms over all trainable parameters (biases, BatchNorm too);
pass ``table_norm`` to reproduce that, otherwise the given tensors' norms are summed.
Arithmetic is float64 throughout (the code's weights and R are float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from prunelimit.equality import compared_by_value
from prunelimit.errors import NumericalError, UsageError, quoted
from prunelimit.report.notebook import brief
from prunelimit.theory.limit import BOUND_MODES, a_eta
from prunelimit.theory.statdim import (
    Geometry,
    Negative,
    axis_terms,
    check_epsilon,
    check_quadrature,
    check_zero_fraction,
    curvatures,
)

PAPER_BINS = 100_000
PAPER_SIGMA_SQUARED = 1e-10
PAPER_OVERHEAD = 0.01
PAPER_LEVELS = 1000
GRID_ROUNDING = 0.5 / PAPER_LEVELS  # how far the grid answer can lie from the root it rounds: half a step
FLAT_EIGENVALUE = 1e-30
# Nodes per dense kernel block: bounds the (bins × block) temporary to a few MB.
_NODE_BLOCK = 8
# Table entries per block in gw, for the same reason.
_R_BLOCK = 16


@brief
@compared_by_value
@dataclass(frozen=True)
class PaperPrediction:
    """The reference code's predicted ratio (removed fraction) and its working arrays.

    ``ratios``/``radii`` are the ratio grid and R_i along it; ``gw`` is the table at
    integer R; ``radius`` is R at the answer and ``radius_index`` its rounded value.
    ``lower``/``upper`` are the bounds on the same grid (``None`` for ``bound_mode="none"``),
    ``margin`` the AKF shift a_η/√D they used (0 unless ``"akf"``); ``aliasing`` how well
    the density kept the node weights (:class:`KernelAliasing`).
    """

    ratio: float
    density: float
    radius: float
    radius_index: int
    epsilon: float
    zero_fraction: float
    ratios: np.ndarray
    radii: np.ndarray
    gw: np.ndarray
    table_clamped: bool
    negative: Negative = "abs"
    lower: float | None = None
    upper: float | None = None
    bound_mode: str = "none"
    margin: float = 0.0
    aliasing: KernelAliasing | None = None
    rounding: float = GRID_ROUNDING


@dataclass(frozen=True)
class KernelAliasing:
    """How faithfully the reference density keeps the quadrature's node weights.

    The code's kernel variance ``σ²·max(1, range)`` grows with the spectrum's range more
    slowly than the grid step ``range/(bins − 1)``: past a range of about 1 the kernel's
    std falls below the step, and a node's Gaussian, sampled on the grid, no longer sums
    to its weight. ``mass_min``/``mass_max``: the smallest and largest ``Σ_j N(t_j; θ_k,
    var)·Δt`` over the nodes (1 when the kernel is resolved); ``moved``: the share of the
    quadrature weight that normalisation shifts between nodes as a result (mean over runs
    of ``½ Σ_k |τ_k m_k / Σ τ m − τ_k|``). A node of one run beyond the grid, whose ends
    are the runs' mean extremes ± 0.01, loses its weight too and counts the same way.
    """

    kernel_std: float
    grid_step: float
    mass_min: float
    mass_max: float
    moved: float

    @property
    def aliased(self) -> bool:
        return self.kernel_std < self.grid_step


def code_density(
    nodes: np.ndarray,
    weights: np.ndarray,
    bins: int = PAPER_BINS,
    sigma_squared: float = PAPER_SIGMA_SQUARED,
    overhead: float = PAPER_OVERHEAD,
) -> tuple[np.ndarray, np.ndarray]:
    """``(grid, density)`` of ``density_plot.density_generate`` (step 1 above)."""
    grid, density, _ = smoothed_density(nodes, weights, bins, sigma_squared, overhead)
    return grid, density


def smoothed_density(
    nodes: np.ndarray,
    weights: np.ndarray,
    bins: int = PAPER_BINS,
    sigma_squared: float = PAPER_SIGMA_SQUARED,
    overhead: float = PAPER_OVERHEAD,
) -> tuple[np.ndarray, np.ndarray, KernelAliasing]:
    """:func:`code_density` and how much of each node's weight its kernel kept on the grid."""
    theta, tau = check_quadrature(nodes, weights)
    hi = float(np.mean(theta.max(axis=1))) + overhead
    lo = float(np.mean(theta.min(axis=1))) - overhead
    grid = np.linspace(lo, hi, num=bins)
    step = grid[1] - grid[0]
    var = sigma_squared * max(1.0, hi - lo)
    per_run = np.zeros((len(theta), bins))
    mass = np.zeros_like(theta)
    for i in range(len(theta)):
        for s in range(0, theta.shape[1], _NODE_BLOCK):
            d = grid[:, None] - theta[i, None, s : s + _NODE_BLOCK]
            kernel = np.exp(-(d * d) / (2.0 * var)) / math.sqrt(2.0 * math.pi * var)
            per_run[i] += kernel @ tau[i, s : s + _NODE_BLOCK]
            mass[i, s : s + _NODE_BLOCK] = kernel.sum(axis=0) * step
    density = per_run.mean(axis=0)
    total = density.sum() * step
    if not total > 0.0:
        raise NumericalError(
            f"reference density underflowed to zero (spectrum range {hi - lo:.3g} is too wide "
            f"for {bins} bins with sigma^2={sigma_squared}); use the default method"
        )
    return grid, density / total, _aliasing(math.sqrt(var), float(step), tau, mass)


def _aliasing(std: float, step: float, tau: np.ndarray, mass: np.ndarray) -> KernelAliasing:
    real = tau > 0
    kept = tau * mass
    sums = kept.sum(axis=1, keepdims=True)
    shares = np.divide(kept, sums, out=np.zeros_like(kept), where=sums > 0)
    moved = float(np.mean(0.5 * np.abs(shares - tau).sum(axis=1)))
    return KernelAliasing(std, step, float(mass[real].min()), float(mass[real].max()), moved)


def code_gw(
    grid: np.ndarray,
    density: np.ndarray,
    table_size: int,
    epsilon: float,
    zero_fraction: float = 0.0,
    negative: Negative = "abs",
    geometry: Geometry = "disc",
) -> np.ndarray:
    """``cal_gw`` at R = 0, 1, ..., table_size − 1 (step 2 above); ``negative``/``geometry``
    as in :mod:`prunelimit.theory.statdim` (the code's is ``"abs"``/``"disc"``)."""
    check_epsilon(epsilon)
    check_zero_fraction(zero_fraction)
    curvature = np.append(curvatures(grid, negative), FLAT_EIGENVALUE)
    mass = np.append(density, zero_fraction / (1.0 - zero_fraction) * density.sum())
    # The code drops zero-density bins; they contribute nothing, and dropping them keeps
    # the (R × bins) blocks small.
    used = mass > 0
    curvature, mass = curvature[used], mass[used]
    r_sq = np.arange(table_size, dtype=np.float64) ** 2
    out = np.empty(table_size)
    for s in range(0, table_size, _R_BLOCK):
        terms = axis_terms(curvature[None, :], r_sq[s : s + _R_BLOCK, None], epsilon, geometry)
        out[s : s + _R_BLOCK] = terms @ mass
    return out / mass.sum()


def code_radii(
    tensors: Sequence[torch.Tensor | np.ndarray], levels: int = PAPER_LEVELS
) -> tuple[np.ndarray, np.ndarray]:
    """``(ρ_i, R_i)`` on the code's ratio grid with its tie rule (step 3 above)."""
    ratios, radii, _ = _radii_and_floor(tensors, levels)
    return ratios, radii


def _radii_and_floor(
    tensors: Sequence[torch.Tensor | np.ndarray], levels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``code_radii`` and, along the same grid, R of the ``⌊ρ_i·N⌋`` smallest weights: the
    continuous R(ρ), which interpolates between whole weights, lies between the two."""
    flat = np.concatenate([_as_numpy(t).reshape(-1) for t in tensors])
    if flat.size == 0:
        raise UsageError("no prunable weights given to the paper method")
    mags = np.sort(np.abs(flat))
    cum_sq = np.concatenate([[0.0], np.cumsum(mags * mags)])
    ratios = np.arange(levels) / levels
    n_p = np.maximum(1, np.ceil(ratios * float(flat.size)).astype(np.int64))
    pruned = np.searchsorted(mags, mags[n_p - 1], side="right")
    below = np.floor(ratios * float(flat.size)).astype(np.int64)
    return ratios, np.sqrt(cum_sq[pruned]), np.sqrt(cum_sq[below])


def rounding_reach(gw: np.ndarray, radii: np.ndarray, floor_radii: np.ndarray, ratios: np.ndarray,
                   best: int) -> float:
    """How far the grid answer ``ratios[best]`` can lie from the continuous root of its own
    spectrum's ``gw``: the continuous ``F(R(ρ))`` lies between ``gw`` at ``⌊R⌋`` of the
    whole weights below ``ρ_i·N`` and at ``⌈R_i⌉`` (``gw`` falls as R grows), so the root,
    like the answer, lies between those tables' grid roots; the farther of them from the
    answer, plus half a grid step for the roots' own rounding onto the grid."""
    last = gw.size - 1
    high = _grid_root(gw[np.minimum(np.floor(floor_radii).astype(np.int64), last)], ratios)
    low = _grid_root(gw[np.minimum(np.ceil(radii).astype(np.int64), last)], ratios)
    return (max(high - best, best - low, 0) + 0.5) / len(ratios)


def paper_limit(
    tensors: Sequence[torch.Tensor | np.ndarray],
    nodes: np.ndarray,
    weights: np.ndarray,
    epsilon: float,
    zero_fraction: float = 0.0,
    table_norm: float | None = None,
    bins: int = PAPER_BINS,
    sigma_squared: float = PAPER_SIGMA_SQUARED,
    levels: int = PAPER_LEVELS,
    negative: Negative = "abs",
    bound_mode: str = "none",
    eta: float = 0.01,
    dim: int | None = None,
) -> PaperPrediction:
    """The reference code's predicted ratio ρ̂ from prunable ``tensors`` and a quadrature,
    with its bounds by the same arithmetic (``bound_mode`` and ``eta`` as in
    :func:`prunelimit.theory.limit.predict_limit`; ``dim`` is D, needed for ``"akf"``)."""
    if bound_mode not in BOUND_MODES:
        raise ValueError(f"bound_mode must be one of {', '.join(BOUND_MODES)}, got {quoted(bound_mode)}")
    if bound_mode == "akf" and not (dim is not None and dim >= 1):
        raise ValueError(f"bound_mode='akf' needs the Hessian dimension dim >= 1, got {quoted(dim)}")
    if table_norm is None:
        table_norm = sum(float(np.linalg.norm(_as_numpy(t))) for t in tensors)
    grid, density, aliasing = smoothed_density(nodes, weights, bins, sigma_squared)
    size = int(table_norm) + 1
    gw = code_gw(grid, density, size, epsilon, zero_fraction, negative)
    ratios, radii, floor_radii = _radii_and_floor(tensors, levels)
    index = np.rint(radii).astype(np.int64)
    clamped = bool(np.any(index >= gw.size))
    index = np.minimum(index, gw.size - 1)
    best = _grid_root(gw[index], ratios)
    lower = upper = None
    margin = 0.0
    if bound_mode == "akf":
        margin = a_eta(eta) / math.sqrt(dim)
        lower, upper = _grid_root(gw[index] - margin, ratios), _grid_root(gw[index] + margin, ratios)
        # As in predict_limit: removing only exact zeros (R_i = 0) leaves the loss unchanged,
        # feasible for certain, so the last such grid point bounds ρ_L from below.
        lower = max(lower, int(np.count_nonzero(radii == 0.0)) - 1)
    elif bound_mode == "geom":
        tangent = code_gw(grid, density, size, epsilon, zero_fraction, negative, "tangent")
        lower, upper = best, _grid_root(tangent[index], ratios)
    ratio = best / levels
    return PaperPrediction(
        ratio=ratio,
        density=1.0 - ratio,
        radius=float(radii[best]),
        radius_index=int(index[best]),
        epsilon=epsilon,
        zero_fraction=zero_fraction,
        ratios=ratios,
        radii=radii,
        gw=gw,
        table_clamped=clamped,
        negative=negative,
        lower=None if lower is None else lower / levels,
        upper=None if upper is None else upper / levels,
        bound_mode=bound_mode,
        margin=margin,
        aliasing=aliasing,
        rounding=rounding_reach(gw, radii, floor_radii, ratios, best),
    )


def _grid_root(fractions: np.ndarray, ratios: np.ndarray) -> int:
    """The code's answer: the first grid index where ``|fraction − ρ_i|`` is smallest."""
    return int(np.argmin(np.abs(fractions - ratios)))


def _as_numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().to("cpu", torch.float64).numpy()
    return np.asarray(t, dtype=np.float64)
