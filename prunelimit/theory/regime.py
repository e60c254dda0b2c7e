"""Is the model in the regime the prediction assumes? A magnitude-profile test for l1 shape.

ρ* (Zhang et al. 2024) models the loss as quadratic around the trained weights and
prunes the smallest magnitudes first. It matches one-shot pruning for l1-trained models
(LOMP), whose training drives most weights to almost zero, so removing them hardly moves
the loss. A plainly trained model has no such mass: its small weights are the tail of a
smooth distribution, and on plain MLPs and CNNs the prediction overshot the one-shot
limit by 14–50 points (docs/guide.md, "Gating in CI").

The statistic is the *near-zero share*: the fraction of the prunable weights that are
not exactly zero (weights already pruned are left out) with |w| < 1e-3 · the largest |w|
of their own tensor. Per tensor, because a layer's scale is not the model's: a ReLU
network with one layer scaled by c and the next by 1/c, or a convolution before a
BatchNorm scaled by any c, computes the same function, and a model-wide maximum would
then call every weight of the other layers near zero. A smooth distribution puts about
2·10⁻³·max|w|·p(0) of its mass there, under 1 % for plain SGD-trained MLPs (0.3–0.9 %
measured on the bundled digits MLP architecture after 300 and 600 steps, seeds 0 and 1);
l1 training piles weights up there (86 % in the bundled example). A share of at least
``L1_SHAPED_SHARE`` counts as l1-shaped.

Two cases where the share cannot tell, stated as such rather than as "not l1-trained":
fewer than ``MIN_WEIGHTS`` non-zero weights (one or two weights decide the share), and a
model pruned already whose exact zeros, counted as near zero, would reach the threshold
(magnitude pruning removes the near-zero mass first, so an l1-trained model pruned past
it leaves only large weights). Neither is l1-shaped; their advice leaves out "train with l1".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

NEAR_ZERO = 1e-3  # "near zero": below this fraction of the largest magnitude in the weight's tensor
L1_SHAPED_SHARE = 0.10  # ten times what plain training leaves there, an eighth of the l1 example's
# Below this many non-zero weights, a plain model (≤ 1 % near zero) reaches a 10 % share by chance
# too often (2 of 20: 1.7 %); from 50 on (5 of 50) under 2·10⁻⁴.
MIN_WEIGHTS = 50

_OVERSHOOT = ("ρ* and ρ_L assume the l1 regime and overshoot the one-shot limit of plainly trained models (by 14–50 "
              "points on plain MLPs and CNNs); gate on the measured limit (`gate --use actual`) or check with "
              "`prunelimit verify`")
ADVICE = ("the model does not look l1-trained (near-zero share {share:.1%} < {threshold:.0%}): " + _OVERSHOOT
          + ", or train with l1 (`prunelimit train --l1 ...`)")
PRUNED_ADVICE = ("the model is pruned already ({zeros:.1%} of its prunable weights are exactly zero) and its remaining "
                 "weights do not look l1-shaped (near-zero share {share:.1%} < {threshold:.0%}), so their shape cannot "
                 "tell whether it was l1-trained: if it was not, " + _OVERSHOOT)
FEW_ADVICE = ("the model has {weights} non-zero prunable weights, too few (< {minimum}) for the near-zero share to tell "
              "whether it was l1-trained: if it was not, " + _OVERSHOOT)


@dataclass(frozen=True)
class Regime:
    l1_shaped: bool
    near_zero_share: float
    advice: str | None
    weights: int = 0  # the non-zero prunable weights the share is over
    zero_share: float = 0.0  # exact zeros among all the prunable weights (pruned already)

    def to_json(self) -> dict:
        return {"l1_shaped": self.l1_shaped,
                "statistic": {"name": f"share of non-zero prunable weights with |w| < {NEAR_ZERO:g}·max|w| of "
                                      "their tensor",
                              "value": self.near_zero_share, "threshold": L1_SHAPED_SHARE,
                              "weights": self.weights, "minimum_weights": MIN_WEIGHTS, "zero_share": self.zero_share},
                "advice": self.advice}


def _counts(weights: Sequence[torch.Tensor]) -> tuple[int, int, int]:
    """(near zero, non-zero, all) entries of ``weights``, near zero against each tensor's own largest |w|."""
    near = nonzero = total = 0
    for w in weights:
        flat = w.detach().reshape(-1).abs().double().cpu()
        kept = flat[flat > 0]
        total, nonzero = total + flat.numel(), nonzero + kept.numel()
        if kept.numel():
            near += int((kept < NEAR_ZERO * kept.max()).sum())
    return near, nonzero, total


def near_zero_share(weights: Sequence[torch.Tensor]) -> float:
    """Fraction of the non-zero entries of ``weights`` below ``NEAR_ZERO`` · their tensor's max |w| (0 when all are zero)."""
    near, nonzero, _ = _counts(weights)
    return near / nonzero if nonzero else 0.0


def assess_regime(weights: Sequence[torch.Tensor]) -> Regime:
    near, nonzero, total = _counts(weights)
    share = near / nonzero if nonzero else 0.0
    zeros = (total - nonzero) / total if total else 0.0
    facts = dict(weights=nonzero, zero_share=zeros)
    if nonzero < MIN_WEIGHTS:
        return Regime(False, share, FEW_ADVICE.format(weights=nonzero, minimum=MIN_WEIGHTS), **facts)
    if share >= L1_SHAPED_SHARE:
        return Regime(True, share, None, **facts)
    if (near + total - nonzero) / total >= L1_SHAPED_SHARE:  # the zeros may be the near-zero mass, pruned
        return Regime(False, share, PRUNED_ADVICE.format(zeros=zeros, share=share, threshold=L1_SHAPED_SHARE),
                      **facts)
    return Regime(False, share, ADVICE.format(share=share, threshold=L1_SHAPED_SHARE), **facts)
