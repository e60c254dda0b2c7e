"""``gate --use actual`` (the measured limit alone, no spectrum) passed over the model as given
twice: once for the default ε's per-batch losses, then as the actual-limit search's first point.
The ε pass now gives the search its dense loss and accuracy, as ``verify``'s overshoot check does
(tests/api/test_verify_dense_measured_once.py): one pass over the analysis data fewer, with the
same ε, limits and probes to the last bit."""

from __future__ import annotations

import pytest
import torch

import prunelimit
import prunelimit.pruning.actual as actual_module
import prunelimit.theory.epsilon as epsilon_module
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import NumericalError
from prunelimit.pruning.actual import actual_limit
from prunelimit.theory.epsilon import batch_losses, epsilon_from_losses

from tests.pruning.conftest import digits_batches, trained_mlp


def _gate(monkeypatch, model, batches, **options):
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    dense_points, epsilon_passes = [], []
    measured, losses = actual_module.measured_point, epsilon_module.batch_losses

    def point(*args):
        if args[4] == 0.0:  # the ratio pruned to: the model as given
            dense_points.append(args[4])
        return measured(*args)

    def epsilon_pass(*args):
        epsilon_passes.append(1)
        return losses(*args)

    monkeypatch.setattr(actual_module, "measured_point", point)
    monkeypatch.setattr(epsilon_module, "batch_losses", epsilon_pass)
    verdict = prunelimit.gate(model, (x, y), min_ratio=0.0, use="actual", batch_size=256, **options)
    monkeypatch.undo()
    return verdict.bounds, len(dense_points) + len(epsilon_passes)


def test_the_model_as_given_is_measured_once_for_epsilon_and_the_search(monkeypatch):
    torch.manual_seed(0)
    model, batches = trained_mlp(l1=0.0, epochs=3, seed=0), digits_batches(256)[:2]
    doc, dense_passes = _gate(monkeypatch, model, batches)
    assert dense_passes == 0  # neither ε's own pass nor the search's dense point: the one pass both read
    # what the two passes gave, computed apart: ε to the last bit, then the search alone from it
    epsilon = epsilon_from_losses(batch_losses(model, batches, cross_entropy_loss))
    alone = actual_limit(model, batches, cross_entropy_loss, epsilon)
    assert doc["epsilon"] == epsilon
    actual = doc["actual"]
    assert actual["evaluations"] == alone.evaluations - 1  # the dense pass, made once
    assert (actual["loss_ratio"], actual["accuracy_ratio"]) == (alone.loss_ratio, alone.accuracy_ratio)
    assert (actual["dense_loss"], actual["dense_accuracy"]) == (alone.dense_loss, alone.dense_accuracy)
    assert [(p["ratio"], p["loss"], p["accuracy"]) for p in actual["probes"]] \
        == [(p.ratio, p.loss, p.accuracy) for p in alone.probes]


def test_a_given_epsilon_leaves_the_dense_point_to_the_search(monkeypatch):
    """With ``epsilon`` given no ε pass is made: the search measures the model as given itself."""
    torch.manual_seed(0)
    model, batches = trained_mlp(l1=0.0, epochs=3, seed=0), digits_batches(256)[:2]
    doc, dense_passes = _gate(monkeypatch, model, batches, epsilon=0.02)
    assert dense_passes == 1
    assert doc["actual"]["evaluations"] == actual_limit(model, batches, cross_entropy_loss, 0.02).evaluations


def test_a_non_finite_batch_loss_is_refused_as_before(monkeypatch):
    """The ε pass's losses are checked as ``batch_losses`` checks them: the same refusal, naming the batch."""
    torch.manual_seed(0)
    model, batches = trained_mlp(l1=0.0, epochs=3, seed=0), digits_batches(256)[:2]
    second = batches[1][1]

    def infinite_on_the_second(output, target):  # a criterion, as the library takes one
        value = torch.nn.functional.cross_entropy(output, target)
        return value * torch.inf if torch.equal(target, second) else value

    with pytest.raises(NumericalError, match="loss of analysis batch 1 is not finite"):
        _gate(monkeypatch, model, batches, loss=infinite_on_the_second)
