"""Per-weight saliency scores of the prunable weights (the saliencies of
Barbulescu, Alexoaie & Busoniu, arXiv 2504.05349, and the authors' Hyperflux code).

Metrics (θ = stored weight, g_b = gradient of batch b's mean loss w.r.t. the *effective*
weight θ·m, means over batches weighted by batch size):

* ``magnitude``  |θ|
* ``gradient``   mean_b |g_b|
* ``taylor``     |θ| · mean_b |g_b|            (the authors' code: weight times mean *absolute* gradient)
* ``fisher``     ½ · mean_b(g_b²) · θ²          (the authors' code: Hessian diagonal ≈ Fisher, times θ²/2)
* ``flux``       φ = −κ · θ · mean_b g_b, measured with the weight's gate *off* (the authors' code):
  the first-order loss decrease that restoring the weight would bring, scaled by the
  straight-through factor κ = 0.25. Signed: positive = the weight wants to come back.

Gradients are taken with the masks applied (pruned weights are zero in the forward
pass) through ``torch.func.functional_call``, so the model's parameters are never modified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from prunelimit.curvature.hvp import native_recurrence
from prunelimit.data.batches import Batches, LossFn, batch_size
from prunelimit.errors import InputError, UsageError, said
from prunelimit.models.activation_checkpointing import gradient_checkpoints, reentrant_checkpoint_error
from prunelimit.models.params import ParamSelection, required_prunable

METRICS = ("magnitude", "gradient", "taylor", "fisher", "flux")
STE_SCALE = 0.25  # κ of the reference code's straight-through gate estimator


@dataclass(frozen=True)
class Saliency:
    """Scores of all prunable weights, flattened in ``prunable_parameters`` order."""

    metric: str
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    scores: np.ndarray  # float64, length N

    def split(self) -> dict[str, np.ndarray]:
        """Per-tensor score arrays shaped like the weights."""
        sizes = [math.prod(s) for s in self.shapes]
        parts = np.split(self.scores, np.cumsum(sizes)[:-1])
        return {n: p.reshape(s) for n, p, s in zip(self.names, parts, self.shapes)}


def check_substitutable(model: nn.Module) -> None:
    """Refuse a TorchScript model, which cannot run with substituted weights (functional_call
    refuses it deep inside a training loop)."""
    if isinstance(model, torch.jit.ScriptModule):
        raise InputError(
            "a TorchScript model cannot run with substituted weights (torch.func.functional_call), which "
            "hyperflux and gradient saliencies need; load its weights into the eager model "
            + said("with --model SPEC", "(model.load_state_dict(scripted.state_dict())) and pass that")
        )


class WeightOverride(nn.Module):
    """Calls ``model`` with some parameters replaced by given tensors (no in-place edits).

    Lets a user ``LossFn(model, batch)`` run on effective weights θ·m that carry their
    own autograd graph.
    """

    def __init__(self, model: nn.Module, weights: dict[str, Tensor]) -> None:
        super().__init__()
        check_substitutable(model)
        self.model = model
        self.weights = weights

    def forward(self, *args, **kwargs):  # noqa: D401 - mirrors the wrapped module
        return functional_call(self.model, self.weights, args, kwargs)


class _LossGradients(nn.Module):
    """``loss_fn(model, batch)`` and its gradients w.r.t. ``leaves`` as one module call, run by
    ``functional_call`` with the leaves in place of the module's weights: the substitution then
    lasts through the backward pass, where a non-reentrant ``torch.utils.checkpoint`` segment
    recomputes its forward. Taken after the call, that recomputation used the module's own
    weights, and the gradients of masked or gated-off weights were the unpruned model's."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        check_substitutable(model)
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch, leaves: list[Tensor]) -> tuple[Tensor | None, ...]:
        return torch.autograd.grad(self.loss_fn(self.model, batch), leaves, allow_unused=True)


def default_masks(params: Sequence[Tensor]) -> list[Tensor]:
    return [torch.ones_like(p, dtype=torch.bool) for p in params]


def check_masks(params: Sequence[Tensor], masks: Sequence[Tensor]) -> list[Tensor]:
    """One boolean keep-mask per prunable tensor, on its device; a count or shape that does not fit is a ``UsageError``."""
    if len(masks) != len(params):
        raise UsageError(f"{len(masks)} masks for {len(params)} prunable tensors; give one per tensor")
    out = []
    for p, m in zip(params, masks):
        if tuple(m.shape) != tuple(p.shape):
            raise UsageError(f"mask shape {tuple(m.shape)} does not match weight {tuple(p.shape)}")
        out.append(m.to(device=p.device, dtype=torch.bool))
    return out


def mean_gradients(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    names: Sequence[str],
    effective: Sequence[Tensor],
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """Size-weighted batch means of g, |g| and g² w.r.t. the effective weights."""
    total = sum(batch_size(b) for b in batches)
    if total == 0:
        raise UsageError("no data batches; saliency needs at least one non-empty batch")
    mean_g = [torch.zeros_like(e) for e in effective]
    mean_abs = [torch.zeros_like(e) for e in effective]
    mean_sq = [torch.zeros_like(e) for e in effective]
    losses = _LossGradients(model, loss_fn)
    for batch in batches:
        leaves = [e.detach().requires_grad_(True) for e in effective]
        # in eval mode (the default) cuDNN's recurrent kernels have no backward, as for the HVPs;
        # a reentrant checkpoint segment gives its weights no gradient, which would read as 0
        # saliency, or makes torch.autograd.grad raise: refused as the Hessian refuses it
        with native_recurrence(model, effective[0].device), gradient_checkpoints() as segments:
            grads = functional_call(losses, {f"model.{n}": leaf for n, leaf in zip(names, leaves)}, (batch, leaves))
        if "reentrant" in segments and None in grads:
            raise reentrant_checkpoint_error()
        w = batch_size(batch) / total
        for i, g in enumerate(grads):
            if g is None:  # tensor unused by this loss: zero gradient
                continue
            mean_g[i] += w * g
            mean_abs[i] += w * g.abs()
            mean_sq[i] += w * g * g
    return mean_g, mean_abs, mean_sq


def _flux(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    names: Sequence[str],
    params: Sequence[Tensor],
    masks: Sequence[Tensor],
    fraction: float,
    repeats: int,
    seed: int,
) -> Tensor:
    """Gate-off flux estimator (the authors' code) over a random partition of the present weights.

    Deviation from the reference (independent 5 % samples, most weights never sampled):
    each repeat partitions the present weights into groups of ``fraction`` and switches
    each group off once, so every weight is measured exactly ``repeats`` times.
    """
    theta = torch.cat([p.detach().reshape(-1) for p in params])
    mask = torch.cat([m.reshape(-1) for m in masks])
    sizes = [p.numel() for p in params]

    def flux_with(off_mask: Tensor) -> Tensor:
        eff = (theta * off_mask).split(sizes)
        mean_g, _, _ = mean_gradients(
            model, batches, loss_fn, names, [e.reshape(p.shape) for e, p in zip(eff, params)]
        )
        return -STE_SCALE * theta * torch.cat([g.reshape(-1) for g in mean_g])

    # Pruned weights are already off in the masked network: one pass measures them all.
    flux = torch.where(mask, torch.zeros_like(theta), flux_with(mask.to(theta.dtype)))
    present = torch.nonzero(mask).reshape(-1)
    if present.numel() == 0:
        return flux
    gen = torch.Generator().manual_seed(seed)
    groups = max(1, math.ceil(1.0 / fraction))
    acc = torch.zeros_like(theta)
    for _ in range(repeats):
        perm = present[torch.randperm(present.numel(), generator=gen).to(present.device)]
        for group in perm.tensor_split(min(groups, perm.numel())):
            off = mask.to(theta.dtype).clone()
            off[group] = 0.0
            acc[group] += flux_with(off)[group]
    return torch.where(mask, acc / repeats, flux)


def compute_saliency(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    metric: str = "magnitude",
    masks: Sequence[Tensor] | None = None,
    selection: ParamSelection = ParamSelection(),
    train_mode: bool = False,
    flux_fraction: float = 0.05,
    flux_repeats: int = 3,
    seed: int = 0,
) -> Saliency:
    """Saliency of every prunable weight under ``masks`` (all kept when ``None``).

    ``train_mode`` runs the gradient passes in train mode (the authors' choice) instead
    of eval mode; the model's mode is restored afterwards. ``flux_fraction`` and
    ``flux_repeats`` set the gate-off estimator (the authors' code: ρ = 5 %, n = 3).
    """
    if metric not in METRICS:
        raise UsageError(f"unknown saliency metric {metric!r}; choose one of {', '.join(METRICS)}")
    if not 0.0 < flux_fraction <= 1.0 or flux_repeats < 1:
        raise UsageError("flux needs 0 < flux_fraction <= 1 and flux_repeats >= 1")
    named = required_prunable(model, selection)
    names = [n for n, _ in named]
    params = [p for _, p in named]
    masks = check_masks(params, masks) if masks is not None else default_masks(params)
    theta = [p.detach() for p in params]

    was_training = model.training
    model.train(train_mode)
    try:
        if metric == "magnitude":
            scores = [t.abs() for t in theta]
        elif metric == "flux":
            flat = _flux(model, batches, loss_fn, names, params, masks, flux_fraction, flux_repeats, seed)
            scores = list(flat.split([p.numel() for p in params]))
        else:
            effective = [t * m for t, m in zip(theta, masks)]
            _, mean_abs, mean_sq = mean_gradients(model, batches, loss_fn, names, effective)
            if metric == "gradient":
                scores = mean_abs
            elif metric == "taylor":
                scores = [t.abs() * a for t, a in zip(theta, mean_abs)]
            else:  # fisher
                scores = [0.5 * s * t * t for t, s in zip(theta, mean_sq)]
    finally:
        model.train(was_training)
    flat_scores = np.concatenate(
        [s.detach().to("cpu", torch.float64).reshape(-1).numpy() for s in scores]
    )
    return Saliency(
        metric=metric,
        names=tuple(names),
        shapes=tuple(tuple(p.shape) for p in params),
        scores=flat_scores,
    )
