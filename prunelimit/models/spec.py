"""Model specs: built-in zoo, ``mlp:IN,H1,...,OUT``, torchvision and user factories.

The forms are listed in docs/guide.md, "Your own model".
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from prunelimit.errors import InputError, PrunelimitError, UsageError
from prunelimit.io.outputs import names_a_file
from prunelimit.errors import unknown_name
from prunelimit.limits import MAX_MLP_LAYERS
from prunelimit.models.zoo import ZOO, mlp
from prunelimit.specs import USER_CODE_ERRORS, Spec, parse_spec, resolve_callable, user_failure, user_module_name
from prunelimit.validate import read_count, read_number

MODEL_FORMS = (
    "a built-in name (" + ", ".join(ZOO) + "), mlp:IN,H1,...,OUT, torchvision:NAME, "
    "path/to/file.py:factory or package.module:factory, each optionally followed by :k=v,..."
)


def build_model(text: str, device: str | None = None) -> nn.Module:
    """Build an untrained model from its spec string.

    ``device="meta"`` builds shapes only (no memory, no random draws), to compare a spec with
    a checkpoint before allocating (callers keep user factories off it: their code may not
    run on meta tensors).
    """
    with torch.device(device) if device else contextlib.nullcontext():
        return _build(text, device)


def _check_has_values(model: nn.Module, text: str) -> None:
    """A factory's model whose tensors are on the meta device holds no values: loading a
    checkpoint into it does nothing, and the first number read from it fails deep inside."""
    meta = next((name for name, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta), None)
    if meta is not None:
        raise InputError(f"{text}: the factory returned a model whose tensor {meta!r} is on the meta device "
                         "(it holds no values); build the model on the CPU")


def _build(text: str, device: str | None) -> nn.Module:
    spec = parse_spec(text, "model")
    try:
        if spec.head == "mlp":
            if len(spec.args) != 1:
                raise UsageError(f"bad model spec {text!r}: write mlp:IN,H1,...,OUT (e.g. mlp:64,32,10)")
            sizes = [_mlp_size(text, at, part) for at, part in enumerate(spec.args[0].split(","), 1)]
            if len(sizes) < 2 or min(sizes) < 1:
                got = f", got {min(sizes)}" if min(sizes) < 1 else ""
                raise UsageError(f"bad model spec {text!r}: mlp needs ≥ 2 positive sizes{got}")
            if len(sizes) > MAX_MLP_LAYERS + 1:
                raise UsageError(f"bad model spec {text!r}: over {MAX_MLP_LAYERS} layers")
            if spec.kwargs:
                raise UsageError(f"bad model spec {text!r}: mlp takes no k=v overrides")
            return mlp(sizes)
        if spec.head in ZOO:
            _no_args(spec)
            model = ZOO[spec.head](**_with_numbers(ZOO[spec.head], spec))
            empty = [name for name, p in model.named_parameters() if p.numel() == 0]
            if empty:  # e.g. num_classes=0: torch builds it, every later step would fail obscurely
                raise UsageError(f"bad model spec {text!r}: parameter {empty[0]} has no entries (a size is 0)")
            return model
        if spec.head == "torchvision":
            return _torchvision_model(spec)
        if not spec.args and not spec.head.endswith(".py") and names_a_file(text):
            # read as a package.module below, it asked for ':factory' after a checkpoint's name
            raise UsageError(f"bad model spec {text!r}: that names a checkpoint, not an architecture; give it as the "
                             "CHECKPOINT argument and --model as an architecture (mlp:64,32,10, file.py:factory, …); "
                             "train builds a fresh model: to train a checkpoint further, use prune CHECKPOINT --ratio 0 "
                             "--finetune-epochs N")
        if spec.head.endswith(".py") or "." in spec.head:
            if len(spec.args) != 1:
                raise UsageError(f"bad model spec {text!r}: write {spec.head}:factory[:k=v,...]")
            factory = resolve_callable(spec.head, spec.args[0], "model", "a factory(**k=v) returning an nn.Module")
            _check_factory_call(factory, spec)
            kwargs = _with_numbers(factory, spec)  # before the call: a spec's fault is no failure of the factory
            try:
                model = factory(**kwargs)
            except USER_CODE_ERRORS as exc:  # the user's code: any failure means the model cannot be built
                raise InputError(f"model factory {text!r} failed: {user_failure(exc)}") from None
            if not isinstance(model, nn.Module):
                raise InputError(f"{text}: the factory returned {type(model).__name__}, not an nn.Module")
            if torch.device(device or "cpu").type != "meta":
                _check_has_values(model, text)
            return model
    except PrunelimitError:  # already says what is wrong (a UsageError is a ValueError too)
        raise
    except (TypeError, ValueError, RuntimeError) as exc:  # unknown keyword, negative size, too large to allocate
        raise UsageError(f"bad model spec {text!r}: {_first(exc)}") from None
    if spec.args and Path(spec.head + ".py").is_file():  # a module beside the user, named without .py
        raise UsageError(f"unknown model {spec.head!r}; for the factory in {spec.head}.py write "
                         f"{spec.head}.py{spec.text.strip()[len(spec.head):]}")
    raise UsageError(f"unknown model {spec.head!r}; {_nearest_model(spec.head)}")


def _nearest_model(name: str) -> str:
    """What follows "unknown model 'NAME'": a built-in CIFAR variant of a name torchvision also
    builds (resnet18: 'resnet18-cifar', or torchvision's own), else the nearest built-in name (a
    typo), else every form a model takes."""
    cifar = f"{name.lower().replace('_', '-')}-cifar"
    if cifar in ZOO:
        return f"did you mean {cifar!r} (built in, for 32×32 inputs) or torchvision:{name.lower().replace('-', '_')}?"
    return unknown_name(name.lower(), ZOO, f"use {MODEL_FORMS}")


def keyed_spec(text: str) -> str:
    """``text``, a model spec that built the model in this process, as the result cache keys it:
    by the arguments its factory was called with, not their spelling. Each ``k=v`` the factory's
    signature names is keyed as the call read it (``_with_numbers``: ``hidden=8.0`` for an ``int``
    is 8), in the signature's order, and left out where it equals its default in type and value
    (``nets.py:make:hidden=8`` keys as ``nets.py:make`` for ``make(hidden=8)``; ``:a=1:b=2`` as
    ``:b=2:a=1``); an ``mlp:`` by its sizes. The ``k=v`` a factory takes only through ``**kwargs``
    (it may read their order and hold defaults the signature does not show) stay as given, in
    their order, and so does every ``k=v`` of a factory whose signature is not known here: one
    this process has not imported (nothing is imported for a key), a builtin, a wrapper
    (``functools.wraps`` shows the wrapped function's signature, not the defaults it passes)."""
    spec = parse_spec(text, "model")
    if spec.head == "mlp":
        return f"mlp:{','.join(str(read_count(size)) for size in spec.args[0].split(','))}"
    factory = _imported_factory(spec)
    try:
        parameters = inspect.signature(factory, follow_wrapped=False).parameters if factory else None
    except (TypeError, ValueError):  # a builtin or C callable without one
        parameters = None
    if parameters is None:
        return text
    given = dict(spec.kwargs) if spec.head == "torchvision" else _with_numbers(factory, spec)
    by_name = [(name, given[name]) for name, p in parameters.items() if name in given
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    named = {name for name, _ in by_name}
    kept = [(name, value) for name, value in by_name
            if not (type(value) is type(parameters[name].default) and value == parameters[name].default)]
    kept += [(key, value) for key, value in given.items() if key not in named]
    return ":".join((spec.head, *spec.args, *([",".join(f"{k}={v!r}" for k, v in kept)] if kept else [])))


def _imported_factory(spec: Spec) -> Callable[..., Any] | None:
    """The factory that ``spec`` names, as this process imported it to build the model (a
    ``file.py`` by the module its bytes name, so an edited file finds none); ``None`` where none
    was imported: the key imports and runs no code."""
    if spec.head in ZOO:
        return ZOO[spec.head]
    if spec.head == "torchvision":
        models = sys.modules.get("torchvision.models")
        try:
            return models.get_model_builder(spec.args[0]) if models else None
        except ValueError:
            return None
    if spec.head.endswith(".py"):
        path = Path(spec.head)
        module = sys.modules.get(user_module_name(path)) if path.is_file() else None
    else:
        module = sys.modules.get(spec.head)
    return getattr(module, spec.args[0], None) if module is not None and len(spec.args) == 1 else None


def _mlp_size(text: str, at: int, part: str) -> int:
    """The ``at``-th size of an ``mlp:`` spec as a count is read (``300``, ``300.0``, ``3e2``); a
    ``UsageError`` naming it and what to write: ``int`` took ``1_000`` and ``+3`` but not ``3e2``."""
    try:
        return read_count(part)
    except ValueError as exc:
        raise UsageError(f"bad model spec {text!r}: mlp sizes must be integers; size {at}: {exc}") from None


def _with_numbers(factory: Callable[..., Any], spec: Spec) -> dict[str, Any]:
    """``spec``'s ``k=v`` with each value for a parameter ``factory`` annotates ``int`` (or
    ``Optional[int]``) read from its text as a count is read, and ``float`` as a number is
    (``num_classes=1e2`` is 100, ``scale=1_0`` refused): a float reached torch's layers, which
    refused it as "empty(): argument 'size' … must be tuple of ints", ``10.5`` must not be cut
    to 10, and a factory got the text ``1_0`` to fail on."""
    try:
        parameters = _parameters(factory)
    except (TypeError, ValueError):  # no signature (a builtin or C callable): as given
        return dict(spec.kwargs)
    kwargs = dict(spec.kwargs)
    for key in spec.kwargs:
        read = _number_reader(parameters[key].annotation) if key in parameters else None
        if read is None:
            continue
        try:
            kwargs[key] = read(spec.written.get(key, spec.kwargs[key]))
        except ValueError as exc:
            raise UsageError(f"bad model spec {spec.text!r}: {key}: {exc}") from None
    return kwargs


def _parameters(factory: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    """``factory``'s parameters, their annotations resolved; as written (``"int"`` under ``from
    __future__ import annotations``) where one names what its module defines only for a type
    checker (a ``TYPE_CHECKING`` import), which resolving raises on."""
    try:
        return inspect.signature(factory, eval_str=True).parameters
    except (NameError, AttributeError, SyntaxError):
        return inspect.signature(factory).parameters


def _number_reader(annotation: Any) -> Callable[[Any], Any] | None:
    """The reader of a value for a parameter annotated ``annotation``: ``read_count`` for an
    ``int``, ``read_number`` for a ``float`` (either or ``None``, or their names left unresolved),
    else none (the value as parsed)."""
    kinds = set(typing.get_args(annotation)) - {type(None)} \
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) else {annotation}
    readers = {int: read_count, "int": read_count, float: read_number, "float": read_number}
    return readers.get(kinds.pop()) if len(kinds) == 1 else None


def _check_factory_call(factory, spec) -> None:
    """A factory that cannot take the spec's ``k=v`` (an argument it needs and the spec lacks,
    one it has no parameter for) is a spec to fix (exit 2), named with its parameters: its own
    TypeError said "failed" (exit 3) and not that the spec gives them."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable without one: its call says what is wrong
        return
    try:
        signature.bind(**spec.kwargs)
    except TypeError as exc:
        given = ",".join(f"{k}={v}" for k, v in spec.kwargs.items()) or "no k=v"
        raise UsageError(f"bad model spec {spec.text!r}: {spec.args[0]}{signature} cannot be called with {given} "
                         f"({exc}); give its arguments in the spec, {spec.head}:{spec.args[0]}:k=v,...") from None


def imports_code(text: str) -> bool:
    """True for ``file.py:factory`` / ``package.module:factory`` specs, which import and call code.

    A spec read from a stranger's checkpoint must not do that unasked (docs/guide.md: code runs
    only with ``--trust-pickle`` or a ``--model`` the user typed).
    """
    head = text.strip().split(":", 1)[0] if isinstance(text, str) else ""
    return head.endswith(".py") or "." in head


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _no_args(spec) -> None:
    if spec.args:
        raise UsageError(f"bad model spec {spec.text!r}: {spec.head} takes only k=v overrides")


# torchvision builder arguments that fetch pretrained weights from the internet
_DOWNLOADING = ("weights", "pretrained")


def _torchvision_model(spec) -> nn.Module:
    """The untrained architecture: nothing is downloaded (a checkpoint supplies the weights, and
    the spec may come from a stranger's file). Detection and segmentation builders fetch an
    ImageNet backbone unless ``weights_backbone=None`` is passed, so it always is."""
    if len(spec.args) != 1:
        raise UsageError(f"bad model spec {spec.text!r}: write torchvision:NAME[:k=v,...]")
    fetching = sorted(k for k in spec.kwargs if k.startswith(_DOWNLOADING))
    if fetching:
        raise UsageError(f"bad model spec {spec.text!r}: {fetching[0]}= would download pretrained weights; "
                         "prunelimit builds the untrained architecture (the checkpoint holds the weights)")
    try:
        import torchvision.models as tvm
    except Exception as exc:  # torchvision may raise RuntimeError on a mismatched torch
        raise InputError(
            f"torchvision is not usable ({type(exc).__name__}); install the extra: "
            "pip install 'prunelimit[vision]'"
        ) from None
    try:
        builder = tvm.get_model_builder(spec.args[0])
    except ValueError as exc:
        raise UsageError(f"bad model spec {spec.text!r}: {exc}") from None
    untrained = {k: None for k in inspect.signature(builder).parameters if k.startswith("weights")}
    return builder(**untrained, **spec.kwargs)
