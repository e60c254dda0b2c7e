"""The magnitude-pruning path: which weights go first and the projection distance R(ρ).

Global scope (:class:`MagnitudeProfile`) below; the layer-wise path, the same ratio in
every tensor, is :class:`LayerwiseProfile`.

One stable sort of ``|w|`` over all prunable weights (ties broken by flat index, so
exactly ``ceil(ρ·N)`` weights are removed at ratio ρ) and one prefix sum of ``w²``
give ``R(ρ) = ‖w − MP_ρ(w)‖₂`` for every ρ at once, with no model copies (docs/theory.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from prunelimit import validate
from prunelimit.equality import compared_by_value
from prunelimit.report.notebook import brief

# ρ·N is formed in float64; without a tolerance 0.29*100 = 28.999999999999996 would
# round up to 29 correctly but 0.07*100 = 7.000000000000001 would give 8.
_CEIL_TOL = 1e-9


def removed_count(ratio: float, n: int) -> int:
    """Number of weights removed at pruning ratio ``ratio``: ``ceil(ratio·n)``."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"pruning ratio must lie in [0, 1], got {ratio}")
    return min(n, math.ceil(ratio * n - _CEIL_TOL))


@brief
@compared_by_value
@dataclass(frozen=True)
class MagnitudeProfile:
    """Global (or per-tensor) magnitude order of the prunable weights.

    ``order`` holds flat indices into the concatenation of the tensors, smallest
    magnitude first; ``cum_sq[k]`` is the sum of squares of the first ``k`` of them.
    """

    sizes: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]
    order: np.ndarray
    cum_sq: np.ndarray

    @classmethod
    def from_tensors(
        cls, tensors: Sequence[torch.Tensor], kept: Sequence[torch.Tensor] | None = None
    ) -> "MagnitudeProfile":
        """The order of ``tensors`` by |w|; with ``kept`` (a boolean mask per tensor) the weights
        outside it come first, also before kept weights that are exactly zero, so pruning
        further never trades a pruned weight for a live one."""
        flat = np.concatenate(
            [t.detach().to("cpu", torch.float64).reshape(-1).numpy() for t in tensors]
        )
        key = np.abs(flat)
        if kept is not None:
            key[~np.concatenate([m.detach().cpu().reshape(-1).numpy() for m in kept]).astype(bool)] = -1.0
        order = np.argsort(key, kind="stable")
        cum_sq = np.concatenate([[0.0], np.cumsum(flat[order] ** 2)])
        return cls(
            sizes=tuple(int(t.numel()) for t in tensors),
            shapes=tuple(tuple(t.shape) for t in tensors),
            order=order,
            cum_sq=cum_sq,
        )

    @property
    def n(self) -> int:
        return int(self.order.size)

    @property
    def norm(self) -> float:
        """‖w‖₂ over all prunable weights (R at ratio 1)."""
        return float(math.sqrt(self.cum_sq[-1]))

    @property
    def zero_ratio(self) -> float:
        """The largest ρ at which the path removes only exact zeros (R(ρ) = 0 on the
        continuous path): the zeros' share of the weights."""
        return (int(np.count_nonzero(self.cum_sq == 0.0)) - 1) / self.n

    def radius(self, ratio: float) -> float:
        """Projection distance R(ρ): l2 norm of the weights removed at ratio ρ."""
        return float(math.sqrt(self.cum_sq[removed_count(ratio, self.n)]))

    def radius_continuous(self, ratio: float) -> float:
        """R with the prefix sum interpolated linearly in ρ·N.

        Used only inside root searches, where a step function would make the fixed
        point ill-defined; it agrees with :meth:`radius` at every ratio k/N.
        """
        pos = min(max(ratio, 0.0), 1.0) * self.n
        k = min(int(pos), self.n - 1)
        sq = self.cum_sq[k] + (pos - k) * (self.cum_sq[k + 1] - self.cum_sq[k])
        return float(math.sqrt(sq))

    def keep_masks(self, ratio: float) -> list[torch.Tensor]:
        """Boolean keep-masks, one per tensor, removing exactly ``ceil(ρ·N)`` weights."""
        keep = np.ones(self.n, dtype=bool)
        keep[self.order[: removed_count(ratio, self.n)]] = False
        return _split(keep, self.sizes, self.shapes)


@dataclass(frozen=True)
class LayerwiseProfile:
    """The layer-wise magnitude path: every tensor loses its own ``ceil(ρ·n_l)`` smallest weights.

    ``R_layer(ρ)² = Σ_l cum_sq_l[ceil(ρ·n_l)]``: the sum over tensors of each tensor's
    prefix sum of sorted squares. :meth:`radius_continuous` interpolates every tensor's
    prefix sum linearly in ``ρ·n_l``, so R is continuous and non-decreasing in ρ and the
    fixed point ``ρ = F(R(ρ))`` has one root, as on the global path.
    """

    layers: tuple[MagnitudeProfile, ...]

    @classmethod
    def from_tensors(
        cls, tensors: Sequence[torch.Tensor], kept: Sequence[torch.Tensor] | None = None
    ) -> "LayerwiseProfile":
        """Each tensor's own order; ``kept`` as for :meth:`MagnitudeProfile.from_tensors`."""
        return cls(tuple(MagnitudeProfile.from_tensors([t], None if kept is None else [kept[i]])
                         for i, t in enumerate(tensors)))

    @property
    def n(self) -> int:
        return sum(layer.n for layer in self.layers)

    @property
    def norm(self) -> float:
        return float(math.sqrt(sum(layer.cum_sq[-1] for layer in self.layers)))

    @property
    def zero_ratio(self) -> float:
        """The largest ρ at which every tensor loses only exact zeros (R(ρ) = 0); a tensor with
        no elements has none to lose at any ρ, and bounds nothing."""
        return min(layer.zero_ratio for layer in self.layers if layer.n)

    def radius(self, ratio: float) -> float:
        """R(ρ) = ‖w − MP^layer_ρ(w)‖₂ on the layer-wise path."""
        return float(math.sqrt(sum(layer.radius(ratio) ** 2 for layer in self.layers)))

    def radius_continuous(self, ratio: float) -> float:
        """R with every tensor's prefix sum interpolated (see :meth:`MagnitudeProfile.radius_continuous`)."""
        return float(math.sqrt(sum(layer.radius_continuous(ratio) ** 2 for layer in self.layers)))

    def keep_masks(self, ratio: float) -> list[torch.Tensor]:
        """Boolean keep-masks, one per tensor, each removing ``ceil(ρ·n_l)`` of its weights."""
        return [layer.keep_masks(ratio)[0] for layer in self.layers]


PruningPath = MagnitudeProfile | LayerwiseProfile
SCOPES = ("global", "layer")


def path_profile(tensors: Sequence[torch.Tensor], scope: str = "global",
                 kept: Sequence[torch.Tensor] | None = None) -> PruningPath:
    """The magnitude path of ``scope``: one ranking over all tensors (``global``) or the
    same ratio in every tensor (``layer``); ``kept`` (a boolean mask per tensor) ranks the
    weights outside it first (:meth:`MagnitudeProfile.from_tensors`)."""
    validate.choice("scope", scope, SCOPES)
    if scope == "layer":
        return LayerwiseProfile.from_tensors(tensors, kept)
    return MagnitudeProfile.from_tensors(tensors, kept)


def _split(flat: np.ndarray, sizes, shapes) -> list[torch.Tensor]:
    out, start = [], 0
    for size, shape in zip(sizes, shapes):
        out.append(torch.from_numpy(flat[start : start + size].copy()).reshape(shape))
        start += size
    return out
