"""Loading a whole pickled module: torch.nn.utils.prune reparametrisations made permanent; a
model spec recorded in a file that is not valid is the file's error (exit 3), a typed one a usage error."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunelimit.errors import InputError, UsageError
from prunelimit.io.checkpoint import save_checkpoint
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


@pytest.mark.parametrize("spec", ["mlp:64,x,10", "nosuchnet", "lenet5:bogus=1", "", "torchvision:resnet18:weights=X"])
def test_an_invalid_recorded_model_spec_names_the_file_and_the_override(tmp_path, spec):
    # it was a UsageError (exit 2) naming a spec the user never typed
    path = save_checkpoint(tmp_path / "m.pt", spec, nn.Linear(64, 10).state_dict())
    with pytest.raises(InputError, match=r"m\.pt: its recorded model spec is not valid \(.*\); pass --model SPEC"):
        load_model(path)
    with pytest.raises(UsageError):  # typed, it stays the user's usage error
        load_model(path, spec or " ")
