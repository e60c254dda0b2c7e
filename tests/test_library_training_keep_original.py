"""docs/library.md's way to keep the original of a model that ``train``, ``hyperflux`` or ``imp``
change in place, for a model torch's pruning holds: ``copy.deepcopy`` refuses it (torch's
limitation), a deep copy of its ``state_dict`` brings it back."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

import prunelimit

LIBRARY_DOC = Path(__file__).resolve().parents[1] / "docs" / "library.md"


def test_a_torch_pruned_models_state_dict_copy_brings_the_original_back(model, train):
    """The docs said "Keep a ``copy.deepcopy(model)``", which raises on a model an earlier
    ``Pruning.apply`` left pruned; the state_dict copy they now give brings back its weights
    and masks after ``train`` changed them (exact: the same tensors loaded back)."""
    assert "kept = copy.deepcopy(model.state_dict())" in LIBRARY_DOC.read_text(encoding="utf-8")
    prunelimit.prune(model, 0.5).apply(model)
    with pytest.raises(RuntimeError, match="graph leaves"):  # the limitation the docs name
        copy.deepcopy(model)
    kept = copy.deepcopy(model.state_dict())
    assert {"0.weight_orig", "0.weight_mask"} <= kept.keys()
    before = model(train[0]).detach()
    prunelimit.train(model, train, epochs=1)
    assert not torch.equal(model(train[0]).detach(), before)
    model.load_state_dict(kept)
    assert all(torch.equal(kept[name], value) for name, value in model.state_dict().items())
    assert torch.equal(model(train[0]).detach(), before)
