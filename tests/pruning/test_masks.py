"""Masks: application, sparsity table, and round trips through torch.nn.utils.prune."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
from torch.nn.utils import prune

from prunelimit.errors import InputError, UsageError
from prunelimit.models.params import ParamSelection
from prunelimit.models.zoo import mlp
from prunelimit.pruning.magnitude import prune_model
from prunelimit.pruning.masks import (
    apply_masks,
    from_prune_state_dict,
    held_masks,
    keep_both,
    mask_optimizer_state,
    masks_from_state_dict,
    prune_with_torch,
    sparsity_table,
    to_prune_state_dict,
    torch_pruning_folded,
)

NAMES = ["0.weight", "2.weight"]


def model(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return mlp([8, 16, 4])


def test_to_prune_state_dict_loads_into_real_prune_modules() -> None:
    source = model(0)
    masks = prune_model(source, 0.6).masks
    target = model(1)
    for idx in (0, 2):
        prune.custom_from_mask(target[idx], "weight", torch.ones_like(target[idx].weight))
    # strict=True: the key set must be exactly what torch.nn.utils.prune produces.
    target.load_state_dict(to_prune_state_dict(source.state_dict(), masks), strict=True)
    x = torch.randn(5, 8)
    # Exact equality: same float ops (weight_orig * mask) on the same values.
    assert torch.equal(target(x), source(x))
    for idx, name in zip((0, 2), NAMES):
        assert torch.equal(target[idx].weight_mask.bool(), masks[name])
        assert torch.equal(target[idx].weight, source[idx].weight)


def test_from_prune_state_dict_recovers_weights_and_masks() -> None:
    pruned = model(2)
    masks = {}
    for idx, name in zip((0, 2), NAMES):
        keep = torch.rand_like(pruned[idx].weight) > 0.3
        prune.custom_from_mask(pruned[idx], "weight", keep.float())
        masks[name] = keep
    plain, got = from_prune_state_dict(pruned.state_dict())
    fresh = model(3)
    fresh.load_state_dict(plain, strict=True)
    x = torch.randn(5, 8)
    assert torch.equal(fresh(x), pruned(x))
    assert set(got) == set(NAMES)
    for name in NAMES:
        assert torch.equal(got[name], masks[name])
    # And back again: the prune form of (plain, masks) is the original state dict's key set.
    assert set(to_prune_state_dict(plain, got)) == set(pruned.state_dict())


def test_masks_from_state_dict_marks_exact_zeros() -> None:
    net = model(4)
    masks = prune_model(net, 0.5).masks
    got = masks_from_state_dict(net.state_dict(), NAMES)
    for name in NAMES:
        assert torch.equal(got[name], masks[name])
    with pytest.raises(InputError):
        masks_from_state_dict(net.state_dict(), ["9.weight"])


@pytest.mark.parametrize("recorded, in_use, held", [
    ({"include": [], "exclude": []}, ParamSelection(exclude=("2",)), NAMES),  # the head was pruned: held
    ({"include": [], "exclude": ["2"]}, ParamSelection(), ["0.weight"]),  # the head was not: its zeros are its own
    ({"ratio": 0.5}, ParamSelection(exclude=("2",)), ["0.weight"]),  # no set recorded: the one in use
])
def test_a_file_without_masks_holds_the_zeros_of_the_set_it_was_pruned_within(recorded, in_use, held) -> None:
    """A pruned safetensors file read with another set than its own held the zeros of the set in
    use only: a tensor it pruned that the set leaves out is trained, and its pruned weights regrew."""
    from prunelimit.models.load import LoadedModel

    net = model(5)
    masks = prune_model(net, 0.5).masks
    got = held_masks(LoadedModel(net, None, meta={"pruned": recorded}), in_use)
    assert sorted(got) == held and all(torch.equal(got[name], masks[name]) for name in held)


def test_from_prune_state_dict_without_mask_is_input_error() -> None:
    with pytest.raises(InputError):
        from_prune_state_dict({"0.weight_orig": torch.ones(2)})


def test_apply_masks_and_sparsity_table() -> None:
    net = model(5)
    masks = {"0.weight": torch.rand(16, 8) > 0.25}
    apply_masks(net, masks)
    table = sparsity_table(net)
    assert [(t.name, t.total) for t in table] == [("0.weight", 128), ("2.weight", 64)]
    assert table[0].zeros == int((~masks["0.weight"]).sum())
    assert table[1].zeros == 0
    with pytest.raises(UsageError):
        apply_masks(net, {"nope.weight": torch.ones(1, dtype=torch.bool)})
    with pytest.raises(UsageError):
        apply_masks(net, {"0.weight": torch.ones(8, 16, dtype=torch.bool)})


def test_mask_optimizer_state_zeroes_momentum_of_pruned_weights() -> None:
    net = model(6)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 8)).sum().backward()
    opt.step()
    keep = torch.rand(16, 8) > 0.5
    buf = opt.state[net[0].weight]["momentum_buffer"]
    before = buf.clone()
    mask_optimizer_state(opt, net, {"0.weight": keep})
    assert torch.all(buf[~keep] == 0) and torch.equal(buf[keep], before[keep])


def test_keep_both_keeps_a_weight_only_where_both_sets_do() -> None:
    new = {"a": torch.tensor([True, True, False]), "b": torch.tensor([False, True])}
    old = {"a": torch.tensor([1.0, 0.0, 1.0]), "c": torch.tensor([True, False])}  # float, as torch.nn.utils.prune's
    both = keep_both(new, old)
    assert both["a"].tolist() == [True, False, False]
    assert both["b"].tolist() == [False, True] and both["c"].tolist() == [True, False]
    assert all(m.dtype == torch.bool for m in both.values())


class Tied(torch.nn.Module):
    """Two layers sharing one weight Parameter (named ``a.weight``, after its first module)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = torch.nn.Linear(6, 6), torch.nn.Linear(6, 6), torch.nn.Linear(6, 3)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.b(torch.relu(self.a(x)))))


def tied(seed: int) -> Tied:
    torch.manual_seed(seed)
    return Tied()


def test_prune_with_torch_prunes_every_module_holding_a_tied_weight() -> None:
    """The mask of a tied weight (keyed by its first name) reaches each module that computes
    with it: ``b`` used to go on with the unpruned values, ``a.weight``'s tie broken."""
    net, keep = tied(7), torch.rand(6, 6, generator=torch.Generator().manual_seed(0)) > 0.5
    zeroed = tied(7)
    apply_masks(zeroed, {"a.weight": keep})
    prune_with_torch(net, {"a.weight": keep})
    x = torch.randn(5, 6)
    assert torch.equal(net(x), zeroed(x))
    assert torch.equal(net.b.weight, net.a.weight) and net.a.weight_orig is net.b.weight_orig


def test_a_tied_weight_pruned_with_torch_folds_as_one_parameter() -> None:
    """torch pruning on each module of a tied weight, one mask: folded, its mask is under the
    parameter's own name (``b.weight`` named no parameter, so training refused the model), and
    afterwards ``weight_orig`` holds its hidden values again (the second module's saved
    values, already masked by the first, overwrote them). Different masks are refused:
    tests/pruning/test_torch_pruned_tie_held_alike.py."""
    net = tied(8)
    original = net.a.weight.detach().clone()
    keep = torch.ones(6, 6, dtype=torch.bool)
    keep[[0, 1]] = False
    for module in (net.a, net.b):
        prune.custom_from_mask(module, "weight", keep)
    with torch_pruning_folded(net) as held:
        assert sorted(held) == ["a.weight"]
        assert held["a.weight"][:2].sum() == 0 and held["a.weight"][2:].all()
        assert torch.equal(net.a.weight[:2], torch.zeros(2, 6)) and net.a.weight is net.b.weight
        apply_masks(net, held)  # what training does with the folded masks
    assert torch.equal(net.a.weight_orig, original) and net.a.weight_orig is net.b.weight_orig
    assert torch.equal(net.a.weight_mask, net.b.weight_mask) and net.a.weight_mask[:2].sum() == 0


def test_prune_with_torch_moves_the_masks_to_the_models_device() -> None:
    """Masks made on a CPU (or unpickled there) for a model on another device: torch multiplies
    the mask into the weight, and raised "Tensor on device cpu is not on the expected device".
    The meta device stands in for a GPU here."""
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).to("meta")
    keep = torch.rand(4, 6, generator=torch.Generator().manual_seed(1)) > 0.5
    prune_with_torch(net, {"0.weight": keep})
    assert net[0].weight_mask.device.type == net[0].weight.device.type == "meta"
    assert keep.device.type == "cpu"  # the caller's masks are left where they were


def test_prune_with_torch_refuses_a_torchscript_model_in_one_line() -> None:
    """torch.nn.utils.prune needs forward pre-hooks, which a ScriptModule has not: it failed
    with torch's "get_submodule is not supported on ScriptModules"."""
    net = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 2)))
    with pytest.raises(UsageError, match="TorchScript model cannot carry pruning masks"):
        prune_with_torch(net, {"0.weight": torch.ones(2, 3, dtype=torch.bool)})


def test_a_torchscript_model_is_told_the_library_fix_and_the_fix_prunes_it() -> None:
    """``Pruning.apply`` on a scripted model told a library caller to run `prunelimit prune`;
    the code it names now zeroes the scripted model's weights as ``apply`` would."""
    torch.manual_seed(0)
    eager = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    pruning = SimpleNamespace(masks={"0.weight": torch.rand(4, 3) > 0.5, "2.weight": torch.rand(2, 4) > 0.5})
    model = torch.jit.script(copy.deepcopy(eager))
    with pytest.raises(UsageError) as caught:
        prune_with_torch(model, pruning.masks)
    assert "prunelimit prune" not in str(caught.value)
    code = str(caught.value).split("zero its weights in place: ")[1]
    exec(code.replace("; for", "\nfor"), {"model": model, "pruning": pruning})
    x = torch.randn(5, 3)
    assert torch.equal(model(x), prune_with_torch(eager, pruning.masks)(x))


@pytest.mark.parametrize("net", ["plain", "tied"])
def test_masks_applied_to_a_model_pruned_with_torch_prune_it_further(net) -> None:
    """``prunelimit.prune(model, 0.7).apply(model)`` on a model a first ``apply`` pruned to
    0.5: the weight is then torch's computed ``weight``, no parameter, so no module was found to
    hold it and the masks were dropped in silence (the model stayed at 0.5, recorded as 0.7).
    They stack as torch stacks prunings (a ``PruningContainer``): kept where both keep, the
    parameter the same object, each module of a tied weight pruned alike."""
    torch.manual_seed(3)
    built = model(0) if net == "plain" else tied(0)
    name = "0.weight" if net == "plain" else "a.weight"
    first, second = (torch.rand(built.get_parameter(name).shape) > 0.5 for _ in range(2))
    parameter = built.get_parameter(name)
    prune_with_torch(built, {name: first})
    prune_with_torch(built, {name: second})
    module = built.get_submodule(name.rpartition(".")[0])
    assert module.weight_orig is parameter
    assert torch.equal(module.weight_mask.bool(), first & second)
    assert torch.equal(module.weight, parameter.detach() * (first & second))
    if net == "tied":
        assert torch.equal(built.b.weight, built.a.weight) and built.b.weight_orig is parameter
