"""The ``prunelimit`` command line: parse options, call ``prunelimit.api``, print.

Exit codes (SPEC §4): 0 success / gate passed, 1 gate failed, 2 usage or configuration
error, 3 input could not be loaded, 4 numerical failure, 5 internal error (a bug: please
report it with the output of ``--debug``), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Iterator, Optional

import click
import typer

from prunelimit import api
from prunelimit.config import options_for, read_config
from prunelimit.errors import PrunelimitError
from prunelimit.inputs import load_inputs
from prunelimit.report import console
from prunelimit.report.jsonout import document, dumps

app = typer.Typer(
    name="prunelimit",
    help="How far can this network be pruned? Predict the limit, prove it, prune to it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

EXAMPLE = "examples/digits-mlp.pt"


def _load_config(ctx: click.Context, param: click.Parameter, value: Optional[Path]) -> Optional[Path]:
    """Eager ``--config``: its values become defaults that explicit flags override."""
    if value is not None:
        try:
            known = [p.name for p in ctx.command.params if p.name != "config"]
            ctx.default_map = options_for(read_config(value), ctx.info_name, known, str(value))
        except PrunelimitError as exc:
            _fail(exc.exit_code, str(exc))
    return value


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", is_eager=True, callback=_load_config,
                                                   help="YAML file of options (flags override it).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N (auto picks CUDA when present).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for every random draw.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
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


def _fail(code: int, message: str) -> None:
    typer.echo(f"prunelimit: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def handled(debug: bool) -> Iterator[None]:
    """Map errors to exit codes and one-line messages (tracebacks only with ``--debug``)."""
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise
    except PrunelimitError as exc:
        if debug:
            raise
        _fail(exc.exit_code, str(exc))
    except KeyboardInterrupt:
        typer.echo("prunelimit: interrupted; no output file was written", err=True)
        raise typer.Exit(130)
    except Exception as exc:
        if debug:
            raise
        _fail(5, f"internal error {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''} "
                 "(rerun with --debug and report it)")


def emit(command: str, body: dict, as_json: bool, render, report) -> None:
    if as_json:
        sys.stdout.write(dumps(document(command, body)) + "\n")
    else:
        render(report)


@app.command(epilog=f"Example: prunelimit info {EXAMPLE} --data digits")
def info(
    checkpoint: CkptArg,
    model: ModelOpt = None,
    data: DataOpt = None,
    loss: LossOpt = "ce",
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    trust_pickle: TrustOpt = False,
    download: DownloadOpt = False,
    config: ConfigOpt = None,
    json: JsonOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Architecture, parameter counts (N prunable, D Hessian), per-layer zeros; loss and accuracy with --data."""
    with handled(debug):
        inputs = load_inputs(checkpoint, model, data, loss, batch_size, max_samples, device,
                             trust_pickle, download, tuple(include or ()), tuple(exclude or ()))
        rep = api.info(inputs)
        emit("info", rep.to_json(), json, console.render_info, rep)


def main() -> None:
    app()
