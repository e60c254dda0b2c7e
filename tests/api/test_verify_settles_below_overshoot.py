"""``verify`` measures the limit beside bounds' overshoot check, whose points are measurements
of the same criterion on the same weights and data: an undertrained MLP's loss failed at ρ_L
(50.2 %) and passed again at 51.2 %, inside a cell of the search's scan, so verify reported a
limit of 52.1 % while its own ``overshoot.lower`` said ρ_L lies past the limit. The search
now settles below a checked point that failed: the limit is 38.8 %, a grid step below a
failure it measured."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import prunelimit
from prunelimit.data.spec import load_dataset


def _undertrained() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """An MLP 64-12-10 after 100 SGD steps on 300 digits (seeded): its loss curve under
    one-shot pruning fails and recovers between 38 % and 52 %."""
    data = load_dataset("digits:train", max_samples=300)
    x, y = data.x, data.y
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    draw = torch.Generator().manual_seed(0)
    for _ in range(100):
        i = torch.randint(0, len(x), (64,), generator=draw)
        optimizer.zero_grad()
        F.cross_entropy(model(x[i]), y[i]).backward()
        optimizer.step()
    return model.eval(), (x, y)


def test_the_measured_limit_lies_below_a_checked_point_that_failed() -> None:
    model, data = _undertrained()
    report = prunelimit.verify(model, data, method="exact", epsilon=0.003)
    check, actual = report.bounds.overshoot, report.actual
    assert check.lower_overshoots  # the case: ρ_L's loss is past L + ε
    assert actual.loss_ratio < check.lower.ratio  # the flag and the limit agree (before: 0.521 > 0.5016)
    # the search's own promise holds: every measured point at or below the limit is within L + ε
    assert all(p.loss <= actual.dense_loss + actual.epsilon for p in actual.probes if p.ratio <= actual.loss_ratio)
    assert any(round(p.ratio - actual.loss_ratio, 9) == 0.001 and not p.loss <= actual.dense_loss + actual.epsilon
               for p in actual.probes)  # one grid step above it, a measured failure
