"""What every command of the ``prunelimit`` command line shares: the typer app, option types,
error handling (exit codes), option checks and output.

Exit codes (README, docs/guide.md): 0 success / gate passed, 1 gate failed, 2 usage or configuration
error, 3 input could not be loaded (or does not fit in memory), 4 numerical failure, 5 internal error (a bug: please
report it with the output of ``--debug``), 130 interrupted (SIGINT), 143 terminated (SIGTERM), 129 hung up (SIGHUP),
141 the reader closed the pipe (``| head``).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import math
import os
import signal
import sys
import traceback
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from fractions import Fraction
from types import SimpleNamespace
from typing import Annotated, Any, Callable, Collection, Iterable, Iterator, Optional, get_args

import click
import typer

from prunelimit import api
from prunelimit.cache import one_look
from prunelimit.api.options import (ACCELERATOR_BUDGET_SHARE, CPU_MEMORY_BUDGET_MB, DEFAULT_MAX_HVPS, METHODS,
                                    PAPER_ITERATIONS, PAPER_RUNS, TIMED_PRODUCTS)
from prunelimit.config import options_for, read_config, refuse_booleans, relative_to_file, keys_served_alone
from prunelimit.curvature.exact import MAX_DIM
from prunelimit.curvature.hvp import ENGINES
from prunelimit.curvature.lanczos import BASIS_CHOICES
from prunelimit.curvature.slq import DEFAULT_ITERATIONS, DEFAULT_RUNS
from prunelimit.data.subsample import AUTO_HESSIAN_SAMPLES, DATA_PARTS
from prunelimit.distributed import budget_counted_from, is_main, report_claim
from prunelimit.errors import (OptionError, PrunelimitError, UsageError, first_line, on_command_line, option_flag,
                               options_configured, options_named, quoted, written_in)
from prunelimit.inputs import load_inputs
from prunelimit.io.atomic import Terminated, forget_signal, raise_if_signalled
from prunelimit.limits import check_counts, out_of_memory
from prunelimit.pruning.finetune import FinetuneConfig
from prunelimit.report import console
from prunelimit.theory.limit import BOUND_MODES
from prunelimit.theory import statdim
from prunelimit.threads import apply_threads
from prunelimit.report.jsonout import document, dumps
from prunelimit.report.safe import console_safe, printable
from prunelimit.specs import check_seed, user_code_line, user_failure
from prunelimit.validate import INT64_MAX, read_count, read_number

# typer ≥ 0.29 vendors click: its parse errors derive from TyperException, older ones from click's
_CLICK_ERRORS = (click.ClickException, getattr(typer, "TyperException", click.ClickException))


class HelpGroup(typer.core.TyperGroup):
    """Click's help lists each command with its whole summary, wrapped: click's own cuts it to
    one line with "..." and at its first full stop ("(Zhang et al.")."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        rows = [(name, inspect.cleandoc(command.help or "").partition("\n\n")[0])
                for name, command in commands if command is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _Group(HelpGroup):
    """Click's own parse errors (bad ``--iterations many``, unknown flags) as exit 2 and one line;
    a signal while the options are parsed, or between a command's checks, exits as documented."""

    def make_context(self, *args, **kwargs):
        with _signal_exits():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context):
        with _signal_exits():
            return super().invoke(ctx)

    def main(self, args=None, *more, standalone_mode: bool = True, **kwargs):
        global _run
        _run = _Run.of(self, list(sys.argv[1:] if args is None else args))
        try:
            if not standalone_mode:
                return super().main(args, *more, standalone_mode=False, **kwargs)
            self._main(args, *more, **kwargs)
        finally:
            _run = None

    def _main(self, *args, **kwargs):
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _CLICK_ERRORS as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `prunelimit law`: the help, as before
                exc.show()
            else:
                _name_config_key(exc)
                _drop_validator_prefix(exc)
                where = f"\nsee `{exc.ctx.command_path} --help`" if getattr(exc, "ctx", None) else ""
                sys.exit(_report_end(exc.exit_code, f"prunelimit: error: {printable(exc.format_message())}{where}",
                                     exc.format_message()))
            sys.exit(exc.exit_code)
        except (typer.Abort, click.exceptions.Abort) as exc:  # older typer: a signal it caught itself
            _exit_interrupted(exc.__cause__)
        sys.exit(code if isinstance(code, int) else 0)


_VALIDATOR_PREFIX = "Value error, "


def _drop_validator_prefix(exc: Exception) -> None:
    """Typer from 0.29 checks a choice (``--method lanczos``) through a pydantic validator, whose
    message starts with pydantic's ``Value error, ``: the user reads click's own words after it."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message.startswith(_VALIDATOR_PREFIX):
        exc.message = message[len(_VALIDATOR_PREFIX):]


def _name_config_key(exc: Exception) -> None:
    """Click's refusal of a value the --config file gave (``iterations: many``) names its key
    and the file (``Invalid value for iterations in ci.yaml``), not the flag the command line
    does not hold."""
    param, ctx = getattr(exc, "param", None), getattr(exc, "ctx", None)
    source = ctx.get_parameter_source(param.name) if param is not None and ctx is not None else None
    if source is not None and source.name == "DEFAULT_MAP" and ctx.params.get("config") is not None:
        exc.param_hint = written_in(_config_key(param), str(ctx.params["config"]))


@dataclass(frozen=True)
class ErrorReport:
    """A file a command rewrites with its error when it ends in one (``gate --junit``), so a CI
    reading it never sees the verdict an earlier run left there: the option's parameter name,
    the file's format (for the output checks) and ``write(path, message)``."""

    param: str
    fmt: str
    write: Callable[[Path, str], None]


ERROR_REPORTS: dict[str, ErrorReport] = {}  # command name → its report; each command module registers its own


@dataclass
class _Run:
    """The command line being run, kept so that every way it can end in an error (click's
    parsing, ``--config``, the option checks, the command itself, a signal) reaches the
    command's error report, if it has one and the command line names its file."""

    command: object | None  # the click command, when the command line names one
    args: list[str]  # what follows the command's name
    config: dict = field(default_factory=dict)  # the --config values, once read

    @classmethod
    def of(cls, group, argv: list[str]) -> "_Run":
        # the root group takes flags only (--version, --help), so its first other word names the command
        at = next((i for i, word in enumerate(argv) if not word.startswith("-")), len(argv))
        return cls(group.commands.get(argv[at]) if at < len(argv) else None, argv[at + 1:])


_run: _Run | None = None


def _report_error(message: str) -> None:
    """Write ``message`` into the running command's error report, when the command line (or its
    ``--config``) names the file and the file passes the output checks the command applies to
    it: never one of the inputs (any file the command line names), a folder or a device. A
    failure to write it is not allowed to hide the error itself."""
    run = _run
    report = ERROR_REPORTS.get(getattr(run.command, "name", "")) if run is not None else None
    if report is None:
        return
    option = next(p for p in run.command.params if p.name == report.param)
    path, others = _option_value(run.command.params, run.args, option.opts)
    if path is None and isinstance(run.config.get(report.param), str):
        path = run.config[report.param]
    if path is None:
        return
    from prunelimit.io.outputs import Output, preflight

    # ValueError: a NUL in a --config file's name for it, which the error printed names already
    with contextlib.suppress(PrunelimitError, OSError, ValueError, RecursionError, KeyboardInterrupt):
        named = _strings({key: value for key, value in run.config.items() if key != report.param})
        preflight([Output(option.opts[0], Path(path), report.fmt, overwrite=True)], others + named)
        report.write(Path(path), message)


def _option_value(params, args: list[str], opts: list[str]) -> tuple[str | None, list[str]]:
    """The value the command line gives an option (the last one, as click keeps it) and every
    other word (``--flag=VALUE`` as ``VALUE``), read as click reads them: ``--opt VALUE`` or
    ``--opt=VALUE``, another option's value taken even when it looks like an option. The value
    is ``None`` when the option is not there, or its own name is mistyped."""
    takes_value = {opt for p in params if p.param_type_name == "option" and not p.is_flag and not p.count
                   for opt in p.opts}
    value, others, words = None, [], iter(args)
    for word in words:
        name, eq, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        if word == "--":  # only arguments follow
            others += list(words)
        elif name in opts:
            value = attached if eq else next(words, None)
        else:
            others.append(attached if eq else word)
            if word in takes_value:
                others.append(next(words, ""))
    return value, others


def _strings(value) -> list[str]:
    """Every string in a ``--config`` value (lists and mappings searched): the files it may name."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [s for item in items for s in _strings(item)]


app = typer.Typer(
    name="prunelimit",
    help="How far can this network be pruned? Predict the limit, prove it, prune to it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help, not rich's tables: at 80 columns those cut the widest column with "…"
    # (`--allow-incompatible-…`); click wraps the text and never cuts a name, to 120 columns at most
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
    cls=_Group,
)

EXAMPLE = "examples/digits-mlp.pt"


def given_path(value: str) -> Path:
    """A path on the command line or in --config. An empty one is refused (exit 2): it would
    mean the current folder, and it is nearly always an unset shell variable (``-o "$OUT"``).
    A --config file's number, list or mapping is refused too (exit 2): ``Path`` raised a
    TypeError, a traceback and exit 1."""
    if not isinstance(value, (str, os.PathLike)):
        kind = {dict: "mapping", int: "number", float: "number"}.get(type(value), type(value).__name__)
        raise typer.BadParameter(f"got {quoted(value)}, a {kind}, not a path; write a file name")
    if not str(value):
        raise typer.BadParameter("is empty; give a path (an unset shell variable?)")
    if "\0" in str(value):  # only a --config file can write one ("\x00"); the OS refused it: exit 5
        raise typer.BadParameter(f"{quoted(str(value))} holds a NUL character, which no file name can; write a file name")
    return Path(value)


def given_file(value: str) -> str:
    """:func:`given_path`'s check for a path kept as written (it names a gate rule)."""
    given_path(value)
    return value


def _as_parameter(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``read``'s refusal (a ``ValueError``) as click's, which names the flag (or the --config key) and exits 2."""
    def parse(value: Any) -> Any:
        try:
            return read(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def given_fraction(what: str) -> Callable[[Any], float]:
    """The parser of a flag whose number is a fraction (``what``: ``ratios``, ``densities``, …), or of
    its --config key, its range checked where it is used (:func:`read_number`)."""
    return _as_parameter(functools.partial(read_number, fraction=what))


def given_number(unit: str = "") -> Callable[[Any], float]:
    """The parser of a flag whose value is a number (in ``unit``), or of its --config key (:func:`read_number`)."""
    return _as_parameter(functools.partial(read_number, unit=unit))


def given_count(unit: str = "") -> Callable[[Any], int]:
    """The parser of a flag whose value is a count (of ``unit``), or of its --config key (:func:`read_count`)."""
    return _as_parameter(functools.partial(read_count, unit=unit))


def given_auto_or(read: Callable[[Any], Any], *words: str) -> Callable[[Any], str]:
    """The parser of a flag that takes one of ``words`` or a number (``auto`` or MB): the word,
    or the number as ``read`` reads it, as text (its own check reads the text)."""
    def parse(value: Any) -> str:
        if isinstance(value, str) and value in words:
            return value
        try:
            return str(read(value))
        except ValueError as exc:  # text that is no number at all may be a word mistyped: the words too
            also = f"; use {', '.join(words)} or a number" if "not a number" in str(exc) else ""
            raise typer.BadParameter(f"{exc}{also}") from None

    return parse


given_ratio = given_fraction("ratios")  # --min-ratio 0.8, --max-drop, as the rule they make


def _load_config(ctx: click.Context, param: click.Parameter, value: Optional[Path]) -> Optional[Path]:
    """Eager ``--config``: its values become defaults that explicit flags override."""
    if value is not None:
        try:
            # a file's keys are the options' names (`from:` for --from), the parameters' names inside
            names = {_config_key(p): p.name for p in ctx.command.params if p.name != "config"}
            sections, config = _sections(ctx.find_root().command), read_config(value)
            given = options_for(config, ctx.info_name, sections.get(ctx.info_name.replace("-", "_"), names),
                                str(value), sections)
            # the keys that serve this command alone (its section's; a top-level key may serve others)
            ctx.meta["config_section"] = {names.get(key, key) for key in keys_served_alone(config, ctx.info_name,
                                                                                          sections)}
            refuse_booleans(given, _takes(ctx.command), str(value))
            options = relative_to_file({names.get(key, key): v for key, v in given.items()}, value,
                                       _path_options(ctx.command))
            if _run is not None:
                _run.config = dict(options)
            if "rules" in options:  # a gate policy: a list of rules, not a flag
                rules = options.pop("rules")
                if not isinstance(rules, list):
                    raise UsageError(f"{value}: gate rules must be a list of mappings")
                ctx.meta["gate_rules"] = rules
            ctx.default_map = options
        except PrunelimitError as exc:
            _fail(exc.exit_code, str(exc))
    return value


def _sections(group: click.Command) -> dict[str, list[str]]:
    """Each command's ``--config`` section and the keys it reads (its options; a gate's
    ``rules`` too), a group's subcommands by their own names (``law nplh-fit``: ``nplh_fit``)."""
    sections: dict[str, list[str]] = {}
    for name, command in getattr(group, "commands", {}).items():
        if hasattr(command, "commands"):
            sections.update(_sections(command))
        else:
            sections[name.replace("-", "_")] = [_config_key(p) for p in command.params if p.name != "config"] + (
                ["rules"] if name == "gate" else [])
    return sections


def _configured_options(ctx: click.Context, config: Optional[Path]) -> tuple[str, list[str]]:
    """The command's --config file ``config`` as given and the keys of the options it set (the
    command line did not override them): a message names those by their key in the file."""
    given = {} if config is None else _given(ctx, [p.name for p in ctx.command.params])
    return str(config), [_config_key(p) for p in ctx.command.params if given.get(p.name) == "in the --config file"]


def _path_options(command: click.Command) -> list[str]:
    """The options of ``command`` that name a file or folder (a ``Path``, or a path kept as
    written): in a ``--config`` file they are read from its folder."""
    return [p.name for p in command.params if p.param_type_name == "option" and p.name != "config" and _names_a_path(p)]


def _config_key(param: click.Parameter) -> str:
    """``param``'s key in a ``--config`` file: its long flag's name (``from`` for ``--from``,
    whose parameter is ``from_report``), with ``_`` for ``-``; an argument's own name."""
    flag = next((name for name in param.opts if name.startswith("--")), None)
    return flag[2:].replace("-", "_") if flag else param.name


def _takes(command: click.Command) -> dict[str, str]:
    """What each option of ``command`` that is no switch takes (a number or text), by its ``--config`` key."""
    annotations = {_config_key(p): getattr(getattr(p, "type_descriptor", None), "annotation", None)
                   for p in command.params}
    return {name: "a number" if kind in (int, float) else "text"
            for name, kind in annotations.items() if kind is not bool}


def _names_a_path(param: click.Parameter) -> bool:
    described = getattr(param, "type_descriptor", None)  # typer's record of the annotation and its parser
    parser = getattr(getattr(described, "parameter_info", None), "parser", None)
    return getattr(described, "annotation", None) is Path or parser in (given_path, given_file)


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", is_eager=True, callback=_load_config,
                                                   help="YAML file of options (flags override it; its relative paths are read from its folder).", parser=given_path)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N (auto picks CUDA when present).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for every random draw.", parser=given_count(), metavar="<int>")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress on stderr: neither the bar on a terminal nor the progress lines in a log (warnings and errors stay).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", help="CPU threads for torch and NumPy's BLAS (default: $OMP_NUM_THREADS, else the idle cores by the load average; docs/guide.md).", show_default=False, parser=given_count("threads"), metavar="<int>")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Model spec, e.g. mlp:64,32,10, resnet18-cifar:num_classes=100, file.py:factory (not needed for prunelimit's own files).")]
DataOpt = Annotated[Optional[str], typer.Option("--data", help="Analysis data spec, e.g. digits:train, tensors:data.npz, cifar10:ROOT.")]
LossOpt = Annotated[Optional[str], typer.Option("--loss", help="ce | mse | file.py:fn (fn(model, batch) -> mean loss); default: the loss the checkpoint records, else ce.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Batch size B for the data passes.", parser=given_count("samples"), metavar="<int>")]
MaxSamplesOpt = Annotated[Optional[int], typer.Option("--max-samples", help="Use only the first N samples.", parser=given_count("samples"), metavar="<int>")]
TrustOpt = Annotated[bool, typer.Option("--trust-pickle", help="Allow unpickling a whole model object (can run code: trusted files only).")]
DownloadOpt = Annotated[bool, typer.Option("--download", help="Let torchvision readers download missing data.")]
IncludeOpt = Annotated[Optional[list[str]], typer.Option("--include", help="Module-name glob to add to the prunable/Hessian set: a matching module's own weight matrices (parameters of 2+ dimensions named weight…, e.g. an LSTM's weight_ih_l0, weight_hh_l0), never biases or 1-D scales (repeatable).")]
ExcludeOpt = Annotated[Optional[list[str]], typer.Option("--exclude", help="Module-name glob to remove from the prunable/Hessian set (repeatable).")]
CkptArg = Annotated[Path, typer.Argument(help="Checkpoint: state dict, prunelimit file, .safetensors, ...", show_default=False, parser=given_path)]


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
    if is_main():  # under torchrun every rank meets the same warnings: rank 0 says them
        typer.echo(f"prunelimit: warning: {printable(message)}", err=True)


def _fail(code: int, message: str) -> None:
    """The one place errors reach stderr: file names and strings from files are made printable here;
    the command's error report (the gate's JUnit file) gets the message too."""
    raise typer.Exit(_report_end(code, f"prunelimit: error: {printable(message)}", message))


def _report_end(code: int, line: str, message: str) -> int:
    """Print ``line`` on stderr and give the command's error report ``message``; return the exit
    code. Under torchrun only the first rank to end so prints it, and every rank takes that
    rank's code and message (``distributed.report_claim``): one line, one code."""
    claim = report_claim(code, message)
    if claim.mine:
        typer.echo(line, err=True)
    _report_error(claim.message)
    return claim.code


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """prunelimit's own library warnings as one ``prunelimit: warning:`` line (no source
    location: it names our code, not the user's input); others as Python shows them, each
    once a command (:data:`_shown_warnings`)."""
    if Path(filename).resolve().is_relative_to(Path(api.__file__).resolve().parents[1]):
        _warn(str(message))
        console.shown_live(str(message))
    elif is_main():  # under torchrun every rank runs the user's code: rank 0 shows its warnings
        seen = (category, str(message), filename, lineno)
        if seen in _shown_warnings and not sys.warnoptions:
            return
        _shown_warnings.add(seen)
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning
# The user's warnings this command showed. Python's default shows a warning once per line of
# code, but forgets what it showed whenever a filter changes, as libraries imported lazily
# mid-run (scipy, sympy) change them: a model's warning in forward showed 4 times in one
# bounds run. Kept for the command, unless -W or PYTHONWARNINGS chose another display.
_shown_warnings: set[tuple[object, str, str, int]] = set()


_report_stdout = sys.stdout  # the command's real stdout, set by ``handled``, written by ``emit``


@contextlib.contextmanager
def handled(debug: bool) -> Iterator[None]:
    """Map errors to exit codes and one-line messages (tracebacks only with ``--debug``)."""
    console.forget_live()
    _shown_warnings.clear()
    global _report_stdout
    _report_stdout = sys.stdout
    try:
        # stdout carries the report alone (a CI job parses --json): what the user's model
        # code prints while it runs goes to stderr, rank 0's under torchrun (the others' stdout
        # is silenced: every rank runs the same code)
        # a --time-budget counts the command's loading too (the process's start where ``run`` set it)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr if is_main() else sys.stdout), \
                budget_counted_from(), options_named(_flag):
            warnings.showwarning = _show_warning
            yield
            raise_if_signalled()  # one swallowed where no product or progress step came after it: still 130
    except (typer.Exit, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise
    except PrunelimitError as exc:
        _traceback_if(debug)
        _fail(exc.exit_code, on_command_line(exc, _flag))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as Terminated: the atomic writers have cleaned up
        forget_signal()  # taken: the error report (gate --junit) is written
        raise typer.Exit(_report_end(_interrupt_code(exc), f"prunelimit: {_stopped(exc)}; no partial output file was left",
                                     f"{_stopped(exc)} before the command finished"))
    except BrokenPipeError:  # `prunelimit ... --json | head`: the reader left; nothing to report
        console.reader_gone()
    except console.ReaderGone:
        raise
    except OSError as exc:  # a path no earlier check turned down (name too long, a loop of links, ...)
        _traceback_if(debug)
        where = f" {exc.filename}" if exc.filename is not None else ""
        _fail(3, f"cannot use{where}: {exc.strerror or exc}; check the path")
    except RecursionError:  # a file nested deeper than any parser should follow
        _traceback_if(debug)
        _fail(3, "an input file is nested too deeply to read; check the JSON/YAML/spec files given")
    except Exception as exc:
        _traceback_if(debug)
        asked = out_of_memory(exc)
        if asked is not None:  # an input too large for this machine, not a bug to report
            _fail(3, f"out of memory (an allocation{asked} failed): the model and data need more memory than is "
                     "free here; use fewer samples (--max-samples), a smaller --batch-size, or a larger machine")
        where = user_code_line(exc)
        if where is not None:  # the user's model or loss, on data the load-time checks did not run
            _fail(3, f"code in {where[0]}, line {where[1]} failed during the run ({first_line(exc)}); it passed the "
                     "load-time checks on the first and last batches: make it take every batch of the data "
                     "(--debug shows the traceback)")
        _fail(5, f"internal error {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''} "
                 "(rerun with --debug and report it)")
    except BaseException as exc:  # user code's sys.exit (exit 0 would read as success: a gate passed) or own class
        _traceback_if(debug)
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        what = user_failure(exc) if isinstance(exc, SystemExit) else f"it raised {user_failure(exc)}"
        _fail(3, f"code in {frame.filename}, line {frame.lineno}, ended the run: {what}; a --model factory, a --loss "
                 "function or a model's forward must return or raise an Exception")


def _traceback_if(debug: bool) -> None:
    """With ``--debug``, the traceback on stderr; the exit code stays the documented one (a
    CI job must not read a crash as exit 1, a failed gate)."""
    if debug:
        traceback.print_exc()


def _stopped(exc: BaseException | None) -> str:
    return f"terminated ({signal.Signals(exc.signum).name})" if isinstance(exc, Terminated) else "interrupted"


def _interrupt_code(exc: BaseException | None) -> int:
    return 128 + exc.signum if isinstance(exc, Terminated) else 130


def _exit_interrupted(exc: BaseException | None) -> None:
    """Exit for a signal outside a command's ``handled`` block (start-up, shutdown)."""
    forget_signal()
    sys.exit(_report_end(_interrupt_code(exc), f"prunelimit: {_stopped(exc)}", f"{_stopped(exc)} before the command finished"))


@contextlib.contextmanager
def _signal_exits() -> Iterator[None]:
    """A signal outside a command's ``handled`` block, while typer runs: typer would turn it into
    a silent exit 130, SIGTERM too; exit with the message and the signal's own code instead."""
    try:
        yield
    except KeyboardInterrupt as exc:
        _exit_interrupted(exc)


def _inputs_of(o: SimpleNamespace, *more) -> list:
    """Input files and specs an output must not overwrite: the shared options' and ``more``."""
    return [*more, *(getattr(o, name, None) for name in ("model", "data", "loss", "config"))]


def emit(command: str, body: dict, as_json: bool, render, report) -> None:
    raise_if_signalled()  # an interrupted command prints no report, even where its interrupt was swallowed
    with contextlib.redirect_stdout(_report_stdout):
        if as_json:
            sys.stdout.write(dumps(document(command, body)) + "\n")  # JSON escapes every control character itself
        else:
            render(console_safe(report))  # strings from files print as text, never as escapes or rich markup


def choices(name: str, values: Iterable[str]) -> type[enum.Enum]:
    """A typer choice of the library's own allowed ``values``: they live in one place, ``--help``
    lists them, click refuses others (exit 2, naming the flag); ``shared`` passes ``.value`` on."""
    return enum.Enum(name, [(v, v) for v in values], type=str)


def _plain(value):
    """A choice (or a list of them) as the plain string the library takes."""
    if isinstance(value, enum.Enum):
        return value.value
    return [_plain(v) for v in value] if isinstance(value, list) else value


Method = choices("Method", METHODS)
BoundMode = choices("BoundMode", BOUND_MODES)
Negative = choices("Negative", get_args(statdim.Negative))
Hvp = choices("Hvp", ENGINES)
BasisDtype = choices("BasisDtype", BASIS_CHOICES)

MethodOpt = Annotated[Method, typer.Option("--method", help=f"default (exact spectrum when D HVPs fit a minute and the dense Hessian fits memory, else adaptive SLQ; docs/methods.md) | slq (adaptive SLQ) | paper (reference pipeline) | exact (full Hessian, D ≤ {MAX_DIM:,}).")]
ToleranceOpt = Annotated[float, typer.Option("--tolerance", help="Adaptive SLQ stops when ρ*'s stated ± (95 %) is at most this, in ratio units below 1 (0.01 = one point).", parser=given_fraction("tolerances"), metavar="<float>")]
MaxHvpsOpt = Annotated[Optional[int], typer.Option("--max-hvps", help=f"Adaptive SLQ: Lanczos products at most [default: {DEFAULT_MAX_HVPS:,}, what the old fixed {DEFAULT_RUNS} × {DEFAULT_ITERATIONS} plan spent]; given, it caps every Hessian-vector product of the spectrum (timing.hvps, the default's {TIMED_PRODUCTS} timed products included), and below D + {TIMED_PRODUCTS} it rules out the default's exact spectrum. What it counts and how it stops: docs/guide.md (bounds) and docs/methods.md.", parser=given_count("Hessian-vector products"), metavar="<int>")]
TimeBudgetOpt = Annotated[Optional[float], typer.Option("--time-budget", help="Adaptive SLQ: seconds at most, counted from the command's start (start-up and loading included); the Lanczos runs stop before a step that would pass it, and the default method takes the exact spectrum only when predicted to fit it. What it counts and how it stops: docs/guide.md (bounds) and docs/methods.md (default: no limit).", parser=given_number("seconds"), metavar="<float>")]
HessianSamplesOpt = Annotated[str, typer.Option("--hessian-samples", parser=given_auto_or(functools.partial(read_count, unit="samples"), "auto", "all"), metavar="<str>", help=f"SLQ's curvature on a class-balanced, seeded subset: auto ({AUTO_HESSIAN_SAMPLES:,} samples, or {DATA_PARTS} a class if more, on data sets of at least four times that; else all) | all | N (at least {DATA_PARTS}, and {DATA_PARTS} a class: the subset is split into {DATA_PARTS} parts, each holding every class, for the data part of ρ*'s ±; mse targets are drawn without classes). The exact spectrum, ε, the loss, the gradient and the actual limit use all the data.")]
IterOpt = Annotated[Optional[int], typer.Option("--iterations", help=f"Lanczos steps m per probe: a fixed SLQ plan instead of adaptive SLQ (default {DEFAULT_ITERATIONS}; --method paper {PAPER_ITERATIONS}).", parser=given_count("Lanczos steps"), metavar="<int>")]
RunsOpt = Annotated[Optional[int], typer.Option("--runs", help=f"Probe vectors K: a fixed SLQ plan instead of adaptive SLQ (default {DEFAULT_RUNS}; --method paper {PAPER_RUNS}).", parser=given_count("probe vectors"), metavar="<int>")]
EpsOpt = Annotated[str, typer.Option("--epsilon", help="Loss tolerance ε: auto (std of per-batch losses) or a number.", parser=given_auto_or(read_number, "auto"), metavar="<str>")]
EtaOpt = Annotated[float, typer.Option("--eta", help="Failure probability η of the kinematic bounds.", parser=given_fraction("probabilities"), metavar="<float>")]
BoundModeOpt = Annotated[BoundMode, typer.Option("--bound-mode", help="akf (kinematic formula, default) | geom (two cone geometries) | none.")]
NegativeOpt = Annotated[Negative, typer.Option("--negative", help="Negative eigenvalues: abs (|λ|, as the reference code) | flat (λ < 0 counts as 0, a free direction). Applies to ρ* and both bounds, with every --method.")]
HvpOpt = Annotated[Hvp, typer.Option("--hvp", help="HVP engine: auto | cached (first-order graphs kept, fastest) | revrev (rebuilt per product, least memory).")]
MemoryBudgetOpt = Annotated[str, typer.Option("--memory-budget", parser=given_auto_or(functools.partial(read_number, unit="MB"), "auto"), metavar="<str>", help=f"MB the HVP graphs may hold on the model's device: auto ({CPU_MEMORY_BUDGET_MB:.0f} on a CPU, {Fraction(ACCELERATOR_BUDGET_SHARE)} of the free memory on a GPU) or a number. Graphs that fit are kept (--hvp cached), else rebuilt per product.")]
BasisOpt = Annotated[BasisDtype, typer.Option("--basis-dtype", help="Lanczos basis storage in host memory (auto: float32 for float32 HVPs).")]
BasisMemoryOpt = Annotated[str, typer.Option("--basis-memory", parser=given_auto_or(functools.partial(read_number, unit="MB"), "auto"), metavar="<str>", help="MB the spectrum's solver may hold in host memory (SLQ's Lanczos bases; the exact spectrum's dense Hessian and the eigenvalue solver's copy of it): auto (half the memory available at the start) or a number. Adaptive SLQ stops there, the default takes SLQ where the exact spectrum does not fit (a fixed plan or --method exact that cannot fit is refused); --per-layer's blocks run in groups that fit.")]
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", help="Write a PNG plot here.", parser=given_path)]
ReportOpt = Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report to DIR/report.html (no network).", parser=given_path)]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
PerLayerOpt = Annotated[bool, typer.Option("--per-layer", help="Also each layer's trace, λmax, share of the width at R(ρ*), sparsity at ρ* and share of R(ρ*)² (docs/guide.md).")]


def curvature_options(method: str, iterations, runs, epsilon: str, eta: float, bound_mode: str, negative: str,
                      hvp: str, seed: int, basis_dtype: str, memory_budget: str = "auto",
                      **precision) -> api.CurvatureOptions:
    """The options from their flags; ``CurvatureOptions`` checks the values, here only the text
    their parsers left (``auto`` or a number) is read."""
    eps = None if epsilon == "auto" else float(epsilon)
    budget = None if memory_budget == "auto" else float(memory_budget)
    with flag_names(**_CURVATURE_FLAGS):
        return api.CurvatureOptions(method, iterations, runs, eps, eta, bound_mode, negative, hvp, seed, basis_dtype,
                                    budget, **precision)


@contextlib.contextmanager
def flag_names(**flags: str) -> Iterator[None]:
    """An option dataclass's ``OptionError`` reworded with the flag: ``--`` and the field's
    name with dashes, or the flag given for that field in ``flags``."""
    def flag(option: str) -> str:
        return flags.get(option, _flag(option))

    try:
        yield
    except OptionError as exc:
        raise UsageError(on_command_line(exc, flag)) from None


def _flag(option: str) -> str:
    """The flag of a library option: ``--`` and its name with dashes, or its own flag."""
    return _CURVATURE_FLAGS.get(option, "--" + option.replace("_", "-"))


def _model_data_options(
    model: ModelOpt = None,
    data: DataOpt = None,
    loss: LossOpt = None,
    batch_size: BatchOpt = 128,
    max_samples: MaxSamplesOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    trust_pickle: TrustOpt = False,
    download: DownloadOpt = False,
) -> None:
    """Options that say which model and data a command reads (shared by the analysis commands)."""


def _spectral_options(
    method: MethodOpt = api.CurvatureOptions.method,
    iterations: IterOpt = None,
    runs: RunsOpt = None,
    hvp: HvpOpt = api.CurvatureOptions.hvp,
    memory_budget: MemoryBudgetOpt = "auto",
    basis_dtype: BasisOpt = api.CurvatureOptions.basis_dtype,
    basis_memory: BasisMemoryOpt = "auto",
    tolerance: ToleranceOpt = api.CurvatureOptions.tolerance,
    max_hvps: MaxHvpsOpt = api.CurvatureOptions.max_hvps,
    time_budget: TimeBudgetOpt = None,
    hessian_samples: HessianSamplesOpt = "auto",
) -> None:
    """Options of the spectrum estimate."""


def _limit_options(
    epsilon: EpsOpt = "auto",
    eta: EtaOpt = api.CurvatureOptions.eta,
    bound_mode: BoundModeOpt = api.CurvatureOptions.bound_mode,
    negative: NegativeOpt = api.CurvatureOptions.negative,
) -> None:
    """Options of the limit and its bounds."""


# The flags of the prediction itself: what nothing reads when no prediction is computed.
_PREDICTION_OPTIONS = tuple(name for group in (_spectral_options, _limit_options)
                            for name in inspect.signature(group).parameters)
# ... and those a gate that measures the limit leaves unread: all but ε, the search's criterion
_MEASURED_UNUSED = tuple(name for name in _PREDICTION_OPTIONS if name != "epsilon")


def _refuse_unused_prediction_flags(o: SimpleNamespace, reason: str, fix: str,
                                    names: tuple[str, ...] = _PREDICTION_OPTIONS, section: Collection[str] = ()) -> None:
    """A curvature or limit flag typed on the command line when no prediction is computed
    (``reason``: a saved report gives it, or the ratio is a number; ``names``:
    ``_MEASURED_UNUSED`` where ε alone is read, a gate that measures the limit) would be
    ignored in silence, as ``api.check_plan`` refuses for a plan; refused
    before any work instead. So is one the command's own ``--config`` section sets
    (``section``: its keys, which no other command reads), named by its key there."""
    _refuse_unused([name for name in names if o.given.get(name) == "on the command line"
                    or (o.given.get(name) == "in the --config file" and name in section)], reason, fix)


def _refuse_stale_config_options(o: SimpleNamespace, options: api.CurvatureOptions, from_report: Any) -> None:
    """A prediction option that the --config file sets beside --from (the file may serve the
    ``bounds`` run that stored the report, so it is not refused as a typed flag is) must be
    the one the report was computed with: another value means the report was stored before
    the file changed, and its prediction was used in silence (``UsageError``, exit 2)."""
    from dataclasses import asdict

    from prunelimit.baseline import NUMBER_OPTIONS, arithmetic, option_differences
    from prunelimit.gate_rules import read_report, stood_on
    from prunelimit.report.jsonout import plain
    from prunelimit.report.safe import clipped

    names = [name for name in ("method", *NUMBER_OPTIONS) if o.given.get(name) == "in the --config file"]
    if not names:
        return
    report = stood_on(read_report(from_report, "bounds report"))
    recorded = report.get("options") if isinstance(report, dict) else None
    if not isinstance(recorded, dict):  # nothing recorded to compare (an older report): its reader says so
        return
    # recorded as provenance() records them: the library's None and the CLI's auto are one sample
    current = {**plain(asdict(options)), "hessian_samples": options.hessian_samples or "auto"}
    differing = option_differences(recorded, current, [name for name in names if name != "method"])
    # default, slq and exact estimate one spectrum (as a baseline is compared): only paper's grid is another
    if "method" in names and "method" in recorded and arithmetic(recorded["method"]) != arithmetic(options.method):
        differing.insert(0, f"method {clipped(recorded['method'])} vs {options.method} here")
    if differing:
        raise UsageError(f"{from_report} was computed with other options than the --config file sets "
                         f"({'; '.join(differing)}, from the file): it was stored before the file changed; store it "
                         "again with the file's options (`prunelimit bounds --config FILE --json`), or drop them "
                         "from the file")


def _typed(ctx, *names: str, section: Collection[str] = ()) -> list[str]:
    """Those of a command's own options ``names`` typed on the command line (not in --config,
    which several commands share, so a setting there may serve another), and those the
    command's own --config section sets that stand in ``section`` (that section's keys)."""
    return [name for name, where in _given(ctx, list(names)).items()
            if where == "on the command line" or name in section]


def _refuse_unseeded(ctx, reason: str, fix: str, section: Collection[str] = ()) -> None:
    """``--seed`` typed (or set in ``section``, the command's own --config section) where
    ``reason`` leaves nothing drawn at random (no spectrum's probes or subset, nothing
    fine-tuned): it would change nothing in silence."""
    _refuse_unused(_typed(ctx, "seed", section=section), f"nothing is drawn at random ({reason})", fix)


def _refuse_unused(typed: list[str], reason: str, fix: str) -> None:
    """Refuse the first of ``typed``, flags that ``reason`` leaves without effect, naming ``fix``."""
    if typed:  # one the --config file set, by its key there
        raise UsageError(f"{option_flag(typed[0], _flag(typed[0]))} has no effect: {reason}; drop it, or {fix}")


def _cache_options(
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Result cache folder, private to you (default ~/.cache/prunelimit).", parser=given_path)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the result cache.")] = False,
) -> None:
    """Where a computed spectrum is kept, so the next command on the same inputs reuses it."""


def _store(o: SimpleNamespace, heard: Optional[list[str]] = None):
    """The checked result store of ``--cache-dir``/``--no-cache`` (before any work starts). Its
    warnings (an unusable default folder, an entry it cannot read or write) go to stderr as
    they arise, and into ``heard`` where given: a report that lists its warnings lists them
    too (rendered once: they count as shown live)."""
    from prunelimit.cache import default_cache_dir, open_store

    def warn(message: str) -> None:
        _warn(message)
        console.shown_live(message)
        heard.append(message)

    return open_store(None if o.no_cache else (o.cache_dir or default_cache_dir()), o.cache_dir is not None,
                      _warn if heard is None else warn)


def _general_options(
    config: ConfigOpt = None,
    json: JsonOpt = False,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    debug: DebugOpt = False,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Options every command takes (docs/guide.md)."""




def _check_numbers(values: dict) -> None:
    """Every numeric option, typed or from ``--config``: floats finite, integers within int64
    (torch's limit), the seed within ``[0, SEED_LIMIT)``; else an ``OptionError`` naming the option."""
    if values.get("seed") is not None:
        try:
            check_seed(values["seed"], "{0}")
        except UsageError as exc:
            raise OptionError("seed", str(exc)) from None
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(name, f"{{0}} must be a finite number, got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
            raise OptionError(name, f"{{0}} {value} is too large (at most {INT64_MAX})")


# an error every command ends in once its options are read (``refusing_launch``)
_refused: PrunelimitError | None = None


@contextlib.contextmanager
def refusing_launch(error: PrunelimitError) -> Iterator[None]:
    """Within: each command raises ``error`` (torchrun's variables set wrongly, found before the
    command line is read) as soon as its options are parsed, where any error of its option
    checks arises, so it ends as those do: its message, its exit code, its error report."""
    global _refused
    _refused = error
    try:
        yield
    finally:
        _refused = None


def _options_read(values: dict) -> None:
    """What every command checks once its options are parsed, before any work: the launch
    (``refusing_launch``), then the numbers (``_check_numbers``)."""
    if _refused is not None:
        raise _refused
    _check_numbers(values)


def checked_numbers(fn):
    """``_check_numbers`` for a command that does not take ``shared`` options."""

    @functools.wraps(fn)
    def command(*args, ctx: typer.Context, **kwargs):
        with options_configured(*_configured_options(ctx, kwargs.get("config"))):
            with handled(kwargs.get("debug", False)):
                _options_read(kwargs)
            return fn(*args, **kwargs)

    # typer passes the context (where each option's value came from) to a parameter that asks for it
    params = [*inspect.signature(fn, eval_str=True).parameters.values(),
              inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
    command.__signature__ = inspect.Signature(params, return_annotation=None)
    command.__annotations__ = {p.name: p.annotation for p in params}
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
        takes_ctx = any(p.name == "ctx" for p in own)  # else typer passes it here, for the options' sources

        @functools.wraps(fn)
        def command(*args, **kwargs):
            ctx = kwargs["ctx"] if takes_ctx else kwargs.pop("ctx")
            kwargs = {k: _plain(v) for k, v in kwargs.items()}
            with options_configured(*_configured_options(ctx, kwargs.get("config"))):
                with handled(kwargs.get("debug", False)):
                    _options_read(kwargs)
                    _refuse_trust_from_config(ctx, kwargs)
                    check_counts(kwargs)  # before any work: a count may size an allocation or a loop
                    if "threads" in names:
                        apply_threads(kwargs["threads"])
                o = SimpleNamespace(**{n: kwargs.pop(n) for n in names}, given=_given(ctx, names))
                with one_look():
                    return fn(*args, o=o, **kwargs)

        if not takes_ctx:
            extra = [*extra, inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
        params = own + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in extra]
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.default is not p.empty else p for p in params]
        command.__signature__ = inspect.Signature(params, return_annotation=None)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def _refuse_trust_from_config(ctx, values: dict) -> None:
    """``trust_pickle`` switched on by the ``--config`` file alone is a ``UsageError``: a file
    (shared, checked out with a repository) may not grant what runs code; the flag typed too
    is the user's own choice."""
    if values.get("trust_pickle") and _given(ctx, ["trust_pickle"]).get("trust_pickle") == "in the --config file":
        raise UsageError(f"{values.get('config')}: trust_pickle is not read from a --config file (unpickling can "
                         "run code); give --trust-pickle on the command line")


def _given(ctx, names: list[str]) -> dict[str, str]:
    """Options the user set, not left at their default: name → where (command line or --config)."""
    sources = {name: ctx.get_parameter_source(name) for name in names}
    return {name: "in the --config file" if source.name == "DEFAULT_MAP" else "on the command line"
            for name, source in sources.items() if source is not None and source.name != "DEFAULT"}


# The flags of curvature options not named ``--`` and the field's name with dashes.
_CURVATURE_FLAGS = {"memory_budget_mb": "--memory-budget", "basis_memory_mb": "--basis-memory"}
_CURVATURE_FIELDS = {flag[2:].replace("-", "_"): name for name, flag in _CURVATURE_FLAGS.items()}


def _inputs(o: SimpleNamespace, checkpoint, data_from_checkpoint: bool = True):
    """``load_inputs`` from the shared model/data options."""
    return load_inputs(checkpoint, o.model, o.data, o.loss, o.batch_size, o.max_samples, o.device, o.trust_pickle,
                       o.download, tuple(o.include or ()), tuple(o.exclude or ()),
                       data_from_checkpoint=data_from_checkpoint)


def _curvature(o: SimpleNamespace) -> api.CurvatureOptions:
    """The curvature options of the flags; one typed on the command line that the plan would
    ignore is refused (``api.check_plan``)."""
    defaults = api.CurvatureOptions
    limit = (getattr(o, "epsilon", "auto"), getattr(o, "eta", defaults.eta),
             getattr(o, "bound_mode", defaults.bound_mode), getattr(o, "negative", defaults.negative))
    options = curvature_options(o.method, o.iterations, o.runs, *limit, o.hvp, o.seed, o.basis_dtype, o.memory_budget,
                                tolerance=o.tolerance, max_hvps=o.max_hvps, time_budget=o.time_budget,
                                hessian_samples=_hessian_samples(o.hessian_samples),
                                basis_memory_mb=None if o.basis_memory == "auto" else float(o.basis_memory))
    typed = {_CURVATURE_FIELDS.get(name, name) for name, where in o.given.items() if where == "on the command line"}
    with flag_names(**_CURVATURE_FLAGS):
        api.check_plan(options, typed)
    if options.method == "exact" and isinstance(options.hessian_samples, int) and "hessian_samples" not in typed:
        # the --config file's count serves SLQ runs: left unused, as its other SLQ keys are, where a
        # typed one below the data's size is refused (``api.check_exact_subset``)
        options = replace(options, hessian_samples=None)
    api.check_same_on_every_rank(options)
    return options


def _hessian_samples(text: str) -> int | str:
    """``--hessian-samples`` as its parser left it (auto, all or a count's digits) as the library takes it."""
    return text if text in ("auto", "all") else int(text)


def _write_report(report: Optional[Path], command: str, body: dict, figures, force: bool) -> None:
    """``figures(builders)`` builds the report's figures from ``prunelimit.report.figures``
    only when a report is asked for: matplotlib is imported then, not by every command."""
    if report is not None:
        from prunelimit.report import figures as builders
        from prunelimit.report.html import command_line, write_report

        write_report(report, command, body, figures(builders), command_line(), force)


def _absolute(advance):
    """Turn ``advance`` into the library's ``progress(done, total=None, text=None, left=None)``:
    the absolute count done, and the re-planned total, a status text and the seconds the
    plan prices the work left at when they are known."""

    def update(done: int, total: int | None = None, text: str | None = None, left: float | None = None) -> None:
        advance(done, total, text, absolute=True, left=left)

    return update


EvalDataOpt = Annotated[Optional[str], typer.Option("--eval-data", help="Evaluation data for accuracy (default: the file's recorded eval data, else --data).")]
FinetuneLrOpt = Annotated[float, typer.Option("--finetune-lr", help=f"SGD learning rate of the masked fine-tuning (cosine schedule, momentum {FinetuneConfig.momentum}).", parser=given_number(), metavar="<float>")]


def _eval_batches(eval_data: Optional[str], inputs, batch_size: int, download: bool):
    from prunelimit.inputs import check_compatible, data_dtype, load_batches

    spec = eval_data or inputs.loaded.recorded_spec("eval_data")
    if not spec:
        return None
    batches = load_batches(spec, batch_size, None, inputs.device, download, eval_data is None, data_dtype(inputs.model))
    check_compatible(inputs.loaded, batches, inputs.loss_fn, spec, "eval_data")  # labels/shapes: exit 3, not a crash later
    return batches


def _check_finetune(epochs: int, lr: float) -> None:
    """Refuse bad fine-tuning settings before any work (``FinetuneConfig`` checks them)."""
    with flag_names(epochs="--finetune-epochs", lr="--finetune-lr"):
        FinetuneConfig(epochs=epochs, lr=lr)


def _steps(advance):
    """Progress callback ``(step, total)`` that also sets the bar's total."""
    return lambda step, total: advance(step, total)

