"""The actual-limit search paid a prune-and-evaluate pass for every grid ratio it probed, though
two ratios can prune to the same weights: on a model of under 1,000 prunable weights a grid step
of 0.001 often removes none more (⌈ρN⌉ unchanged), and on an already pruned model every ratio up
to its sparsity removes only its zeros (the dense model itself). Each distinct pruned model is
now evaluated once; the search's points, limits and curve are the same numbers."""

from __future__ import annotations

import math


from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import actual_limit, prune_curve
from prunelimit.pruning.magnitude import prune_model

from tests.pruning.conftest import Counted, digits_batches, tiny_mlp, trained_mlp


BATCHES = digits_batches(256)[:2]


def _small() -> Counted:
    return Counted(tiny_mlp(BATCHES))


def _fresh(model, points):
    """The points as pruning afresh measures them (same model and data: exact)."""
    fresh = prune_curve(model, BATCHES, cross_entropy_loss, [p.ratio for p in points])
    return [(p.ratio, p.loss, p.accuracy) for p in fresh] == [(p.ratio, p.loss, p.accuracy) for p in points]


def test_grid_ratios_that_prune_the_same_weights_are_one_pass():
    model = _small()
    n = sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))
    found = actual_limit(model, BATCHES, cross_entropy_loss, 0.02)
    distinct = {math.ceil(round(p.ratio * n, 9)) for p in found.probes}  # the weights each probe removes
    assert found.evaluations == len(distinct) < len(found.probes)
    assert model.calls == found.evaluations * len(BATCHES)
    assert _fresh(model, found.probes)


def test_a_full_sweep_of_a_small_model_costs_one_pass_per_pruned_model():
    model = _small()
    found = actual_limit(model, BATCHES, cross_entropy_loss, 0.02, sweep_points=1000)
    # 1,000 grid ratios, 149 pruned models (0 … 148 weights removed): was 1,025 passes
    assert model.calls == 149 * len(BATCHES)
    assert found.evaluations + found.sweep_evaluations == 149
    assert _fresh(model, found.curve)


def test_ratios_below_a_pruned_models_sparsity_are_the_dense_pass():
    inner = trained_mlp(l1=0.0, epochs=3, seed=0)  # 2,368 weights: every grid step removes one more
    prune_model(inner, 0.6)  # its zeros in place, as a pruned checkpoint holds them
    model = Counted(inner)
    found = actual_limit(model, BATCHES, cross_entropy_loss, 0.02)
    below = [p for p in found.probes if 0 < p.ratio <= 0.6]
    assert below and all((p.loss, p.accuracy) == (found.dense_loss, found.dense_accuracy) for p in below)
    assert found.evaluations == len(found.probes) - len(below)
    assert model.calls == found.evaluations * len(BATCHES)
    assert found.loss_ratio >= 0.6
