"""A deep copy of a user's model, also of one that holds tensors computed from its parameters."""

from __future__ import annotations

import copy

from torch import Tensor, nn


def clone_model(model: nn.Module) -> nn.Module:
    """``copy.deepcopy(model)``, each tensor a module keeps as a plain attribute with a
    gradient history copied detached. The older ``nn.utils.weight_norm`` and
    ``nn.utils.spectral_norm`` keep their ``weight`` so (a forward pre-hook sets it from
    ``weight_g``/``weight_v`` or ``weight_orig``), a non-leaf after any pass with gradients,
    and ``deepcopy`` refuses non-leaf tensors; the copy's hook recomputes it from the copied
    parameters on its first pass."""
    memo = {id(value): value.detach().clone() for module in model.modules() for value in vars(module).values()
            if isinstance(value, Tensor) and value.grad_fn is not None}
    return copy.deepcopy(model, memo)
