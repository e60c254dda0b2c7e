"""Loss and accuracy of a model over fixed batches (eval mode, no gradients)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from prunelimit.data.batches import Batches, LossFn, batch_size


@dataclass(frozen=True)
class Evaluation:
    """Size-weighted mean loss; accuracy in [0, 1] (``None`` when labels are not classes)."""

    loss: float
    accuracy: float | None
    samples: int


@torch.no_grad()
def evaluate(model: nn.Module, batches: Batches, loss_fn: LossFn) -> Evaluation:
    """Mean loss over all samples and, for integer labels, top-1 accuracy."""
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    classify = True
    try:
        for batch in batches:
            b = batch_size(batch)
            total_loss += float(loss_fn(model, batch)) * b
            n += b
            y = batch[1] if len(batch) > 1 else None
            if classify and y is not None and not y.is_floating_point() and y.dim() == 1:
                correct += int((model(batch[0]).argmax(dim=1) == y).sum())
            else:
                classify = False
    finally:
        model.train(was_training)
    return Evaluation(loss=total_loss / n, accuracy=correct / n if classify else None, samples=n)
