"""A model's activation checkpointing (``torch.utils.checkpoint``), as prunelimit's gradients meet it.

The non-reentrant form gives the gradients and Hessian of the same function. The reentrant
form (``use_reentrant=True``) does not: ``torch.autograd.grad`` cannot go through it (a
``RuntimeError``), and a segment none of whose inputs needs a gradient gives the weights
inside it none, with a warning only. The Hessian, the training loop and the gradient
saliencies watch the segments a step runs (:func:`checkpoint_runs`) and refuse those
(:func:`reentrant_checkpoint_error`). They watch the calls, not torch's warning: recording
warnings to find it took from the model's own warnings their once-only display.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from prunelimit.errors import InputError

HVP_REENTRANT = "which Hessian-vector products (torch.autograd.grad) cannot differentiate"


def reentrant_checkpoint_error(why: str = HVP_REENTRANT) -> InputError:
    """The refusal of a reentrant checkpoint segment; ``why``: what it breaks where it ran."""
    return InputError(
        f"the model runs torch.utils.checkpoint with use_reentrant=True, {why}; pass use_reentrant=False to "
        "torch.utils.checkpoint (the same function)"
    )


@contextmanager
def checkpoint_runs() -> Iterator[list[str]]:
    """Yield a list that gets ``"reentrant"`` or ``"non-reentrant"`` for each
    ``torch.utils.checkpoint`` segment run inside: the two names ``checkpoint`` calls them
    through are wrapped for the time (a torch without them is not watched)."""
    import torch.utils.checkpoint as ck

    runs: list[str] = []
    originals = {name: getattr(ck, name) for name in ("CheckpointFunction", "_checkpoint_without_reentrant_generator")
                 if hasattr(ck, name)}

    class _Reentrant:
        @staticmethod
        def apply(*args):
            runs.append("reentrant")
            return originals["CheckpointFunction"].apply(*args)

    def _plain(*args, **kwargs):
        runs.append("non-reentrant")
        return originals["_checkpoint_without_reentrant_generator"](*args, **kwargs)

    shims = {"CheckpointFunction": _Reentrant, "_checkpoint_without_reentrant_generator": _plain}
    for name in originals:
        setattr(ck, name, shims[name])
    try:
        yield runs
    finally:
        for name, original in originals.items():
            setattr(ck, name, original)


@contextmanager
def gradient_checkpoints() -> Iterator[list[str]]:
    """:func:`checkpoint_runs` around a ``torch.autograd.grad`` of the loss, whose
    ``RuntimeError`` where a reentrant segment ran is that segment's refusal. The caller
    refuses the other case, a reentrant run that left a parameter without a gradient."""
    with checkpoint_runs() as runs:
        try:
            yield runs
        except RuntimeError:
            if "reentrant" in runs:
                raise reentrant_checkpoint_error() from None
            raise
