"""``--report DIR``: one self-contained HTML page per run (no scripts, no network).

The page holds the headline numbers, every scalar of the command's JSON document in a
table, its warnings, the figures as inline base64 PNGs, the exact command line and the
versions that produced it. All text is escaped (control characters and a file name's
undecodable bytes as visible escapes, as on the console); nothing refers outside the file.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import platform
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, Union

from prunelimit.io.atomic import write_text_atomic
from prunelimit.io.outputs import Output, optional
from prunelimit.report.console import (
    LAYER_METHODS, READ_FROM, alone_text, blocks_text, delta_text, epsilon_text, fmt, lookup, memory_line,
    read_from_text, shape_text, stated_exact_predicted, stated_plan, stated_stop, stated_subset, subset_incomplete,
    times_text, trace_text, uncertainty_text,
)
from prunelimit.report.jsonout import document, dumps
from prunelimit.report.safe import printable
from prunelimit.report.rounding import AT_LEAST, AT_MOST, loss_text, percent, recovery_notes, signed

if TYPE_CHECKING:  # matplotlib costs ~0.6 s to import: only a report with figures loads it
    from matplotlib.figure import Figure

REPORT_NAME = "report.html"
FigureLike = Union["Figure", bytes]

# (JSON path, label, kind): the numbers a reader looks for first, when the command has them.
# kind "ratio" is a removed fraction, shown with its kept density beside it; "points" percentage
# points; "uncertainty" is ρ*'s ± by source, worded as on the console (shown where UNCERTAIN_OF
# says a prediction was made), "given points" an option's points as typed; "loss" a loss as every console line states one (rounding.loss_text),
# "digits" four significant digits, "fixed" four decimals and "seconds"
# one decimal, as the console's lines state the law fits' c, their α0 and R² and the curvature
# time; "times" a size ratio as export's line states it (0.253×); "epsilon" ε with its source, as
# every console line that states it (``0.01729 (std of per-batch losses)``); "trace" and "delta" (Δ, in points) are the value
# with its ``…_plus_minus`` sibling, as the console states them; "interval" is a ``[low, high]``
# list ("fixed interval" to four decimals, as the console states α0's), "range" a ``{low, high}``
# pair of densities (both as the console prints them); "read from" the saved report a prediction was
# read from, in the words of the console's line (``console.read_from_text``); "composed" a
# console line's part made of several of the document's values (``COMPOSED``).
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("passed", "gate passed", "number"),  # a gate's verdict and why (``gate --json``'s ``reason``)
    ("reason", "gate verdict", "number"),
    ("prediction.ratio", "predicted limit ρ*", "ratio"),
    ("prediction.uncertainty", "stated uncertainty of ρ*", "uncertainty"),
    ("bounds.lower", "lower bound ρ_L", "ratio"),
    ("bounds.upper", "upper bound ρ_U", "ratio"),
    ("actual.loss_ratio", "actual limit (loss criterion)", "ratio"),
    ("actual.accuracy_ratio", "actual limit (accuracy criterion)", "ratio"),
    ("delta", "Δ = ρ* − actual (loss criterion)", "delta"),
    ("ratio.requested", "requested pruning ratio", "ratio"),
    ("ratio.uncertainty", "stated uncertainty of the predicted ratio", "uncertainty"),
    ("ratio.achieved", "achieved pruning ratio", "ratio"),
    ("ratio.epsilon", "loss tolerance ε of the predicted ratio", "epsilon"),
    # a prediction taken from a saved report (--from), as the console's "prediction read from" line
    ("prediction_from", "prediction read from", "read from"),
    ("ratio.prediction_from", "prediction read from", "read from"),
    ("requested_density", "requested density (kept fraction)", "percent"),
    ("density", "reached density (kept fraction)", "percent"),
    ("prunable", "prunable weights N", "count"),
    ("resumed_after", "resumed after level", "count"),
    ("start_density", "density started from (a pruned start)", "percent"),
    ("before.loss", "loss before pruning", "loss"),
    ("before.accuracy", "accuracy before pruning", "percent"),
    ("after.loss", "loss after pruning", "loss"),
    ("after.accuracy", "accuracy after pruning", "percent"),
    ("after.accuracy_drop", "accuracy lost by pruning", "points"),
    ("acc_drop", "accuracy loss allowed (--acc-drop)", "given points"),
    ("acc_drop_exceeded", "lost more than --acc-drop", "number"),
    ("finetuned.loss", "loss after fine-tuning", "loss"),
    ("finetuned.accuracy", "accuracy after fine-tuning", "percent"),
    ("alpha0", "law exponent α0", "fixed"),
    ("alpha0_ci", "95 % interval of α0", "fixed interval"),
    ("c", "law constant c", "digits"),
    ("c_ci", "95 % interval of c", "interval"),
    ("r2", "fit R²", "fixed"),
    ("region", "fitted density region", "range"),
    ("region.points", "points in the region", "count"),
    ("quadratic.needed", "quadratic term needed", "number"),
    ("heldout.median_rel_error", "held-out density error (median)", "percent"),
    ("params.eps_np", "ε_np (low-error plateau, dense error)", "digits"),
    ("params.eps_up", "ε_up (high-error plateau)", "digits"),
    ("intervals.eps_up", "95 % interval of ε_up", "interval"),
    ("params.gamma", "γ (power-law slope)", "digits"),
    ("intervals.gamma", "95 % interval of γ", "interval"),
    ("params.p", "p (transition density to the high-error plateau)", "digits"),
    ("intervals.p", "95 % interval of p", "interval"),
    ("params.phi", "φ (depth exponent, joint law)", "digits"),
    ("intervals.phi", "95 % interval of φ", "interval"),
    ("params.psi", "ψ (width exponent, joint law)", "digits"),
    ("intervals.psi", "95 % interval of ψ", "interval"),
    ("fit.mean_rel_error", "mean relative fit error", "percent"),
    ("fit.std_rel_error", "std of the relative fit error", "percent"),
    ("fit.loo_mean_abs_rel_error", "leave-one-out |relative error| (mean)", "percent"),
    ("predict.density", "density of the prediction (--predict)", "percent"),
    ("predict.error", "predicted error", "percent"),
    ("target.error", "target error (--target-error)", "percent"),
    ("target.density", "density reaching the target error", "percent"),
    ("epsilon", "loss tolerance ε", "epsilon"),
    ("loss", "dense loss", "loss"),
    ("actual.dense_accuracy", "dense accuracy", "percent"),  # beside the dense loss, as verify's console line
    ("spectrum.trace", "Hessian trace", "trace"),
    ("params.prunable", "prunable weights N", "count"),
    ("params.hessian", "Hessian parameters D", "count"),
    ("timing.seconds", "curvature time (s)", "seconds"),
    ("timing.cached", "spectrum from the result cache", "number"),
    # how the spectrum was computed, why and what stopped it, as the console's ``solver:`` line states them
    ("spectrum.choice.reason", "solver choice", "number"),
    ("timing.predicted_exact_seconds", "exact spectrum predicted", "composed"),
    ("spectrum.runs", "probes × steps", "composed"),
    ("spectrum.stopped_by", "what stopped the spectrum", "composed"),
    ("spectrum.hessian_samples", "curvature samples", "composed"),
    ("timing.hvps", "curvature products (HVPs)", "count"),
    ("layer_curvature", "per-layer blocks (--per-layer)", "composed"),
    ("memory", "memory", "composed"),
    ("size.dense_bytes", "dense tensors (bytes)", "count"),
    ("size.file_bytes", "exported file (bytes)", "count"),
    ("size.ratio", "exported / dense size", "times"),
)
# an "uncertainty" row → whether its document made the prediction it belongs to (prune's ratio:
# --ratio auto|lower, not a given number)
UNCERTAIN_OF: dict[str, Callable[[Mapping], bool]] = {
    "prediction.uncertainty": lambda doc: lookup(doc, "prediction.ratio") is not None,
    "ratio.uncertainty": lambda doc: lookup(doc, "ratio.source") not in (None, "given"),
}
# what an "uncertainty" row's ± leaves out, after it, as the console says it beside that ratio (prune's)
LEFT_OUT: dict[str, Callable[[Mapping], str]] = {
    "ratio.uncertainty": lambda doc: subset_incomplete(lookup(doc, "ratio.uncertainty")),
}
# a row shown only where its document says so, as the console prints it: Hyperflux's start from a pruned model
SHOWN_WHEN: dict[str, Callable[[Mapping], bool]] = {
    "start_density": lambda doc: isinstance(lookup(doc, "start_density"), (int, float)) and lookup(doc, "start_density") < 1,
}
# a row → the JSON flag whose ``false`` makes it a bound, marked as on the console (``AT_LEAST``):
# a limit no measured ratio failed is at least the value shown, its kept density and Δ at most
CROSSED_BY = {"actual.loss_ratio": "actual.loss_crossed", "actual.accuracy_ratio": "actual.accuracy_crossed",
              "delta": "actual.loss_crossed"}
LIST_KEYS = ("warnings", "diagnosis")  # lists of sentences shown as bullet lists
# lists of flat records shown as a table each: per-layer numbers, an export's tensors, IMP's
# levels, Hyperflux's epochs, and training's epochs and a gate's rules (a ``TrainResult`` or
# ``GateReport`` shown in a notebook)
GRID_KEYS = (("layers", "Layers"), ("tensors", "Tensors"), ("rows", "Levels"), ("log", "Epochs"), ("history", "Epochs"),
             ("rules", "Rules"))
# a grid's columns shown as the console shows them (kinds of ``_format``; the others to six digits):
# per-layer curvature as its table (λmax to four digits, shares, the removed fraction and the
# layer's own ρ* in %; the width, which it leaves out, to four digits too), an export's tensors
# as its table (shape as 32×64, density in %), IMP's levels as its table (density and error in
# %, loss to four digits), Hyperflux's epochs as its lines state densities
# (in %) and losses
GRID_KINDS: dict[str, dict[str, str]] = {
    "layers": {"trace_stderr": "digits", "lambda_max": "digits", "width": "digits", "share_of_width": "percent",
               "sparsity_at_rho": "percent", "radius_share": "percent", "limit_alone": "percent"},
    "tensors": {"shape": "shape", "density": "percent"},
    "rows": {"density": "percent", "error": "percent", "loss": "loss"},
    "log": {"pressure": "digits", "density": "percent", "target": "percent", "loss": "loss"},
    "rules": {"measured": "digits", "compared": "digits", "threshold": "digits", "baseline": "digits"},
    "history": {"lr": "digits", "train_loss": "loss", "penalty": "loss", "eval_loss": "loss", "eval_accuracy": "percent"},
}

# a grid's value whose ± is a key of its own, shown in one column as the console shows it:
# by the value's key, its ±'s key, the text of both and the column's head
GRID_PAIRED: dict[str, tuple[str, Callable[[Any, Any], str], str]] = {
    "trace": ("trace_plus_minus", trace_text, "trace (± 95 %)"),
    "limit_alone": ("limit_alone_plus_minus", alone_text, "limit_alone"),
}

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;
overflow-wrap:anywhere}.scroll{overflow-x:auto}
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre,code{background:#f6f8fa;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
pre{padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9rem}
.warn{color:#8a4b00}.muted{color:#666;font-size:.9rem}
"""


def versions() -> dict[str, str]:
    """Versions of everything that can change the numbers, and where it ran."""
    import numpy
    import scipy
    import torch

    from prunelimit import __version__

    return {
        "prunelimit": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def flatten(body: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted.path, scalar)`` for every scalar of a JSON-ready document; lists longer than a
    few items are summarised by their length so the table stays readable."""
    if isinstance(body, Mapping):
        rows: list[tuple[str, Any]] = []
        for key, value in body.items():
            rows += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(body, (list, tuple)):
        if not body:
            return [(prefix, "[]")]
        if len(body) <= 4 and all(not isinstance(v, (Mapping, list, tuple)) for v in body):
            return [(prefix, ", ".join(as_json(v) for v in body))]
        return [(prefix, f"[{len(body)} items, see the JSON document below]")]
    return [(prefix, body)]


def as_json(value: Any) -> str:
    """A scalar as the JSON document writes it (every digit, ``true``, ``null``), a string
    unquoted: the *All values* table must read the same as ``--json``, not rounded."""
    return value if isinstance(value, str) else json.dumps(value)


CONTAINER_KINDS = ("uncertainty", "interval", "fixed interval", "range")  # kinds whose value is a list or a mapping
# kinds shown with a sibling (``None``: not stated), in the console's words: a trace or Δ with its
# ``…_plus_minus``, ε with its ``…_source``
PAIRED: dict[str, Callable[[Any, Any], str]] = {
    "trace": lambda value, pm: trace_text(value, pm, level=True), "delta": delta_text,
    "epsilon": lambda value, source: epsilon_text(value, source).removeprefix("ε = "),
}
PAIRED_WITH = {"trace": "_plus_minus", "delta": "_plus_minus", "epsilon": "_source"}


def _format(value: Any, kind: str = "number", crossed: bool = True) -> str:
    if kind == "uncertainty":
        return uncertainty_text(value if isinstance(value, Mapping) else None)
    if kind in ("interval", "fixed interval"):
        # a side the points leave free is infinite, which JSON writes null: the console's word for it
        spec = ".4f" if kind == "fixed interval" else ".4g"
        return "[" + ", ".join("unbounded" if v is None else signed(v, spec) for v in value) + "]"
    if kind == "range":
        return f"{percent(value['low'])} – {percent(value['high'])}"
    if kind == "shape" and isinstance(value, list):
        return shape_text(value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if kind == "ratio":
            return f"{AT_LEAST[crossed]}{percent(value)} removed · {AT_MOST[crossed]}{percent(1 - value)} kept"
        if kind == "percent":
            return percent(value)
        if kind == "points":
            return f"{signed(value, '.2f')} pt"
        if kind == "given points":  # an option's points as typed, as the console echoes it: 0.125 is not 0.12
            return f"{value:g} pt"
        if kind == "digits":
            return fmt(value)
        if kind == "loss":
            return loss_text(value)
        if kind == "fixed":
            return signed(value, ".4f")
        if kind == "seconds":
            return f"{value:.1f}"
        if kind == "times":
            return times_text(value)
        return signed(value, ",") if isinstance(value, int) else signed(value, ".6g")
    if kind == "read from":
        return read_from_text(str(value)).removeprefix(READ_FROM)
    return str(value)


def _blocks(doc: Mapping) -> str | None:
    """How ``--per-layer``'s blocks were computed and their cost (``layer_curvature``), as the ``blocks:`` line."""
    c = lookup(doc, "layer_curvature")
    if not isinstance(c, Mapping) or c.get("method") not in LAYER_METHODS or \
            not isinstance(c.get("hvps"), int) or not isinstance(c.get("seconds"), (int, float)):
        return None
    return blocks_text(c["method"], c.get("probes"), c.get("steps"), c["hvps"], c["seconds"], c.get("cached") is True,
                       c.get("block_diagonal_f"))


def _memory(doc: Mapping) -> str | None:
    """The spectrum's memory (``memory``: ``basis_mb``, ``hvp_graphs_mb``, …), as the console's ``memory:`` line."""
    m = lookup(doc, "memory")
    sizes = ("basis_mb", "hvp_graphs_mb", "peak_host_mb")
    if not isinstance(m, Mapping) or not all(isinstance(m.get(key), (int, float)) for key in sizes):
        return None
    device = m.get("peak_device_mb")
    return memory_line(SimpleNamespace(basis_kind=m.get("basis_kind"), basis=m["basis_mb"], hvp_engine=m.get("hvp_engine"),
                                       hvp_graphs=m["hvp_graphs_mb"], peak_host=m["peak_host_mb"],
                                       peak_device=device if isinstance(device, (int, float)) else None))


# a "composed" row → its text from the whole document, in the words of the console's line it is
# a part of, or ``None`` where that line states no such part (the ``solver:`` line: no solver
# choice recorded, an exact spectrum's plan, all samples, nothing that stopped it (what did, in its
# words: a "tolerance" stop whose whole ± missed it says so); no ``blocks:`` line without --per-layer;
# no ``memory:`` line where none was measured)
COMPOSED: dict[str, Callable[[Mapping], "str | None"]] = {
    "timing.predicted_exact_seconds": stated_exact_predicted,
    "spectrum.runs": stated_plan,
    "spectrum.stopped_by": stated_stop,
    "spectrum.hessian_samples": stated_subset,
    "layer_curvature": _blocks,
    "memory": _memory,
}


def _shaped(value: Any, kind: str) -> bool:
    """``value`` is what an "interval" (a two-item list) or a "range" (``low``/``high``) needs."""
    if kind in ("interval", "fixed interval"):
        return isinstance(value, list) and len(value) == 2
    return isinstance(value, Mapping) and all(isinstance(value.get(k), (int, float)) for k in ("low", "high"))


def _table(rows: Sequence[tuple[str, str]], head: tuple[str, str]) -> str:
    cells = "".join(
        f"<tr><td>{_text(k)}</td><td class=num>{_text(v)}</td></tr>" for k, v in rows
    )
    return _scroll(f"<table><tr><th>{_text(head[0])}</th><th>{_text(head[1])}</th></tr>{cells}</table>")


def _grid(items: Sequence[Mapping], kinds: Mapping[str, str]) -> str:
    """Rows of flat mappings as one table, the first item's keys as the columns, each of a
    column named in ``kinds`` formatted as that kind; a value beside its ± (``GRID_PAIRED``: a
    ``trace`` and its ``trace_plus_minus``, a layer's ``limit_alone`` and its
    ``limit_alone_plus_minus``) is one column, stated as the console states it."""
    keys = list(items[0])
    paired = {key: GRID_PAIRED[key] for key in keys if key in GRID_PAIRED and GRID_PAIRED[key][0] in keys}
    for plus_minus, _, _ in paired.values():
        keys.remove(plus_minus)

    def cell(item: Mapping, key: str) -> str:
        if key in paired:
            return paired[key][1](item.get(key), item.get(paired[key][0]))
        return _format(item.get(key), kinds.get(key, "number"))

    head = "".join(f"<th>{_text(paired[k][2] if k in paired else str(k))}</th>" for k in keys)
    rows = "".join("<tr>" + "".join(f"<td class=num>{_text(cell(item, k))}</td>" for k in keys) + "</tr>"
                   for item in items)
    return _scroll(f"<table><tr>{head}</tr>{rows}</table>")


def _text(value: str) -> str:
    """``value`` as page text: control characters (a file name's terminal escapes, which a
    ``cat`` of the page would run) and undecodable bytes of a file name (surrogates, which
    UTF-8 cannot write) as visible escapes (``printable``), then HTML-escaped, quotes included."""
    return html.escape(printable(value))


def _scroll(table: str) -> str:
    """A table in its own horizontally scrolling box: a wide one (many columns) scrolls on a
    narrow screen instead of widening the page; its cells break long tokens (``overflow-wrap``)."""
    return f"<div class=scroll>{table}</div>"


def _figure(title: str, fig: FigureLike) -> str:
    if isinstance(fig, bytes):
        png = fig
    else:
        from prunelimit.report.figures import figure_png

        png = figure_png(fig)
    data = base64.b64encode(png).decode("ascii")
    alt = _text(title)
    return (f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_text(title)}</figcaption></figure>")


def _with_nested(doc: Mapping) -> Mapping:
    """A gate's document with the ``bounds`` or ``verify`` document its rules read (its
    ``bounds``, a document of its own ``schema``) lifted beside the gate's keys, which win (its
    ``timing`` and ``warnings`` are this run's): the summary then states ρ* with its ±, the
    solver, the stop and ε as the gate's console lines do; another document as it is."""
    nested = doc.get("bounds")
    if not isinstance(nested, Mapping) or "schema" not in nested:
        return doc
    return {**nested, **{key: value for key, value in doc.items() if key != "bounds"}}


def summary_html(command: str, body: Mapping) -> str:
    """The report's body of results: the headline numbers, the warnings and the per-layer,
    per-tensor, per-level or per-epoch tables; ``render_html`` wraps it in the page, and a
    result's ``_repr_html_`` shows it in a notebook."""
    doc = _with_nested(document(command, dict(body)))
    # a "composed" row's text is made of several values: shown as it is, where it states something
    found = [(label, COMPOSED[path](doc), "number", path) if kind == "composed" else (label, lookup(doc, path), kind, path)
             for path, label, kind in HEADLINE]
    # only a flag stated false marks a bound (a report from before the flags states none)
    crossed = {path: lookup(doc, flag) is not False for path, flag in CROSSED_BY.items()}
    headline = [(label, AT_MOST[crossed.get(path, True)] + PAIRED[kind](value, lookup(doc, path + PAIRED_WITH[kind])) if kind in PAIRED
                 else _format(value, kind, crossed.get(path, True)) + LEFT_OUT.get(path, lambda _: "")(doc))
                for label, value, kind, path in found
                if (kind == "uncertainty" and UNCERTAIN_OF[path](doc)) or (kind in CONTAINER_KINDS[1:] and _shaped(value, kind))
                or (kind not in CONTAINER_KINDS and value is not None and not isinstance(value, (Mapping, list))
                    and SHOWN_WHEN.get(path, lambda _: True)(doc))]
    parts = ["<h2>Summary</h2>", _table(headline, ("quantity", "value"))] if headline else []
    for key in LIST_KEYS:
        items = doc.get(key) or []
        if key == "warnings":  # the console's lines on an off-grid limit and a curve that recovers, beside them
            items = list(dict.fromkeys([*_named_limit_note(doc), *_recovery_notes(doc), *items]))
        if items:
            lis = "".join(f"<li>{_text(str(item))}</li>" for item in items)
            parts += [f"<h2>{_text(key.capitalize())}</h2>", f"<ul class=warn>{lis}</ul>"]
    for key, title in GRID_KEYS:
        items = doc.get(key)
        if isinstance(items, list) and items and all(isinstance(item, Mapping) for item in items):
            parts += [f"<h2>{title}</h2>", _grid(items, GRID_KINDS.get(key, {}))]
    return "\n".join(parts)


def render_html(command: str, body: Mapping, figures: Mapping[str, FigureLike], argv: Sequence[str],
                generated: str | None = None) -> str:
    """The report page as a string (``write_report`` writes it)."""
    doc = document(command, dict(body))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>prunelimit {_text(command)} report</title><style>{STYLE}</style></head><body>",
        f"<h1>prunelimit {_text(command)}</h1>",
        f'<p class=muted>schema {_text(doc["schema"])} · generated {_text(generated or _now())}</p>',
    ]
    summary = summary_html(command, body)
    parts += [summary] if summary else []
    if figures:
        parts.append("<h2>Figures</h2>")
        parts += [_figure(title, fig) for title, fig in figures.items()]
    rows = [(path, as_json(value)) for path, value in flatten({k: v for k, v in doc.items() if k not in LIST_KEYS})]
    parts += ["<h2>All values</h2>", _table(rows, ("JSON key", "value"))]
    parts += [
        "<h2>How this was produced</h2>",
        f"<pre>{_text(shlex.join(argv))}</pre>",
        _table(list(versions().items()), ("software", "version")),
        "<details><summary>The JSON document (as printed by <code>--json</code>)</summary>",
        f"<pre>{html.escape(dumps(doc))}</pre></details>",  # ASCII: json.dumps escapes the rest
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _named_limit_note(doc: Mapping) -> list[str]:
    """verify's console line naming the ratio the loss limit is where it lies off the search's
    grid (a ratio the prediction names, measured between two grid points), else nothing."""
    from prunelimit.pruning.actual import named_limit_text
    from prunelimit.validate import real

    limit, ratio, lower = (lookup(doc, path) for path in ("actual.loss_ratio", "prediction.ratio", "bounds.lower"))
    if not (real(limit) and real(ratio) and (lower is None or real(lower))):
        return []  # a limit measured alone (no prediction), or a document out of shape
    note = named_limit_text(limit, ratio, lower)
    return [] if note is None else [note]


def _recovery_notes(doc: Mapping) -> list[str]:
    """verify's sentences on a curve seen to fail and recover (``actual.*_recovers``,
    ``refit.*_recovers``), worded as on the console."""
    from prunelimit.pruning.actual import swept_all

    notes: list[str] = []
    for key in ("actual", "refit"):
        part = doc.get(key)
        if isinstance(part, Mapping):
            notes += recovery_notes(part.get("loss_ratio"), part.get("loss_recovers"), part.get("accuracy_ratio"),
                                    part.get("accuracy_recovers"), part.get("finetune_epochs", 0) if key == "refit" else 0,
                                    key == "actual" and swept_all(part.get("curve")))
    return notes


def write_report(directory: str | Path, command: str, body: Mapping, figures: Mapping[str, FigureLike],
                 argv: Sequence[str], force: bool = False) -> Path:
    """Write ``directory/report.html`` atomically (the folder is created) and return its path.

    ``body`` is the command's ``to_json()`` dict, ``figures`` maps a caption to a matplotlib
    ``Figure`` (closed here) or PNG bytes, ``argv`` is the command line (``sys.argv``).
    An existing report is replaced only with ``force``.
    """
    page = render_html(command, body, figures, [str(a) for a in argv])
    return write_text_atomic(Path(directory) / REPORT_NAME, page, force, parents=True)


def report_output(directory: str | Path | None) -> Output | None:
    """``--report DIR`` as an output to check before any work (``prunelimit.io.outputs.preflight``)."""
    return optional("--report", None if directory is None else Path(directory) / REPORT_NAME, "html", parents=True)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def command_line() -> list[str]:
    """The command as the user typed it: ``prunelimit`` and the arguments."""
    return ["prunelimit", *sys.argv[1:]]
