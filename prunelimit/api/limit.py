"""``bounds``: the predicted pruning limit ρ*, its bounds and the warnings that qualify it
(Zhang et al., NeurIPS 2024)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from typing import Callable, Union

from torch import nn

from prunelimit import validate
from prunelimit.api.curvature import (
    SpectrumReport,
    limit_target,
    ranking,
    exact_uncertainty,
    path_data,
    products_dtype,
    require_limit_inputs,
    rounding_fix,
    slq_uncertainty,
)
from prunelimit.api.layers import layer_breakdown, with_layers
from prunelimit.api.spectrum_notes import tolerance_warning
from prunelimit.api.stored import input_keys, result_keys, stored_result, store_result, stored_spectrum
from prunelimit.api.options import (
    SLQ_VALIDATED_STIFFNESS,
    SPREAD_TOLERANCE,
    CurvatureOptions,
)
from prunelimit.baseline import Provenance
from prunelimit.cache import InputKeys, Store
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.equality import compared_by_value
from prunelimit.errors import UsageError, option, said
from prunelimit.inputs import Inputs
from prunelimit.models.params import ParamSelection, module_class
from prunelimit.pruning.actual import LARGE_GAP, OvershootCheck
from prunelimit.report.jsonout import plain
from prunelimit.report.notebook import bounds_summary, shown
from prunelimit.report.rounding import half_width_text, loss_digits, loss_text, percent, ratio_below
from prunelimit.report.safe import listed
from prunelimit.theory.layers import LayerBreakdown
from prunelimit.theory.limit import LimitPrediction
from prunelimit.theory.paper import PaperPrediction
from prunelimit.theory.profile import SCOPES, PruningPath, path_profile
from prunelimit.theory.regime import Regime
from prunelimit.theory.uncertainty import Uncertainty


@shown("bounds", bounds_summary)
@compared_by_value
@dataclass(frozen=True)
class BoundsReport:
    """ε, the predicted limit ρ*, its bounds [ρ_L, ρ_U], R(ρ*), and how far to trust them."""

    spectrum: SpectrumReport
    params_prunable: int
    epsilon: float
    epsilon_source: str
    prediction: "LimitPrediction"
    ratio: float
    radius: float
    paper: "PaperPrediction | None"
    half_ratio: float | None
    warnings: tuple[str, ...]
    profile: PruningPath  # the ranked weights: N-long arrays
    uncertainty: "Uncertainty"  # ρ*'s, by source (prunelimit.theory.uncertainty); every ρ* states one
    first_order: float | None = None
    prunable_names: tuple[str, ...] = ()
    scope: str = "global"
    provenance: "Provenance | None" = None  # method, D, N, data fingerprint, options (prunelimit.baseline)
    regime: "Regime | None" = None  # whether the weights look l1-trained (prunelimit.theory.regime)
    layers: "LayerBreakdown | None" = None  # per-layer curvature and shares at ρ*, on request
    overshoot: "OvershootCheck | None" = None  # the loss measured at ρ_L and ρ* − 5 points (pruning.actual)

    @property
    def lower(self) -> float | None:
        """ρ_L by the method's own pipeline (the reference arithmetic with ``--method paper``)."""
        return self.prediction.lower if self.paper is None else self.paper.lower

    @property
    def upper(self) -> float | None:
        """ρ_U by the method's own pipeline, like :attr:`lower`."""
        return self.prediction.upper if self.paper is None else self.paper.upper

    def to_json(self) -> dict:
        from prunelimit.baseline import provenance_json

        s, p = self.spectrum, self.prediction
        return plain(with_layers(self.layers, {
            "method": s.method,
            **provenance_json(self.provenance, s.params_hessian, self.params_prunable),
            "loss": s.loss,
            "epsilon": self.epsilon,
            "epsilon_source": self.epsilon_source,
            "spectrum": s.summary_json(),
            "prediction": {
                "ratio": self.ratio,
                "density": 1.0 - self.ratio,
                "radius": self.radius,
                "continuous_ratio": p.ratio,
                "spread": p.spread,
                "per_run": p.per_run_ratios,
                "half_iterations_ratio": self.half_ratio,
                "stderr": self.uncertainty.stderr,
                "uncertainty": self.uncertainty.to_json(),
                "scope": self.scope,
                "reference_density": None if self.paper is None else aliasing_json(self.paper.aliasing),
            },
            "bounds": {
                "lower": self.lower,
                "upper": self.upper,
                "lower_density": None if self.lower is None else 1.0 - self.lower,
                "upper_density": None if self.upper is None else 1.0 - self.upper,
                "eta": p.eta,
                "mode": p.bound_mode,
            },
            "gradient_norm": s.gradient_norm,
            "first_order_change": self.first_order,
            "regime": None if self.regime is None else self.regime.to_json(),
            "overshoot": None if self.overshoot is None else self.overshoot.to_json(),
            "warnings": list(self.warnings),
            # the check's passes come after the spectrum, outside its seconds and budgets: their own time
            "timing": s.timing_json() if self.overshoot is None else
            {**s.timing_json(), "overshoot": {"seconds": self.overshoot.seconds}},
            "memory": None if s.memory is None else s.memory.to_json(),
        }))


def aliasing_json(a) -> dict:
    """``prediction.reference_density``, which bounds' ``reference density:`` line states (read
    back alike by verify and gate: ``console.reference_density_text``)."""
    # Shares and masses to 1e-9: below that they follow the nodes' last bits (float32
    # products summed in another order move a node by ~1e-7 of itself), not the aliasing.
    return {"kernel_std": a.kernel_std, "grid_step": a.grid_step, "aliased": a.aliased,
            "node_mass_min": round(a.mass_min, 9), "node_mass_max": round(a.mass_max, 9),
            "weight_moved": round(a.moved, 9)}


def bounds(inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), progress: Callable[..., object] | None = None,
           scope: str = "global", store: "Store | None" = None, per_layer: bool = False,
           known: "Provenance | None" = None, read: "InputKeys | None" = None) -> BoundsReport:
    """The predicted pruning limit ρ* and its bounds for a trained model (Zhang et al., NeurIPS 2024).

    ``scope`` is the pruning path R(ρ) follows: ``global`` (one ranking over all tensors)
    or ``layer`` (the same ratio in every tensor, as ``prune``/``verify --scope layer``).
    The spectrum comes from ``store`` when it holds one for these inputs (:func:`stored_spectrum`).
    ``per_layer`` adds each layer's curvature and part in the limit (``api.layers.layer_breakdown``).
    ``known``: the provenance of these inputs, options and scope its caller took already (``gate``,
    before any curvature work), not taken again. ``read``: the inputs as its caller keys its own results
    (:func:`~prunelimit.api.stored.input_keys`: ``verify``'s search), not read again.
    """
    from prunelimit.baseline import provenance
    from prunelimit.theory.consistency import consistency_warnings
    from prunelimit.theory.limit import limit_root, predict_from_quadrature
    from prunelimit.theory.paper import paper_limit

    validate.choice("scope", scope, SCOPES)  # before any work
    if scope == "layer" and options.method == "paper":  # before the spectrum's work
        # named as the reader sets them: it said "use scope global or method default" on the command line
        raise UsageError(f"the reference arithmetic ({option('method', 'paper')}) follows the global pruning path "
                         f"only; use {option('scope', 'global')} or {option('method', 'default')}")
    require_limit_inputs(inputs, options)
    ranked = ranking(inputs)  # the weights sorted once, for every step below (none sorts them again)
    # the inputs read once for the spectrum's key and the check's (and the caller's)
    read = input_keys(inputs, store) if read is None else read
    spec = stored_spectrum(inputs, options, progress, store, ranked, read)
    target = limit_target(inputs, options, spec.batch_losses, ranked)
    epsilon, source, weights = target.epsilon, target.epsilon_source, list(target.weights)
    profile = target.profile if scope == "global" else path_profile(weights, scope)
    kw = dict(eta=options.eta, bound_mode=options.bound_mode, negative=options.negative)
    # the spectrum's ρ* is this one on the global path: solved on its rule for the same ε (a read solved it again)
    solved = spec.limit_ratio if scope == "global" and spec.epsilon == epsilon else None
    prediction = predict_from_quadrature(profile, spec.quadrature, epsilon, solved=solved, **kw)
    paper = None
    ratio, radius = prediction.ratio, prediction.radius
    half = spec.half
    half_ratio = limit_root(profile, half, epsilon, options.negative) if half is not None else None
    if options.method == "paper":  # ρ*, the bounds and the m/2 check all by the reference arithmetic
        q = spec.quadrature
        paper = paper_limit(weights, q.nodes, q.weights, epsilon, dim=q.dim, **kw)
        ratio, radius = paper.ratio, paper.radius
        if half is not None:
            half_ratio = paper_limit(weights, half.nodes, half.weights, epsilon, negative=options.negative).ratio
    uncertainty, data = spec.uncertainty, spec.curvature_data
    if scope != "global":  # the same spectrum, the layer-wise path's ρ* (and its rounding part)
        path = replace(target, profile=profile)
        if spec.solver == "exact":
            uncertainty = exact_uncertainty(path, spec.quadrature, prediction.ratio)
        else:
            data = path_data(path, data, options)  # and its own on the subset's parts
            uncertainty = slq_uncertainty(path, spec.quadrature, options, prediction.ratio, data,
                                          products_dtype(spec, inputs))
    if paper is not None:  # the headline is a grid point: its rounding is part of its ±
        uncertainty = replace(uncertainty, grid=paper.rounding)
    first_order = first_order_change(profile, target.names, weights, spec.gradient, ratio)
    regime = inputs_regime(inputs, weights)
    # what narrows the rounding part in this run: the warning's remedy and the spectrum block's note alike
    rounding = rounding_fix(inputs, options, spec.params_hessian, products_dtype(spec, inputs))
    lower, upper = (prediction.lower, prediction.upper) if paper is None else (paper.lower, paper.upper)
    overshoot = checked_overshoot(inputs, store, read, epsilon, ratio, lower, scope, profile)
    warns = _bounds_warnings(spec, prediction, ratio, radius, half_ratio, epsilon, options, first_order, uncertainty,
                             regime.l1_trained, rounding, has_dropout(inputs.model),
                             inputs.loss_fn is cross_entropy_loss and overshoot.dense_accuracy == 1.0)
    if paper is not None and paper.aliasing.aliased and paper.aliasing.moved > ALIASING_TOLERANCE:
        warns.append(_aliasing_warning(paper.aliasing))
    warns += consistency_warnings(ratio, lower, upper, prediction.ratio, uncertainty.plus_minus_apart_from_rounding,
                                  uncertainty.rounding)
    warns += regime_warnings(regime, overshoot)
    warns += outside_hessian_warnings(target.names, weights, spec.gradient, inputs.selection)
    warns += unrecognised_warnings(inputs)
    warns += inputs.load_warnings
    layers = layer_breakdown(inputs, options, spec, target, profile, ratio, scope, progress, store) if per_layer else None
    warns += [] if layers is None else layers.warnings
    # the spectrum block's tolerance_met and solver: line are this path's ρ*'s, as its warning: --scope layer's
    # ± 1.8 pt (the bundled example) stood under runs whose global ρ* met 1 pt, "reached the tolerance"
    missed = tolerance_warning(spec.solver, spec.stopped_by, spec.params_hessian, ratio, uncertainty, options, rounding,
                               spec.choice)
    return BoundsReport(replace(spec, dense=None, curvature_data=data, tolerance_note=missed), profile.n, epsilon,
                        source, prediction, ratio,
                        radius, paper, half_ratio, tuple(warns), profile, uncertainty, first_order, target.names, scope,
                        provenance(inputs, options, scope, store) if known is None else known, regime, layers,
                        overshoot)


# the kind of the store's entries that hold an overshoot check (``OvershootCheck``)
OVERSHOOT_KIND = "overshoot check"


@dataclass(frozen=True)
class OvershootCriterion:
    """What keys a stored overshoot check besides the inputs (``stored.result_keys``): the loss
    tolerance ε and the ratios it prunes to (ρ*, ρ_L) along the scope's path. A cached command
    solves them again from the stored spectrum, to the same numbers, so it reads its check too."""

    epsilon: float
    ratio: float
    lower: float | None
    scope: str


def checked_overshoot(inputs: Inputs, store: "Store | None", read: "InputKeys | None", epsilon: float, ratio: float,
                      lower: float | None, scope: str, path: PruningPath) -> OvershootCheck:
    """``pruning.actual.overshoot_check`` of ρ* (``ratio``) and ρ_L (``lower``) on ``inputs``, read
    from ``store`` where it holds one for these inputs, ε, ratios and scope (``read``: the inputs as
    the caller keyed them), else measured and kept there: its two or three passes over the analysis
    data were made again by every cached command (2.1 s of a cached gate on a 25M-weight archive)."""
    from prunelimit.pruning.actual import overshoot_check

    start = time.perf_counter()
    key = result_keys(inputs, store, lambda _, criterion: criterion, read)(
        OvershootCriterion(float(epsilon), float(ratio), None if lower is None else float(lower), scope),
        OVERSHOOT_KIND)
    found = stored_result(store, key, OVERSHOOT_KIND, OvershootCheck,
                          lambda check: check if _checks(check, epsilon, ratio, lower) else None)
    if found is not None:  # this run's time: the read
        return replace(found, seconds=time.perf_counter() - start)
    check = overshoot_check(inputs.model, inputs.batches, inputs.loss_fn, epsilon, ratio, lower, scope=scope,
                            selection=inputs.selection, path=path)
    store_result(store, key, OVERSHOOT_KIND, check)
    return check


def _checks(check: OvershootCheck, epsilon: float, ratio: float, lower: float | None) -> bool:
    """Whether ``check``, read from the store, measured the points ``overshoot_check`` measures for
    ``epsilon``, ``ratio`` and ``lower``: an entry rewritten under this key is a miss."""
    return check.epsilon == epsilon and check.predicted.ratio == max(0.0, ratio - LARGE_GAP) and \
        (check.lower is None) == (lower is None) and (lower is None or check.lower.ratio == lower)


def inputs_regime(inputs: Inputs, weights: list) -> Regime:
    """The regime of ``weights``, the prunable weights of ``inputs``: by their shape and by
    what the checkpoint records of its training (``bounds``, ``verify --from`` and a gate on
    the measured limit alike)."""
    from prunelimit.theory.regime import TrainingRecord, assess_regime

    return assess_regime(weights, TrainingRecord.from_meta(inputs.loaded.meta))


# a saved prediction: a ``bounds --json`` file (``--from``), or from Python the result in hand
PredictionSource = Union[str, os.PathLike[str], BoundsReport]
# what a prediction passed in hand goes by, in messages and as ``prediction_from`` in the JSON
GIVEN_BOUNDS = "the BoundsReport given as prediction_from"


def prediction_report(source: PredictionSource, inputs: Inputs, options: CurvatureOptions,
                      scope: str = "global", scoped: bool = True,
                      known: "Provenance | None" = None) -> tuple[str, dict, list[str]]:
    """The name, the ``bounds`` document and the warnings of a saved prediction for
    ``inputs`` along ``scope``: a ``bounds --json`` file (``--from``) or, from Python, a
    :class:`BoundsReport` in hand, checked alike (``prunelimit.baseline.saved_report``;
    ``scoped``: whether the command takes a scope); a file is read as ``verify --from`` reads
    it (``PredictedLimit.from_report``: ``InputError`` naming a field out of shape). ``known``: the
    inputs' provenance along ``scope``, taken already by the caller."""
    from prunelimit.api.verification import PredictedLimit
    from prunelimit.baseline import saved_report
    from prunelimit.report.jsonout import document

    if isinstance(source, BoundsReport):
        return (GIVEN_BOUNDS, *saved_report(GIVEN_BOUNDS, inputs, options, scope,
                                            document("bounds", source.to_json()), scoped, known))
    report, notes = saved_report(str(source), inputs, options, scope, scoped=scoped, known=known)
    # one reader for every command: prune took a report without its schema or ε that verify and gate refuse
    PredictedLimit.from_report(str(source), report)
    return str(source), report, notes


def regime_warnings(regime: "Regime", check: "OvershootCheck") -> list[str]:
    """What the near-zero share and the loss measured at ρ_L and ρ* − 5 points say of the
    prediction, in one warning: a model that does not look l1-trained is told what was
    measured on it, not what the share predicts from other models (``Regime.advice``, kept
    in the JSON); an l1-shaped one is warned when the measurement finds an overshoot, or when
    a point it checks removes no weight (a model pruned already, ρ* within 5 points of its
    zeros): nothing was measured there, which silence would read as no overshoot."""
    from prunelimit.theory.regime import measured_advice

    past = _overshot(check)
    points = [(name, removed) for name, removed in (("ρ_L", check.lower_removed),
                                                    (f"ρ* less {100 * LARGE_GAP:g} points", check.predicted_removed))
              if removed is not None]
    measured = " and to ".join(name for name, removed in points if removed)
    unpruned = " and to ".join(name for name, removed in points if not removed)
    verify = verify_measures()
    if regime.finding is None:  # l1-shaped, or nothing to prune: the share says nothing against ρ*
        if regime.advice:  # nothing to prune: every point removes no weight, and the advice says so
            return [regime.advice]
        if past or not unpruned:
            return [overshoot_warning(check)] if past else []
        within = f"; to {measured} it keeps the analysis loss within L + ε = {loss_text(check.loss_limit)}" if measured \
            else ""
        return [f"pruning one-shot to {unpruned} removes no weight ({_why_no_weight(check)}), "
                f"so the overshoot check measured nothing there{within}; {verify}"]
    if past:
        fix = f", or {regime.l1_fix()}" if regime.train_with_l1 else ""
        return [f"{regime.finding}, and the prediction overshoots, {past}; {measured_advice()}{fix}"]
    if not measured:  # ⌈ρN⌉ is 0 there: the dense model's loss, nothing of the limit
        return [f"{regime.finding}, the regime ρ* assumes; pruning one-shot to {unpruned} removes no weight, so "
                f"nothing was measured of the limit one-shot pruning reaches; {verify}"]
    lie = "neither lies" if " and " in measured else "it does not lie"
    skipped = f" (to {unpruned} it removes no weight: not measured)" if unpruned else ""
    return [f"{regime.finding}, the regime ρ* assumes, yet pruning one-shot to {measured} keeps the analysis loss "
            f"within L + ε = {loss_text(check.loss_limit)} (measured){skipped}, so {lie} past the limit one-shot pruning "
            f"reaches; {verify}"]


def _why_no_weight(check: "OvershootCheck") -> str:
    """Why the points of ``check`` that removed no weight removed none: at a ratio of 0 (ρ_L of
    0, ρ* of 5 % or less: ⌈ρN⌉ is 0) pruning zeroes nothing, on any model; above 0 the weights
    pruning reaches are exactly zero already (a model pruned already). An l1-shaped model with
    a ρ_L of 0 was told the latter, of weights it does not have."""
    points = [(point.ratio, why) for point, removed, why in (
        (check.lower, check.lower_removed, "ρ_L is 0"),
        (check.predicted, check.predicted_removed, f"ρ* is {100 * LARGE_GAP:g} % or less")) if removed == 0]
    reasons = [why for ratio, why in points if ratio == 0]
    if any(ratio > 0 for ratio, _ in points):
        reasons.append("the weights it reaches are exactly zero already")
    return "; ".join(reasons)


def overshoot_warning(check: "OvershootCheck") -> str | None:
    """The warning that the prediction overshoots, with what was measured and what to gate on;
    ``None`` when neither checked point lies past the limit."""
    from prunelimit.theory.regime import measured_advice

    past = _overshot(check)
    return None if past is None else f"the prediction overshoots, {past}; {measured_advice()}"


def prune_less(check: "OvershootCheck") -> str:
    """What a ``prune`` run whose ratio the prediction set does about an overshoot ``check``
    found, in place of ``theory.regime.measured_advice`` (gating on the measured limit is
    not a pruning's to do: ``prune --ratio auto --scope layer`` on the bundled example was
    told "gate on the measured limit (`gate --use actual`)"): prune to the limit measured
    (``--ratio lower`` where ρ_L was measured within it). The lowest point measured past the
    limit is named as what it is, a ratio the limit lies below, not one to prune just under:
    a plainly trained CNN was told "a --ratio number below 0.6476" (its ρ_L) where the limit
    `verify` measured was 0.432."""
    points = ((check.lower, check.lower_removed), (check.predicted, check.predicted_removed))
    below = min(point.ratio for point, removed in points if check.past(point, removed))
    within = check.lower is not None and check.lower_removed and not check.lower_overshoots
    lower = f"to ρ_L ({option('ratio', 'lower')}, ρ_L = {percent(check.lower.ratio)}, measured within L + ε), or " \
        if within else ""
    measured = said("`prunelimit verify` measures (--ratio its actual.loss_ratio)",
                    "prunelimit.verify measures (ratio=report.actual.loss_ratio)")
    return (f"prune less: {lower}to the limit {measured}; one-shot pruning was measured past the limit at "
            f"{ratio_below(below):g}, which puts the limit below that ratio but not how far below (a ratio just "
            "under it can break the model as well)")


def advised(warnings, advice: Callable[[], str], instead: Callable[[], str]) -> list[str]:
    """``warnings`` with the text ``advice()`` replaced by ``instead()``, each in its reader's
    words (``errors.said``: a saved report's warnings are the command line's, a library
    call's its own): a command that measures the limit itself is told what to make of it,
    not to go and measure it (``theory.regime.measured_advice``)."""
    from prunelimit.errors import library_call

    pairs = [(advice(), instead())]
    with library_call():
        pairs.append((advice(), instead()))
    replaced = []
    for warning in warnings:
        for old, new in pairs:
            warning = warning.replace(old, new)
        replaced.append(warning)
    return replaced


def verify_measures() -> str:
    """How a warning that measured no overshoot points to the limit itself (``regime_warnings``)."""
    return f"{said('`prunelimit verify`', 'prunelimit.verify')} measures it"


def measured_here() -> str:
    """``verify_measures`` in a command that measured the limit itself (``verify``, a gate with a rule on it)."""
    return "the actual limit measured here is it"


def verify_advice() -> str:
    """What a command that measured the limit beside the prediction (``verify``) says in place
    of ``measured_advice``: the measured limit is the one to go by."""
    return ("go by the actual limit measured here (" + said("`gate --use actual`", "prunelimit.gate(..., use='actual')")
            + " gates on it)")


def as_predicted(warnings) -> list[str]:
    """A saved ``verify`` report's ``warnings`` in the words ``bounds`` gives them (``advised``
    the other way): a command that reads the prediction from it (``gate`` on ``lower`` or
    ``predicted``, ``prune --ratio auto|lower``) measured no limit, so "go by the actual limit
    measured here" is not its to say. A ``bounds`` report's warnings are left as they are."""
    from prunelimit.theory.regime import measured_advice

    return advised(advised(warnings, verify_advice, measured_advice), measured_here, verify_measures)


def measured_in_report(warnings, report: object, name: str) -> list[str]:
    """``warnings`` of a prediction read from ``name`` (``recorded_warnings``, ``as_predicted``'s
    words) by a command that measures no limit (``prune --ratio auto|lower``, a gate on the
    prediction alone): where ``report`` is a ``verify`` report, which measured the limit
    (``actual``), "check with `prunelimit verify`" and "`prunelimit verify` measures it" would
    send its reader to measure again what it holds; they name its measured limit instead."""
    actual = report.get("actual") if isinstance(report, dict) else None
    if not (isinstance(actual, dict) and "loss_ratio" in actual):
        return list(warnings)
    from prunelimit.theory.regime import measured_advice

    def go_by() -> str:
        return (f"go by the actual limit {name} measured ("
                + said("`gate --use actual`", "prunelimit.gate(..., use='actual')") + " gates on it)")

    return advised(advised(warnings, measured_advice, go_by), verify_measures, lambda: f"the actual limit {name} measured is it")


# how a measured overshoot's warning says it, its advice after it (``_overshot``)
PAST_THE_LIMIT = "past the limit one-shot pruning reaches"


def _overshot(check: "OvershootCheck") -> str | None:
    """The points measured past the one-shot limit, their losses against L + ε and what that
    makes of the prediction; ``None`` when neither lies past it."""
    if not (check.lower_overshoots or check.predicted_overshoots):
        return None
    # the points whose own loss failed: a flag may stand on a failure below its point (OvershootCheck._crosses)
    past = [(name, point) for name, point, removed in (
        ("ρ_L", check.lower, check.lower_removed),
        (f"ρ* less {100 * LARGE_GAP:g} points", check.predicted, check.predicted_removed)) if check.past(point, removed)]
    # digits enough to read each loss apart from L + ε it lies past (a small ε read "0.1098, above 0.1098")
    digits = loss_digits(check.loss_limit, *(point.loss for _, point in past))
    # a NaN loss is past L + ε as the search counts it, not above it: "nan, above L + ε" compared what does not compare
    nan = any(math.isnan(point.loss) for _, point in past)
    losses = " and ".join(f"at {name} ({percent(point.ratio)}) {'the analysis loss is ' if i == 0 else ''}"
                          f"{'NaN' if math.isnan(point.loss) else loss_text(point.loss, digits=digits)}"
                          for i, (name, point) in enumerate(past))
    which = {(True, True): f"ρ_L and ρ* (by more than {100 * LARGE_GAP:g} points) lie",
             (True, False): "ρ_L lies", (False, True): f"ρ* lies more than {100 * LARGE_GAP:g} points"}[
        (bool(check.lower_overshoots), bool(check.predicted_overshoots))]
    limit = f"{'not within' if nan else 'above'} L + ε = {loss_text(check.loss_limit, digits=digits)}"
    return f"measured by pruning one-shot: {losses}, {limit}, so {which} {PAST_THE_LIMIT}"


def outside_hessian_warnings(names, weights, gradient: dict, selection: ParamSelection) -> list[str]:
    """Prunable tensors the Hessian leaves out (frozen, ``requires_grad=False``): pruning
    them moves the loss, but ρ* counts no curvature for them."""
    from prunelimit.pruning.training import frozen_fix

    outside = [(n, w.numel()) for n, w in zip(names, weights) if n not in gradient]
    if not outside:
        return []
    return [f"{sum(c for _, c in outside):,} prunable weights ({listed([n for n, _ in outside])}) are frozen (requires_grad=False) and "
            f"outside the Hessian, so ρ* counts no curvature for pruning them; {frozen_fix([n for n, _ in outside], selection)}"]


def unrecognised_warnings(inputs: Inputs) -> list[str]:
    """Layers whose weights are left out of N, named, with the fix: compiled modules of the
    user's own classes whose forward does not apply the weight as a Linear or convolution
    does, and Linear/convolution layers whose weight a parametrization computes."""
    from prunelimit.models.params import (left_out_by_default, left_out_described, parametrized_modules,
                                          unrecognised_modules, weight_computers, weight_removal)

    warns = []
    left_out = left_out_by_default(inputs.model, inputs.selection)
    if left_out:
        held, include = left_out_described(left_out)
        # a recurrent classifier's ρ* was its head's alone (N = 160 of D = 1,418), with nothing saying so
        warns.append(f"{sum(count for _, count in left_out.values()):,} weights in the weight matrices of {held} "
                     "are outside the prunable set by default (Linear, convolution and attention projection weights), "
                     f"so N, the ratios and ρ* count the rest; {include} prunes them")
    names = unrecognised_modules(inputs.model, inputs.selection)
    if names:
        are = "modules {} are compiled classes" if len(names) > 1 else "module {} is a compiled class"
        warns.append(f"TorchScript {are.format(_listed(names))} of your own whose forward does not apply the weight "
                     "as a Linear or convolution does, so it is not counted as prunable; "
                     f"{said(f'--include {names[0]!r}', f'include=({names[0]!r},)')} (a glob of module names) "
                     "to prune it")
    names = parametrized_modules(inputs.model, inputs.selection)
    if names:
        weights = "weights of layers {} are" if len(names) > 1 else "weight of layer {} is"
        warns.append(f"the {weights.format(_listed(names))} computed by a parametrization "
                     f"({weight_computers(inputs.model, names)}), not held as a parameter, so not counted as prunable "
                     "(N); save the model with it removed "
                     f"({weight_removal(inputs.model, names)}) to prune it")
    return warns


def _listed(names: list[str]) -> str:
    return listed([repr(n) for n in names])


DROPOUT_GRADIENT = ("its dropout layers trained it with units dropped at random, not on this loss with dropout off, "
                    "which may keep such a gradient however long it trains: train longer only where it has not "
                    "converged")


# a gradient is a sign of too short a training only when the model was trained on this loss and data: a
# digits MLP trained on inputs with noise (σ 1) kept ‖∇L‖ 0.66 of the clean loss after 1,500 steps and 0.64
# after 6,000 and was told "(train longer)" alone; one trained with label smoothing 0.1 kept 0.22 from
# 1,500 to 12,000 steps
GRADIENT_KEPT = ("a penalty in training (weight decay), noise or augmentation of its inputs, a training loss other "
                 "than this one (label smoothing), or analysis data unlike its training data")
UNCONVERGED_GRADIENT = f"train longer if it has not converged; {GRADIENT_KEPT} leave such a gradient however long it trains"


# cross-entropy's gradient where the model classifies every sample right is no sign of too short a training:
# an MLP trained 20,000 SGD steps to a loss of 0.0004 was told to train longer, and more steps raised the
# first-order term against ε (their ratio at a 75 % magnitude cut: 1.4 at 2,500 steps, 3.8 at 80,000). Only
# training on that loss alone grows the margins: fitted digits MLPs trained otherwise were told that longer
# training shrinks the gradient, which stayed (64-32-10 with label smoothing 0.1: ‖∇L‖ 0.22 at 1,500 and at
# 12,000 steps; 64-8-10 under weight decay 10⁻³: 0.0126 at 1,600 full-batch steps, 0.0125 at 6,400, where
# without it 0.0025 and 0.0005)
FITTED_GRADIENT = ("the model classifies every analysis sample correctly, and cross-entropy then has no minimum at "
                   "finite weights: trained on it alone, training longer grows the margins, shrinking this gradient "
                   f"and ε alike, without reaching one; {GRADIENT_KEPT} may leave such a gradient however long it "
                   "trains")


def has_dropout(model: nn.Module) -> bool:
    """Whether ``model`` holds a dropout layer (``nn.Dropout`` and its kin, scripted too)."""
    return any(issubclass(module_class(m), nn.modules.dropout._DropoutNd) for m in model.modules())


def first_order_change(profile: PruningPath, names, weights, gradient: dict, ratio: float) -> float | None:
    """``∇L · (MP_ρ(w) − w)``: the loss change to first order at ρ, which the quadratic model drops.

    ``None`` when a prunable weight is outside the Hessian set (no gradient for it).
    """
    if any(n not in gradient for n in names):
        return None
    total = 0.0
    for name, w, keep in zip(names, weights, profile.keep_masks(ratio)):
        removed = w.detach().cpu().double().reshape(-1) * (~keep.reshape(-1))
        total -= float(gradient[name] @ removed)
    return total


def _bounds_warnings(
    spec: SpectrumReport, pred, ratio: float, radius: float, half_ratio, epsilon: float, options: CurvatureOptions,
    first_order: float | None, u: "Uncertainty", l1_trained: bool = True, rounding: str | None = None,
    dropout: bool = False, fitted: bool = False,
) -> list[str]:
    from prunelimit.theory.epsilon import rounding_epsilon_warning

    warns = list(spec.notes)
    unresolved = rounding_epsilon_warning(epsilon, spec.loss)  # a given ε; a derived one that small is refused
    if unresolved is not None:
        warns.append(unresolved)
    missed = tolerance_warning(spec.solver, spec.stopped_by, spec.params_hessian, ratio, u, options, rounding, spec.choice)
    if missed is not None:
        warns.append(missed)
    # a fixed plan's only: adaptive SLQ counts this change in its ± and says so in the tolerance warning
    if half_ratio is not None and u.steps_kind not in ("bracket", "exact") and spec.solver != "exact" \
            and spec.stopped_by is None and abs(ratio - half_ratio) > SPREAD_TOLERANCE:
        warns.append(
            # in points, as ρ*'s line states its ± ("moved by 0.012" stood under "± 0.62 pt")
            f"ρ* moved by {half_width_text(100 * abs(ratio - half_ratio))} pt between {spec.iterations // 2} and "
            f"{spec.iterations}{STEPS_MOVED}{option('iterations', 2 * spec.iterations)}"
        )
    stiffness = radius**2 * max(abs(spec.lambda_max), abs(spec.lambda_min)) / (2 * epsilon)
    if spec.solver != "exact" and u.steps_kind not in ("bracket", "exact") and stiffness > SLQ_VALIDATED_STIFFNESS:
        warns.append(
            f"ρ* sits where R²·|λ|max/2ε = {stiffness:.2g}, beyond the 1e5{BEYOND_VALIDATED}against "
            "exact spectra (docs/accuracy.md); F may be underestimated there: compare with "
            f"{option('iterations', 2 * spec.iterations)}"
        )
    if first_order is not None and abs(first_order) > epsilon:
        # Either sign breaks the quadratic model's premise (a minimum); only a rise counts
        # against ε, a fall lets pruning go further than ρ*
        change = f"changes the loss by {loss_text(first_order, '+')} to first order, more than ε = {loss_text(epsilon)}" \
            if first_order > 0 else \
            f"lowers the loss by {loss_text(-first_order)} to first order, a change larger than ε = {loss_text(epsilon)} " \
            "(ρ* errs low on that account)"
        # dropout trains the loss with units dropped, not the one evaluated (dropout off): a dropout MLP trained
        # to its plateau was told to train longer, which leaves that gradient; an l1-shaped model's own clause
        # names the penalties that look so (weight decay 0.02 left a digits MLP l1-shaped, ‖∇L‖ 0.47 after
        # 1,500 steps and 0.33 after 6,000), a plain-looking one's what else leaves it
        why = [DROPOUT_GRADIENT] if dropout else [FITTED_GRADIENT] if fitted else \
            ["train longer if it has not converged"] if l1_trained else [UNCONVERGED_GRADIENT]
        why += ["l1 training or weight decay leaves such a gradient by design"] if l1_trained else []
        warns.append(
            f"the model is not at a minimum of the analysis loss (‖∇L‖ = {spec.gradient_norm:.3g}): pruning to ρ* "
            f"{change}, and the quadratic model behind ρ* ignores that term ({'; '.join(why)})"
        )
    if spec.negative_mass is not None and spec.negative_mass > 0.05:
        warns.append(
            f"{percent(spec.negative_mass, 1)} of the spectrum's |λ| mass is negative curvature "
            f"(handled as {option('negative', options.negative)})"
        )
    return warns


# how the fixed plan's warnings whose remedy ends them (more --iterations) read: a report's, read back by
# --from, is told where that remedy applies (``gate_rules._read_warning``)
STEPS_MOVED = " Lanczos steps; use "
BEYOND_VALIDATED = " up to which SLQ was validated "

ALIASING_TOLERANCE = 0.01  # share of the quadrature weight moved between nodes that gets a warning


def _aliasing_warning(a) -> str:
    return (
        f"the reference density's kernel (std {a.kernel_std:.2g}) is narrower than its grid step ({a.grid_step:.2g}): "
        f"node weights alias onto grid points ({percent(a.moved, 1)} of the weight moves between nodes), which "
        "moves the paper's ρ*; the continuous ρ* row is free of this (docs/methods.md)"
    )
