"""``verify`` pruned nothing and evaluated the model as given twice over the analysis data:
``bounds``' overshoot check measures it (the dense loss its points are compared with), then the
actual-limit search measured it again as its first pass. The search now starts from the check's
dense point, and its limits are the same."""

from __future__ import annotations

import torch

import prunelimit
import prunelimit.pruning.actual as actual_module
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import actual_limit

from tests.pruning.conftest import digits_batches, trained_mlp


def _verify(monkeypatch, eval_data):
    torch.manual_seed(0)
    model = trained_mlp(l1=0.0, epochs=3, seed=0)
    batches = digits_batches(256)[:2]
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    ratios = []
    original = actual_module.measured_point

    def spy(*args):
        ratios.append(args[4])  # the ratio pruned to
        return original(*args)

    monkeypatch.setattr(actual_module, "measured_point", spy)
    report = prunelimit.verify(model, (x, y), eval_data=eval_data, batch_size=256, method="exact", epsilon=0.02)
    monkeypatch.undo()
    held_out = None if eval_data is None else [eval_data]
    alone = actual_limit(model, batches, cross_entropy_loss, 0.02, eval_batches=held_out)
    return report, alone, ratios


def test_the_dense_model_is_measured_once_without_evaluation_data(monkeypatch):
    report, alone, ratios = _verify(monkeypatch, None)
    assert ratios.count(0.0) == 1  # the overshoot check's; the search used to measure it again
    assert report.actual.evaluations == alone.evaluations - 1
    assert report.actual.probes == alone.probes and report.actual.dense_loss == alone.dense_loss
    assert (report.actual.loss_ratio, report.actual.accuracy_ratio) == (alone.loss_ratio, alone.accuracy_ratio)


def test_with_evaluation_data_only_their_accuracy_is_measured_at_the_dense_model(monkeypatch):
    x, y = (torch.cat(parts) for parts in zip(*digits_batches(256)[2:3]))
    report, alone, ratios = _verify(monkeypatch, (x, y))
    assert ratios.count(0.0) == 1
    assert report.actual.evaluations == alone.evaluations  # the pass over the evaluation data is made
    assert report.actual.probes == alone.probes and report.actual.dense_accuracy == alone.dense_accuracy
