"""A deep copy of a user's model, also of one that holds tensors computed from its parameters."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from prunelimit.errors import InputError


def clone_model(model: nn.Module) -> nn.Module:
    """``copy.deepcopy(model)``, each tensor a module keeps as a plain attribute with a
    gradient history copied detached. The older ``nn.utils.weight_norm`` and
    ``nn.utils.spectral_norm`` keep their ``weight`` so (a forward pre-hook sets it from
    ``weight_g``/``weight_v`` or ``weight_orig``), a non-leaf after any pass with gradients,
    and ``deepcopy`` refuses non-leaf tensors; the copy's hook recomputes it from the copied
    parameters on its first pass.

    ``InputError`` where a TorchScript module copies through a ``__getstate__``/``__setstate__``
    of its own that leaves out or changes a value it holds: torch copies it by them, and the
    copy failed inside torch or lost a parameter (an internal error, exit 5) or computed with
    another value than the model (an eager module's copy fails in its own ``forward``, naming its line)."""
    memo = {id(value): value.detach().clone() for module in model.modules() for value in vars(module).values()
            if isinstance(value, Tensor) and value.grad_fn is not None}
    scripted = [(name, module) for name, module in model.named_modules() if isinstance(module, torch.jit.ScriptModule)]
    try:
        copied = copy.deepcopy(model, memo)
    except Exception as exc:
        if not scripted:
            raise
        raise _not_copied(scripted, f"its copy failed in torch: {type(exc).__name__}") from None
    copies = dict(copied.named_modules())
    for name, module in scripted:
        lost = _lost(module, copies.get(name))
        if lost is not None:
            raise _not_copied([(name, module)], f"its copy {lost}")
    return copied


def _lost(module: Any, copied: Any) -> str | None:
    """What the copy of TorchScript ``module`` lacks or holds otherwise (its attributes as compiled:
    parameters, buffers, submodules and plain values), in words; None where it holds them all."""
    if copied is None:
        return "is missing"
    concrete = getattr(module, "_concrete_type", None)  # a traced module of an older torch has none
    for key in sorted(concrete.get_attributes()) if concrete is not None else ():
        value, other = module._c.getattr(key), copied._c.getattr(key)
        if value is None:
            continue
        if other is None:
            return f"leaves out {key!r}"
        if not _same(value, other):
            return f"holds another {key!r}"
    return None


def _same(value: Any, other: Any) -> bool:
    """Whether a copied attribute holds ``value``'s content (a tensor its values, a plain value by ``==``),
    NaN where it held NaN."""
    try:
        if isinstance(value, Tensor):
            return (isinstance(other, Tensor) and value.shape == other.shape and value.dtype == other.dtype
                    and bool(torch.isclose(value, other, rtol=0, atol=0, equal_nan=True).all()))
        if isinstance(value, float) and math.isnan(value):
            return isinstance(other, float) and math.isnan(other)
        return bool(value == other)
    except Exception:  # a value torch cannot compare (a sparse tensor, an object of TorchScript's own): not compared
        return True


def _not_copied(modules: list[tuple[str, Any]], what: str) -> InputError:
    """The error of a TorchScript module that does not copy whole, naming where its state is defined."""
    name, module = next(((n, m) for n, m in modules if _custom_state(m)), modules[0])
    where = f"TorchScript module {name!r}" if name else "the TorchScript model"
    return InputError(f"{where} cannot be copied for the curvature's float64 products ({what}): its "
                      "__getstate__/__setstate__ must keep every parameter, submodule and value it holds")


def _custom_state(module: Any) -> bool:
    """Whether a TorchScript module compiles a ``__getstate__`` of its own."""
    return "__getstate__" in module._c._method_names()
