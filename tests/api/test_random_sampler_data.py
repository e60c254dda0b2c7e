"""A ``DataLoader`` whose sampler draws its samples anew on each pass (``SubsetRandomSampler``,
``WeightedRandomSampler``, given as ``sampler=``) is refused as a shuffling loader, and the fix
it was told, "use DataLoader(..., shuffle=False)", changes nothing: the sampler still draws. It
is told to hold one draw in a ``Subset``, and that loader is taken."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler

import prunelimit
from prunelimit.errors import UsageError


@pytest.mark.parametrize("kind", ["SubsetRandomSampler", "WeightedRandomSampler"])
def test_a_loaders_drawing_sampler_is_told_to_hold_one_draw(model, train, kind):
    dataset = TensorDataset(*train)
    sampler = SubsetRandomSampler(range(200)) if kind == "SubsetRandomSampler" else \
        WeightedRandomSampler(torch.ones(len(dataset)), 200)
    loader = DataLoader(dataset, batch_size=50, shuffle=False, sampler=sampler)
    with pytest.raises(UsageError) as caught:
        prunelimit.info(model, loader)
    message = str(caught.value)
    assert message.startswith("data gave different batches on a second pass"), message
    assert message.endswith(
        f"its sampler, {kind}, draws the samples anew on each pass, shuffle=False or not: give one draw of it, "
        "DataLoader(torch.utils.data.Subset(loader.dataset, list(loader.sampler)), batch_size=50) of the loader given")
    held = DataLoader(Subset(loader.dataset, list(loader.sampler)), batch_size=50)
    assert prunelimit.info(model, held).loss is not None


def test_a_shuffling_loader_is_told_shuffle_false_still(model, train):
    with pytest.raises(UsageError, match=r"use DataLoader\(\.\.\., shuffle=False\) without random transforms$"):
        prunelimit.info(model, DataLoader(TensorDataset(*train), batch_size=50, shuffle=True))
