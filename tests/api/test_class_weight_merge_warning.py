"""A class-weighted cross-entropy (``nn.CrossEntropyLoss(weight=w)``) is torch's mean over the
batch's label weights, not its samples, so merging batches changes it and the products walk
the batches as given. The warning said the loss was no per-sample mean and told the caller to
'return the batch's mean loss (a sum weighs each batch by its size once more)', advice for a
sum that does not apply to torch's own criterion. It now names the class weight and what the
batches' weighing means."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import prunelimit

WEIGHT = torch.linspace(0.2, 3.0, 10)


def _warned(model, data, loss) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prunelimit.bounds(model, data, loss=loss, method="exact", batch_size=64)
    return [str(w.message) for w in caught if "batches" in str(w.message)]


@pytest.mark.parametrize(("loss", "name"), [(nn.CrossEntropyLoss(weight=WEIGHT), "CrossEntropyLoss"),
                                            (functools.partial(F.cross_entropy, weight=WEIGHT), "cross_entropy")])
def test_a_class_weight_is_named_and_no_sum_is_blamed(model, train, loss, name):
    warned = _warned(model, train, loss)
    assert len(warned) == 1 and warned[0].startswith(f"the {name} criterion has a class weight, so a batch's loss is "
                                                     "its mean over its labels' weights"), warned
    assert "a sum weighs" not in warned[0] and "each weighed by its sample count" in warned[0]


def test_an_unweighted_criterion_merges_batches_without_a_word(model, train):
    assert _warned(model, train, nn.CrossEntropyLoss()) == []
