"""Masked fine-tuning keeps pruned weights exactly at zero and still trains."""

from __future__ import annotations

import copy

import pytest
import torch

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import OptionError, UsageError
from prunelimit.models.evaluate import evaluate
from prunelimit.models.zoo import mlp
from prunelimit.pruning.finetune import FinetuneConfig, finetune
from prunelimit.pruning.lomp import LompConfig, train
from prunelimit.pruning.magnitude import prune_model


def _pruned(data, seed: int = 0):
    torch.manual_seed(seed)
    model = mlp([64, 32, 10])
    train(model, data, cross_entropy_loss, LompConfig(epochs=3, lr=0.1, batch_size=64))
    return model, data, prune_model(model, 0.9).masks


def test_finetune_keeps_zeros_exactly_and_lowers_loss(digits) -> None:
    model, data, masks = _pruned(digits)
    before = evaluate(model, data, cross_entropy_loss).loss
    config = FinetuneConfig(epochs=3, lr=0.05, batch_size=64)
    result = finetune(model, masks, data, cross_entropy_loss, config)
    for name, p in model.named_parameters():
        if name in masks:
            assert torch.all(p[~masks[name]] == 0)  # exact: masks re-applied after every step
            assert torch.all(p[masks[name]] != 0)
    assert len(result.history) == 3
    assert evaluate(model, data, cross_entropy_loss).loss < before


def test_without_masks_pruned_weights_move(digits) -> None:
    # Control: the same training without masks revives pruned weights, so the test above is not vacuous.
    model, data, masks = _pruned(digits)
    train(model, data, cross_entropy_loss, FinetuneConfig(epochs=1, lr=0.05, batch_size=64).as_lomp())
    assert any(bool((p[~masks[n]] != 0).any()) for n, p in model.named_parameters() if n in masks)


def test_momentum_of_one_or_more_is_refused_before_training() -> None:
    """Heavy-ball SGD diverges at momentum >= 1 whatever the lr: refused up front, not after
    epochs of training with the fix "lower the learning rate"."""
    for momentum in (1.0, 5.0, float("nan")):
        with pytest.raises(OptionError, match="momentum"):
            FinetuneConfig(momentum=momentum)
        with pytest.raises(UsageError, match="momentum"):
            LompConfig(epochs=1, lr=0.1, momentum=momentum)
    assert LompConfig(epochs=1, lr=0.1, momentum=0.99).momentum == 0.99


def test_same_seed_fine_tunes_a_dropout_model_to_the_same_bits(digits) -> None:
    """Dropout draws from torch's global generator: fine-tuning took them from wherever the
    caller's generator stood (the model's construction, earlier probes of ``verify --refit``), so
    the same ``seed`` gave other weights, and ``--refit`` other models than ``prune
    --finetune-epochs`` at the same ratio. The seed now sets those draws too."""
    torch.manual_seed(0)
    dense = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                torch.nn.Linear(32, 10))
    masks = prune_model(dense, 0.5).masks
    config = FinetuneConfig(epochs=1, lr=0.05, batch_size=64, seed=3)
    tuned = []
    for state in (1, 2):  # the caller's generator elsewhere
        model = copy.deepcopy(dense)
        torch.manual_seed(state)
        finetune(model, masks, digits, cross_entropy_loss, config)
        tuned.append(model.state_dict())
    assert not torch.equal(tuned[0]["0.weight"], dense.state_dict()["0.weight"])
    assert all(torch.equal(tuned[0][k], tuned[1][k]) for k in tuned[0])
