"""The fine-tuned actual limit (verify --refit), checked against the one-shot search."""

from __future__ import annotations

import torch

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import actual_limit
from prunelimit.pruning.finetune import FinetuneConfig
from prunelimit.pruning.refit import refit_limit
from tests.pruning.conftest import trained_mlp


def test_vanishing_learning_rate_refit_equals_one_shot_search(digits):
    """With lr = 1e-30 fine-tuning changes no float32 weight, so both searches must agree exactly."""
    model = trained_mlp(l1=1e-3, epochs=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    one_shot = actual_limit(model, digits, cross_entropy_loss, 0.02)
    refit = refit_limit(model, digits, cross_entropy_loss, 0.02, FinetuneConfig(epochs=1, lr=1e-30))
    assert refit.loss_ratio == one_shot.loss_ratio
    assert refit.accuracy_ratio == one_shot.accuracy_ratio
    assert refit.evaluations <= 25
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # restored


def test_fine_tuning_does_not_lower_the_limit_here(digits):
    """On this l1-trained MLP, fine-tuning the survivors recovers loss, so the limit moves up."""
    model = trained_mlp(l1=1e-3, epochs=5)
    one_shot = actual_limit(model, digits, cross_entropy_loss, 0.02)
    refit = refit_limit(model, digits, cross_entropy_loss, 0.02, FinetuneConfig(epochs=2, lr=0.05))
    assert refit.loss_ratio >= one_shot.loss_ratio


def test_a_pruned_model_keeps_its_masks_through_the_refit(digits):
    """Below the file's own sparsity every probe is its mask (pruning removes its zeros first),
    fine-tuned alike: one loss. Unheld, fine-tuning at a lower ratio revives pruned weights."""
    from prunelimit.pruning.magnitude import prune_model

    model = trained_mlp(l1=1e-3, epochs=5)
    masks = prune_model(model, 0.6).masks
    config = FinetuneConfig(epochs=1, lr=0.05)
    held = refit_limit(model, digits, cross_entropy_loss, 0.02, config, masks=masks)
    below = {p.loss for p in held.points if p.ratio < 0.6}
    assert len([p for p in held.points if p.ratio < 0.6]) >= 2 and len(below) == 1
    unheld = refit_limit(model, digits, cross_entropy_loss, 0.02, config)
    assert len({p.loss for p in unheld.points if p.ratio < 0.6}) > 1  # the test can fail


def test_an_accuracy_drop_of_exactly_delta_passes_after_refit():
    """The refit search counts an accuracy exactly δ below dense as passing, like the one-shot one."""
    from tests.pruning.test_actual import exact_drop_model

    model, batches = exact_drop_model()
    refit = refit_limit(model, batches, cross_entropy_loss, 1e9, FinetuneConfig(epochs=1, lr=1e-30), acc_drop=0.5)
    assert refit.accuracy_ratio == 0.562
