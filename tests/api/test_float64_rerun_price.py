"""The float64 re-run was priced at twice the float32 runs' seconds, whatever a float64
product cost: on a CPU a convolution net's costs 3-30× a float32 one (a width-8 ResNet-18:
4.42 s against 1.39 s), so under --time-budget float64 runs started that the budget could not
hold, and the clock cut them short. The two products measuring float32 against float64
(``_product_error``) now time both, and their ratio prices the re-run (``cost``); without a
time budget nothing is timed, and the answer does not depend on the clock.

A simulated clock: every product advances it, 10 ms a float32 product and 100 ms a float64
one (10×), and nothing else does, so the decisions are exact arithmetic, not timings."""

from __future__ import annotations

import torch

import prunelimit
import prunelimit.api.curvature as curvature
import prunelimit.distributed as distributed
from prunelimit.curvature.hvp import HessianOperator
from tests.api.test_measured_slice import _fitted
from tests.curvature.test_product_error_rounding import _classifier_near_zero_loss

SECONDS = {torch.float32: 0.01, torch.float64: 0.1}


def _simulated_clock(monkeypatch) -> None:
    """The time budget's clock reads the seconds of the products made so far."""
    now = [0.0]
    matvec, rows = HessianOperator.matvec, HessianOperator._row_products

    def timed_matvec(self, v):
        now[0] += SECONDS[self.dtype]
        return matvec(self, v)

    def timed_rows(self, vs):
        now[0] += SECONDS[self.dtype] * vs.shape[0]
        return rows(self, vs)

    monkeypatch.setattr(HessianOperator, "matvec", timed_matvec)
    monkeypatch.setattr(HessianOperator, "_row_products", timed_rows)
    monkeypatch.setattr(distributed, "agreed_clock", lambda: lambda: now[0])


def _bounds(budget: float | None):
    return prunelimit.bounds(*_classifier_near_zero_loss(), method="slq", seed=0, batch_size=16, tolerance=0.002,
                             time_budget=budget)


def _ran_float64(result) -> bool:
    return any("adaptive SLQ ran again on float64 products" in w for w in result.warnings)


def test_the_measuring_products_price_a_float64_product_at_their_measured_ratio(monkeypatch) -> None:
    """The 96 samples are the whole slice: one float32 and one float64 product, 10 ms and
    100 ms on the simulated clock (float rounding of the clock's sums: 1e-9)."""
    _simulated_clock(monkeypatch)
    model, data = _classifier_near_zero_loss()
    inputs = prunelimit.inputs_from(model, data, batch_size=16)
    options = curvature.CurvatureOptions(method="slq")
    op = curvature.hessian_operator(inputs, options)
    clock = distributed.agreed_clock()
    error, spent, samples, cost = curvature._product_error(inputs, options, op, inputs.batches, op.dim, clock=clock)
    assert error > 0 and (spent, samples) == (2, 96)
    assert abs(cost - 10.0) < 1e-9
    # without a clock (no time budget) nothing is timed: the answer cannot depend on it
    assert curvature._product_error(inputs, options, op, inputs.batches, op.dim)[3] == 1.0


def test_the_slices_parts_price_a_float64_product_at_their_measured_ratio(monkeypatch) -> None:
    """Over 600 samples the 2 products are taken part by part over the 128-sample slice's 4
    parts: 4 float32 and 4 float64 products on the simulated clock, 10× (1e-9 as above)."""
    _simulated_clock(monkeypatch)
    model, data = _fitted(600, 12)
    inputs = prunelimit.inputs_from(model, data, batch_size=64)
    options = curvature.CurvatureOptions(method="slq")
    op = curvature.hessian_operator(inputs, options)
    found = curvature._product_error(inputs, options, op, inputs.batches, op.dim, clock=distributed.agreed_clock())
    assert found[1:3] == (2, curvature.MEASURED_SAMPLES)
    assert abs(found[3] - 10.0) < 1e-9


def test_a_float64_rerun_the_time_budget_cannot_hold_is_not_started(monkeypatch) -> None:
    """The float32 runs stop by "rounding" at 192 products (≈ 2 s on this clock, counted from
    the start of the spectrum); with a 12 s budget, ≈ 10 s are left: twice the runs' seconds
    (≈ 4 s) fit, and before this the float64 runs started (their 10× products then cut short
    by the clock), where at the measured 10× (≈ 20 s) they do not."""
    _simulated_clock(monkeypatch)
    result = _bounds(12.0)
    assert not _ran_float64(result)
    assert not result.spectrum.quadrature.float64_products


def test_a_float64_rerun_the_time_budget_holds_is_started(monkeypatch) -> None:
    """With 60 s, ≈ 58 s are left after the float32 runs: their 10× (≈ 20 s) fits, and the
    float64 runs follow as without a time budget (the same products: 467 Lanczos products of
    both runs, exact counts, same seed and plan)."""
    _simulated_clock(monkeypatch)
    timed = _bounds(60.0)
    untimed = _bounds(None)
    assert _ran_float64(timed) and timed.spectrum.quadrature.float64_products
    assert timed.spectrum.quadrature.hvps == untimed.spectrum.quadrature.hvps
    assert (timed.ratio, timed.uncertainty.plus_minus) == (untimed.ratio, untimed.uncertainty.plus_minus)
