"""The one masked training loop, used by LOMP, masked fine-tuning, IMP, NPLH and Hyperflux.

Each step minimises ``data loss + λ‖w‖₁ + penalty()`` with the caller's optimisers;
keep-masks (parameter name → boolean tensor, ``True`` = kept) hold pruned weights,
their gradients and their optimiser buffers at exactly zero, so a masked run never
revives a weight. Learning rates follow ``torch.optim.lr_scheduler`` schedulers stepped
once per epoch or per iteration; :func:`factor_schedule` builds the closed-form kind
(``LambdaLR``), whose whole state is the step counter, so a resumed run continues
bit-for-bit. The optimisers are the caller's, so their state (momentum, Adam moments)
carries over between calls: IMP starts a fresh one per level, NPLH keeps one across
rounds, Hyperflux runs its pruning and regrowth phases on the same pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from prunelimit.data.batches import Batch, LossFn
from prunelimit.errors import NumericalError, UsageError, said
from prunelimit.models.activation_checkpointing import checkpoint_runs, reentrant_checkpoint_error
from prunelimit.models.params import ParamSelection
from prunelimit.pruning.masks import apply_masks, mask_gradients, mask_optimizer_state
from prunelimit.report.safe import listed

ScheduleUnit = Literal["epoch", "iteration"]
# torch gives a reentrant segment none of whose inputs needs a gradient no backward at all, only
# a warning: refused where a reentrant segment ran and a trained weight got no gradient
UNREACHED_REENTRANT = ("on inputs none of which needs a gradient, so the weights inside that segment get no gradient "
                       "and training would leave them as they were")
StepHook = Callable[[int, int], None]


@dataclass(frozen=True)
class EpochLoss:
    """One epoch (or the part of it ``max_steps`` allowed): 0-based index, learning rate
    of the first optimiser at its first step, size-weighted mean data loss, and the
    optimiser steps done by the end of it (counted from epoch 0)."""

    epoch: int
    lr: float
    loss: float
    step: int


EpochHook = Callable[[EpochLoss], None]


@dataclass(frozen=True)
class LoopResult:
    """The epochs run in this call and the optimiser steps they took."""

    epochs: tuple[EpochLoss, ...]
    steps: int


def sgd(model: nn.Module, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False) -> torch.optim.SGD:
    """SGD over the trainable parameters of ``model`` (a ``UsageError`` when it has none)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:  # torch's own "optimizer got an empty parameter list" names no fix
        raise UsageError("the model has no trainable parameters: every one is frozen (requires_grad=False) or "
                         "it has none; make the weights trainable (p.requires_grad_(True))")
    return torch.optim.SGD(trainable, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


def frozen_warnings(named: Sequence[tuple[str, Tensor]], pruned: str, selection: ParamSelection) -> tuple[str, ...]:
    """The warning of prunable weights that are frozen (``requires_grad=False``) in a run that
    prunes and trains: ``pruned`` says how it prunes them with the others, and training never
    updates them, so the ones kept there do not make up for the ones pruned."""
    frozen = [(name, p.numel()) for name, p in named if not p.requires_grad]
    if not frozen:
        return ()
    return (f"{sum(c for _, c in frozen):,} prunable weights ({listed([n for n, _ in frozen])}) are frozen "
            f"(requires_grad=False): {pruned}, but training never updates them, so the weights kept there do not "
            f"make up for the ones pruned; {frozen_fix([n for n, _ in frozen], selection)}",)


def frozen_fix(names: Sequence[str], selection: ParamSelection) -> str:
    """The fix a frozen-weights warning ends with: the set in use (``selection``) with the
    modules that hold the parameters ``names`` excluded too, written as the reader writes it
    (``exclude=('head', '0.base')``; ``exclude=`` alone named no module, a call half written,
    and one naming them alone would drop the excludes given), or making them trainable."""
    modules = tuple(dict.fromkeys(name.rpartition(".")[0] for name in names))
    wider = ParamSelection(selection.include, tuple(dict.fromkeys((*selection.exclude, *modules))))
    return f"{wider.described()} leaves them out, or make them trainable in the model"


def cosine(step: int, period: int, high: float = 1.0, low: float = 0.0) -> float:
    """``low + ½(high − low)(1 + cos(π·step/period))``: the closed form of torch's
    ``CosineAnnealingLR`` (``eta_min = low`` with base ``high``), as a pure function of
    the step so it needs no history."""
    return low + 0.5 * (high - low) * (1.0 + math.cos(math.pi * step / period))


def factor_schedule(optimizer: Optimizer, base_lr: float, factor: Callable[[int], float],
                    start: int = 0) -> LambdaLR:
    """``LambdaLR`` giving ``base_lr · factor(k)`` at schedule step ``k``, positioned at ``start``.

    The base is set explicitly rather than read from the optimiser, whose current
    learning rate is the last one used once its state was loaded for a resume.
    """
    for group in optimizer.param_groups:
        group["initial_lr"] = base_lr
    return LambdaLR(optimizer, factor, last_epoch=start - 1)


def l1_norm(params: Iterable[Tensor]) -> Tensor:
    """``Σ|p|`` over ``params`` (a 0-d tensor carrying the autograd graph)."""
    return sum(p.abs().sum() for p in params)


def require_normalisable(model: nn.Module, sizes: Iterable[int]) -> None:
    """Refuse, before any step, a training batch of one sample for a model with batch
    normalisation: in training it normalises over the batch, and torch refuses one value
    per channel (a ``ValueError`` on that batch, the model trained up to it)."""
    from prunelimit.models.params import module_class

    if any(size == 1 for size in sizes) and any(issubclass(module_class(m), nn.modules.batchnorm._BatchNorm)
                                                for m in model.modules()):
        raise UsageError("a training batch holds one sample, which the model's BatchNorm cannot normalise in training; "
                         f"use a {said('--batch-size', 'batch_size')} that leaves no batch of one")


def train_masked(
    model: nn.Module,
    optimizer: Optimizer,
    loss_fn: LossFn,
    batches: Sequence[Batch] | Callable[[int], Iterable[Batch]],
    *,
    epochs: int,
    start_epoch: int = 0,
    steps_per_epoch: int | None = None,
    max_steps: int | None = None,
    masks: Mapping[str, Tensor] | None = None,
    l1: float = 0.0,
    l1_params: Sequence[Tensor] = (),
    penalty: Callable[[], Tensor] | None = None,
    extra_optimizers: Sequence[Optimizer] = (),
    schedulers: Sequence[LRScheduler] = (),
    schedule_unit: ScheduleUnit = "epoch",
    seed: int | None = None,
    on_step: StepHook | None = None,
    on_epoch: EpochHook | None = None,
) -> LoopResult:
    """Train ``model`` in place for epochs ``start_epoch .. epochs − 1``.

    ``batches`` is a fixed list walked in order every epoch, or a function of the epoch
    index (a reshuffled pass); ``steps_per_epoch`` (default ``len(batches)``) sizes the
    step counter passed to ``on_step(done, total)`` after every step. ``max_steps`` stops
    early (NPLH fine-tunes a few steps). Each step: zero the gradients of ``optimizer``
    and ``extra_optimizers``, back-propagate ``loss_fn(model, batch) + l1·Σ|l1_params| +
    penalty()``, zero masked gradients, step every optimiser, re-apply ``masks`` and zero
    masked optimiser buffers. ``schedulers`` step after each epoch or iteration
    (``schedule_unit``). ``seed`` seeds torch's global generator first (dropout).
    After every epoch the mean data loss must be finite (else :class:`NumericalError`)
    and ``on_epoch`` receives it. The model is left in the train/eval mode it came in.
    A step in which a reentrant checkpoint segment ran and a trained weight got no gradient
    is refused (an ``InputError``): torch gives a segment whose inputs need none no backward.
    """
    if not callable(batches):  # a reshuffled pass is checked by its maker, which knows its sizes
        require_normalisable(model, [batch[0].shape[0] for batch in batches])
    if seed is not None:
        torch.manual_seed(seed)
    per_epoch = len(batches) if steps_per_epoch is None else steps_per_epoch  # type: ignore[arg-type]
    total = epochs * per_epoch if max_steps is None else max_steps
    optimizers = (optimizer, *extra_optimizers)
    was_training = model.training
    if masks is not None:
        apply_masks(model, masks)
    step, records = start_epoch * per_epoch, []
    for epoch in range(start_epoch, epochs):
        if step == max_steps:
            break
        model.train()
        summed = torch.zeros((), dtype=torch.float64)
        seen, lr = 0, optimizer.param_groups[0]["lr"]
        for batch in batches(epoch) if callable(batches) else batches:
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            with checkpoint_runs() as segments:
                data_loss = loss_fn(model, batch)
                loss = data_loss + l1 * l1_norm(l1_params) if l1 else data_loss
                if penalty is not None:
                    loss = loss + penalty()
                loss.backward()
            if "reentrant" in segments and any(p.grad is None for group in optimizer.param_groups
                                               for p in group["params"]):
                raise reentrant_checkpoint_error(UNREACHED_REENTRANT)
            if masks is not None:
                mask_gradients(model, masks)
            for opt in optimizers:
                opt.step()
            if masks is not None:
                apply_masks(model, masks)
                mask_optimizer_state(optimizer, model, masks)
            size = batch[0].shape[0]
            summed = summed.to(data_loss.device) + data_loss.detach().double() * size
            seen += size
            step += 1
            if on_step is not None:
                on_step(step, total)
            if schedule_unit == "iteration":
                for scheduler in schedulers:
                    scheduler.step()
            if step == max_steps:
                break
        if schedule_unit == "epoch":
            for scheduler in schedulers:
                scheduler.step()
        mean = float(summed) / max(seen, 1)
        if not math.isfinite(mean):
            raise NumericalError(
                f"training diverged (loss {mean}) in epoch {epoch + 1}; lower the learning rate (now {lr:g})"
            )
        records.append(EpochLoss(epoch, lr, mean, step))
        if on_epoch is not None:
            on_epoch(records[-1])
    model.train(was_training)
    return LoopResult(tuple(records), step - start_epoch * per_epoch)
