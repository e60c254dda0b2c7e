"""Which parameters count (docs/theory.md, Conventions), defined once.

* prunable weights: ``weight`` of every ``nn.Linear`` and convolution (transposed ones too), and the Q/K/V
  projection weights of ``nn.MultiheadAttention`` (``in_proj_weight``, or ``q_proj_weight``,
  ``k_proj_weight``, ``v_proj_weight``; its ``out_proj`` is a Linear); an included module
  adds its own weight matrices (``weight_matrices``: an ``nn.LSTM``'s ``weight_ih_l0``, ...);
* Hessian parameters: every trainable parameter except normalisation affine ones.

A TorchScript module counts as the torch class it was compiled from (``module_class``), a
compiled class of the user's own as the Linear or convolution whose weight layout its
``forward`` uses (a scripted ``class MyLinear(nn.Linear)``), if it does.
Both can be narrowed or widened with module-name glob patterns. A parameter shared by
several modules (tied weights) counts once, decided by and named after its first module
(the name ``named_parameters`` gives it): listed twice it would be pruned twice and enter
the Hessian as two copies of one coordinate.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import sys
from dataclasses import dataclass
from typing import Iterable

import torch
from torch import Tensor, nn

from prunelimit.errors import OptionError, UsageError, said
from prunelimit.report.safe import clipped, listed

PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                  nn.ConvTranspose3d, nn.MultiheadAttention)
# attention's Q/K/V projections are linear maps held as parameters of its own, not Linear modules
_PROJECTIONS = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")
NORM_TYPES = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),  # torch >= 2.4
)
# the op a compiled forward applies its weight with → the torch class whose weight layout that is, its rank
_WEIGHT_OPS = {"aten::linear": (nn.Linear, 2), "aten::conv1d": (nn.Conv1d, 3), "aten::conv2d": (nn.Conv2d, 4),
               "aten::conv3d": (nn.Conv3d, 5), "aten::conv_transpose1d": (nn.ConvTranspose1d, 3),
               "aten::conv_transpose2d": (nn.ConvTranspose2d, 4), "aten::conv_transpose3d": (nn.ConvTranspose3d, 5)}
# TorchScript names a second compiled variant of a class ``torch.nn.modules.linear.___torch_mangle_0.Linear``
_MANGLE = re.compile(r"\.___torch_mangle_\d+")


def module_class(module: nn.Module) -> type:
    """The class ``module`` counts as: its own, or for a TorchScript module (scripted, traced or
    loaded) the torch class it was compiled from (TorchScript keeps only the class's qualified
    name, not the type).

    A compiled class from outside torch (a user's subclass of ``nn.Linear``; its code is never
    imported for this) counts as the Linear or convolution whose weight layout its compiled
    ``forward`` uses (``_weight_layout_class``), else as its TorchScript type, a kind of nothing.
    """
    if isinstance(module, torch.jit.ScriptModule):
        return _torch_class(module._c._type().qualified_name()) or _weight_layout_class(module) or type(module)
    return type(module)


def _weight_layout_class(module: torch.jit.ScriptModule) -> type | None:
    """``nn.Linear``/``nn.ConvNd`` when every use of the module's own ``weight`` parameter in
    its compiled ``forward`` (its calls inlined) is the weight argument of that layer's op, on
    a weight of that layer's rank: the weight is laid out and applied as the layer's, so
    pruning it is the layer's pruning, whatever else ``forward`` does. Else ``None``."""
    weight = dict(module.named_parameters(recurse=False)).get("weight")
    if weight is None:
        return None
    try:
        graph = module.inlined_graph
    except (RuntimeError, AttributeError):  # no forward
        return None
    this = next(graph.inputs())
    uses = [(use.user.kind(), use.offset) for node in _nodes(graph.block())
            if node.kind() == "prim::GetAttr" and node.s("name") == "weight" and node.input().unique() == this.unique()
            for use in node.output().uses()]
    kinds = {kind for kind, _ in uses}
    if len(kinds) != 1 or any(offset != 1 for _, offset in uses):  # one op, always as its weight argument
        return None
    found, rank = _WEIGHT_OPS.get(kinds.pop(), (None, None))
    return found if weight.dim() == rank else None


def _nodes(block):
    """Every node of a TorchScript graph block, those inside ``if``/loop blocks included."""
    for node in block.nodes():
        yield node
        for inner in node.blocks():
            yield from _nodes(inner)


def unrecognised_modules(model: nn.Module, selection: ParamSelection) -> list[str]:
    """Names of compiled modules of the user's own classes that hold a weight matrix (a 1-D
    weight is a scale, as of a norm) prunelimit does not count as prunable (``module_class``
    found no Linear/convolution layout) and that ``selection`` does not include: their
    weights are left out of N unless included."""
    return [name for name, module in model.named_modules()
            if isinstance(module, torch.jit.ScriptModule) and weight_matrices(module)
            and module_class(module) is type(module) and not selection.decide(name, False)
            and not any(fnmatch.fnmatchcase(name, p) for p in selection.exclude)]


def parametrized_modules(model: nn.Module, selection: ParamSelection) -> list[str]:
    """Names of Linear/convolution modules whose ``weight`` is computed from other
    parameters (``torch.nn.utils.parametrizations.weight_norm`` or any parametrization, the
    older ``nn.utils.weight_norm``) rather than held as a parameter, and that ``selection``
    does not exclude: prunelimit prunes parameters, so their weights are left out of N (the
    parameters they are computed from still enter the Hessian)."""
    return [name for name, module in model.named_modules()
            if issubclass(module_class(module), PRUNABLE_TYPES) and computed_weight(module)
            and not any(fnmatch.fnmatchcase(name, p) for p in selection.exclude)]


def computed_weight(module: nn.Module) -> bool:
    """Whether ``module`` has a ``weight`` tensor that is not a parameter of its own."""
    return ("weight" not in dict(module.named_parameters(recurse=False))
            and isinstance(getattr(module, "weight", None), Tensor))


@functools.cache
def _torch_class(qualified_name: str) -> type | None:
    path = _MANGLE.sub("", qualified_name.removeprefix("__torch__."))
    module_name, _, class_name = path.rpartition(".")
    if not module_name.startswith("torch."):
        return None
    found = getattr(sys.modules.get(module_name), class_name, None)
    return found if isinstance(found, type) and issubclass(found, nn.Module) else None


@dataclass(frozen=True)
class ParamSelection:
    """Module-name glob patterns that narrow (exclude) or widen (include) a default set."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def decide(self, module_name: str, default: bool) -> bool:
        if any(fnmatch.fnmatchcase(module_name, p) for p in self.exclude):
            return False
        if any(fnmatch.fnmatchcase(module_name, p) for p in self.include):
            return True
        return default

    def to_meta(self) -> dict[str, list[str]]:
        """As a pruned file records it, beside ``meta.pruned`` (``recorded_selection`` reads it)."""
        return {"include": list(self.include), "exclude": list(self.exclude)}

    def described(self) -> str:
        """As the reader gives it: ``--include 'rnn' --exclude 'head'`` on the command line,
        ``include=('rnn',), exclude=('head',)`` within a library call; or the default set."""
        given = (("include", self.include), ("exclude", self.exclude))
        # a file's recorded set may hold a thousand patterns: messages name the first few
        flags = listed([f"--{option} {p!r}" for option, patterns in given for p in patterns], 4, " ")
        keywords = ", ".join(f"{option}=({listed([repr(p) for p in patterns], 4)}{',' * (len(patterns) == 1)})"
                             for option, patterns in given if patterns)
        return said(flags, keywords) or said("the default prunable set (no --include/--exclude)",
                                             "the default prunable set (no include=/exclude=)")


def check_selection(model: nn.Module, selection: ParamSelection) -> ParamSelection:
    """``selection`` if each of its patterns selects something in ``model``; else an
    ``OptionError`` naming ``include``/``exclude``. A pattern is matched against module
    names, so a typo or a parameter's name (``attn.in_proj_weight``) would select nothing,
    silently; an ``include`` must match a module that holds a weight matrix, what it adds
    to N, or a normalisation layer's parameters, what it adds to D."""
    modules = dict(model.named_modules())
    names = list(modules)
    weighted = [name for name, module in modules.items() if weight_matrices(module)]
    widening = weighted + [name for name, module in modules.items()
                           if issubclass(module_class(module), NORM_TYPES) and next(module.parameters(recurse=False), None) is not None]
    examples = ", ".join(repr(n) for n in weighted[:3] if n) or "none"
    for option, patterns in (("include", selection.include), ("exclude", selection.exclude)):
        for pattern in patterns:
            matched = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
            if not matched:
                raise OptionError(option, f"{{0}} {clipped(pattern)!r} matches no module in the model; patterns are globs "
                                  f"of module names, e.g. {examples}")
            computed = [name for name in matched if computed_weight(modules[name])]
            if option == "include" and not set(matched) & set(widening) and computed:
                raise OptionError(option, f"{{0}} {clipped(pattern)!r} matches {computed[0]!r}, whose weight is computed by a "
                                  f"parametrization ({weight_computers(model, computed[:1])}), not held as a parameter, and prunelimit "
                                  "prunes parameters; save the model with it removed "
                                  "(torch.nn.utils.parametrize.remove_parametrizations) to prune that weight")
            if option == "include" and not set(matched) & set(widening):
                named = _other_named_matrices((name, modules[name]) for name in matched)
                raise OptionError(option, f"{{0}} {clipped(pattern)!r} matches only modules without a weight matrix "
                                  f"({', '.join(map(repr, matched[:3]))}), and a module's weight matrices are what "
                                  "it adds; " + (named.replace("{", "{{").replace("}", "}}")
                                                 or f"modules with one are e.g. {examples}"))
            nothing = _owns_nothing(modules, matched, option)
            if nothing is not None:
                raise OptionError(option, f"{{0}} {clipped(pattern)!r} selects nothing: it matches only {nothing[0]}; "
                                  f"{nothing[1]}")
    return selection


def _owns_nothing(modules: dict[str, nn.Module], matched: list[str], option: str) -> tuple[str, str] | None:
    """What the ``matched`` modules are and which pattern would select something, when they
    decide none of the parameters ``option`` selects (an include: the weight matrices, a norm's
    parameters; an exclude: every parameter) of their own; a pattern decides the parameters of
    the modules it names, a shared one as its first module's (see the module doc). ``None``
    when they decide one."""
    def selected(module: nn.Module) -> list[Tensor]:
        if option == "include" and not issubclass(module_class(module), NORM_TYPES):
            return [p for _, p in weight_matrices(module)]
        return list(module.parameters(recurse=False))

    owner: dict[int, str] = {}
    for name, module in modules.items():
        for p in module.parameters(recurse=False):
            owner.setdefault(id(p), name)
    held = {owner[id(p)] for name in matched for p in selected(modules[name])}
    if held & set(matched):
        return None
    shown = ", ".join(repr(name) for name in matched[:3])
    if held:
        first = sorted(held)[0]
        return (f"{shown}, whose parameters are shared with {first!r}, which decides them (a shared parameter "
                "counts once, as its first module's)", f"use {first!r}")
    children = f"{matched[0]}.*" if matched[0] else "*"
    return f"{shown}, without parameters of its own", f"a pattern names modules, not their children: use {children!r}"


def prunable_parameters(
    model: nn.Module, selection: ParamSelection = ParamSelection()
) -> list[tuple[str, Tensor]]:
    """Named prunable weight tensors, in ``named_modules`` order.

    By default the ``weight`` of every Linear/Conv module and attention's Q/K/V projections.
    ``include`` patterns add the weight matrices (``weight_matrices``) of other matching modules,
    such as an ``nn.LSTM``'s ``weight_ih_l0``; ``exclude`` removes matches.
    """
    out, seen = [], set()
    for mname, module in model.named_modules():
        default = issubclass(module_class(module), PRUNABLE_TYPES)
        for pname, weight in weight_matrices(module):
            if id(weight) in seen:
                continue
            seen.add(id(weight))
            if selection.decide(mname, default):
                out.append((f"{mname}.{pname}" if mname else pname, weight))
    return out


def required_prunable(model: nn.Module, selection: ParamSelection = ParamSelection()) -> list[tuple[str, Tensor]]:
    """``prunable_parameters``, refused when empty: every command that needs a non-empty set
    says so alike, naming the flags that widen it."""
    named = prunable_parameters(model, selection)
    if not named:
        other = _other_named_matrices(model.named_modules())
        fixes = _computed_weights(model, selection) + _uncounted_weights(model, selection) + (other and other + ", or ")
        raise UsageError.naming("the model has no prunable weights (Linear, Conv or attention projection weights) "
                                "in the set in use; " + fixes.replace("{", "{{").replace("}", "}}")
                                + "widen it with {0}/{1}", "include", "exclude")
    return named


def left_out_by_default(model: nn.Module, selection: ParamSelection) -> dict[str, tuple[str, int]]:
    """The modules holding weight matrices that ``selection`` leaves out by default, not by an
    exclude (a recurrent layer, an ``nn.Embedding``, an ``nn.Bilinear``, a matrix held by the
    model itself, which only the pattern ``''`` names; a matrix shared with an earlier module
    is that module's): each module's class name and its matrices' weight count."""
    owned: set[int] = set()
    found = {}
    for name, module in model.named_modules():
        matrices = [p for _, p in weight_matrices(module) if id(p) not in owned]
        owned.update(id(p) for p in matrices)
        if (matrices and not selection.decide(name, issubclass(module_class(module), PRUNABLE_TYPES))
                and not any(fnmatch.fnmatchcase(name, p) for p in selection.exclude)):
            found[name] = (module_class(module).__name__, sum(p.numel() for p in matrices))
    return found


def left_out_described(found: dict[str, tuple[str, int]]) -> tuple[str, str]:
    """The modules ``left_out_by_default`` found, as messages name them (``'rnn' (GRU)``, the
    model itself by those words), and the include that counts their weight matrices."""
    held = [f"{name!r} ({kind})" if name else f"the model itself ({kind})" for name, (kind, _) in found.items()]
    return listed(held), ParamSelection(include=tuple(list(found)[:3])).described()


def _uncounted_weights(model: nn.Module, selection: ParamSelection) -> str:
    """What to say of the modules ``left_out_by_default``: the include that counts them, else nothing."""
    found = left_out_by_default(model, selection)
    if not found:
        return ""
    held, include = left_out_described(found)
    return f"{include} counts the weight matrices of {held}, or "


def _other_named_matrices(modules: Iterable[tuple[str, nn.Module]]) -> str:
    """What to say of the matrices ``modules`` hold under another name than ``weight…`` (a
    hand-written ``self.W1 = nn.Parameter(...)``), which no include counts: the names that
    count them and the include that then does, else nothing. Without it a model of such
    matrices was told to widen the set with an include that was then refused."""
    from torch.nn.utils.parametrize import ParametrizationList

    found: dict[str, list[str]] = {}  # module → its matrices' names
    for name, module in modules:
        if isinstance(module, ParametrizationList):  # a parametrization's originals: its warning names them
            continue
        own = dict(module.named_parameters(recurse=False))
        counted = {key for key, _ in weight_matrices(module)}
        found[name] = [key for key, p in own.items() if p.dim() >= 2 and key not in counted
                       and not key.startswith("weight") and not _computes_a_tensor(module, key, own)]
    found = {name: keys for name, keys in found.items() if keys}
    if not found:
        return ""
    held = [f"{module}.{key}" if module else key for module, keys in found.items() for key in keys]
    them = "them" if len(held) > 1 else "it"
    first = next(iter(found.values()))[0]
    return (f"{listed([repr(n) for n in held])} {'are matrices' if len(held) > 1 else 'is a matrix'} held under "
            f"another name than weight…, which prunelimit does not count: name {them} weight… (weight_{first}) and "
            f"{ParamSelection(include=tuple(found)[:3]).described()} counts {them}, or hold {them} in nn.Linear "
            "layers")


def _computed_weights(model: nn.Module, selection: ParamSelection) -> str:
    """What to say of the layers whose weight a parametrization computes (weight_norm), which
    leave no parameter to prune: they and the torch function that removes it, else nothing."""
    names = parametrized_modules(model, selection)
    if not names:
        return ""
    weights = "weights of {} are" if len(names) > 1 else "weight of {} is"
    return (f"the {weights.format(listed([repr(n) for n in names]))} computed by a parametrization "
            f"({weight_computers(model, names)}), not held as a parameter: remove it first "
            f"({weight_removal(model, names)}), or ")


def weight_computers(model: nn.Module, names: list[str]) -> str:
    """What computes these layers' weights, as torch names it: its parametrizations
    ``weight_norm``, ``orthogonal``, ``spectral_norm``, one of your own by its class, or the
    older hooks (``the older weight_norm``); messages said ``weight_norm, ...`` of them all."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.spectral_norm import SpectralNorm

    def kinds(module: nn.Module) -> list[str]:
        if parametrize.is_parametrized(module, "weight"):
            return [_TORCH_PARAMETRIZATIONS.get(type(p).__qualname__, type(p).__name__)
                    if type(p).__module__ == "torch.nn.utils.parametrizations" else type(p).__name__
                    for p in module.parametrizations.weight]
        if "weight_g" in dict(module.named_parameters(recurse=False)):
            return ["the older weight_norm"]
        if any(isinstance(hook, SpectralNorm) for hook in module._forward_pre_hooks.values()):
            return ["the older spectral_norm"]
        return ["a hook"]

    return ", ".join(dict.fromkeys(kind for n in names for kind in kinds(model.get_submodule(n))))


# torch's parametrization classes by the function that registers them
_TORCH_PARAMETRIZATIONS = {"_WeightNorm": "weight_norm", "_Orthogonal": "orthogonal", "_SpectralNorm": "spectral_norm"}


def weight_removal(model: nn.Module, names: list[str]) -> str:
    """The torch functions that remove what computes these layers' weights: a parametrization,
    or the older hooks of ``nn.utils.weight_norm`` / ``spectral_norm``, which
    ``remove_parametrizations`` refuses (those hooks leave ``weight_g`` / ``weight_orig``)."""
    from torch.nn.utils import parametrize

    def fix(module: nn.Module) -> str:
        if parametrize.is_parametrized(module, "weight"):
            return "torch.nn.utils.parametrize.remove_parametrizations"
        held = dict(module.named_parameters(recurse=False))
        if "weight_g" in held:
            return "torch.nn.utils.remove_weight_norm for the older weight_norm"
        if "weight_orig" in held:
            return "torch.nn.utils.remove_spectral_norm for the older spectral_norm"
        return "the hook that computes it"

    return "; ".join(dict.fromkeys(fix(model.get_submodule(n)) for n in names))


def weight_matrices(module: nn.Module) -> list[tuple[str, Tensor]]:
    """A module's own weight matrices (registered parameters, which a loaded TorchScript
    module holds as plain Tensors; its children's are theirs): every parameter of at least
    2 dimensions named ``weight…`` (``weight``, a recurrent layer's ``weight_ih_l0``,
    ``weight_hh_l0_reverse``, ``weight_hr_l0``) and attention's Q/K/V projections. A 1-D
    weight is a scale (a norm's), and a parameter a tensor is computed from (``weight_orig``
    of ``torch.nn.utils.prune``, ``weight_g``/``weight_v`` of the older weight norm) is not
    that tensor: pruning it would prune the parametrization, not the weight."""
    own = dict(module.named_parameters(recurse=False))
    return [(name, p) for name, p in own.items()
            if p.dim() >= 2 and (name.startswith("weight") or name in _PROJECTIONS)
            and not _computes_a_tensor(module, name, own)]


def is_attention_projection(name: str) -> bool:
    """Whether a module's own parameter ``name`` is one of attention's Q/K/V projections."""
    return name in _PROJECTIONS


def _computes_a_tensor(module: nn.Module, name: str, own: dict[str, Tensor]) -> bool:
    """Whether parameter ``name`` is the source of a computed tensor: its name is that
    tensor's (a non-parameter Tensor attribute of ``module``) plus a ``_suffix``."""
    return any(isinstance(getattr(module, name[:i], None), Tensor) and name[:i] not in own
               for i, letter in enumerate(name) if letter == "_")


def hessian_parameters(
    model: nn.Module, selection: ParamSelection = ParamSelection()
) -> list[tuple[str, Tensor]]:
    """Named parameters entering the Hessian: trainable, minus normalisation affine params."""
    out, seen = [], set()
    for mname, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            if selection.decide(mname, not issubclass(module_class(module), NORM_TYPES)):
                out.append((f"{mname}.{pname}" if mname else pname, p))
    return out
