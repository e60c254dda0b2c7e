"""Keep-masks: applying them, measuring sparsity, and the ``torch.nn.utils.prune`` form.

A mask set is a ``dict`` from parameter name (``"0.weight"``) to a boolean tensor of the
same shape, ``True`` = kept. ``torch.nn.utils.prune`` stores a pruned tensor as
``<module>.weight_orig`` (the unmasked values) plus a float buffer
``<module>.weight_mask``; :func:`to_prune_state_dict` and :func:`from_prune_state_dict`
convert between that form and a plain state dict with masks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

import torch
from torch import Tensor, nn

from prunelimit import validate
from prunelimit.errors import InputError, UsageError
from prunelimit.inputs import recorded_selection
from prunelimit.models.load import PRUNED_ATTRIBUTE, masks_by_parameter, parameter_names, wrapped_module
from prunelimit.models.params import ParamSelection, prunable_parameters

if TYPE_CHECKING:
    from prunelimit.models.load import LoadedModel

Masks = dict[str, Tensor]

_ORIG, _MASK = "_orig", "_mask"


@dataclass(frozen=True)
class LayerSparsity:
    """Zeros in one prunable tensor (``zeros / total`` is its pruning ratio)."""

    name: str
    total: int
    zeros: int

    @property
    def ratio(self) -> float:
        return self.zeros / self.total if self.total else 0.0


def _named(model: nn.Module, names: Iterable[str]) -> dict[str, nn.Parameter]:
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        example = next(iter(params), "0.weight")  # one of the model's own: a fixed '0.weight' named the missing one
        raise UsageError(
            f"mask names {missing[:3]} are not parameters of the model; "
            f"masks must be keyed by parameter name such as {example!r}"
        )
    return {n: params[n] for n in names}


def keep_both(new: Mapping[str, Tensor], old: Mapping[str, Tensor]) -> Masks:
    """Keep a weight only where both mask sets do (a name in one set keeps that mask): pruning
    a pruned model must not bring back what it had removed, in its masks or by fine-tuning."""
    both = {name: mask.to(torch.bool) for name, mask in old.items()}
    for name, mask in new.items():
        both[name] = mask & both[name].to(mask.device) if name in both else mask
    return both


def full_masks(named: Iterable[tuple[str, Tensor]], given: Mapping[str, Tensor]) -> Masks:
    """A boolean keep-mask for each named tensor, on its device: ``given``'s where it has
    one, else all kept (a pruned file may leave a tensor it did not prune without a mask)."""
    return {name: given[name].to(p.device, torch.bool) if name in given else torch.ones_like(p, dtype=torch.bool)
            for name, p in named}


def check_masks(model: nn.Module, masks: Mapping[str, Tensor]) -> dict[str, nn.Parameter]:
    """The parameters ``masks`` name, each of its mask's shape; else a ``UsageError``."""
    named = _named(model, masks)
    for name, p in named.items():
        if masks[name].shape != p.shape:
            raise UsageError(f"mask for {name} has shape {tuple(masks[name].shape)}, weight {tuple(p.shape)}")
    return named


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, Tensor]) -> None:
    """Zero, in place, every weight whose mask entry is ``False``.

    The zeros are +0.0 (``p * mask`` would leave −0.0 for negative weights, a sign bit a
    sparse export must then store: docs/export.md)."""
    for name, p in check_masks(model, masks).items():
        p.masked_fill_(~masks[name].to(device=p.device, dtype=torch.bool), 0.0)


@torch.no_grad()
def mask_gradients(model: nn.Module, masks: Mapping[str, Tensor]) -> None:
    """Zero the gradient entries of pruned weights (before an optimiser step)."""
    for name, p in _named(model, masks).items():
        if p.grad is not None:
            p.grad.mul_(masks[name].to(device=p.device, dtype=p.grad.dtype))


@torch.no_grad()
def mask_optimizer_state(
    optimizer: torch.optim.Optimizer, model: nn.Module, masks: Mapping[str, Tensor]
) -> None:
    """Zero every parameter-shaped optimiser buffer (e.g. momentum) at pruned entries.

    Without this a momentum buffer filled before pruning would push pruned weights
    away from zero again at the next step.
    """
    for name, p in _named(model, masks).items():
        for value in optimizer.state.get(p, {}).values():
            if isinstance(value, Tensor) and value.shape == p.shape:
                value.mul_(masks[name].to(device=value.device, dtype=value.dtype))


def sparsity_table(
    model: nn.Module, selection: ParamSelection = ParamSelection()
) -> list[LayerSparsity]:
    """Total and zero-valued entries of every prunable tensor, in module order."""
    return [
        LayerSparsity(name=name, total=p.numel(), zeros=int((p.detach() == 0).sum()))
        for name, p in prunable_parameters(model, selection)
    ]


def overall_ratio(layers: Iterable[LayerSparsity]) -> float:
    """Fraction of zero weights over all listed tensors together."""
    layers = list(layers)
    total = sum(layer.total for layer in layers)
    return sum(layer.zeros for layer in layers) / total if total else 0.0


def masks_from_state_dict(state_dict: Mapping[str, Tensor], names: Iterable[str]) -> Masks:
    """Keep-masks ``w != 0`` for the named tensors (a pruned checkpoint without masks)."""
    missing = [n for n in names if n not in state_dict]
    if missing:
        raise InputError(f"state dict lacks prunable tensors {missing[:3]}; check the model spec")
    return {n: state_dict[n] != 0 for n in names}


def held_masks(loaded: "LoadedModel", selection: ParamSelection = ParamSelection()) -> Masks:
    """What a loaded model has pruned, to hold through pruning further and fine-tuning: its
    masks, else for one that records a pruning (``meta.pruned``) but holds no masks, as a pruned
    safetensors file, the non-zeros of the weights it was pruned within (its zeros are what it
    removed): its recorded set, else ``selection``. The recorded one also where another set is
    in use: a tensor it pruned and the set in use leaves out is trained, and would regrow."""
    if loaded.masks or not isinstance(loaded.meta.get("pruned"), Mapping):
        return loaded.masks
    pruned_within = recorded_selection(loaded.meta, loaded.path) or selection
    names = [name for name, _ in prunable_parameters(loaded.model, pruned_within)]
    return masks_from_state_dict(loaded.model.state_dict(), names)


def pruning_held(loaded: "LoadedModel", selection: ParamSelection = ParamSelection()) -> Masks:
    """What magnitude pruning of a loaded model holds pruned: ``held_masks``, else (a model that
    records no pruning) the exact zeros of its prunable weights in ``selection``. ``prune`` counts
    those as removed (they stay zero, and the ratio it reports counts them); held, fine-tuning
    does not revive them and the masks written mark them, as those of a pruned file do. Empty
    when there are none."""
    held = held_masks(loaded, selection)
    if held:
        return held
    nonzero = {name: p.detach() != 0 for name, p in prunable_parameters(loaded.model, selection)}
    return nonzero if not all(bool(mask.all()) for mask in nonzero.values()) else {}


def to_prune_state_dict(state_dict: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> dict:
    """The state dict ``torch.nn.utils.prune`` produces for these masks.

    Each masked ``<m>.weight`` becomes ``<m>.weight_orig`` (values as given) and
    ``<m>.weight_mask`` (float 0/1, the dtype prune uses).
    """
    out = {}
    for key, value in state_dict.items():
        if key in masks:
            out[key + _ORIG] = value
            out[key + _MASK] = masks[key].to(dtype=value.dtype, device=value.device)
        else:
            out[key] = value
    return out


def from_prune_state_dict(state_dict: Mapping[str, Tensor]) -> tuple[dict, Masks]:
    """Plain state dict (``weight = weight_orig * weight_mask``) and boolean keep-masks."""
    plain, masks = {}, {}
    for key, value in state_dict.items():
        if key.endswith(_MASK):
            continue
        if key.endswith(_ORIG):
            base = key[: -len(_ORIG)]
            mask_key = base + _MASK
            if mask_key not in state_dict:
                raise InputError(f"state dict has {key} but no {mask_key}; it is not a prune state dict")
            mask = state_dict[mask_key]
            plain[base] = value * mask.to(value.dtype)
            masks[base] = mask != 0
        else:
            plain[key] = value
    return plain, masks


def prune_with_torch(given: nn.Module, masks: Mapping[str, Tensor], recorded: dict | None = None) -> nn.Module:
    """``given`` pruned in place by ``torch.nn.utils.prune.custom_from_mask`` to ``masks``
    (``weight_orig`` and ``weight_mask``; ``prune.remove`` makes it permanent), with
    ``recorded`` (a pruning's ``meta.pruned``) recorded on it for the calls that read it next;
    a wrapper (``nn.DataParallel``, ``torch.compile``) has the module it runs pruned."""
    from torch.nn.utils import prune

    if not isinstance(given, nn.Module):
        # a state dict (torch.load of a checkpoint) holds no module for torch's pruning to hook
        fix = ("; build the module, load_state_dict(...) into it and apply the masks to it, or zero the state "
               "dict's pruned weights in place: for name, mask in pruning.masks.items(): "
               "state[name].mul_(mask.to(state[name].device))") if isinstance(given, Mapping) else ""
        raise UsageError(f"apply takes a torch.nn.Module, got {validate.not_a_module(given)}{fix}")
    model = wrapped_module(given)
    if isinstance(model, torch.jit.ScriptModule):  # torch.nn.utils.prune needs forward pre-hooks, which it has not
        # only the library's Pruning/HyperfluxResult.apply get here: its caller's fix, not a command
        raise UsageError("apply takes an eager torch.nn.Module; a TorchScript model cannot carry pruning masks: "
                         "apply them to the module it was scripted from, or zero its weights in place: "
                         "params = dict(model.named_parameters()); "
                         "for name, mask in pruning.masks.items(): params[name].detach().mul_(mask)")
    for name, mask in masks.items():  # all checked before any is applied: torch asserts on a wrong shape
        module_name, _, attribute = name.rpartition(".")
        try:
            tensor = getattr(model.get_submodule(module_name), attribute, None)
        except AttributeError:
            tensor = None
        if not isinstance(tensor, Tensor) or tensor.shape != mask.shape:
            found = f" (it is of shape {tuple(tensor.shape)})" if isinstance(tensor, Tensor) else ""
            raise UsageError(f"the mask for {name} of shape {tuple(mask.shape)} fits no tensor of this model{found}; "
                             "apply the masks to the model they were computed for")
    for name, mask in masks.items():
        module_name, _, attribute = name.rpartition(".")
        owner = model.get_submodule(module_name)
        # masks made or unpickled on another device (a CPU box's, for a model on a GPU): torch multiplies them in place
        on_device = mask.to(getattr(owner, attribute).device)
        for module, alias in _holders(model, _parameter(owner, attribute)):
            prune.custom_from_mask(module, alias, on_device)  # on a pruned one, torch stacks it: kept where both keep
    if recorded is not None:
        setattr(model, PRUNED_ATTRIBUTE, recorded)
    return given


def _holders(model: nn.Module, tensor: Tensor | None) -> list[tuple[nn.Module, str]]:
    """Every (module, attribute) that holds ``tensor`` as a parameter, a pruned one by the
    attribute its pruning computes (``weight_orig`` as ``weight``): a tied weight is one
    parameter of several modules, named after the first, and pruning it must reach each of
    them, or the others go on computing with the unpruned values."""
    return [(module, _pruned_attributes(module).get(attribute, attribute)) for module in model.modules()
            for attribute, p in module._parameters.items() if p is tensor]


def _parameter(module: nn.Module, attribute: str) -> Tensor | None:
    """The parameter behind ``module.attribute``: itself, or where ``torch.nn.utils.prune``
    computes the attribute (``weight_orig · weight_mask``, no parameter) its ``weight_orig``."""
    pruned = {computed: original for original, computed in _pruned_attributes(module).items()}
    return module._parameters.get(pruned.get(attribute, attribute))


def torch_pruned(model: nn.Module) -> list[tuple[str, str]]:
    """(module name, attribute) of each ``torch.nn.utils.prune`` reparametrisation in ``model``."""
    return [(name, attribute) for name, module in model.named_modules()
            for attribute in _pruned_attributes(module).values()]


def _pruned_attributes(module: nn.Module) -> dict[str, str]:
    """``module``'s torch-pruned parameters by the attribute each computes (``weight_orig`` → ``weight``)."""
    return {f"{hook._tensor_name}{_ORIG}": hook._tensor_name for _, hook in _pruning_hooks(module)}


def _pruning_hooks(module: nn.Module) -> list[tuple[int, "torch.nn.utils.prune.BasePruningMethod"]]:
    """``module``'s ``torch.nn.utils.prune`` methods among its forward pre-hooks, with their ids."""
    from torch.nn.utils import prune

    return [(hook_id, hook) for hook_id, hook in module._forward_pre_hooks.items()
            if isinstance(hook, prune.BasePruningMethod)]


@dataclass
class _Folded:
    """One ``torch.nn.utils.prune`` reparametrisation made a plain parameter for a while:
    the method object, its key among the module's pre-hooks, the mask buffer, the mask it
    held and the values ``weight_orig`` held where that mask pruned."""

    key: str
    module: nn.Module
    hook_id: int
    method: "torch.nn.utils.prune.BasePruningMethod"
    mask: Tensor
    before: Tensor
    hidden: Tensor


@contextlib.contextmanager
def torch_pruning_folded(model: nn.Module) -> Iterator[Masks]:
    """``model`` with each ``torch.nn.utils.prune`` reparametrisation made a plain parameter
    again (``weight = weight_orig · weight_mask``, the same ``Parameter`` object, so an
    optimiser holding it still does), and its keep-masks by parameter name; afterwards,
    also on an error, each gets its pruning back: the same method object in its place among
    the module's pre-hooks and the same mask buffer, holding the mask the yielded dict then
    holds (a caller that prunes further puts its masks there), and ``weight_orig`` gets back
    the values it held where it was pruned before. Training code sees parameters and masks,
    as for a pruned checkpoint; the caller gets back the form it gave, objects included, in
    their order among the module's parameters, buffers and pre-hooks."""
    from prunelimit.io.checkpoint import unsign_pruned_zeros

    require_one_pruning_a_tie(model)
    found: list[_Folded] = []
    masks: Masks = {}
    # refolding registers weight_orig and weight_mask anew, last: a module with two pruned
    # tensors had its parameters and buffers swapped, and an optimiser's state_dict (kept by
    # position) loaded into one built afterwards mixed up their momenta. Only modules torch prunes:
    # a scripted one's dicts are wrappers that cannot be listed so, and it holds no pruning
    order = {id(module): [list(d) for d in (module._forward_pre_hooks, module._parameters, module._buffers)]
             for module in model.modules() if _pruning_hooks(module)}
    for module_name, module in model.named_modules():
        for hook_id, hook in _pruning_hooks(module):
            name = hook._tensor_name
            key = f"{module_name}.{name}" if module_name else name
            mask = getattr(module, name + _MASK)
            masks[key] = mask.detach().bool()
            found.append(_Folded(key, module, hook_id, hook, mask, masks[key],
                                 getattr(module, name + _ORIG).detach().clone()))
            hook.remove(module)  # torch's prune.remove, keeping the method and mask objects to put back
            del module._forward_pre_hooks[hook_id]
            unsign_pruned_zeros(getattr(module, name), masks[key])  # as a file's are read
    # a tied weight pruned on each module that holds it, with one mask (checked above), is one
    # parameter: its mask goes under the parameter's name (its first module's)
    names = parameter_names(model)
    for item in found:
        item.key = names[item.key]
    masks = masks_by_parameter(model, masks)
    try:
        yield masks
    finally:
        # last folded first: a later alias of a tied weight saw its values already masked
        # by an earlier one, whose saved values must be the ones restored last
        for item in reversed(found):
            _refold(item, masks[item.key])
        for module in model.modules():
            for held, keys in zip((module._forward_pre_hooks, module._parameters, module._buffers), order.get(id(module), ())):
                _reorder(held, keys)


def require_one_pruning_a_tie(model: nn.Module) -> None:
    """Refuse a tied weight that ``torch.nn.utils.prune`` masks in some of the modules holding
    it and not in others, or with different masks: folding it makes one parameter of one mask,
    so every function read a model the caller's does not compute (a tied output layer pruned
    alone, its embedding computing with the unpruned values, read as both pruned). Modules are
    named as ``model`` holds them: the library checks a wrapper (``nn.DataParallel``) given first,
    so that the message's ``model.get_submodule('module.out')`` runs on the caller's model."""
    from prunelimit.report.safe import listed

    named = dict(model.named_modules())
    pruned = [(module_name, module, hook) for module_name, module in named.items() for _, hook in _pruning_hooks(module)]
    if not pruned:  # nor list a scripted module's parameters, which its wrappers cannot
        return
    held_by: dict[int, list[tuple[str, nn.Module, str]]] = {}  # a parameter's id → where it is held
    for name, module in named.items():
        for key, held in module._parameters.items():
            held_by.setdefault(id(held), []).append((name, module, key))
    for module_name, module, hook in pruned:
        original = module._parameters[hook._tensor_name + _ORIG]
        holders = {name: _torch_mask(other, key) for name, other, key in held_by[id(original)]}
        first = holders[module_name]
        if all(mask is not None and torch.equal(mask, first) for mask in holders.values()):
            continue
        key = f"{module_name}.{hook._tensor_name}" if module_name else hook._tensor_name
        attribute, source = hook._tensor_name, f"model.get_submodule({module_name!r})"
        plain = [n for n, mask in holders.items() if mask is None]
        if plain:
            masked = listed([repr(n) for n in holders if n not in plain])
            how = f"in {masked} only: {plain[0]!r} computes with its unpruned values"
            fix = (f"torch.nn.utils.prune.custom_from_mask(model.get_submodule({plain[0]!r}), {attribute!r}, "
                   f"{source}.{attribute}{_MASK})")
        else:  # torch stacks a mask on a pruned weight: each keeps what every mask keeps
            how = f"with different masks in {listed([repr(n) for n in holders])}"
            product = " * ".join(f"model.get_submodule({n!r}).{attribute}{_MASK}" for n in holders)
            fix = (f"mask = {product}, then torch.nn.utils.prune.custom_from_mask(module, {attribute!r}, mask) "
                   "for each of them (stacked, each keeps what every mask keeps)")
        raise UsageError(
            f"the tied weight {key!r} (one parameter of modules {listed([repr(n) for n in holders])}) is masked by "
            f"torch.nn.utils.prune {how}, so no one weight and mask is what the model computes with, and "
            f"prunelimit reads one: its numbers would be another model's; give every module that holds it the "
            f"same mask: {fix}, as Pruning.apply does, or untie them")


def _torch_mask(module: nn.Module, key: str) -> Tensor | None:
    """The mask ``torch.nn.utils.prune`` multiplies ``module``'s parameter ``key`` by, ``None``
    where the module computes with it as it is."""
    computed = _pruned_attributes(module).get(key)
    return None if computed is None else getattr(module, computed + _MASK)


def _refold(item: _Folded, mask: Tensor) -> None:
    """Put ``item``'s pruning back on its module with ``mask``, as ``BasePruningMethod.apply`` sets it up."""
    name = item.method._tensor_name
    orig = item.module._parameters.pop(name)
    item.module.register_parameter(name + _ORIG, orig)
    with torch.no_grad():
        item.mask.copy_(mask.to(item.mask.device, item.mask.dtype))
        orig.copy_(torch.where(item.before.to(orig.device), orig, item.hidden.to(orig.device)))
    item.module.register_buffer(name + _MASK, item.mask)
    item.module._forward_pre_hooks[item.hook_id] = item.method
    setattr(item.module, name, item.method.apply_mask(item.module))


def _reorder(held: dict, order: list) -> None:
    """``held`` in the order of ``order`` (keys it does not name last, as they came)."""
    rank = {key: index for index, key in enumerate(order)}
    items = sorted(held.items(), key=lambda item: rank.get(item[0], len(order)))
    held.clear()
    held.update(items)
