"""A result as a notebook shows it: ``repr`` is one line of its key numbers, worded as the
console prints them (a dataclass's own repr wrote every field, spectra and per-probe
records included: thousands of characters for ``result`` typed at a prompt), and
``_repr_html_`` is the summary of the command's HTML report (``--report``) for Jupyter.
The fields, ``==``, pickling and ``to_json()`` are the dataclass's own."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Mapping, TypeVar

from prunelimit.report.rounding import AT_LEAST, estimate_text, loss_text, percent

T = TypeVar("T", bound=type)


def shown(command: str, summary: Callable[[Any], list[str]]) -> Callable[[T], T]:
    """A class decorator, put above ``@dataclass`` (which would otherwise write its own repr):
    ``repr`` is ``Name(item, item, …)`` of ``summary(result)``, and ``_repr_html_`` the HTML
    report's summary of ``result.to_json()`` as ``prunelimit COMMAND --report`` shows it."""
    def decorate(cls: T) -> T:
        def __repr__(self: Any) -> str:
            return f"{type(self).__name__}({', '.join(summary(self))})"

        def _repr_html_(self: Any) -> str:
            from prunelimit.errors import library_call
            from prunelimit.report.html import summary_html

            with library_call():  # a notebook's reader: options named as the calls take them (max_hvps=)
                return f"<div><strong>{type(self).__name__}</strong>\n{summary_html(command, self.to_json())}</div>"

        cls.__repr__ = __repr__  # type: ignore[method-assign]
        cls._repr_html_ = _repr_html_  # type: ignore[attr-defined]
        return cls
    return decorate


# a record's list, tuple, set or dict field is written whole up to this many items and characters
BRIEF_ITEMS, BRIEF_CHARS = 4, 80


def brief(cls: T) -> T:
    """A class decorator for a record a result holds (put above ``@dataclass``): ``repr`` is
    the dataclass's ``Name(field=value, …)``, but an array or a tensor is written as its kind
    and shape (``order=<ndarray 888>``) and a long list or tuple as its length (``probes=<25
    items>``): ``result.bounds.profile`` typed at a prompt wrote every index of the magnitude
    order, 20,788 characters for a 900-weight model, and ``result.actual`` every probe. A module
    is written as its class (``model=<Sequential>``), a long set as its length and a long dict
    as its size (``masks=<2 entries>``): ``inputs_from``'s ``Inputs`` wrote every batch."""
    return _briefed(cls, lambda value: True)


def brief_recorded(cls: T) -> T:
    """:func:`brief`, leaving out the fields at ``None`` (not recorded): ``result.provenance`` at a
    prompt wrote 1,500 characters, 17 unrecorded fields and four 64-digit sha256 digests among them
    (which :func:`brief` writes by their first 12 hex digits, as the refusals that compare them do)."""
    return _briefed(cls, lambda value: value is not None)


def _briefed(cls: T, shown: Callable[[Any], bool]) -> T:
    def __repr__(self: Any) -> str:
        fields = [f"{f.name}={_brief(value)}" for f in dataclasses.fields(self)
                  if f.repr and shown(value := getattr(self, f.name))]
        return f"{type(self).__name__}({', '.join(fields)})"

    cls.__repr__ = __repr__  # type: ignore[method-assign]
    return cls


_DIGEST = re.compile(r"[0-9a-f]{64}")  # a sha256 in hex


def _brief(value: Any) -> str:
    """A field's value in a :func:`brief` repr (a sha256 digest by its first 12 hex digits)."""
    if isinstance(value, str) and _DIGEST.fullmatch(value):
        return repr(f"{value[:12]}…")
    if getattr(value, "ndim", 0) > 0:  # a NumPy array or a torch tensor (not a scalar of them)
        return f"<{type(value).__name__} {'×'.join(map(str, value.shape))}>"
    from torch import nn  # here: baseline's Provenance is briefed, and importing baseline imported no torch

    if isinstance(value, nn.Module):  # torch's repr writes a line a submodule
        return f"<{type(value).__name__}>"
    text = repr(value)
    if isinstance(value, (list, tuple, set, frozenset)) and (len(value) > BRIEF_ITEMS or len(text) > BRIEF_CHARS):
        return f"<{len(value)} items>"
    if isinstance(value, Mapping) and (len(value) > BRIEF_ITEMS or len(text) > BRIEF_CHARS):  # masks, a file's meta
        return f"<{len(value)} entries>"
    return text


def _pct(value: float | None) -> str:
    return "—" if value is None else percent(value)


def _plus_minus(uncertainty: Any) -> float | None:
    return None if uncertainty is None else uncertainty.plus_minus


def estimate_item(name: str, ratio: float | None, plus_minus: float | None) -> str:
    """``ρ* = 73.86 % ± 0.40 pt`` as ρ*'s headline line writes it, or the ratio alone where no ± is stated."""
    if ratio is None:
        return f"{name} = —"
    return f"{name} = " + (_pct(ratio) if plus_minus is None else estimate_text(ratio, plus_minus))


def _warned(warnings: Any) -> list[str]:
    count = len(warnings or ())
    return [] if count == 0 else ["1 warning" if count == 1 else f"{count} warnings"]


def _solver(s: Any) -> list[str]:
    """The solver that ran and what stopped it (``stopped_by``: none where nothing did), as the
    JSON's ``spectrum.solver`` and ``spectrum.stopped_by`` name them."""
    # a "tolerance" stop whose whole ± missed it (a subset's data part, measured after the runs) says so
    missed = ["tolerance_met=False"] if s.stopped_by == "tolerance" and s.tolerance_met is False else []
    return [f"solver={s.solver!r}", *([] if s.stopped_by is None else [f"stopped_by={s.stopped_by!r}"]), *missed]


def spectrum_summary(s: Any) -> list[str]:
    from prunelimit.report.console import fmt, trace_text

    return [estimate_item("ρ*", s.limit_ratio, _plus_minus(s.uncertainty)),
            f"λmax = {fmt(s.lambda_max)}", f"trace = {trace_text(s.trace, s.trace_plus_minus)}",
            f"D = {s.params_hessian:,}", f"method={s.method!r}", *_solver(s),
            f"{s.hvps:,} HVPs in {s.seconds:.1f} s", *_warned(s.warnings)]


def bounds_summary(b: Any) -> list[str]:
    items = [estimate_item("ρ*", b.ratio, _plus_minus(b.uncertainty))]
    if b.lower is not None:
        items += [f"ρ_L = {_pct(b.lower)}", f"ρ_U = {_pct(b.upper)}"]
    items += [f"ε = {loss_text(b.epsilon)}", f"D = {b.spectrum.params_hessian:,}", f"N = {b.params_prunable:,}",
              f"method={b.spectrum.method!r}", *_solver(b.spectrum)]
    return items + ([f"scope={b.scope!r}"] if b.scope != "global" else []) + _warned(b.warnings)


def verify_summary(v: Any) -> list[str]:
    from prunelimit.report.console import delta_text

    p, a = v.prediction, v.actual
    plus_minus = _plus_minus(p.uncertainty)
    items = [estimate_item("ρ*", p.ratio, plus_minus)]
    if a is not None:
        items.append(f"actual = {AT_LEAST[a.loss_crossed]}{_pct(a.loss_ratio)}")
    if v.delta is not None:
        items.append(f"Δ = {delta_text(v.delta, plus_minus)}")
    return items + _warned(v.warnings)


def gate_summary(g: Any) -> list[str]:
    outcomes = g.result.outcomes
    passed = sum(outcome.passed for outcome in outcomes)
    estimate = [] if g.estimate is None else [estimate_item("ρ*", g.estimate.ratio, _plus_minus(g.estimate.uncertainty))]
    # why a gate failed is what its reader looks for: the first failed rule's reason, as the console's FAIL line
    failed = [f"FAIL {o.rule.name}: {o.reason}" for o in outcomes if not o.passed][:1]
    return [f"passed={g.passed}", f"{passed} of {len(outcomes)} rules passed", *failed, *estimate, *_warned(g.warnings)]


def _pruned(p: Any, source: str) -> list[str]:
    zeros = sum(layer.zeros for layer in p.layers)
    total = sum(layer.total for layer in p.layers)
    # a predicted ratio with ρ*'s stated ± (``ratio.plus_minus``), as prune's console line states it
    plus_minus = None if p.uncertainty is None else p.uncertainty.get("plus_minus")
    requested = estimate_item("requested", p.requested, plus_minus)
    return [requested, f"achieved = {_pct(p.achieved)}", f"zeros = {zeros:,} of {total:,}",
            f"{len(p.layers)} layers", f"scope={p.scope!r}", f"source={source!r}",
            *([f"collapsed={list(p.collapsed)}"] if p.collapsed else [])]


def pruning_summary(p: Any) -> list[str]:
    return [*_pruned(p, p.source), *_warned(p.warnings)]


def prune_report_summary(p: Any) -> list[str]:
    change = [] if p.before is None or p.after is None else [_change(p.before, p.after)]
    return [*_pruned(p, p.ratio_source), *change, *_warned(p.warnings)]


def _change(before: Any, after: Any) -> str:
    """What pruning cost, as the console's before/after lines state it: the accuracy, or the
    loss where none is measured (a regression)."""
    if before.accuracy is not None and after.accuracy is not None:
        return f"accuracy {_pct(before.accuracy)} → {_pct(after.accuracy)}"
    return f"loss {loss_text(before.loss)} → {loss_text(after.loss)}"


def info_summary(i: Any) -> list[str]:
    data = [] if i.loss is None else [f"loss {loss_text(i.loss)}"] + ([] if i.accuracy is None else
                                                                      [f"accuracy {_pct(i.accuracy)}"])
    return [f"params = {i.params_total:,}", f"N = {i.params_prunable:,}", f"D = {i.params_hessian:,}",
            f"{len(i.layers)} prunable layers", *data, *_warned(i.warnings)]


def train_summary(t: Any) -> list[str]:
    last = t.history[-1] if t.history else None
    seen = [] if last is None else [f"train loss {loss_text(last.train_loss)}"] + (
        [] if last.eval_accuracy is None else [f"eval accuracy {_pct(last.eval_accuracy)}"])
    return [f"epochs = {len(t.history)}", f"steps = {t.steps:,}", *seen, f"{t.seconds:.1f} s", *_warned(t.warnings)]


def hyperflux_summary(h: Any) -> list[str]:
    return [f"density = {_pct(h.density)}", f"requested = {_pct(h.requested_density)}", _change(h.before, h.after),
            f"{len(h.log)} epochs", *_warned(h.warnings)]


def imp_summary(r: Any) -> list[str]:
    last = r.rows[-1] if r.rows else None
    end = [] if last is None else [f"density = {_pct(last.density)}", f"error = {_pct(last.error)}"]
    return [f"{len(r.rows)} levels", *end, f"N = {r.prunable:,}", *_warned(r.warnings)]


def nplh_summary(f: Any) -> list[str]:
    return [f"α0 = {f.alpha0:.4f}", f"c = {f.c:.4g}", f"R² = {f.r2:.4f}",
            f"region {_pct(f.region_low)} – {_pct(f.region_high)}", f"{f.n_region} points", *_warned(f.warnings)]


def error_fit_summary(f: Any) -> list[str]:
    joint = [f"φ = {f.phi:.4g}", f"ψ = {f.psi:.4g}"] if f.joint else []
    return [f"ε_up = {f.eps_up:.4g}", f"γ = {f.gamma:.4g}", f"p = {f.p:.4g}", *joint,
            f"mean relative error {_pct(f.mean_rel_error)}", *_warned(f.warnings)]


def export_summary(e: Any) -> list[str]:
    from prunelimit.report.console import times_text

    return [f"{e.file_bytes:,} B", f"{times_text(e.ratio)} the dense size", f"{len(e.tensors)} tensors",
            f"output={str(e.output)!r}", *_warned(e.warnings)]
