"""The actual limit after masked fine-tuning (``verify --refit``).

Same search as :mod:`prunelimit.pruning.actual`, but each probed ratio is pruned from the
dense weights, fine-tuned with its mask held fixed, and only then evaluated: the limit a
user reaches with ``prune --finetune-epochs``. Each pass costs a fine-tuning run, so the
budget of passes matters even more; both criteria share every pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable

from torch import nn

from prunelimit.data.batches import Batches, LossFn
from prunelimit.errors import OptionError
from prunelimit.models.params import ParamSelection
from prunelimit.pruning.actual import (
    DEFAULT_MAX_EVALUATIONS, CurvePoint, Progress, coarse_stride, look_between, measured_point, searched_criteria,
    settle,
)
from prunelimit.pruning.finetune import FinetuneConfig, finetune
from prunelimit.pruning.magnitude import prune_model
from prunelimit.pruning.masks import Masks
from prunelimit.report.notebook import brief
from prunelimit.report.rounding import recovery_notes


@brief
@dataclass(frozen=True)
class RefitLimit:
    """Largest grid ratios passing each criterion after fine-tuning, and the passes spent."""

    loss_ratio: float
    accuracy_ratio: float | None
    evaluations: int
    finetune_epochs: int
    points: tuple[CurvePoint, ...]
    # as ``ActualLimit``'s: False when no measured ratio fails the criterion (the limit is at least the one shown)
    loss_crossed: bool = True
    accuracy_crossed: bool = True
    # as ``ActualLimit``'s: the lowest measured ratio above the failure that passes again (None: none)
    loss_recovers: float | None = None
    accuracy_recovers: float | None = None

    def recovery_notes(self) -> tuple[str, ...]:
        """A sentence per criterion seen to fail and recover after fine-tuning, for the console."""
        return recovery_notes(self.loss_ratio, self.loss_recovers, self.accuracy_ratio, self.accuracy_recovers,
                              self.finetune_epochs)


def refit_limit(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    epsilon: float,
    config: FinetuneConfig,
    *,
    eval_batches: Batches | None = None,
    acc_drop: float = 0.5,
    levels: int = 1000,
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
    branching: int = 4,
    scope: str = "global",
    selection: ParamSelection = ParamSelection(),
    masks: Masks | None = None,
    progress: Progress | None = None,
    measured_dense: CurvePoint | None = None,
) -> RefitLimit:
    """Actual limit of prune-then-fine-tune; thresholds are those of the dense model
    (loss ``L(w*) + ε`` on ``batches``, accuracy dense − ``acc_drop`` points on ``eval_batches``).
    ``masks``: the keep-masks of an already-pruned model, held through fine-tuning as
    ``prune --finetune-epochs`` holds them. The model's state is restored on return.
    ``progress(done, most)`` counts fine-tuning steps over all probed ratios, against the
    most the search may probe (both criteria's pass budgets). ``measured_dense``: the model as
    given, measured already on this data (``verify``'s one-shot search measured it), not measured again."""
    if config.epochs < 1:
        raise OptionError("epochs", f"the refit limit needs fine-tuning: config.{{0}} must be at least 1, got {config.epochs}")
    # no evaluation data of its own: one forward over the analysis data gives both criteria
    acc_data = eval_batches if eval_batches and eval_batches is not batches else None
    dense_state = copy.deepcopy(model.state_dict())
    dense = measured_dense or measured_point(model, batches, acc_data, loss_fn, 0.0)
    dense_loss, dense_acc = dense.loss, dense.accuracy
    cache: dict[int, CurvePoint] = {}
    stride = coarse_stride(levels, branching, max_evaluations)
    most = 2 * max_evaluations - 1  # both criteria's budgets, sharing the dense ratio

    # the fine-tuned points by their masks: ratios that prune to the same mask (a grid step that
    # removes no weight more, on a model of under 1,000) fine-tune alike (one seed), so once
    tuned: dict[tuple[tuple[str, int], ...], CurvePoint] = {}
    per_tuning = 0  # the steps of one fine-tuning, as its progress counts them

    def steps(base: int) -> Callable[[int, int], None] | None:
        if progress is None:
            return None

        def report(step: int, total: int) -> None:
            nonlocal per_tuning
            per_tuning = total
            progress(base * total + step, most * total)
        return report

    def point(i: int) -> CurvePoint:
        if i not in cache:
            model.load_state_dict(dense_state)
            kept = prune_model(model, i / levels, scope, selection, masks).masks
            key = tuple((name, int(mask.sum())) for name, mask in kept.items())  # one order: nested masks
            if key not in tuned:
                finetune(model, kept, batches, loss_fn, config, progress=steps(len(tuned)))
                tuned[key] = measured_point(model, batches, acc_data, loss_fn, i / levels, dense_acc is not None)
            cache[i] = replace(tuned[key], ratio=i / levels)
        return cache[i]

    # each pass serves both criteria: the searches share passes, and settle keeps each limit
    # below every measured point that fails it (a NaN loss after a diverging fine-tuning included);
    # the passes left look between the probes, as the one-shot search's do
    try:
        criteria = searched_criteria(point, dense_loss, epsilon, dense_acc, acc_drop, levels, stride, branching)
        settle(criteria, dict(cache), levels, max_evaluations)
        look_between(criteria, cache, levels, max_evaluations)
    finally:
        model.load_state_dict(dense_state)
    if progress is not None and 0 < len(tuned) < most:  # it settled short of its most: the steps made are the total
        progress(len(tuned) * per_tuning, len(tuned) * per_tuning)
    return RefitLimit(
        loss_ratio=criteria[0].passed(levels),
        accuracy_ratio=None if dense_acc is None else criteria[1].passed(levels),
        evaluations=len(tuned),
        finetune_epochs=config.epochs,
        points=tuple(cache[i] for i in sorted(cache)),
        loss_crossed=criteria[0].fail is not None,
        accuracy_crossed=dense_acc is not None and criteria[1].fail is not None,
        loss_recovers=criteria[0].recovers(cache, levels),
        accuracy_recovers=None if dense_acc is None else criteria[1].recovers(cache, levels),
    )
