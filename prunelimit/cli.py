"""The ``prunelimit`` command line: parse options, call ``prunelimit.api``, print.

Exit codes (README, docs/guide.md): 0 success / gate passed, 1 gate failed, 2 usage or configuration
error, 3 input could not be loaded, 4 numerical failure, 5 internal error (a bug: please
report it with the output of ``--debug``), 130 interrupted (SIGINT), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Iterator, Optional

import click
import typer

from prunelimit import api
from prunelimit.config import options_for, read_config
from prunelimit.errors import OptionError, PrunelimitError, UsageError
from prunelimit.inputs import load_inputs
from prunelimit.io.atomic import Terminated, install_signal_handlers
from prunelimit.io.outputs import optional, preflight
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.laws.nplh import NplhConfig
from prunelimit.limits import check_counts
from prunelimit.pruning.magnitude import check_prune_scope
from prunelimit.report import console, figures
from prunelimit.report.html import report_output
from prunelimit.theory.profile import SCOPES
from prunelimit.threads import apply_threads
from prunelimit.report.progress import progress, progress_enabled
from prunelimit.report.jsonout import document, dumps
from prunelimit.report.safe import console_safe, printable
from prunelimit.specs import check_seed

# typer ≥ 0.29 vendors click: its parse errors derive from TyperException, older ones from click's
_CLICK_ERRORS = (click.ClickException, getattr(typer, "TyperException", click.ClickException))


class _Group(typer.core.TyperGroup):
    """Click's own parse errors (bad ``--iterations many``, unknown flags) as exit 2 and one line."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _CLICK_ERRORS as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `prunelimit law`: typer's help, as before
                from typer import rich_utils

                rich_utils.rich_format_error(exc)
            else:
                where = f"\nsee `{exc.ctx.command_path} --help`" if getattr(exc, "ctx", None) else ""
                typer.echo(f"prunelimit: error: {printable(exc.format_message())}{where}", err=True)
            sys.exit(exc.exit_code)
        except (typer.Abort, click.exceptions.Abort) as exc:  # Ctrl-C or SIGTERM before a command started
            _exit_interrupted(exc.__cause__)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="prunelimit",
    help="How far can this network be pruned? Predict the limit, prove it, prune to it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=_Group,
)

EXAMPLE = "examples/digits-mlp.pt"


def _load_config(ctx: click.Context, param: click.Parameter, value: Optional[Path]) -> Optional[Path]:
    """Eager ``--config``: its values become defaults that explicit flags override."""
    if value is not None:
        try:
            known = [p.name for p in ctx.command.params if p.name != "config"]
            extra = ["rules"] if ctx.info_name == "gate" else []
            options = options_for(read_config(value), ctx.info_name, known + extra, str(value))
            if "rules" in options:  # a gate policy: a list of rules, not a flag
                rules = options.pop("rules")
                if not isinstance(rules, list):
                    raise UsageError(f"{value}: gate rules must be a list of mappings")
                ctx.meta["gate_rules"] = rules
            ctx.default_map = options
        except PrunelimitError as exc:
            _fail(exc.exit_code, str(exc))
    return value


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", is_eager=True, callback=_load_config,
                                                   help="YAML file of options (flags override it).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N (auto picks CUDA when present).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for every random draw.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", help="CPU threads for torch (default: $OMP_NUM_THREADS, else the idle cores by the load average; docs/guide.md).", show_default=False)]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Model spec, e.g. mlp:64,32,10, resnet18-cifar:num_classes=100, file.py:factory (not needed for prunelimit's own files).")]
DataOpt = Annotated[Optional[str], typer.Option("--data", help="Analysis data spec, e.g. digits:train, tensors:data.npz, cifar10:ROOT.")]
LossOpt = Annotated[str, typer.Option("--loss", help="ce | mse | file.py:fn (fn(model, batch) -> mean loss).")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Batch size B for the data passes.")]
MaxSamplesOpt = Annotated[Optional[int], typer.Option("--max-samples", help="Use only the first N samples.")]
TrustOpt = Annotated[bool, typer.Option("--trust-pickle", help="Allow unpickling a whole model object (can run code: trusted files only).")]
DownloadOpt = Annotated[bool, typer.Option("--download", help="Let torchvision readers download missing data.")]
IncludeOpt = Annotated[Optional[list[str]], typer.Option("--include", help="Module-name glob to add to the prunable/Hessian set (repeatable).")]
ExcludeOpt = Annotated[Optional[list[str]], typer.Option("--exclude", help="Module-name glob to remove from the prunable/Hessian set (repeatable).")]
CkptArg = Annotated[Path, typer.Argument(help="Checkpoint: state dict, prunelimit file, .safetensors, ...", show_default=False)]


def _version(value: bool) -> None:
    if value:
        from prunelimit import __version__

        typer.echo(f"prunelimit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """How far can this network be pruned? Predict the limit, prove it, prune to it."""


def _warn(message: str) -> None:
    typer.echo(f"prunelimit: warning: {printable(message)}", err=True)


def _fail(code: int, message: str) -> None:
    """The one place errors reach stderr: file names and strings from files are made printable here."""
    typer.echo(f"prunelimit: error: {printable(message)}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def handled(debug: bool) -> Iterator[None]:
    """Map errors to exit codes and one-line messages (tracebacks only with ``--debug``)."""
    try:
        yield
    except (typer.Exit, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise
    except PrunelimitError as exc:
        if debug:
            raise
        _fail(exc.exit_code, exc.named(_flag(exc.option)) if isinstance(exc, OptionError) else str(exc))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as Terminated: the atomic writers have cleaned up
        typer.echo(f"prunelimit: {_stopped(exc)}; no partial output file was left", err=True)
        raise typer.Exit(_interrupt_code(exc))
    except BrokenPipeError:  # `prunelimit ... --json | head`: the reader left; nothing to report
        console.reader_gone()
    except OSError as exc:  # a path no earlier check turned down (name too long, a loop of links, ...)
        if debug:
            raise
        where = f" {exc.filename}" if exc.filename is not None else ""
        _fail(3, f"cannot use{where}: {exc.strerror or exc}; check the path")
    except RecursionError:  # a file nested deeper than any parser should follow
        if debug:
            raise
        _fail(3, "an input file is nested too deeply to read; check the JSON/YAML/spec files given")
    except Exception as exc:
        if debug:
            raise
        _fail(5, f"internal error {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''} "
                 "(rerun with --debug and report it)")


def _stopped(exc: BaseException | None) -> str:
    return "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"


def _interrupt_code(exc: BaseException | None) -> int:
    return 143 if isinstance(exc, Terminated) else 130


def _exit_interrupted(exc: BaseException | None) -> None:
    """Exit for a signal outside a command's ``handled`` block (start-up, shutdown)."""
    typer.echo(f"prunelimit: {_stopped(exc)}", err=True)
    sys.exit(_interrupt_code(exc))


def _inputs_of(o: SimpleNamespace, *more) -> list:
    """Input files and specs an output must not overwrite: the shared options' and ``more``."""
    return [*more, *(getattr(o, name, None) for name in ("model", "data", "loss", "config"))]


def emit(command: str, body: dict, as_json: bool, render, report) -> None:
    if as_json:
        sys.stdout.write(dumps(document(command, body)) + "\n")  # JSON escapes every control character itself
    else:
        render(console_safe(report))  # strings from files print as text, never as escapes or rich markup


MethodOpt = Annotated[str, typer.Option("--method", help="default (exact spectrum when D HVPs fit a minute and the dense Hessian fits memory, else adaptive SLQ; docs/methods.md) | slq (adaptive SLQ) | paper (reference pipeline) | exact (full Hessian).")]
ToleranceOpt = Annotated[float, typer.Option("--tolerance", help="Adaptive SLQ stops when ρ*'s stated ± (95 %, ratio units) is at most this.")]
MaxHvpsOpt = Annotated[int, typer.Option("--max-hvps", help="Adaptive SLQ: Hessian-vector products at most (the old fixed 8 × 200 plan spent 1,600).")]
TimeBudgetOpt = Annotated[Optional[float], typer.Option("--time-budget", help="Adaptive SLQ: seconds at most (default: no limit).")]
HessianSamplesOpt = Annotated[str, typer.Option("--hessian-samples", help="Curvature on a class-balanced, seeded subset: auto (all up to 8,192 samples, else 8,192) | all | N. ε, loss and the actual limit use all the data.")]
IterOpt = Annotated[Optional[int], typer.Option("--iterations", help="Lanczos steps m per probe (default: the method's).")]
RunsOpt = Annotated[Optional[int], typer.Option("--runs", help="Probe vectors K (default: the method's).")]
EpsOpt = Annotated[str, typer.Option("--epsilon", help="Loss tolerance ε: auto (std of per-batch losses) or a number.")]
EtaOpt = Annotated[float, typer.Option("--eta", help="Failure probability η of the kinematic bounds.")]
BoundModeOpt = Annotated[str, typer.Option("--bound-mode", help="akf (kinematic formula, default) | geom (two cone geometries) | none.")]
NegativeOpt = Annotated[str, typer.Option("--negative", help="Negative eigenvalues: abs (|λ|, as the reference code) | flat (λ < 0 counts as 0, a free direction). Applies to ρ* and both bounds, with every --method.")]
HvpOpt = Annotated[str, typer.Option("--hvp", help="HVP engine: auto | cached (first-order graphs kept, fastest) | revrev (rebuilt per product, least memory).")]
MemoryBudgetOpt = Annotated[str, typer.Option("--memory-budget", help="MB the HVP graphs may hold on the model's device: auto (1024 on a CPU, 3/4 of the free memory on a GPU) or a number. Graphs that fit are kept (--hvp cached), else rebuilt per product.")]
BasisOpt = Annotated[str, typer.Option("--basis-dtype", help="Lanczos basis storage in host memory: auto (float32 for float32 HVPs) | float64 | float32 | bfloat16 | float16.")]
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", help="Write a PNG plot here.")]
ReportOpt = Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report to DIR/report.html (no network).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
PerLayerOpt = Annotated[bool, typer.Option("--per-layer", help="Also each layer's trace, λmax, share of the width at R(ρ*), sparsity at ρ* and share of R(ρ*)² (docs/guide.md).")]


def curvature_options(method: str, iterations, runs, epsilon: str, eta: float, bound_mode: str, negative: str,
                      hvp: str, seed: int, basis_dtype: str, memory_budget: str = "auto",
                      **precision) -> api.CurvatureOptions:
    """The options from their flags; ``CurvatureOptions`` checks the values, here only text is parsed."""
    eps = None if epsilon == "auto" else _number("--epsilon", epsilon, "auto or a positive number")
    budget = None if memory_budget == "auto" else _number("--memory-budget", memory_budget,
                                                          "auto or a positive number of MB")
    with flag_names(memory_budget_mb="--memory-budget", max_hvps="--max-hvps", time_budget="--time-budget",
                    hessian_samples="--hessian-samples"):
        return api.CurvatureOptions(method, iterations, runs, eps, eta, bound_mode, negative, hvp, seed, basis_dtype,
                                    budget, **precision)


def _number(flag: str, text: str, expected: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r}: use {expected}") from None


@contextlib.contextmanager
def flag_names(**flags: str) -> Iterator[None]:
    """An option dataclass's ``OptionError`` reworded with the flag: ``--`` and the field's
    name with dashes, or the flag given for that field in ``flags``."""
    try:
        yield
    except OptionError as exc:
        raise UsageError(exc.named(flags.get(exc.option, _flag(exc.option)))) from None


def _flag(option: str) -> str:
    """The flag of a library option: ``--`` and its name with dashes."""
    return "--" + option.replace("_", "-")


def _model_data_options(
    model: ModelOpt = None,
    data: DataOpt = None,
    loss: LossOpt = "ce",
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    trust_pickle: TrustOpt = False,
    download: DownloadOpt = False,
) -> None:
    """Options that say which model and data a command reads (shared by the analysis commands)."""


def _spectral_options(
    method: MethodOpt = "default",
    iterations: IterOpt = None,
    runs: RunsOpt = None,
    hvp: HvpOpt = "auto",
    memory_budget: MemoryBudgetOpt = "auto",
    basis_dtype: BasisOpt = "auto",
    tolerance: ToleranceOpt = 0.01,
    max_hvps: MaxHvpsOpt = 1600,
    time_budget: TimeBudgetOpt = None,
    hessian_samples: HessianSamplesOpt = "auto",
) -> None:
    """Options of the spectrum estimate."""


def _limit_options(
    epsilon: EpsOpt = "auto",
    eta: EtaOpt = 0.01,
    bound_mode: BoundModeOpt = "akf",
    negative: NegativeOpt = "abs",
) -> None:
    """Options of the limit and its bounds."""


def _cache_options(
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Result cache folder, private to you (default ~/.cache/prunelimit).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the result cache.")] = False,
) -> None:
    """Where a computed spectrum is kept, so the next command on the same inputs reuses it."""


def _store(o: SimpleNamespace):
    """The checked result store of ``--cache-dir``/``--no-cache`` (before any work starts)."""
    from prunelimit.cache import default_cache_dir, open_store

    return open_store(None if o.no_cache else (o.cache_dir or default_cache_dir()), o.cache_dir is not None, _warn)


def _general_options(
    config: ConfigOpt = None,
    json: JsonOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    debug: DebugOpt = False,
    threads: ThreadsOpt = None,
) -> None:
    """Options every command takes (docs/guide.md)."""


_INT64_MAX = 2**63 - 1


def _check_numbers(values: dict) -> None:
    """Every numeric option, typed or from ``--config``: floats finite, integers within int64
    (torch's limit), the seed within ``[0, SEED_LIMIT)``; else a usage error naming the option."""
    if values.get("seed") is not None:
        check_seed(values["seed"], "--seed")
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{flag} must be a finite number, got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT64_MAX:
            raise UsageError(f"{flag} {value} is too large (at most {_INT64_MAX})")


def checked_numbers(fn):
    """``_check_numbers`` for a command that does not take ``shared`` options."""

    @functools.wraps(fn)
    def command(*args, **kwargs):
        with handled(kwargs.get("debug", False)):
            _check_numbers(kwargs)
        return fn(*args, **kwargs)

    return command


def shared(*groups):
    """Append the options of ``groups`` to a command; they reach it as one namespace ``o``.

    typer reads the command's signature, so the wrapper exposes the command's own
    parameters followed by the groups' (annotations evaluated, since this module defers them).
    """

    def decorate(fn):
        own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "o"]
        extra = [p for g in groups for p in inspect.signature(g, eval_str=True).parameters.values()]
        names = [p.name for p in extra]

        @functools.wraps(fn)
        def command(*args, **kwargs):
            with handled(kwargs.get("debug", False)):
                _check_numbers(kwargs)
                check_counts(kwargs)  # before any work: a count may size an allocation or a loop
                if "threads" in names:
                    apply_threads(kwargs["threads"])
            o = SimpleNamespace(**{n: kwargs.pop(n) for n in names})
            return fn(*args, o=o, **kwargs)

        params = own + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in extra]
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.default is not p.empty else p for p in params]
        command.__signature__ = inspect.Signature(params, return_annotation=None)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def _inputs(o: SimpleNamespace, checkpoint, data_from_checkpoint: bool = True):
    """``load_inputs`` from the shared model/data options."""
    return load_inputs(checkpoint, o.model, o.data, o.loss, o.batch_size, o.max_samples, o.device, o.trust_pickle,
                       o.download, tuple(o.include or ()), tuple(o.exclude or ()),
                       data_from_checkpoint=data_from_checkpoint)


def _curvature(o: SimpleNamespace) -> api.CurvatureOptions:
    limit = (getattr(o, "epsilon", "auto"), getattr(o, "eta", 0.01), getattr(o, "bound_mode", "akf"),
             getattr(o, "negative", "abs"))
    return curvature_options(o.method, o.iterations, o.runs, *limit, o.hvp, o.seed, o.basis_dtype, o.memory_budget,
                             tolerance=o.tolerance, max_hvps=o.max_hvps, time_budget=o.time_budget,
                             hessian_samples=_hessian_samples(o.hessian_samples))


def _hessian_samples(text: str) -> int | str:
    if text in ("auto", "all"):
        return text
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--hessian-samples {text!r}: use auto, all or a positive number of samples") from None


@app.command(epilog=f"Example: prunelimit info {EXAMPLE} --data digits")
@shared(_model_data_options, _general_options)
def info(
    o: SimpleNamespace,
    checkpoint: CkptArg,
) -> None:
    """Architecture, parameter counts (N prunable, D Hessian), per-layer zeros; loss and accuracy with --data."""
    with handled(o.debug):
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
    """Hessian spectrum by stochastic Lanczos quadrature: λmax, λmin, trace, nodes and weights per probe."""
    with handled(o.debug):
        options = _curvature(o)
        preflight([optional("--plot", plot, "png")], _inputs_of(o, checkpoint), force)
        store = _store(o)
        inputs = _inputs(o, checkpoint)
        with progress("curvature", api.curvature_steps(inputs, options), progress_enabled(o.json)) as advance:
            rep = api.stored_spectrum(inputs, options, _absolute(advance), store)
            if per_layer:
                rep = api.spectrum_layers(inputs, options, rep, _absolute(advance))
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
    force: ForceOpt = False,
) -> None:
    """Predicted pruning limit ρ* and its bounds [ρ_L, ρ_U] from the Hessian spectrum (Zhang et al. 2024)."""
    with handled(o.debug):
        options = _curvature(o)
        preflight([optional("--plot", plot, "png"), report_output(report)], _inputs_of(o, checkpoint), force)
        store = _store(o)
        inputs = _inputs(o, checkpoint)
        with progress("curvature", api.curvature_steps(inputs, options), progress_enabled(o.json)) as advance:
            rep = api.bounds(inputs, options, _absolute(advance), store=store, per_layer=per_layer)
        if plot is not None:
            from prunelimit.report.plots import plot_bounds

            plot_bounds(rep, plot, force)
        emit("bounds", rep.to_json(), o.json, console.render_bounds, rep)
        _write_report(report, "bounds", rep.to_json(), lambda: figures.bounds_figures(rep), force)


def _write_report(report: Optional[Path], command: str, body: dict, figures, force: bool) -> None:
    """``figures()`` builds the report's figures only when a report is asked for."""
    if report is not None:
        from prunelimit.report.html import command_line, write_report

        write_report(report, command, body, figures(), command_line(), force)


def _absolute(advance):
    """Turn ``advance`` into the library's ``progress(done, total=None, text=None)``: the
    absolute count done, and the re-planned total and a status text when they are known."""

    def update(done: int, total: int | None = None, text: str | None = None) -> None:
        advance(done, total, text, absolute=True)

    return update


def main() -> None:
    from prunelimit.distributed import launched

    install_signal_handlers()  # SIGTERM cleans up like Ctrl-C (exit 143, no temporary file left)
    try:
        with launched():  # under torchrun: join the process group; only rank 0 prints and writes
            app()
    except KeyboardInterrupt as exc:  # a signal while joining or leaving the process group
        _exit_interrupted(exc)


law_app = typer.Typer(help="The companion laws: Neural Pruning Law (nplh) and the pruning-across-scales error law.",
                      no_args_is_help=True,
                      epilog="Example: prunelimit law nplh examples/digits-mlp.pt -o points.csv && "
                             "prunelimit law nplh-fit points.csv --region auto")
app.add_typer(law_app, name="law")
RegionOpt = Annotated[str, typer.Option("--region", help="Density region of the fit: LOW,HIGH fractions or auto.")]
NPLH_REGION = ",".join(str(v) for v in NplhConfig.region)  # the default region as the flag's text


@law_app.command("nplh", epilog=f"Example: prunelimit law nplh {EXAMPLE} --metric taylor -o points.csv")
@shared(_model_data_options, _general_options)
def law_nplh(
    o: SimpleNamespace,
    checkpoint: CkptArg,
    metric: Annotated[str, typer.Option("--metric", help="magnitude | gradient | taylor | fisher | flux.")] = NplhConfig.metric,
    mode: Annotated[str, typer.Option("--mode", help="static (one sort) | iterative (prune+fine-tune) | pressure (Hyperflux ladder).")] = NplhConfig.mode,
    region: RegionOpt = NPLH_REGION,
    rate: Annotated[float, typer.Option("--rate", help="Iterative mode: fraction of active weights pruned per round.")] = NplhConfig.rate,
    finetune_steps: Annotated[int, typer.Option("--finetune-steps", help="Iterative mode: SGD steps after each round.")] = NplhConfig.finetune_steps,
    epochs_per_level: Annotated[int, typer.Option("--epochs-per-level", help="Pressure mode: epochs per pressure.")] = NplhConfig.epochs_per_level,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the (density, gamma) points as CSV.")] = None,
    plot: PlotOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Record (density, γ) points for a saliency and fit ln s = ln c − α0 ln γ (Neural Pruning Law)."""
    with handled(o.debug):
        from prunelimit.laws.nplh import nplh_figure, plot_nplh
        from prunelimit.laws.points import write_points

        config = NplhConfig(metric=metric, mode=mode, region=api.parse_region(region), rate=rate,
                            finetune_steps=finetune_steps, epochs_per_level=epochs_per_level, seed=o.seed)
        preflight([optional("-o", output, "csv"), optional("--plot", plot, "png"), report_output(report)],
                  _inputs_of(o, checkpoint), force)
        fit = api.nplh(_inputs(o, checkpoint), config)
        if output is not None:
            write_points(fit.points, output, force)
        if plot is not None:
            plot_nplh(fit, plot, force=force)
        emit("law-nplh", fit.as_dict(), o.json, console.render_nplh, fit)
        _write_report(report, "law-nplh", fit.as_dict(),
                      lambda: {"Neural Pruning Law fit": nplh_figure(fit)}, force)


@law_app.command("nplh-fit", epilog="Example: prunelimit law nplh-fit points.csv --region auto --plot law.png")
@checked_numbers
def law_nplh_fit(
    points: Annotated[Path, typer.Argument(help="CSV with header density,gamma (densities are fractions).")],
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
        if plot is not None:
            plot_nplh(fit, plot, force=force)
        emit("law-nplh", fit.as_dict(), json, console.render_nplh, fit)
        _write_report(report, "law-nplh", fit.as_dict(),
                      lambda: {"Neural Pruning Law fit": nplh_figure(fit)}, force)


@law_app.command("error-fit", epilog="Example: prunelimit law error-fit imp-out/imp.csv --predict 0.05 --plot fit.png")
@checked_numbers
def law_error_fit(
    points: Annotated[Path, typer.Argument(help="CSV with header density,error[,width,depth] (fractions).")],
    joint: Annotated[bool, typer.Option("--joint", help="Fit the joint law over widths and depths (φ, ψ).")] = False,
    predict: Annotated[Optional[float], typer.Option("--predict", help="Predicted error at this density.")] = None,
    target_error: Annotated[Optional[float], typer.Option("--target-error", help="Smallest density reaching this error.")] = None,
    width: Annotated[Optional[float], typer.Option("--width", help="Joint law: the network's width for --predict/--target-error.")] = None,
    depth: Annotated[Optional[float], typer.Option("--depth", help="Joint law: the network's depth.")] = None,
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
        data = errorlaw.read_points(points)
        fit = errorlaw.fit_error_law(data, joint=joint, seed=seed)
        body = fit.to_dict()
        if predict is not None:
            body["predict"] = {"density": predict,
                               "error": errorlaw.predict(fit, predict, width, depth, extrapolate=extrapolate)}
        if target_error is not None:
            body["target"] = {"error": target_error, "density": errorlaw.density_for_error(
                fit, target_error, width, depth, extrapolate=extrapolate)}
        if plot is not None:
            errorlaw.plot_fit(fit, data, plot, force)
        emit("law-error-fit", body, json, console.render_error_fit, body)
        _write_report(report, "law-error-fit", body,
                      lambda: {"error law fit": errorlaw.fit_figure(fit, data)}, force)


@app.command(epilog="Example: prunelimit imp mlp:64,32,10 --data digits:train --eval-data digits:test --levels 8 -o imp-out")
@shared(_general_options)
def imp(
    o: SimpleNamespace,
    source: Annotated[str, typer.Argument(help="A checkpoint to start from, or a model spec to train from scratch.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for one checkpoint and one CSV row per level.")],
    data: DataOpt = None,
    eval_data: Annotated[Optional[str], typer.Option("--eval-data", help="Evaluation data (error = 1 − accuracy).")] = None,
    rate: Annotated[float, typer.Option("--rate", help="Fraction of the remaining weights pruned per level.")] = ImpConfig.rate,
    levels: Annotated[int, typer.Option("--levels", help="Pruning levels after the dense level 0.")] = ImpConfig.levels,
    rewind: Annotated[str, typer.Option("--rewind", help="init | early (after --rewind-steps) | none (plain fine-tuning).")] = ImpConfig.rewind,
    rewind_steps: Annotated[int, typer.Option("--rewind-steps", help="Steps for --rewind early.")] = ImpConfig.rewind_steps,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs per level.")] = ImpConfig.epochs_per_level,
    epochs_dense: Annotated[Optional[int], typer.Option("--epochs-dense", help="Epochs for level 0 (0: the checkpoint is trained).")] = ImpConfig.epochs_dense,
    lr: Annotated[float, typer.Option("--lr", help="SGD learning rate.")] = ImpConfig.lr,
    model: ModelOpt = None,
    loss: LossOpt = "ce",
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    trust_pickle: TrustOpt = False,
    download: DownloadOpt = False,
) -> None:
    """Iterative magnitude pruning with rewinding: one checkpoint and CSV row per level, resumable."""
    with handled(o.debug):
        with flag_names(epochs_per_level="--epochs"):
            config = ImpConfig(rate=rate, levels=levels, rewind=rewind, rewind_steps=rewind_steps,
                               epochs_per_level=epochs, epochs_dense=epochs_dense, lr=lr, seed=o.seed)
        rep = api.imp(source, output, config, data=data, eval_data=eval_data, model=model, loss=loss,
                      batch_size=batch_size, max_samples=max_samples, trust_pickle=trust_pickle, download=download,
                      device=o.device)
        body = {"output": str(output), "csv": str(rep.csv_path), "prunable": rep.prunable,
                "resumed_after": rep.resumed_after, "rows": rep.rows}
        emit("imp", body, o.json, console.render_imp, rep)


EvalDataOpt = Annotated[Optional[str], typer.Option("--eval-data", help="Evaluation data for accuracy (default: the file's recorded eval data, else --data).")]


def _eval_batches(eval_data: Optional[str], inputs, batch_size: int, download: bool):
    from prunelimit.inputs import check_compatible, load_batches

    spec = eval_data or inputs.loaded.recorded_spec("eval_data")
    if not spec:
        return None
    batches = load_batches(spec, batch_size, None, inputs.device, download, recorded=eval_data is None)
    check_compatible(inputs.loaded, batches, inputs.loss_fn, spec)  # labels/shapes: exit 3, not a crash later
    return batches


@app.command(epilog="Example: prunelimit train --model mlp:64,32,10 --data digits:train --eval-data digits:test --l1 1e-3 --epochs 60 -o lomp.pt")
@shared(_general_options)
def train(
    o: SimpleNamespace,
    output: Annotated[Path, typer.Option("-o", "--output", help="Checkpoint to write (prunelimit format, updated every epoch).")],
    model: Annotated[Optional[str], typer.Option("--model", help="Model spec to train from scratch.")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Training data spec.")] = None,
    eval_data: EvalDataOpt = None,
    preset: Annotated[Optional[str], typer.Option("--preset", help="Reference hyperparameters of a paper network (fc5, fc12, alexnet-cifar, vgg16-bn-cifar, resnet18-cifar, resnet50-cifar).")] = None,
    l1: Annotated[Optional[float], typer.Option("--l1", help="λ of the l1 penalty λ‖w‖₁ (default 1e-4, or the preset's).")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs (default 30, or the preset's).")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="SGD learning rate (default 0.05, or the preset's).")] = None,
    momentum: Annotated[float, typer.Option("--momentum")] = 0.9,
    warmup_epochs: Annotated[Optional[int], typer.Option("--warmup-epochs", help="Linear warm-up epochs.")] = None,
    schedule: Annotated[Optional[str], typer.Option("--schedule", help="none | cosine | step (stepped per epoch).")] = None,
    milestones: Annotated[Optional[str], typer.Option("--milestones", help="Step schedule: comma-separated epochs.")] = None,
    l1_biases: Annotated[bool, typer.Option("--l1-biases", help="Penalise biases and norm parameters too, as the reference code does.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run saved in --output.")] = False,
    force: ForceOpt = False,
    loss: LossOpt = "ce",
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    download: DownloadOpt = False,
) -> None:
    """LOMP training: SGD with momentum on loss + λ‖w‖₁, warm-up and schedules, resumable."""
    with handled(o.debug):
        from dataclasses import replace

        from prunelimit.pruning.lomp import PRESETS, LompConfig

        if model is None or data is None:
            raise UsageError("train needs --model SPEC and --data SPEC (e.g. --model mlp:64,32,10 --data digits:train)")
        if preset is not None and preset not in PRESETS:
            raise UsageError(f"--preset {preset!r}: use one of {', '.join(PRESETS)}")
        base = PRESETS[preset] if preset else LompConfig(epochs=30, lr=0.05, l1=1e-4)
        changes = {k: v for k, v in dict(l1=l1, epochs=epochs, lr=lr, warmup_epochs=warmup_epochs,
                                         schedule=schedule).items() if v is not None}
        if milestones:
            try:
                changes["milestones"] = tuple(int(m) for m in milestones.split(","))
            except ValueError:
                raise UsageError(f"--milestones {milestones!r}: comma-separated integers") from None
        cfg = replace(base, momentum=momentum, batch_size=batch_size, seed=o.seed,
                      l1_scope="reference" if l1_biases else "prunable", **changes)
        with progress("training", 0, progress_enabled(o.json)) as advance:
            result = api.train(model, data, output, cfg, eval_data, batch_size, max_samples, loss, o.device, resume,
                               force, download, progress=_steps(advance))
        emit("train", {"output": str(output), "config": cfg, "history": result.history, "seconds": result.seconds},
             o.json, console.render_train, result)


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise UsageError(f"--scope {scope!r}: use {' or '.join(SCOPES)}")


def _check_acc_drop(acc_drop: float) -> None:
    if not 0 <= acc_drop <= 100:
        raise UsageError(f"--acc-drop is in percentage points (0–100), got {acc_drop}")


def _check_finetune(epochs: int, lr: float) -> None:
    """Refuse bad fine-tuning settings before any work (``FinetuneConfig`` checks them)."""
    from prunelimit.pruning.finetune import FinetuneConfig

    with flag_names(epochs="--finetune-epochs", lr="--finetune-lr"):
        FinetuneConfig(epochs=epochs, lr=lr)


def _steps(advance):
    """Progress callback ``(step, total)`` that also sets the bar's total."""
    return lambda step, total: advance(step, total)


@app.command(epilog=f"Example: prunelimit prune {EXAMPLE} --ratio auto -o pruned.pt")
@shared(_model_data_options, _spectral_options, _limit_options, _cache_options, _general_options)
def prune(
    o: SimpleNamespace,
    checkpoint: CkptArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Pruned checkpoint (prunelimit format, masks included).")],
    ratio: Annotated[str, typer.Option("--ratio", help="auto (ρ*), lower (ρ_L) or a removed fraction in [0, 1).")] = "auto",
    from_report: Annotated[Optional[Path], typer.Option("--from", help="Reuse a saved `bounds --json` report for auto/lower.")] = None,
    scope: Annotated[str, typer.Option("--scope", help="global (one ranking over all layers) | layer (same ratio per layer) | 2:4 (2 largest of every 4 along the input, --ratio 0.5).")] = "global",
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", help="Masked fine-tuning epochs after pruning (pruned weights stay 0).")] = 0,
    finetune_lr: Annotated[float, typer.Option("--finetune-lr")] = 0.01,
    format: Annotated[Optional[list[str]], typer.Option("--format", help="Also write torch-prune (weight_orig/weight_mask) and/or safetensors (repeatable).")] = None,
    eval_data: EvalDataOpt = None,
    acc_drop: Annotated[float, typer.Option("--acc-drop", help="With --ratio auto|lower: warn when one-shot pruning loses more accuracy than this (percentage points).")] = 0.5,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 (like a failed gate) when --acc-drop is exceeded; the file is still written.")] = False,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """One-shot global magnitude pruning to the predicted limit (or a given ratio), masks saved."""
    with handled(o.debug):
        options = _curvature(o)
        _check_acc_drop(acc_drop)
        check_prune_scope(scope, ratio)
        _check_finetune(finetune_epochs, finetune_lr)
        formats = ("prunelimit", *[f for f in (format or []) if f != "prunelimit"])
        preflight([*api.prune_outputs(output, formats).values(), report_output(report)],
                  _inputs_of(o, checkpoint, eval_data, from_report), force)
        store = _store(o) if ratio in ("auto", "lower") and from_report is None else None
        inputs = _inputs(o, checkpoint)
        with progress("curvature", api.curvature_steps(inputs, options) if inputs.batches else 0,
                      progress_enabled(o.json)) as advance:
            if ratio in ("auto", "lower") and from_report is None:
                api.require_data(inputs)
            value, source = api.resolve_ratio(ratio, inputs, options, from_report, _absolute(advance), scope, store)
        rep = api.prune(inputs, value, output, source, scope, finetune_epochs, finetune_lr,
                        _eval_batches(eval_data, inputs, o.batch_size, o.download), formats, force, o.seed,
                        acc_drop=acc_drop if ratio in ("auto", "lower") else None)
        emit("prune", rep.to_json(), o.json, console.render_prune, rep)
        _write_report(report, "prune", rep.to_json(),
                      lambda: {"sparsity per layer": figures.sparsity_figure(rep.layers)}, force)
        if rep.acc_drop_exceeded:
            _warn(f"pruning to the predicted {console.pct(rep.achieved)} lost {rep.accuracy_drop:.2f} accuracy points, "
                  f"more than --acc-drop {acc_drop:g}; prune less (--ratio lower or a number), fine-tune "
                  "(--finetune-epochs N), or check the prediction with `prunelimit verify`")
            if strict:
                raise typer.Exit(1)


@app.command(epilog=f"Example: prunelimit prune {EXAMPLE} --ratio 0.9 -o pruned.pt && "
                    "prunelimit export pruned.pt -o model.sparse.safetensors --bench")
@shared(_model_data_options, _general_options)
def export(
    o: SimpleNamespace,
    checkpoint: Annotated[Path, typer.Argument(help="A pruned checkpoint (with masks: from prune, hyperflux, imp or torch-prune).", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Sparse safetensors file to write (load it with prunelimit.load_sparse; every command reads it).")],
    bench: Annotated[bool, typer.Option("--bench", help="Also time dense vs sparse inference on --device at batch 1 and --batch-size.")] = False,
    pattern: Annotated[str, typer.Option("--pattern", help="--bench kernel: csr (torch.sparse CSR, any device) | 2:4 (semi-structured, CUDA only; prune with --scope 2:4).")] = "csr",
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Write a pruned checkpoint as a small sparse safetensors file: sizes per tensor, and latency with --bench."""
    with handled(o.debug):
        from prunelimit.export.exporter import check_options

        check_options(output, bench, pattern, o.device)
        preflight([optional("-o", output, "safetensors"), report_output(report)], _inputs_of(o, checkpoint), force)
        inputs = _inputs(o, checkpoint) if bench else None
        rep = api.export(checkpoint, output, o.model, o.trust_pickle, force, inputs, o.batch_size, pattern)
        emit("export", rep.to_json(), o.json, console.render_export, rep)
        _write_report(report, "export", rep.to_json(), dict, force)


@app.command(epilog=f"Example: prunelimit verify {EXAMPLE} --plot verify.png")
@shared(_model_data_options, _spectral_options, _limit_options, _cache_options, _general_options)
def verify(
    o: SimpleNamespace,
    checkpoint: CkptArg,
    eval_data: EvalDataOpt = None,
    acc_drop: Annotated[float, typer.Option("--acc-drop", help="Accuracy criterion δ in percentage points.")] = 0.5,
    sweep: Annotated[int, typer.Option("--sweep", help="Also record a full curve of N evenly spaced ratios.")] = 0,
    refit: Annotated[bool, typer.Option("--refit", help="Also measure the limit after masked fine-tuning of each probed ratio.")] = False,
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", help="Fine-tuning epochs per probed ratio with --refit.")] = 5,
    finetune_lr: Annotated[float, typer.Option("--finetune-lr")] = 0.01,
    scope: Annotated[str, typer.Option("--scope", help="global | layer.")] = "global",
    from_report: Annotated[Optional[str], typer.Option("--from", help="Take the prediction from this saved `bounds --json` report of the same checkpoint and data (no curvature work).")] = None,
    plot: PlotOpt = None,
    report: ReportOpt = None,
    force: ForceOpt = False,
) -> None:
    """Predicted limit vs the limit one-shot pruning really achieves (loss and accuracy criteria), and Δ."""
    with handled(o.debug):
        options = _curvature(o)
        _check_acc_drop(acc_drop)
        _check_scope(scope)
        _check_finetune(finetune_epochs, finetune_lr)
        if refit and finetune_epochs < 1:
            raise UsageError(f"--refit needs --finetune-epochs of at least 1, got {finetune_epochs}")
        preflight([optional("--plot", plot, "png"), report_output(report)],
                  [*_inputs_of(o, checkpoint, eval_data), from_report], force)
        store = _store(o)
        inputs = _inputs(o, checkpoint)
        api.require_data(inputs)
        evaluation = _eval_batches(eval_data, inputs, o.batch_size, o.download)
        steps = api.curvature_steps(inputs, options) if from_report is None else 0
        with progress("curvature", steps, progress_enabled(o.json)) as advance:
            rep = api.verify(inputs, options, evaluation, acc_drop, sweep, scope, _absolute(advance),
                             finetune_epochs if refit else 0, finetune_lr, store, from_report)
        if plot is not None:
            from prunelimit.report.plots import plot_verify

            plot_verify(rep, plot, force)
        emit("verify", rep.to_json(), o.json, console.render_verify, rep)
        _write_report(report, "verify", rep.to_json(), lambda: figures.verify_figures(rep), force)


@app.command(epilog=f"Example: prunelimit gate {EXAMPLE} --min-ratio 0.6 --junit gate.xml")
@shared(_model_data_options, _spectral_options, _limit_options, _cache_options, _general_options)
def gate(
    o: SimpleNamespace,
    ctx: typer.Context,
    checkpoint: CkptArg,
    min_ratio: Annotated[Optional[float], typer.Option("--min-ratio", help="Pass when the limit (removed fraction) is at least this.")] = None,
    use: Annotated[str, typer.Option("--use", help="lower (ρ_L, default) | predicted (ρ*) | actual (the measured one-shot limit, loss criterion: the verify search, for models that are not l1-trained; docs/guide.md).")] = "lower",
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="A stored `bounds --json` report to compare against.")] = None,
    max_drop: Annotated[Optional[float], typer.Option("--max-drop", help="Largest allowed fall of the limit against --baseline.")] = None,
    allow_incompatible_baseline: Annotated[bool, typer.Option("--allow-incompatible-baseline", help="Compare against a baseline computed with another method, D, N or data (a warning says so); by default such a baseline is refused (exit 2).")] = False,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Report, but exit 0 even when a rule fails.")] = False,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write a JUnit XML report here.")] = None,
) -> None:
    """CI gate: exit 1 when the model's pruning limit is below --min-ratio or fell more than --max-drop."""
    with handled(o.debug):
        from prunelimit.gate import rules_from_options

        options = _curvature(o)
        policy = ctx.meta.get("gate_rules")
        gate_rules = rules_from_options(min_ratio, use, baseline, max_drop, policy)
        # fail before the curvature work, not after; the JUnit report is rewritten each run
        preflight([optional("--junit", junit, "xml", overwrite=True)], _inputs_of(o, checkpoint, baseline))
        store = _store(o)
        inputs = _inputs(o, checkpoint)
        with progress("curvature", api.curvature_steps(inputs, options), progress_enabled(o.json)) as advance:
            rep = api.gate(inputs, gate_rules, options, store, _absolute(advance), allow_incompatible_baseline)
        if junit is not None:
            from prunelimit.report.junit import write_junit

            write_junit(junit, "prunelimit gate", [(o.rule.name, o.passed, o.reason) for o in rep.result.outcomes],
                        rep.seconds)
        emit("gate", rep.to_json(), o.json, console.render_gate, rep)
        if not rep.result.passed and not exit_zero:
            raise typer.Exit(1)


@app.command(epilog="Example: prunelimit hyperflux --model mlp:64,64,10 --data digits:train --target-density 0.1 -o hf.pt")
@shared(_general_options)
def hyperflux(
    o: SimpleNamespace,
    output: Annotated[Path, typer.Option("-o", "--output", help="Pruned checkpoint (prunelimit format, masks included).")],
    target_density: Annotated[float, typer.Option("--target-density", help="Kept fraction to reach, in (0, 1).")],
    checkpoint: Annotated[Optional[Path], typer.Argument(help="Start from these weights (else --model from scratch).")] = None,
    model: ModelOpt = None,
    data: DataOpt = None,
    eval_data: EvalDataOpt = None,
    pruning_epochs: Annotated[int, typer.Option("--pruning-epochs", help="Epochs of the pressure phase.")] = HyperfluxConfig.pruning_epochs,
    regrowth_epochs: Annotated[int, typer.Option("--regrowth-epochs", help="Epochs of the regrowth phase (Γ = 0).")] = HyperfluxConfig.regrowth_epochs,
    weight_lr: Annotated[float, typer.Option("--weight-lr")] = HyperfluxConfig.weight_lr,
    gate_lr: Annotated[float, typer.Option("--gate-lr")] = HyperfluxConfig.gate_lr,
    log: Annotated[Optional[Path], typer.Option("--log", help="Write the per-epoch pressure/density log as CSV.")] = None,
    force: ForceOpt = False,
    loss: LossOpt = "ce",
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    trust_pickle: TrustOpt = False,
    download: DownloadOpt = False,
) -> None:
    """Hyperflux L0 pruning to a target density: gates, flux, pressure scheduler, regrowth."""
    with handled(o.debug):
        with flag_names():
            config = HyperfluxConfig(pruning_epochs=pruning_epochs, regrowth_epochs=regrowth_epochs,
                                     weight_lr=weight_lr, gate_lr=gate_lr, seed=o.seed)
            rep = api.hyperflux(output, target_density, config, checkpoint=checkpoint, model=model, data=data,
                                eval_data=eval_data, log=log, loss=loss, batch_size=batch_size,
                                max_samples=max_samples, trust_pickle=trust_pickle, download=download,
                                device=o.device, force=force)
        emit("hyperflux", rep, o.json, console.render_hyperflux, rep)
