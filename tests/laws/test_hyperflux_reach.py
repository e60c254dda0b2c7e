"""Hyperflux on few batches: a run whose gates cannot fall far enough is refused before
training."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import OptionError, library_call
from prunelimit.laws.hyperflux import gate_travel, hyperflux_prune


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def _no_flux(m: nn.Module, batch) -> torch.Tensor:  # finite, its gradient on every gate exactly 0
    return (m(batch[0]) * 0.0).sum()


def test_gate_travel_is_the_quantile_of_the_gate_init_to_close():
    # closing half the open gates of a dense start: the median of uniform [0.2, 0.5]
    assert gate_travel(0.5, 1.0, (0.2, 0.5)) == pytest.approx(0.35, rel=1e-12)
    # from 40 % to 30 % a quarter of the open gates close
    assert gate_travel(0.3, 0.4, (0.2, 0.5)) == pytest.approx(0.275, rel=1e-12)
    assert gate_travel(0.4, 0.4, (0.2, 0.5)) == 0.0  # nothing to close


def test_a_run_whose_gates_cannot_reach_zero_is_refused_before_training():
    """Adam moves a gate about gate_lr a step: 3 epochs of 2 batches moved the gates (started
    in [0.2, 0.5]) about 0.06, none reached 0, and 3 epochs to 0.5 from digits-mlp.pt on 256
    samples ended at density 1.0 with only a warning."""
    model = _mlp()
    before = copy.deepcopy(model.state_dict())
    batches = [(torch.randn(4, 8), torch.arange(4) % 4)] * 2
    with library_call(), pytest.raises(OptionError) as refused:
        hyperflux_prune(model, batches, cross_entropy_loss, 0.5, pruning_epochs=3, regrowth_epochs=0)
    message = str(refused.value)
    assert message.startswith("pruning_epochs=3 × 2 batches = 6 gate steps at gate_lr=0.01 move a gate about 0.06")
    assert "closes 50% of the open gates" in message and "fall 0.35" in message
    assert message.endswith("use pruning_epochs=18, gate_lr=0.059, or 12 batches an epoch (more or smaller batches)")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # no step taken
    # each named fix is enough for the check: 18·2·0.01 = 0.36, 6·0.059 = 0.354, 3·12·0.01 = 0.36 ≥ 0.35
    for fix in ({"pruning_epochs": 18}, {"gate_lr": 0.059}):
        hyperflux_prune(_mlp(), batches, _no_flux, 0.5, **{"pruning_epochs": 3, "regrowth_epochs": 0, **fix})
    hyperflux_prune(_mlp(), batches[:1] * 12, _no_flux, 0.5, pruning_epochs=3, regrowth_epochs=0)


def test_the_refusal_names_the_command_line_flags():
    batches = [(torch.randn(4, 8), torch.arange(4) % 4)] * 2
    with pytest.raises(OptionError, match=r"^--pruning-epochs 3 × 2 batches = 6 gate steps at --gate-lr 0\.01 .*"
                                          r"use --pruning-epochs 18, --gate-lr 0\.059, or 12 batches an epoch "
                                          r"\(more samples \(--max-samples\) or a smaller --batch-size\)$"):
        hyperflux_prune(_mlp(), batches, cross_entropy_loss, 0.5, pruning_epochs=3, regrowth_epochs=0)
