"""Accuracy of ``prunelimit.models.evaluate``: reported only where ``model(x)`` gives class scores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.evaluate import evaluate


def _bce(model, batch):
    return nn.functional.binary_cross_entropy_with_logits(model(batch[0]).squeeze(1), batch[1].float())


@pytest.mark.parametrize("outputs", [1, 2])
def test_accuracy_needs_two_or_more_class_scores_a_sample(outputs):
    """One logit a sample under a loss of the user's (binary cross-entropy on 0/1 labels)
    has no top-1: ``argmax`` over one column is always class 0, so the share of label 0
    was reported as the accuracy."""
    torch.manual_seed(0)
    model = nn.Linear(4, outputs)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    loss = _bce if outputs == 1 else cross_entropy_loss
    result = evaluate(model, [(x[:16], y[:16]), (x[16:], y[16:])], loss)
    expected = None if outputs == 1 else float((model(x).argmax(1) == y).float().mean())
    assert result.accuracy == expected  # counts over 32 samples: exact
    with torch.no_grad():
        whole = float(loss(model, (x, y)))
    assert result.loss == pytest.approx(whole, rel=1e-6)  # float32 sums in another order


def test_nan_class_scores_predict_no_class():
    """A model whose scores are NaN (diverged fine-tuning) got the share of label 0 as its
    accuracy: ``argmax`` ranks NaN above every number, so an all-NaN row "predicted" class 0.
    A row with a NaN score is now wrong; the others count as before."""
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))  # every sample predicts class 1
    x = torch.ones(6, 4)
    x[:2] = float("nan")  # two rows of NaN scores, labelled 0: argmax made them correct
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    assert evaluate(model, [(x, y)], cross_entropy_loss).accuracy == 3 / 6
    model.bias.data.fill_(float("nan"))
    assert evaluate(model, [(x, torch.zeros(6, dtype=torch.long))], cross_entropy_loss).accuracy == 0.0
