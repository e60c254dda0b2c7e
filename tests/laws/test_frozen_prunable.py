"""``imp`` and ``hyperflux`` on a model whose prunable weights are partly frozen
(``requires_grad=False``): they prune them with the others but never train them, and say so."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunelimit


def _frozen_first_layer():
    """8 → 16 → 3, the first layer's weight frozen, and 256 points of a random labelling."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    model[0].weight.requires_grad_(False)
    x = torch.randn(256, 8, generator=gen)
    return model, (x, torch.randint(0, 3, (256,), generator=gen))


def _imp(model, data):
    return prunelimit.imp(model, data, eval_data=data, levels=1, rate=0.5, epochs_per_level=1, epochs_dense=0,
                          batch_size=64)


def _hyperflux(model, data):
    return prunelimit.hyperflux(model, data, 0.5, eval_data=data, batch_size=32, pruning_epochs=6,
                                regrowth_epochs=0)


@pytest.mark.parametrize("run", [_imp, _hyperflux])
def test_frozen_prunable_weights_are_pruned_untrained_and_named(run):
    """Both pruned part of the frozen layer and left the rest as it was, in silence: its kept
    weights cannot make up for the pruned ones, which the warning now says, naming the tensor
    and the fix. An unfrozen model's run has no such warning."""
    model, data = _frozen_first_layer()
    before = model[0].weight.clone()
    result = run(model, data)
    kept = result.masks["0.weight"]
    assert 0 < int(kept.sum()) < kept.numel()  # pruned with the others
    assert torch.equal(model[0].weight[kept], before[kept])  # and never trained
    frozen = [w for w in result.warnings if "frozen" in w]
    assert frozen == [f"{before.numel()} prunable weights (0.weight) are frozen (requires_grad=False): "
                      + ("IMP prunes them by magnitude with the others" if run is _imp
                         else "Hyperflux gates them with the others")
                      + ", but training never updates them, so the weights kept there do not make up for the ones "
                        "pruned; exclude= their modules, or make them trainable in the model"]

    model, data = _frozen_first_layer()
    model[0].weight.requires_grad_(True)
    assert not [w for w in run(model, data).warnings if "frozen" in w]
