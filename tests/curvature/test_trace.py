"""Hutchinson trace against the exact trace of explicit symmetric matrices."""

from __future__ import annotations

import math

import pytest
import torch

from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.trace import hutchinson_trace
from prunelimit.errors import UsageError


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trace_within_four_stderr(seed):
    gen = torch.Generator().manual_seed(100 + seed)
    a = torch.randn(300, 300, generator=gen, dtype=torch.float64)
    a = (a + a.T) / 2 + 3 * torch.eye(300, dtype=torch.float64)
    est = hutchinson_trace(DenseOperator(a), probes=32, seed=seed)
    # The mean of 32 i.i.d. probes is close to Gaussian: |error| > 4 stderr has
    # probability ~1e-4 (and the seeds are fixed, so the test is deterministic).
    assert abs(est.value - float(a.trace())) <= 4 * est.stderr
    assert est.probes == 32 and est.stderr > 0


def test_diagonal_matrix_is_exact_and_seeded():
    # Rademacher probes: zᵀDz = tr D for every z, so the estimate is exact with zero spread.
    d = torch.arange(1.0, 11.0, dtype=torch.float64)
    op = DenseOperator(torch.diag(d))
    est = hutchinson_trace(op, probes=4, seed=3)
    assert est.value == pytest.approx(55.0, abs=1e-12) and est.stderr == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(hutchinson_trace(op, probes=1, seed=3).stderr)
    with pytest.raises(UsageError):
        hutchinson_trace(DenseOperator(torch.eye(3, dtype=torch.float64)), probes=0)
