"""Hutchinson trace estimate with Rademacher probes: ``tr H ≈ mean_j z_jᵀ H z_j``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.slq import rademacher
from prunelimit.errors import UsageError


@dataclass(frozen=True)
class TraceEstimate:
    """Estimate of ``tr H`` and its standard error (sample std / √probes; NaN for one probe)."""

    value: float
    stderr: float
    probes: int


def hutchinson_trace(op: CurvatureOperator, probes: int = 16, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimator over ``probes`` seeded Rademacher vectors (one ``op.matvec`` each)."""
    return trace_estimate(hutchinson_samples(op, probes, seed))


def hutchinson_samples(op: CurvatureOperator, probes: int, seed: int = 0) -> np.ndarray:
    """``zᵀ H z`` for ``probes`` Rademacher vectors drawn from ``seed`` (as ``slq`` draws its probes)."""
    if probes < 1:
        raise UsageError(f"the trace estimate needs at least 1 probe, got {probes}")
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(probes):
        z = rademacher(op.shape[0], generator)
        samples.append(float(z @ op.matvec(z).to("cpu", torch.float64)))
    return np.array(samples)


def trace_estimate(samples: np.ndarray) -> TraceEstimate:
    """Mean and standard error of independent unbiased estimates ``zᵀ H z`` of ``tr H``."""
    samples = np.asarray(samples, dtype=np.float64)
    stderr = float(np.std(samples, ddof=1) / math.sqrt(len(samples))) if len(samples) > 1 else math.nan
    return TraceEstimate(float(np.mean(samples)), stderr, len(samples))
