"""Adaptive SLQ keeps the exact spectrum within reach (``curvature.adaptive``): on a
model smaller than the product budget, a stage that misses the tolerance must not spend
the products that carrying one run to D steps would need."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.api.options import DEFAULT_MAX_HVPS
from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq, exact_slips_away, predicted_miss
from prunelimit.curvature.lanczos import LanczosRuns
from prunelimit.curvature.operator import DenseOperator


def _trained_mlp(fitted) -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """An 899-parameter MLP (10-64-3) on 300 synthetic samples, 100 Adam steps."""
    torch.manual_seed(0)
    x = torch.randn(300, 10)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(10, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))
    return fitted(model, x, y), (x, y)


@pytest.mark.filterwarnings("ignore")
def test_a_model_below_the_budget_ends_exact_rather_than_out_of_products(fitted) -> None:
    """Before: 3 runs to 128 steps, 3 more probes, then 6 runs to 256 steps (1,536
    products) stopped by --max-hvps at ± 0.027, the 643 steps the first run still lacked
    no longer affordable; at the 6-run stage 771 more steps of one run fit the budget and
    give the exact spectrum. Now that is taken: ± 0, the exact method's ρ*, within the
    budget."""
    model, data = _trained_mlp(fitted)
    dim = sum(p.numel() for p in model.parameters())
    assert dim == 899 < DEFAULT_MAX_HVPS
    slq = prunelimit.bounds(model, data, method="slq")
    exact = prunelimit.bounds(model, data, method="exact")
    assert slq.spectrum.stopped_by == "converged"
    assert slq.uncertainty.plus_minus == 0.0
    assert slq.ratio == pytest.approx(exact.ratio, abs=1e-6)
    assert slq.spectrum.trail[-1].products <= DEFAULT_MAX_HVPS


def _slow_law(quad) -> Assessment:
    """Truncation ``0.1·(16/m)^0.5`` (no budget of 200 products meets 0.01 with it), a
    probe part of 0.001; an exact quadrature (a run spanned the space) has neither."""
    if quad.exact:
        return Assessment(0.5, 0.0, 0.0, 0.0)
    steps = int((quad.weights > 0).sum(axis=1).max())
    trunc = 0.1 * (16 / steps) ** 0.5
    return Assessment(0.5, trunc + 0.001, trunc, 0.001)


def test_a_slow_law_below_the_budget_carries_one_run_to_the_exact_spectrum() -> None:
    """D = 120, 200 products, 4 runs: before, 4 × 8 → 4 × 16 → 4 × 32 and out of products
    at ± 0.07; the stage to 32 steps misses the tolerance by the law and leaves too little
    for the first run's 104 steps to D, which fit before it. Now they are taken."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(120, 120)))
    op = DenseOperator(torch.tensor((q * rng.lognormal(-2, 1.5, 120)) @ q.T))
    plan = AdaptivePlan(tolerance=0.01, max_products=200, initial_steps=8, initial_runs=4, lockstep=2)
    result = adaptive_slq(op, plan, _slow_law, seed=5)
    assert result.stopped_by == "converged" and result.quadrature.exact
    assert result.trail[-1].products <= 200


@pytest.mark.parametrize("history, statistical, steps, expected", [
    ([(16, 0.1)], 0.0, 1_000, False),                  # one point: no law, the stage may meet it
    ([(8, 0.2), (16, 0.1)], 0.001, 32, True),          # rate 1: 0.05 + 0.001 at 32 steps
    ([(8, 0.2), (16, 0.1)], 0.001, 2_000, False),      # 0.0008 + 0.001 at 2,000
    ([(8, 0.2), (16, 0.1)], 0.02, 2_000, True),        # the probe part alone misses
])
def test_predicted_miss(history, statistical, steps, expected) -> None:
    assert predicted_miss(history, statistical, 0.01, steps, dim=10_000) is expected


def test_exact_slips_away_only_when_it_fits_now_and_not_after_the_stage() -> None:
    """Four runs at 16 steps of D = 120 (104 to the end); a stage to 32 steps costs 64
    products and brings the first run 16 steps nearer the end."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(120, 120)))
    runs = LanczosRuns(
        DenseOperator(torch.tensor((q * rng.lognormal(-2, 1.5, 120)) @ q.T)),
        torch.stack([torch.ones(120), -torch.ones(120)]), 16)
    runs.extend(16)
    rows = 10_000
    assert exact_slips_away(runs, 120, 32, 64, 104, rows)          # fits now; after: 88 > 104 − 64 + 0
    assert not exact_slips_away(runs, 120, 32, 64, 103, rows)      # does not fit now
    assert not exact_slips_away(runs, 120, 32, 64, 200, rows)      # still fits after: 88 ≤ 136


def _noisy_law(quad) -> Assessment:
    """A probe part of 0.05 that more probes never bring to 0.01 and a small truncation
    part: the remedy is always more probes; an exact quadrature has no error."""
    if quad.exact:
        return Assessment(0.5, 0.0, 0.0, 0.0)
    return Assessment(0.5, 0.051, 0.001, 0.05)


@pytest.mark.parametrize("dim", [300, 600])
def test_no_stage_takes_the_runs_past_d_products_where_the_exact_spectrum_is_in_reach(dim: int) -> None:
    """D products are what the exact spectrum costs. Before: 3 runs of 32 steps, then 6 and
    12 (D = 300: 384 products) before the first run went on to D, 652 in all, more than
    twice D. Now the stage that would pass D is not made: the first run goes on alone
    from the last stage within D, and the runs end exact below 2·D."""
    values = torch.linspace(1e-3, 1.0, dim, dtype=torch.float64)
    op = DenseOperator(torch.diag(values))
    plan = AdaptivePlan(tolerance=0.01, max_products=DEFAULT_MAX_HVPS, initial_steps=32, initial_runs=3)
    result = adaptive_slq(op, plan, _noisy_law, seed=0)
    assert result.stopped_by == "converged" and result.quadrature.exact
    assert result.trail[-2].products <= dim
    assert result.trail[-1].products < 2 * dim


def test_a_probe_stage_that_misses_does_not_spend_the_products_the_exact_spectrum_needs() -> None:
    """D = 160, 200 products, 4 runs of 8 steps, probes dominate. Before, probe stages (8,
    16, then 25 runs) spent all 200 products for ± 0.05: after the first one the 152 steps
    the first run lacked no longer fitted. Now that stage, predicted to miss, is not made
    and the first run goes on to D: the exact spectrum within the budget."""
    op = DenseOperator(torch.diag(torch.linspace(1e-3, 1.0, 160, dtype=torch.float64)))
    plan = AdaptivePlan(tolerance=0.01, max_products=200, initial_steps=8, initial_runs=4)
    result = adaptive_slq(op, plan, _noisy_law, seed=0)
    assert result.stopped_by == "converged" and result.quadrature.exact
    assert result.trail[-1].products <= 200
