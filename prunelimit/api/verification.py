"""``verify``: the prediction beside the measured actual limit, and why they differ."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from prunelimit.api.curvature import NO_SPECTRUM_TIMING, require_data
from prunelimit.api.limit import (
    BoundsReport, PredictionSource, advised, bounds, inputs_regime, measured_here, prediction_report, verify_advice,
    verify_measures,
)
from prunelimit.api.options import CurvatureOptions
from prunelimit.baseline import Provenance, precision_now, stored_with
from prunelimit.cache import InputKeys, Store, data_fingerprint
from prunelimit.equality import compared_by_value
from prunelimit.errors import option, said
from prunelimit.inputs import Inputs
from prunelimit.models.params import prunable_parameters
# |Δ| above LARGE_GAP: a diagnosis in words
from prunelimit.pruning.actual import LARGE_GAP, ActualLimit, CurvePoint, stated_dense
from prunelimit.pruning.refit import RefitLimit
from prunelimit.report.jsonout import plain
from prunelimit.report.notebook import brief, shown, verify_summary
from prunelimit.report.rounding import percent
from prunelimit.theory.regime import Regime, measured_advice
from prunelimit.theory.uncertainty import Uncertainty
from prunelimit.validate import real


NEAR_ZERO = (1e-3, 1e-2, 1e-1)  # the |w| thresholds of ``weights_below`` and the diagnosis


@brief
@dataclass(frozen=True)
class PredictedLimit:
    """What ``verify`` sets beside the measured limit: a ``bounds`` result computed here, or
    one read from a saved ``bounds --json`` report (``source`` names the file).

    ``body`` is the saved document's bounds part, which ``verify --json`` extends (``None``
    when computed here: the ``BoundsReport`` writes it).
    """

    ratio: float
    lower: float | None
    upper: float | None
    epsilon: float
    radius: float
    trace: float
    params_hessian: int
    scope: str
    warnings: tuple[str, ...]
    cached: bool
    body: dict | None = field(default=None, repr=False)
    source: str | None = None
    uncertainty: "Uncertainty | None" = None  # ρ*'s, as ``prediction.uncertainty`` states it (``None``: not stated)
    epsilon_source: str | None = None  # where ε came from, as bounds states it (``None``: a report stating none)

    @classmethod
    def from_bounds(cls, rep: BoundsReport) -> "PredictedLimit":
        s = rep.spectrum
        return cls(rep.ratio, rep.lower, rep.upper, rep.epsilon, rep.radius, s.trace, s.params_hessian, rep.scope,
                   rep.warnings, s.cached, uncertainty=rep.uncertainty, epsilon_source=rep.epsilon_source)

    @classmethod
    def from_report(cls, path: str, report: dict) -> "PredictedLimit":
        """The prediction a ``bounds``/``verify`` JSON document records; ``InputError`` (exit
        3) naming the field when it is not one."""
        from prunelimit.errors import InputError, said
        from prunelimit.gate_rules import REPORT_SCHEMAS, check_stated_plus_minus, measured_value, recorded_warnings

        if not isinstance(report, dict) or report.get("schema") not in REPORT_SCHEMAS:
            # a library result's to_json() leaves the key out: document() adds it
            unmarked = isinstance(report, dict) and "schema" not in report
            bare = unmarked and isinstance(report.get("prediction"), dict)
            fix = said(f"{'its schema key is missing, which every report prunelimit writes holds; ' if unmarked else ''}"
                       "write it with `prunelimit bounds CHECKPOINT --json > report.json`",
                       f"{'it has no schema key; ' if bare else ''}save prunelimit.report.jsonout.document('bounds', "
                       "result.to_json()), which adds the key to_json() leaves out, or pass the BoundsReport itself")
            raise InputError(f"{path} is not a prunelimit bounds report; {fix}")

        def number(section: str, key: str, optional: bool = False) -> float | None:
            value = (report.get(section) or {}).get(key) if isinstance(report.get(section), dict) else None
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"{path}: {section}.{key} is missing or not a finite number")
            return float(value)

        epsilon = report.get("epsilon")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0 \
                or not math.isfinite(epsilon):
            raise InputError(f"{path}: epsilon is missing or not a positive number")
        check_stated_plus_minus(path, report.get("prediction"))
        recorded = report.get("bounds")
        has_lower = isinstance(recorded, dict) and recorded.get("lower") is not None
        lower = measured_value(report, "lower", path) if has_lower else None
        upper = number("bounds", "upper", True)
        if upper is not None and not 0.0 <= upper <= 1.0:
            raise InputError(f"{path}: bounds.upper is {upper}, not a ratio in [0, 1]")
        body = {k: v for k, v in report.items() if k not in ("schema", "actual", "delta", "delta_points",
                                                             "delta_plus_minus", "weights_below", "diagnosis",
                                                             "refit", "prediction_from", "actual_from")}
        return cls(measured_value(report, "predicted", path), lower, upper, float(epsilon),
                   number("prediction", "radius"), number("spectrum", "trace"), int(number("params", "hessian")),
                   str((report.get("prediction") or {}).get("scope", "global")),
                   recorded_warnings(report, str(path)), True, body, str(path), stated_uncertainty(report),
                   report["epsilon_source"] if isinstance(report.get("epsilon_source"), str) else None)


def stated_uncertainty(report: dict) -> "Uncertainty | None":
    """A saved report's ``prediction.uncertainty`` when it states a finite ± (else ``None``), its
    probe runs read from ``spectrum.runs`` where it records none (a report of an older prunelimit):
    what verify, gate and prune read with ``--from``."""
    from prunelimit.theory.uncertainty import Uncertainty

    prediction, spectrum = report.get("prediction"), report.get("spectrum")
    runs = spectrum.get("runs") if isinstance(spectrum, dict) else None
    return Uncertainty.from_json(prediction.get("uncertainty"), runs) if isinstance(prediction, dict) else None


@shown("verify", verify_summary)
@compared_by_value
@dataclass(frozen=True)
class VerifyReport:
    """Prediction (``bounds``, or a saved report) beside the measured actual limit, Δ and, when large, why.

    ``bounds`` is the full ``bounds`` result when it was computed here or given in hand
    (``prediction_from``), ``None`` when the prediction was read from a file (``prediction.source``)."""

    prediction: PredictedLimit
    actual: "ActualLimit"
    delta: float
    diagnosis: tuple[str, ...]
    near_zero: dict[str, float]
    refit: "RefitLimit | None" = None
    bounds: BoundsReport | None = None
    notes: tuple[str, ...] = ()  # verify's own warnings (about a saved prediction and this run's inputs)
    search_cached: bool = False  # the measured limit read from the store (``StoredSearch``), not searched

    @property
    def warnings(self) -> list[str]:
        # once each: a saved prediction of the same file states its input's warnings too
        return list(dict.fromkeys([*self.notes, *self.prediction.warnings]))

    @property
    def delta_plus_minus(self) -> float | None:
        """Δ's ±: ρ*'s as stated (``None``: it states none); the measured limit is exact on its grid."""
        u = self.prediction.uncertainty
        return None if u is None else u.plus_minus

    @property
    def named_limit_note(self) -> str | None:
        """Where the loss limit is a ratio the prediction names, off the search's grid
        (``actual_limit``'s ``named``): which one, for the console; else ``None``."""
        from prunelimit.pruning.actual import named_limit_text

        return named_limit_text(self.actual.loss_ratio, self.prediction.ratio, self.prediction.lower,
                                self.actual.levels)

    def to_json(self) -> dict:
        # a BoundsReport given (prediction_from) was read, as a file is: its work is not this run's
        computed = self.bounds if self.prediction.source is None else None
        body = computed.to_json() if computed is not None else dict(self.prediction.body)
        if computed is None:  # this run's work, not the saved run's: the prediction was read, no products
            body = read_plus_minus(body, self.prediction.uncertainty)
            body["timing"] = read_timing(body.get("timing"))
        # the search comes after the spectrum, outside its seconds and budgets: its own time
        body["timing"] = {**body["timing"], "search": {"seconds": self.actual.seconds, "cached": self.search_cached}}
        body["warnings"] = self.warnings
        body["prediction_from"] = self.prediction.source
        body["actual"] = _actual_json(self.actual)
        body["delta"] = self.delta
        body["delta_points"] = 100 * self.delta
        body["delta_plus_minus"] = self.delta_plus_minus
        body["weights_below"] = self.near_zero
        body["diagnosis"] = list(self.diagnosis)
        if self.refit is not None:
            r = self.refit
            body["refit"] = {"loss_ratio": r.loss_ratio, "accuracy_ratio": r.accuracy_ratio,
                             "loss_crossed": r.loss_crossed, "accuracy_crossed": r.accuracy_crossed,
                             "evaluations": r.evaluations, "finetune_epochs": r.finetune_epochs,
                             "loss_recovers": r.loss_recovers, "accuracy_recovers": r.accuracy_recovers,
                             "delta": self.prediction.ratio - r.loss_ratio}
        return plain(body)


def read_plus_minus(body: dict, u: "Uncertainty | None") -> dict:
    """A saved report's document ``body`` with ρ*'s ± as it was read (``u``, ``stated_uncertainty``),
    not the saved text: one its parts do not give (another version's arithmetic) is none, for
    the console's line, the JSON and the gate's rules alike."""
    saved = body.get("prediction")
    if not isinstance(saved, dict):
        return dict(body)
    return {**body, "prediction": {**saved, "stderr": None if u is None else u.stderr,
                                   "uncertainty": None if u is None else u.to_json()}}


def read_timing(saved: object) -> dict:
    """The ``timing`` of a run that read its prediction from a saved report's ``saved`` timing:
    no spectrum and no overshoot check, which the saved run spent, not this one."""
    kept = {k: v for k, v in saved.items() if k != "overshoot"} if isinstance(saved, dict) else {}
    return {**kept, **NO_SPECTRUM_TIMING}


def _actual_json(a: "ActualLimit") -> dict:
    return {
        "loss_ratio": a.loss_ratio,
        "accuracy_ratio": a.accuracy_ratio,
        "loss_crossed": a.loss_crossed,
        "accuracy_crossed": a.accuracy_crossed,
        "dense_loss": a.dense_loss,
        "dense_accuracy": a.dense_accuracy,
        "acc_drop_points": a.acc_drop,
        "evaluations": a.evaluations,
        "loss_recovers": a.loss_recovers,
        "accuracy_recovers": a.accuracy_recovers,
        "probes": [{"ratio": p.ratio, "loss": p.loss, "accuracy": p.accuracy} for p in a.probes],
        "curve": [{"ratio": p.ratio, "loss": p.loss, "accuracy": p.accuracy} for p in a.curve],
    }


@dataclass(frozen=True)
class MeasuredLimit:
    """The limit one-shot pruning reaches, measured alone (no prediction, no spectrum): what
    a gate whose rules all use ``actual`` stands on. Its ε is the dense model's per-batch
    loss spread (from the search's first pass, the model as given) or the given ``epsilon``,
    as ``verify``'s."""

    actual: "ActualLimit"
    epsilon: float
    epsilon_source: str
    regime: "Regime"
    provenance: "Provenance"
    warnings: tuple[str, ...] = ()
    cached: bool = False  # read from the store (``StoredSearch``), not searched

    def to_json(self) -> dict:
        from prunelimit.baseline import provenance_json

        p = self.provenance
        return plain({
            **provenance_json(p, p.hessian, p.prunable),
            "epsilon": self.epsilon,
            "epsilon_source": self.epsilon_source,
            "regime": self.regime.to_json(),
            "actual": _actual_json(self.actual),
            "warnings": list(self.warnings),
            "timing": {"search": {"seconds": self.actual.seconds, "cached": self.cached}},
        })


# the kind of the store's entries that hold a measured limit (``StoredSearch``)
SEARCH_KIND = "measured limit"


@dataclass(frozen=True)
class SearchCriterion:
    """What keys a stored measured limit besides the inputs (``stored.result_keys``): the loss
    criterion it is the limit of, by ε as given (``None``: the std of these inputs' per-batch
    losses, which verify and a gate derive alike) and the pruning scope."""

    epsilon: float | None
    scope: str


@dataclass(frozen=True)
class StoredSearch:
    """A measured limit kept for the next command, with ε's source and what its search read
    besides the loss criterion: the accuracy criterion's data (``evaluation``, its fingerprint;
    ``None``: the analysis data), ``sweep`` and the ratios it was told (``failed``, ``named``).
    ``verify`` reads one only where they are its own; a gate whose rules all use the measured
    limit reads any, as it reads a verify report's with ``--from``: the limit of a search under
    the same loss criterion, on the same inputs. Without it a gate after verify in one CI job
    ran the same search again."""

    actual: ActualLimit
    epsilon_source: str
    evaluation: str | None
    sweep: int
    failed: tuple[float, ...]
    named: tuple[float, ...]


def _search_key(inputs: Inputs, store: "Store | None", epsilon: float | None, scope: str,
                read: "InputKeys | None" = None) -> str | None:
    """The key of the measured limit of ``inputs`` under ε as given (``epsilon``) and ``scope``
    (``read``: the inputs as the command keyed them already, ``stored.input_keys``)."""
    from prunelimit.api.stored import result_keys

    return result_keys(inputs, store, lambda _, criterion: criterion, read)(SearchCriterion(epsilon, scope),
                                                                             SEARCH_KIND)


def _stored_search(store: "Store | None", key: str | None,
                   fits: Callable[[StoredSearch], bool] = lambda found: True) -> StoredSearch | None:
    """The measured limit ``store`` holds under ``key`` where ``fits`` takes it, else ``None``."""
    from prunelimit.api.stored import stored_result

    return stored_result(store, key, SEARCH_KIND, StoredSearch, lambda found: found if fits(found) else None)


def measured_limit(inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), progress=None,
                   store: "Store | None" = None, known: Provenance | None = None) -> MeasuredLimit:
    """The one-shot limit by the loss criterion (``verify``'s search, global scope) without
    the curvature work a prediction needs: the search needs only ε. ``progress`` hears its
    passes as ``verify``'s do. A loss curve the search saw fail and recover is a warning.
    A limit ``store`` holds for these inputs and ε (``StoredSearch``: a verify's or a gate's)
    is read, no pass made; one searched here is kept there. ``known``: the inputs' provenance,
    taken already by the caller (``gate``)."""
    from prunelimit.api.curvature import limit_target, require_limit_inputs
    from prunelimit.baseline import provenance
    from prunelimit.models.params import required_prunable
    from prunelimit.pruning.actual import actual_limit
    from prunelimit.theory.epsilon import rounding_epsilon_warning

    require_data(inputs)
    start = time.perf_counter()
    key = _search_key(inputs, store, options.epsilon, "global")
    found = _stored_search(store, key)
    if found is not None:
        require_limit_inputs(inputs, options)  # refused alike, read or searched
        actual = replace(found.actual, seconds=time.perf_counter() - start)  # this run's time: the read
        epsilon, source = actual.epsilon, found.epsilon_source
        weights = [p.detach() for _, p in required_prunable(inputs.model, inputs.selection)]
    else:
        dense, losses = (None, None) if options.epsilon is not None else _dense_and_losses(inputs, options)
        target = limit_target(inputs, options, losses)  # its profile is the search's (global) path: one sort
        actual = actual_limit(inputs.model, inputs.batches, inputs.loss_fn, target.epsilon,
                              selection=inputs.selection, progress=_search_progress(progress), measured_dense=dense,
                              path=target.profile)
        epsilon, source, weights = target.epsilon, target.epsilon_source, list(target.weights)
        store_search(store, key, StoredSearch(actual, source, None, 0, (), ()))
    unresolved = rounding_epsilon_warning(epsilon, actual.dense_loss)  # as bounds warns of it
    notes = (*actual.recovery_notes(accuracy=False), *(() if unresolved is None else (unresolved,)))
    taken = provenance(inputs, options) if known is None else known
    return MeasuredLimit(actual, epsilon, source, inputs_regime(inputs, weights), taken, notes, found is not None)


def store_search(store: "Store | None", key: str | None, search: StoredSearch) -> None:
    """Keep ``search`` under ``key`` for the next command (none without a store or a key)."""
    from prunelimit.api.stored import store_result

    store_result(store, key, SEARCH_KIND, search)


def _dense_and_losses(inputs: Inputs, options: CurvatureOptions) -> tuple[CurvePoint | None, np.ndarray]:
    """The default ε's per-batch losses (``epsilon_losses``) and, where they are a pass over the
    model as given, that pass's loss and accuracy: the search's dense point, which it then does
    not measure again (one pass over the analysis data fewer, as ``verify`` takes it from the
    overshoot check)."""
    from prunelimit.api.curvature import epsilon_losses, own_pass_losses
    from prunelimit.distributed import gather_shards
    from prunelimit.models.evaluate import evaluate_with_losses
    from prunelimit.theory.epsilon import finite_batch_losses

    if not own_pass_losses(inputs):
        return None, epsilon_losses(inputs, options)
    dense, local = evaluate_with_losses(inputs.model, inputs.batches, inputs.loss_fn)
    losses = finite_batch_losses(gather_shards(local, len(inputs.batches)))
    return CurvePoint(ratio=0.0, loss=dense.loss, accuracy=dense.accuracy), losses


def _search_progress(progress):
    """``progress(done, total, text)`` as the actual-limit search calls it: ``(done, most)``."""
    return None if progress is None else (lambda done, most: progress(done, most, "actual-limit search: passes"))


def check_verify_options(acc_drop: float, sweep: int) -> None:
    """``verify``'s own settings, before any work: ``acc_drop`` percentage points in [0, 100]
    and ``sweep`` a count (``prunelimit.limits.COUNT_RANGES``); an ``OptionError`` naming it."""
    from prunelimit.limits import check_counts
    from prunelimit.pruning.actual import check_acc_drop

    check_acc_drop(acc_drop)
    check_counts({"sweep": sweep})


def verify(
    inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), eval_batches=None, acc_drop: float = 0.5,
    sweep: int = 0, scope: str = "global", progress: Callable[..., object] | None = None, refit_epochs: int = 0,
    refit_lr: float = 0.01,
    store: "Store | None" = None, prediction_from: PredictionSource | None = None, known: Provenance | None = None,
) -> VerifyReport:
    """Run ``bounds`` (or read its saved report, ``prediction_from``: the file, or a
    ``BoundsReport`` in hand), then measure the actual limit and set them side by side.

    A saved report must describe these inputs (the same weights, Hessian and prunable sets
    and data, ``prunelimit.baseline.check_same_problem``) and the same pruning ``scope``; it
    costs no curvature work. ``refit_epochs > 0`` also measures the limit after masked
    fine-tuning (``--refit``). ``known``: the inputs' provenance along ``scope``, taken already by
    the caller (``gate``), not taken again.
    """
    from prunelimit.pruning.actual import actual_limit
    from prunelimit.pruning.finetune import FinetuneConfig, data_batch_size
    from prunelimit.pruning.masks import pruning_held
    from prunelimit.pruning.refit import refit_limit

    from prunelimit.api.stored import input_keys

    check_verify_options(acc_drop, sweep)
    require_data(inputs)
    rep, notes, stated = None, [], False
    # the inputs read once for the spectrum's key, the check's and the search's (each read every tensor
    # and ran the loss witness again: 0.8 s of a 4.1M-weight MLP's)
    read = input_keys(inputs, store)
    if prediction_from is not None:
        prediction, saved_notes = saved_prediction(prediction_from, inputs, options, scope, known)
        overshoot, measured = saved_overshoot(prediction.source, prediction.body.get("overshoot"), prediction, inputs,
                                              scope)
        stated = prediction.body.get("overshoot") is not None
        prediction = replace(prediction, body={**prediction.body, "overshoot": overshoot})
        # what qualifies this run's inputs, as bounds says; an overshoot measured here told as the prediction's is
        notes = list(inputs.qualified([*saved_notes, *told_measured(measured)]))
    else:
        rep = bounds(inputs, options, progress, scope, store, known=known, read=read)
        prediction = PredictedLimit.from_bounds(rep)
    # bounds' overshoot check measured the model as given on these batches: the search's dense point
    checked = None if rep is None else rep.overshoot
    if checked is not None:
        dense = CurvePoint(0.0, checked.dense_loss, checked.dense_accuracy)
    else:  # --from: as the report's check states it (one measured here on an older report's prediction too),
        # where it was measured at this run's device and float precision (a GPU's TF32 loss is not set
        # beside this CPU's points); the report was checked to hold these weights and data
        same_precision = not stated or prediction.body.get("precision") == precision_now(inputs.device)
        dense = stated_dense(prediction.body.get("overshoot")) if same_precision else None
    failed = tuple(overshot_ratios(prediction.body.get("overshoot") if checked is None else checked.to_json()))
    named = tuple(predicted_ratios(prediction))
    # the limit a search with these settings and this ε stored: --from's too (a report checked to hold these
    # inputs, its ρ*, ρ_L and overshoot points those the search was told), which keeps none: its ε is the
    # report's, and a gate reads whatever the key holds as the limit under the ε derived here
    start = time.perf_counter()
    evaluation = None if eval_batches is None or eval_batches is inputs.batches else data_fingerprint(eval_batches)
    key = _search_key(inputs, store, options.epsilon, scope, read)
    settings = (evaluation, sweep, failed, named, float(acc_drop), prediction.epsilon)
    found = _stored_search(store, key, lambda s: (s.evaluation, s.sweep, s.failed, s.named, s.actual.acc_drop,
                                                  s.actual.epsilon) == settings)
    if found is not None:
        actual = replace(found.actual, seconds=time.perf_counter() - start)  # this run's time: the read
    else:
        actual = actual_limit(inputs.model, inputs.batches, inputs.loss_fn, prediction.epsilon,
                              eval_batches=eval_batches, acc_drop=acc_drop, scope=scope, selection=inputs.selection,
                              sweep_points=sweep, progress=_search_progress(progress), measured_dense=dense,
                              failed=failed, named=named, path=None if rep is None else rep.profile)
        if prediction_from is None:
            store_search(store, key, StoredSearch(actual, str(prediction.epsilon_source), evaluation, sweep, failed,
                                                  named))
    delta = prediction.ratio - actual.loss_ratio
    prunable = prunable_parameters(inputs.model, inputs.selection)
    weights = np.abs(np.concatenate([p.detach().cpu().double().reshape(-1).numpy()  # numpy has no bfloat16
                                     for _, p in prunable]))
    near_zero = {f"{t:g}": float(np.mean(weights < t)) for t in NEAR_ZERO}
    refit = None
    if refit_epochs > 0:
        refit = refit_limit(inputs.model, inputs.batches, inputs.loss_fn, prediction.epsilon,
                            FinetuneConfig(epochs=refit_epochs, lr=refit_lr, batch_size=data_batch_size(inputs.batches),
                                           seed=options.seed),
                            eval_batches=eval_batches, acc_drop=acc_drop, scope=scope, selection=inputs.selection,
                            masks=pruning_held(inputs.loaded, inputs.selection), progress=None if progress is None else
                            (lambda done, most: progress(done, most, "refit search: fine-tuning steps")),
                            measured_dense=actual.probes[0])  # the model as given, which the one-shot search measured first
    # the regime bounds assessed, or (--from: a report checked to hold these weights) assessed alike here
    regime = rep.regime if rep is not None else inputs_regime(inputs, [p.detach() for _, p in prunable])
    diagnosis = tuple(_diagnose(prediction, delta, weight_shares(weights), regime, refit))
    prediction = replace(prediction, warnings=tuple(told_measured(prediction.warnings)))
    # a BoundsReport given is held as one, so that it passes on (prediction_from=report.bounds): as None it
    # was no prediction, and the next call computed one anew with its own options
    held = prediction_from if isinstance(prediction_from, BoundsReport) else rep
    return VerifyReport(prediction, actual, delta, diagnosis, near_zero, refit, held, tuple(notes), found is not None)


def overshot_ratios(overshoot: object) -> list[float]:
    """The ratios an overshoot check (its JSON: this run's, or a saved report's, which was
    checked to describe these weights and data) measured past L + ε, for the search to
    settle below (``actual_limit``'s ``failed``): else its limit could lie above a point the
    flags say lies past it."""
    if not isinstance(overshoot, dict) or not isinstance(overshoot.get("checked"), dict):
        return []
    limit = overshoot.get("loss_limit")
    points = [overshoot["checked"].get(name) for name in ("lower", "predicted") if overshoot.get(name) is True]
    # a flag may stand on a failure below its point: the points whose own loss failed (null: NaN, as JSON has none)
    return [p["ratio"] for p in points if isinstance(p, dict) and real(p.get("ratio")) and 0 < p["ratio"] < 1
            and not (real(p.get("loss")) and real(limit) and p["loss"] <= limit)]


def predicted_ratios(prediction: PredictedLimit) -> list[float]:
    """The ratios the prediction names and its overshoot check measures (ρ*, ρ_L, ρ* − 5 points),
    for the search to measure where one lies between its grid limit and the failure above it
    (``actual_limit``'s ``named``): else a ratio the check found within L + ε could lie above the
    limit reported, one grid step removing more weights than it."""
    return [r for r in (prediction.ratio, prediction.lower, prediction.ratio - LARGE_GAP) if r is not None and 0 < r < 1]


def told_measured(warnings) -> list[str]:
    """``warnings`` that tell the reader to measure the limit (``measured_advice``,
    ``verify_measures``) as ``verify``, which measured it, tells them: go by it."""
    return advised(advised(warnings, measured_advice, verify_advice), verify_measures, measured_here)


def saved_prediction(source: "PredictionSource", inputs: Inputs, options: CurvatureOptions,
                     scope: str = "global", known: Provenance | None = None) -> tuple[PredictedLimit, list[str]]:
    """The prediction of a saved ``bounds --json`` report (or a ``BoundsReport`` in hand) for
    ``inputs``, and warnings (``api.limit.prediction_report`` checks that it fits)."""
    name, report, notes = prediction_report(source, inputs, options, scope, known=known)
    return PredictedLimit.from_report(name, report), notes


def saved_overshoot(name: str, stated: object, estimate: "PredictedLimit | None", inputs: Inputs,
                    scope: str = "global") -> tuple[dict | None, list[str]]:
    """The overshoot check of a prediction read from ``name`` (``--from``): ``stated``, the
    one the saved report states (measured on these weights and data, which it was checked to
    describe), or, in a report that states none (an older prunelimit's), measured here on the
    saved ρ*, ρ_L and ε (``estimate``, read only then) along the report's pruning ``scope``: two
    or three passes, no curvature work. Without it the ``overshoot`` of ``gate`` and ``verify``
    was ``null`` or absent, and ``prune`` warned of none, in silence, as if nothing overshot. A
    stated one out of shape is refused (``InputError``, exit 3): the file was edited or damaged."""
    from prunelimit.api.limit import overshoot_warning
    from prunelimit.errors import InputError
    from prunelimit.pruning.actual import overshoot_check
    from prunelimit.report.safe import clipped

    if stated is not None:
        flags = [stated.get(key, "absent") for key in ("lower", "predicted")] if isinstance(stated, dict) else None
        if flags is None or any(flag is not None and not isinstance(flag, bool) for flag in flags):
            raise InputError(f"{name}: overshoot is {clipped(json.dumps(stated))}, not an object whose lower and "
                             "predicted are true, false or null: the file was edited or damaged; store it again with "
                             f"{stored_with('`prunelimit bounds --json`')}")
        return stated, []
    check = overshoot_check(inputs.model, inputs.batches, inputs.loss_fn, estimate.epsilon, estimate.ratio,
                            estimate.lower, scope=scope, selection=inputs.selection)
    warning = overshoot_warning(check)
    return check.to_json(), [] if warning is None else [f"{name} states no overshoot check (an older report), so it "
                                                        f"was measured here: {warning}"]


def _weights_cause(regime: Regime, shares: str) -> str:
    """What the weights say of an overshoot, as the regime check (``theory.regime``) reads
    them. "The weights are not concentrated near zero" was said of every model: of an
    l1-trained BatchNorm MLP with 98 % of its weights below 0.01 (l1-shaped), and of a model
    pruned already, whose shape the regime check says cannot tell; an l1-shaped model whose
    checkpoint records no l1 is told that finding, not that it looks l1-trained; one without a
    record, that its share may be weight decay's (a model trained with weight decay 0.02 and no
    l1 was told it looks l1-trained)."""
    if regime.l1_shaped and regime.l1_trained:  # l1-trained at least in part: the share cannot tell how far
        share = f"near-zero share {percent(regime.near_zero_share, 1)}; {shares}"
        if regime.training is None:
            return (f"the model looks l1-trained or trained with weight decay, whose near-zero shares look alike "
                    f"({share}), yet models l1-trained only in part (briefly, or after plain training) or with weight "
                    "decay alone overshoot so too")
        return (f"the model looks l1-trained ({share}), yet models l1-trained only in part (briefly, or after plain "
                "training) overshoot so too")
    if regime.train_with_l1 and not regime.l1_shaped:
        return f"the weights are not concentrated near zero ({shares})"
    return f"{regime.finding} ({shares})"  # too few weights, pruned already, or l1-shaped yet recorded plain


def _l1_fix(regime: Regime) -> str:
    """The l1 part of the diagnosis's fix (``Regime.l1_fix``: by what the checkpoint records
    of its training where it does), none where the weights' shape cannot tell."""
    return f"{regime.l1_fix('LOMP: ')}, or " if regime.train_with_l1 or regime.l1_shaped else ""


def weight_shares(magnitudes: np.ndarray) -> str:
    """The shares of prunable weights near zero that a diagnosis quotes, from their ``|w|``.
    Exact zeros (a pruned model's) are stated apart and the shares are of the rest: counted
    together they read as weights concentrated near zero, the opposite of what the weights
    pruning removes next show."""
    rest = magnitudes[magnitudes != 0]
    shares = ", ".join(f"{percent(float(np.mean(rest < t)) if rest.size else 0.0, 1)} below {t:g}" for t in NEAR_ZERO)
    zeros = magnitudes.size - rest.size
    return shares if zeros == 0 else f"{percent(zeros / magnitudes.size, 1)} exactly zero already; of the rest {shares}"


def _finetune_fix(rep: PredictedLimit, refit: RefitLimit | None) -> str:
    """Fine-tuning after pruning as the diagnosis's fix: as such where this run measured none,
    else as its refit search (``--refit``) measured it, which the fix named as if untried: to
    N epochs of it where they reach within 5 points of ρ*, longer where they fall short."""
    if refit is None:
        return ("fine-tune after pruning ("
                + said("`prunelimit prune --finetune-epochs N`", "prunelimit.train(pruning.apply(model), data)") + ")")
    epochs = refit.finetune_epochs
    reached = (f"{said('--refit', 'refit=True')} measured the limit at {percent(refit.loss_ratio)} after {epochs} "
               f"fine-tuning epoch{'' if epochs == 1 else 's'}")
    short = rep.ratio - refit.loss_ratio
    if short <= LARGE_GAP:
        how = said(f"`prunelimit prune --finetune-epochs {epochs}`",
                   f"prunelimit.train(pruning.apply(model), data, epochs={epochs})")
        return f"fine-tune after pruning ({how}: {reached})"
    how = said(f"`prunelimit prune --finetune-epochs N`, N above {epochs}",
               f"prunelimit.train(pruning.apply(model), data, epochs=...) above {epochs}")
    return f"fine-tune longer after pruning ({reached}, still {100 * short:.1f} points below ρ*; {how})"


def _diagnose(rep: PredictedLimit, delta: float, shares: str, regime: Regime,
              refit: RefitLimit | None = None) -> list[str]:
    if abs(delta) <= LARGE_GAP:
        return []
    scale = float(np.sqrt(2 * rep.epsilon * rep.params_hessian / max(abs(rep.trace), 1e-300)))
    if delta > 0:
        finetune = _finetune_fix(rep, refit)
        return [
            f"the prediction overshoots by {100 * delta:.1f} points: one-shot pruning breaks the loss earlier "
            "than the quadratic model expects.",
            f"Likely cause: {_weights_cause(regime, shares)}; R(ρ*) = {rep.radius:.3g} "
            f"against an ellipsoid semi-axis of about {scale:.3g} (sqrt(2εD/Tr H)).",
            f"Fix: {_l1_fix(regime)}{finetune}.",
        ]
    return [
        f"the prediction is {100 * -delta:.1f} points below what one-shot pruning achieves: the bound is "
        "conservative here (the quadratic model overstates how fast the loss grows).",
        f"Check ε ({option('epsilon')}) and the spectrum's convergence warnings above.",
    ]
