"""A 0-d tensor, torch's scalar (``ratio=(w == 0).float().mean()``), is read as the Python
number it holds, as a NumPy scalar is: ``prune(model, torch.tensor(0.5))`` was refused as
"a Tensor, not a number", where ``error_law`` alone took it. A bool tensor stays a bool,
refused as one."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.errors import OptionError


def test_a_zero_dimensional_tensor_is_the_number_it_holds(model, train):
    given = prunelimit.prune(model, torch.tensor(0.5))
    plain = prunelimit.prune(model, 0.5)
    assert given.requested == 0.5 and isinstance(given.requested, float)
    assert all(torch.equal(given.masks[name], plain.masks[name]) for name in plain.masks)
    gate = prunelimit.gate(model, train, min_ratio=torch.tensor(0.1, dtype=torch.float64), use="actual")
    assert _untimed(gate.to_json()) == _untimed(prunelimit.gate(model, train, min_ratio=0.1, use="actual").to_json())
    seeded = prunelimit.train(model, train, epochs=1, seed=torch.tensor(3))
    assert seeded.config.seed == 3 and type(seeded.config.seed) is int


def _untimed(doc: dict) -> dict:
    """A gate's document without the seconds the clock gives (its own and its search's)."""
    return doc | {"timing": None, "bounds": doc["bounds"] | {"timing": None}}


def test_a_bool_tensor_is_refused_as_a_bool(model):
    with pytest.raises(OptionError, match="ratio must be"):
        prunelimit.prune(model, torch.tensor(True))
