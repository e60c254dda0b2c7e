"""The loss tolerance ε (docs/theory.md): spread of the dense model's per-batch losses.

ε is the population standard deviation (ddof = 0, as ``np.std``; the reference code's
choice in Zhang et al., NeurIPS 2024) of the per-batch mean losses over the analysis data, taken
in the data's fixed order with the model in eval mode.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from prunelimit.data.batches import Batches, LossFn
from prunelimit.device import ieee_float32
from prunelimit.errors import NumericalError, OptionError, UsageError, option


@torch.no_grad()
@ieee_float32()  # ε is of the model's IEEE losses, whatever TF32/bfloat16 switches its products run at
def batch_losses(model: nn.Module, batches: Batches, loss_fn: LossFn) -> np.ndarray:
    """Mean loss of every batch, in the given order, in eval mode without gradients, at IEEE
    float32 (``device.ieee_float32``).

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        losses = np.array([float(loss_fn(model, batch)) for batch in batches], dtype=np.float64)
    finally:
        model.train(was_training)
    return finite_batch_losses(losses)


def finite_batch_losses(losses: np.ndarray) -> np.ndarray:
    """``losses`` (per-batch, in data order), refused where one is NaN or infinite: no ε
    (nor loss) stands on them."""
    if not np.all(np.isfinite(losses)):
        bad = int(np.flatnonzero(~np.isfinite(losses))[0])
        raise NumericalError(
            f"loss of analysis batch {bad} is not finite; check the checkpoint and the data"
        )
    return losses


# Per-batch losses whose spread is within this many float32 steps of their size are equal:
# the same losses summed in float32 (SLQ's products, the measured search's passes) differ by
# rounding alone (~1e-8 relative between the batch means of a constant loss), in float64 not at
# all, so a spread this small is no tolerance, and every path must refuse it alike.
ROUNDING_STEPS = 64


def loss_rounding(loss: float) -> float:
    """The spread that is rounding alone in losses of size ``|loss|`` (``ROUNDING_STEPS``
    float32 steps): no tolerance, derived or given."""
    return ROUNDING_STEPS * float(np.finfo(np.float32).eps) * abs(loss)


def larger_epsilon() -> str:
    """The fix for an ε at the loss's rounding, in its reader's words."""
    return f"give a larger {option('epsilon')}, a loss change that matters"


ROUNDED_EPSILON = " is 0 up to rounding: "  # how ``rounding_epsilon_warning`` reads; its remedy ends it


def rounding_epsilon_warning(epsilon: float, loss: float) -> str | None:
    """The warning for a given ε within the rounding of the dense ``loss`` (:func:`loss_rounding`),
    which :func:`epsilon_from_losses` refuses as a derived ε: every path that measures or
    predicts against L + ε says it alike; ``None`` for an ε above it."""
    floor = loss_rounding(loss)
    if epsilon > floor:
        return None
    return (f"{option('epsilon', epsilon)}{ROUNDED_EPSILON}a change of the loss {loss:.4g} below about "
            f"{floor:.2g} ({ROUNDING_STEPS} float32 steps) is rounding, so L + ε is L and any change pruning makes "
            f"reads as past it; {larger_epsilon()}")


def epsilon_from_losses(losses: Sequence[float] | np.ndarray) -> float:
    """ε = population standard deviation (ddof = 0) of the per-batch losses.

    Raises OptionError (a ValueError) naming ``epsilon`` when it cannot define a tolerance: fewer than two batches, or all
    losses equal (ε = 0 would make every direction infinitely sharp), up to float32 rounding
    (``ROUNDING_STEPS``), whatever precision the losses were computed in.
    """
    arr = np.asarray(losses, dtype=np.float64)
    require_batches(arr.size if arr.ndim == 1 else 0)
    eps = float(np.std(arr))
    if not eps > loss_rounding(float(np.max(np.abs(arr)))):
        raise OptionError("epsilon", "all per-batch losses are equal (up to rounding), so {0} would be 0; "
                                     "give {0} explicitly")
    return eps


def require_batches(count: int, samples: int | None = None, cut: bool = True) -> None:
    """Refuse (OptionError naming ``epsilon``) fewer than two analysis batches, from which no ε
    can be derived: checked before any work where the batch count is known. ``samples``, when
    known, says whether a smaller batch size can help at all (not with one sample); ``cut``
    whether the batch size cuts the data (not the batches a library caller gives)."""
    if count < 2:
        held = "" if samples is None else f" (the data holds {samples} sample{'s' if samples != 1 else ''})"
        fix = "use more data" if samples is not None and samples < 2 else "use a smaller {1}" if cut else \
            "data is given in batches, which {1} does not cut: give 2 or more (a DataLoader's {1}),"
        raise OptionError(
            "epsilon",
            f"{{0}} from per-batch losses needs at least 2 analysis batches, got {count}{held}; "
            f"{fix} or give {{0}} explicitly",
            "batch_size",
        )


def mean_loss(batch_losses: Sequence[float] | np.ndarray, sizes: Sequence[int] | np.ndarray) -> float:
    """Mean loss over all samples: per-batch mean losses weighted by batch size."""
    losses = np.asarray(batch_losses, dtype=np.float64)
    weights = np.asarray(sizes, dtype=np.float64)
    if losses.shape != weights.shape or losses.size == 0:
        raise UsageError(
            f"need one size per batch loss, got {losses.size} losses and {weights.size} sizes"
        )
    return float(np.dot(losses, weights) / weights.sum())
