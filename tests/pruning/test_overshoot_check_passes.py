"""``overshoot_check`` pruned and evaluated every one of its three ratios, though a ratio that
zeroes no non-zero weight (ρ* within 5 points of 0, a ρ_L of 0, or both below an already
pruned model's sparsity) is the dense model weight for weight, and ρ_L can equal ρ* − 5 points:
the same model evaluated up to three times. Each distinct pruned model is now evaluated once,
for the same numbers."""

from __future__ import annotations

import copy


from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import overshoot_check, prune_curve
from prunelimit.pruning.magnitude import prune_model

from tests.pruning.conftest import Counted, digits_batches, trained_mlp


BATCHES = digits_batches(256)[:2]
EPSILON = 0.02


def _model(prune_to: float = 0.0) -> Counted:
    model = trained_mlp(l1=0.0, epochs=3, seed=0)
    if prune_to:
        prune_model(model, prune_to)  # zeros in place, as a pruned checkpoint holds them
    return Counted(model)


def _as_measured(model, check):
    """The check's points against pruning afresh to each ratio (same model and data: exact)."""
    ratios = [0.0, check.predicted.ratio] + ([] if check.lower is None else [check.lower.ratio])
    fresh = prune_curve(copy.deepcopy(model), BATCHES, cross_entropy_loss, ratios)
    got = [check.dense_loss, check.predicted.loss] + ([] if check.lower is None else [check.lower.loss])
    assert got == [p.loss for p in fresh]


def test_ratios_of_the_dense_model_cost_no_pass():
    model = _model()
    check = overshoot_check(model, BATCHES, cross_entropy_loss, EPSILON, 0.03, 0.0)
    assert model.calls == len(BATCHES)  # ρ* − 5 points is 0 and so is ρ_L: the dense pass alone (was 3)
    assert (check.predicted_overshoots, check.lower_overshoots) == (None, None)
    _as_measured(model, check)


def test_ratios_below_a_pruned_models_sparsity_cost_no_pass():
    model = _model(prune_to=0.6)
    check = overshoot_check(model, BATCHES, cross_entropy_loss, EPSILON, 0.6, 0.5)
    assert model.calls == len(BATCHES)  # both remove only the model's own zeros (was 3 passes)
    assert (check.predicted_removed, check.lower_removed) == (0, 0)
    _as_measured(model, check)


def test_the_same_ratio_twice_is_one_pass():
    model = _model()
    check = overshoot_check(model, BATCHES, cross_entropy_loss, EPSILON, 0.55, 0.5)
    assert model.calls == 2 * len(BATCHES)  # dense, and 0.5 once for ρ_L and ρ* − 5 points (was 3)
    assert check.predicted == check.lower and check.predicted_removed > 0
    _as_measured(model, check)


def test_distinct_pruned_ratios_are_each_measured():
    model = _model()
    check = overshoot_check(model, BATCHES, cross_entropy_loss, EPSILON, 0.75, 0.4)
    assert model.calls == 3 * len(BATCHES)
    _as_measured(model, check)
