"""``gate``: a CI verdict on the bounds (or the measured limit) against rules and baselines."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Callable

from prunelimit.api.curvature import NO_SPECTRUM_TIMING, SpectrumReport
from prunelimit.api.limit import (
    PAST_THE_LIMIT, PredictionSource, advised, bounds, measured_in_report, prediction_report, verify_advice,
)
from prunelimit.api.options import CurvatureOptions
from prunelimit.api.verification import (
    PredictedLimit, measured_limit, read_plus_minus, read_timing, saved_overshoot, told_measured, verify,
)
from prunelimit.cache import Store
from prunelimit.equality import compared_by_value
from prunelimit.errors import UsageError, option, option_flag, said
from prunelimit.gate_rules import GateResult, overshot
from prunelimit.inputs import Inputs
from prunelimit.report.jsonout import document
from prunelimit.report.notebook import gate_summary, shown


@shown("gate", gate_summary)
@compared_by_value
@dataclass(frozen=True)
class GateReport:
    """A gate's verdict (``passed``): each rule's outcome (``result``), the JSON document the
    rules were evaluated on (``bounds``), ρ* with its stated ± and the spectrum behind it where
    one was computed or read (``estimate``, ``spectrum``, ``prediction_from``), and its warnings."""

    result: "GateResult"
    bounds: dict  # the whole document the rules read
    cache_hit: bool
    seconds: float
    notes: tuple[str, ...] = ()  # the gate's own warnings (baselines), before the bounds' warnings
    estimate: "PredictedLimit | None" = None  # ρ* and its stated ± (console)
    spectrum: "SpectrumReport | None" = None  # how it was computed and what stopped it (console)
    prediction_from: str | None = None  # the saved report the prediction was read from (``--from``), by name
    # how to fail this gate on the overshoot its warning states, where a rule passed over it (``_fail_advice``)
    fail_advice: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every rule passed."""
        return self.result.passed

    @property
    def warnings(self) -> list[str]:
        # once each: a saved prediction of the same file states its input's warnings too
        warnings = dict.fromkeys([*self.notes, *self.bounds.get("warnings", [])])
        # the gate's own words, not in ``bounds``: a command that reads it back (``--from``) has no such option
        return [f"{w}; {self.fail_advice}" if self.fail_advice and f"{PAST_THE_LIMIT}; " in w else w for w in warnings]

    def to_json(self) -> dict:
        r = self.result
        first = r.outcomes[0]
        return {
            "passed": r.passed,
            "measured": first.measured,
            "compared": first.compared,
            "threshold": first.threshold,
            "baseline": first.baseline,
            "reason": r.reason,
            "fix": first.fix,
            "rules": [{"name": o.rule.name, "use": o.rule.use, "passed": o.passed, "measured": o.measured,
                       "compared": o.compared, "threshold": o.threshold, "baseline": o.baseline,
                       "reason": o.reason, "fix": o.fix,
                       # a saved report's reader can tell a verdict that failed an overshoot from one that ignored it
                       "fail_on_overshoot": o.rule.fail_on_overshoot} for o in r.outcomes],
            # the prediction's measured overshoot (bounds' overshoot), null when no rule reads a prediction
            "overshoot": self.bounds.get("overshoot"),
            "cache_hit": self.cache_hit,
            "warnings": self.warnings,
            "bounds": self.bounds,
            # the spectrum's, as bounds' (none computed: zero), and the gate's whole evaluation beside it
            "timing": {**(NO_SPECTRUM_TIMING if self.spectrum is None else self.spectrum.timing_json()),
                       "gate": {"seconds": self.seconds}},
        }


def gate(inputs: Inputs, rules, options: CurvatureOptions = CurvatureOptions(), store: "Store | None" = None,
         progress: Callable[..., object] | None = None, allow_incompatible: bool = False,
         prediction_from: "PredictionSource | None" = None) -> GateReport:
    """Evaluate gate ``rules`` on the ``bounds`` result, or on the ``verify`` result when a rule
    uses the measured limit (``use: actual``); the spectrum comes from ``store`` when it holds
    one for these inputs and options (``prunelimit.cache.input_key``). When every rule uses
    the measured limit no spectrum is computed: the search needs only ε (``measured_limit``).

    The rules are checked first (``prunelimit.gate_rules.check_rules``: at least one, each
    baseline readable); a baseline computed another way or on another problem is refused
    before any curvature work unless ``allow_incompatible`` (``prunelimit.baseline``).

    ``prediction_from`` reads the prediction from a saved ``bounds --json`` report of these
    inputs (or a ``BoundsReport`` in hand) instead of computing it (``verify --from``'s checks: refused when computed for
    other weights, data or tensors); its method and options are the report's, and baselines
    are compared with them."""
    from prunelimit.baseline import check_baselines, provenance, recorded, sample_notes
    from prunelimit.gate_rules import (
        baseline_overshoot_notes, baseline_reports, check_rules, evaluate_gate, needs_spectrum, resolution_notes,
    )

    start = time.perf_counter()
    rules = check_rules(rules)
    lower = next((rule for rule in rules if rule.use == "lower"), None)
    if lower is not None and options.bound_mode == "none":  # before the spectrum, not after it
        raise UsageError.naming(f"gate rule {lower.name!r} uses lower (ρ_L), which {option('bound_mode', 'none')} "
                                "does not compute: gate on "
                                + said("predicted or actual ({1})", "{1}='predicted' or {1}='actual'")
                                + ", or pass another {0}", "bound_mode",
                                "use")
    baselines = baseline_reports(rules)
    # a baseline only actual rules read is compared as a measured limit: the method is not part of it
    measured_only = {path for path, _ in baselines if not needs_spectrum(r for r in rules if r.baseline == path)}
    # taken once, before any curvature work, and passed on: the commands below took it again (the
    # model saved and hashed again: ~1.4 s of a cached gate of a 100 MB TorchScript archive)
    own = provenance(inputs, options, store=store)
    current, saved, saved_notes, name = own, None, [], None
    if prediction_from is not None:
        name, saved, saved_notes = prediction_report(prediction_from, inputs, options, scoped=False, known=own)
        stated = recorded(saved, name)  # what the saved prediction was computed with
        if not needs_spectrum(rules) and not _holds_measured_limit(saved, stated):
            # the search needs no prediction: the file would be read in vain
            raise UsageError(_measured_only_refusal(saved, stated, name))
        current = replace(current, method=stated.method, options={**current.options, **stated.options})
    actual = {rule.baseline for rule in rules if rule.use == "actual"}
    notes = check_baselines(baselines, current, allow_incompatible, measured_only, actual) if baselines else []
    if not needs_spectrum(rules):
        # a saved verify report of these inputs holds the measured limit: read, no pass (as a mixed policy reads it);
        # else the store's, where a verify or gate before searched it
        measured = None if saved is not None else measured_limit(inputs, options, progress, store, own)
        report = _measured_report(name, saved) if measured is None else document("verify", measured.to_json())
        # no bounds to carry what qualifies the prunable set: the gate says it beside its own notes
        return GateReport(evaluate_gate(report, rules, baselines), report, measured is not None and measured.cached,
                          time.perf_counter() - start, inputs.qualified([*notes, *saved_notes]))
    measures = any(rule.use == "actual" for rule in rules)
    # a saved verify report of these inputs holds the measured limit too: read, not searched again
    measured_from = name if measures and saved is not None and _holds_measured_limit(saved, stated) else None
    if measures and measured_from is None:  # the measured one-shot limit beside the prediction
        # with --from, verify states the saved report's overshoot check, or measures it (an older report)
        verified = verify(inputs, options, progress=progress, store=store, prediction_from=prediction_from, known=own)
        report, rep = document("verify", verified.to_json()), verified.bounds
        report["warnings"] = advised(report["warnings"], verify_advice, lambda: _measured_rules(rules))
        estimate = verified.prediction
    elif saved is not None:  # no curvature work: the saved prediction as verify --from reads it
        estimate = PredictedLimit.from_report(name, saved)
        overshoot, measured_notes = saved_overshoot(name, saved.get("overshoot"), estimate, inputs)
        # this run's work, not the saved run's, as verify --from states it
        # (a gate report's own actual_from names the run it read, not this one)
        # ρ*'s ± as read, as verify --from states it: the rules subtract the ± the console line states
        report, rep = {**read_plus_minus({k: v for k, v in saved.items() if k != "actual_from"}, estimate.uncertainty),
                       "timing": read_timing(saved.get("timing")), "prediction_from": name, "overshoot": overshoot}, None
        if measured_from is not None:  # no search either: its warnings as a gate that searched states them
            report["timing"]["search"] = {"seconds": 0.0}
            report["actual_from"] = measured_from
            report["warnings"] = advised(told_measured(estimate.warnings), verify_advice, lambda: _measured_rules(rules))
            measured_notes = advised(told_measured(measured_notes), verify_advice, lambda: _measured_rules(rules))
        else:  # a verify report's warnings as bounds states them, its measured limit named: this gate measured none
            report["warnings"] = measured_in_report(estimate.warnings, saved, name)
            measured_notes = measured_in_report(measured_notes, saved, name)
        # what qualifies this run's inputs, as bounds says
        notes = list(inputs.qualified([*notes, *saved_notes, *measured_notes]))
    else:
        rep = bounds(inputs, options, progress, store=store, known=own)
        report, estimate = document("bounds", rep.to_json()), PredictedLimit.from_bounds(rep)
    spectrum = None if rep is None else rep.spectrum
    sample = report.get("spectrum", {}).get("hessian_samples") if spectrum is None else \
        None if spectrum.curvature_data is None else spectrum.curvature_data.to_json()
    predicted = [(path, doc) for path, doc in baselines if path not in measured_only]
    notes += sample_notes(predicted, current, sample)
    notes += resolution_notes(report, predicted, rules)
    notes += baseline_overshoot_notes(predicted, rules)
    return GateReport(evaluate_gate(report, rules, baselines), report, spectrum is not None and spectrum.cached,
                      time.perf_counter() - start, tuple(notes), estimate, spectrum, name,
                      _fail_advice(rules, report))


def _fail_advice(rules, report: dict) -> str | None:
    """How to make the gate fail on the overshoot its warning states, where a rule on the value
    measured past the limit passed over it (``gate_rules.overshot``) with a warning alone, which a
    CI job does not read. ``None`` where the option would change no rule: each rule on that value
    fails on it already (the option was given) or its own key turned it off (a policy rule's
    ``fail_on_overshoot: false``, which the option does not override). Named where the reader sets
    it: a --config file that set it false, by its key there."""
    if not any(overshot(rule, report) and not (rule.fail_on_overshoot or rule.own_overshoot_key) for rule in rules):
        return None
    flag = option_flag("fail_on_overshoot")
    given = "`gate --fail-on-overshoot`" if flag.startswith("--") else option("fail_on_overshoot", True, shown="true")
    return said(f"{given} makes a CI job fail on it",
                "prunelimit.gate(..., fail_on_overshoot=True) fails the gate on it")


def _holds_measured_limit(saved: dict, stated) -> bool:
    """Whether the saved report ``saved`` (checked to describe these inputs, ``stated`` its
    provenance) holds the limit one-shot pruning reaches on them: a ``verify`` report's
    ``actual``, searched under its own ε, the one its prediction states and this gate reads.
    One that does not record its weights, data, tensors or loss (an older report) is only
    taken as describing them: its limit is measured again."""
    actual = saved.get("actual")
    recorded = (stated.weights, stated.fingerprint, stated.layout, stated.loss)
    return isinstance(actual, dict) and "loss_ratio" in actual and None not in recorded


def _measured_only_refusal(saved: dict, stated, name: str) -> str:
    """Why a gate whose rules all use ``actual`` refuses ``--from`` ``name``: it holds no
    measured limit (a ``bounds`` report), or one it cannot take as these inputs' (a ``verify``
    report of an older prunelimit, which does not record the keys named), where ``verify --from``
    and a mixed policy read its prediction and measure the limit again."""
    flag = option("prediction_from", flag="--from")
    actual = saved.get("actual")
    if not (isinstance(actual, dict) and "loss_ratio" in actual):
        return f"{flag} has no effect: every rule uses the measured limit, which needs no prediction; drop it, or gate " \
               "on lower or predicted"
    missing = [key for key, value in (("weights.fingerprint", stated.weights), ("data.fingerprint", stated.fingerprint),
                                      ("weights.layout", stated.layout), ("data.loss", stated.loss)) if value is None]
    return (f"{flag} {name} holds a measured limit but records no {', '.join(missing)} (a report of an older "
            "prunelimit), so it cannot be checked to be the limit of these weights, data and loss; drop it to measure "
            "the limit here, or write the report again with "
            + said("`prunelimit verify --json`", "prunelimit.verify(...).to_json()") + " and read that")


def _measured_report(name: str, saved: dict) -> dict:
    """The document a gate whose rules all use ``actual`` stands on (``measured_limit``'s), read
    from the saved verify report ``name`` that holds the limit (:func:`_holds_measured_limit`):
    its provenance, ε and search, the warnings such a gate states of them, ``actual_from``."""
    from prunelimit.baseline import provenance_json
    from prunelimit.pruning.actual import swept_all
    from prunelimit.report.rounding import recovery_notes
    from prunelimit.theory.epsilon import rounding_epsilon_warning
    from prunelimit.validate import real

    a, epsilon = saved["actual"], saved.get("epsilon")
    unresolved = rounding_epsilon_warning(epsilon, a["dense_loss"]) if real(epsilon) and real(a.get("dense_loss")) \
        else None
    again = a.get("loss_recovers")
    return document("verify", {
        **{key: saved.get(key) for key in (*provenance_json(None, 0, 0), "epsilon", "epsilon_source", "regime")},
        "actual": a, "actual_from": name, "timing": {"search": {"seconds": 0.0}},
        "warnings": [*recovery_notes(a["loss_ratio"], again if real(again) else None, None, None,
                                     swept_all=swept_all(a.get("curve"))),
                     *([] if unresolved is None else [unresolved])]})


def as_computed(stood: dict, rules: object) -> dict:
    """The document a ``gate --json`` report stood on (its ``bounds``), with the warnings in
    verify's words where the gate, with rules on the measured limit and on the prediction,
    named its own rules in them (:func:`_measured_rules`): a command that reads the
    prediction from the report has other rules, or none. ``rules``: the report's, as read."""
    named = [SimpleNamespace(name=rule.get("name"), use=rule.get("use"))
             for rule in (rules if isinstance(rules, list) else []) if isinstance(rule, dict)]
    warnings = stood.get("warnings")
    if not isinstance(warnings, list) or len({rule.use == "actual" for rule in named}) < 2:
        return stood  # no rule named in them: a gate on the prediction or on the measured limit alone
    return {**stood, "warnings": advised([str(w) for w in warnings], lambda: _measured_rules(named), verify_advice)}


def _measured_rules(rules) -> str:
    """What a gate that has rules on the measured limit says in place of "gate on the measured
    limit": which of its rules already do, and which read the prediction the warning doubts."""
    def named(use_actual: bool) -> tuple[str, bool]:
        names = [repr(rule.name) for rule in rules if (rule.use == "actual") is use_actual]
        return ("rules " if len(names) > 1 else "rule ") + " and ".join(names), len(names) > 1

    (measured, _), (predicted, several) = named(True), named(False)
    return (f"go by {measured} on the measured limit; {predicted} read{'' if several else 's'} the prediction "
            f"({said('use actual', 'use=' + repr('actual'))} gates {'them' if several else 'it'} on the measured "
            "limit too)")

