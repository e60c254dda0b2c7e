"""The predicted pruning limit ρ* and its bounds (Zhang et al., NeurIPS 2024; docs/theory.md).

ρ* is the unique root of ``g(ρ) = F(R(ρ)) − ρ`` on continuous ρ ∈ [0, 1], where R(ρ) is
the magnitude-pruning projection distance with its prefix sum interpolated linearly
(``radius_continuous`` of the global or layer-wise path), so g is continuous and strictly decreasing
(R is non-decreasing, F non-increasing in R). It is found with ``scipy.optimize.brentq``;
there is no grid and no rounding of R.

Bounds (``bound_mode``):

* ``"akf"`` — Reading A (approximate kinematic formula, default). With
  ``s = a_η/√D``, ``a_η = sqrt(8 ln(4/η))``: ``ρ_L`` solves ``ρ = F(R(ρ)) − s`` (feasible
  w.p. ≥ 1−η below it), ``ρ_U`` solves ``ρ = F(R(ρ)) + s`` (infeasible w.p. ≥ 1−η above it).
* ``"geom"`` — Reading B (two cone geometries, deterministic, η unused). Sufficiency uses
  the smaller projected-disc cone, so ``ρ_L`` solves ``ρ = F_disc(R(ρ))`` and equals ρ*;
  necessity uses the larger tangent cone, so ``ρ_U`` solves ``ρ = F_tangent(R(ρ))``.
* ``"none"`` — no bounds (``lower = upper = None``).

Clipping: the shifted equations may have no root inside [0, 1]. When ``F(R(0)) − s =
1 − s ≤ 0`` (tiny D, s ≥ 1) no ratio is guaranteed feasible and ``ρ_L = 0``; when
``F(R(1)) + s ≥ 1`` even removing every weight is not shown infeasible and ``ρ_U = 1``.
The result flags either case (``lower_clipped`` / ``upper_clipped``). ``ρ_L`` is never
below the share of exact zeros on the path (``zero_ratio``): removing only them changes
nothing, so it is feasible for certain.

The spread of ρ* over probe runs (each run's quadrature solved alone) is reported
separately from the bounds, as the SLQ estimate's own uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np

from prunelimit.equality import compared_by_value
from prunelimit.errors import UsageError
from prunelimit.report.notebook import brief
from prunelimit.theory.profile import PruningPath
from prunelimit.theory.statdim import (
    Geometry,
    Negative,
    check_epsilon,
    check_quadrature,
    check_zero_fraction,
    curvatures,
    fraction_per_run,
)

BoundMode = Literal["none", "akf", "geom"]
BOUND_MODES = ("none", "akf", "geom")

# brentq stops when the bracket is below xtol + rtol·|ρ|; ρ lives in [0, 1], so this is
# at the float64 resolution of ρ itself.
_XTOL = 1e-15
_RTOL = 4 * np.finfo(float).eps


@brief
@compared_by_value
@dataclass(frozen=True)
class LimitPrediction:
    """Predicted limit as a removed fraction ``ratio`` (``density`` = 1 − ratio).

    ``radius`` is R(ρ*) on the continuous path; ``lower``/``upper`` are removed
    fractions (``None`` when ``bound_mode == "none"``); ``margin`` is a_η/√D (0 unless
    ``"akf"``); ``per_run_ratios`` holds ρ* for each probe run's quadrature alone and
    ``spread`` their population standard deviation.
    """

    ratio: float
    density: float
    radius: float
    lower: float | None
    upper: float | None
    eta: float
    bound_mode: BoundMode
    margin: float
    per_run_ratios: np.ndarray
    spread: float
    epsilon: float
    dim: int
    negative: Negative
    zero_fraction: float
    lower_clipped: bool = False
    upper_clipped: bool = False
    notes: tuple[str, ...] = ()


def a_eta(eta: float) -> float:
    """AKF constant ``a_η = sqrt(8 ln(4/η))`` (a_0.01 ≈ 6.923)."""
    if not 0.0 < eta < 1.0:
        raise UsageError(f"eta must lie in (0, 1), got {eta}")
    return math.sqrt(8.0 * math.log(4.0 / eta))


def solve_fixed_point(
    profile: PruningPath, fraction: Callable[[float], float], shift: float = 0.0
) -> tuple[float, bool]:
    """Root of ``fraction(R(ρ)) + shift − ρ`` on [0, 1], clipped to an end when none lies inside.

    ``fraction`` must be non-increasing in R. Returns ``(ρ, clipped)``; ``clipped`` is
    True when the function does not change sign on [0, 1] (root left the interval).
    """

    from scipy.optimize import brentq  # here: --help and info start without SciPy

    def g(ratio: float) -> float:
        return fraction(profile.radius_continuous(ratio)) + shift - ratio

    g0, g1 = g(0.0), g(1.0)
    if g0 <= 0.0:
        return 0.0, g0 < 0.0
    if g1 >= 0.0:
        return 1.0, g1 > 0.0
    return float(brentq(g, 0.0, 1.0, xtol=_XTOL, rtol=_RTOL)), False


def predict_limit(
    profile: PruningPath,
    nodes: np.ndarray,
    weights: np.ndarray,
    dim: int,
    epsilon: float,
    eta: float = 0.01,
    bound_mode: BoundMode = "akf",
    negative: Negative = "abs",
    signed: bool = True,
    zero_fraction: float = 0.0,
    solved: float | None = None,
) -> LimitPrediction:
    """ρ*, its bounds and its per-run spread from quadrature ``nodes``/``weights`` (runs, m).
    ``solved``: ρ* solved already on this ``profile``, rule, ε, ``negative`` and ``zero_fraction``
    (a spectrum's ``limit_ratio``), not solved again (a cached ``bounds`` solved it twice).

    ``dim`` is D, the Hessian dimension; it enters only through the AKF margin a_η/√D
    (the quadrature weights already normalise F).
    """
    theta, tau = check_quadrature(nodes, weights)
    check_epsilon(epsilon)
    check_zero_fraction(zero_fraction)
    if dim < 1:
        raise UsageError(f"Hessian dimension D must be positive, got {dim}")
    if bound_mode not in BOUND_MODES:
        raise UsageError(f"unknown bound mode {bound_mode!r}; use none, akf or geom")
    a = a_eta(eta)
    curv = curvatures(theta, negative, signed)

    def curve(c: np.ndarray, t: np.ndarray, geometry: Geometry = "disc") -> Callable[[float], float]:
        return _mean_fraction(c, t, epsilon, geometry, zero_fraction)

    disc = curve(curv, tau)
    ratio = solve_fixed_point(profile, disc)[0] if solved is None else solved
    # one run's own rule is the mean rule, whose root ρ* is (an exact spectrum, a one-run plan)
    per_run = np.array(
        [ratio] if len(tau) == 1 else
        [solve_fixed_point(profile, curve(curv[i : i + 1], tau[i : i + 1]))[0] for i in range(len(tau))]
    )

    lower = upper = None
    lower_clipped = upper_clipped = False
    margin = 0.0
    if bound_mode == "akf":
        margin = a / math.sqrt(dim)
        lower, lower_clipped = solve_fixed_point(profile, disc, -margin)
        upper, upper_clipped = solve_fixed_point(profile, disc, +margin)
        # Pruning only exact zeros leaves w, hence the loss, unchanged: feasible for certain,
        # not with probability 1 − η, so the zeros' share bounds ρ_L from below (ρ* ≥ it too).
        if profile.zero_ratio > lower:
            lower, lower_clipped = profile.zero_ratio, False
    elif bound_mode == "geom":
        lower = ratio
        upper, upper_clipped = solve_fixed_point(profile, curve(curv, tau, "tangent"))

    notes = []
    if lower_clipped:
        notes.append("lower bound clipped to 0: a_eta/sqrt(D) >= 1, D too small for the AKF")
    if upper_clipped:
        notes.append("upper bound clipped to 1: F(R(1)) + a_eta/sqrt(D) >= 1")
    return LimitPrediction(
        ratio=ratio,
        density=1.0 - ratio,
        radius=profile.radius_continuous(ratio),
        lower=lower,
        upper=upper,
        eta=eta,
        bound_mode=bound_mode,
        margin=margin,
        per_run_ratios=per_run,
        spread=float(np.std(per_run)),
        epsilon=epsilon,
        dim=int(dim),
        negative=negative,
        zero_fraction=zero_fraction,
        lower_clipped=lower_clipped,
        upper_clipped=upper_clipped,
        notes=tuple(notes),
    )


def _mean_fraction(curv: np.ndarray, tau: np.ndarray, epsilon: float, geometry: Geometry = "disc",
                   zero_fraction: float = 0.0) -> Callable[[float], float]:
    """F(R) of the rules ``(curv, tau)``, the mean over their runs."""
    return lambda r: float(fraction_per_run(curv, tau, r, epsilon, geometry, zero_fraction).mean())


def limit_root(profile: PruningPath, quadrature: Any, epsilon: float, negative: Negative = "abs") -> float:
    """ρ* of ``quadrature`` (``nodes``, ``weights``, optionally ``signed``) alone, as
    :func:`predict_from_quadrature` solves it, without the per-run roots and bounds it solves
    beside it: where ρ* alone is read (a spectrum's ρ*, its half-step rule's), they were as many
    solves again as the runs, read by nothing."""
    theta, tau = check_quadrature(quadrature.nodes, quadrature.weights)
    check_epsilon(epsilon)
    curv = curvatures(theta, negative, getattr(quadrature, "signed", True))
    return solve_fixed_point(profile, _mean_fraction(curv, tau, epsilon))[0]


def predict_from_quadrature(
    profile: PruningPath, quadrature: Any, epsilon: float, **options: Any
) -> LimitPrediction:
    """:func:`predict_limit` for any object with ``nodes``, ``weights``, ``dim`` (and
    optionally ``signed``, default True) attributes, e.g. ``curvature.slq.SpectralQuadrature``."""
    return predict_limit(
        profile,
        quadrature.nodes,
        quadrature.weights,
        quadrature.dim,
        epsilon,
        signed=getattr(quadrature, "signed", True),
        **options,
    )


def abs_trace(nodes: np.ndarray, weights: np.ndarray, dim: int) -> float:
    """Tr|H| ≈ D · mean_runs Σ_k τ_k |θ_k| from a quadrature."""
    theta, tau = check_quadrature(nodes, weights)
    return float(dim * np.mean(np.sum(tau * np.abs(theta), axis=1)))


def jensen_bound(
    trace: float, dim: int, radius: float | np.ndarray, epsilon: float
) -> float | np.ndarray:
    """Jensen lower bound on F: ``F(R) ≥ 2εD / (2εD + R² Tr)`` (weight magnitude R and
    sharpness Tr H, the two factors of Zhang et al., NeurIPS 2024).

    f(λ) = 2ε/(2ε + λR²) is convex in λ ≥ 0, so E f(|λ|) ≥ f(E|λ|). ``trace`` must be
    Tr|H| (equal to Tr H when H is PSD); with negative eigenvalues Tr H < Tr|H| and the
    inequality is not guaranteed.
    """
    check_epsilon(epsilon)
    if trace < 0:
        raise UsageError(f"trace must be non-negative (pass Tr|H|), got {trace}")
    two_eps_d = 2.0 * epsilon * dim
    r = np.asarray(radius, dtype=np.float64)
    out = two_eps_d / (two_eps_d + r * r * trace)
    return float(out) if out.ndim == 0 else out


def jensen_ratio(profile: PruningPath, trace: float, dim: int, epsilon: float) -> float:
    """Root of ``ρ = jensen_bound(R(ρ))``; never above ρ* (the bound lies below F)."""
    return solve_fixed_point(profile, lambda r: jensen_bound(trace, dim, r, epsilon))[0]
