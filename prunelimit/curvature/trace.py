"""Hutchinson trace estimate with Rademacher probes: ``tr H ≈ mean_j z_jᵀ H z_j``, and its ``±``.

The ``±`` is not the spread of the samples. Where one eigenvalue (or a few) dominates,
``zᵀHz`` is a scaled χ²₁-like draw: samples that all drew small agree closely, so their
spread is small and off the same way (on one eigenvalue over zeros, ±1.96 of the
spread of 8 samples held the trace in 82 % of seeds). It is a bound instead: ``Var zᵀHz = 2 Σ_{i≠j} H_ij² ≤ 2‖H‖²_F`` for a
Rademacher ``z`` (Avron & Toledo, *J. ACM* 58, 2011) and ``E ‖Hz‖² = ‖H‖²_F``, so each
probe's ``‖Hz‖²``, a by-product of its own product, bounds the standard error without a
second sample; and it is scaled to its 95 % interval on the most skewed spectrum, one
eigenvalue over zeros, where the bound is tight (:func:`rank_one_factor`).

On a curvature subset (``--hessian-samples``) the samples are of the subset's Hessian, whose
trace is not the full data's: a run that spanned the subset's space stated its trace ``± 0``
and missed the full data's by up to 7 % (:func:`with_data_part`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.slq import rademacher
from prunelimit.errors import UsageError
from prunelimit.theory.uncertainty import LEVEL, left_out_sd, part_sd, student_factor


@dataclass(frozen=True)
class HutchinsonSamples:
    """Per probe ``z``: ``zᵀHz`` (``estimates``, each unbiased for ``tr H``) and ``‖Hz‖²`` (``squares``)."""

    estimates: np.ndarray
    squares: np.ndarray


@dataclass(frozen=True)
class TraceEstimate:
    """Estimate of ``tr H`` from ``probes`` samples: ``stderr``, a bound on its standard error
    (:func:`hutchinson_bound`), and ``plus_minus``, the half-width of its ``LEVEL`` interval
    (``stderr`` × :func:`rank_one_factor`)."""

    value: float
    stderr: float
    plus_minus: float
    probes: int


def hutchinson_trace(op: CurvatureOperator, probes: int = 16, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimator over ``probes`` seeded Rademacher vectors (one ``op.matvec`` each)."""
    found = hutchinson_samples(op, probes, seed)
    return trace_estimate(found.estimates, found.squares)


def hutchinson_samples(op: CurvatureOperator, probes: int, seed: int = 0,
                       until: Callable[[], bool] | None = None,
                       callback: Callable[[int], None] | None = None) -> HutchinsonSamples:
    """``zᵀ H z`` and ``‖Hz‖²`` for ``probes`` Rademacher vectors drawn from ``seed`` (as ``slq``
    draws its probes); ``until`` is asked before every probe after the first: once it is true
    no more are drawn (a time budget; each sample is independent, so fewer only widen the ±).
    ``callback(done)`` is called after every probe (progress bars)."""
    if probes < 1:
        raise UsageError(f"the trace estimate needs at least 1 probe, got {probes}")
    generator = torch.Generator().manual_seed(seed)
    estimates, squares = [], []
    for _ in range(probes):
        if estimates and until is not None and until():
            break
        z = rademacher(op.shape[0], generator)
        hz = op.matvec(z).to("cpu", torch.float64)
        estimates.append(float(z @ hz))
        squares.append(float(hz @ hz))
        if callback is not None:
            callback(len(estimates))
    return HutchinsonSamples(np.array(estimates), np.array(squares))


def trace_estimate(estimates: np.ndarray, squares: np.ndarray, level: float = LEVEL) -> TraceEstimate:
    """Mean of independent Rademacher estimates ``zᵀHz`` of ``tr H`` with the bound on its
    standard error from their ``‖Hz‖²`` (``squares``) and its ``level`` half-width."""
    estimates = np.asarray(estimates, dtype=np.float64)
    if len(estimates) != len(squares):
        raise UsageError(f"{len(estimates)} trace samples for {len(squares)} squared products")
    stderr = hutchinson_bound(np.asarray(squares, dtype=np.float64))
    return TraceEstimate(float(np.mean(estimates)), stderr, rank_one_factor(len(estimates), level) * stderr,
                         len(estimates))


def with_data_part(estimate: TraceEstimate, part_traces: tuple[float, ...], subsample: int, population: int,
                   parts: int | None = None, left_out: bool = False) -> TraceEstimate:
    """``estimate``, a trace of the Hessian over ``subsample`` of ``population`` samples, with
    the subsampling's own error added: the trace is linear in the Hessian, the mean of the
    per-sample ones, so the subset's trace is unbiased for the full data's and only scatters
    about it. ``part_traces``: ``zᵀH_kz`` of one probe on each of the subset's K disjoint parts,
    or (``left_out``) on the subset less each part (the data check's runs), whose spread gives
    its 1σ (``part_sd``, ``left_out_sd``: alike for a linear statistic; ``parts``: the K the
    subset was split into, where fewer ran), at Student's
    K − 1 degrees of freedom. It errs high: over one probe the spread holds ``zᵀ(H_k − H_S)z``,
    whose mean square over probes is the trace's spread plus twice the off-diagonal one.
    Added to the probes' ± whole (each at ``LEVEL``; their sum covers at least as often as the
    combined interval of two independent errors)."""
    stderr, plus_minus = data_part_added(estimate.stderr, estimate.plus_minus, part_traces, subsample, population,
                                         parts, left_out)
    return replace(estimate, stderr=stderr, plus_minus=plus_minus)


def data_part_added(stderr: float, plus_minus: float, part_traces: tuple[float, ...], subsample: int,
                    population: int, parts: int | None = None, left_out: bool = False) -> tuple[float, float]:
    """A trace's 1σ and ± (``stderr``, ``plus_minus``) with the subsampling's error of
    :func:`with_data_part` added, for a trace held outside a ``TraceEstimate`` (a layer's block)."""
    data = (left_out_sd if left_out else part_sd)(part_traces, subsample, population, parts)
    return math.hypot(stderr, data), plus_minus + student_factor(len(part_traces) - 1) * data


def hutchinson_bound(squares: np.ndarray) -> float:
    """A bound on the standard error of the mean of ``k`` Rademacher estimates ``zᵀAz`` of
    ``tr A``, from ``squares`` = their ``‖Az‖²``: ``Var zᵀAz = 2 Σ_{i≠j} A_ij² ≤ 2‖A‖²_F``
    and ``E ‖Az‖² = ‖A‖²_F``, so ``√(2·mean/k)`` (module doc). It needs no second estimate
    and does not shrink with the estimates by chance; it is loose where the diagonal
    carries ``‖A‖_F`` (a flat spectrum: ±1.96 of it held the truth in every seed)."""
    return math.sqrt(2.0 * float(np.mean(squares)) / len(squares))


@functools.lru_cache(maxsize=None)  # a pure function of two numbers, and a root search each
def rank_one_factor(probes: int, level: float = LEVEL) -> float:
    """The multiple ``c`` of :func:`hutchinson_bound` whose ``±`` holds ``tr A`` with
    probability ``level`` when ``A = λuuᵀ`` (dense ``u``): there every ``zᵀAz = λ(uᵀz)²`` is
    ``λ·χ²₁``, the most skewed case and one where the bound is tight, so the mean is
    ``λX/k`` with ``X ~ χ²_k`` and the bound ``λ√(2X)/k``: ``c`` solves
    ``P(|X − k| ≤ c√(2X)) = level``. 1.96 at many probes; 2.29 at 8, 4.19 at 2, where the
    normal 1.96 held 92 % and 83 % (``tests/curvature/test_trace.py``)."""
    from scipy.optimize import brentq
    from scipy.special import chdtr  # what scipy.stats' chi2.cdf calls, bit for bit, without its ~0.9 s import

    def covered(c: float) -> float:
        # |X − k| ≤ c√(2X) ⇔ √X between the roots of y² ∓ c√2·y − k
        root, shift = math.sqrt(2 * c * c + 4 * probes), c * math.sqrt(2)
        return float(chdtr(probes, ((root + shift) / 2) ** 2) - chdtr(probes, ((root - shift) / 2) ** 2))

    return float(brentq(lambda c: covered(c) - level, 0.0, 1e3))
