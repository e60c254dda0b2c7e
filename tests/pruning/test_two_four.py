"""2:4 semi-structured magnitude pruning: the 2 largest of every 4 weights along the input."""

from __future__ import annotations

import pytest
import torch

from prunelimit.errors import OptionError, UsageError, library_call
from prunelimit.sparse.bench import is_two_four
from prunelimit.models.zoo import mlp
from prunelimit.pruning.magnitude import check_prune_scope, prune_model, two_four_mask


def test_keeps_the_two_largest_of_every_group_ties_to_the_lower_index():
    weight = torch.tensor([[0.1, -0.9, 0.5, 0.2, 0.3, 0.3, 0.3, -0.3],
                           [0.0, 0.0, 0.0, 0.0, 4.0, -1.0, 2.0, -3.0]])
    expected = torch.tensor([[0, 1, 1, 0, 1, 1, 0, 0],
                             [1, 1, 0, 0, 1, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(two_four_mask(weight), expected)


@pytest.mark.parametrize("cols,kept", [(6, 4), (7, 4), (5, 3)])
def test_a_short_last_group_keeps_its_two_largest(cols, kept):
    mask = two_four_mask(torch.arange(1.0, cols + 1).reshape(1, cols))
    assert int(mask.sum()) == kept and bool(mask[0, -1])


def test_prune_scope_two_four_halves_every_linear_layer():
    torch.manual_seed(0)
    model = mlp([16, 8, 4])
    result = prune_model(model, 0.5, scope="2:4")
    assert result.achieved == pytest.approx(0.5, abs=0)
    for name in ("0.weight", "2.weight"):
        weight = dict(model.named_parameters())[name]
        assert is_two_four(weight)
        groups = weight.detach().abs().reshape(-1, 4)
        kept = result.masks[name].reshape(-1, 4)
        assert torch.all(groups[kept].reshape(-1, 2).min(dim=1).values >= groups.masked_fill(kept, -1).max(dim=1).values)


@pytest.mark.parametrize("ratio", ["auto", "0.6", 0.4])
def test_two_four_needs_ratio_one_half(ratio):
    with pytest.raises(UsageError, match="; pass --ratio 0.5$"):  # as the command line reads it
        check_prune_scope("2:4", ratio)
    with library_call(), pytest.raises(UsageError, match="; pass ratio=0.5$"):  # as a library caller writes it
        check_prune_scope("2:4", ratio)
    check_prune_scope("2:4", "0.5")
    with pytest.raises(OptionError, match="^scope 'row': use global, layer, 2:4$"):
        check_prune_scope("row", "0.5")


def test_pruning_a_pruned_model_two_four_keeps_a_kept_zero_before_a_pruned_weight():
    """A kept weight that is exactly zero ties at |w| = 0 with a pruned one; by position the
    pruned one was kept in its group (and then masked, as held), the group left with one
    weight where the pattern allows two."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.0, 0.0, 0.5, 0.0]]))
    held = {"0.weight": torch.tensor([[False, True, True, False]])}  # 1 kept and exactly zero
    masks = prune_model(model, 0.5, "2:4", held=held).masks
    assert masks["0.weight"].tolist() == [[False, True, True, False]]


@pytest.mark.parametrize("shape", [(0, 4), (3, 0), (0, 2, 3), (0,)])
def test_a_tensor_of_no_weights_keeps_its_empty_mask(shape):
    """A layer of 0 weights (``nn.Linear(4, 0)``) has no group to prune: its mask is empty, as on
    the other scopes; 2:4 stopped on a reshape of 0 elements (a traceback)."""
    weight = torch.ones(shape)
    assert two_four_mask(weight).shape == weight.shape
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.Linear(4, 0))
    result = prune_model(model, 0.5, scope="2:4")
    assert [(layer.total, layer.zeros) for layer in result.layers] == [(32, 16), (0, 0)]
