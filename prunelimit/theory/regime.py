"""Is the model in the regime the prediction assumes? A magnitude-profile test for l1 shape.

ρ* (Zhang et al. 2024) models the loss as quadratic around the trained weights and
prunes the smallest magnitudes first. It matches one-shot pruning for l1-trained models
(LOMP), whose training drives most weights to almost zero, so removing them hardly moves
the loss. A plainly trained model has no such mass: its small weights are the tail of a
smooth distribution, and on plain MLPs and CNNs the prediction overshot the one-shot
limit by 14–50 points (docs/guide.md, "Gating in CI").

The statistic is the *near-zero share*: the fraction of the prunable weights that are
not exactly zero (weights already pruned are left out) with |w| < 1e-3 · the largest |w|
of their own tensor, taken after the tensor is *balanced*. A ReLU network computes the same
function when a hidden unit's incoming weights (and bias) are scaled by any a > 0 and its
outgoing ones by 1/a, and a BatchNorm lets a convolution's output channels, or its own
gamma/beta against the next layer's input channels, be scaled alike: every such rescaling
multiplies a weight tensor's rows (output units) and columns (input units) by positive
factors. Against raw magnitudes that made a plainly trained MLP l1-shaped (0.3 % → 74 %
with unit factors spread over 10^±4; its ρ* then overshot the measured limit by 55 points).
Balancing divides each weight by its row's and column's level, the least-squares fit
r_i + c_j to log|w_ij|: the scalings move only r and c, so the share no longer depends on
them. A smooth distribution puts about 2·10⁻³·max|w|·p(0) of its mass there, under 1 % for
plain SGD-trained MLPs (0.17 % on the bundled digits MLP architecture after 300 steps,
seed 0); l1 training piles weights up there (92 % in the bundled example: an l1 penalty
leaves a unit's small weights decades below its large ones, which no row or column level
removes). A share of at least ``L1_SHAPED_SHARE`` counts as l1-shaped. A one-dimensional
tensor has no rows and columns to balance and is taken as it is.

What the share cannot tell: how far l1 training went. A plainly trained model fine-tuned
briefly with l1, or one trained with l1 for too short, has an l1 pile (20–30 % on digits)
smaller than the ratio ρ* prunes, and ρ* still overshot by 10–15 points; no threshold on
the share separated "overshoots" from "does not" on the models measured (docs/accuracy.md),
so ``l1_shaped`` means "l1-trained at least in part", not "ρ* is reached". Whether it is
reached ``bounds`` measures instead: the loss at ρ_L and ρ* − 5 points (``pruning.actual.overshoot_check``).

A model whose prunable weights are all exactly zero gets one plain message instead: pruning
removes nothing, so its limit of 100 % is exact and assumes no regime.

Two more cases where the share cannot tell, stated as such rather than as "not l1-trained":
fewer than ``MIN_WEIGHTS`` non-zero weights (one or two weights decide the share), and a
model pruned already whose exact zeros, counted as near zero, would reach the threshold
(magnitude pruning removes the near-zero mass first, so an l1-trained model pruned past
it leaves only large weights). Neither is l1-shaped; their advice leaves out "train with l1", and a
gate's fix, which names a way to a more prunable model, names it only if the model was not (``report_l1_fix``).

Nor can the share tell l1 training from weight decay (L2). Weight decay shrinks every weight
that the loss does not hold up: a ReLU unit that no input activates, and the weights from an
input that is always zero (the digits' border pixels), decay geometrically. Their rows and
columns are levels the balancing divides out, but where a dead unit's row meets a dead input's
column the weight decayed once where the two levels expect twice, so it stands decades above
every other balanced weight and, as the tensor's largest, puts them near zero: a 64-32-10
digits MLP trained with weight decay 0.01, 0.02, 0.03 or 0.05 (SGD with momentum or Adam,
1,500 to 6,000 steps) was 12–86 % near zero, and its ρ* overshot by 11 points at 0.02.
Against a sturdier reference, the median of the rows' largest balanced weights, weight decay
still left 0.1–4.1 % near zero and l1-trained models 2.1–27 %: no threshold separated them on
the models measured (docs/accuracy.md), so none is claimed; where no record says, an
l1-shaped model's advice names both (``WEIGHT_DECAY_SHARE``).

What the shape cannot tell, a ``prunelimit train`` checkpoint records: the l1 strength and the
epochs it was trained for (``TrainingRecord``, its ``meta.train_state``). Where it records l1,
the advice is not to train with l1, which it did, but to train longer or with a larger l1
(on the digits MLP ``mlp:64,16,10``: ``--l1 1e-3 --epochs 3`` was 2.8 % near zero and
overshot by 21 points, 30 epochs at that l1 28 % and 9 points; the default ``--l1 1e-4``
for 30 epochs overshot by 15 points, 100 epochs of it as much, ``--l1 1e-3`` by 9); where it
records none (``--l1 0``), a model that looks l1-shaped is not taken as l1-trained. A file
without a record (a state dict, TorchScript, a module) is read by its shape alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import torch

from prunelimit.errors import said
from prunelimit.report.rounding import percent
from prunelimit.validate import real

NEAR_ZERO = 1e-3  # "near zero": below this fraction of the largest magnitude in the weight's tensor
L1_SHAPED_SHARE = 0.10  # over ten times what plain training leaves there, a ninth of the l1 example's
# the row/column fit stops once a sweep moves no level by more than this (in log units), or after this many sweeps
BALANCE_TOLERANCE = 1e-9
BALANCE_SWEEPS = 500
# Below this many non-zero weights, a plain model (≤ 1 % near zero) reaches a 10 % share by chance
# too often (2 of 20: 1.7 %); from 50 on (5 of 50) under 2·10⁻⁴.
MIN_WEIGHTS = 50
# what an l1-shaped share may be instead of l1 training, where no record says (module docstring)
WEIGHT_DECAY_SHARE = "weight decay of 0.01 to 0.05 left a digits MLP 12 to 86 % near zero, a share like l1's"

def l1_training() -> str:
    """How to train with l1, in its reader's terms (``errors.said``): the command or the function."""
    return said("`prunelimit train --l1 ...`", "prunelimit.train(model, data, l1=...)")


@dataclass(frozen=True)
class TrainingRecord:
    """What a ``prunelimit train`` checkpoint records of its training: λ and the epochs done of those set."""

    l1: float
    epochs: int  # the epochs completed
    planned_epochs: int  # the epochs the run was set to (more where it was stopped and not resumed)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> "TrainingRecord | None":
        """The record of a checkpoint's ``meta`` (``train_state``, the layout of
        ``pruning.lomp._state``), or ``None`` where it holds none, or none in that shape
        (a file from anyone: its shape is then all there is to read)."""
        state = meta.get("train_state")
        config = state.get("config") if isinstance(state, Mapping) else None
        if not isinstance(config, Mapping):
            return None
        return cls.from_json({"l1": config.get("l1"), "epochs": state.get("epoch"),
                              "planned_epochs": config.get("epochs")})

    @classmethod
    def from_json(cls, record: object) -> "TrainingRecord | None":
        """The record ``to_json`` wrote (a saved report's ``regime.training``), or ``None``."""
        if not isinstance(record, Mapping):
            return None
        l1, done, planned = (record.get(key) for key in ("l1", "epochs", "planned_epochs"))
        if not (real(l1) and 0 <= l1 < math.inf and isinstance(done, int) and isinstance(planned, int)
                and real(done) and real(planned) and 1 <= done <= planned):
            return None
        return cls(float(l1), done, planned)

    def to_json(self) -> dict:
        return {"l1": self.l1, "epochs": self.epochs, "planned_epochs": self.planned_epochs}

    def stated(self) -> str:
        """What the record says: ``its checkpoint records l1 0.001 for 3 epochs`` (``2 of its 3 epochs``; ``l1 0``: plain)."""
        done = f"{self.epochs} of its {self.planned_epochs}" if self.epochs < self.planned_epochs else f"{self.epochs}"
        return f"its checkpoint records l1 {self.l1:g} for {done} epoch{'' if self.planned_epochs == 1 else 's'}"

    def longer_or_larger(self) -> str:
        """What would take the model further into the l1 regime than the record: more epochs at its λ, or a larger λ."""
        how = said(f"`prunelimit train --l1 {self.l1:g} --epochs N` with N above {self.epochs}, or a larger --l1",
                   f"prunelimit.train(model, data, l1={self.l1:g}, epochs=N) with N above {self.epochs}, or a larger l1")
        return f"train longer with l1 or with a larger l1 ({self.stated()}: {how})"


def l1_fix(l1_shaped: bool, training: TrainingRecord | None, how: str = "") -> str:
    """Training with l1 as a fix of an overshoot, in its reader's terms: to a checkpoint that
    records l1, longer or with a larger λ (it told a model trained with ``--l1 0.001 --epochs 3``
    to train with l1, what it did); to one that records none, with l1, whatever its shape; else
    by the shape: to convergence where it looks l1-trained (the share cannot tell how far,
    docs/accuracy.md), or in place of weight decay, whose share can look the same (it told a
    model trained with weight decay 0.02 and no l1 to train with l1 to convergence). ``how``
    opens the parenthesis of the generic way (``LOMP: ``)."""
    if training is not None and training.l1 > 0:
        return training.longer_or_larger()
    if l1_shaped and training is None:  # l1's shape, or weight decay's: the weights cannot tell them apart
        return (f"train with l1 to convergence ({how}{l1_training()}), or with l1 in place of weight decay if it was "
                f"trained with that ({WEIGHT_DECAY_SHARE})")
    return f"train with l1 ({how}{l1_training()})"


def report_l1_fix(regime: Any) -> str:
    """``l1_fix`` of the model a report's ``regime`` JSON describes. Where its weights cannot tell
    whether it was l1-trained (``shape_cannot_tell``) and no record says, only if it was not: a
    gate told an l1-trained model, pruned to 80 % and fine-tuned, to "train with l1", the advice
    its own warning and ``verify``'s diagnosis leave out there."""
    regime = regime if isinstance(regime, Mapping) else {}
    training = TrainingRecord.from_json(regime.get("training"))
    fix = l1_fix(regime.get("l1_shaped") is True, training)
    if training is None and shape_cannot_tell(regime.get("statistic")):
        return f"{fix} if it was not l1-trained, which its weights cannot tell"
    return fix


def measured_advice() -> str:
    """What to gate on, or run, when ρ* and ρ_L cannot be trusted, in its reader's terms."""
    return ("gate on the measured limit (" + said("`gate --use actual`", "prunelimit.gate(..., use='actual')")
            + ") or check with " + said("`prunelimit verify`", "prunelimit.verify"))


def _overshoot() -> str:
    return ("ρ* and ρ_L assume the l1 regime and overshoot the one-shot limit of plainly trained models (by 14–50 "
            f"points on plain MLPs and CNNs); {measured_advice()}")


def _finding(share: float, training: TrainingRecord | None = None) -> str:
    """Not l1-shaped, and as the checkpoint records where it records no l1 (one that records l1 is told so by ``l1_fix``)."""
    plain = "" if training is None or training.l1 else f"; {training.stated()}"
    return (f"the model does not look l1-trained (near-zero share {percent(share, 1)} < "
            f"{percent(L1_SHAPED_SHARE, 0)}{plain})")


def _recorded_plain_finding(share: float, training: TrainingRecord) -> str:
    return (f"the model looks l1-shaped (near-zero share {percent(share, 1)} ≥ {percent(L1_SHAPED_SHARE, 0)}), yet "
            f"{training.stated()}, so it was not trained with l1")


def _pruned_finding(zeros: float, share: float) -> str:
    return (f"the model is pruned already ({percent(zeros, 1)} of its prunable weights are exactly zero) "
            f"and its remaining weights do not look l1-shaped (near-zero share {percent(share, 1)} < "
            f"{percent(L1_SHAPED_SHARE, 0)}), so their shape cannot tell whether it was l1-trained")


def _few_finding(weights: int) -> str:
    return (f"the model has {weights} non-zero prunable weights, too few (< {MIN_WEIGHTS}) for the near-zero share to "
            "tell whether it was l1-trained")


def _all_zero_advice(weights: int) -> str:
    return (f"every prunable weight ({weights:,}) is exactly zero: pruning removes nothing, so every ratio leaves the model "
            "as it is, whatever its training; is this the trained checkpoint you meant?")


@dataclass(frozen=True)
class Regime:
    l1_shaped: bool
    near_zero_share: float
    advice: str | None
    weights: int = 0  # the non-zero prunable weights the share is over
    zero_share: float = 0.0  # exact zeros among all the prunable weights (pruned already)
    # what the share says of this model, without the advice ``advice`` draws from the models
    # measured: a result that measured its own overshoot states that instead (``api.limit``);
    # ``None`` when l1-shaped (unless the checkpoint records no l1) or when pruning removes nothing
    finding: str | None = None
    # whether training with l1 is advice that fits: the share says not l1-trained, or the checkpoint records no l1
    train_with_l1: bool = False
    training: TrainingRecord | None = None  # what the checkpoint records of its training, where it does

    @property
    def l1_trained(self) -> bool:
        """Whether the model was l1-trained: as its checkpoint records, else as its shape says."""
        return self.l1_shaped if self.training is None else self.training.l1 > 0

    def l1_fix(self, how: str = "") -> str:
        """Training with l1 as the fix of an overshoot of this model (:func:`l1_fix`)."""
        return l1_fix(self.l1_shaped, self.training, how)

    def to_json(self) -> dict:
        return {"l1_shaped": self.l1_shaped,
                "statistic": {"name": f"share of non-zero prunable weights with |w| < {NEAR_ZERO:g}·max|w| of "
                                      "their tensor, each weight divided by its row's and column's level",
                              "value": self.near_zero_share, "threshold": L1_SHAPED_SHARE,
                              "weights": self.weights, "minimum_weights": MIN_WEIGHTS, "zero_share": self.zero_share},
                "training": None if self.training is None else self.training.to_json(),
                "advice": self.advice}


def balanced(weight: torch.Tensor) -> torch.Tensor:
    """|``weight``| divided by its row and column levels: exp of the least-squares fit
    r_i + c_j to log|w_ij| over the non-zero entries, rows on dim 0 and columns on dim 1 (a
    kernel's taps go with their input channel). Scaling rows and columns by positive factors
    shifts r and c only, so the result is the same for all of them (module docstring). Exact
    zeros stay zero and are left out of the fit. A 1-D tensor is returned as |weight|."""
    a = weight.detach().abs().double().cpu()
    if a.dim() < 2 or not a.numel():  # an empty layer (nn.Linear(n, 0)) has no levels to fit
        return a
    a = a.reshape(a.shape[0], a.shape[1], -1)
    live = a > 0
    counts_rows, counts_cols = live.sum((1, 2)).clamp_min(1), live.sum((0, 2)).clamp_min(1)
    e = torch.where(live, a.log(), 0.0)
    # Alternating mean removal is Gauss–Seidel on the fit's normal equations: one sweep when
    # no entry is zero, a few more when pruned entries leave the rows and columns uneven.
    for _ in range(BALANCE_SWEEPS):
        rows = e.sum((1, 2)) / counts_rows
        e = torch.where(live, e - rows[:, None, None], 0.0)
        cols = e.sum((0, 2)) / counts_cols
        e = torch.where(live, e - cols[None, :, None], 0.0)
        if max(rows.abs().max(), cols.abs().max()) < BALANCE_TOLERANCE:
            break
    return torch.where(live, e.exp(), 0.0)


def _counts(weights: Sequence[torch.Tensor]) -> tuple[int, int, int]:
    """(near zero, non-zero, all) entries of ``weights``, near zero against each balanced tensor's own largest |w|."""
    near = nonzero = total = 0
    for w in weights:
        flat = balanced(w).reshape(-1)
        kept = flat[flat > 0]
        total, nonzero = total + flat.numel(), nonzero + kept.numel()
        if kept.numel():
            near += int((kept < NEAR_ZERO * kept.max()).sum())
    return near, nonzero, total


def near_zero_share(weights: Sequence[torch.Tensor]) -> float:
    """Fraction of the non-zero entries of ``weights`` below ``NEAR_ZERO`` · their balanced tensor's max (0 when all are zero)."""
    near, nonzero, _ = _counts(weights)
    return near / nonzero if nonzero else 0.0


def _zeros_reach_share(near: int, nonzero: int, total: int) -> bool:
    """Whether a model's exact zeros, counted as near zero, reach the l1-shaped share: pruned past
    its near-zero mass, which magnitude pruning removes first, whatever its training."""
    return (near + total - nonzero) / total >= L1_SHAPED_SHARE


def shape_cannot_tell(statistic: Any) -> bool:
    """Whether a report's ``regime.statistic`` is of weights that cannot tell whether the model
    was l1-trained (``assess_regime``): too few non-zero ones, or a model pruned already whose
    zeros reach the share. Its counts are read back from the share and the zeros' share;
    ``False`` where it states none (a report of an older prunelimit)."""
    if not isinstance(statistic, Mapping):
        return False
    share, nonzero, zeros = (statistic.get(key) for key in ("value", "weights", "zero_share"))
    if not all(real(v) and 0 <= v < math.inf for v in (share, nonzero, zeros)) or zeros >= 1 or not nonzero:
        return False  # not stated, or every weight zero: the advice says that instead
    if nonzero < MIN_WEIGHTS:
        return True
    total = round(nonzero / (1 - zeros))
    near = round(share * nonzero)
    return near / nonzero < L1_SHAPED_SHARE and _zeros_reach_share(near, nonzero, total)


def _not_l1(finding: str, train_with_l1: bool, share: float, l1_shaped: bool = False, **facts) -> Regime:
    """A model not l1-trained, by its shape or its record: its ``finding``, and the advice on
    it the measured models give (``l1_fix``: by the checkpoint's record where it has one)."""
    regime = Regime(l1_shaped, share, None, finding=finding, train_with_l1=train_with_l1, **facts)
    advice = (f"{finding}: {_overshoot()}, or {regime.l1_fix()}" if train_with_l1 else
              f"{finding}: if it was not, {_overshoot()}")
    return replace(regime, advice=advice)


def assess_regime(weights: Sequence[torch.Tensor], training: TrainingRecord | None = None) -> Regime:
    """The regime of a model from its prunable ``weights``, and from ``training``, what its
    checkpoint records of its training (``TrainingRecord.from_meta``) where it records it."""
    near, nonzero, total = _counts(weights)
    share = near / nonzero if nonzero else 0.0
    zeros = (total - nonzero) / total if total else 0.0
    facts = dict(weights=nonzero, zero_share=zeros, training=training)
    if total and not nonzero:  # nothing to prune: ρ* = 1 is exact, whatever the training
        return Regime(False, share, _all_zero_advice(total), **facts)
    if nonzero < MIN_WEIGHTS:
        return _not_l1(_few_finding(nonzero), False, share, **facts)
    if share >= L1_SHAPED_SHARE:
        if training is not None and not training.l1:  # recorded plain: the shape is not the regime ρ* assumes
            return _not_l1(_recorded_plain_finding(share, training), True, share, l1_shaped=True, **facts)
        return Regime(True, share, None, **facts)
    if _zeros_reach_share(near, nonzero, total):  # the zeros may be the near-zero mass, pruned
        return _not_l1(_pruned_finding(zeros, share), False, share, **facts)
    return _not_l1(_finding(share, training), True, share, **facts)
