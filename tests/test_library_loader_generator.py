"""A ``DataLoader`` given as the data is the caller's object, and so are the generators it
draws from: each pass over it draws the workers' base seed from its ``generator=`` (and a
shuffling one its order from its sampler's). Two passes of a call advanced them, so the
caller's next epoch over the loader drew other seeds and orders; now they are given back
their states, also when the call refuses the loader."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import prunelimit
from prunelimit.errors import UsageError


@pytest.mark.parametrize("name", ["bounds", "train"])
def test_a_loaders_generator_is_where_the_caller_left_it(model, train, name):
    generator = torch.Generator().manual_seed(5)
    loader = DataLoader(TensorDataset(*train), batch_size=100, generator=generator)
    before = generator.get_state()
    if name == "bounds":
        prunelimit.bounds(model, loader, method="exact")
    else:
        prunelimit.train(model, loader, epochs=1)
    assert torch.equal(generator.get_state(), before)


def test_a_shuffling_loader_refused_keeps_its_generator_as_it_was(model, train):
    generator = torch.Generator().manual_seed(5)
    loader = DataLoader(TensorDataset(*train), batch_size=100, shuffle=True, generator=generator)
    before = generator.get_state()
    with pytest.raises(UsageError, match="different batches on a second pass"):
        prunelimit.bounds(model, loader)
    assert torch.equal(generator.get_state(), before)


def test_inputs_from_a_loader_leaves_torchs_random_state_as_it_was(model, train):
    """``inputs_from`` keeps no model state, and reading a loader without ``generator=`` drew its
    workers' base seed from torch's global generator on each pass."""
    loader = DataLoader(TensorDataset(*train), batch_size=100)
    before = torch.get_rng_state()
    prunelimit.inputs_from(model, loader)
    assert torch.equal(torch.get_rng_state(), before)
