"""The normalised statistical dimension F(R) of the projected loss sublevel set.

Zhang et al., NeurIPS 2024 (docs/theory.md): ``F(R) = (1/D) Σᵢ 2ε / (2ε + |λᵢ| R²)``,
evaluated directly from spectral-quadrature nodes θ_k and weights τ_k (one row per SLQ probe run) as
``mean_runs Σ_k τ_k f_R(θ_k)`` — never through a smoothed density grid (docs/methods.md).

Options:
* ``negative``: ``"abs"`` uses |λ| (reference code); ``"flat"`` treats λ < 0 as 0, i.e. a
  free direction with term 1 (needs signed nodes).
* ``geometry``: ``"disc"`` is the projected-disc cone of eq. (1); ``"tangent"`` is the
  tangent cone to the full ellipsoid, per-axis term ``min(1, 2ε / (|λ| R²))``
  (the "geom" reading of the bounds, docs/theory.md). The tangent term is never smaller than the disc term.
* ``zero_fraction`` z: the "important eigenvalues" mixture of Zhang et al., NeurIPS 2024's reference code,
  ``F = z + (1 − z)·E[f]`` (a fraction z of exactly flat directions added on top).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from prunelimit import validate
from prunelimit.errors import NumericalError, UsageError

Negative = Literal["abs", "flat"]
Geometry = Literal["disc", "tangent"]

# Ritz weights are squared first components of an orthonormal eigenbasis; their rows
# sum to 1 up to rounding, far inside this tolerance.
_WEIGHT_SUM_TOL = 1e-6


def check_quadrature(nodes: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate quadrature arrays and return them as float64 ``(runs, m)``.

    A 1-D pair is treated as a single run.
    """
    theta = np.atleast_2d(np.asarray(nodes, dtype=np.float64))
    tau = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if theta.shape != tau.shape or theta.ndim != 2 or theta.size == 0:
        raise UsageError(
            f"quadrature nodes {theta.shape} and weights {tau.shape} must be equal, non-empty (runs, m)"
        )
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(tau))):
        raise NumericalError("spectral quadrature has NaN/Inf nodes or weights; rerun the spectrum")
    if np.any(tau < 0) or np.any(np.abs(tau.sum(axis=1) - 1.0) > _WEIGHT_SUM_TOL):
        raise NumericalError(
            "quadrature weights must be non-negative with rows summing to 1; rerun the spectrum"
        )
    return theta, tau


def curvatures(nodes: np.ndarray, negative: Negative = "abs", signed: bool = True) -> np.ndarray:
    """Per-node curvature |λ| entering F, after the negative-eigenvalue policy."""
    if negative == "abs":
        return np.abs(nodes)
    if negative == "flat":
        if not signed:
            raise UsageError(
                "negative='flat' needs signed eigenvalues, but this quadrature holds |λ|; "
                "use negative='abs' or a spectrum of H itself"
            )
        return np.maximum(nodes, 0.0)
    raise UsageError(f"unknown negative-eigenvalue policy {negative!r}; use 'abs' or 'flat'")


def axis_terms(
    curvature: np.ndarray, radius_sq: np.ndarray | float, epsilon: float, geometry: Geometry = "disc"
) -> np.ndarray:
    """Per-axis contribution to the statistical dimension (broadcasting inputs).

    ``curvature`` must be ≥ 0; a zero curvature or zero radius gives exactly 1.
    """
    two_eps = 2.0 * epsilon
    with np.errstate(over="ignore"):  # |λ|·R² past float range: the term's limit, 0, is what follows
        x = curvature * radius_sq
    if geometry == "disc":
        return two_eps / (two_eps + x)
    if geometry == "tangent":
        # min(1, 2ε/x) written so x = 0 never divides.
        return two_eps / np.maximum(two_eps, x)
    raise UsageError(f"unknown cone geometry {geometry!r}; use 'disc' or 'tangent'")


def fraction_per_run(
    curvature: np.ndarray,
    weights: np.ndarray,
    radius: float | np.ndarray,
    epsilon: float,
    geometry: Geometry = "disc",
    zero_fraction: float = 0.0,
) -> np.ndarray:
    """Per-run F on already validated arrays: shape (runs,) or (runs, len(radius))."""
    r = np.asarray(radius, dtype=np.float64)
    r_sq = (r * r)[..., None, None] if r.ndim else r * r
    terms = axis_terms(curvature, r_sq, epsilon, geometry)
    per_run = np.sum(weights * terms, axis=-1)
    if r.ndim:
        per_run = np.moveaxis(per_run, range(r.ndim), range(1, r.ndim + 1))
    return zero_fraction + (1.0 - zero_fraction) * per_run


def stat_dim_fraction_per_run(
    nodes: np.ndarray,
    weights: np.ndarray,
    radius: float | np.ndarray,
    epsilon: float,
    negative: Negative = "abs",
    geometry: Geometry = "disc",
    signed: bool = True,
    zero_fraction: float = 0.0,
) -> np.ndarray:
    """F(R) for each probe run separately: shape (runs,) for scalar R, else (runs, *R.shape)."""
    theta, tau = check_quadrature(nodes, weights)
    check_epsilon(epsilon)
    check_zero_fraction(zero_fraction)
    r = np.asarray(radius, dtype=np.float64)
    if np.any(~np.isfinite(r)) or np.any(r < 0):
        raise UsageError("radius R must be finite and non-negative")
    return fraction_per_run(
        curvatures(theta, negative, signed), tau, r, epsilon, geometry, zero_fraction
    )


def stat_dim_fraction(
    nodes: np.ndarray,
    weights: np.ndarray,
    radius: float | np.ndarray,
    epsilon: float,
    negative: Negative = "abs",
    geometry: Geometry = "disc",
    signed: bool = True,
    zero_fraction: float = 0.0,
) -> float | np.ndarray:
    """F(R), the mean over probe runs; a float for scalar R, else an array shaped like R."""
    per_run = stat_dim_fraction_per_run(
        nodes, weights, radius, epsilon, negative, geometry, signed, zero_fraction
    )
    mean = per_run.mean(axis=0)
    return float(mean) if np.ndim(radius) == 0 else mean


def check_epsilon(epsilon: float) -> None:
    validate.positive("epsilon", epsilon)


def check_zero_fraction(zero_fraction: float) -> None:
    if not 0.0 <= zero_fraction < 1.0:
        raise UsageError(f"zero fraction must lie in [0, 1), got {zero_fraction}")
