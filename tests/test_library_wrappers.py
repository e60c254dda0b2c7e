"""A model as a notebook holds it, wrapped or without values, given to the library: a
wrapper that runs a module (``nn.DataParallel``, ``torch.compile``) is read as the module
it wraps, whose parameters it shares, as the command line reads the wrapper's saved state
dict (``module.``/``_orig_mod.`` prefixes stripped); a model on the ``meta`` device (shapes
without values) or a lazy one not yet run is refused with the fix, by every function that
takes a model."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError

WRAPPERS = {"DataParallel": nn.DataParallel, "compile": torch.compile,
            "compiled DataParallel": lambda m: torch.compile(nn.DataParallel(m))}


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_a_wrapped_model_gives_the_numbers_and_names_of_the_module_it_wraps(model, train, wrap):
    """A compiled backward cannot be differentiated again (the Hessian products), and
    torch.func refuses DataParallel (Hyperflux's gates): both failed deep inside torch."""
    inner = copy.deepcopy(model)
    wrapped = WRAPPERS[wrap](inner)
    assert prunelimit.bounds(wrapped, train, method="exact").ratio == prunelimit.bounds(model, train, method="exact").ratio
    pruning = prunelimit.prune(wrapped, 0.5)
    assert pruning.masks.keys() == prunelimit.prune(model, 0.5).masks.keys()
    assert pruning.apply(wrapped) is wrapped  # the wrapper given, its module pruned in torch's way
    assert all(torch.equal(inner.get_submodule(name.rpartition(".")[0]).weight_mask.bool(), mask)
               for name, mask in pruning.masks.items())
    assert prunelimit.info(wrapped, train).params_prunable == prunelimit.info(inner, train).params_prunable


@pytest.mark.parametrize("wrap", WRAPPERS)
def test_hyperflux_trains_a_wrapped_model_as_the_module_it_wraps(model, train, wrap):
    alone, inner = copy.deepcopy(model), copy.deepcopy(model)
    settings = {"pruning_epochs": 2, "regrowth_epochs": 0, "gate_lr": 0.06}  # 6 steps must move a gate 0.35
    expected = prunelimit.hyperflux(alone, train, 0.5, **settings)
    found = prunelimit.hyperflux(WRAPPERS[wrap](inner), train, 0.5, **settings)
    assert found.masks.keys() == expected.masks.keys()
    assert all(torch.equal(found.masks[name], expected.masks[name]) for name in expected.masks)
    assert all(torch.equal(a, b) for a, b in zip(inner.state_dict().values(), alone.state_dict().values()))


CALLS = {
    "info": lambda m, d: prunelimit.info(m, d),
    "bounds": lambda m, d: prunelimit.bounds(m, d),
    "prune": lambda m, d: prunelimit.prune(m, 0.5),
    "verify": lambda m, d: prunelimit.verify(m, d),
    "nplh": lambda m, d: prunelimit.nplh(m, d),
    "train": lambda m, d: prunelimit.train(m, d, epochs=1),
    "hyperflux": lambda m, d: prunelimit.hyperflux(m, d, 0.5, pruning_epochs=1, regrowth_epochs=0),
    "imp": lambda m, d: prunelimit.imp(m, d, levels=1, epochs_per_level=1),
}


@pytest.mark.parametrize("name", CALLS)
def test_a_model_on_the_meta_device_is_refused_with_the_fix(model, train, name):
    """Its tensors have no values: every function failed inside torch (``Tensor.item()
    cannot be called on meta tensors``, ``Cannot copy out of meta tensor``)."""
    with pytest.raises(UsageError, match=r"^model: its tensors are on the meta device .*to_empty"):
        CALLS[name](copy.deepcopy(model).to("meta"), train)


def test_export_refuses_a_model_on_the_meta_device(model, tmp_path):
    pruned = prunelimit.prune(model, 0.5).apply(copy.deepcopy(model)).to("meta")
    with pytest.raises(UsageError, match=r"^model: its tensors are on the meta device"):
        prunelimit.export(pruned, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def _lazy() -> nn.Module:
    return nn.Sequential(nn.LazyLinear(12), nn.ReLU(), nn.Linear(12, 10))


LAZY_CALLS = {**CALLS, "prune": lambda m, d: prunelimit.prune(m, 0.5),
              "export": lambda m, d: prunelimit.export(m, "never-written.safetensors", masks={})}


@pytest.mark.parametrize("name", LAZY_CALLS)
def test_a_lazy_model_not_yet_run_is_refused_with_the_fix(train, name, tmp_path, monkeypatch):
    """An ``nn.LazyLinear`` takes its shape on its first forward pass: before it, every
    function failed inside torch with its ``ValueError`` (``Attempted to use an
    uninitialized parameter in <method 'is_inference' …>``)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"^model: 0\.weight is an uninitialized parameter of a lazy module .*"
                                         r"run one first, e\.g\. model\(x\[:1\]\)"):
        LAZY_CALLS[name](_lazy(), train)
    assert not list(tmp_path.iterdir())


def test_a_lazy_model_once_run_is_read_as_the_plain_one(train):
    torch.manual_seed(0)
    lazy = _lazy()
    lazy(train[0][:1])
    plain = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    plain.load_state_dict(lazy.state_dict())
    found, expected = (prunelimit.bounds(m, train, method="exact") for m in (lazy, plain))
    assert (found.ratio, found.lower, found.upper) == (expected.ratio, expected.lower, expected.upper)


@pytest.mark.parametrize("wrap", WRAPPERS)
@pytest.mark.parametrize("keyed", ["by the module", "by the wrapper"])
def test_masks_of_a_wrapped_model_are_read_by_the_modules_names(model, train, wrap, keyed):
    """The masks' names are the module's, and a mask keyed as the wrapper's state dict keys it
    (``module.``/``_orig_mod.``) is read with the prefix stripped, as ``export`` reads it: the
    module's name was refused by ``inputs_from`` ('mask names ['0.weight'] are not parameters of
    the model; … such as '0.weight''), the wrapper's by ``train``, and ``inputs_from`` took the
    wrapper's and held it under a name no parameter has, so nothing was held pruned."""
    inner = copy.deepcopy(model)
    wrapped = WRAPPERS[wrap](inner)
    name = next(iter(prunelimit.prune(model, 0.5).masks))
    key = name if keyed == "by the module" else next(k for k in wrapped.state_dict() if k.endswith(f".{name}"))
    keep = prunelimit.prune(model, 0.5).masks[name]
    given = prunelimit.inputs_from(wrapped, train, masks={key: keep})
    assert given.loaded.masks.keys() == {name} and torch.equal(given.loaded.masks[name], keep)
    prunelimit.train(wrapped, train, masks={key: keep}, epochs=1, l1=0.0)
    assert bool((inner.get_parameter(name)[~keep] == 0).all())  # held pruned through training
    assert bool((inner.get_parameter(name)[keep] != 0).all())


def test_a_modules_own_name_that_starts_as_a_wrappers_prefix_is_kept(train):
    """A submodule the model itself calls ``module`` is no wrapper: its mask keeps its name."""
    torch.manual_seed(0)
    own = nn.Sequential()
    own.add_module("module", nn.Linear(64, 10))
    keep = torch.rand(10, 64, generator=torch.Generator().manual_seed(0)) > 0.5
    assert torch.equal(prunelimit.inputs_from(own, train, masks={"module.weight": keep}).loaded.masks["module.weight"],
                       keep)
    with pytest.raises(UsageError, match=r"^mask names \['weight'\] are not parameters of the model; masks must be "
                                         r"keyed by parameter name such as 'module.weight'$"):
        prunelimit.inputs_from(own, train, masks={"weight": keep})


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod."])
def test_a_mask_given_under_both_names_is_one_mask_or_refused(model, train, tmp_path, prefix):
    """``masks`` holding ``0.weight`` and ``module.0.weight`` (a notebook merging the masks of a
    wrapper and of its module) kept whichever came last, in silence: by ``inputs_from``,
    ``train`` and ``export`` alike. Equal masks are one mask; different ones are refused."""
    keep = prunelimit.prune(model, 0.5).masks["0.weight"]
    alone = prunelimit.inputs_from(copy.deepcopy(model), train, masks={"0.weight": keep}).loaded.masks
    both = prunelimit.inputs_from(copy.deepcopy(model), train,
                                  masks={"0.weight": keep, prefix + "0.weight": keep.clone()}).loaded.masks
    assert both.keys() == alone.keys() and torch.equal(both["0.weight"], keep)
    differ = {"0.weight": keep, prefix + "0.weight": torch.ones_like(keep)}
    refusal = rf"^masks: keys '0\.weight' and '{prefix}0\.weight' both name '0\.weight' \(a wrapper's prefix dropped\) " \
              r"and hold different masks; give one mask for it$"
    with pytest.raises(UsageError, match=refusal):
        prunelimit.inputs_from(copy.deepcopy(model), train, masks=differ)
    trained = copy.deepcopy(model)
    with pytest.raises(UsageError, match=refusal):
        prunelimit.train(trained, train, masks=differ, epochs=1)
    assert all(torch.equal(a, b) for a, b in zip(trained.parameters(), model.parameters()))  # refused before training
    with pytest.raises(UsageError, match=refusal):
        prunelimit.export(model, tmp_path / "out.safetensors", masks=differ)
    assert not (tmp_path / "out.safetensors").exists()


def test_a_state_dict_naming_one_tensor_twice_with_other_values_is_refused_by_export(model, tmp_path):
    """A state dict holding ``0.weight`` and ``module.0.weight`` (two models' merged) was
    written with the later key's values, in silence; the checkpoint reader refuses it.
    Equal copies are one tensor, as before."""
    masks = prunelimit.prune(model, 0.5).masks
    state = model.state_dict()
    other = {**state, **{"module." + k: v + 1 if k == "0.weight" else v for k, v in state.items()}}
    with pytest.raises(UsageError, match=r"^model: keys '0\.weight' and 'module\.0\.weight' both name '0\.weight' once "
                                         r"the wrapper prefixes are dropped, and hold different values; give one "
                                         r"model's state_dict$"):
        prunelimit.export(other, tmp_path / "out.safetensors", masks=masks)
    assert not (tmp_path / "out.safetensors").exists()
    same = {**state, **{"module." + k: v for k, v in state.items()}}
    prunelimit.export(same, tmp_path / "same.safetensors", masks=masks)
    prunelimit.export(state, tmp_path / "plain.safetensors", masks=masks)
    assert (tmp_path / "same.safetensors").read_bytes() == (tmp_path / "plain.safetensors").read_bytes()
