"""``prunelimit.export`` of a module whose ``get_extra_state`` puts a value that is not a tensor
in its state dict, or a tensor that is not dense: a safetensors file holds dense tensors only."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError


class _Versioned(torch.nn.Linear):
    """A layer that saves a record beside its weights, as torch's ``get_extra_state`` allows."""

    def __init__(self, extra: object) -> None:
        super().__init__(8, 4)
        self.extra = extra

    def get_extra_state(self) -> object:
        return self.extra

    def set_extra_state(self, state: object) -> None:
        self.extra = state


def _pruned(extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(_Versioned(extra), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    return prunelimit.prune(model, 0.5).apply(model)


def test_extra_state_that_is_no_tensor_is_refused_by_name(tmp_path):
    """It failed deep inside with AttributeError ("'dict' object has no attribute 'is_meta'"),
    where the command line refuses such a checkpoint by its entry's name; nothing is written."""
    with pytest.raises(UsageError) as error:
        prunelimit.export(_pruned({"version": 2}), tmp_path / "m.safetensors")
    message = str(error.value)
    assert "'0._extra_state' is a dict, not a tensor" in message and "strict=False" in message, message
    assert list(tmp_path.iterdir()) == []


def test_extra_state_that_is_a_tensor_is_exported_and_loads_back(tmp_path):
    model = _pruned(torch.tensor([1.0, 2.0]))
    prunelimit.export(model, tmp_path / "m.safetensors")
    back = prunelimit.load_sparse(tmp_path / "m.safetensors")
    assert torch.equal(back["0._extra_state"], torch.tensor([1.0, 2.0]))
    fresh = torch.nn.Sequential(_Versioned(None), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    fresh.load_state_dict(back)
    assert torch.equal(fresh[0].extra, torch.tensor([1.0, 2.0]))
    assert torch.equal(fresh[0].weight, model[0].weight) and torch.equal(fresh[2].weight, model[2].weight)


@pytest.mark.parametrize("layout", ["sparse_coo", "sparse_csr"])
def test_a_sparse_buffer_is_refused_by_name(tmp_path, layout):
    """A sparse buffer (a graph's adjacency) failed with torch's NotImplementedError ("Cannot
    access storage of SparseTensorImpl"), where the command line refuses such a checkpoint by the
    tensor's name and layout; nothing is written."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4))
    prunelimit.prune(model, 0.5).apply(model)
    dense = torch.eye(3)
    model.register_buffer("adjacency", dense.to_sparse() if layout == "sparse_coo" else dense.to_sparse_csr())
    for given in (model, dict(model.state_dict())):
        with pytest.raises(UsageError) as error:
            prunelimit.export(given, tmp_path / "m.safetensors")
        message = str(error.value)
        assert f"'adjacency' has layout {layout} (sparse or opaque, not a dense tensor)" in message, message
        assert ".to_dense()" in message, message
    assert list(tmp_path.iterdir()) == []
