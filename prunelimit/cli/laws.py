"""``law nplh``, ``law nplh-fit``, ``law error-fit``, ``imp`` and ``hyperflux``: the companion laws."""

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Optional, get_args

import typer

from prunelimit import api
from prunelimit.config import number_list
from prunelimit.errors import UsageError
from prunelimit.io.atomic import staged
from prunelimit.io.outputs import Output, optional, preflight
from prunelimit.laws import imp as imp_law, nplh as nplh_law
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.laws.nplh import DEFAULT_PRESSURES, NplhConfig
from prunelimit.laws.saliency import METRICS
from prunelimit.limits import check_counts
from prunelimit.report import console
from prunelimit.report.html import report_output
from prunelimit.report.progress import progress, progress_enabled
from prunelimit.threads import apply_threads
from prunelimit.cli.common import (
    BatchOpt, CkptArg, ConfigOpt, DataOpt, DebugOpt, DownloadOpt, EXAMPLE, EvalDataOpt, ExcludeOpt, ForceOpt, HelpGroup,
    IncludeOpt, JsonOpt, LossOpt, MaxSamplesOpt, ModelOpt, PlotOpt, ReportOpt, SeedOpt, ThreadsOpt, TrustOpt,
    _general_options, _given, _inputs, _inputs_of, _model_data_options, _steps, _write_report, app, checked_numbers,
    choices, emit, flag_names, given_count, given_fraction, given_number, given_path, handled, shared,
)

Metric = choices("Metric", METRICS)
Mode = choices("Mode", get_args(nplh_law.Mode))
Rewind = choices("Rewind", get_args(imp_law.Rewind))
# the fraction flags' parsers: a percentage (5%) is refused naming the fraction it means
DENSITIES, ERRORS, RATES = given_fraction("densities"), given_fraction("errors"), given_fraction("rates")


law_app = typer.Typer(help="The companion laws: Neural Pruning Law (nplh) and the pruning-across-scales error law.",
                      no_args_is_help=True, cls=HelpGroup,
                      epilog="Example: prunelimit law nplh examples/digits-mlp.pt -o points.csv && "
                             "prunelimit law nplh-fit points.csv --region auto")
app.add_typer(law_app, name="law")
RegionOpt = Annotated[str, typer.Option("--region", help="Density region of the fit: LOW,HIGH fractions or auto.")]
NPLH_REGION = ",".join(str(v) for v in NplhConfig.region)  # the default region as the flag's text
_LADDER_K = [math.log2(p) for p in DEFAULT_PRESSURES]  # the default ladder's exponents, as --help states them


def parse_pressures(text: Optional[str]) -> tuple[float, ...]:
    """``--pressures`` (``G1,G2,...`` or ``[G1, G2, ...]``) as the pressure ladder (the config's
    default when not given)."""
    if text is None:
        return NplhConfig.pressures
    return number_list(text, "pressures", what="increasing positive numbers", example="0.25,1,4,16")


@law_app.command("nplh", epilog=f"Example: prunelimit law nplh {EXAMPLE} --metric taylor -o points.csv")
@shared(_model_data_options, _general_options)
def law_nplh(
    o: SimpleNamespace,
    ctx: typer.Context,
    checkpoint: CkptArg,
    metric: Annotated[Metric, typer.Option("--metric", help="The saliency that ranks the weights.")] = NplhConfig.metric,
    mode: Annotated[Mode, typer.Option("--mode", help="static (one sort) | iterative (prune+fine-tune) | pressure (Hyperflux ladder).")] = NplhConfig.mode,
    region: RegionOpt = NPLH_REGION,
    rate: Annotated[float, typer.Option("--rate", help="Iterative mode: fraction of active weights pruned per round.", parser=RATES, metavar="FLOAT")] = NplhConfig.rate,
    finetune_steps: Annotated[int, typer.Option("--finetune-steps", help="Iterative mode: SGD steps after each round.", parser=given_count("SGD steps"), metavar="<int>")] = NplhConfig.finetune_steps,
    epochs_per_level: Annotated[int, typer.Option("--epochs-per-level", help="Pressure mode: epochs per pressure.", parser=given_count(), metavar="<int>")] = NplhConfig.epochs_per_level,
    pressures: Annotated[Optional[str], typer.Option("--pressures", help=f"Pressure mode: the ladder of pressures Γ, increasing, comma-separated (or a list: \"[0.25, 1, 4]\") [default: 2^k for k = {_LADDER_K[0]:g}, {_LADDER_K[1]:g}, ..., {_LADDER_K[-1]:g}].")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the (density, gamma) points as CSV.", parser=given_path)] = None,
    plot: PlotOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Record (density, γ) points for a saliency and fit ln s = ln c − α0 ln γ (Neural Pruning Law)."""
    with handled(o.debug):
        from prunelimit.laws.nplh import nplh_figure, plot_nplh
        from prunelimit.laws.points import write_points

        with flag_names():
            # a setting of another mode, typed or in --config, would be ignored: refused as the library does
            nplh_law.check_mode_settings(_given(ctx, ["metric", *(n for names in nplh_law.MODE_SETTINGS.values()
                                                                  for n in names)]), mode)
            config = NplhConfig(metric=metric, mode=mode, region=api.parse_region(region), rate=rate,
                                finetune_steps=finetune_steps, epochs_per_level=epochs_per_level,
                                pressures=parse_pressures(pressures), seed=o.seed)
        preflight([optional("-o", output, "csv"), optional("--plot", plot, "png"), report_output(report)],
                  _inputs_of(o, checkpoint), force)
        fit = api.nplh(_inputs(o, checkpoint), config)
        with staged():  # the points, the plot and the report, or none of them
            if output is not None:
                write_points(fit.points, output, force)
            if plot is not None:
                plot_nplh(fit, plot, force=force)
            _write_report(report, "law-nplh", fit.to_json(),
                          lambda _: {"Neural Pruning Law fit": nplh_figure(fit)}, force)
        emit("law-nplh", fit.to_json(), o.json, console.render_nplh, fit)


@law_app.command("nplh-fit", epilog="Example: prunelimit law nplh-fit points.csv --region auto --plot law.png")
@checked_numbers
def law_nplh_fit(
    points: Annotated[Path, typer.Argument(help="CSV with header density,gamma (densities are fractions).", parser=given_path)],
    region: RegionOpt = NPLH_REGION,
    plot: PlotOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
    config: ConfigOpt = None,
    json: JsonOpt = False,
    seed: SeedOpt = 0,
    debug: DebugOpt = False,
    threads: ThreadsOpt = None,
) -> None:
    """Fit the Neural Pruning Law to (density, γ) points measured elsewhere."""
    with handled(debug):
        check_counts({"threads": threads})
        apply_threads(threads)
        from prunelimit.laws.nplh import fit_nplh, nplh_figure, plot_nplh
        from prunelimit.laws.points import read_points

        parsed_region = api.parse_region(region)
        preflight([optional("--plot", plot, "png"), report_output(report)], [points, config], force)
        fit = fit_nplh(read_points(points), region=parsed_region, seed=seed)
        with staged():  # the plot and the report, or neither
            if plot is not None:
                plot_nplh(fit, plot, force=force)
            _write_report(report, "law-nplh", fit.to_json(),
                          lambda _: {"Neural Pruning Law fit": nplh_figure(fit)}, force)
        emit("law-nplh", fit.to_json(), json, console.render_nplh, fit)


@law_app.command("error-fit", epilog="Example: prunelimit law error-fit imp-out/imp.csv --predict 0.05 --plot fit.png")
@checked_numbers
def law_error_fit(
    points: Annotated[Path, typer.Argument(help="CSV with header density,error[,width,depth] (fractions).", parser=given_path)],
    joint: Annotated[bool, typer.Option("--joint", help="Fit the joint law over widths and depths (φ, ψ).")] = False,
    predict: Annotated[Optional[float], typer.Option("--predict", help="Predicted error at this density.", parser=DENSITIES, metavar="FLOAT")] = None,
    target_error: Annotated[Optional[float], typer.Option("--target-error", help="Smallest density reaching this error.", parser=ERRORS, metavar="FLOAT")] = None,
    width: Annotated[Optional[float], typer.Option("--width", help="Joint law: the network's width for --predict/--target-error.", parser=given_number(), metavar="<float>")] = None,
    depth: Annotated[Optional[float], typer.Option("--depth", help="Joint law: the network's depth.", parser=given_number(), metavar="<float>")] = None,
    eps_np: Annotated[Optional[float], typer.Option("--eps-np", help="The unpruned error of the network to answer for (joint law: needed for a --width/--depth not fitted) [default: the fitted one].", parser=ERRORS, metavar="FLOAT")] = None,
    extrapolate: Annotated[bool, typer.Option("--extrapolate", help="Allow answers outside the measured density range.")] = False,
    plot: PlotOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
    config: ConfigOpt = None,
    json: JsonOpt = False,
    seed: SeedOpt = 0,
    debug: DebugOpt = False,
    threads: ThreadsOpt = None,
) -> None:
    """Fit the pruning-across-scales error law (Rosenfeld et al. 2021) to IMP points."""
    with handled(debug):
        check_counts({"threads": threads})
        apply_threads(threads)
        from prunelimit.laws import errorlaw

        preflight([optional("--plot", plot, "png"), report_output(report)], [points, config], force)
        errorlaw.check_query_shape(joint, width, depth)  # before the fit's work
        errorlaw.check_queries(predict, target_error, "predict")
        if eps_np is not None:
            errorlaw.check_error("eps_np", eps_np)
        if predict is None and target_error is None:  # what only a query reads would be ignored
            if width is not None or depth is not None or eps_np is not None:
                raise UsageError("--width/--depth/--eps-np apply to --predict or --target-error; add one, or drop them")
            if extrapolate:
                raise UsageError("--extrapolate applies to --predict or --target-error; add one, or drop it")
        data = errorlaw.read_points(points)
        fit = errorlaw.fit_error_law(data, joint=joint, seed=seed)
        body = fit.to_json()
        if predict is not None:
            body["predict"] = {"density": predict,
                               "error": errorlaw.predict(fit, predict, width, depth, eps_np, extrapolate)}
        if target_error is not None:
            body["target"] = {"error": target_error, "density": errorlaw.density_for_error(
                fit, target_error, width, depth, eps_np, extrapolate)}
        answered = [q["density"] for q in (body.get("predict"), body.get("target")) if q]
        body["warnings"] += filter(None, (errorlaw.extrapolated(fit, d, width, depth) for d in answered))
        with staged():  # the plot and the report, or neither
            if plot is not None:
                errorlaw.plot_fit(fit, data, plot, force)
            _write_report(report, "law-error-fit", body,
                          lambda _: {"error law fit": errorlaw.fit_figure(fit, data)}, force)
        emit("law-error-fit", body, json, console.render_error_fit, body)


@app.command(epilog="Example: prunelimit imp mlp:64,32,10 --data digits:train --eval-data digits:test --levels 24 --epochs 8 -o imp-out")
@shared(_general_options)
def imp(
    o: SimpleNamespace,
    source: Annotated[str, typer.Argument(help="A checkpoint to start from, or a model spec to train from scratch.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for one checkpoint and one CSV row per level.", parser=given_path)],
    data: DataOpt = None,
    eval_data: Annotated[Optional[str], typer.Option("--eval-data", help="Evaluation data (error = 1 − accuracy; default: the file's recorded eval data, else --data, with a warning).")] = None,
    rate: Annotated[float, typer.Option("--rate", help="Fraction of the remaining weights pruned per level.", parser=RATES, metavar="FLOAT")] = ImpConfig.rate,
    levels: Annotated[int, typer.Option("--levels", help="Pruning levels after the dense level 0.", parser=given_count("levels"), metavar="<int>")] = ImpConfig.levels,
    rewind: Annotated[Rewind, typer.Option("--rewind", help="init | early (after --rewind-steps) | none (plain fine-tuning).")] = ImpConfig.rewind,
    rewind_steps: Annotated[Optional[int], typer.Option("--rewind-steps", help=f"Steps for --rewind early [default: {ImpConfig.rewind_steps}].", parser=given_count("SGD steps"), metavar="<int>")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs per level.", parser=given_count(), metavar="<int>")] = ImpConfig.epochs_per_level,
    epochs_dense: Annotated[Optional[int], typer.Option("--epochs-dense", help="Epochs of dense training at level 0 (default: 0 from a checkpoint, taken as trained; --epochs from a model spec).", parser=given_count(), metavar="<int>")] = ImpConfig.epochs_dense,
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate.", parser=given_number(), metavar="<float>")] = ImpConfig.lr,
    model: ModelOpt = None,
    loss: LossOpt = None,
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    trust_pickle: TrustOpt = False,
    download: DownloadOpt = False,
    report: ReportOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --report page (the levels in -o are resumed, never replaced).")] = False,
) -> None:
    """Iterative magnitude pruning with rewinding: one checkpoint and CSV row per level, resumable."""
    with handled(o.debug):
        preflight([imp_law.output_folder(output), report_output(report)], [source, model, data, eval_data, loss],
                  force)  # together: the page's folder may not be a level's name
        with flag_names(epochs_per_level="--epochs"):
            imp_law.check_rewind_steps(rewind_steps is not None, rewind)  # also the settings api.imp completes for a checkpoint
            config = ImpConfig(rate=rate, levels=levels, rewind=rewind,
                               rewind_steps=ImpConfig.rewind_steps if rewind_steps is None else rewind_steps,
                               epochs_per_level=epochs, epochs_dense=epochs_dense, lr=lr, seed=o.seed)
            with progress("IMP levels", levels + 1, progress_enabled(o.quiet)) as advance:
                rep = api.imp(source, output, config, data=data, eval_data=eval_data, model=model, loss=loss,
                              batch_size=batch_size, max_samples=max_samples, trust_pickle=trust_pickle,
                              download=download, device=o.device, include=tuple(include or ()),
                              exclude=tuple(exclude or ()),
                              progress=lambda row: advance(row.level + 1, levels + 1))
        body = {"output": str(output), **rep.to_json()}
        # after the sweep: its levels are saved as they finish (resumable), the page describes them all
        _write_report(report, "imp", body, lambda figures: {"density, error and loss per level":
                                                            figures.imp_figure(rep.rows)}, force)
        emit("imp", body, o.json, console.render_imp, rep)


@app.command(epilog="Example: prunelimit hyperflux --model mlp:64,64,10 --data digits:train --eval-data digits:test --target-density 0.1 -o hf.pt")
@shared(_general_options)
def hyperflux(
    o: SimpleNamespace,
    output: Annotated[Path, typer.Option("-o", "--output", help="Pruned checkpoint (prunelimit format, masks included).", parser=given_path)],
    target_density: Annotated[float, typer.Option("--target-density", help="Kept fraction to reach, in (0, 1).", parser=DENSITIES, metavar="FLOAT")],
    checkpoint: Annotated[Optional[Path], typer.Argument(help="Start from these weights (else --model from scratch).", parser=given_path)] = None,
    model: ModelOpt = None,
    data: DataOpt = None,
    eval_data: EvalDataOpt = None,
    pruning_epochs: Annotated[int, typer.Option("--pruning-epochs", help="Epochs of the pressure phase.", parser=given_count(), metavar="<int>")] = HyperfluxConfig.pruning_epochs,
    regrowth_epochs: Annotated[int, typer.Option("--regrowth-epochs", help="Epochs of the regrowth phase (Γ = 0).", parser=given_count(), metavar="<int>")] = HyperfluxConfig.regrowth_epochs,
    weight_lr: Annotated[float, typer.Option("--weight-lr", help="SGD learning rate of the weights.", parser=given_number(), metavar="<float>")] = HyperfluxConfig.weight_lr,
    gate_lr: Annotated[float, typer.Option("--gate-lr", help="Adam learning rate of the gates.", parser=given_number(), metavar="<float>")] = HyperfluxConfig.gate_lr,
    log: Annotated[Optional[Path], typer.Option("--log", help="Write the per-epoch pressure/density log as CSV.", parser=given_path)] = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
    loss: LossOpt = None,
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    trust_pickle: TrustOpt = False,
    download: DownloadOpt = False,
) -> None:
    """Hyperflux L0 pruning to a target density: gates, flux, pressure scheduler, regrowth."""
    with handled(o.debug):
        with flag_names():
            config = HyperfluxConfig(pruning_epochs=pruning_epochs, regrowth_epochs=regrowth_epochs,
                                     weight_lr=weight_lr, gate_lr=gate_lr, seed=o.seed)
            preflight([Output("-o", output, "checkpoint"), optional("--log", log, "csv"), report_output(report)],
                      [checkpoint, model, data, eval_data, loss], force)
            with staged(), progress("Hyperflux epochs", pruning_epochs + regrowth_epochs,
                                    progress_enabled(o.quiet)) as advance:  # the checkpoint, log and report, or none
                rep = api.hyperflux(output, target_density, config, checkpoint=checkpoint, model=model, data=data,
                                    eval_data=eval_data, log=log, loss=loss, batch_size=batch_size,
                                    max_samples=max_samples, trust_pickle=trust_pickle, download=download,
                                    device=o.device, force=force, progress=_steps(advance),
                                    include=tuple(include or ()), exclude=tuple(exclude or ()))
                body = {"output": str(output), **rep.to_json()}
                _write_report(report, "hyperflux", body, lambda figures: {"density, pressure and loss per epoch":
                              figures.hyperflux_figure(rep.log, rep.requested_density)}, force)
        emit("hyperflux", body, o.json, console.render_hyperflux, body)

