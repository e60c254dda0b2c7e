"""Loss and accuracy of a model over fixed batches (eval mode, no gradients).

Under torchrun each rank evaluates its shard of whole batches and the sums are
all-reduced, so every rank gets the single-process numbers (``prunelimit.distributed``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from prunelimit.data.batches import Batches, LossFn, batch_size, cross_entropy_loss
from prunelimit.device import ieee_float32
from prunelimit.distributed import all_reduce_sum, shard_batches
from prunelimit.specs import USER_CODE_ERRORS


@dataclass(frozen=True)
class Evaluation:
    """Size-weighted mean loss; accuracy in [0, 1] (``None`` when labels are not classes or
    ``model(x)`` gives no class scores, ``class_scores``)."""

    loss: float
    accuracy: float | None
    samples: int


def class_labels(batch) -> bool:
    """Whether ``batch`` holds integer class labels (one a sample), which accuracy needs."""
    return len(batch) > 1 and not batch[1].is_floating_point() and batch[1].dim() == 1


def class_scores(model: nn.Module, x: torch.Tensor, samples: int) -> torch.Tensor | None:
    """``model(x)`` when it is a row of scores over two or more classes per sample, else
    ``None``: a model that a loss function of the user's calls otherwise (with more inputs,
    taking one output of a tuple or a dict), or with one output a sample (a logit, or a
    probability: which threshold is not known), has no top-1 accuracy to report."""
    try:
        out = model(x)
    except USER_CODE_ERRORS:  # the loss function ran the same model on this batch: it is called otherwise
        return None
    return out if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == samples \
        and out.shape[1] >= 2 else None


@torch.no_grad()
def gives_class_scores(model: nn.Module, batch) -> bool:
    """Whether ``model(x)`` gives class scores (``class_scores``) on ``batch``, run as
    ``evaluate`` runs it: in eval mode (batch norm's statistics untouched)."""
    was_training = model.training
    model.eval()
    try:
        return class_scores(model, batch[0], batch_size(batch)) is not None
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, batches: Batches, loss_fn: LossFn) -> Evaluation:
    """Mean loss over all samples and, for integer labels and class scores from ``model(x)``
    (``class_scores``), top-1 accuracy; at IEEE float32 (``device.ieee_float32``)."""
    return evaluate_with_losses(model, batches, loss_fn)[0]


@torch.no_grad()
@ieee_float32()  # the measured search's L(w) + ε and its losses are ε's: IEEE, whatever the switches
def evaluate_with_losses(model: nn.Module, batches: Batches, loss_fn: LossFn) -> tuple[Evaluation, list[float]]:
    """:func:`evaluate` and the mean loss of each batch of this rank's shard, in data order:
    ``theory.epsilon.batch_losses``'s values, bit for bit (the same calls in the same mode),
    so one pass over the model as given serves ε and the search's dense point."""
    losses: list[float] = []
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    classify = True
    try:
        for batch in shard_batches(batches):
            b = batch_size(batch)
            labels = class_labels(batch)
            y = batch[1] if labels else None
            if loss_fn is cross_entropy_loss and labels:
                # one forward serves loss and accuracy (this is the actual-limit search's hot path)
                logits = model(batch[0])
                loss = nn.functional.cross_entropy(logits, y)
            else:
                logits, loss = None, loss_fn(model, batch)
            losses.append(float(loss))
            total_loss += losses[-1] * b
            n += b
            if classify and labels and logits is None:
                logits = class_scores(model, batch[0], b)
            if classify and labels and logits is not None:
                # argmax ranks NaN above every number: a row with NaN scores predicts no class
                correct += int(((logits.argmax(dim=1) == y) & ~logits.isnan().any(dim=1)).sum())
            else:
                classify = False
    finally:
        model.train(was_training)
    # float64 holds the counts exactly (below 2**53 samples); one rank without classes voids accuracy
    sums = all_reduce_sum(torch.tensor([total_loss, correct, n, 0.0 if classify else 1.0], dtype=torch.float64))
    total_loss, correct, n, unclassified = sums.tolist()
    classify = unclassified == 0
    return Evaluation(loss=total_loss / n, accuracy=correct / n if classify else None, samples=int(n)), losses
