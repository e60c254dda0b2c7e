"""Loss specs: ``ce`` (default), ``mse``, or a user function ``file.py:fn`` / ``module:fn``."""

from __future__ import annotations

from prunelimit.data.batches import LossFn, cross_entropy_loss, mse_loss
from prunelimit.errors import UsageError
from prunelimit.specs import parse_spec, resolve_callable

BUILTIN_LOSSES: dict[str, LossFn] = {"ce": cross_entropy_loss, "mse": mse_loss}


def resolve_loss(text: str) -> LossFn:
    """Return ``fn(model, batch) -> mean loss`` for a loss spec."""
    if text in BUILTIN_LOSSES:
        return BUILTIN_LOSSES[text]
    spec = parse_spec(text, "loss")
    if len(spec.args) == 1 and (spec.head.endswith(".py") or "." in spec.head):
        return resolve_callable(spec.head, spec.args[0], "loss")
    raise UsageError(f"unknown loss {text!r}; use ce, mse, path/to/file.py:fn or package.module:fn")
