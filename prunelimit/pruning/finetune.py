"""Masked fine-tuning of a pruned network: SGD with momentum, pruned weights stay at zero.

It is LOMP training (:func:`prunelimit.pruning.lomp.train`) with keep-masks: after every
step the masks are re-applied and the gradients and momentum of pruned weights zeroed,
so the sparsity pattern, and the achieved ratio, are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from prunelimit import validate
from prunelimit.data.batches import Batches, LossFn
from prunelimit.errors import fields_named
from prunelimit.pruning.lomp import SCHEDULES, Checkpoint, LompConfig, Progress, Schedule, TrainResult, train


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning hyperparameters (no l1 term: the support is already fixed by the masks)."""

    epochs: int = 10
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    schedule: Schedule = "cosine"
    seed: int = 0

    @fields_named
    def __post_init__(self) -> None:
        """Refuse invalid values (``OptionError``, a ``ValueError``, naming the field)."""
        validate.plain_fields(self)  # NumPy scalars and 0-d tensors as the numbers they hold
        validate.integer("epochs", self.epochs, 0)
        validate.positive("lr", self.lr)
        validate.momentum("momentum", self.momentum)
        validate.non_negative("weight_decay", self.weight_decay)
        validate.integer("batch_size", self.batch_size, 1)
        validate.choice("schedule", self.schedule, SCHEDULES)
        validate.integer("seed", self.seed, 0)

    def as_lomp(self) -> LompConfig:
        return LompConfig(
            epochs=self.epochs, lr=self.lr, momentum=self.momentum,
            weight_decay=self.weight_decay, batch_size=self.batch_size,
            schedule=self.schedule, seed=self.seed,
        )


def data_batch_size(batches: Batches) -> int:
    """The SGD batch of fine-tuning on ``batches``: the size they were cut to (``--batch-size``,
    a shorter last one aside), so that the batch size the data was given in is the one it trains
    in, and a batch of one BatchNorm refuses is fixed as the refusal says, with ``--batch-size``."""
    return max(int(batch[0].shape[0]) for batch in batches)


def finetune(
    model: nn.Module,
    masks: Mapping[str, Tensor],
    train_batches: Batches,
    loss_fn: LossFn,
    config: FinetuneConfig = FinetuneConfig(),
    *,
    eval_batches: Batches | None = None,
    progress: Progress | None = None,
    checkpoint: Checkpoint | None = None,
    resume_state: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Fine-tune ``model`` in place keeping every weight with a ``False`` mask at exactly 0.

    Callbacks and ``resume_state`` work as in :func:`prunelimit.pruning.lomp.train`.
    ``config.seed`` sets the shuffling and torch's global generator (dropout draws from it),
    so the same seed fine-tunes to the same bits, whatever drew from the generator before
    (``verify --refit`` fine-tunes as ``prune --finetune-epochs`` does); a resumed run
    restores the generator it saved instead.
    """
    if resume_state is None:
        torch.manual_seed(config.seed)
    return train(
        model, train_batches, loss_fn, config.as_lomp(), eval_batches=eval_batches,
        masks=masks, progress=progress, checkpoint=checkpoint, resume_state=resume_state,
    )
