"""One-shot magnitude pruning ``MP_ρ`` (SPEC §2), global or layer-wise, in place.

Global scope ranks all prunable weights together and zeroes exactly ``ceil(ρ·N)`` of
them; layer scope zeroes ``ceil(ρ·n_t)`` in every tensor. The order comes from
:class:`~prunelimit.theory.profile.MagnitudeProfile` (stable sort of ``|w|``, ties broken by flat index), so weights
that are already zero are removed first and the result is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from torch import Tensor, nn

from prunelimit.errors import UsageError
from prunelimit.models.params import ParamSelection, prunable_parameters
from prunelimit.pruning.masks import LayerSparsity, Masks, apply_masks, overall_ratio, sparsity_table
from prunelimit.theory.profile import SCOPES, PruningPath, path_profile

Scope = Literal["global", "layer"]


@dataclass(frozen=True)
class PruneResult:
    """Requested and achieved ratio (removed fractions), keep-masks and per-layer zeros.

    ``achieved`` counts every zero weight afterwards, so it exceeds ``requested`` when
    the model already held more zeros than ``ceil(ρ·N)``.
    """

    requested: float
    achieved: float
    masks: Masks
    layers: list[LayerSparsity]


@dataclass(frozen=True)
class MagnitudeOrder:
    """The magnitude order of a fixed set of tensors; masks for any ratio without re-sorting."""

    scope: Scope
    path: PruningPath

    @classmethod
    def of(cls, tensors: Sequence[Tensor], scope: Scope = "global") -> "MagnitudeOrder":
        if scope not in SCOPES:
            raise UsageError(f"pruning scope must be one of {SCOPES}, got {scope!r}")
        return cls(scope, path_profile(tensors, scope))

    def keep_masks(self, ratio: float) -> list[Tensor]:
        """One boolean keep-mask per tensor at pruning ratio ``ratio``."""
        return self.path.keep_masks(ratio)


def check_ratio(ratio: float) -> float:
    """Validate a pruning ratio (removed fraction) in [0, 1)."""
    if not 0.0 <= ratio < 1.0:
        raise UsageError(
            f"pruning ratio {ratio} is outside [0, 1); give the removed fraction, e.g. 0.9"
        )
    return float(ratio)


def prune_model(
    model: nn.Module,
    ratio: float,
    scope: Scope = "global",
    selection: ParamSelection = ParamSelection(),
) -> PruneResult:
    """Magnitude-prune ``model`` in place to ``ratio`` and return the masks and sparsity."""
    check_ratio(ratio)
    named = prunable_parameters(model, selection)
    if not named:
        raise UsageError("the model has no prunable weights; widen the selection with include patterns")
    order = MagnitudeOrder.of([p for _, p in named], scope)
    masks = {
        name: mask.to(p.device) for (name, p), mask in zip(named, order.keep_masks(ratio))
    }
    apply_masks(model, masks)
    layers = sparsity_table(model, selection)
    return PruneResult(requested=ratio, achieved=overall_ratio(layers), masks=masks, layers=layers)
