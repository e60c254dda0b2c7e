"""Hyperflux on few batches: a run whose gates cannot fall far enough is refused before
training, and the density stops at each epoch's target instead of falling past it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import OptionError, library_call
from prunelimit.laws.hyperflux import gate_travel, hyperflux_prune, pressure_ladder


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
    assert "closes 50 % of the open gates" in message and "fall 0.35" in message
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


def test_a_pressure_ladder_whose_gates_cannot_close_is_refused_before_training():
    """law nplh --mode pressure trained every level and ended with no point below density 1.0
    ('only 0 point(s) with density in [0.005, 0.5]'): 3 levels × 1 epoch × 2 batches moved a gate
    about 0.06, and the lowest starts at 0.2. The fix named is enough for the check."""
    model = _mlp()
    before = copy.deepcopy(model.state_dict())
    batches = [(torch.randn(4, 8), torch.arange(4) % 4)] * 2
    with library_call(), pytest.raises(OptionError) as refused:
        pressure_ladder(model, batches, cross_entropy_loss, (1.0, 2.0, 4.0), 1)
    assert str(refused.value) == (
        "3 pressure levels × epochs_per_level=1 × 2 batches = 6 gate steps at a gate learning rate of 0.01 move a "
        "gate about 0.06, less than the 0.2 the lowest gate starts at: no weight can be pruned; use "
        "epochs_per_level=4 or more batches an epoch (more or smaller batches)")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # no step taken
    pressure_ladder(_mlp(), batches, _no_flux, (1.0, 2.0, 4.0), 4)  # 3·4·2·0.01 = 0.24 ≥ 0.2


def test_the_density_stops_at_each_epoch_target_when_every_gate_falls_together():
    """With no flux every gate falls about gate_lr a step once Γ > 0, whatever Γ is, so the
    density drops in a block once the gates reach 0; the controller, which sees it only at the
    epoch's end, had raised Γ all the while the gates were still on their way (windup) and the
    pressure phase to 0.5 fell to 0.026. The pressure is cut the step the density reaches the
    epoch's target: no epoch ends more than a step's fall (3 % of the gates) below its target."""
    batches = [(torch.randn(4, 8), torch.zeros(4, dtype=torch.long))] * 4
    res = hyperflux_prune(_mlp(), batches, _no_flux, 0.5, pruning_epochs=10, regrowth_epochs=0)
    for epoch in res.log:
        assert epoch.density >= epoch.target - 0.04, epoch
    assert res.density == pytest.approx(0.5, rel=0.10)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"


@pytest.fixture(scope="module")
def example():
    """The l1-trained example on its 12 batches of digits:train: most of its weights carry almost
    no flux, so their gates fall together under any Γ > 0."""
    from prunelimit.api.training import starting_point

    return starting_point(EXAMPLE, None, None, None, device="cpu")


@pytest.mark.parametrize("pruned", [False, True])
def test_a_few_epoch_run_ends_near_its_target_from_a_dense_or_pruned_start(example, pruned):
    """From digits-mlp.pt pruned to 40 %, 5 pressure epochs to 0.3 ended at 12.1 % (the density
    fell 0.34 → 0.18 → 0.12 in the last two epochs); a dense start ended at 11.7 %."""
    model, masks = copy.deepcopy(example.model), None
    if pruned:  # global magnitude pruning to 40 %
        weights = {n: p for n, p in model.named_parameters() if p.dim() == 2}
        cut = torch.cat([w.detach().abs().flatten() for w in weights.values()]).quantile(0.6)
        masks = {n: w.detach().abs() > cut for n, w in weights.items()}
    res = hyperflux_prune(model, example.train, example.loss_fn, 0.3, pruning_epochs=5, regrowth_epochs=0,
                          masks=masks, selection=example.selection)
    assert res.start_density == pytest.approx(0.4 if pruned else 1.0, abs=1e-3)
    # no epoch ends more than a step's fall below its target: a step of gate_lr closes up to
    # 0.01 / (0.5 − 0.2), 3.3 %, of the gates (measured: 0.2686 dense, 0.2952 pruned)
    assert all(e.density >= e.target - 0.034 for e in res.log)
    assert 0.3 - 0.034 <= res.density <= 0.3
