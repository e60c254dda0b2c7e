"""Shared fixtures: sklearn digits (64-dim, 10 classes) and a briefly trained MLP 64-32-10."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from prunelimit.data.batches import Batch, cross_entropy_loss
from prunelimit.models.zoo import mlp
from prunelimit.pruning.lomp import LompConfig, train


def digits_batches(batch: int = 512) -> list[Batch]:
    """All 1,797 digits in fixed order, pixels scaled to [0, 1]."""
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(y), batch)]


def trained_mlp(l1: float, epochs: int = 15, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = mlp([64, 32, 10])
    config = LompConfig(epochs=epochs, lr=0.1, l1=l1, batch_size=64, seed=seed)
    train(model, digits_batches(), cross_entropy_loss, config)
    return model


class Counted(nn.Module):
    """``inner``, counting its forward calls (``calls``; one per batch of a pass) and those in
    eval mode (``evaluated``: evaluation, where fine-tuning trains): what passes cost."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.calls, self.evaluated = inner, 0, 0

    def forward(self, x):
        self.calls += 1
        self.evaluated += not self.training
        return self.inner(x)


def tiny_mlp(batches: list[Batch]) -> nn.Module:
    """MLP 64-2-10 trained on ``batches``: 148 prunable weights, fewer than the 1,000 grid ratios."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 2), nn.ReLU(), nn.Linear(2, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(30):
        for batch in batches:
            opt.zero_grad()
            cross_entropy_loss(model, batch).backward()
            opt.step()
    return model


@pytest.fixture(scope="session")
def digits() -> list[Batch]:
    return digits_batches()


@pytest.fixture(scope="session")
def mlp_dense() -> torch.nn.Module:
    return trained_mlp(l1=0.0)


@pytest.fixture(scope="session")
def mlp_l1() -> torch.nn.Module:
    return trained_mlp(l1=1e-3)
