"""``info``, ``spectrum``, ``bounds``, ``verify`` and ``gate``: the predicted limit and its checks."""

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Optional

import typer

from prunelimit import api
from prunelimit.errors import UsageError
from prunelimit.gate_rules import USES, GateRule
from prunelimit.io.atomic import staged
from prunelimit.io.outputs import optional, preflight
from prunelimit.library import FINETUNE_EPOCHS, FINETUNE_LR
from prunelimit.report import console
from prunelimit.report.html import report_output
from prunelimit.report.junit import write_junit
from prunelimit.report.progress import progress, progress_enabled
from prunelimit.theory.profile import SCOPES
from prunelimit.cli.common import (
    CkptArg, ERROR_REPORTS, EXAMPLE, ErrorReport, EvalDataOpt, FinetuneLrOpt, ForceOpt, PerLayerOpt, PlotOpt, ReportOpt,
    _MEASURED_UNUSED, _absolute, _cache_options, _check_finetune, _curvature, _eval_batches, _general_options, _given,
    _inputs, _inputs_of, _limit_options, _model_data_options, _refuse_stale_config_options, _refuse_unseeded,
    _refuse_unused, _refuse_unused_prediction_flags, _spectral_options, _store, _typed, _write_report, app, choices,
    emit, given_count, given_file, given_number, given_path, given_ratio, handled, shared,
)

Scope = choices("Scope", SCOPES)
ScopeOpt = Annotated[Scope, typer.Option("--scope", help="The pruning path: one ranking over all layers, or the same ratio per layer.")]
Use = choices("Use", USES)


@app.command(epilog=f"Example: prunelimit info {EXAMPLE} --data digits")
@shared(_model_data_options, _general_options)
def info(
    o: SimpleNamespace,
    ctx: typer.Context,
    checkpoint: CkptArg,
) -> None:
    """Architecture, parameter counts (N prunable, D Hessian), per-layer zeros; loss and accuracy with --data."""
    with handled(o.debug):
        if o.data is None:  # the flags that shape the loss's evaluation were ignored in silence, as the library's are refused
            _refuse_unused(_typed(ctx, "loss", "batch_size", "max_samples"),
                           "no --data is given, and only the loss and accuracy over it read it", "add --data")
        inputs = _inputs(o, checkpoint, data_from_checkpoint=False)
        rep = api.info(inputs)
        emit("info", rep.to_json(), o.json, console.render_info, rep)


@app.command(epilog=f"Example: prunelimit spectrum {EXAMPLE} --plot spectrum.png")
@shared(_model_data_options, _spectral_options, _cache_options, _general_options)
def spectrum(
    o: SimpleNamespace,
    checkpoint: CkptArg,
    plot: PlotOpt = None,
    per_layer: PerLayerOpt = False,
    force: ForceOpt = False,
) -> None:
    """Hessian spectrum, exact or by stochastic Lanczos quadrature: λmax, λmin, trace, ρ* ± its uncertainty, nodes and weights."""
    with handled(o.debug):
        options = _curvature(o)
        preflight([optional("--plot", plot, "png")], _inputs_of(o, checkpoint), force)
        store = _store(o)
        inputs = _inputs(o, checkpoint)
        with progress("curvature", api.curvature_steps(inputs, options), progress_enabled(o.quiet), lazy=True) \
                as advance:
            rep = api.spectrum_report(inputs, options, _absolute(advance), store, per_layer)
        if plot is not None:
            from prunelimit.report.plots import plot_spectrum

            plot_spectrum(rep, plot, force)
        emit("spectrum", rep.to_json(), o.json, console.render_spectrum, rep)


@app.command(epilog=f"Example: prunelimit bounds {EXAMPLE}   (data from the file; else --data digits:train)")
@shared(_model_data_options, _spectral_options, _limit_options, _cache_options, _general_options)
def bounds(
    o: SimpleNamespace,
    checkpoint: CkptArg,
    plot: PlotOpt = None,
    report: ReportOpt = None,
    per_layer: PerLayerOpt = False,
    scope: ScopeOpt = "global",
    force: ForceOpt = False,
) -> None:
    """Predicted pruning limit ρ* and its bounds [ρ_L, ρ_U] from the Hessian spectrum (Zhang et al. 2024)."""
    with handled(o.debug):
        options = _curvature(o)
        preflight([optional("--plot", plot, "png"), report_output(report)], _inputs_of(o, checkpoint), force)
        store = _store(o)
        inputs = _inputs(o, checkpoint)
        with progress("curvature", api.curvature_steps(inputs, options), progress_enabled(o.quiet), lazy=True) \
                as advance:
            rep = api.bounds(inputs, options, _absolute(advance), scope, store, per_layer)
        with staged():  # the plot and the report, or neither
            if plot is not None:
                from prunelimit.report.plots import plot_bounds

                plot_bounds(rep, plot, force)
            _write_report(report, "bounds", rep.to_json(), lambda figures: figures.bounds_figures(rep), force)
        emit("bounds", rep.to_json(), o.json, console.render_bounds, rep)


@app.command(epilog=f"Example: prunelimit verify {EXAMPLE} --plot verify.png")
@shared(_model_data_options, _spectral_options, _limit_options, _cache_options, _general_options)
def verify(
    o: SimpleNamespace,
    ctx: typer.Context,
    checkpoint: CkptArg,
    eval_data: EvalDataOpt = None,
    acc_drop: Annotated[float, typer.Option("--acc-drop", help="Accuracy criterion δ in percentage points.", parser=given_number("percentage points"), metavar="<float>")] = 0.5,
    sweep: Annotated[int, typer.Option("--sweep", help="Also record a full curve of N evenly spaced ratios.", parser=given_count("ratios"), metavar="<int>")] = 0,
    refit: Annotated[bool, typer.Option("--refit", help="Also measure the limit after masked fine-tuning of each probed ratio.")] = False,
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", help="Fine-tuning epochs per probed ratio with --refit.", parser=given_count(), metavar="<int>")] = FINETUNE_EPOCHS,
    finetune_lr: FinetuneLrOpt = FINETUNE_LR,
    scope: ScopeOpt = "global",
    from_report: Annotated[Optional[str], typer.Option("--from", help="Take the prediction from this saved `bounds --json` report (or a `gate --json` report of lower/predicted rules) of the same checkpoint and data (no curvature work).", parser=given_file)] = None,
    plot: PlotOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Predicted limit vs the limit one-shot pruning really achieves (loss and accuracy criteria), and Δ."""
    with handled(o.debug):
        options = _curvature(o)
        if from_report is not None:
            _refuse_unused_prediction_flags(o, f"the prediction and its ε are read from {from_report}",
                                            "drop --from to compute them")
            _refuse_stale_config_options(o, options, from_report)
            if not refit:
                _refuse_unseeded(ctx, f"the prediction is read from {from_report}, and nothing is fine-tuned without "
                                 "--refit",
                                 "add --refit (its fine-tuning is seeded), or drop --from")
        api.check_verify_options(acc_drop, sweep)
        _check_finetune(finetune_epochs, finetune_lr)
        if refit and finetune_epochs < 1:
            raise UsageError(f"--refit needs --finetune-epochs of at least 1, got {finetune_epochs}")
        if not refit:
            _refuse_unused(_typed(ctx, "finetune_epochs", "finetune_lr"), "only --refit fine-tunes",
                           "add --refit")
        preflight([optional("--plot", plot, "png"), report_output(report)],
                  [*_inputs_of(o, checkpoint, eval_data), from_report], force)
        store = _store(o)
        inputs = _inputs(o, checkpoint)
        api.require_data(inputs)
        evaluation = _eval_batches(eval_data, inputs, o.batch_size, o.download)
        steps = api.curvature_steps(inputs, options) if from_report is None else 0
        with progress(_bar_label(from_report is None), steps, progress_enabled(o.quiet), lazy=True) as advance:
            rep = api.verify(inputs, options, evaluation, acc_drop, sweep, scope, _absolute(advance),
                             finetune_epochs if refit else 0, finetune_lr, store, from_report)
        with staged():  # the plot and the report, or neither
            if plot is not None:
                from prunelimit.report.plots import plot_verify

                plot_verify(rep, plot, force)
            _write_report(report, "verify", rep.to_json(), lambda figures: figures.verify_figures(rep), force)
        emit("verify", rep.to_json(), o.json, console.render_verify, rep)


@app.command(epilog=f"Example: prunelimit gate {EXAMPLE} --min-ratio 0.6 --junit gate.xml")
@shared(_model_data_options, _spectral_options, _limit_options, _cache_options, _general_options)
def gate(
    o: SimpleNamespace,
    ctx: typer.Context,
    checkpoint: CkptArg,
    min_ratio: Annotated[Optional[float], typer.Option("--min-ratio", help="Pass when the limit (removed fraction) is at least this; a predicted limit (lower, predicted) minus its stated ± (the conservative side; fails when the ± is incomplete: a Hessian over a subset of the samples, an aliased --method paper grid, an unknown truncation part; docs/guide.md).", parser=given_ratio, metavar="<float>")] = None,
    use: Annotated[Use, typer.Option("--use", help="lower (ρ_L) | predicted (ρ*) | actual (the measured one-shot limit, loss criterion: the verify search, which needs no spectrum when every rule uses it; for models that are not l1-trained; docs/guide.md).")] = GateRule.use,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="A stored `bounds --json` report to compare against (a `verify --json` report for --use actual), or an earlier `gate --json` report, read as the result it stood on.", parser=given_file)] = None,
    max_drop: Annotated[Optional[float], typer.Option("--max-drop", help="Largest allowed fall of the limit against --baseline.", parser=given_ratio, metavar="<float>")] = None,
    allow_incompatible_baseline: Annotated[bool, typer.Option("--allow-incompatible-baseline", help="Compare against a baseline computed with another method, D, N, data, loss or scope, or for --use actual another --epsilon (a warning says so); by default such a baseline is refused (exit 2).")] = False,
    fail_on_overshoot: Annotated[bool, typer.Option("--fail-on-overshoot", help="Fail a rule on lower or predicted where the overshoot check measured that value past the limit one-shot pruning reaches (JSON overshoot.lower/.predicted true), whatever its value: a plainly trained model's prediction then fails the gate instead of passing with a warning (a policy rule's own fail_on_overshoot key overrides it; docs/guide.md).")] = False,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Report, but exit 0 even when a rule fails.")] = False,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write a JUnit XML report here.", parser=given_path)] = None,
    from_report: Annotated[Optional[str], typer.Option("--from", help="Take the prediction from this saved `bounds --json` report (or a `gate --json` report of lower/predicted rules) of the same checkpoint and data (no curvature work; baselines are compared with its method and options); a `verify --json` report gives the measured limit too (no prune-and-evaluate passes), for rules on use actual alone as well.", parser=given_file)] = None,
) -> None:
    """CI gate: exit 1 when the model's pruning limit is below --min-ratio or fell more than --max-drop."""
    with handled(o.debug):
        from prunelimit.gate_rules import needs_spectrum, reads_baseline, rules_from_options

        # fail before the curvature work, not after; the JUnit report is rewritten each run,
        # never over a baseline, the --config policy's included
        policy = ctx.meta.get("gate_rules")
        policy_baselines = [rule.get("baseline") for rule in policy or () if isinstance(rule, dict)]
        preflight([optional("--junit", junit, "xml", overwrite=True)],
                  _inputs_of(o, checkpoint, baseline, from_report, *policy_baselines))
        options = _curvature(o)
        # a rule written in the file is fixed there: its fix names the key, not a flag
        in_config = [name for name, where in _given(ctx, ["min_ratio", "max_drop"]).items()
                     if where == "in the --config file"]
        gate_rules = rules_from_options(min_ratio, use, baseline, max_drop, policy,
                                        None if o.config is None else str(o.config), in_config, fail_on_overshoot)
        # the gate's own --config section serves it alone: a key there it cannot read is refused as typed
        section = ctx.meta.get("config_section", set())
        if not needs_spectrum(gate_rules):  # --time-budget and the like would be ignored in silence
            _refuse_unused_prediction_flags(o, "every rule uses the measured limit (--use actual), which computes no "
                                            "spectrum", "gate on --use lower|predicted", _MEASURED_UNUSED, section)
            if from_report is not None:  # a verify report's limit is read, searched under the report's own ε
                _refuse_unused_prediction_flags(o, f"the measured limit and its ε are read from {from_report}",
                                                "drop --from to measure it", ("epsilon",), section)
        elif from_report is not None:
            _refuse_unused_prediction_flags(o, f"the prediction is read from {from_report}",
                                            "drop --from to compute it")
            _refuse_stale_config_options(o, options, from_report)
        if not reads_baseline(gate_rules):
            _refuse_unused(_typed(ctx, "allow_incompatible_baseline"), "no rule reads a baseline",
                           "add --baseline REPORT.json --max-drop D")
        computes = needs_spectrum(gate_rules) and from_report is None
        if not computes:
            _refuse_unseeded(ctx, f"the prediction is read from {from_report}" if needs_spectrum(gate_rules) else
                             "every rule uses the measured limit (--use actual), which computes no spectrum",
                             "drop --from to compute it" if needs_spectrum(gate_rules) else "gate on --use lower|predicted",
                             () if needs_spectrum(gate_rules) else section)
        cache_notes: list[str] = []  # the JSON's and the JUnit report's warnings, as the gate's own
        store = _store(o, cache_notes)
        inputs = _inputs(o, checkpoint)
        steps = api.curvature_steps(inputs, options) if computes else 0
        with progress(_bar_label(computes), steps, progress_enabled(o.quiet), lazy=True) as advance:
            rep = api.gate(inputs, gate_rules, options, store, _absolute(advance), allow_incompatible_baseline,
                           from_report)
        rep = replace(rep, notes=(*rep.notes, *cache_notes))
        if junit is not None:
            cases = [(o.rule.name, o.passed, o.reason if o.fix is None else f"{o.reason}; fix: {o.fix}")
                     for o in rep.result.outcomes]
            write_junit(junit, "prunelimit gate", cases, rep.seconds, warnings=rep.warnings,
                        facts=console.gate_lines(rep))
        emit("gate", rep.to_json(), o.json, console.render_gate, rep)
        if not rep.result.passed and not exit_zero:
            raise typer.Exit(1)


def _bar_label(spectrum: bool) -> str:
    """The bar of verify and gate, named by what it runs first: a spectrum, or with none to
    compute (``--from``, ``--use actual``) only the actual-limit search."""
    return "curvature" if spectrum else "actual-limit search"


# A gate that ends in an error, wherever it arises (parsing, --config, a check, the work, a
# signal), rewrites its JUnit report as one errored case: a CI's test view must not show the
# verdict an earlier run left there.
ERROR_REPORTS["gate"] = ErrorReport("junit", "xml", lambda path, message: write_junit(
    path, "prunelimit gate", [], error=message))

