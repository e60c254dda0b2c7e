"""After a float64 re-run the data check over the subset's parts runs on float64 products
(``_part_spectra`` at the runs' dtype), yet the seconds the float64 runs held back for it had
been timed on float32 products before the float32 runs: on the 147-weight classifier fitted
near zero loss, over 48 of 96 samples under time_budget=1.0, the data check was predicted at
~0.31 s and took 0.75 s, and the spectrum went 0.14 s over the budget. The data check is now
timed again on float64 products (3 more products in ``data_check``) and the float64 runs
hold back those seconds; the re-run's own decision prices it at the float32 seconds times
the measured cost of a float64 product (``_product_error``'s ``cost``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

import prunelimit
import prunelimit.api.curvature as curvature
from prunelimit.api.options import CurvatureOptions
from prunelimit.curvature.adaptive import AdaptiveResult, Afterwards, Stage
from tests.curvature.test_product_error_rounding import (_classifier_near_zero_loss, float32_runs_alone,
                                                           float64_runs_cut_after_one_stage)


def test_the_float64_runs_hold_back_the_data_check_timed_on_float64_products(monkeypatch) -> None:
    timed, held = [], []
    measure, spectrum = curvature._data_check_seconds, curvature._slq_spectrum

    def spy_measure(*args, **kwargs):
        found = measure(*args, **kwargs)
        timed.append((args[5] if len(args) > 5 else kwargs.get("dtype"), found))
        return found

    def spy_spectrum(op, *args, **kwargs):
        held.append((op.dtype, args[7] if len(args) > 7 else kwargs.get("after")))
        return spectrum(op, *args, **kwargs)

    monkeypatch.setattr(curvature, "_data_check_seconds", spy_measure)
    monkeypatch.setattr(curvature, "_slq_spectrum", spy_spectrum)
    model, data = _classifier_near_zero_loss()
    # a budget no step comes near: the runs are the ones without it, and the re-run goes ahead
    result = prunelimit.bounds(model, data, method="slq", seed=0, batch_size=16, tolerance=0.002,
                               hessian_samples=48, time_budget=1e6)
    assert result.spectrum.quadrature.float64_products
    assert [dtype for dtype, _ in timed] == [None, torch.float64]
    assert [dtype for dtype, _ in held] == [torch.float32, torch.float64]
    for (_, (fixed, step, row, _)), (_, after) in zip(timed, held):
        assert (after.fixed_seconds, after.step_seconds, after.row_seconds) == (fixed, step, row)
    stages = result.to_json()["timing"]["stages"]
    # both timings' products (3 each) are counted in data_check, as the HVPs stated sum them
    assert stages["data_check"]["hvps"] >= 2 * curvature.DATA_CHECK_TIMING
    assert sum(s["hvps"] for s in stages.values()) == result.spectrum.hvps


def test_the_re_run_decision_prices_the_data_check_at_twice_its_float32_seconds() -> None:
    """Float64 products measured at twice a float32 one's seconds; float32 runs of 100
    products took 1 s of a 10 s budget; a data check timed at 1.5 s for their 32 steps on
    float32 products: float64 runs (2 s) and the data check on float64
    products (≈ 3 s) need 5 s. At 2 s in (8 s left) the re-run goes ahead; at 5.5 s in (4.5 s
    left) it does not, where before the data check was priced at its float32 1.5 s (3.5 s in
    all) and the re-run went ahead. Exact arithmetic on a fake clock: no timing measured."""
    quad = SimpleNamespace(nodes=np.zeros((3, 32)), hvps=100, runs=3, steps=32)
    runs = AdaptiveResult(quad, "rounding", [Stage(100, 3, 32, 1.0, 0.5, 0.1)])
    op = SimpleNamespace(dtype=torch.float32, lockstep=1)
    after = Afterwards(per_step=2, runs_to=3, step_seconds=1.5 / 32)
    options = CurvatureOptions(time_budget=10.0)

    def rerun(now: float, budget_set_at: float) -> bool:
        budgets = CurvatureOptions(time_budget=10.0 - budget_set_at)
        return curvature._float64_follows(options, op, 1e-6, budgets, lambda: now, after, 8, 2.0)(runs)

    assert rerun(now=2.0, budget_set_at=1.0)  # 8 s left ≥ 2 × (1 + 1.5)
    assert not rerun(now=5.5, budget_set_at=4.5)  # 4.5 s left < 5 s; float32 pricing: 3.5 s fit


def test_the_float64_runs_are_the_same_with_and_without_a_time_budget_under_max_hvps() -> None:
    """A given --max-hvps holds back the float64 data check's timing products whether or not a
    --time-budget spends them, as it does the float32 one's: a run the clock did not stop is
    the run without a time budget, product for product (exact equality: same seed, same plan)."""
    model, data = _classifier_near_zero_loss()
    timed, untimed = (prunelimit.bounds(model, data, method="slq", seed=0, batch_size=16, tolerance=0.002,
                                        hessian_samples=48, max_hvps=900, time_budget=budget)
                      for budget in (1e6, None))
    assert timed.spectrum.quadrature.float64_products and untimed.spectrum.quadrature.float64_products
    assert timed.spectrum.quadrature.hvps == untimed.spectrum.quadrature.hvps
    assert (timed.ratio, timed.uncertainty.plus_minus) == (untimed.ratio, untimed.uncertainty.plus_minus)
    assert timed.spectrum.hvps == untimed.spectrum.hvps + 2 * curvature.DATA_CHECK_TIMING  # spent, not held back


def test_float64_runs_the_clock_cut_to_a_wider_plus_minus_leave_the_float32_answer(monkeypatch) -> None:
    """The re-run goes ahead where twice the float32 runs' seconds fit, but float64 products
    can cost far more (a convolution on a CPU: ~10×): the clock then cuts the float64 runs
    short of the float32 ones, and their wider ± replaced the float32 answer. Here the float64
    runs are cut after their first stage (32 steps, as the clock would: its plan capped, its
    stop said "time-budget"; no timing measured); the float32 answer (3 × 64 steps) is kept,
    the same ρ* and ± as the float32 runs alone (exact equality: same seed and plan), every
    product still counted, and the warning says so."""
    float32 = float32_runs_alone(monkeypatch, *_classifier_near_zero_loss(), method="slq", seed=0, batch_size=16,
                                 tolerance=0.002, time_budget=1e6)
    float64_runs_cut_after_one_stage(monkeypatch)
    result = prunelimit.bounds(*_classifier_near_zero_loss(), method="slq", seed=0, batch_size=16, tolerance=0.002,
                               time_budget=1e6)
    assert not result.spectrum.quadrature.float64_products and result.spectrum.stopped_by == "time-budget"
    assert (result.ratio, result.uncertainty.plus_minus) == (float32.ratio, float32.uncertainty.plus_minus)
    assert result.spectrum.hvps == float32.spectrum.hvps + 96  # the float64 runs' products are counted
    stages = result.to_json()["timing"]["stages"]
    assert sum(s["hvps"] for s in stages.values()) == result.spectrum.hvps
    assert any(w.endswith("the float32 answer is kept") for w in result.warnings)
