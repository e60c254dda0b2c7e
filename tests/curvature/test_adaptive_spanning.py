"""Adaptive SLQ on a model no larger than its first stage's steps (``curvature.adaptive``):
one run of D steps that does not break down spans the space and is the exact spectrum, so
the first stage is that one run, not the planned runs each repeating it; a run that
breaks down on an invariant subspace is carried on to the whole space before the answer
is called exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from prunelimit.curvature.operator import DenseOperator


def _law(quad) -> Assessment:
    """Exact: no error; else a probe part no stage of probes removes."""
    if quad.exact:
        return Assessment(0.5, 0.0, 0.0, 0.0)
    return Assessment(0.5, 0.051, 0.001, 0.05)


def _spectrum(quad) -> np.ndarray:
    """The quadrature's first row as D eigenvalues (weights 1/D each)."""
    return np.sort(np.repeat(quad.nodes[0], np.rint(quad.weights[0] * quad.dim).astype(int)))


def test_a_first_stage_of_d_steps_is_one_run() -> None:
    """D = 17, 3 planned runs of 64 steps: before, 3 × 17 = 51 products for the spectrum
    the first 17 already gave; now 17."""
    values = np.linspace(-0.1, 1.0, 17)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(17, 17)))
    op = DenseOperator(torch.tensor((q * values) @ q.T))
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=64, initial_runs=3)
    result = adaptive_slq(op, plan, _law, seed=0)
    assert result.stopped_by == "converged" and result.quadrature.exact
    assert result.quadrature.hvps == 17 and result.runs == 1
    np.testing.assert_allclose(_spectrum(result.quadrature), values, atol=1e-12)


def test_a_run_that_breaks_down_on_a_subspace_is_not_taken_for_the_spectrum() -> None:
    """D = 17 with 3 distinct eigenvalues: the run breaks down after 3 steps, its Krylov
    space an invariant subspace; the answer is exact only once the run, restarted, spans
    the whole space, with every eigenvalue at its multiplicity."""
    values = np.repeat([0.1, 0.5, 2.0], [5, 5, 7])
    op = DenseOperator(torch.diag(torch.tensor(values)))
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=64, initial_runs=3)
    result = adaptive_slq(op, plan, _law, seed=0)
    assert result.stopped_by == "converged" and result.quadrature.exact
    np.testing.assert_allclose(_spectrum(result.quadrature), values, atol=1e-10)
    assert result.quadrature.hvps <= 3 * 17


@pytest.mark.filterwarnings("ignore")
def test_slq_on_a_17_parameter_model_costs_the_exact_spectrum_and_matches_it(mlp17) -> None:
    """Before: 43 products over 3 runs of up to 17 steps;
    now the 17 of one spanning run, ± 0, the exact method's ρ*."""
    model, (x, y) = mlp17
    assert sum(p.numel() for p in model.parameters()) == 17
    slq = prunelimit.bounds(model, (x, y), method="slq")
    exact = prunelimit.bounds(model, (x, y), method="exact")
    assert slq.spectrum.stopped_by == "converged" and slq.uncertainty.plus_minus == 0.0
    assert slq.spectrum.trail[-1].products == 17
    # SLQ's products are float32, the exact columns float64: 3e-6 apart here
    assert slq.ratio == pytest.approx(exact.ratio, abs=1e-5)
