"""The magnitude-pruning path: which weights go first and the projection distance R(ρ).

One stable sort of ``|w|`` over all prunable weights (ties broken by flat index, so
exactly ``ceil(ρ·N)`` weights are removed at ratio ρ) and one prefix sum of ``w²``
give ``R(ρ) = ‖w − MP_ρ(w)‖₂`` for every ρ at once, with no model copies (SPEC §2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

# ρ·N is formed in float64; without a tolerance 0.29*100 = 28.999999999999996 would
# round up to 29 correctly but 0.07*100 = 7.000000000000001 would give 8.
_CEIL_TOL = 1e-9


def removed_count(ratio: float, n: int) -> int:
    """Number of weights removed at pruning ratio ``ratio``: ``ceil(ratio·n)``."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"pruning ratio must lie in [0, 1], got {ratio}")
    return min(n, math.ceil(ratio * n - _CEIL_TOL))


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
    def from_tensors(cls, tensors: Sequence[torch.Tensor]) -> "MagnitudeProfile":
        flat = np.concatenate(
            [t.detach().to("cpu", torch.float64).reshape(-1).numpy() for t in tensors]
        )
        order = np.argsort(np.abs(flat), kind="stable")
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


def layerwise_keep_masks(tensors: Sequence[torch.Tensor], ratio: float) -> list[torch.Tensor]:
    """Keep-masks removing ``ceil(ρ·n_t)`` smallest weights in every tensor separately."""
    return [MagnitudeProfile.from_tensors([t]).keep_masks(ratio)[0] for t in tensors]


def _split(flat: np.ndarray, sizes, shapes) -> list[torch.Tensor]:
    out, start = [], 0
    for size, shape in zip(sizes, shapes):
        out.append(torch.from_numpy(flat[start : start + size].copy()).reshape(shape))
        start += size
    return out
