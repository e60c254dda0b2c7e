"""prune_model removes exactly ceil(ρ·N) weights, smallest |w| first, ties by flat index."""

from __future__ import annotations

import math

import pytest
import torch

from prunelimit.errors import OptionError, UsageError
from prunelimit.models.zoo import mlp
from prunelimit.pruning.magnitude import prune_model

RATIOS = [0.0, 0.07, 0.1, 1 / 3, 0.5, 0.9, 0.999]


def tied_model(seed: int = 0, zeros: int = 0) -> torch.nn.Module:
    """MLP 10-12-7 (N = 204), weights rounded to 0.1 (many ties, some zeros) plus ``zeros`` more."""
    torch.manual_seed(seed)
    model = mlp([10, 12, 7])
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.round(p * 10) / 10)
        flat = model[0].weight.view(-1)
        flat[torch.randperm(flat.numel())[:zeros]] = 0.0
    return model


def oracle_removed(model: torch.nn.Module, k: int) -> set[int]:
    """Brute force: flat indices of the k smallest |w| over (0.weight, 2.weight), ties by index."""
    flat = torch.cat([model[0].weight.detach().flatten(), model[2].weight.detach().flatten()])
    order = sorted(range(flat.numel()), key=lambda i: (abs(float(flat[i])), i))
    return set(order[:k])


@pytest.mark.parametrize("zeros", [0, 40])
@pytest.mark.parametrize("ratio", RATIOS)
def test_global_removes_exactly_ceil_rho_n(ratio: float, zeros: int) -> None:
    model = tied_model(zeros=zeros)
    n = 10 * 12 + 12 * 7
    k = math.ceil(round(ratio * n, 9))  # exact integer arithmetic: 0.07·204 = 14.28 → 15
    zeros_before = int((model[0].weight == 0).sum() + (model[2].weight == 0).sum())
    expected = oracle_removed(model, k)
    result = prune_model(model, ratio)
    keep = torch.cat([result.masks["0.weight"].flatten(), result.masks["2.weight"].flatten()])
    assert set(torch.nonzero(~keep).flatten().tolist()) == expected
    # Zeros first: pre-existing zeros are inside the removed set until it is exhausted.
    zeros_after = sum(layer.zeros for layer in result.layers)
    assert zeros_after == max(k, zeros_before)
    assert result.achieved == pytest.approx(zeros_after / n, abs=0)
    assert result.requested == ratio
    weights = torch.cat([model[0].weight.flatten(), model[2].weight.flatten()])
    assert torch.all(weights[~keep] == 0)


@pytest.mark.parametrize("ratio", RATIOS)
def test_layer_scope_removes_ceil_rho_nt_per_tensor(ratio: float) -> None:
    model = tied_model(seed=1, zeros=5)
    result = prune_model(model, ratio, scope="layer")
    for name, n_t in (("0.weight", 120), ("2.weight", 84)):
        assert int((~result.masks[name]).sum()) == math.ceil(round(ratio * n_t, 9))


def test_biases_untouched_and_result_table() -> None:
    model = tied_model()
    bias = model[0].bias.detach().clone()
    result = prune_model(model, 0.5)
    assert torch.equal(model[0].bias, bias)
    assert [(layer.name, layer.total) for layer in result.layers] == [("0.weight", 120), ("2.weight", 84)]


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5, float("nan"), True])
def test_bad_ratio_is_usage_error(ratio: float) -> None:
    with pytest.raises(UsageError):
        prune_model(tied_model(), ratio)


@pytest.mark.parametrize("ratio", [None, [0.5], "half"])
def test_a_ratio_that_is_not_a_number_is_an_option_error_naming_ratio(ratio) -> None:
    """Not a raw TypeError from comparing it: the library caller is told which argument."""
    with pytest.raises(OptionError, match=r"^ratio .* is not a number") as caught:
        prune_model(tied_model(), ratio)  # type: ignore[arg-type]
    assert caught.value.option == "ratio"


def test_bad_scope_is_usage_error() -> None:
    with pytest.raises(UsageError):
        prune_model(tied_model(), 0.5, scope="row")  # type: ignore[arg-type]


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_a_pruned_model_pruned_again_at_its_sparsity_keeps_exactly_its_masks(scope):
    """The library's ``prune`` of a model ``apply`` pruned: its kept weights that are exactly
    zero tie at |w| = 0 with its pruned ones and, earlier by position, were masked in their
    place (the ratio's count taken, and the pruned ones then kept masked as well)."""
    import copy

    import prunelimit

    model = tied_model()
    with torch.no_grad():
        model[0].weight.view(-1)[:100] = 0.0  # the first 4 kept, exactly zero; the next 96 pruned below
    held = torch.ones_like(model[0].weight, dtype=torch.bool)
    held.view(-1)[4:100] = False
    first = prunelimit.Pruning(0.0, 0.0, scope, {"0.weight": held}, [])
    pruned = first.apply(copy.deepcopy(model))
    ratio = 96 / (120 + 84) if scope == "global" else 96 / 120
    again = prunelimit.prune(pruned, ratio, scope=scope)
    assert torch.equal(again.masks["0.weight"], held)


@pytest.mark.parametrize("text, hint", [("70%", "70% is 0.7"), (" 5 %", "5 % is 0.05"), ("100%", None), ("x%", None)])
def test_a_ratio_typed_as_a_percentage_is_refused_naming_the_fraction(text, hint):
    """``prunelimit.prune(model, "70%")`` (and ``--ratio 70%``) is refused naming 0.7; it
    said only what any text gets. A percentage of 100 or more names no ratio to give."""
    import prunelimit

    with pytest.raises(OptionError) as caught:
        prunelimit.prune(mlp([4, 3]), text)
    assert (hint in str(caught.value)) if hint else "percentages" not in str(caught.value)


def test_the_library_records_a_ratio_of_minus_zero_as_zero():
    import math

    import prunelimit

    pruning = prunelimit.prune(mlp([4, 3]), -0.0)
    assert math.copysign(1.0, pruning.requested) == math.copysign(1.0, pruning.recorded["ratio"]) == 1.0


def _normed_net() -> torch.nn.Module:
    """Linear, conv and norm layers with biases; seeded normal weights (no ties)."""
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.BatchNorm1d(4), torch.nn.Flatten(),
                               torch.nn.Linear(24, 9), torch.nn.LayerNorm(9), torch.nn.Linear(9, 5))


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("ratio", [0.0, 0.07, 0.5, 0.81, 0.999])
def test_magnitude_pruning_is_torchs_l1_pruning_of_the_weights_alone(scope, ratio):
    """Oracle: ``torch.nn.utils.prune`` (``global_unstructured`` with ``L1Unstructured``, or
    ``l1_unstructured`` per layer) given the count ``ceil(ρ·N)`` (``ceil(ρ·n_l)``) removes the
    same weights; biases and norm parameters are left as they were."""
    from torch.nn.utils import prune

    ours, theirs = _normed_net(), _normed_net()
    prune_model(ours, ratio, scope)
    layers = [theirs[0], theirs[3], theirs[5]]
    n = sum(layer.weight.numel() for layer in layers)
    if scope == "global":
        prune.global_unstructured([(layer, "weight") for layer in layers], pruning_method=prune.L1Unstructured,
                                  amount=math.ceil(ratio * n - 1e-9))
    else:
        for layer in layers:
            prune.l1_unstructured(layer, "weight", amount=math.ceil(ratio * layer.weight.numel() - 1e-9))
    for layer in layers:
        prune.remove(layer, "weight")
    expected = theirs.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in ours.state_dict().items())


def test_a_tied_weight_counts_once_as_torchs_global_pruning_of_the_parameter_does():
    from torch.nn.utils import prune

    def tied_net() -> torch.nn.Module:
        torch.manual_seed(4)
        net = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Linear(6, 6), torch.nn.Linear(6, 3))
        net[1].weight = net[0].weight
        return net

    ours, theirs = tied_net(), tied_net()
    result = prune_model(ours, 0.5)
    assert [(layer.name, layer.total) for layer in result.layers] == [("0.weight", 36), ("2.weight", 18)]
    prune.global_unstructured([(theirs[0], "weight"), (theirs[2], "weight")], pruning_method=prune.L1Unstructured,
                              amount=27)  # ceil(0.5 · 54): the tied weight once
    prune.remove(theirs[0], "weight")
    prune.remove(theirs[2], "weight")
    assert torch.equal(ours[0].weight, theirs[0].weight) and torch.equal(ours[2].weight, theirs[2].weight)
    assert ours[1].weight is ours[0].weight
