"""The actual pruning limit (docs/theory.md, what ``verify`` measures), in few prune-and-evaluate passes.

On the grid ``ρ_i = i / levels`` (``levels ≥ 1000``, step ≤ 0.001) the one-shot globally
pruned network ``MP_ρ(w*)`` *fails* the loss criterion when ``L(MP_ρ(w*)) > L(w*) + ε`` on
the analysis data, and the accuracy criterion when its accuracy on the evaluation data
drops below the dense accuracy minus ``δ`` percentage points. For each criterion the
search reports the grid ratio just below the first failure it finds (for the loss, a ratio
off the grid that the caller names and that passes between the two, :func:`named_limit`).

Search (a coarse scan refined by nested scans, a b-ary form of bisection): scan the grid
ascending with stride ``b^k`` and stop at the first failing point; then scan the cell
between the last passing point and that failing point with stride ``b^(k-1)``, and so on
down to stride 1. ``b^k`` is the densest coarse stride whose worst case fits the pass
budget, so a larger budget buys a denser (more robust) coarse scan. With 1,000 levels,
``b = 4`` and 25 passes: strides 256, 64, 16, 4, 1, at most 4 + 4·3 = 16 passes plus the
dense one; ``b = 2`` gives stride 64 then bisection (16 + 6 + 1).

The two searches share passes: a pass prunes once and measures both criteria (the loss
on the analysis data, the accuracy on the evaluation data), so each search visits exactly
the points it would alone, and a point both visit, the dense one and the coarse scan up
to where the limits part, is pruned and evaluated once.

Neither criterion need be monotone in ρ (on small nets one grid step removes a couple of
weights, the loss wobbles near the threshold and accuracy moves in steps of 1/n). The
returned failure index ``hi`` always fails, ``hi − 1`` (reported) always passes, and every
probe below ``hi`` passes: ``hi`` is the first crossing at every scan resolution. An
excursion wholly inside one cell below it (the criterion fails and recovers between two
probes) is missed by the scans; a brute-force sweep's first crossing then lies lower. The
passes the scans leave of the budget look inside the widest of those cells
(:func:`look_between`), which finds a wide excursion, not a narrow one; a measured point
above a failure that passes again is reported (``*_recovers``: the curve is not monotone).
Tests and the benchmark compare against that brute-force first crossing and say how often
it is missed.
A pass measures both criteria, and ``sweep_points`` measures its own: where one of those
points fails a criterion below the crossing its scan found, the cell below that point is
bisected (:func:`settle`, within the criterion's pass budget), so that no measured point at
or below a reported limit fails its criterion. ``*_crossed`` False says only that no measured
ratio failed: a failure and recovery between the probes (a model at chance, whose pruned loss
wanders) is not seen, and ``sweep_points`` is the way to look between them.

Pruning is done in place: the original prunable weights are saved once, each pass
writes ``original * mask`` into the parameters, and the originals are restored at the end
(also on error). No model copies.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from prunelimit.data.batches import Batches, LossFn
from prunelimit.errors import OptionError, UsageError, quoted
from prunelimit.validate import not_a_number, real
from prunelimit.models.evaluate import evaluate
from prunelimit.models.params import ParamSelection, required_prunable
from prunelimit.pruning.magnitude import MagnitudeOrder, Scope
from prunelimit.theory.profile import PruningPath
from prunelimit.report.notebook import brief
from prunelimit.report.rounding import percent, recovery_notes

Progress = Callable[[int, int], None]
# Per criterion, the dense evaluation included (docs/benchmarks.md §3: at most 25 passes).
DEFAULT_MAX_EVALUATIONS = 25
LEVELS = 1000  # the search's grid: ratios 0, 0.001, …, 0.999


def swept_all(curve: object) -> bool:
    """Whether a saved search's ``curve`` (its JSON's ``actual.curve``) holds every grid ratio:
    a sweep of ``LEVELS`` points, after which the limit is the curve's first failure."""
    return isinstance(curve, list) and len(curve) >= LEVELS


@dataclass(frozen=True)
class CurvePoint:
    """Loss (analysis data) and accuracy (evaluation data) of the model pruned to ``ratio``."""

    ratio: float
    loss: float
    accuracy: float | None


@brief
@dataclass(frozen=True)
class ActualLimit:
    """Measured limits (removed fractions) and what it cost.

    ``loss_ratio`` / ``accuracy_ratio``: largest grid ratio before the first crossing the
    search found, never at or above a measured point that fails the criterion (``None`` for
    accuracy when labels are not classes); for the loss, a named ratio off the grid measured
    to pass between that grid ratio and the crossing (``actual_limit``'s ``named``) where one was
    (then among ``probes``). ``*_crossed`` is False when no measured ratio
    below 1 (probe or sweep point) fails; the ratio is then the last grid point.
    ``evaluations`` counts the search's prune-and-evaluate passes, the dense one included
    (where ``measured_dense`` gave it, only its pass over the evaluation data of their own):
    a pass prunes once and measures both criteria (loss on the analysis data, accuracy on
    the evaluation data), so a ratio both searches ask for counts once, and so does a ratio
    that prunes to the weights of one measured already (a grid step that removes no weight
    on a model of under 1,000, ratios up to a pruned model's sparsity): one model, one pass;
    ``loss_evaluations``/``accuracy_evaluations`` count what each criterion asked for
    (at most ``max_evaluations`` each: :func:`worst_case_passes` for the scans, and what
    :func:`settle` and :func:`look_between` add within it; the latter only while fewer than
    ``max_evaluations`` passes were made in all).
    ``probes`` are the search's points by ratio; ``curve`` the optional sweep, whose ratios the
    search measured are taken from its probes, not measured again (``sweep_evaluations``: the
    passes the sweep added);
    ``seconds``: the wall time of both (verify's ``timing.search``, outside the spectrum's
    seconds and its budgets).
    ``loss_recovers`` / ``accuracy_recovers``: the lowest measured ratio above the criterion's
    failure that passes it again (``None``: none measured): the curve fails and recovers, so a
    failure between the probes below the limit may have gone unseen.
    """

    loss_ratio: float
    accuracy_ratio: float | None
    loss_crossed: bool
    accuracy_crossed: bool
    dense_loss: float
    dense_accuracy: float | None
    epsilon: float
    acc_drop: float
    levels: int
    branching: int
    stride: int
    evaluations: int
    loss_evaluations: int
    accuracy_evaluations: int
    probes: tuple[CurvePoint, ...]
    curve: tuple[CurvePoint, ...]
    seconds: float = 0.0
    sweep_evaluations: int = 0
    loss_recovers: float | None = None
    accuracy_recovers: float | None = None

    def recovery_notes(self, accuracy: bool = True) -> tuple[str, ...]:
        """:func:`recovery_notes` of this search (the loss criterion's alone without ``accuracy``),
        for the console and a gate's warnings."""
        return recovery_notes(self.loss_ratio, self.loss_recovers, self.accuracy_ratio,
                              self.accuracy_recovers if accuracy else None, swept_all=len(self.curve) >= self.levels)


def worst_case_passes(levels: int, branching: int, stride: int) -> int:
    """Most passes :func:`first_failure` can take from coarse ``stride``, plus the dense one."""
    depth = round(math.log(stride, branching))
    return 1 + math.ceil((levels - 1) / stride) + depth * (branching - 1)


def coarse_stride(levels: int, branching: int, max_evaluations: int) -> int:
    """Densest coarse stride (a power of ``branching``) whose worst case fits the budget."""
    if branching < 2:
        raise UsageError(f"branching must be at least 2, got {branching}")
    stride = 1
    while worst_case_passes(levels, branching, stride) > max_evaluations:
        stride *= branching
        if stride >= levels:
            raise UsageError(
                f"{max_evaluations} evaluations cannot search {levels} levels with branching "
                f"{branching}; allow more evaluations or use branching 2"
            )
    return stride


def first_failure(
    fails: Callable[[int], bool], levels: int, stride: int, branching: int = 4
) -> int | None:
    """First failing index found by nested ascending scans over ``1..levels-1``, or None.

    Level 0 scans with ``stride`` (a power of ``branching``) up to ``levels-1``; each level
    scans the cell ``(lo, hi)`` between the last passing and the first failing point
    with the stride divided by ``branching``, down to stride 1. Index 0 (the dense
    model) is taken to pass. The answer ``hi`` fails and ``hi - 1`` passes.
    """
    lo, hi = 0, None
    for p in [*range(stride, levels - 1, stride), levels - 1]:
        if fails(p):
            hi = p
            break
        lo = p
    if hi is None:
        return None
    while stride > 1:
        stride //= branching
        for p in range(lo + stride, hi, stride):
            if fails(p):
                hi = p
                break
            lo = p
    return hi


class _InPlacePruner:
    """Writes ``MP_ρ(w*)`` into the model's prunable weights; restores ``w*`` on exit."""

    def __init__(self, model: nn.Module, scope: Scope, selection: ParamSelection, path: PruningPath | None = None):
        self.params = [p for _, p in required_prunable(model, selection)]
        self.original = [p.detach().clone() for p in self.params]
        self.order = MagnitudeOrder.of(self.original, scope) if path is None else MagnitudeOrder(scope, path)

    @torch.no_grad()
    def set_ratio(self, ratio: float) -> None:
        for p, w, keep in zip(self.params, self.original, self.order.keep_masks(ratio)):
            p.copy_(w * keep.to(w.device))

    @torch.no_grad()
    def zeroed(self, ratio: float) -> tuple[int, ...]:
        """The non-zero weights pruning to ``ratio`` zeroes, per tensor. The masks of one order
        are nested, so two ratios with the same counts prune to the same weights (they differ
        at most in weights that are zero already): the same model."""
        return tuple(int((~keep.to(w.device, torch.bool) & (w != 0)).sum())
                     for w, keep in zip(self.original, self.order.keep_masks(ratio)))

    def removes(self, ratio: float) -> int:
        """The non-zero weights pruning to ``ratio`` zeroes: none where ⌈ρN⌉ is 0 or falls on
        weights that are zero already."""
        return sum(self.zeroed(ratio))

    @torch.no_grad()
    def restore(self) -> None:
        for p, w in zip(self.params, self.original):
            p.copy_(w)


@contextlib.contextmanager
def _pruned(model: nn.Module, scope: Scope, selection: ParamSelection,
            path: PruningPath | None = None) -> Iterator[_InPlacePruner]:
    pruner = _InPlacePruner(model, scope, selection, path)
    try:
        yield pruner
    finally:
        pruner.restore()


def prune_curve(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    ratios: Sequence[float],
    *,
    eval_batches: Batches | None = None,
    scope: Scope = "global",
    selection: ParamSelection = ParamSelection(),
    progress: Progress | None = None,
) -> list[CurvePoint]:
    """Loss and accuracy after one-shot pruning to each ratio (the brute-force sweep)."""
    with _pruned(model, scope, selection) as pruner:
        return _curve(pruner, model, batches, eval_batches, loss_fn, ratios, progress)


def _curve(pruner: _InPlacePruner, model: nn.Module, batches: Batches, eval_batches: Batches | None,
           loss_fn: LossFn, ratios: Sequence[float], progress: Progress | None = None,
           with_accuracy: bool = True) -> list[CurvePoint]:
    """:func:`prune_curve` with ``pruner`` (its weights' order) made already."""
    out = []
    for k, ratio in enumerate(ratios):
        pruner.set_ratio(ratio)
        out.append(measured_point(model, batches, eval_batches, loss_fn, ratio, with_accuracy))
        if progress is not None:
            progress(k + 1, len(ratios))
    return out


def measured_point(model, batches, eval_batches, loss_fn, ratio, with_accuracy: bool = True) -> CurvePoint:
    """Loss on ``batches`` and, with ``with_accuracy``, accuracy on ``eval_batches`` (default ``batches``)."""
    ev = evaluate(model, batches, loss_fn)
    acc = ev.accuracy
    if eval_batches is not None:
        acc = evaluate(model, eval_batches, loss_fn).accuracy if with_accuracy else None
    return CurvePoint(ratio=ratio, loss=ev.loss, accuracy=acc)


# ρ* overshooting by more than this (5 points) is an overshoot: verify diagnoses such a Δ in
# words, and the l1-trained examples land within it (the bundled one 1.9 points past ρ*)
LARGE_GAP = 0.05


@dataclass(frozen=True)
class OvershootCheck:
    """The loss criterion of the actual limit measured at the prediction's own ratios, one
    pass each and no search: whether ρ_L, and ρ* by more than ``LARGE_GAP``, lie past the
    limit one-shot pruning reaches. It tells what magnitudes cannot (``theory.regime``):
    a partly l1-trained model looks l1-shaped and still overshoots by 10–25 points."""

    dense_loss: float
    epsilon: float
    predicted: CurvePoint  # the model pruned to ρ* − LARGE_GAP (0 at least)
    lower: CurvePoint | None  # ... to ρ_L (None: no bound computed)
    seconds: float
    # the non-zero weights each point zeroes: at 0 its loss is the dense one, no measurement of the limit
    predicted_removed: int
    lower_removed: int | None
    dense_accuracy: float | None = None  # on the same data (``verify``'s search starts from this dense point)

    @property
    def loss_limit(self) -> float:
        return self.dense_loss + self.epsilon

    def past(self, point: CurvePoint | None, removed: int | None) -> bool:
        """Whether ``point`` was measured (it removed a weight) and its own loss fails the
        search's rule (actual_limit's loss_fails: NaN fails too)."""
        return point is not None and bool(removed) and not point.loss <= self.loss_limit

    def _crosses(self, point: CurvePoint | None, removed: int | None) -> bool | None:
        # None where nothing was measured (no bound, or a point that removed no weight: the dense loss);
        # else past the limit where a checked point at or below it fails: the limit lies below that
        # failure, so below this point too, though its own loss may pass again (a curve that wanders:
        # ρ_L failed and ρ* − 5 points, above it, passed, and predicted read false)
        if point is None or not removed:
            return None
        return any(self.past(p, n) and p.ratio <= point.ratio
                   for p, n in ((self.lower, self.lower_removed), (self.predicted, self.predicted_removed)))

    @property
    def lower_overshoots(self) -> bool | None:
        return self._crosses(self.lower, self.lower_removed)

    @property
    def predicted_overshoots(self) -> bool | None:
        return self._crosses(self.predicted, self.predicted_removed)

    def to_json(self) -> dict:
        def point(p: CurvePoint | None, removed: int | None) -> dict | None:
            return None if p is None else {"ratio": p.ratio, "loss": p.loss, "removed": removed}

        # the dense accuracy beside its loss: `verify --from` starts its search from this point (``stated_dense``)
        return {"lower": self.lower_overshoots, "predicted": self.predicted_overshoots, "gap": LARGE_GAP,
                "dense_loss": self.dense_loss, "dense_accuracy": self.dense_accuracy, "loss_limit": self.loss_limit,
                "checked": {"predicted": point(self.predicted, self.predicted_removed),
                            "lower": point(self.lower, self.lower_removed)}}


def stated_check(stated: object) -> OvershootCheck | None:
    """The :class:`OvershootCheck` a saved report's ``overshoot`` (``OvershootCheck.to_json``)
    states, for the advice made from its points (``api.limit.prune_less``); ``None`` where it
    states none, or not in that shape (an older report's, one edited)."""
    def point(doc: object) -> tuple[CurvePoint, int] | None:
        if not (isinstance(doc, dict) and real(doc.get("ratio")) and real(doc.get("loss"))
                and isinstance(doc.get("removed"), int)):
            return None
        return CurvePoint(float(doc["ratio"]), float(doc["loss"]), None), doc["removed"]

    checked = stated.get("checked") if isinstance(stated, dict) else None
    if not (isinstance(checked, dict) and real(stated.get("dense_loss")) and real(stated.get("loss_limit"))):
        return None
    predicted, lower = point(checked.get("predicted")), point(checked.get("lower"))
    if predicted is None or (lower is None and checked.get("lower") is not None):
        return None
    return OvershootCheck(float(stated["dense_loss"]), float(stated["loss_limit"]) - float(stated["dense_loss"]),
                          predicted[0], None if lower is None else lower[0], 0.0, predicted[1],
                          None if lower is None else lower[1])


def stated_dense(stated: object) -> CurvePoint | None:
    """The model as given, as a saved report's ``overshoot`` (``OvershootCheck.to_json``) states
    it measured: its loss and accuracy (``null``: the labels are not classes), for ``verify
    --from``'s search to start from (``actual_limit``'s ``measured_dense``) rather than measure
    again; ``None`` where it states no ``dense_accuracy`` (an older report's) or not in shape."""
    if not (isinstance(stated, dict) and real(stated.get("dense_loss")) and math.isfinite(stated["dense_loss"])
            and "dense_accuracy" in stated):
        return None
    accuracy = stated["dense_accuracy"]
    if accuracy is not None and not (real(accuracy) and 0 <= accuracy <= 1):
        return None
    return CurvePoint(0.0, float(stated["dense_loss"]), None if accuracy is None else float(accuracy))


def overshoot_check(model: nn.Module, batches: Batches, loss_fn: LossFn, epsilon: float, ratio: float,
                    lower: float | None, *, scope: Scope = "global",
                    selection: ParamSelection = ParamSelection(), path: PruningPath | None = None) -> OvershootCheck:
    """:class:`OvershootCheck` of the prediction ``ratio`` (ρ*) and ``lower`` (ρ_L) with the
    loss tolerance ``epsilon``: one to three passes over ``batches`` (the dense one included).
    A point that zeroes no non-zero weight (a ratio of 0, or below an already pruned model's
    sparsity) is the dense model, weight for weight: its loss is the dense one, not measured
    again; nor is a ratio measured twice. ``path``: the weights' magnitude path along ``scope``, where
    the caller holds it (``bounds``), not sorted again."""
    start = time.perf_counter()
    ratios = [0.0, max(0.0, ratio - LARGE_GAP)] + ([] if lower is None else [lower])
    with _pruned(model, scope, selection, path) as pruner:  # one sort of the weights for the losses and the counts
        removed = [pruner.removes(r) for r in ratios[1:]] + [None]
        pruning = sorted({r for r, n in zip(ratios[1:], removed) if n})
        dense, *points = _curve(pruner, model, batches, None, loss_fn, [0.0, *pruning])
    at = dict(zip(pruning, points))
    predicted, *rest = [at[r] if r in at else replace(dense, ratio=r) for r in ratios[1:]]
    return OvershootCheck(dense.loss, float(epsilon), predicted, rest[0] if rest else None,
                          time.perf_counter() - start, removed[0], removed[1], dense.accuracy)


def keeps_accuracy(dense: float, accuracy: float, acc_drop: float) -> bool:
    """The accuracy criterion: ``accuracy`` lies at most ``acc_drop`` percentage points below
    ``dense``. Compared in points up to rounding, so a drop of exactly δ passes (``0.035 −
    0.005`` is ``0.030000000000000002``, above an accuracy of 6/200); ``prune --acc-drop``
    counts a drop the same way."""
    from prunelimit.gate_rules import reaches

    return reaches(acc_drop, 100.0 * (dense - accuracy))


def check_acc_drop(acc_drop: object) -> None:
    """The accuracy criterion δ: percentage points in [0, 100] (an ``OptionError`` naming ``acc_drop``)."""
    if isinstance(acc_drop, bool) or not isinstance(acc_drop, numbers.Real) or not 0 <= acc_drop <= 100:
        raise OptionError("acc_drop", f"{{0}} is in percentage points (0–100), got {quoted(acc_drop)}"
                                      f"{not_a_number(acc_drop)}")


def actual_limit(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    epsilon: float,
    *,
    eval_batches: Batches | None = None,
    acc_drop: float = 0.5,
    levels: int = LEVELS,
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
    branching: int = 4,
    scope: Scope = "global",
    selection: ParamSelection = ParamSelection(),
    sweep_points: int = 0,
    progress: Progress | None = None,
    measured_dense: CurvePoint | None = None,
    failed: Sequence[float] = (),
    named: Sequence[float] = (),
    path: PruningPath | None = None,
) -> ActualLimit:
    """Actual limit by the loss criterion (on ``batches``) and the accuracy criterion.

    ``eval_batches`` defaults to ``batches``; ``acc_drop`` is δ in percentage points.
    ``sweep_points > 0`` also records an evenly spaced curve over the grid (extra passes for
    the ratios the search did not measure, not counted in ``evaluations``). ``measured_dense``:
    the model as given, measured on ``batches`` already (``verify``: by the overshoot check),
    whose loss, and accuracy where the evaluation data are ``batches``, are not measured again.
    ``failed``: ratios off the grid seen to fail the loss criterion on ``batches`` already
    (``verify``: the overshoot check's points past L + ε); one below the crossing the scans
    found has the grid ratio that prunes to its weights (:func:`same_model_index`) measured and
    settled below (:func:`settle`), so that the limit reported never lies above a pruning seen
    to fail: a loss that fails and recovers inside a cell of the scan (an undertrained MLP's,
    failing at ρ_L 50.2 % and passing at 51.2 %) was reported as a limit of 52.1 % beside an
    overshoot check that said ρ_L lies past it.
    ``named``: ratios off the grid that the caller names (``verify``: ρ*, ρ_L and the overshoot
    check's ρ* − 5 points). One that lies between the reported limit and the grid's failure above
    it (it prunes more weights than the one and fewer than the other: a grid step removes two
    weights or more) is measured, and where it passes it is the limit (:func:`named_limit`):
    else a regression model pruned to 80 % of 1,280 weights, whose ρ_L of 80.011 % removes one
    weight more and passes, was reported a limit of 80.0 % (the grid's 80.1 % removes two and
    fails) beside an overshoot check that found ρ_L within L + ε.
    ``path``: the weights' magnitude path along ``scope``, where the caller holds it (``verify``: bounds'),
    not sorted again.
    The model's weights are unchanged on return.
    """
    start = time.perf_counter()
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise UsageError(f"loss tolerance ε must be a finite number >= 0, got {epsilon}")
    check_acc_drop(acc_drop)
    if levels < 1000:
        raise UsageError(f"the grid needs at least 1000 levels (step <= 0.001), got {levels}")
    stride = coarse_stride(levels, branching, max_evaluations)
    separate = eval_batches is not None and eval_batches is not batches
    acc_data = eval_batches if separate else None
    # One pass prunes once and measures both criteria, so the two searches share passes.
    cache: dict[int, CurvePoint] = {}
    # the most passes, for progress bars: both criteria's budgets (the scans and the bisections of
    # settle), sharing the dense pass, and the sweep; None once the sweep is done: the count is exact
    sweep = _sweep_indices(levels, sweep_points) if sweep_points > 0 else []
    most: int | None = 2 * max_evaluations - 1 + len(sweep) + len(failed) + len(named)

    with_accuracy = True  # off once the dense model shows the labels are not classes
    swept: dict[int, CurvePoint] = {}
    # the passes made, by the pruned weights (``zeroed``): grid ratios that prune to the same
    # weights (a step removing no weight on a model of under 1,000, the ratios up to a pruned
    # model's sparsity) are one model, evaluated once; the search still counts each as a point
    models: dict[tuple[int, ...], CurvePoint] = {}
    passes = {"search": 0, "sweep": 0}
    with _pruned(model, scope, selection, path) as pruner:

        def evaluated_at(ratio: float, stage: str, report: Callable[[], None]) -> CurvePoint:
            key = pruner.zeroed(ratio)
            if key not in models:
                pruner.set_ratio(ratio)
                models[key] = measured_point(model, batches, acc_data, loss_fn, ratio, with_accuracy)
                passes[stage] += 1
                report()
            return replace(models[key], ratio=ratio)

        def evaluated(i: int, stage: str, report: Callable[[], None]) -> CurvePoint:
            return evaluated_at(i / levels, stage, report)

        def searched() -> None:
            if progress is not None:
                done = passes["search"] + passes["sweep"]
                progress(done, done if most is None else most)

        def measure(i: int) -> CurvePoint:
            if i in swept:  # the sweep measured it: no pass of the search's
                return swept[i]
            if i not in cache:
                cache[i] = evaluated(i, "search", searched)
            return cache[i]

        if measured_dense is not None:  # the dense pass made already: none again, or the evaluation data's alone
            models[pruner.zeroed(0.0)] = measured_dense if acc_data is None else \
                replace(measured_dense, accuracy=evaluate(model, acc_data, loss_fn).accuracy)
            if acc_data is not None:
                passes["search"] += 1
                searched()
        dense = measure(0)
        dense_acc = dense.accuracy
        with_accuracy = dense_acc is not None
        criteria = searched_criteria(measure, dense.loss, epsilon, dense_acc, acc_drop, levels, stride, branching)
        for ratio in failed:  # a failure seen below the scans' crossing: its grid twin measured, for settle
            i = same_model_index(pruner, ratio, levels)
            if i is not None and i < (levels if criteria[0].fail is None else criteria[0].fail):
                measure(i)
        settle(criteria, dict(cache), levels, max_evaluations)
        look_between(criteria, cache, levels, max_evaluations)
        if sweep:
            # a ratio the search measured is not measured again (the dense one, always the sweep's first)
            new, before = [i for i in sweep if i not in cache], passes["search"]
            most = None

            def swept_so_far(left: int) -> Callable[[], None]:
                def report() -> None:  # the most: each ratio left a pass of its own
                    if progress is not None:
                        progress(before + passes["sweep"], before + passes["sweep"] + left)
                return report

            for k, i in enumerate(new):
                swept[i] = evaluated(i, "sweep", swept_so_far(len(new) - k - 1))
            settle(criteria, {**cache, **swept}, levels, max_evaluations)  # the curve must not contradict them
        # the named ratios between the limit and the failure above it, measured (after the sweep, which may lower it)
        loss_ratio, off_grid = named_limit(criteria[0], levels, named,
                                           lambda ratio: evaluated_at(ratio, "search", searched))
        if most is not None:  # the search settled short of its most (no sweep after it): the passes made are the total
            most = None
            searched()

    measured = {**cache, **swept}
    curve = tuple(measured[i] for i in sweep)
    probes = tuple(sorted((*(cache[i] for i in cache), *off_grid), key=lambda p: p.ratio))
    return ActualLimit(
        loss_ratio=loss_ratio,
        accuracy_ratio=None if dense_acc is None else criteria[1].passed(levels),
        loss_crossed=criteria[0].fail is not None,
        accuracy_crossed=dense_acc is not None and criteria[1].fail is not None,
        dense_loss=dense.loss,
        dense_accuracy=dense_acc,
        epsilon=float(epsilon),
        acc_drop=float(acc_drop),
        levels=levels,
        branching=branching,
        stride=stride,
        evaluations=passes["search"],
        loss_evaluations=len(criteria[0].asked),
        accuracy_evaluations=len(criteria[1].asked) if dense_acc is not None else 0,
        probes=probes,
        curve=curve,
        seconds=time.perf_counter() - start,
        sweep_evaluations=passes["sweep"],
        loss_recovers=criteria[0].recovers(measured, levels),
        accuracy_recovers=None if dense_acc is None else criteria[1].recovers(measured, levels),
    )


def named_limit(loss: "SearchedCriterion", levels: int, named: Sequence[float],
                measure: Callable[[float], CurvePoint]) -> tuple[float, list[CurvePoint]]:
    """The loss criterion's limit once the ``named`` ratios between its grid limit and its failure
    are measured, and those points. Ascending, each is measured and, while it passes, is the limit:
    every measured point below it passes too (a grid pass, or a named one below it), so the limit
    is the largest measured ratio before the first measured failure, on the grid or off it; a
    named point that fails ends it (one above it passing again would be a recovery, not a limit).
    Where nothing failed the limit is at least the last grid point (``loss_crossed`` False): a
    ratio above it contradicts nothing, and none is measured."""
    limit, points = loss.passed(levels), []
    if loss.fail is None:
        return limit, points
    for ratio in sorted({float(r) for r in named if limit < r < loss.fail / levels}):
        point = measure(ratio)
        points.append(point)
        if loss.test(point):
            break
        limit = ratio
    return limit, points


def on_grid(ratio: float, levels: int = LEVELS) -> bool:
    """Whether ``ratio`` is a grid ratio ``i / levels`` (else a named one, :func:`named_limit`)."""
    return ratio == round(ratio * levels) / levels


def named_limit_text(loss_ratio: float, ratio: float, lower: float | None, levels: int = LEVELS) -> str | None:
    """Where the loss limit ``loss_ratio`` is a ratio the prediction names (``ratio``, ρ*, or
    ``lower``, ρ_L), off the grid of ``levels``: which one, as verify's console and HTML
    report say it; else ``None``."""
    if on_grid(loss_ratio, levels):
        return None
    names = (("ρ*", ratio), ("ρ_L", lower), (f"ρ* less {100 * LARGE_GAP:g} points", ratio - LARGE_GAP))
    name = next((n for n, r in names if r == loss_ratio), None)
    if name is None:  # a document that names no such ratio (edited): nothing to say of it
        return None
    return (f"the loss limit is {name} ({percent(loss_ratio)}), measured within L + ε: it prunes more weights "
            f"than the search's grid ratio below it and fewer than the first ratio it measured past L + ε "
            f"(a grid step of {percent(1 / levels)} removes more than one weight here)")


def same_model_index(pruner: _InPlacePruner, ratio: float, levels: int) -> int | None:
    """The grid index in ``1..levels-1`` next to ``ratio`` whose ratio prunes to the weights
    ``ratio`` prunes to: the same model, so the same loss. With at most ``levels`` prunable
    weights, pruned globally, one of the two always does (a weight spans a grid step or more);
    ``None`` where neither does (more weights than levels, or ``scope="layer"``'s per-tensor
    rounding)."""
    key = pruner.zeroed(ratio)
    return next((i for i in (math.floor(ratio * levels), math.ceil(ratio * levels))
                 if 0 < i < levels and pruner.zeroed(i / levels) == key), None)


class SearchedCriterion:
    """One criterion's search: ``test`` of a measured point (True: it fails), the grid indices it
    asked for (``asked``, the dense one included), its failure ``fail`` (``None``: none found)
    and the ratio it reports, :meth:`passed`. ``near`` of a passing point: the share of the
    tolerance it uses (0 at the dense value, 1 at the threshold; 1 where the tolerance is 0)."""

    def __init__(self, test: Callable[[CurvePoint], bool], measure: Callable[[int], CurvePoint],
                 near: Callable[[CurvePoint], float] = lambda point: 1.0):
        self.test, self.measure, self.near = test, measure, near
        self.asked: set[int] = {0}
        self.fail: int | None = None
        self.below: int | None = None  # the measured pass below ``fail`` where settle's bisection ran out of budget

    def fails(self, i: int) -> bool:
        self.asked.add(i)
        return self.test(self.measure(i))

    def recovers(self, measured: dict[int, CurvePoint], levels: int) -> float | None:
        """The lowest measured ratio above the failure that passes again (the curve is not
        monotone: failures between the probes below the limit may have gone unseen), or None."""
        if self.fail is None:
            return None
        return next((i / levels for i in sorted(measured) if i > self.fail and not self.test(measured[i])), None)

    def passed(self, levels: int) -> float:
        """The grid ratio reported: just below the failure (the measured pass below it where the
        bisection ran out of budget), or the last grid point when none was found."""
        return below_failure(self.fail, levels) if self.below is None else self.below / levels


def searched_criteria(measure: Callable[[int], CurvePoint], dense_loss: float, epsilon: float,
                      dense_acc: float | None, acc_drop: float, levels: int, stride: int,
                      branching: int) -> list[SearchedCriterion]:
    """The loss criterion (``L ≤ dense_loss + ε``; a NaN loss is not within it) and, where the
    dense model has an accuracy, the accuracy criterion, each searched by :func:`first_failure`
    over the points ``measure`` gives (shared: a point both ask for is measured once)."""
    loss = SearchedCriterion(lambda point: not point.loss <= dense_loss + epsilon, measure,
                             lambda point: (point.loss - dense_loss) / epsilon if epsilon > 0 else 1.0)
    criteria = [loss]
    if dense_acc is not None:
        criteria.append(SearchedCriterion(lambda point: not keeps_accuracy(dense_acc, point.accuracy, acc_drop), measure,
                                          lambda point: 100 * (dense_acc - point.accuracy) / acc_drop if acc_drop > 0 else 1.0))
    for c in criteria:
        c.fail = first_failure(c.fails, levels, stride, branching)
    return criteria


def settle(criteria: list[SearchedCriterion], measured: dict[int, CurvePoint], levels: int, max_evaluations: int) -> None:
    """Lower each criterion's failure to the first measured point that fails it.

    A pass measures both criteria (and ``--sweep`` measures its own points), so one search's
    point, or the sweep's, can fail the other criterion below the crossing that one's scan
    found, which would then report a limit its own measurements contradict. From the first
    such point down to the measured point below it (a pass: the point is the first) the cell is
    bisected, within what is left of the criterion's ``max_evaluations``: the failure is then one
    grid step above a measured pass, or, when the budget ran out first, the measured pass below
    it is reported. Bisecting measures new points, which may do the same to the other
    criterion, so it repeats until no measured point contradicts a limit. The index 0 (the
    dense model) is taken to pass, as :func:`first_failure` takes it."""
    changed = True
    while changed:
        changed = False
        for c in criteria:
            end = levels if c.fail is None else c.fail
            first = next((i for i in sorted(measured) if 0 < i < end and c.test(measured[i])), None)
            if first is None:
                continue
            lo, hi = max((i for i in measured if i < first), default=0), first
            while hi - lo > 1 and len(c.asked) < max_evaluations:
                mid = (lo + hi) // 2
                failed = c.fails(mid)
                measured[mid] = c.measure(mid)
                lo, hi = (lo, mid) if failed else (mid, hi)
            c.fail, c.below = hi, (None if hi - lo == 1 else lo)
            changed = True


# the least weight of a cell far below the threshold, against 1 + this at it (look_between); measured
# on the benchmark of docs/benchmarks.md §3, weighting by nearness found 2 loss limits nearer the
# sweep's than width alone, and the stand-in's wide excursions alike
NEAR_FLOOR = 0.05


def look_between(criteria: list[SearchedCriterion], measured: dict[int, CurvePoint], levels: int,
                 max_evaluations: int) -> None:
    """Spend what is left of the budget looking for a failure below each criterion's limit.

    The scans leave cells up to a coarse stride wide unmeasured below the crossing they found,
    and a criterion that fails and recovers inside one (an excursion) has its first crossing
    there: the scans then report a limit past it. The midpoint of the unmeasured cell below a
    criterion's failure most likely to hold one, the widest once weighted by how near its ends
    come to failing (``near``: a cell whose ends lie far below the threshold is less likely to
    hold a failure than one of the same width near it; the weight is at least 0.05, so that wide
    cells far below are looked into too), the lowest of equals, is measured while the passes left, of
    ``max_evaluations`` in all (``measured``, the passes so far, both criteria sharing them) and
    of the criterion's own, can still bisect the cell's lower half to one grid step, so that a
    failure found there is located as exactly as the scans locate theirs (by :func:`settle`).
    This finds excursions wider than the cells it reaches, not every one: only a sweep of every
    grid ratio does that."""
    while True:
        cells = []
        for c in criteria:
            if c.below is not None:  # settle's bisection ran out of budget: none left to look with
                continue
            known = sorted({0, *(i for i in measured if c.fail is None or i < c.fail)})
            for lo, hi in zip(known, [*known[1:], levels] if c.fail is None else known[1:]):
                mid = (lo + hi) // 2
                left = max_evaluations - max(len(c.asked), len(measured)) - 1  # after measuring mid
                if hi - lo > 1 and left >= 0 and 2 ** left >= mid - lo:
                    near = max((c.near(measured[i]) for i in (lo, hi) if i in measured), default=1.0)
                    cells.append((-(hi - lo) * (NEAR_FLOOR + max(near, 0.0)), lo, mid, c))
        if not cells:
            return
        _, _, mid, c = min(cells, key=lambda cell: cell[:2])
        c.fails(mid)
        measured[mid] = c.measure(mid)
        settle(criteria, dict(measured), levels, max_evaluations)


def below_failure(fail: int | None, levels: int) -> float:
    """Grid ratio just below the failure (the last grid point when nothing failed)."""
    return (levels - 1 if fail is None else fail - 1) / levels


def _sweep_indices(levels: int, points: int) -> list[int]:
    return sorted({round(k * (levels - 1) / max(points - 1, 1)) for k in range(points)})
