"""``verify --refit``'s search evaluated each fine-tuned ratio twice over the analysis data when
there was no evaluation data of its own (once for the loss, once more for the accuracy, the
same forward), and measured the dense model again although the one-shot search had measured it
first. It now evaluates each ratio once, and takes the dense point it is given."""

from __future__ import annotations

import torch

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import actual_limit
from prunelimit.pruning.finetune import FinetuneConfig
from prunelimit.pruning.refit import refit_limit

from tests.pruning.conftest import Counted, digits_batches, trained_mlp


CONFIG = FinetuneConfig(epochs=1, lr=1e-30, batch_size=256)  # fine-tuning changes no float32 weight


def _setup():
    batches = digits_batches(256)[:2]
    return Counted(trained_mlp(l1=0.0, epochs=3, seed=0)), batches


def test_each_fine_tuned_ratio_is_evaluated_once_without_evaluation_data():
    model, batches = _setup()
    refit = refit_limit(model, batches, cross_entropy_loss, 0.02, CONFIG)
    # the dense model and each probe: one pass over the analysis data each (was two)
    assert model.evaluated == (refit.evaluations + 1) * len(batches)
    # the same limits as the one-shot search, which fine-tuning at a vanishing rate leaves unchanged
    one_shot = actual_limit(model, batches, cross_entropy_loss, 0.02)
    assert (refit.loss_ratio, refit.accuracy_ratio) == (one_shot.loss_ratio, one_shot.accuracy_ratio)


def test_a_given_dense_point_is_not_measured_again():
    model, batches = _setup()
    held_out = digits_batches(256)[2:4]
    one_shot = actual_limit(model, batches, cross_entropy_loss, 0.02, eval_batches=held_out)
    model.evaluated = 0
    refit = refit_limit(model, batches, cross_entropy_loss, 0.02, CONFIG, eval_batches=held_out,
                        measured_dense=one_shot.probes[0])
    assert model.evaluated == refit.evaluations * (len(batches) + len(held_out))
    assert (refit.loss_ratio, refit.accuracy_ratio) == (one_shot.loss_ratio, one_shot.accuracy_ratio)


def test_verify_refit_measures_the_dense_model_once(monkeypatch):
    """The library's verify: the one-shot search's dense point serves the refit's thresholds,
    and the refit measures only its probes."""
    import prunelimit
    import prunelimit.pruning.refit as refit_module

    model, batches = _setup()
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    measured = []
    original = refit_module.measured_point

    def spy(*args):
        measured.append(args[4])  # the ratio
        return original(*args)

    monkeypatch.setattr(refit_module, "measured_point", spy)
    report = prunelimit.verify(model, (x, y), batch_size=256, refit=True, finetune_epochs=1, finetune_lr=1e-30,
                               method="exact", epsilon=0.02)
    assert 0.0 not in measured and len(measured) == report.refit.evaluations
    assert report.refit.loss_ratio == report.actual.loss_ratio
