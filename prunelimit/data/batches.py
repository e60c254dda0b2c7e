"""Deterministic, materialised batches and the loss-function contract.

Every curvature and pruning routine takes a ``Batches`` list (fixed order, no
augmentation) and a ``LossFn`` ``fn(model, batch) -> mean loss over the batch``.
Batches are weighted by their size, so mean-loss quantities are exact over the data.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

Batch = tuple[Tensor, ...]
Batches = Sequence[Batch]
LossFn = Callable[[nn.Module, Batch], Tensor]


def batch_size(batch: Batch) -> int:
    """Number of samples in a batch (length of its first tensor)."""
    return int(batch[0].shape[0])


def total_samples(batches: Batches) -> int:
    return sum(batch_size(b) for b in batches)


def batch_form(batch: Batch) -> tuple:
    """What batches must share to be joined into one: each tensor's shape past its samples and
    its type. Batches given in hand may differ there (a loader that pads each to its own length)."""
    return tuple((t.shape[1:], t.dtype) for t in batch)


def cross_entropy_loss(model: nn.Module, batch: Batch) -> Tensor:
    """Mean cross-entropy of ``model(x)`` against integer labels ``y``."""
    x, y = batch[0], batch[1]
    return nn.functional.cross_entropy(model(x), y)


def mse_loss(model: nn.Module, batch: Batch) -> Tensor:
    """Mean squared error ``mean((model(x) - y)**2)``, ``y`` reshaped to the output."""
    x, y = batch[0], batch[1]
    out = model(x)
    return nn.functional.mse_loss(out, y.reshape(out.shape).to(out.dtype))


def to_device(batches: Batches, device: torch.device | str) -> list[Batch]:
    return [tuple(t.to(device) for t in b) for b in batches]
