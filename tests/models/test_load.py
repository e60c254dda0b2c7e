"""Loading a whole pickled module: torch.nn.utils.prune reparametrisations made permanent."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune

from prunelimit.models.load import load_model
from prunelimit.models.params import prunable_parameters


def test_a_whole_module_pruned_with_torch_prune_loads_with_plain_weights_and_its_masks(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).eval()
    prune.l1_unstructured(model[0], "weight", 0.6)
    prune.l1_unstructured(model[0], "weight", 0.5)  # a PruningContainer: two methods on one tensor
    prune.random_unstructured(model[2], "weight", 0.4)
    x = torch.randn(4, 6)
    expected = model(x)
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    loaded = load_model(path, trust_pickle=True)
    # the masks multiplied in once, by torch.nn.utils.prune.remove: no hook left to do it again
    assert [name for name, _ in prunable_parameters(loaded.model)] == ["0.weight", "2.weight"]
    assert all(not m._forward_pre_hooks for m in loaded.model.modules())
    assert torch.equal(loaded.model(x), expected)
    assert torch.equal(loaded.masks["0.weight"], model[0].weight_mask.bool())
    assert torch.equal(loaded.masks["2.weight"], model[2].weight_mask.bool())
