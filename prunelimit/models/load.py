"""A model with its weights: checkpoint + spec → ``LoadedModel`` (strict key checking)."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from prunelimit.errors import InputError, UsageError, option, said
from prunelimit.io.checkpoint import (MERGE_SHARDS, RawCheckpoint, read_checkpoint, shard_of, state_and_masks,
                                      training_notes)
from prunelimit.limits import MAX_RECORDED_SPEC_CHARS
from prunelimit.models.spec import build_model, imports_code
from prunelimit.sparse.formats import storage_key
from prunelimit.specs import spec_file_part
from prunelimit.report.notebook import brief
from prunelimit.report.safe import listed


@brief  # a field of Inputs, at a prompt: the model's repr is a line a submodule, the masks' every value
@dataclass
class LoadedModel:
    """A ready model in eval mode, the spec that builds it, and any pruning masks."""

    model: nn.Module
    spec: str | None
    masks: dict[str, Tensor] = field(default_factory=dict)
    source: str = "state_dict"
    path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what reading the file passed over (``training_notes``), for the warnings
    # the float type of each tensor the file holds in a narrower one than the model's (a float16
    # file loads into a float32 model): what a file written from the model stores it back in
    dtypes: dict[str, torch.dtype] = field(default_factory=dict)
    # a training record's key the model was read from (``{"model": net, "epoch": 5}``: ``model``);
    # ``None`` when the file is the model (``RawCheckpoint.weights_from``)
    weights_from: str | None = None

    def stored_state(self) -> dict[str, Tensor]:
        """The model's state dict in the file's float types (:attr:`dtypes`)."""
        return in_dtypes(self.model.state_dict(), self.dtypes)

    def recorded_spec(self, key: str) -> str | None:
        """The spec string the file records under ``meta[key]`` (``data``, ``eval_data``, ``loss``), if any."""
        return recorded_spec(self.meta.get(key), key, self.path)

    def recorded_places(self, key: str) -> list[str]:
        """The ``key`` spec as the file records it, and as read from the file's folder (see :func:`recorded_places`)."""
        return recorded_places(self.meta, key, self.path)

    def recorded_data(self) -> list[str]:
        """The data specs the file records (see :func:`recorded_data`)."""
        return recorded_data(self.meta, self.path)


def recorded_data(meta: dict[str, Any], path: Path | None) -> list[str]:
    """The data specs a file records (``data``, ``eval_data``), read from either place
    :func:`recorded_spec` looks: files they name are inputs no output may replace (a pruned or
    exported copy records them again, so it would point at itself)."""
    return [place for key in ("data", "eval_data") for place in recorded_places(meta, key, path)]


def recorded_places(meta: dict[str, Any], key: str, path: Path | None) -> list[str]:
    """The ``key`` spec the file ``path`` records, as written and, where its file may lie
    there instead, read from the file's folder (see :func:`recorded_spec`); none when it records none."""
    spec = _checked(meta.get(key), key, path)
    return [place for place in (spec, spec and _beside(spec, key, path)) if place]


def recorded_spec(value: Any, key: str, path: Path | None, missing_ok: bool = False) -> str | None:
    """The ``key`` spec (model, data, eval_data, loss) read from the file ``path``: a short
    string or nothing. Its relative file (``tensors:train.pt``, ``nets.py:make``) is relative
    to the folder the writing command ran in, which the file does not say: it is read from the
    current folder, else from the file's folder; both holding another file of that name is
    refused (either could be meant), the fix being to name it, and so is neither holding it
    (the reader's "not found" would not say the path came from the file, nor where it looked)
    unless ``missing_ok``: a command that passes the spec on without reading its file."""
    spec = _checked(value, key, path)
    at = spec_file_part(spec, key) if spec else None
    if at is None or not spec.split(":")[at]:
        return spec
    beside = _beside(spec, key, path)
    here, there = (Path(s.split(":")[at]) if s else None for s in (spec, beside))
    option = f"--{key.replace('_', '-')}"
    recorded = f"checkpoint {path} records the {key} {spec!r}"
    if there is None or not there.exists():
        if here.exists() or missing_ok or _downloadable(spec, key):
            return spec
        looked = f"neither {here} (here) nor {there} (beside the checkpoint) exists" if there else f"{here} does not exist"
        raise InputError(f"{recorded}, but {looked}; pass {option} SPEC naming where it is now")
    if not here.exists() or here.samefile(there):
        return spec if here.exists() else beside
    raise InputError(f"{recorded}, relative to the folder it was written from: "
                     f"both {here} (here) and {there} (beside the checkpoint) exist; pass {option} SPEC naming one")


def _downloadable(spec: str, key: str) -> bool:
    """A recorded torchvision root (``cifar10:ROOT``) need not exist yet: ``--download`` fetches
    it there, and without it the reader names the root and that option."""
    from prunelimit.data.spec import DOWNLOADABLE_SOURCES

    return key in ("data", "eval_data") and spec.split(":")[0] in DOWNLOADABLE_SOURCES


def relocated_meta(meta: dict[str, Any], path: Path | None) -> dict[str, Any]:
    """``meta`` of the file ``path`` with its data, eval data and loss specs as
    :func:`recorded_spec` reads them, for a copy written from the current folder (``export``):
    its paths are then relative to this folder, as those ``prune`` records. A spec it cannot
    place (in both folders, in neither, or not valid) stays as written, for the copy's reader to refuse."""
    moved = dict(meta)
    for key in ("data", "eval_data", "loss"):
        if key in meta:
            with contextlib.suppress(InputError):
                moved[key] = recorded_spec(meta[key], key, path)
    return moved


def _checked(value: Any, key: str, path: Path | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_RECORDED_SPEC_CHARS:
        what = f"a {type(value).__name__}" if not isinstance(value, str) else f"{len(value):,} characters long"
        raise InputError(f"checkpoint {path}: its recorded {key} spec is {what}; "
                         f"pass --{key.replace('_', '-')} SPEC yourself")
    return value


def _beside(spec: str, key: str, path: Path | None) -> str | None:
    """``spec`` with its relative file read from the folder of the file ``path`` that records
    it, when that folder is not the current one; ``None`` when there is no such other place."""
    at = spec_file_part(spec, key)
    if at is None or path is None or Path(path).parent == Path("."):
        return None
    parts = spec.split(":")
    if not parts[at] or Path(parts[at]).is_absolute():
        return None
    parts[at] = str(Path(path).parent / parts[at])
    return ":".join(parts)


# where ``Pruning.apply`` records ``meta.pruned`` on the model it prunes, as ``prunelimit prune -o``
# records it in the file: the next call counts the set it was pruned with without being told again
PRUNED_ATTRIBUTE = "_prunelimit_pruned"


def recorded_meta(model: object) -> dict[str, Any]:
    """``{"pruned": ...}`` that ``Pruning.apply`` recorded on ``model`` (kept when the module is
    pickled whole), else ``{}``: what a pruned file's ``meta`` holds, for ``resolve_selection``
    and ``export`` to read."""
    record = getattr(model, PRUNED_ATTRIBUTE, None)
    return {"pruned": dict(record)} if isinstance(record, dict) else {}


def checkpoint_meta(raw: RawCheckpoint, model_spec: str | None) -> dict[str, Any]:
    """``raw``'s meta; for a whole module read as itself (no ``model_spec``), with what
    ``Pruning.apply`` recorded on it first, as the library reads the module in memory."""
    if raw.module is not None and model_spec is None:
        return {**recorded_meta(raw.module), **raw.meta}
    return raw.meta


def wrapped_module(model: nn.Module) -> nn.Module:
    """The module a wrapper runs (``nn.DataParallel``'s and ``DistributedDataParallel``'s
    ``module``, ``torch.compile``'s ``_orig_mod``, nested in any order), else ``model``: the
    wrappers share its parameters, and the command line reads a wrapper's saved state dict
    with their prefixes stripped, so this is the model the library reads. Run through the
    wrapper, a compiled backward cannot be differentiated again (Hessian products) and
    ``torch.func`` refuses ``DataParallel`` (Hyperflux's gates)."""
    # torch._dynamo is imported by torch.compile: a model compiled in this process has loaded it
    dynamo = sys.modules.get("torch._dynamo.eval_frame")
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif dynamo is not None and isinstance(model, dynamo.OptimizedModule):
            model = model._orig_mod
        else:
            return model


def compiled_modules(model: nn.Module) -> list[str]:
    """Names of the ``torch.compile``'d modules within ``model`` (one compiled whole is read as
    the module it wraps: :func:`wrapped_module`): a backward compiled by AOT autograd (the
    default backend's) cannot be differentiated again, which every Hessian-vector product needs."""
    dynamo = sys.modules.get("torch._dynamo.eval_frame")  # loaded by any torch.compile in this process
    if dynamo is None:
        return []
    return [name for name, module in model.named_modules() if isinstance(module, dynamo.OptimizedModule)]


def load_model(
    checkpoint: str | Path,
    model_spec: str | None = None,
    trust_pickle: bool = False,
    device: torch.device | str = "cpu",
) -> LoadedModel:
    """Load ``checkpoint``; ``model_spec`` builds the architecture (it overrides the file's)."""
    raw = read_checkpoint(checkpoint, trust_pickle=trust_pickle)
    state, masks = state_and_masks(raw)
    spec = model_spec or recorded_spec(raw.model_spec, "model", raw.path)
    if model_spec is None and spec is not None and imports_code(spec) and not trust_pickle:
        raise InputError(
            f"checkpoint {raw.path} names the model factory {spec!r}, which would import and run code; "
            f"if you trust it, pass --model {spec} (or --trust-pickle)"
        )
    meta = checkpoint_meta(raw, model_spec)
    if raw.module is not None and model_spec is None:
        model, factory_pruned = _prune_made_permanent(raw.module), []  # the file holds the masks it pruned
        dtypes = widened_to_float32(model)  # as its factory's model: float16 held and computed in float32
    else:
        if spec is None:
            raise UsageError(
                f"checkpoint {raw.path} holds only weights; pass --model SPEC to say which "
                "architecture they belong to (e.g. --model mlp:64,32,10)"
            )
        recorded_in = raw.path if model_spec is None else None
        if not imports_code(spec):  # shapes first, on the meta device: a spec may ask for gigabytes
            expected = build_spec(spec, recorded_in, device="meta").state_dict(keep_vars=True)
            state, masks = unwrapped(expected, state, masks)
            state = with_ties(expected, state, str(raw.path))
            check_fits(expected, state, str(raw.path), model_fix(state, spec, raw.path))
        model, factory_pruned = built_spec(spec, recorded_in)
        expected = model.state_dict(keep_vars=True)
        state, masks = unwrapped(expected, state, masks)
        state = with_ties(expected, state, str(raw.path))
        load_state_strict(model, state, str(raw.path), model_fix(state, spec, raw.path))
        dtypes = {**widened_to_float32(model), **other_float_types(model.state_dict(), state)}
    check_finite_weights(model, str(raw.path))
    model.to(device).eval()
    masks = masks_by_parameter(model, masks)
    names = parameter_names(model)  # a tied weight the factory pruned in each module: masked under its own name
    unmasked = list(dict.fromkeys(names.get(name, name) for name in factory_pruned if names.get(name, name) not in masks))
    notes = training_notes(raw) + ((
        f"model {spec} prunes {listed(unmasked)} with torch.nn.utils.prune, but checkpoint {raw.path} holds no mask "
        "for them: they are read as the file holds them, with no mask; save the pruned model's own state_dict "
        "(weight_orig and weight_mask) to keep its pruning",) if unmasked else ())
    return LoadedModel(model, spec, masks, raw.kind, raw.path, meta, notes, dtypes, raw.weights_from)


# float types a model is analysed and trained in as float32, rounded to them where a run writes it
NARROW_FLOATS = (torch.float16, torch.bfloat16)


def widened_to_float32(model: nn.Module) -> dict[str, torch.dtype]:
    """Widen, in place, ``model``'s float16 and bfloat16 tensors (a ``--model`` factory's
    ``Net().half()``) to float32, as a checkpoint stored in those types loads into a float32
    model: name → the type each had, which a file written from the model stores it back in. The
    factory's model computed in float16 and recorded it (the data read in float16, its report
    refused beside the float32 model's of the same file), and trained in float16 itself."""
    narrow = {name: value.dtype for name, value in model.state_dict().items() if value.dtype in NARROW_FLOATS}
    with torch.no_grad():
        for tensor in narrow_tensors(model):
            tensor.data = tensor.data.float()
    return narrow


def narrow_tensors(model: nn.Module) -> list[torch.Tensor]:
    """``model``'s float16 and bfloat16 parameters and buffers, each once (a tied one is one tensor)."""
    return list({id(t): t for t in (*model.parameters(), *model.buffers()) if t.dtype in NARROW_FLOATS}.values())


def other_float_types(model_state: Mapping[str, Tensor], file_state: Mapping[str, Tensor]) -> dict[str, torch.dtype]:
    """Name → the file's float type, for each tensor the model holds in a wider float type
    (float16, bfloat16, float8 in a float32 model: held exactly, so written back bit for bit;
    a float64 tensor lost its low bits loading, and float64 would only pretend to hold them)."""
    return {k: v.dtype for k, v in file_state.items() if k in model_state and v.is_floating_point()
            and model_state[k].is_floating_point() and v.element_size() < model_state[k].element_size()}


def in_dtypes(state: Mapping[str, Tensor], dtypes: Mapping[str, torch.dtype]) -> dict[str, Tensor]:
    """``state`` with each tensor named in ``dtypes`` in that type; a tied tensor (one storage
    under several keys) is cast once, so it stays one tensor and the file keeps the tie."""
    cast: dict[tuple, Tensor] = {}
    for key, value in state.items():
        if key in dtypes and storage_key(value) not in cast:
            cast[storage_key(value)] = value.to(dtypes[key])
    return {k: cast[storage_key(v)] if k in dtypes else v for k, v in state.items()}


def round_to_dtypes(model: nn.Module, dtypes: Mapping[str, torch.dtype]) -> None:
    """Round, in place, each tensor of ``model`` named in ``dtypes`` to a value of that type:
    a model fine-tuned in float32 then holds what its file in those types will, so what is
    evaluated and counted is what is saved."""
    state = model.state_dict()
    with torch.no_grad():
        for name, dtype in dtypes.items():
            state[name].copy_(state[name].to(dtype))


def parameter_names(model: nn.Module) -> dict[str, str]:
    """Every name a parameter of ``model`` goes by → its own, the one ``named_parameters`` gives
    it: a tied weight (one Parameter in several modules) goes by each module's name."""
    own = {id(p): name for name, p in model.named_parameters()}
    return {name: own[id(p)] for name, p in model.named_parameters(remove_duplicate=False)}


def masks_by_parameter(model: nn.Module, masks: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``masks`` under the names of the parameters they mask: torch pruning of each module that
    holds a tied weight masks it under each of its names, and the mask goes under its own,
    keeping what every one keeps (masks keyed by another name prune nothing of the model)."""
    names, merged = parameter_names(model), {}
    for key, mask in masks.items():
        name = names.get(key, key)
        merged[name] = merged[name] & mask if name in merged else mask
    return merged


def masks_by_every_name(model: nn.Module, masks: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``masks`` (by parameter name) under every name each masked parameter goes by, as torch
    pruning of each module that holds a tied weight keys it."""
    return {alias: masks[name] for alias, name in parameter_names(model).items() if name in masks}


def build_spec(spec: str, recorded_in: Path | None, device: str | None = None) -> nn.Module:
    """``build_model(spec)``; a spec read from the file ``recorded_in`` that is not valid is that
    file's fault, not a usage error (the user typed no such spec): exit 3 naming the file. A
    factory that prunes with ``torch.nn.utils.prune`` gives the model plain weights: the file's
    ``weight_orig``/``weight_mask`` are read as a weight and its mask, so its keys were refused as
    missing, and the file's masks are what the model holds pruned."""
    return built_spec(spec, recorded_in, device)[0]


def built_spec(spec: str, recorded_in: Path | None, device: str | None = None) -> tuple[nn.Module, list[str]]:
    """``build_spec``'s model and the names of the parameters its factory pruned with
    ``torch.nn.utils.prune`` (the file is to hold their masks)."""
    from prunelimit.pruning.masks import torch_pruned

    try:
        model = build_model(spec, device=device)
    except UsageError as exc:
        if recorded_in is None:
            raise
        raise InputError(f"checkpoint {recorded_in}: its recorded model spec is not valid ({exc}); "
                         "pass --model SPEC yourself") from None
    pruned = [f"{module}.{attribute}" if module else attribute for module, attribute in torch_pruned(model)]
    return _prune_made_permanent(model), pruned


def unwrapped(expected: Mapping[str, Tensor], state: dict[str, Tensor],
              masks: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``state`` and ``masks`` without the one prefix every key of the file carries, when the
    rest is exactly the model's keys: a LightningModule (or any wrapper) saves its network
    under its attribute name (``model.0.weight``). Anything short of an exact match is left
    for ``check_fits`` to name."""
    heads = {key.partition(".")[0] for key in state}
    if _names_all(expected, state) or len(heads) != 1 or not all("." in key for key in state):
        return state, masks
    prefix = heads.pop() + "."
    stripped = {key.removeprefix(prefix): value for key, value in state.items()}
    if not _names_all(expected, stripped):
        return state, masks
    return stripped, {key.removeprefix(prefix): value for key, value in masks.items()}


def _names_all(expected: Mapping[str, Tensor], state: Mapping[str, Tensor]) -> bool:
    """``state`` holds exactly the keys of ``expected``, a tied tensor under at least one of its names."""
    return state.keys() <= expected.keys() and all(any(k in state for k in keys) for keys in _tensors_keys(expected))


def _tensors_keys(expected: Mapping[str, Tensor]) -> list[list[str]]:
    """The keys of ``expected`` (a ``state_dict(keep_vars=True)``) grouped by the tensor they
    name: a tied weight (one Parameter in two modules) is one group of several keys."""
    groups: dict[int, list[str]] = {}
    for key, value in expected.items():
        groups.setdefault(id(value), []).append(key)
    return list(groups.values())


def with_ties(expected: Mapping[str, Tensor], state: dict[str, Tensor], source: str) -> dict[str, Tensor]:
    """``state`` with a tied weight of the model (``expected``, a
    ``state_dict(keep_vars=True)``) that the file stores under one of its names only
    (safetensors' ``save_model`` and Hugging Face files keep one) under all of them. A tied
    weight stored under two names with different values is refused: the model holds one
    tensor, and loading would keep whichever came last."""
    state = dict(state)
    for keys in _tensors_keys(expected):
        stored = [k for k in keys if k in state]
        if len(keys) == 1 or not stored:  # untied, or missing: check_fits names it
            continue
        first = state[stored[0]]
        other = next((k for k in stored[1:] if state[k].shape == first.shape and not torch.equal(state[k], first)), None)
        if other is not None:
            raise InputError(f"checkpoint {source}: {stored[0]!r} and {other!r} are one tied tensor in the model, but "
                             "the file holds different values under them; save the tied model's own state_dict")
        for key in keys:
            state.setdefault(key, first)
    return state


def _prune_made_permanent(model: nn.Module) -> nn.Module:
    """``model`` with every ``torch.nn.utils.prune`` reparametrisation made permanent (its masks
    are already read from the state dict). Left in place, ``weight`` is no parameter, so
    nothing counts as prunable, and every forward multiplies by the mask again, which
    would also slow the dense side of ``export --bench``."""
    from torch.nn.utils import prune

    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return model


def load_state_strict(model: nn.Module, state: dict[str, Tensor], source: str, fix: str = "") -> None:
    """``load_state_dict(strict=True)`` with a short message naming what does not match."""
    check_fits(model.state_dict(), state, source, fix)
    model.load_state_dict(state, strict=True)


def model_fix(state: Mapping[str, Tensor], spec: str, path: Path | None) -> str:
    """What to change when ``state`` (of the file ``path``) has other keys or shapes than model
    ``spec``'s: the other shards, when the file is one shard of several by its name (it holds
    part of the weights); the zoo MLP its shapes are, where they are one's (the spec was
    mistyped); else the model. ``path`` ``None``: weights in memory, no file name to read."""
    shard = None if path is None else shard_of(path)
    if shard is not None:
        return f"by its name it is shard {shard[0]} of {shard[1]}; {MERGE_SHARDS}"
    sizes = mlp_sizes(state)
    typed = f"mlp:{','.join(map(str, sizes))}" if sizes else None
    if typed is not None and typed != spec:
        return f"its weights are an MLP's, {option('model', typed)}"
    return said("check --model (the architecture of the weights)", "check the model (the architecture of the weights)")


def mlp_sizes(state: Mapping[str, Tensor]) -> list[int] | None:
    """The layer sizes of the zoo's ``mlp`` (keys ``0.``, ``2.``, … of Linear layers with
    biases, each taking the last one's outputs) whose weights ``state`` holds, else None."""
    count = len(state) // 2
    weights = [state.get(f"{2 * i}.weight") for i in range(count)]
    biases = [state.get(f"{2 * i}.bias") for i in range(count)]
    if count == 0 or len(state) != 2 * count or any(w is None or w.dim() != 2 for w in weights) \
            or any(b is None or b.shape != (w.shape[0],) for w, b in zip(weights, biases)):
        return None
    if any(w.shape[1] != before.shape[0] for before, w in zip(weights, weights[1:])):
        return None
    return [weights[0].shape[1], *(w.shape[0] for w in weights)]


def check_fits(expected: dict[str, Tensor], state: dict[str, Tensor], source: str, fix: str = "") -> None:
    """Same keys and shapes in the model's state (``expected``, e.g. on meta) and the file's, and
    real numbers where the model holds them; ``fix`` says what to change for other keys or shapes."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if wrong:  # which shape is whose, said once: the ones after read alike
        wrong[0] = wrong[0].replace(" vs ", " in the file vs ", 1) + " in the model"
    # integers in a float tensor: a quantized export (its scale is elsewhere) or not weights at all
    integral = [f"{k} ({str(state[k].dtype).removeprefix('torch.')})" for k, v in expected.items()
                if k in state and v.is_floating_point() and not state[k].is_floating_point()]
    if missing or unexpected or wrong or integral:
        parts = []
        if missing:
            parts.append(f"missing keys {listed(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {listed(unexpected)}")
        if wrong:
            parts.append(f"shape mismatch {listed(wrong)}")
        if integral:
            parts.append(f"integer or boolean values for the float tensors {listed(integral)}: save the float weights "
                         "(dequantize a quantized model first)")
        prefix = _wrapper_prefix(missing, unexpected)
        if prefix:
            parts.append(f"the model's weights are under {prefix!r} beside other modules: save "
                         f"that submodule's state_dict alone")
        elif fix and (missing or unexpected or wrong):
            parts.append(fix)
        raise InputError(f"checkpoint {source} does not fit the model: " + "; ".join(parts))


def _wrapper_prefix(missing: list[str], unexpected: list[str]) -> str | None:
    """The prefix under which the file holds every missing key (a wrapper that also saved a
    loss or a second network), if there is one."""
    keys = set(unexpected)
    candidates = sorted({key[: -len(missing[0])] for key in keys if missing and key.endswith("." + missing[0])})
    return next((prefix for prefix in candidates if all(prefix + key in keys for key in missing)), None)


def check_finite_weights(model: nn.Module, source: str) -> None:
    """Refuse NaN/Inf weights up front, naming the tensor (they would poison every number)."""
    for name, value in model.state_dict().items():
        if not value.is_floating_point():
            continue
        finite = torch.isfinite(value.float() if value.element_size() == 1 else value)  # no float8 kernel
        if not finite.all():
            bad = int((~finite).sum())
            raise InputError(
                f"checkpoint {source}: tensor {name!r} has {bad} NaN/Inf value(s); the weights are corrupt "
                "(re-export them, or train with a lower learning rate)"
            )
