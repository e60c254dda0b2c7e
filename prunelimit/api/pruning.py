"""``prune``: one-shot magnitude pruning to a given or predicted ratio, saved in each asked format."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prunelimit.api.curvature import NO_SPECTRUM_TIMING, SpectrumReport, require_data
from prunelimit.api.limit import (
    PredictionSource, advised, bounds, measured_in_report, prediction_report, prune_less,
    unrecognised_warnings,
)
from prunelimit.api.options import CurvatureOptions
from prunelimit.cache import Store
from prunelimit.data.batches import total_samples
from prunelimit.errors import NumericalError, OptionError, UsageError, option
from prunelimit.inputs import Inputs
from prunelimit.io.outputs import Output
from prunelimit.models.evaluate import Evaluation, evaluate
from prunelimit.models.params import ParamSelection, prunable_parameters
from prunelimit.pruning.actual import OvershootCheck, stated_check
from prunelimit.report.notebook import prune_report_summary, shown
from prunelimit.report.rounding import ratio_exact
from prunelimit.theory.profile import PruningPath
from prunelimit.validate import choice


@shown("prune", prune_report_summary)
@dataclass(frozen=True)
class PruneReport:
    """``prunelimit prune``'s result: the ratio asked for and reached and where it came from,
    each tensor's zeros, the loss and accuracy before and after pruning (and after
    fine-tuning) on the evaluation data, the files written, and its warnings."""

    requested: float
    achieved: float
    ratio_source: str
    scope: str
    layers: list
    before: "Evaluation | None"
    after: "Evaluation | None"
    finetuned: "Evaluation | None"
    output: str
    formats: tuple[str, ...]
    acc_drop: float | None = None  # the allowed accuracy drop (points) a predicted ratio is checked against
    warnings: tuple[str, ...] = ()
    # the spectrum a predicted ratio stood on, this run's or the result cache's (``timing``);
    # ``None`` for a given ratio or one read from a saved report (no curvature work)
    spectrum: SpectrumReport | None = None
    # ρ*'s stated ± (``prediction.uncertainty`` of bounds) behind ``--ratio auto``; ``None`` otherwise
    uncertainty: dict | None = None
    seconds: float = 0.0  # the pruning's own: evaluating, pruning, fine-tuning and writing (not the spectrum)
    collapsed: tuple[str, ...] = ()  # the layers the one-shot pruning emptied (``magnitude.emptied``)
    # the loss tolerance the predicted ratio stands on, and where it came from (bounds'
    # ``epsilon``/``epsilon_source``); ``None`` for a given ratio
    epsilon: float | None = None
    epsilon_source: str | None = None
    # the saved report's ``spectrum`` and ``timing`` as read (``--from``): its run's, no work of this one
    read: dict | None = None
    # the limits a ``verify`` report read by ``--from`` measured (``ReadLimit``): the acc-drop
    # warning names them, where it named `prunelimit verify` again; ``None`` otherwise
    measured: "ReadLimit | None" = None
    # ρ_L of the prediction behind ``--ratio auto`` (``None``: none computed, ``--bound-mode none``):
    # the acc-drop warning names ``--ratio lower`` only where it prunes less
    lower: float | None = None
    finetune_epochs: int = 0  # the masked fine-tuning epochs after pruning (``finetuned`` their result)
    # the overshoot check of the prediction behind ``--ratio auto|lower`` (bounds' ``overshoot``, a
    # ``--from`` report's as read); ``None`` for a given ratio
    overshoot: dict | None = None

    @property
    def accuracy_drop(self) -> float | None:
        """Accuracy lost by the one-shot pruning, in percentage points (before fine-tuning)."""
        if self.before is None or self.after is None or None in (self.before.accuracy, self.after.accuracy):
            return None
        return 100.0 * (self.before.accuracy - self.after.accuracy)

    @property
    def acc_drop_exceeded(self) -> bool | None:
        """Whether a predicted ratio (``--ratio auto|lower``) lost more than ``acc_drop``;
        ``None`` when it was not checked (a given ratio, or no accuracy)."""
        from prunelimit.pruning.actual import keeps_accuracy

        if self.acc_drop is None or self.accuracy_drop is None:
            return None
        return not keeps_accuracy(self.before.accuracy, self.after.accuracy, self.acc_drop)

    @property
    def prediction_from(self) -> str | None:
        """The saved report a predicted ratio was read from (``--from``), by name; ``None`` otherwise."""
        return prediction_from(self.ratio_source)

    def to_json(self) -> dict:
        def ev(e):
            return None if e is None else {"loss": e.loss, "accuracy": e.accuracy}

        return {
            "ratio": ratio_json(self.requested, self.achieved, self.ratio_source, self.scope, self.uncertainty,
                                self.epsilon, self.epsilon_source),
            "layers": layers_json(self.layers, self.collapsed),
            "before": {"loss": None, "accuracy": None} if self.before is None else ev(self.before),
            "after": {**({"loss": None, "accuracy": None} if self.after is None else ev(self.after)),
                      "accuracy_drop": self.accuracy_drop},
            "acc_drop": self.acc_drop,
            "acc_drop_exceeded": self.acc_drop_exceeded,
            # whether the predicted ratio lies past the limit one-shot pruning reaches, as bounds
            # measured it: a CI step can tell a pruning that stands on an overshooting prediction
            "overshoot": self.overshoot,
            "finetuned": ev(self.finetuned),
            "output": self.output,
            "formats": list(self.formats),
            "warnings": list(self.warnings),
            # how the spectrum behind a predicted ratio was computed, why and what stopped it
            # (bounds' ``spectrum`` block: ``choice``, ``stopped_by``); null where none was computed or read
            "spectrum": spectrum_json(self.spectrum, self.read),
            # the spectrum's, as bounds' (none computed: zero), and the pruning's own beside it
            "timing": {**spectrum_timing(self.spectrum, self.read), "prune": {"seconds": self.seconds}},
        }


def spectrum_json(spectrum: SpectrumReport | None, read: dict | None = None) -> dict | None:
    """``spectrum`` of a pruning's JSON (``prune --json``, ``Pruning.to_json``): bounds' block
    for the spectrum behind a predicted ratio (its solver ``choice`` and reason, ``stopped_by``),
    a saved report's block as read (``read``: ``--from``, as verify --json carries it), ``None``
    for a given ratio."""
    if spectrum is not None:
        return spectrum.summary_json()
    return None if read is None else read["spectrum"]


def spectrum_timing(spectrum: SpectrumReport | None, read: dict | None = None) -> dict:
    """``timing`` of a pruning's JSON, less the pruning's own seconds: the spectrum's, a saved
    report's as read (``read``: no work of this run, its prediction of the exact spectrum kept,
    as verify --from's), or none (zero; a copy, not the shared constant)."""
    if spectrum is not None:
        return spectrum.timing_json()
    return dict(NO_SPECTRUM_TIMING) if read is None else dict(read["timing"])


def read_spectrum(report: dict) -> dict:
    """A saved report's ``spectrum`` and ``timing`` as a ``--from`` run reads them: the saved
    run's solver and stop, and no curvature work of this run (``read_timing``)."""
    from prunelimit.api.verification import read_timing

    spectrum = report.get("spectrum")
    return {"spectrum": spectrum if isinstance(spectrum, dict) else None, "timing": read_timing(report.get("timing"))}


def layers_json(layers: list, collapsed: tuple[str, ...]) -> list[dict]:
    """``layers`` of a pruning's JSON (``prune --json``, ``Pruning.to_json``): each tensor's
    zeros, and whether the pruning emptied it (as ``bounds --per-layer``'s ``collapsed``)."""
    return [{"name": l.name, "total": l.total, "zeros": l.zeros, "collapsed": l.name in collapsed} for l in layers]


def ratio_json(requested: float, achieved: float, source: str, scope: str, uncertainty: dict | None,
               epsilon: float | None = None, epsilon_source: str | None = None) -> dict:
    """``ratio`` of a pruning's JSON (``prune --json``, ``Pruning.to_json``): the ratio asked
    or predicted, the one pruned to, and the prediction's ± and ε with its source, as bounds
    states them (``None`` without a prediction)."""
    return {"requested": requested, "achieved": achieved, "source": source,
            "prediction_from": prediction_from(source), "scope": scope, "density": 1.0 - achieved,
            "plus_minus": None if uncertainty is None else uncertainty["plus_minus"],
            "uncertainty": uncertainty, "epsilon": epsilon, "epsilon_source": epsilon_source}


def prediction_from(source: str) -> str | None:
    """The saved report a predicted ratio was read from (``--from``), by name, out of the
    ratio's ``source`` as ``resolve_ratio`` words it (``auto from b.json``); ``None`` for a
    given ratio or one predicted here (``auto (bounds)``)."""
    kind, read, name = source.partition(" from ")
    return name if read and kind in ("auto", "lower") else None


@dataclass(frozen=True)
class ReadLimit:
    """The limits a saved ``verify`` report measured (``actual``): the largest ratio within its
    loss criterion, and within its accuracy criterion with its ``acc_drop`` in points (``None``
    for a model that gives no accuracy), and the report's name."""

    loss_ratio: float
    accuracy_ratio: float | None
    acc_drop: float | None
    source: str


def read_limit(report: dict, name: str) -> ReadLimit | None:
    """The limits a ``verify`` report states (``actual``), for the advice of a pruning that
    read its prediction from it; ``None`` for a ``bounds`` report, or one whose loss limit
    reads as no ratio. An accuracy limit that reads as no ratio and points is left out."""
    from prunelimit.validate import real

    actual = report.get("actual")
    loss, ratio, points = (actual.get(key) for key in ("loss_ratio", "accuracy_ratio", "acc_drop_points")) \
        if isinstance(actual, dict) else (None, None, None)
    if not (real(loss) and 0.0 <= loss <= 1.0):
        return None
    if not (real(ratio) and real(points) and 0.0 <= ratio <= 1.0 and 0.0 <= points <= 100.0):
        return ReadLimit(float(loss), None, None, name)
    return ReadLimit(float(loss), float(ratio), float(points), name)


@dataclass(frozen=True)
class ResolvedRatio:
    """A ``--ratio`` as a removed fraction (``value``), where it came from (``source``), the
    warnings of the prediction behind it and the spectrum that prediction stood on (``None``
    for a given number or one read from a saved report), and ρ*'s stated ± for ``auto``
    (``prediction.uncertainty``, which ``lower`` carries too; ``None`` for a number or a report
    stating none), and the prediction's ε with its source (``None`` for a number)."""

    value: float
    source: str
    warnings: tuple[str, ...] = ()
    spectrum: SpectrumReport | None = None
    uncertainty: dict | None = None
    epsilon: float | None = None
    epsilon_source: str | None = None
    read: dict | None = None  # a saved report's spectrum and timing as read (``read_spectrum``; ``--from``)
    measured: ReadLimit | None = None  # the limits a ``verify`` report read by ``--from`` measured
    # the prediction's ρ_L (``None``: none computed, ``--bound-mode none``, or measured past the
    # limit by the overshoot check: the acc-drop warning then names no ``--ratio lower``)
    lower: float | None = None
    overshoot: dict | None = None  # the prediction's overshoot check (bounds' ``overshoot``); ``None`` for a number
    # the prediction's magnitude path along the scope (bounds' ``profile``), which the pruning takes rather than
    # sorting the weights again (~11 s of a 25M-weight model); ``None`` for a number or a saved report
    path: PruningPath | None = dataclasses.field(default=None, compare=False, repr=False)
    # the model as given on the analysis data, as the prediction's overshoot check measured it (bounds'; ``None``
    # for a number or a saved report, measured on its own data): prune's loss and accuracy before pruning there
    dense: Evaluation | None = None


def resolve_ratio(ratio: str, inputs: Inputs, options: "CurvatureOptions", from_report: PredictionSource | None,
                  progress=None, scope: str = "global", store: "Store | None" = None) -> ResolvedRatio:
    """``auto`` → ρ*, ``lower`` → ρ_L (from ``bounds`` or a saved bounds JSON), or a number,
    with the warnings of the bounds computed for it (or of the saved report and of reading
    it): what qualifies the prediction (a model that does not look l1-trained, whose ρ*
    overshoots; a tolerance not met; a Hessian over a subset of the samples) belongs beside
    the pruning it sets; and the spectrum computed or read from ``store`` for it.

    The prediction follows the pruning path of ``scope``; a saved report must have been
    computed for that path (reports without a recorded scope are global).
    """
    if ratio in ("auto", "lower"):
        if from_report is not None:
            from prunelimit.api.verification import PredictedLimit, saved_overshoot
            from prunelimit.gate_rules import measured_value, recorded_warnings

            name, report, notes = prediction_report(from_report, inputs, options, scope)
            value = measured_value(report, "predicted" if ratio == "auto" else "lower", name)
            # the overshoot check the report states (its warning is among the report's), or, in an
            # older report that states none, measured here as verify --from and gate --from do
            stated = report.get("overshoot")
            overshoot, measured = saved_overshoot(name, stated, None if stated is not None else
                                                  PredictedLimit.from_report(name, report), inputs, scope)
            source = report.get("epsilon_source")  # a report from before the key states none
            # a verify report measured the limit: its reader is told to go by it, not to measure it;
            # a bounds report's overshoot, to prune below the points it measured past it
            check, limit = stated_check(stated), read_limit(report, name)
            told = measured_in_report(_pruned_less((*measured, *recorded_warnings(report, name)), check, limit),
                                      report, name)
            return ResolvedRatio(_prunable(value, ratio), f"{ratio} from {name}", _beside_pruning((*notes, *told)),
                                 uncertainty=_saved_uncertainty(report), epsilon=float(report["epsilon"]),
                                 epsilon_source=source if isinstance(source, str) else None,
                                 read=read_spectrum(report), measured=limit,
                                 lower=_within_limit(_stated_lower(report), check), overshoot=overshoot)
        if ratio == "lower" and options.bound_mode == "none":
            raise UsageError(f"{option('ratio', 'lower')} needs the bound ρ_L: drop {option('bound_mode', 'none')}, "
                             f"or use {option('ratio', 'auto')}")
        rep = bounds(inputs, options, progress, scope, store)
        value = rep.ratio if ratio == "auto" else rep.lower
        if value is None:
            raise NumericalError(f"no {ratio} ratio could be computed for {inputs.loaded.path or 'the model'}; "
                                 f"use {option('ratio', 'auto')} or a number")
        # ρ_L stands on the same estimated spectrum: it carries ρ*'s ±, as gate --use lower subtracts it
        stated = rep.uncertainty.to_json()
        return ResolvedRatio(_prunable(value, ratio), f"{ratio} (bounds)",
                             _beside_pruning(_pruned_less(rep.warnings, rep.overshoot)), rep.spectrum,
                             stated, rep.epsilon, rep.epsilon_source, lower=_within_limit(rep.lower, rep.overshoot),
                             overshoot=None if rep.overshoot is None else rep.overshoot.to_json(), path=rep.profile,
                             dense=None if rep.overshoot is None else Evaluation(
                                 rep.overshoot.dense_loss, rep.overshoot.dense_accuracy,
                                 total_samples(inputs.batches)))
    from prunelimit.validate import number_fix, read_number

    try:  # as every numeric option reads its text: float() took 0_9 as 9 and named no fix for 0,9
        value = read_number(ratio, fraction="ratios")
    except ValueError:
        raise OptionError("ratio", f"{option('ratio', ratio, '{0}', repr(ratio))}: use auto, lower or a removed fraction "
                                   f"in [0, 1){number_fix(ratio, fraction='ratios')}") from None
    return ResolvedRatio(value, "given")


def _within_limit(lower: float | None, check: OvershootCheck | None) -> float | None:
    """ρ_L, for the acc-drop warning's ``--ratio lower``, unless ``check`` measured it past the
    limit: ``prune --ratio auto --scope layer`` on the bundled example was told to prune less
    with "--ratio lower, ρ_L = 80.83 %" beside the overshoot warning that measured ρ_L's loss
    above L + ε."""
    return None if check is not None and check.lower_overshoots else lower


def _stated_lower(report: dict) -> float | None:
    """ρ_L as a saved report states it (``bounds.lower``), ``None`` where it states none (``--bound-mode none``)."""
    from prunelimit.validate import real

    bounds = report.get("bounds")
    lower = bounds.get("lower") if isinstance(bounds, dict) else None
    return float(lower) if real(lower) else None


def _pruned_less(warnings, check: OvershootCheck | None, limit: ReadLimit | None = None) -> list[str]:
    """``warnings`` with an overshoot's advice (gate on the measured limit, or verify) made a
    pruning's own: the loss limit a ``--from`` verify report measured, as a ratio; else a
    ratio below the points ``check`` measured past the limit (``limit.prune_less``)."""
    from prunelimit.theory.regime import measured_advice

    if limit is not None:
        return advised(warnings, measured_advice,
                       lambda: f"prune to the limit {limit.source} measured "
                       f"({option('ratio', limit.loss_ratio, shown=ratio_exact(limit.loss_ratio))})")
    if check is None or not (check.lower_overshoots or check.predicted_overshoots):
        return list(warnings)
    return advised(warnings, measured_advice, lambda: prune_less(check))


def _beside_pruning(warnings) -> tuple[str, ...]:
    """A prediction's warnings less its layer-collapse lines (``bounds --per-layer``): the
    pruning flags each layer it empties itself, on what it pruned, and its line would be said twice."""
    from prunelimit.theory.layers import COLLAPSE

    return tuple(w for w in warnings if not w.startswith(COLLAPSE))


def _saved_uncertainty(report: dict) -> dict | None:
    """ρ*'s ± as a saved report states it, as verify --from and gate --from read it, or ``None``
    where it states none that its parts give."""
    from prunelimit.api.verification import stated_uncertainty

    stated = stated_uncertainty(report)
    return None if stated is None else stated.to_json()


def _prunable(value: float, ratio: str) -> float:
    """A predicted ratio ``prune`` can cut to: one of 1 (the fixed point clipped at every weight
    removed) is refused naming the prediction, not as a ratio the user typed."""
    if value >= 1.0:
        name = "ρ*" if ratio == "auto" else "ρ_L"
        raise UsageError.naming(f"{name} is 100 %: the loss stays within ε with every prunable weight removed "
                                "(are they all zero already, or is ε as large as the loss?), and prune takes a "
                                "fraction below 1; give {0} a number, e.g. 0.99", "ratio")
    return value


def prune(
    inputs: Inputs, ratio: float, output, ratio_source: str = "given", scope: str = "global",
    finetune_epochs: int = 0, finetune_lr: float = 0.01, eval_batches=None, formats: tuple[str, ...] = ("prunelimit",),
    force: bool = False, seed: int = 0, progress: Callable[..., object] | None = None, acc_drop: float | None = None,
    ratio_warnings: tuple[str, ...] = (), spectrum: SpectrumReport | None = None,
    uncertainty: dict | None = None, epsilon: float | None = None, epsilon_source: str | None = None,
    read: dict | None = None, measured: ReadLimit | None = None, lower: float | None = None,
    overshoot: dict | None = None, path: PruningPath | None = None, dense: Evaluation | None = None,
) -> PruneReport:
    """One-shot magnitude pruning to ``ratio`` (removed fraction), optional masked fine-tuning, saved.

    ``acc_drop`` (percentage points): the report says whether the one-shot accuracy drop exceeded it.
    ``ratio_warnings``, ``spectrum``, ``uncertainty`` (ρ*'s stated ±), ``epsilon``,
    ``epsilon_source``, ``read``, ``measured``, ``lower`` and ``overshoot``: those of the prediction ``ratio`` came from
    (``resolve_ratio``), kept in the report (the ± in ``meta.pruned`` too); ``path``: its magnitude path along
    ``scope``, not sorted again (``magnitude_masks``); ``dense``: the model as given on the analysis data, as its
    overshoot check measured it, not evaluated again where that is the evaluation data."""
    from prunelimit.io.atomic import staged, write_atomic
    from prunelimit.io.outputs import preflight
    from prunelimit.models.load import masks_by_every_name, relocated_meta, round_to_dtypes
    from prunelimit.pruning.finetune import FinetuneConfig, data_batch_size, finetune
    from prunelimit.pruning.training import frozen_warnings
    from prunelimit.pruning.magnitude import (
        beyond_ratio, check_ratio, collapse_warnings, prune_model, removed_on_path,
    )
    from prunelimit.pruning.masks import (
        overall_ratio, pruning_held, sparsity_table, to_prune_state_dict,
    )
    from prunelimit.report.console import acc_drop_warning

    start = time.perf_counter()
    ratio = check_ratio(ratio)
    formats = tuple(dict.fromkeys(formats))  # a format named twice is one file, written once
    planned = prune_outputs(output, formats)
    preflight(planned.values(), [inputs.loaded.path, inputs.data_spec, *inputs.loaded.recorded_data()], force)
    outputs = {name: out.path for name, out in planned.items()}
    evaluation_data = eval_batches or inputs.batches
    before = None if not evaluation_data else dense if dense is not None and evaluation_data is inputs.batches \
        else evaluate(inputs.model, evaluation_data, inputs.loss_fn)
    held = pruning_held(inputs.loaded, inputs.selection)  # read before pruning adds zeros of its own
    pruned = prune_model(inputs.model, ratio, scope, inputs.selection, held, path)
    masks = pruned.masks
    after = evaluate(inputs.model, evaluation_data, inputs.loss_fn) if evaluation_data else None
    tuned = None
    if finetune_epochs > 0:
        require_data(inputs)
        finetune(inputs.model, masks, inputs.batches, inputs.loss_fn,
                 FinetuneConfig(epochs=finetune_epochs, lr=finetune_lr, batch_size=data_batch_size(inputs.batches),
                                seed=seed), progress=progress)
        round_to_dtypes(inputs.model, inputs.loaded.dtypes)  # evaluated as saved, in the file's float types
        tuned = evaluate(inputs.model, evaluation_data, inputs.loss_fn)
    state = inputs.loaded.stored_state()  # a float16 checkpoint is pruned into a float16 file
    # its specs as read from here, as the model spec and the loss are: -o may be in another folder
    meta = {**relocated_meta(inputs.loaded.meta, inputs.loaded.path),
            "pruned": pruned_meta(ratio, ratio_source, scope, finetune_epochs, inputs.selection, uncertainty)}
    if inputs.data_spec is not None:  # the data it was pruned with, as for the loss: the next command needs no --data
        meta["data"] = inputs.data_spec
    if inputs.loss is not None:  # the loss it was pruned and fine-tuned with, for the commands that read it next
        meta["loss"] = inputs.loss
    meta.pop("train_state", None)
    writers = {"prunelimit": lambda: _own_writer(inputs, state, masks, meta),
               # a tied weight masked under each name, as torch pruning of each of its modules keys it
               "torch-prune": lambda: _torch_writer(to_prune_state_dict(state, masks_by_every_name(inputs.model,
                                                                                                  masks))),
               "safetensors": lambda: _safetensors_writer(state, meta["pruned"])}
    with staged():  # all the files, or none of them
        for f in formats:
            write_atomic(outputs[f], writers[f](), force)
    # counted in what was saved: fine-tuning moves a weight that was zero but not masked
    layers = sparsity_table(inputs.model, inputs.selection)
    removed = removed_on_path(ratio, scope, [p for _, p in prunable_parameters(inputs.model, inputs.selection)])
    rep = PruneReport(ratio, overall_ratio(layers), ratio_source, scope, layers, before, after, tuned,
                      str(outputs[formats[0]]), tuple(str(outputs[f]) for f in formats), acc_drop,
                      # a given ratio has no bounds to say which layers N leaves out: they stay dense
                      inputs.qualified((*ratio_warnings, *unrecognised_warnings(inputs),
                                        *beyond_ratio(ratio, layers, removed, scope),
                                        *collapse_warnings(ratio, scope, pruned.layers, pruned.collapsed),
                                        *_weights_only_warnings(inputs, outputs),
                                        *(frozen_warnings(prunable_parameters(inputs.model, inputs.selection),
                                                          "prune removes them by magnitude with the others",
                                                          inputs.selection)
                                          if finetune_epochs > 0 else ()),
                                        *unchecked_prediction(acc_drop, before, after, measured))), spectrum,
                      uncertainty, time.perf_counter() - start, pruned.collapsed, epsilon, epsilon_source, read,
                      measured, lower, finetune_epochs, overshoot)
    exceeded = acc_drop_warning(rep)
    # in the report's warnings, so its JSON and its HTML page say it as the console does
    return rep if exceeded is None else dataclasses.replace(rep, warnings=(*rep.warnings, exceeded))


def pruned_meta(ratio: float, source: str, scope: str, finetune_epochs: int, selection: "ParamSelection",
                uncertainty: dict | None = None) -> dict:
    """``meta.pruned`` of a pruned file, and of a model ``Pruning.apply`` pruned: what was
    pruned, with the prunable set (``recorded_selection`` reads it), which the commands
    reading it next count without being told again; for ``--ratio auto``, ρ*'s stated ±
    (``plus_minus`` and its parts), so the file says how firm the ratio it records was."""
    stated = {} if uncertainty is None else {"plus_minus": uncertainty["plus_minus"], "uncertainty": uncertainty}
    return {"ratio": ratio, "source": source, "scope": scope, "finetune_epochs": finetune_epochs,
            **stated, **selection.to_meta()}


def unchecked_prediction(acc_drop: float | None, before: "Evaluation | None",
                         after: "Evaluation | None", measured: ReadLimit | None = None) -> tuple[str, ...]:
    """A predicted ratio (``acc_drop`` given) is checked by the accuracy it costs; a model that
    gives none (a regression model) is not, and says so with the loss it measured, so that
    ``--strict`` passing is not read as a check passed; and where the ratio whose loss stays
    within L + ε is to be had: the ``--from`` verify report's (``measured``), which measured
    it, or `prunelimit verify`."""
    if acc_drop is None or before is None or after is None or after.accuracy is not None:
        return ()
    where = "`prunelimit verify` measures the ratio whose loss stays within L + ε" if measured is None else \
        f"{measured.source} measured the ratio whose loss stays within L + ε at {ratio_exact(measured.loss_ratio)}"
    return (f"the pruned ratio was not checked against --acc-drop (nor --strict): the model gives no accuracy "
            f"(not class scores); the loss went from {before.loss:.4g} to {after.loss:.4g} on the evaluation "
            f"data; {where}",)


def _weights_only_warnings(inputs: Inputs, outputs: dict) -> tuple[str, ...]:
    """A model with no spec (a pickled module, an in-memory module) is saved as its weights:
    its code is not, so reading the file back needs ``--model``. (A TorchScript model is
    saved as an archive with its code.)"""
    from prunelimit.api.training import weights_only_warning

    if inputs.loaded.spec is not None or inputs.loaded.source == "torchscript" or "prunelimit" not in outputs:
        return ()
    origin = f"{inputs.loaded.source} checkpoint {inputs.loaded.path}" if inputs.loaded.path else "an in-memory module"
    return (weights_only_warning(str(outputs["prunelimit"]), origin),)


def _own_writer(inputs: Inputs, state: dict, masks: dict, meta: dict) -> Callable[[Path], None]:
    """prunelimit's own format; a TorchScript model as a TorchScript archive, since the own
    format holds a spec to rebuild the model from, which such a model does not have."""
    from prunelimit.io.checkpoint import checkpoint_writer, torchscript_writer

    if inputs.loaded.source == "torchscript":
        return torchscript_writer(inputs.model, masks, meta)
    return checkpoint_writer(inputs.loaded.spec, state, masks, meta)


def _torch_writer(state: dict) -> Callable[[Path], None]:
    from prunelimit.io.checkpoint import save_torch

    return lambda tmp: save_torch(state, tmp)


def _safetensors_writer(state: dict, pruned: dict) -> Callable[[Path], None]:
    """The weights, and ``meta.pruned`` (the prunable set among it) in the header's metadata,
    which holds strings: the file has no masks, and read back it counts what was pruned."""
    import json

    from safetensors.torch import save_file

    from prunelimit.io.checkpoint import SAFETENSORS_PRUNED

    # a copy of each tensor: safetensors refuses tensors that share memory (tied weights)
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in state.items()}
    return lambda tmp: save_file(tensors, str(tmp), metadata={SAFETENSORS_PRUNED: json.dumps(pruned, sort_keys=True)})


PRUNE_FORMATS = {"prunelimit": ("", "checkpoint"), "torch-prune": (".prune.pt", "checkpoint"),
                 "safetensors": (".safetensors", "safetensors")}  # --format: (suffix beside -o, file format)


def prune_outputs(output, formats: tuple[str, ...] = ("prunelimit",)) -> "dict[str, Output]":
    """The file each ``--format`` writes: ``-o`` itself, the others beside it with their suffix."""
    from pathlib import Path

    from prunelimit.io.outputs import Output

    for name in formats:
        choice("formats", name, PRUNE_FORMATS)
    output = Path(output)
    planned = {}
    for name in formats:
        suffix, kind = PRUNE_FORMATS[name]
        path, option = (output.with_suffix(suffix), f"--format {name}") if suffix else (output, "-o")
        planned[name] = Output(option, path, kind)
    return planned
