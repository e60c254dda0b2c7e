"""Human-readable rich output on stdout."""

from __future__ import annotations

import math
import os
import shlex
import sys
from typing import Any, Mapping

from rich.console import Console, ConsoleDimensions
from rich.table import Column, Table

from prunelimit.errors import option, said
from prunelimit.validate import real
from prunelimit.report.rounding import (
    AT_LEAST, AT_MOST, MINUS, apart, change_text, decimals, estimate_text, finetune_text, half_width_text, loss_text,
    percent, percent_text, ratio_below, signed, value_text,
)


class ReaderGone(SystemExit):
    """The exit of :func:`reader_gone`: told apart from a ``sys.exit`` in user code, which the
    command line reports as an error."""


def reader_gone() -> None:
    """Exit quietly, as shell tools do, when the reader closed the pipe (``| head``): 128 + SIGPIPE.

    stdout is pointed at /dev/null first, so the interpreter's final flush cannot fail again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise ReaderGone(141)


# The width of stdout when it is a pipe or a file and COLUMNS is unset (CI logs, ``| tee``):
# rich's 80 columns (or the terminal's, read from stdin) folded the tables' layer names and
# cut their numbers; a file has no width, so a table is laid out as wide as its cells.
PIPED_WIDTH = 10_000


class _Console(Console):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # rich fixes COLUMNS/LINES as read at construction, i.e. at import: read them at each
        # print instead, as a terminal resize or a caller's COLUMNS would have it
        self._width = self._height = None

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal or os.environ.get("COLUMNS", "").isdigit():
            return size
        return ConsoleDimensions(PIPED_WIDTH, size.height)

    def on_broken_pipe(self) -> None:  # rich's default exits 1, which means "gate failed" here
        reader_gone()


stdout = _Console(highlight=False, emoji=False)  # ":train:" in a data spec is text, not an emoji code


# Warnings already printed on stderr while the work ran (a library warning raised mid-run):
# the report's own list leaves them out, so a console shows each once.
_SHOWN_LIVE: set[str] = set()


def shown_live(message: str) -> None:
    """Record ``message`` as printed on stderr during the run."""
    _SHOWN_LIVE.add(message)


def forget_live() -> None:
    """A new command starts: nothing of it has been shown yet."""
    _SHOWN_LIVE.clear()


def unshown(warnings) -> list[str]:
    """``warnings`` less those already shown live on stderr during the run."""
    return [warning for warning in warnings if warning not in _SHOWN_LIVE]


def render_warnings(warnings) -> None:
    """A report's warnings, each on a ``warning:`` line, less those already shown live."""
    for warning in unshown(warnings):
        stdout.print(f"[yellow]warning:[/] {warning}")


def fmt(value, spec: str = ".4g") -> str:
    return "—" if value is None else signed(value, spec)


def loss_cell(value) -> str:
    """A loss in a table (``rounding.loss_text``); ``—`` where there is none."""
    return "—" if value is None else loss_text(value)


def bound(value) -> str:
    """An interval's upper side: ``unbounded`` where the points leave it so (``inf``, JSON's ``null``)."""
    return "unbounded" if value == math.inf else fmt(value)


def epsilon_text(epsilon: float, source: str | None) -> str:
    """ε and where it came from, in the words of every command that states it (``bounds``,
    ``verify``, ``gate``, ``prune``): ``ε = 0.01729 (std of per-batch losses)``."""
    return f"ε = {loss_text(epsilon)} ({source or 'source not stated'})"


def pct(value) -> str:
    return "—" if value is None else percent(value)


def cost(spectrum) -> str:
    """This run's curvature work; a spectrum from the result cache cost none, and the line says
    how to recompute it (what the cache key cannot see: docs/guide.md, the result cache)."""
    hit = " (spectrum from the cache; --no-cache recomputes it)"
    return f"{spectrum.hvps:,} HVPs in {spectrum.seconds:.1f} s" + (hit if spectrum.cached else "")


class _FoldingTable(Table):
    """A table that, where its columns cannot all fold to the width (many columns on a narrow
    terminal), is printed one row at a time as "column | value" lines: rich laid it out wider
    than the width and the console cut its right side off (per-layer's "alone ρ*" column, even
    at COLUMNS=60)."""

    def __rich_console__(self, console, options):
        widths = self._calculate_column_widths(console, options.update_width(options.max_width - self._extra_width))
        if sum(widths) + self._extra_width <= options.max_width:
            yield from super().__rich_console__(console, options)
            return
        stacked = Table(Column(overflow="fold"), Column(overflow="fold"), title=self.title, show_header=False)
        cells = [list(column.cells) for column in self.columns]
        for row in range(self.row_count):
            for n, column in enumerate(self.columns):
                stacked.add_row(column.header, cells[n][row], end_section=n == len(self.columns) - 1)
        yield stacked


def folding_table(*columns: str | Column, title: str | None = None) -> Table:
    """A rich table whose cells fold onto more lines where the width runs short, never cut
    with "…": rich's default cut numbers and names ("123,456,0…", "4096×301…") on a narrow
    terminal or COLUMNS. Rich narrows the widest column first, usually the names."""
    return _FoldingTable(*(Column(c, overflow="fold") if isinstance(c, str) else c for c in columns), title=title)


def render_info(rep) -> None:
    stdout.print(f"[bold]{rep.checkpoint}[/]  model [cyan]{rep.model or '(pickled module)'}[/]  format {rep.source}")
    table = folding_table("prunable layer", "shape", "count", "zeros", "zeros %")
    for layer in rep.layers:
        table.add_row(layer.name, shape_text(layer.shape), f"{layer.count:,}", f"{layer.zeros:,}",
                      pct(layer.zeros / layer.count if layer.count else 0))
    stdout.print(table)
    zeros = sum(l.zeros for l in rep.layers)
    stdout.print(
        f"parameters: total {rep.params_total:,} · prunable N = {rep.params_prunable:,} "
        f"(zeros {zeros:,}, {pct(zeros / max(rep.params_prunable, 1))}) · Hessian D = {rep.params_hessian:,}"
    )
    if rep.selection.include or rep.selection.exclude:  # the default set needs no line
        source = {"checkpoint": "recorded in the checkpoint", "options": "as given"}[rep.selection_from]
        stdout.print(f"prunable set: {rep.selection.described()} ({source})")
    if rep.loss is not None:
        stdout.print(f"on {rep.data}: loss {loss_text(rep.loss)} · accuracy {pct(rep.accuracy)}")
    render_warnings(rep.warnings)


def render_spectrum(rep) -> None:
    q = rep.quadrature
    table = folding_table("spectrum", "value", title=f"Hessian spectrum ({rep.method}, D = {rep.params_hessian:,})")
    table.add_row("λmax", fmt(rep.lambda_max))
    table.add_row("λmin", fmt(rep.lambda_min))
    table.add_row("trace", trace_text(rep.trace, rep.trace_plus_minus, level=True))
    if rep.negative_mass is not None:
        table.add_row("negative mass", pct(rep.negative_mass))
    if rep.solver != "exact":  # the exact spectrum has no probes or steps: it read "1 × 2410", as the HTML does not
        table.add_row("probes × steps", f"{rep.runs} × {steps_range(rep.fewest_iterations, rep.iterations)}")
    table.add_row("loss", loss_text(rep.loss))
    if rep.limit_ratio is not None and rep.uncertainty is not None:
        table.add_row("ρ*", estimate_line(rep.limit_ratio, rep.uncertainty.to_json()).removeprefix("ρ* = "))
    if rep.epsilon is not None:  # the tolerance ρ* is solved for, as bounds states it
        table.add_row("ε", epsilon_text(rep.epsilon, rep.epsilon_source).removeprefix("ε = "))
    table.add_row("cost", cost(rep))
    if rep.memory is not None:
        table.add_row("memory", memory_line(rep.memory))
    stdout.print(table)
    solver_line(rep)
    nodes = "abs(λ)" if not q.signed else "λ"
    stdout.print(f"quadrature nodes ({nodes}) and weights per probe: use --json")
    if rep.layers is not None:
        render_layers(rep.layers)
    render_warnings(rep.warnings)


LAYER_METHODS = {"exact": "exact diagonal blocks of the dense Hessian", "formed": "exact diagonal blocks",
                 "lanczos": "Lanczos on each block"}


UNSTATED_SHARES = "width shares: the Lanczos blocks' estimates, no ± stated"  # what the blocks line says of them
TRACE_MOST_DECIMALS = 15  # float64 resolves ~16 digits: a ± past that is noise


def trace_text(trace: float | None, plus_minus: float | None, level: bool = False) -> str:
    """A trace with its 95 % ``±`` (``prunelimit.curvature.trace``) as the report rounds ρ*'s:
    the ± to two significant digits, the trace to its decimal; no ± when exact (0) or not
    stated. ``level`` adds "(95 %)" after a ±."""
    # a trace has any scale (a ratio's last resolved decimal does not apply): two digits of its ±
    shown = half_width_text(plus_minus, most=TRACE_MOST_DECIMALS)
    if trace is None or shown in ("—", "0"):
        return fmt(trace)
    return f"{value_text(trace, plus_minus, most=TRACE_MOST_DECIMALS)} ± {shown}" + (" (95 %)" if level else "")


def alone_text(limit: float | None, plus_minus: float | None) -> str:
    """A layer's own ρ* with its 95 % ± as ρ*'s headline states it (``93.1 % ± 2.0 pt``); the
    ratio alone where its ± is 0 (an exact block) or not stated (a report before it, or a report
    file's value that is no number: the HTML report shows what a file holds)."""
    if _finite(limit) and _finite(plus_minus) and plus_minus > 0:
        return estimate_text(limit, plus_minus)
    return pct(limit) if limit is None or _finite(limit) else str(limit)


def render_layers(b) -> None:
    """The per-layer table of a ``LayerBreakdown``: curvature, and each layer's part in the limit."""
    at = "" if b.ratio is None else f" at ρ* = {pct(b.ratio)} ({b.scope} path)"
    name = Column("layer", overflow="fold", min_width=8)  # a name folds, never loses its end
    table = folding_table(name, "params", "trace (± 95 %)", "λmax", "width share", "removed at ρ*", "R² share", "alone ρ*",
                  title=f"Per-layer curvature{at}")
    for layer in b.layers:
        sparsity = pct(layer.sparsity_at_rho) + (" [red]collapse[/]" if layer.collapsed else "")
        table.add_row(layer.name, f"{layer.params:,}", trace_text(layer.trace, layer.trace_plus_minus),
                      fmt(layer.lambda_max), pct(layer.share_of_width), sparsity, pct(layer.radius_share),
                      alone_text(layer.limit_alone, layer.limit_alone_plus_minus))
    stdout.print(table)
    c = b.cost
    stdout.print(f"blocks: {blocks_text(c.method, c.probes, c.steps, c.hvps, c.seconds, c.cached, b.block_diagonal_f)}")


def blocks_text(method: str, probes: int | None, steps: int | None, hvps: int, seconds: float, cached: bool,
                block_diagonal_f: float | None) -> str:
    """How ``--per-layer``'s blocks were computed and what they cost, as the console's ``blocks:``
    line and the HTML report state it (JSON ``layer_curvature``): ``Lanczos on each block, 2 probes
    × 32 steps a block; 170 HVPs in 0.4 s · block-diagonal F at R(ρ*) = 0.9360 (full F = ρ*)``, then from
    Lanczos blocks that their width shares state no ± (``UNSTATED_SHARES``)."""
    how = LAYER_METHODS[method] + ("" if steps is None else f", {probes} probes × {steps} steps a block")
    block_f = "" if block_diagonal_f is None else f" · block-diagonal F at R(ρ*) = {block_diagonal_f:.4f} (full F = ρ*)"
    if block_diagonal_f is not None and steps is not None:
        # the shares are taken where ρ* is defined; from Lanczos blocks they carry the runs' error, unstated
        block_f += f" · {UNSTATED_SHARES}"
    return f"{how}; {hvps:,} HVPs in {seconds:.1f} s" + (" (blocks from the cache)" if cached else "") + block_f


def points(value) -> str:
    """A part of ρ*'s ± (a ratio) in percentage points, to two significant digits (``—``: not stated)."""
    text = half_width_text(None if value is None else 100 * value)
    return text if text == "—" else f"{text} pt"


def uncertainty_text(u: dict | None) -> str:
    """ρ*'s ± as a result's JSON states it (``prediction.uncertainty``): ``± 0.80 pt (95 %;
    steps ≤ 0.61 pt, probes 0.063 pt s.e.)``, ``± 0 (exact spectrum: no sampling error)``,
    or why there is none."""
    total = None if u is None else u.get("plus_minus")
    if total is None or half_width_text(total) == "—":
        return "(no ± stated)"
    grid = "" if not u.get("grid") else f"grid and integer-R rounding ≤ {points(u['grid'])}"
    # the products' rounding (reports before it state none): a bound, like the grid's
    rounding = "" if not u.get("rounding") else f"products' rounding ≤ {points(u['rounding'])}"
    bounds = [part for part in (grid, rounding) if part]
    # the parts the data part comes from set its degrees of freedom (reports before them state none)
    of_parts = f" from {u['data_parts']} parts" if u.get("data_parts") else ""
    if u.get("steps_kind") == "exact":
        if u.get("data") is None and not bounds:
            return "± 0 (exact spectrum: no sampling error)"
        subset = "" if u.get("data") is None else \
            f" of the curvature subset, data {points(u['data'])} s.e.{of_parts}"
        parts = ["exact spectrum" + subset] + bounds
    else:
        steps = {"bracket": f"steps ≤ {points(u.get('steps'))}",
                 "half-steps": f"steps ~{points(u.get('steps'))} (m/2 vs m)"}.get(
            u.get("steps_kind"), "steps unknown, not included")
        probes = "probes unknown" if u.get("probes") is None else \
            f"probes {points(u['probes'])} s.e." + (" bound" if u.get("probes_kind") == "bound" else "")
        data = [] if u.get("data") is None else [f"data {points(u['data'])} s.e.{of_parts}"]
        parts = [steps, probes, *data] + bounds
    statistical = u.get("steps_kind") != "exact" or u.get("data") is not None
    level = f"{percent(u.get('level', 0.95), 0)}; " if statistical else ""
    return f"± {points(total)} ({level}{', '.join(parts)})"


def estimate_line(ratio: float, u: dict | None, name: str = "ρ*") -> str:
    """``ρ* = 87.10 % ± 0.40 pt (...)``: the headline ρ* (or ``name``) with its stated
    uncertainty, to the decimal the ± is shown to (two decimals beside ± 0 or none)."""
    stated = uncertainty_text(u)
    total = u["plus_minus"] if stated.startswith("± ") else None
    return f"{name} = {percent_text(ratio, total)} % {stated}"


# what stopped a spectrum (JSON ``spectrum.stopped_by``), in the words of its ``solver:`` line and the HTML
# report (``stop_text``); ``{}``: the limit's option (``STOP_OPTIONS``), named as its reader names it
STOPS = {"tolerance": "reached the tolerance", "max-hvps": "stopped by {}", "time-budget": "stopped by {}",
         "memory": "stopped where the Lanczos bases filled {}",
         "converged": "no steps left (Krylov space exhausted: the exact spectrum)",
         "rounding": "stopped by the products' rounding part, which alone reaches the tolerance and no step or "
                     "probe narrows"}
STOP_OPTIONS = {"max-hvps": ("--max-hvps", "max_hvps"), "time-budget": ("--time-budget", "time_budget"),
                "memory": ("--basis-memory", "basis_memory_mb")}


# a "tolerance" stop whose stated ± is over the tolerance (``spectrum.tolerance_met`` false): the
# runs stopped where their steps and probe parts met it, and a part measured after them (a
# subset's data part), or another path's ρ* (bounds --scope layer), took the ± over it:
# "reached the tolerance" claimed what did not happen
TOLERANCE_PARTS_ONLY = "reached the tolerance in the runs' steps and probe parts, not in the stated ± (see the warning)"


def stop_text(stopped_by: str | None, met: bool | None = None) -> str | None:
    """What stopped a spectrum, its limit named as the reader sets it: ``stopped by --max-hvps``
    on the command line and its report, ``stopped by max_hvps=`` to a library caller (a result's
    ``_repr_html_``, beside a reason that says ``method='slq'``); ``None`` where nothing did.
    ``met``: whether the whole ± meets the tolerance (``spectrum.tolerance_met``; ``None``: not
    stated), which a ``"tolerance"`` stop's words must not claim where it does not."""
    if stopped_by == "tolerance" and met is False:
        return TOLERANCE_PARTS_ONLY
    words = STOPS.get(stopped_by)
    if words is None or stopped_by not in STOP_OPTIONS:
        return words
    flag, name = STOP_OPTIONS[stopped_by]
    return words.format(said(flag, f"{name}="))


def solver_line(s) -> None:
    """How the spectrum was computed, why, and what stopped it (``solver_text``)."""
    text = solver_text(s)
    if text is not None:
        stdout.print(text)


def solver_text(s) -> str | None:
    """``solver: …``: how the spectrum was computed, why, and what stopped it; ``None`` where
    no choice is recorded."""
    if s.choice is None:
        return None
    # only a tolerance stop's words read whether the whole ± met it
    stop = stop_text(s.stopped_by, s.tolerance_met if s.stopped_by == "tolerance" else None)
    samples = s.curvature_data
    subset = "" if samples is None else subset_text(samples.used, samples.total)
    # the answer's runs alone: float32 runs that float64 ones replaced are stages of the trail too
    answer = [stage.runs for stage in s.trail if stage.float64_products == s.trail[-1].float64_products]
    started = max(answer, default=s.runs)
    plan = None if s.solver == "exact" else \
        plan_text(s.runs, s.iterations, started, s.stopped_by, s.fewest_iterations) + (f", {stop}" if stop else "")
    predicted = s.choice.predicted_exact_seconds
    timed = None if predicted is None else exact_predicted_text(predicted, not s.choice.eigenvalues_timed)
    return solver_words(s.choice.reason, timed, plan, subset)


def solver_words(reason: str, predicted: str | None, plan: str | None, subset: str | None) -> str:
    """The ``solver:`` line from its parts: the choice's reason, the exact spectrum's predicted
    time (``exact_predicted_text``), SLQ's plan with its stop, the curvature's subset."""
    timed = "" if predicted is None else f" (exact predicted {predicted})"
    return f"solver: {reason}{timed}" + (f" · {plan}" if plan else "") + (f" · {subset}" if subset else "")


def stated_solver_line(doc: Mapping | None) -> None:
    """A saved report's ``solver:`` line (``stated_solver_text``), where it records one."""
    text = None if doc is None else stated_solver_text(doc)
    if text is not None:
        stdout.print(text)


def stated_solver_text(doc: Mapping) -> str | None:
    """The ``solver:`` line a JSON document states (``spectrum.choice``, ``stopped_by``, …), in the
    words the run that wrote it printed: a ``--from`` report's, read back; ``None`` where it
    records no choice (an older report, a gate on the measured limit alone)."""
    reason = lookup(doc, "spectrum.choice.reason")
    if not isinstance(reason, str):
        return None
    plan, stop = stated_plan(doc), stated_stop(doc)
    stopped = None if plan is None else plan + (f", {stop}" if stop else "")
    return solver_words(reason, stated_exact_predicted(doc), stopped, stated_subset(doc))


def stated_stop(doc: Mapping) -> str | None:
    """What stopped a saved report's spectrum (``spectrum.stopped_by``), as its ``solver:`` line
    states it: a ``"tolerance"`` stop whose whole ± missed the tolerance says so, by
    ``spectrum.tolerance_met`` or, in a report from before it, by ``prediction.uncertainty``'s
    ``plus_minus`` against ``options.tolerance``; ``None`` where nothing stopped it."""
    stopped_by, met = lookup(doc, "spectrum.stopped_by"), lookup(doc, "spectrum.tolerance_met")
    if stopped_by is None:
        return None
    if not isinstance(met, bool):
        pm, tolerance = lookup(doc, "prediction.uncertainty.plus_minus"), lookup(doc, "options.tolerance")
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (pm, tolerance))
        met = pm <= tolerance if numbers else None
    return stop_text(str(stopped_by), met) or str(stopped_by)


def lookup(body: Mapping, path: str) -> Any:
    """The value at ``a.b.c`` in nested dicts, or ``None``."""
    value: Any = body
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def stated_exact_predicted(doc: Mapping) -> str | None:
    """The exact spectrum's predicted time (``timing.predicted_exact_seconds``), as ``solver:`` states it."""
    seconds = lookup(doc, "timing.predicted_exact_seconds")
    if lookup(doc, "spectrum.choice") is None or not isinstance(seconds, (int, float)):
        return None
    return exact_predicted_text(seconds, lookup(doc, "timing.predicted_exact_columns_only") is True)


def stated_plan(doc: Mapping) -> str | None:
    """SLQ's probes × steps (``spectrum.runs``, ``iterations``, ``trail``), as ``solver:`` states them."""
    s = lookup(doc, "spectrum")
    if not isinstance(s, Mapping) or s.get("choice") is None or s.get("solver") == "exact":
        return None
    runs, iterations = s.get("runs"), s.get("iterations")
    if not isinstance(runs, int) or not isinstance(iterations, int):
        return None
    trail = [stage for stage in s.get("trail") or [] if isinstance(stage, Mapping)] \
        if isinstance(s.get("trail"), list) else []
    precision = trail[-1].get("float64_products") if trail else None
    started = max((stage["runs"] for stage in trail
                   if isinstance(stage.get("runs"), int) and stage.get("float64_products") == precision), default=runs)
    fewest = s.get("fewest_iterations")  # older reports record the longest run's alone
    return plan_text(runs, iterations, started, s.get("stopped_by"), fewest if isinstance(fewest, int) else iterations)


def stated_subset(doc: Mapping) -> str | None:
    """The curvature's subset (``spectrum.hessian_samples``), as ``solver:`` states it; ``None`` for all samples."""
    samples = lookup(doc, "spectrum.hessian_samples")
    if lookup(doc, "spectrum.choice") is None or not isinstance(samples, Mapping) or \
            not all(isinstance(samples.get(key), int) for key in ("used", "total")):
        return None
    return subset_text(samples["used"], samples["total"]) or None


def exact_predicted_text(seconds: float, columns_only: bool) -> str:
    """The exact spectrum's predicted time as the ``solver:`` line and the HTML report state it
    (JSON ``timing.predicted_exact_seconds``): ``≈ 7.01 s``, or ``≥ 7.01 s, its columns alone``
    where the eigenvalues went untimed (``timing.predicted_exact_columns_only``: a lower bound)."""
    return f"≥ {seconds:.3g} s, its columns alone" if columns_only else f"≈ {seconds:.3g} s"


def plan_text(runs: int, iterations: int, started: int, stopped_by: str | None, fewest: int) -> str:
    """SLQ's probes × steps as the ``solver:`` line and the HTML report state them: ``3 probes ×
    65 steps``, ``3 probes × 5–32 steps`` where the shortest run took ``fewest`` (a time budget
    that cut a stage of new runs), and where fewer probes ended than ``started``, that the
    first carried on alone."""
    # a run carried to the end of its Krylov space (converged) was cheaper than the next stage,
    # not forced by the budget
    why = " to every eigenvalue" if stopped_by == "converged" else ": the budget could not serve them all"
    alone = f" (the first of {started} carried on alone{why})" if started > runs else ""
    probes = "1 probe" if runs == 1 else f"{runs} probes"
    steps = "1 step" if iterations == 1 else f"{steps_range(fewest, iterations)} steps"
    return f"{probes} × {steps}{alone}"


def steps_range(fewest: int, iterations: int) -> str:
    """The runs' Lanczos steps: ``32``, or ``5–32`` from the shortest run to the longest (a
    time budget cut a stage of new runs, which run one after the other: stating the longest
    alone claimed 96 products where 69 were made)."""
    return f"{iterations}" if fewest >= iterations else f"{fewest}–{iterations}"


def subset_text(used: int, total: int) -> str:
    """The curvature's subset of the samples (``--hessian-samples``) as the ``solver:`` line and
    the HTML report state it: ``curvature on 300 of 1,437 samples``; ``""`` for all of them."""
    return "" if used == total else f"curvature on {used:,} of {total:,} samples"


def memory_line(m) -> str:
    device = "" if m.peak_device is None else f" · peak device {m.peak_device:,.0f} MB"
    return (f"{m.basis_kind} {m.basis:,.1f} MB (host) · HVP graphs ≈ {m.hvp_graphs:,.1f} MB ({m.hvp_engine}) · "
            f"peak host {m.peak_host:,.0f} MB{device}")


def render_bounds(rep) -> None:
    p, s = rep.prediction, rep.spectrum
    title = f"Pruning limit ({s.method} method, D = {s.params_hessian:,}, N = {rep.params_prunable:,})"
    table = folding_table("quantity", "removed ratio", "kept density", title=title)
    path = " (layer-wise path)" if rep.scope == "layer" else ""
    table.add_row(f"[bold]predicted limit ρ*{path}[/]", f"[bold]{pct(rep.ratio)}[/]", pct(1 - rep.ratio))
    if rep.lower is not None:
        table.add_row(f"lower bound ρ_L (η = {p.eta:g}, {p.bound_mode})", pct(rep.lower), pct(1 - rep.lower))
        table.add_row(f"upper bound ρ_U (η = {p.eta:g}, {p.bound_mode})", pct(rep.upper), pct(1 - rep.upper))
    if rep.paper is not None:
        table.add_row(CONTINUOUS, pct(p.ratio), pct(1 - p.ratio))
    stdout.print(table)
    stdout.print(f"R(ρ*) = {rep.radius:.4g} · {epsilon_text(rep.epsilon, rep.epsilon_source)} · loss {loss_text(s.loss)}")
    stdout.print(estimate_line(rep.ratio, rep.uncertainty.to_json()))
    solver_line(s)
    if rep.paper is not None:
        from prunelimit.api.limit import aliasing_json

        stdout.print(reference_density_text(aliasing_json(rep.paper.aliasing)))  # to the digits the JSON keeps
    stdout.print(f"λmax {fmt(s.lambda_max)} · λmin {fmt(s.lambda_min)} · "
                 f"trace {trace_text(s.trace, s.trace_plus_minus, level=True)} · {cost(s)}")
    if s.memory is not None:
        stdout.print(f"memory: {memory_line(s.memory)}")
    if rep.layers is not None:
        render_layers(rep.layers)
    render_warnings(rep.warnings)


CONTINUOUS = "continuous ρ* (same spectrum)"  # --method paper's root of the same spectrum, beside its grid ρ*


def reference_density_text(density: Mapping) -> str:
    """``reference density: …``: how --method paper's reference density sits on its grid, from
    its JSON (``prediction.reference_density``, ``api.limit.aliasing_json``): bounds prints it so,
    and verify and gate print a saved report's alike, to the digits it keeps."""
    state = "aliased" if density["aliased"] is True else "resolved"
    return (f"reference density: kernel std {density['kernel_std']:.2g} vs grid step {density['grid_step']:.2g} "
            f"({state}; node weights kept {density['node_mass_min']:.3g}–{density['node_mass_max']:.3g}×, "
            f"{100 * density['weight_moved']:.2g} % moved)")


def stated_paper_facts(doc: Mapping | None) -> tuple[float | None, str | None]:
    """A ``--method paper`` prediction's continuous ρ* and ``reference density:`` line, as the
    bounds run that computed it printed them, from its JSON (``prediction.continuous_ratio``,
    ``prediction.reference_density``): what verify and gate state beside its grid ρ*, computed
    here or read (``--from``); ``(None, None)`` for another method's (it states no density)."""
    density = lookup(doc or {}, "prediction.reference_density")
    keys = ("kernel_std", "grid_step", "node_mass_min", "node_mass_max", "weight_moved")
    if not isinstance(density, Mapping) or not all(_finite(density.get(key)) for key in keys):
        return None, None
    continuous = lookup(doc or {}, "prediction.continuous_ratio")
    return (continuous if _finite(continuous) else None), reference_density_text(density)


def _finite(value: object) -> bool:
    return real(value) and math.isfinite(value)


def render_nplh(fit) -> None:
    d = fit.to_json()
    table = folding_table("Neural Pruning Law: ln s = ln c − α0 ln γ", "value")
    table.add_row("α0", f"{signed(fit.alpha0, '.4f')}  [{signed(d['alpha0_ci'][0], '.4f')}, "
                        f"{signed(d['alpha0_ci'][1], '.4f')}] ({percent(fit.confidence, 0)} CI)")
    table.add_row("c", f"{fit.c:.4g}  [{d['c_ci'][0]:.4g}, {d['c_ci'][1]:.4g}]")
    table.add_row("R²", signed(fit.r2, ".4f"))
    table.add_row("region (density)", f"{pct(fit.region_low)} – {pct(fit.region_high)}"
                  + (" (auto)" if fit.region_auto else "") + f", {fit.n_region} of {len(fit.points)} points")
    if fit.quadratic is not None:
        q = fit.quadratic
        table.add_row("quadratic term", f"p = {q.p_value:.3g} → {'needed' if q.needed else 'not needed'}")
    if fit.heldout_error is not None:
        table.add_row("held-out density error", f"median {pct(fit.heldout_error.median_rel_error)}")
    stdout.print(table)
    if fit.points.measured:  # which saliency and mode measured the points
        stdout.print("points measured with " + ", ".join(measured_setting(name, value)
                                                         for name, value in fit.points.measured))
    render_warnings(fit.warnings)


def measured_setting(name: str, value: object) -> str:
    """One setting that measured law points: the prunable set's patterns as its flag is typed, once
    for each (``--exclude 2``; ``exclude=('2',)`` to a library caller), else ``name value``."""
    if isinstance(value, (tuple, list)):
        return option(name, tuple(value), shown=f" --{name} ".join(map(shlex.quote, value)))
    return f"{name} {value}"


def render_error_fit(body: dict) -> None:
    p, f = body["params"], body["fit"]
    table = folding_table("error law (Rosenfeld et al. 2021)", "value", "95 % interval")
    iv = body.get("intervals", {})
    for key in ("eps_up", "gamma", "p", "phi", "psi"):
        if key in p:
            low, high = iv.get(key, (None, None))
            table.add_row(key, fmt(p[key]), f"[{fmt(low)}, {bound(high)}]")
    if not isinstance(p["eps_np"], list):
        table.add_row("eps_np (dense error)", fmt(p["eps_np"]), "")
    else:  # a joint fit's dense error of each network, as --json states them (the one --eps-np stands for)
        for network in p["eps_np"]:
            table.add_row(f"eps_np, width {network['width']:g} × depth {network['depth']:g}", fmt(network["eps_np"]), "")
    table.add_row("mean rel. error", pct(f["mean_rel_error"]), f"std {pct(f['std_rel_error'])}")
    table.add_row("leave-one-out |rel. error|", pct(f.get("loo_mean_abs_rel_error")), "")
    stdout.print(table)
    if "predict" in body:
        # densities and errors in percent, as the table's errors and every other command's densities
        stdout.print(f"predicted error at density {pct(body['predict']['density'])}: {pct(body['predict']['error'])}")
    if "target" in body:
        stdout.print(f"density reaching error {pct(body['target']['error'])}: {pct(body['target']['density'])}")
    render_warnings(body.get("warnings", []))


def render_imp(rep) -> None:
    table = folding_table("level", "density", "error", "loss", title="Iterative magnitude pruning")
    for row in rep.rows:
        table.add_row(str(row.level), pct(row.density), pct(row.error), loss_cell(row.loss))
    stdout.print(table)
    stdout.print(f"Final density {pct(rep.density)} at level {rep.rows[-1].level} "
                 f"({round(rep.density * rep.prunable):,} of {rep.prunable:,} prunable weights kept)")
    stdout.print(f"CSV: {rep.csv_path}  (feed it to `prunelimit law error-fit`)")
    render_warnings(rep.warnings)


def render_train(result) -> None:
    table = folding_table("epoch", "lr", "train loss", "l1 penalty", "eval loss", "eval acc", title="LOMP training")
    for h in result.history:
        table.add_row(str(h.epoch), f"{h.lr:.4g}", loss_cell(h.train_loss), fmt(h.penalty), loss_cell(h.eval_loss),
                      pct(h.eval_accuracy))
    stdout.print(table)
    stdout.print(f"{result.steps:,} steps in {result.seconds:.1f} s")
    render_warnings(result.warnings)


def accuracy_change(points: float) -> str:
    """A change in accuracy points with its own sign: pruning can also raise accuracy."""
    return f"{MINUS if points < 0 else '+'}{abs(points):.2f} pt"


def prediction_behind(rep) -> str | None:
    """What a predicted ratio (``--ratio auto|lower``) was and how it became the ratio pruned
    to: ``ρ* = 91.83 % ± 0.40 pt (…); pruned to 91.85 %: whole weights, ceil(ρ·N) of N, …``.
    The two differ as magnitude pruning removes whole weights (and keeps zeros the model
    held); ``None`` for a given number."""
    if rep.ratio_source == "given":
        return None
    stated = estimate_line(rep.requested, rep.uncertainty, "ρ*" if rep.ratio_source.startswith("auto") else "ρ_L") \
        + subset_incomplete(rep.uncertainty)
    whole = "ceil(ρ·n) of each layer's n" if rep.scope == "layer" else "ceil(ρ·N) of N"
    return f"{stated}; pruned to {pct(rep.achieved)}: whole weights, {whole}, and zeros the model held"


def subset_incomplete(u: Mapping | None) -> str:
    """What a predicted ratio's ± (its JSON, ``ratio.uncertainty``) leaves out, as prune states it
    beside the ratio (console and HTML report): ``, incomplete: …`` where it has a data part, ``""``
    else. A data part means curvature over a subset: its shift of ρ* is in no part (gate counts
    such a ± incomplete)."""
    return ", incomplete: not the shift of ρ* a Hessian over a subset gives" \
        if isinstance(u, Mapping) and u.get("data") is not None else ""


def acc_drop_warning(rep) -> str | None:
    """The warning of a predicted ratio that lost more accuracy than ``--acc-drop`` (what it was,
    what it lost, what to do); ``None`` when it kept within it or was not checked."""
    if not rep.acc_drop_exceeded:
        return None
    # the drop to as many decimals as tell it from the allowance it exceeds ("lost 0.50, more than 0.5")
    lost = f"{rep.accuracy_drop:.{apart(2, rep.accuracy_drop, rep.acc_drop)}f}"
    remedies = [_less_remedy(rep), *_finetune_remedy(rep)]
    if rep.measured is None:  # a verify report read by --from measured the limit already
        remedies.append("check the prediction with `prunelimit verify`")
    advice = remedies[0] if len(remedies) == 1 else f"{', '.join(remedies[:-1])}, or {remedies[-1]}"
    return f"{prediction_behind(rep)}; that lost {lost} accuracy points, more than --acc-drop {rep.acc_drop:g}; {advice}"


def _less_remedy(rep) -> str:
    """Pruning less, in a ratio this run did not use: the accuracy limit the ``--from`` verify
    report measured where it lies below the ratio pruned to, else ``--ratio lower`` after
    ``auto`` where ρ_L is below ρ*, else a number below the prediction (the advice named
    ``--ratio lower`` to a run at ``lower``, and to one of ``--bound-mode none``, which has none)."""
    measured = rep.measured
    if measured is not None and measured.accuracy_ratio is not None and measured.accuracy_ratio < rep.achieved:
        return (f"prune to the accuracy limit {measured.source} measured (--ratio {measured.accuracy_ratio:g}, the "
                f"largest ratio within {measured.acc_drop:g} accuracy points there)")
    lower = rep.lower if rep.ratio_source.startswith("auto") else None
    if lower is not None and lower < rep.requested:
        return f"prune less (--ratio lower, ρ_L = {pct(lower)}, or a number)"
    return f"prune less (a --ratio number below {ratio_below(rep.requested):g})"


def _finetune_remedy(rep) -> tuple[str, ...]:
    """Fine-tuning as this run did it or not: ``--finetune-epochs N`` to a run without, longer
    to one whose fine-tuning still left more than ``--acc-drop`` lost, none where it won the
    accuracy back (the check is of the one-shot drop, before fine-tuning)."""
    from prunelimit.pruning.actual import keeps_accuracy

    tuned = rep.finetuned
    if tuned is None:
        return ("fine-tune (--finetune-epochs N)",)
    if tuned.accuracy is not None and keeps_accuracy(rep.before.accuracy, tuned.accuracy, rep.acc_drop):
        return ()
    return (f"fine-tune longer (more than this run's --finetune-epochs {rep.finetune_epochs})",)


def render_prune(rep) -> None:
    table = folding_table("layer", "total", "zeros", "sparsity", title=f"Pruned to {pct(rep.achieved)} removed ({rep.scope}, ratio {rep.ratio_source})")
    for layer in rep.layers:
        table.add_row(layer.name, f"{layer.total:,}", f"{layer.zeros:,}", pct(layer.zeros / max(layer.total, 1))
                      + (" [red]collapse[/]" if layer.name in rep.collapsed else ""))
    stdout.print(table)
    for label, ev in (("before", rep.before), ("after", rep.after), ("after fine-tuning", rep.finetuned)):
        if ev is not None:
            drop = f" ({accuracy_change(-rep.accuracy_drop)})" if label == "after" and rep.accuracy_drop is not None else ""
            stdout.print(f"{label:>18}: loss {loss_text(ev.loss)} · accuracy {pct(ev.accuracy)}{drop}")
    predicted = prediction_behind(rep)
    if predicted is not None:
        stdout.print(f"predicted {predicted}")
    if rep.epsilon is not None:  # the tolerance the prediction stands on, as bounds states it
        stdout.print(epsilon_text(rep.epsilon, rep.epsilon_source))
    if rep.prediction_from is not None:  # as verify --from and gate --from state it, and the saved run's solver: line
        stdout.print(read_from_text(rep.prediction_from))
        stated_solver_line(rep.read)
    if rep.spectrum is not None:  # how it was computed and why, as bounds, verify and gate state it
        solver_line(rep.spectrum)
        stdout.print(f"spectrum behind the ratio: {cost(rep.spectrum)}")
    stdout.print("wrote " + ", ".join(rep.formats))


def delta_text(delta: float, plus_minus: float | None) -> str:
    """Δ = ρ* − actual with ρ*'s ± (ratios), in points: ``+1.93 ± 0 pt``, or ``+1.93 pt (no ±
    stated)`` for a saved prediction that states none."""
    if plus_minus is None:
        return f"{change_text(100 * delta, 2)} pt (no ± stated)"
    # the ± as ρ*'s line writes it (never in exponent notation), Δ to its decimal; two beside ± 0
    places = decimals(100 * plus_minus) if plus_minus > 0 else 2
    return f"{change_text(100 * delta, places)} ± {half_width_text(100 * plus_minus)} pt"


READ_FROM = "prediction read from "


def read_from_text(name: str) -> str:
    """Where a prediction taken from a saved report (``--from``) came from, in the words of
    verify, gate and prune (console, ``gate --junit``, the HTML report's row)."""
    return f"{READ_FROM}{name} (no curvature work)"


# a measured limit a verify or gate before stored (``timing.search.cached``)
SEARCH_READ = "read from the cache, no prune-and-evaluate passes (--no-cache searches again)"


def render_verify(rep) -> None:
    b, a = rep.prediction, rep.actual
    table = folding_table("", "removed ratio", "kept density", title="Predicted vs actual pruning limit")
    path = " (layer-wise path)" if b.scope == "layer" else ""
    table.add_row(f"predicted ρ*{path}", pct(b.ratio), pct(1 - b.ratio))
    if b.lower is not None:
        table.add_row("lower bound ρ_L", pct(b.lower), pct(1 - b.lower))
        table.add_row("upper bound ρ_U", pct(b.upper), pct(1 - b.upper))
    # a BoundsReport given (the library's prediction_from=) was read, as a file is: its spectrum is not this run's work
    computed = rep.bounds if b.source is None else None
    # --method paper's, as bounds printed them: a saved report's (--from) as read
    continuous, density = stated_paper_facts(b.body if computed is None else
                                             None if computed.paper is None else computed.to_json())
    if continuous is not None:
        table.add_row(CONTINUOUS, pct(continuous), pct(1 - continuous))
    pruned = ", layer-wise pruning" if b.scope == "layer" else ""
    table.add_row(f"[bold]actual (loss ≤ L + ε{pruned})[/]", f"[bold]{AT_LEAST[a.loss_crossed]}{pct(a.loss_ratio)}[/]",
                  f"{AT_MOST[a.loss_crossed]}{pct(1 - a.loss_ratio)}")
    if a.accuracy_ratio is not None:
        table.add_row(f"actual (accuracy ≥ dense − {a.acc_drop:g} pt{pruned})",
                      f"{AT_LEAST[a.accuracy_crossed]}{pct(a.accuracy_ratio)}",
                      f"{AT_MOST[a.accuracy_crossed]}{pct(1 - a.accuracy_ratio)}")
    # a limit of at least 99.90 % makes Δ at most what it shows
    table.add_row("[bold]Δ = ρ* − actual (loss)[/]",
                  f"[bold]{AT_MOST[a.loss_crossed]}{delta_text(rep.delta, rep.delta_plus_minus)}[/]", "")
    if rep.refit is not None:
        r = rep.refit
        table.add_row(f"after {finetune_text(r.finetune_epochs)} (loss)", AT_LEAST[r.loss_crossed] + pct(r.loss_ratio),
                      AT_MOST[r.loss_crossed] + pct(1 - r.loss_ratio))
        if r.accuracy_ratio is not None:
            table.add_row(f"after {finetune_text(r.finetune_epochs)} (accuracy)",
                          AT_LEAST[r.accuracy_crossed] + pct(r.accuracy_ratio), AT_MOST[r.accuracy_crossed]
                          + pct(1 - r.accuracy_ratio))
    stdout.print(table)
    stdout.print(estimate_line(b.ratio, None if b.uncertainty is None else b.uncertainty.to_json()))
    if computed is not None:
        solver_line(computed.spectrum)
        stdout.print(f"spectrum: {cost(computed.spectrum)}")
    else:  # read (--from): the saved run's solver: line, as that run printed it
        stated_solver_line(b.body)
    if density is not None:
        stdout.print(density)
    stdout.print(f"{epsilon_text(b.epsilon, b.epsilon_source)} · dense loss {loss_text(a.dense_loss)}"
                 + (f" · dense accuracy {pct(a.dense_accuracy)}" if a.dense_accuracy is not None else "")
                 + (f" · measured limit {SEARCH_READ}" if rep.search_cached else f" · {a.evaluations} prune-and-evaluate passes"
                    # the seconds are the sweep's too (timing.search), and its points count for the limits
                    + (f" and {a.sweep_evaluations:,} for --sweep" if a.curve else "") + f" in {a.seconds:.1f} s"))
    if b.source is not None:
        stdout.print(read_from_text(b.source))
    if rep.named_limit_note is not None:  # a ratio the prediction names, measured between two grid points
        stdout.print(rep.named_limit_note)
    if a.accuracy_ratio is None:  # JSON accuracy_ratio null: said, as prune says it did not check --acc-drop
        stdout.print("no accuracy criterion: the model gives no accuracy (its outputs are not class scores, or the "
                     "labels are not classes), so --acc-drop checks nothing; the limit is the loss criterion's")
    unfailed = [name for name, crossed in (("loss", a.loss_crossed), ("accuracy", a.accuracy_crossed))
                if not crossed and (name == "loss" or a.accuracy_ratio is not None)]
    if unfailed:
        stdout.print(f"no ratio the search measured fails the {' or the '.join(unfailed)} criterion (≥: the limit is at "
                     "least the last grid point); a failure between its probes goes unseen, `--sweep N` measures more")
    # JSON actual.*_recovers and refit.*_recovers: a curve seen to fail and recover
    for line in (*a.recovery_notes(), *(() if rep.refit is None else rep.refit.recovery_notes())):
        stdout.print(line)
    render_warnings(rep.warnings)
    for line in rep.diagnosis:
        stdout.print(f"[magenta]why:[/] {line}")


def render_gate(rep) -> None:
    for o in rep.result.outcomes:
        mark = "[green]PASS[/]" if o.passed else "[red]FAIL[/]"
        stdout.print(f"{mark} {o.rule.name}: {o.reason}")
        if o.fix is not None:
            stdout.print(f"  fix: {o.fix}")
    for _, line in gate_lines(rep):
        stdout.print(line)
    stdout.print("[green]gate passed[/]" if rep.result.passed else "[red]gate failed[/]")
    render_warnings(rep.warnings)


def gate_lines(rep) -> list[tuple[str, str]]:
    """What a gate's verdict stood on, as ``(name, line)``: ρ* with its ± (``estimate``), how the
    spectrum was computed and what it cost (``solver``, ``spectrum``), or where the prediction
    or the measured limit came from (``source``, ``measured``). The console prints the lines;
    ``gate --junit`` writes them to its suite, so the CI page states the same numbers."""
    lines = []
    if rep.estimate is not None:
        u = rep.estimate.uncertainty
        lines.append(("estimate", estimate_line(rep.estimate.ratio, None if u is None else u.to_json())))
    if rep.spectrum is not None:
        solver = solver_text(rep.spectrum)
        lines += [] if solver is None else [("solver", solver)]
        lines.append(("spectrum", f"spectrum: {cost(rep.spectrum)}"))  # as verify: what it cost, whether from the cache
    elif rep.prediction_from is not None and rep.estimate is not None:  # as verify --from: the saved run's
        saved_solver = stated_solver_text(rep.bounds)  # solver: line, as that run printed it, then the file
        lines += [] if saved_solver is None else [("solver", saved_solver)]
        lines.append(("source", read_from_text(rep.prediction_from) if rep.bounds.get("actual_from") is None else
                      f"prediction and measured limit read from {rep.prediction_from} (no curvature work, "
                      "no prune-and-evaluate passes)"))  # a verify report's limit too
    else:  # every rule on the measured limit: say what it was measured against, and that no spectrum ran
        b = rep.bounds
        passes = f"read from {b['actual_from']}, no prune-and-evaluate passes" if b.get("actual_from") is not None \
            else SEARCH_READ if b.get("timing", {}).get("search", {}).get("cached") else \
            f"{b['actual']['evaluations']} prune-and-evaluate passes"
        lines.append(("measured", f"measured limit: loss ≤ L + ε, {epsilon_text(b['epsilon'], b['epsilon_source'])} · "
                                  f"{passes} · no spectrum"))
    if rep.estimate is not None:  # --method paper's, as bounds printed them (a --from report's as read)
        continuous, density = stated_paper_facts(rep.bounds)
        lines += [] if continuous is None else [("continuous", f"{CONTINUOUS}: {pct(continuous)}")]
        lines += [] if density is None else [("reference_density", density)]
    return lines


def render_hyperflux(rep: dict) -> None:
    start = f" from {pct(rep['start_density'])}" if rep["start_density"] < 1 else ""  # a pruned start
    stdout.print(f"Hyperflux: density {pct(rep['density'])}{start} (requested {pct(rep['requested_density'])})")
    for label in ("before", "after"):
        ev = rep[label]
        stdout.print(f"{label:>7}: loss {loss_text(ev['loss'])} · accuracy {pct(ev['accuracy'])}")
    stdout.print(f"wrote {rep['output']}")
    render_warnings(rep["warnings"])


def size(nbytes: int) -> str:
    if nbytes < 10_000:
        return f"{nbytes:,} B"
    return f"{nbytes / 1024:,.1f} KiB" if nbytes < 10_000_000 else f"{nbytes / 2**20:,.1f} MiB"


def shape_text(shape) -> str:
    """A tensor's shape as the export table writes it: ``32×64``, ``scalar`` for ``()``."""
    return "×".join(map(str, shape)) or "scalar"


def times_text(ratio: float) -> str:
    """A size as a multiple of another, as export's line states the file's: ``0.253×``."""
    return f"{ratio:.3f}×"


def render_export(rep) -> None:
    table = folding_table("tensor", "shape", "dtype", "density", "format", "dense", "exported",
                  title=f"Exported {rep.output}")
    for t in rep.tensors:
        extras = [f"{what} {fmt}" for what, fmt in (("−0.0", t.negzero), ("mask", t.mask)) if fmt not in (None, "values")]
        layout = " + ".join([t.format, *extras]) if t.alias is None else f"tied to {t.alias}"
        table.add_row(t.name, shape_text(t.shape), t.dtype, pct(t.density), layout,
                      size(t.dense_bytes), size(t.total_bytes))
    stdout.print(table)
    stdout.print(f"dense tensors {size(rep.dense_bytes)} → file {size(rep.file_bytes)} "
                 f"(data {size(rep.data_bytes)} + header {size(rep.file_bytes - rep.data_bytes)}): "
                 f"[bold]{times_text(rep.ratio)}[/] the dense size")
    if rep.bench is not None:
        render_bench(rep.bench)
    render_warnings(rep.warnings)


def render_bench(b) -> None:
    from prunelimit.sparse.bench import WARMUP

    table = folding_table("batch", "dense ms", "sparse ms", "speedup", "", "passes",
                  title=f"Inference latency on {b.device} ({b.pattern}, {b.dtype}, {b.threads} thread(s)): "
                        f"medians (interquartile range) of alternating passes after {WARMUP} warm-up passes")
    for r in b.rows:
        table.add_row(str(r.batch), f"{r.dense_ms:.4g} ({r.dense_iqr_ms:.2g})", f"{r.sparse_ms:.4g} ({r.sparse_iqr_ms:.2g})",
                      f"{r.speedup:.2f}×", r.verdict, str(r.repeats))
    stdout.print(table)
    none = "none" if b.dense_layers else "none (no pruned Linear layer)"
    stdout.print(f"sparse layers: {', '.join(b.sparse_layers) or none} · "
                 f"largest output difference {b.max_abs_diff:.3g}")
    for layer in b.dense_layers:
        stdout.print(f"[yellow]kept dense:[/] {layer}")
