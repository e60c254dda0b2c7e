"""``verify --refit`` fine-tuned every ratio it probed, though on a model of under 1,000 prunable
weights two grid ratios often prune to the same mask (⌈ρN⌉ unchanged by a 0.001 step), which
fine-tunes to the same bits (one seed). Each mask is now fine-tuned and evaluated once; the
points are those a fine-tuning of their own gives."""

from __future__ import annotations

import copy
import math


from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.evaluate import evaluate
from prunelimit.pruning.finetune import FinetuneConfig, finetune
from prunelimit.pruning.magnitude import prune_model
from prunelimit.pruning.refit import refit_limit

from tests.pruning.conftest import Counted, digits_batches, tiny_mlp

BATCHES = digits_batches(256)[:2]
CONFIG = FinetuneConfig(epochs=1, lr=0.05, batch_size=256)


def _small():
    return tiny_mlp(BATCHES)


def test_ratios_of_one_mask_are_fine_tuned_once():
    inner = _small()
    model = Counted(copy.deepcopy(inner))
    found = refit_limit(model, BATCHES, cross_entropy_loss, 0.02, CONFIG)
    masks = {math.ceil(round(p.ratio * 148, 9)) for p in found.points}  # the weights each point removes
    assert found.evaluations == len(masks) < len(found.points)
    assert model.evaluated == (found.evaluations + 1) * len(BATCHES)  # the dense model, then once a mask
    # a point that shared its mask is what a fine-tuning of its own gives (same seed: same bits)
    shared = [p for p in found.points
              if sum(math.ceil(round(q.ratio * 148, 9)) == math.ceil(round(p.ratio * 148, 9)) for q in found.points) > 1]
    point = shared[-1]
    alone = copy.deepcopy(inner)
    finetune(alone, prune_model(alone, point.ratio).masks, BATCHES, cross_entropy_loss, CONFIG)
    result = evaluate(alone, BATCHES, cross_entropy_loss)
    assert (point.loss, point.accuracy) == (result.loss, result.accuracy)
