"""A model trained with weight decay and no l1 can look l1-shaped: weight decay 0.02 left a
64-32-10 digits MLP 86 % near zero (its ρ* 11 points past the measured limit), and `verify`
said "the model looks l1-trained" and "Fix: train with l1 to convergence", advice for a model
that was l1-trained. No statistic of the weights measured separated weight decay from l1
(prunelimit/theory/regime.py), so without a training record the advice names both."""

from __future__ import annotations

import torch

import prunelimit
from prunelimit.data.spec import load_dataset
from prunelimit.models.spec import build_model
from prunelimit.theory.regime import WEIGHT_DECAY_SHARE, assess_regime, report_l1_fix
from tests.conftest import LIBRARY_SAMPLES, SPEC, sgd_fit


def _weight_decayed() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """SPEC trained with plain SGD (momentum 0.9) and weight decay 0.02 for 1,500 batches of 64, seeded."""
    data = load_dataset("digits:train", max_samples=LIBRARY_SAMPLES)
    torch.manual_seed(0)
    model = sgd_fit(build_model(SPEC), data.x, data.y, steps=1500, seed=0, weight_decay=0.02)
    return model.eval(), (data.x, data.y)


def test_a_weight_decayed_model_that_looks_l1_shaped_is_not_told_it_looks_l1_trained_alone() -> None:
    model, data = _weight_decayed()
    report = prunelimit.verify(model, data, method="exact")
    regime = report.bounds.regime
    # the case as named: l1-shaped by its weights (85 % near zero), no record, and ρ* far past the limit
    assert regime.l1_shaped and regime.training is None and report.delta > 0.1
    _, cause, fix = report.diagnosis
    assert cause.startswith("Likely cause: the model looks l1-trained or trained with weight decay, whose near-zero "
                            "shares look alike (near-zero share ")
    assert "or with weight decay alone overshoot so too" in cause
    assert fix.startswith("Fix: train with l1 to convergence (LOMP: prunelimit.train(model, data, l1=...)), or with l1 "
                          f"in place of weight decay if it was trained with that ({WEIGHT_DECAY_SHARE}), or fine-tune")
    # a gate's fix, read from the report's regime JSON, says the same
    assert report_l1_fix(regime.to_json()).endswith(f"or with l1 in place of weight decay if it was trained with that "
                                                    f"({WEIGHT_DECAY_SHARE})")


def test_a_model_recorded_as_l1_trained_is_still_told_it_looks_l1_trained() -> None:
    """What a record of l1 says overrides the shape's doubt: no weight decay in its cause or fix."""
    from prunelimit.api.verification import _weights_cause
    from prunelimit.theory.regime import TrainingRecord

    model, _ = _weight_decayed()
    weights = [p for name, p in model.named_parameters() if name.endswith("weight") and p.dim() > 1]
    regime = assess_regime(weights, TrainingRecord(1e-3, 30, 30))
    assert regime.l1_shaped and "weight decay" not in _weights_cause(regime, "") + regime.l1_fix()
