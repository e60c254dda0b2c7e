"""One-shot magnitude pruning ``MP_ρ`` (docs/theory.md), global or layer-wise, in place.

Global scope ranks all prunable weights together and zeroes exactly ``ceil(ρ·N)`` of
them; layer scope zeroes ``ceil(ρ·n_t)`` in every tensor; 2:4 scope (semi-structured,
ρ = 0.5 only) keeps the 2 largest of every 4 consecutive weights along the input dimension,
the pattern torch's 2:4 GPU kernels run (``prunelimit export --bench --pattern 2:4``). The order comes from
:class:`~prunelimit.theory.profile.MagnitudeProfile` (stable sort of ``|w|``, ties broken by flat index), so weights
that are already zero are removed first and the result is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import torch
from torch import Tensor, nn

from prunelimit.errors import OptionError, UsageError, option
from prunelimit.models.params import ParamSelection, required_prunable
from prunelimit.pruning.masks import (
    LayerSparsity, Masks, apply_masks, full_masks, keep_both, overall_ratio, sparsity_table,
)
from prunelimit.report.rounding import percent
from prunelimit.theory.layers import COLLAPSE_SPARSITY, collapse_warning
from prunelimit.theory.profile import SCOPES, PruningPath, path_profile, removed_count
from prunelimit.validate import choice

Scope = Literal["global", "layer", "2:4"]
PRUNE_SCOPES = (*SCOPES, "2:4")  # the prediction follows SCOPES; 2:4 is a fixed pattern, not a path
GROUP, KEEP = 4, 2


@dataclass(frozen=True)
class PruneResult:
    """Requested and achieved ratio (removed fractions), keep-masks and per-layer zeros.

    ``achieved`` counts every zero weight afterwards, so it exceeds ``requested`` when
    the model already held more zeros than ``ceil(ρ·N)``; ``collapsed`` names the layers it
    emptied (:func:`emptied`).
    """

    requested: float
    achieved: float
    masks: Masks
    layers: list[LayerSparsity]
    collapsed: tuple[str, ...] = ()


@dataclass(frozen=True)
class MagnitudeOrder:
    """The magnitude order of a fixed set of tensors; masks for any ratio without re-sorting."""

    scope: Scope
    path: PruningPath

    @classmethod
    def of(cls, tensors: Sequence[Tensor], scope: Scope = "global",
           kept: Sequence[Tensor] | None = None) -> "MagnitudeOrder":
        choice("scope", scope, SCOPES)
        return cls(scope, path_profile(tensors, scope, kept))

    def keep_masks(self, ratio: float) -> list[Tensor]:
        """One boolean keep-mask per tensor at pruning ratio ``ratio``."""
        return self.path.keep_masks(ratio)


def check_ratio(ratio: float) -> float:
    """Validate a pruning ratio (removed fraction) in [0, 1); a value that is not a number is
    an ``OptionError`` naming ``ratio``."""
    try:
        if isinstance(ratio, bool):  # float(True) is 1.0: a flag, not a ratio
            raise TypeError
        value = float(ratio)
    except (TypeError, ValueError):
        raise OptionError("ratio", f"{option('ratio', ratio, '{0}', repr(ratio))} is not a number; give the removed fraction, e.g. 0.9") from None
    if not 0.0 <= value < 1.0:  # named where it was set: the flag, a --config key or the keyword
        raise OptionError("ratio", f"{{0}} must be in [0, 1), got {value:g}; give the removed fraction, e.g. 0.9")
    return value + 0.0  # -0.0 is 0, and is recorded so


def check_prune_scope(scope: str, ratio: str | float) -> None:
    """Refuse an unknown scope (an ``OptionError`` naming ``scope``), and 2:4 with any ratio
    but 0.5 (it removes exactly half; a ``UsageError``, since it is the pair of values that
    does not fit, and it names both flags)."""
    choice("scope", scope, PRUNE_SCOPES)
    if scope == "2:4":
        try:
            half = float(ratio) == 1 - KEEP / GROUP
        except ValueError:
            half = False
        if not half:
            raise UsageError(f"{option('scope', '2:4')} keeps 2 of every 4 weights, a ratio of exactly 0.5 (got "
                             f"{option('ratio', ratio)}); pass {option('ratio', 0.5)}")


def two_four_mask(weight: Tensor, kept: Tensor | None = None) -> Tensor:
    """Keep the 2 largest |w| of every 4 consecutive weights along the input dimension (each
    row of the tensor flattened after its first dimension; a ConvTranspose stores inputs first,
    so its groups run along outputs × kernel); ties go to the lower index, and
    a last group of fewer than 4 keeps its 2 largest (all, if it has at most 2). Weights
    outside ``kept`` (a boolean mask) rank below every weight in it, exact zeros included."""
    # sizes spelled out, not -1: a tensor of 0 weights (a layer of 0 rows) has no inferable size
    rows = weight.detach().flatten(1) if weight.dim() > 1 else weight.detach().reshape(1, weight.numel())
    cols = rows.shape[1]
    pad = -cols % GROUP
    magnitude = rows.abs()
    if kept is not None:
        magnitude = magnitude.masked_fill(~kept.to(weight.device, torch.bool).reshape(rows.shape), -0.5)
    magnitude = torch.nn.functional.pad(magnitude, (0, pad), value=-1.0)  # padding ranks last
    groups = magnitude.view(rows.shape[0], (cols + pad) // GROUP, GROUP)
    order = torch.sort(groups, dim=-1, descending=True, stable=True).indices
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, order[..., :KEEP], True)
    return keep.view(rows.shape[0], cols + pad)[:, :cols].reshape(weight.shape)


def magnitude_masks(
    model: nn.Module,
    ratio: float,
    scope: Scope = "global",
    selection: ParamSelection = ParamSelection(),
    held: Mapping[str, Tensor] | None = None,
    path: PruningPath | None = None,
) -> Masks:
    """Keep-masks (parameter name → bool) of magnitude pruning to ``ratio``, within ``held`` (the
    masks of a pruned model: a weight stays only where both keep it); ``model`` is not changed.
    Held-pruned weights rank below every kept weight, exact zeros included: tied with them by
    position, a kept zero would be masked in a pruned weight's place, more than the ratio asks
    (on the 2:4 pattern, a group left with one weight). ``path``: the weights' magnitude path along
    ``scope`` where the caller holds it (``prune --ratio auto``: the prediction's), not sorted again;
    with ``held`` other than the exact zeros the order is another (held weights first), sorted here."""
    ratio = check_ratio(ratio)
    named = required_prunable(model, selection)
    check_prune_scope(scope, ratio)
    held = held or {}
    kept = list(full_masks(named, held).values()) if held else None
    if scope == "2:4":
        return keep_both({name: two_four_mask(p, kept[i] if kept else None) for i, (name, p) in enumerate(named)},
                         held)
    # held weights that are the exact zeros alone rank first, by position, on either order (the key of -1
    # ties them as |0| does): the caller's path serves (an archive with one zero weight sorted twice)
    taken = path is not None and (kept is None or all(torch.equal(mask, p.detach() != 0)
                                                      for mask, (_, p) in zip(kept, named)))
    order = MagnitudeOrder(scope, path) if taken else MagnitudeOrder.of([p for _, p in named], scope, kept)
    return keep_both({name: mask.to(p.device) for (name, p), mask in zip(named, order.keep_masks(ratio))}, held)


def two_four_removed(tensor: Tensor) -> int:
    """How many weights the 2:4 pattern removes from ``tensor`` holding no zeros: 2 of every
    group of 4 along each row (as :func:`two_four_mask` groups it) and ``g − 2`` of a last group
    of ``g`` = 3, none of a last group of 1 or 2."""
    rows = tensor.shape[0] if tensor.dim() > 1 else 1
    cols = tensor.numel() // rows if rows else 0
    return rows * ((cols // GROUP) * (GROUP - KEEP) + max(cols % GROUP - KEEP, 0))


def removed_on_path(ratio: float, scope: Scope, tensors: Sequence[Tensor]) -> int:
    """How many weights pruning to ``ratio`` on ``scope`` removes from ``tensors`` holding no zeros:
    ``Σ ceil(ρ·n_l)`` layer-wise (above the global ``ceil(ρ·N)`` by up to one a tensor), the
    pattern's count on 2:4 (:func:`two_four_removed`: below half where a row ends in a short
    group), else ``ceil(ρ·N)``. A pruning ending with more zeros held more than its path removes:
    on 2:4, a group with more zeros than the pattern takes from it."""
    if scope == "layer":
        return sum(removed_count(ratio, t.numel()) for t in tensors)
    if scope == "2:4":
        return sum(two_four_removed(t) for t in tensors)
    return removed_count(ratio, sum(t.numel() for t in tensors))


def beyond_ratio(ratio: float, layers: Sequence[LayerSparsity], removed: int,
                 scope: Scope = "global") -> tuple[str, ...]:
    """The warning of a pruning that ends above what its path removes (``removed``,
    :func:`removed_on_path`; ``layers`` afterwards): the model had more weights pruned (or zero)
    than the ratio removes, and what it pruned stays pruned, so the ratio asked for was not the
    one it got (a ``--ratio`` below a pruned checkpoint's; on 2:4, groups holding more zeros
    than the pattern removes, named with the pattern's own ratio)."""
    total = sum(layer.total for layer in layers)
    zeros = sum(layer.zeros for layer in layers)
    if zeros <= removed:
        return ()
    if scope == "2:4":
        return (f"{percent(zeros / total)} of the prunable weights are pruned, not the "
                f"{percent(removed / total)} the 2:4 pattern removes ({option('scope', '2:4')}): some groups "
                f"of 4 held more pruned (or zero) weights than the 2 it removes, and what was pruned stays pruned; "
                f"prune the unpruned model for the pattern alone",)
    return (f"{percent(zeros / total)} of the prunable weights are pruned, not the "
            f"{percent(ratio)} {option('ratio', ratio)} asks for: the model had more pruned (or zero) "
            f"already, and what it pruned stays pruned; prune the unpruned model for a lower ratio",)


def emptied(before: Sequence[LayerSparsity], after: Sequence[LayerSparsity]) -> tuple[str, ...]:
    """The layers a pruning empties (``before``/``after`` it): over ``COLLAPSE_SPARSITY`` zero
    afterwards with a weight it zeroed, as ``bounds --per-layer`` flags them; one it leaves as it
    was (all zeros, or pruned before) is not."""
    return tuple(a.name for b, a in zip(before, after, strict=True) if a.ratio > COLLAPSE_SPARSITY and a.zeros > b.zeros)


def collapse_warnings(ratio: float, scope: Scope, after: Sequence[LayerSparsity],
                      names: Sequence[str]) -> tuple[str, ...]:
    """One warning for each layer of ``names`` (:func:`emptied`) pruning to ``ratio`` empties."""
    return tuple(collapse_warning(ratio, f"to {percent(ratio)}", layer.name, layer.total, layer.ratio, scope)
                 for layer in after if layer.name in names)


def prune_model(
    model: nn.Module,
    ratio: float,
    scope: Scope = "global",
    selection: ParamSelection = ParamSelection(),
    held: Mapping[str, Tensor] | None = None,
    path: PruningPath | None = None,
) -> PruneResult:
    """Magnitude-prune ``model`` in place to ``ratio`` within ``held`` (:func:`magnitude_masks`, ``path``
    its order where the caller holds it) and return the masks and sparsity."""
    masks = magnitude_masks(model, ratio, scope, selection, held, path)
    before = sparsity_table(model, selection)
    apply_masks(model, masks)
    layers = sparsity_table(model, selection)
    return PruneResult(requested=ratio, achieved=overall_ratio(layers), masks=masks, layers=layers,
                       collapsed=emptied(before, layers))
