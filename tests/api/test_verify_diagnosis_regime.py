"""``verify``'s diagnosis of an overshoot reads the weights as the regime check does: it said
"Likely cause: the weights are not concentrated near zero" and "Fix: train with l1" of every
model, of an l1-trained BatchNorm MLP with 98 % of its weights below 0.01 (l1-shaped, ρ* 87.0 %,
measured 75.7 %) and of a model pruned already, whose shape the regime check says cannot tell."""

from __future__ import annotations

import torch

import prunelimit
from prunelimit.api.verification import PredictedLimit, _diagnose
from prunelimit.data.spec import load_dataset
from prunelimit.models.spec import build_model
from prunelimit.theory.regime import Regime
from tests.conftest import LIBRARY_SAMPLES, SPEC, adam_fit


def _prediction() -> PredictedLimit:
    return PredictedLimit(ratio=0.9, lower=0.8, upper=0.95, epsilon=0.05, radius=2.0, trace=20.0,
                          params_hessian=1000, scope="global", warnings=(), cached=False)


def test_an_l1_shaped_model_that_overshoots_is_not_told_its_weights_are_not_near_zero() -> None:
    """l1-shaped (a share of 74.5 %), no record: the cause is the partly l1-trained class or
    weight decay, whose share the weights cannot tell from l1's; the fix l1 to convergence, or
    in place of weight decay."""
    regime = Regime(True, 0.745, None, weights=2368)
    _, cause, fix = _diagnose(_prediction(), 0.113, "74.5 % below 0.001, 98.0 % below 0.01, 99.0 % below 0.1", regime)
    assert "not concentrated near zero" not in cause
    assert cause.startswith("Likely cause: the model looks l1-trained or trained with weight decay, whose near-zero "
                            "shares look alike (near-zero share 74.5 %; 74.5 % below 0.001")
    assert "l1-trained only in part" in cause and "with weight decay alone" in cause
    assert fix.startswith("Fix: train with l1 to convergence (LOMP: ") and "or with l1 in place of weight decay" in fix


def test_a_pruned_models_diagnosis_says_its_shape_cannot_tell_computed_or_read_from_a_report() -> None:
    """A plain MLP pruned to 50 % by magnitude overshoots by about 13 points; its remaining
    weights do not look l1-shaped and its zeros would, so the regime check cannot tell how it
    was trained: the diagnosis says so and advises fine-tuning alone, as bounds' regime advice
    leaves out training with l1. Verify with the prediction in hand assesses the regime alike."""
    data = load_dataset("digits:train", max_samples=LIBRARY_SAMPLES)
    torch.manual_seed(0)
    model = adam_fit(build_model(SPEC), data.x, data.y)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, torch.nn.Linear):
                w = layer.weight
                w[w.abs() <= w.abs().flatten().kthvalue(w.numel() // 2).values] = 0
    report = prunelimit.verify(model, (data.x, data.y), method="exact")
    assert report.delta > 0.05 and not report.bounds.regime.train_with_l1  # the case as named
    _, cause, fix = report.diagnosis
    assert cause.startswith("Likely cause: the model is pruned already (50.0 % of its prunable weights are exactly "
                            "zero)") and "cannot tell whether it was l1-trained" in cause
    assert "not concentrated near zero" not in cause and "l1" not in fix and "fine-tune after pruning" in fix
    assert prunelimit.verify(model, (data.x, data.y), prediction_from=report.bounds).diagnosis == report.diagnosis
