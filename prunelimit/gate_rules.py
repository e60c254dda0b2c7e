"""CI gate on compressibility: rules over a ``bounds`` result, each with its own outcome.

A rule either demands a minimum pruning ratio (``min_ratio``) or bounds the fall of the
limit against a stored report (``baseline`` + ``max_drop``). The measured value is the
lower bound ρ_L by default (``use: lower``), the prediction ρ* (``use: predicted``), or the
limit one-shot pruning really reaches, the ``verify`` search's loss criterion (``use:
actual``; a baseline for it must be a ``verify --json`` report). A ``min_ratio`` rule
compares the conservative side of a predicted value, the value minus its stated ± (an SLQ
estimate passes only when its whole uncertainty lies above the requirement); a ± that
leaves out a known error fails the rule (``margin``): a truncation part it could not
measure, the shift of a Hessian over a subset of the samples (``--hessian-samples``), the
paper arithmetic's grid error. A measured limit has no such ±, and a baseline rule
compares the two reports' values as they stand, up to their rounding (``rounding_allowance``:
another runner's float rounding is no drop): a warning says when ``max_drop`` lies
within the noise of the two stated ±, or when the baseline states none (an older report),
so that its noise is not allowed for (``resolution_notes``). A rule with ``fail_on_overshoot``
fails where the ``bounds`` overshoot check measured its prediction past the limit one-shot
pruning reaches (``overshoot.lower`` / ``overshoot.predicted`` true), whatever its value.
"""

from __future__ import annotations

import codecs
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Literal, Sequence

from prunelimit.errors import (
    InputError, OptionError, UsageError, option, option_flag, quoted, said, unknown_name, written_in,
    yaml_quoted,
)
from prunelimit.baseline import check_bounds_hold_prediction, saved_from_python, stored_with
from prunelimit.limits import MAX_REPORT_BYTES, check_file_size, require_file
from prunelimit.remedies import exact_unfit, report_facts, rounding_remedy, with_exact
from prunelimit.report.rounding import (
    AT_LEAST, AT_MOST, MOST_DECIMALS, apart, change_text, decimals, half_width_text,
)
from prunelimit.report.safe import clipped
from prunelimit.validate import boolean, choice, not_a_number, real

Use = Literal["lower", "predicted", "actual"]
USES = ("lower", "predicted", "actual")
# each value as the fix line and every other output names it (the verdict read "lower ratio")
QUANTITY = {"lower": "ρ_L", "predicted": "ρ*", "actual": "actual limit"}
_FIELDS = {"lower": ("bounds", "lower"), "predicted": ("prediction", "ratio"), "actual": ("actual", "loss_ratio")}
RULE_KEYS = {"name", "min_ratio", "baseline", "max_drop", "use", "fail_on_overshoot"}
# A value at its threshold passes. The subtractions behind a threshold round (0.8 − 0.1 is
# 0.7000000000000001, 0.3 − 0.1 is 0.19999999999999998): a gap below this is that rounding,
# far below any ratio a report resolves (4 decimals printed, 0.001 for a measured limit).
_ROUNDING = 1e-9
# Two runs of one model on one data set state its ratios apart by their float rounding: another
# --threads count, CPU or BLAS sums the float32 losses behind ε in another order (ε moved by
# 5e-7 of itself, the bundled example's exact ρ* by 6e-9, between two runners). float32 resolves
# 1.2e-7 of a loss, and ε, a spread of losses, less (by L/ε): no report resolves a ratio past
# its sixth decimal (``MOST_DECIMALS``), so a gate holds values within it as equal.
RESOLVED = 10.0 ** -MOST_DECIMALS


def reaches(value: float, threshold: float, allowance: float = _ROUNDING) -> bool:
    """``value >= threshold``, up to the rounding of the subtractions that made them (a
    value at its threshold passes: a gate's ratios, prune's accuracy drop against --acc-drop),
    or up to ``allowance``, a larger rounding the two carry (:func:`rounding_allowance`)."""
    return value >= threshold - max(allowance, _ROUNDING)


def rounding_allowance(*documents: Any) -> float:
    """How far runs of one model may state a ratio of ``documents`` (the reports a rule
    compares) apart on rounding alone: ``RESOLVED``, plus each one's stated rounding part
    (``prediction.uncertainty.rounding``: how far eigenvalues under its products' rounding
    can move ρ*, up to whole points on a model fitted to zero loss), which another runner's
    rounding can move either way. Neither is a drop: a gate judges past them."""
    return RESOLVED + sum(_stated_rounding(document) for document in documents)


def _stated_rounding(document: Any) -> float:
    """A report's stated rounding part of ρ*'s ±, 0 where it states none (below a tenth of a
    point, an older report, or one read as anything else: ``Uncertainty.from_json``)."""
    from prunelimit.theory.uncertainty import Uncertainty

    prediction = document.get("prediction") if isinstance(document, dict) else None
    stated = prediction.get("uncertainty") if isinstance(prediction, dict) else None
    u = Uncertainty.from_json(stated) if isinstance(stated, dict) else None
    return 0.0 if u is None or u.rounding is None else u.rounding


@dataclass(frozen=True)
class GateRule:
    """One rule: ``min_ratio`` alone, or ``baseline`` (a file name or path) with ``max_drop``
    (both removed fractions)."""

    name: str
    use: Use = "lower"
    min_ratio: float | None = None
    baseline: str | None = None
    max_drop: float | None = None
    # fail where the overshoot check measured the prediction the rule reads past the limit one-shot
    # pruning reaches: a CI job then cannot pass on a number the model does not reach
    fail_on_overshoot: bool = False
    # whether the rule's own key set fail_on_overshoot (a policy rule's), which the option does not override
    own_overshoot_key: bool = field(default=False, compare=False)
    # the YAML file its min_ratio/max_drop are written in (a policy's rule, or a --config key):
    # a failed rule's fix names the key there, which its reader edits, not a flag
    written_in: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse a rule that cannot be evaluated (``UsageError`` naming the rule and the field:
        the command line says its flag). The baseline file is read by ``check_rules``."""
        where = f"gate rule {self.name!r}"
        if not isinstance(self.name, str):
            raise UsageError(f"gate rule {self.name!r}: name must be text, got a {type(self.name).__name__}")
        # a rule a YAML file wrote is told its values as the file writes them (``use: null``, not None)
        shown = quoted if self.written_in is None else yaml_quoted
        if self.use not in USES:
            raise UsageError.naming(f"{where}: {{0}} must be lower, predicted or actual, got {shown(self.use)}", "use")
        # a half-given pair first: "give either" would tell who passed --max-drop alone to pass it
        if self.baseline is None and self.max_drop is not None:
            raise UsageError.naming(f"{where}: {{0}} needs {option('baseline', 'report.json', '{1}', 'REPORT.json')}",
                                    "max_drop", "baseline")
        if (self.min_ratio is None) == (self.baseline is None):
            raise UsageError.naming(f"{where}: give either {{0}} or {{1}} + {{2}}", "min_ratio", "baseline",
                                    "max_drop")
        if self.baseline is not None and self.max_drop is None:
            raise UsageError.naming(f"{where}: {{0}} needs {{1}} D (a ratio, e.g. 0.02)", "baseline", "max_drop")
        for label, check in (("baseline", file_name), ("min_ratio", ratio_value), ("max_drop", ratio_value)):
            try:
                object.__setattr__(self, label, check(label, getattr(self, label), shown))
            except OptionError as exc:
                raise UsageError.naming(f"{where}: {exc.template}", label) from None
        if not isinstance(self.fail_on_overshoot, bool):
            raise UsageError.naming(f"{where}: {{0}} must be true or false, got {shown(self.fail_on_overshoot)}",
                                    "fail_on_overshoot")
        if self.fail_on_overshoot and self.use == "actual":  # the measured limit is what an overshoot is measured by
            raise UsageError.naming(f"{where}: {{0}} has no effect on a rule on the measured limit (use actual), "
                                    "which does not overshoot; drop it, or gate on lower or predicted",
                                    "fail_on_overshoot")


def file_name(option: str, value: Any, shown: Callable[[object], str] = quoted) -> str | None:
    """``value`` as the file name it gives (a ``pathlib.Path`` from Python too), ``None`` for
    ``None``; an ``OptionError`` naming ``option`` for anything else, an empty name included
    (it would read the current folder); ``shown`` quotes the value refused (``yaml_quoted`` for a file's key)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if value is not None and not (isinstance(value, str) and value):
        raise OptionError(option, f"{{0}} must be a file name, got {shown(value)}")
    return value


def ratio_value(option: str, value: Any, shown: Callable[[object], str] = quoted) -> float | None:
    """``value`` as a float when it is a real number in [0, 1] (a NumPy scalar or a Fraction
    too), ``None`` for ``None``; an ``OptionError`` naming ``option`` otherwise (a bool is no
    number, though Python's ``True == 1``); ``shown`` quotes the value refused, as ``file_name``'s."""
    if value is None:
        return None
    if not real(value) or not 0.0 <= value <= 1.0:  # also false for NaN
        from prunelimit.validate import number_fix

        # a percentage (80 for 80 %) is the likely slip: the fraction it means, which the rule reads
        # (text: a policy's "80%" or "0,8", which YAML reads as strings, as every numeric option says it)
        percent = f"; a ratio is a fraction: write {value / 100:g} for {value:g} %" \
            if real(value) and 1 < value <= 100 else number_fix(value, fraction="ratios")
        raise OptionError(option, f"{{0}} must be a ratio in [0, 1], got {shown(value)}{not_a_number(value)}{percent}")
    return float(value)


@dataclass(frozen=True)
class RuleOutcome:
    rule: GateRule
    passed: bool
    measured: float
    threshold: float
    baseline: float | None
    reason: str
    # what was held against the threshold: the measured value less its stated ± for a
    # min_ratio rule on a prediction (None when the ± is incomplete), else the measured value
    compared: float | None = None
    fix: str | None = None  # what a failed rule's reader can do about it (None when it passed)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    outcomes: tuple[RuleOutcome, ...]

    @property
    def reason(self) -> str:
        """Each failed rule by its name and why (``name: reason``, as the console's FAIL line):
        two rules on one value read alike without their names."""
        failed = [f"{o.rule.name}: {o.reason}" for o in self.outcomes if not o.passed]
        return "; ".join(failed) if failed else "all rules passed"


def measured_value(report: dict[str, Any], use: Use, source: str = "report") -> float:
    """ρ_L, ρ* or the measured limit from a ``bounds``/``verify`` JSON document: a ratio in
    [0, 1], else an input error (a baseline of ``-Infinity`` or NaN would make every
    comparison pass or fail silently)."""
    section, key = _FIELDS[use]
    field = f"{section}.{key}"
    try:
        value = report[section][key]
    except (KeyError, TypeError, IndexError):
        command = "verify" if use == "actual" else "bounds"
        hint = f": store it with {stored_with(f'`prunelimit {command} --json`', command)}"
        raise InputError(f"{source} is not a prunelimit {'verify' if use == 'actual' else 'bounds/verify'} "
                         f"report (no {use} ratio){hint}") from None
    if value is None and use == "lower" and isinstance(report.get("bounds"), dict) \
            and report["bounds"].get("mode") == "none":  # whole, not damaged: no ρ_L was asked for
        none = said("--bound-mode none", "bound_mode='none'")
        instead = said("gate --use predicted, prune --ratio auto", "gate's use='predicted', prune's ratio='auto'")
        raise UsageError(f"{source} was computed with {none}, which computes no ρ_L ({field}): read ρ* instead "
                         f"({instead}), or {said('store the report', 'compute it')} again without {none}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{source}: the {use} ratio ({field}) is missing or not a number")
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise InputError(f"{source}: the {use} ratio ({field}) is {clipped(value)}, not a ratio in [0, 1]")
    return float(value)


def recorded_warnings(report: Any, source: str | None = None) -> tuple[str, ...]:
    """The warnings a saved ``bounds``/``verify`` document states (none when it has no list),
    in the words ``bounds`` gives them (``api.limit.as_predicted``): what qualifies its
    prediction goes on with the number read from it. Read from ``source`` (``--from``), a
    remedy that names a flag refused beside ``--from`` (``a larger --max-hvps``,
    ``--hessian-samples all``, ``raise --time-budget``, ``a larger --epsilon``, ``--method slq``,
    ``use --iterations 256``, ``prefer --method default``, ``run --method exact``)
    is said to belong to the run that stores it, as a gate rule's fix is (``_read_fix``), and a
    note about that run's own flags (``--per-layer``'s blocks outside ``--max-hvps``) is said as
    that run's (``_read_warning``)."""
    from prunelimit.api.limit import as_predicted

    warnings = report.get("warnings") if isinstance(report, dict) else None
    told = as_predicted(str(w) for w in warnings) if isinstance(warnings, list) else []
    return tuple(told if not isinstance(source, str) else (_read_warning(w, source) for w in told))


def _read_warning(warning: str, source: str) -> str:
    """A saved ``warning`` as a run that read its prediction from ``source`` states it: a
    remedy naming a flag refused beside ``--from`` is the storing run's (``_read_fix``), and
    a note on how the storing run's flags were used is said as that run's."""
    from prunelimit.api.curvature import EXACT_SUBSET_REMEDY, ROUNDING_NOTE, UNUSED_BY_EXACT
    from prunelimit.api.layers import BLOCKS_OUTSIDE
    from prunelimit.api.limit import BEYOND_VALIDATED, STEPS_MOVED
    from prunelimit.api.spectrum_notes import OVER_BUDGET_NOTE, SUBSAMPLE_NOTE, TOLERANCE_MISSED
    from prunelimit.theory.consistency import ARITHMETIC_MOVED, METHODS_CITED, OUTSIDE_BOUNDS
    from prunelimit.theory.epsilon import ROUNDED_EPSILON

    # a verify --from report holds it told already (the first report's run is the one to change)
    if " when storing " in warning or warning.startswith("when storing "):
        return warning
    if warning.startswith((SUBSAMPLE_NOTE, OVER_BUDGET_NOTE, ROUNDING_NOTE)) or any(
            marker in warning for marker in (TOLERANCE_MISSED, ROUNDED_EPSILON, STEPS_MOVED, BEYOND_VALIDATED,
                                             ARITHMETIC_MOVED)):  # the remedy ends the warning
        return _read_fix(warning, source)
    if UNUSED_BY_EXACT in warning and warning.endswith(", takes a subset)"):
        # "(SLQ, e.g. --method slq, takes a subset)": its flag, the remedy, is the storing run's
        head, _, flag = warning[:-len(", takes a subset)")].rpartition(EXACT_SUBSET_REMEDY)
        return f"{head}(SLQ takes a subset: {_read_fix(flag, source)})" if head else warning
    head, _, rest = warning.partition(OUTSIDE_BOUNDS)
    if rest and METHODS_CITED in rest:  # "use --method default (docs/methods.md), or the bound ρ_L": its flag
        flag, _, tail = rest.partition(METHODS_CITED)
        return f"{head}{OUTSIDE_BOUNDS}{_read_fix(flag, source)}{METHODS_CITED}{tail}"
    if BLOCKS_OUTSIDE in warning:  # what the storing run's blocks cost beside its budgets: that run's
        return f"when storing {source}, {warning}"
    return warning


def margin(report: dict[str, Any], source: str | None = None) -> tuple[float | None, str, str]:
    """The stated ± of ρ* in a ``bounds``/``verify`` document (0 for an exact spectrum) that
    a ``min_ratio`` rule subtracts, or ``None``, why and the fix when the ± is incomplete:
    no conservative side is then known. It applies to ρ_L as well: both are solved from the
    same estimated F. Incomplete: no ± stated; a truncation part it could not
    measure; a Hessian over a subset of the samples (the ± holds the scatter between
    subsets, not the shift a subset gives ρ*); the paper arithmetic's grid ρ* when its
    reference density aliases onto the grid or lies further from the continuous ρ* than ±.
    ``source``: the file the report was read from (``--from``), which the fix for a missing ±
    stores again (bounds states one today)."""
    from prunelimit.api.limit import ALIASING_TOLERANCE

    prediction = report.get("prediction") if isinstance(report, dict) else None
    prediction = prediction if isinstance(prediction, dict) else {}
    u = prediction.get("uncertainty")
    value = u.get("plus_minus") if isinstance(u, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < float("inf"):
        return None, "the report states none", _computed_again(source)
    if u.get("steps_kind") == "none":
        # no run states it so (every run bounds its steps part by its Gauss rules): only a saved
        # report does, which no option of this run changes ("give more --iterations" was told)
        return None, "the Lanczos truncation part is unknown", _computed_again(source)
    spectrum = report.get("spectrum") if isinstance(report, dict) else None
    spectrum = spectrum if isinstance(spectrum, dict) else {}
    samples = spectrum.get("hessian_samples") if isinstance(spectrum.get("hessian_samples"), dict) else {}
    used, total = samples.get("used"), samples.get("total")
    if isinstance(used, int) and isinstance(total, int) and used < total:
        return None, (f"the curvature is over {used:,} of {total:,} samples; the ± leaves out the shift such a "
                      "subset gives ρ*"), f"pass {option('hessian_samples', 'all')}"
    density = prediction.get("reference_density")
    if isinstance(density, dict):
        moved = density.get("weight_moved")
        aliased = density.get("aliased") is True and isinstance(moved, (int, float)) and moved > ALIASING_TOLERANCE
        grid, continuous = prediction.get("ratio"), prediction.get("continuous_ratio")
        off_grid = isinstance(grid, (int, float)) and isinstance(continuous, (int, float)) \
            and abs(grid - continuous) > _apart_from_rounding(u, value)
        if aliased or off_grid:
            why = "its reference density aliases onto the grid" if aliased else \
                f"the grid ρ* lies {abs(grid - continuous):.4f} from the continuous ρ*"
            slq_or_exact = "slq" if exact_unfit(report_facts(report)[0]) else "slq or exact"
            return None, f"the paper arithmetic's grid error is left out: {why}", \
                said(f"use {option('method', 'slq', shown=slq_or_exact)}",
                     "use " + " or ".join(f"method={m!r}" for m in slq_or_exact.split(" or ")))
    return float(value), "", ""


def _computed_again(source: str | None) -> str:
    """The fix for a ± a report does not state whole: ``bounds`` computes it again today
    (``source``: the file the report was read from, stored again)."""
    return f"compute it with {said('`prunelimit bounds`', 'prunelimit.bounds')}" if source is None else \
        f"store the report again with {stored_with('`prunelimit bounds --json`')}"


def _apart_from_rounding(stated: dict[str, Any], value: float) -> float:
    """The stated ± ``value`` less its products' rounding part, which moves the grid and the
    continuous ρ* alike (``theory.consistency``): ``value`` itself where there is none, or
    where the parts do not give it (``Uncertainty.from_json``)."""
    from prunelimit.theory.uncertainty import Uncertainty

    u = Uncertainty.from_json(stated)
    return value if u is None or u.rounding is None else u.plus_minus_apart_from_rounding


def check_stated_plus_minus(path: str, prediction: Any) -> None:
    """Refuse (``InputError``, exit 3) a ``prediction.uncertainty`` that is no object or whose
    ``plus_minus`` is neither null nor a finite number ≥ 0 (``path``: the file as errors name
    it): such a ± was read as none stated, a prediction's rule failed and a baseline's drop
    was judged for a reason the file did not give. Null or absent (an older report) stays
    "none stated"."""
    stated = prediction.get("uncertainty") if isinstance(prediction, dict) else None
    if stated is None:
        return
    value = stated.get("plus_minus") if isinstance(stated, dict) else stated
    field = "prediction.uncertainty" + (".plus_minus" if isinstance(stated, dict) else "")
    if not isinstance(stated, dict) or (value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"))):
        raise InputError(f"{path}: {field} is {clipped(json.dumps(value))}, not "
                         f"{'a ± (a number ≥ 0) or null' if isinstance(stated, dict) else 'an object'}: the file was "
                         f"edited or damaged; store it again with {stored_with('`prunelimit bounds --json`')}")


def _read_fix(fix: str, source: Any) -> str:
    """``fix`` (a run's flag) for a prediction read from ``source`` (``--from``), where that
    flag is refused: it belongs to the run that stores the report."""
    if not isinstance(source, str) or not fix or "prunelimit bounds" in fix:
        return fix
    return f"{fix} when storing {source}, or drop {option('prediction_from', flag='--from')}"


def read_report(path: str | Path, what: str = "baseline report") -> dict[str, Any]:
    """A saved ``bounds``/``verify`` JSON document (``what`` names it in errors: exit 3)."""
    path = Path(path)
    if str(path) == "-" and not path.exists():  # as outputs are never standard output
        raise InputError(f"{what} -: reports are read from files, not standard input; save it first "
                         f"({stored_with('`prunelimit bounds --json > b.json`')}) and name that file")
    require_file(path, what)
    check_file_size(path, MAX_REPORT_BYTES, what)
    try:
        raw = path.read_bytes()
        if raw.startswith(_GZIP_MAGIC):  # a CI artifact kept compressed: said, not "not valid JSON"
            raise InputError(f"{what} {path} is gzip-compressed; decompress it first (`gunzip -k {path}`) and name "
                             "the .json file")
        # -sig: a BOM (Windows editors) is no JSON error; UTF-16 with its BOM: Windows PowerShell 5's `>`
        text = raw.decode("utf-16" if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig")
        return json.loads(text)
    except json.JSONDecodeError as exc:  # said apart: a file written half-way is written again, not edited
        raise InputError(f"{what} {path} {_unfinished(text, exc)}; write it with {stored_with('`prunelimit bounds --json`')}") from None
    except (ValueError, RecursionError):  # bad UTF-8, an integer of > 4300 digits, nested 1000s deep
        raise InputError(f"{what} {path} is not valid JSON; write it with {stored_with('`prunelimit bounds --json`')}") from None
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read ({exc.strerror})") from None


_GZIP_MAGIC = b"\x1f\x8b"


def _unfinished(text: str, error: json.JSONDecodeError) -> str:
    """What is wrong with a report's JSON: empty (the command writing it failed, or the shell
    emptied it to take that command's output: `gate ... --baseline b.json --json > b.json`),
    cut off where the text ends (a write stopped half-way), or not JSON."""
    if not text.strip():
        return "is empty (did the command writing it fail, or write its output onto the file it read?)"
    if error.pos >= len(text.rstrip()):
        return "is not valid JSON: it ends before its JSON does (written half-way?)"
    return "is not valid JSON"


# The documents a baseline can be: ``bounds``/``verify --json`` of this schema version (keys
# are renamed only with a bump, so another version's fields may mean something else).
REPORT_SCHEMAS = ("prunelimit.bounds/1", "prunelimit.verify/1")
GATE_SCHEMA = "prunelimit.gate/1"


def read_baseline(path: str | Path) -> Any:
    """The ``bounds``/``verify`` document a baseline file holds (``stood_on``)."""
    return stood_on(read_report(path))


def stood_on(report: Any) -> Any:
    """The ``bounds``/``verify`` document of a saved report: the report itself, or, for a
    ``gate --json`` report (what a CI job keeps of its last run), the one its ``bounds`` key
    holds, the result the gate stood on, with its provenance and its warnings in the words
    of the command that computed it (``api.gating.as_computed``)."""
    from prunelimit.api.gating import as_computed

    inner = report.get("bounds") if is_gate_report(report) else None
    return as_computed(inner, report.get("rules")) if isinstance(inner, dict) and inner.get("schema") in REPORT_SCHEMAS \
        else report


def is_gate_report(report: Any) -> bool:
    """Whether ``report`` is a ``gate --json`` document."""
    return isinstance(report, dict) and report.get("schema") == GATE_SCHEMA


def baseline_value(path: str, use: Use) -> float:
    """The value ``use`` reads from the baseline report at ``path`` (``read_baseline``):
    ``InputError`` (exit 3) when unreadable, another document (``spectrum``, ``prune``, a
    newer schema), or without the value. A report that names no schema (hand-written,
    older) is read as it stands."""
    return document_value(read_baseline(path), path, use)


def document_value(report: Any, path: str, use: Use) -> float:
    """:func:`baseline_value` of a baseline document read already (from ``path``)."""
    schema = report.get("schema") if isinstance(report, dict) else None
    command = "verify" if use == "actual" else "bounds"
    store = said(f"store it with this prunelimit's `{command} --json`",
                 f"store it with this prunelimit: {saved_from_python(command)}")
    if is_gate_report(report):  # ``stood_on`` found no bounds/verify document in it: not "a gate document, not one"
        inner = report.get("bounds")
        held = "missing" if inner is None else "not an object" if not isinstance(inner, dict) else \
            "without its schema" if "schema" not in inner else f"a {str(inner['schema'])[:80]!r} document"
        raise InputError(f"baseline {path} is a {GATE_SCHEMA} report whose bounds, the result it stood on, is {held}, "
                         f"not one of {', '.join(REPORT_SCHEMAS)}; {store}")
    if schema is not None and schema not in REPORT_SCHEMAS:
        raise InputError(f"baseline {path} is a {str(schema)[:80]!r} document, not one of {', '.join(REPORT_SCHEMAS)} "
                         f"or a {GATE_SCHEMA} report of one; {store}")
    # a gate report of rules on actual alone: said so, not "not a report (no predicted ratio)"
    if use != "actual" and isinstance(report, dict) and isinstance(report.get("actual"), dict) \
            and not isinstance(report.get(_FIELDS[use][0]), dict):
        raise InputError(f"baseline {path} holds the measured limit alone (a gate report whose rules all use actual): "
                         f"no {use} ratio to compare; compare it on {said('use actual', 'use=' + repr('actual'))}, or "
                         f"store the baseline with {stored_with('`prunelimit bounds --json`')}")
    check_stated_plus_minus(f"baseline {path}", report.get("prediction") if isinstance(report, dict) else None)
    if isinstance(report, dict):  # as --from's report is: a ρ_L edited above ρ* was gated on as a drop
        check_bounds_hold_prediction(f"baseline {path}", report)
    return measured_value(report, use, f"baseline {path}")


def needs_spectrum(rules: Iterable[GateRule]) -> bool:
    """Whether any rule reads a predicted value (ρ_L, ρ*): rules that all use the measured
    limit need no spectrum, only ε."""
    return any(rule.use != "actual" for rule in rules)


def reads_baseline(rules: Iterable[GateRule]) -> bool:
    """Whether any rule compares against a baseline (what ``allow_incompatible`` applies to)."""
    return any(rule.baseline is not None for rule in rules)


def baseline_reports(rules: Sequence[GateRule]) -> list[tuple[str, dict[str, Any]]]:
    """Each baseline file the rules name, once, with its JSON document."""
    paths = dict.fromkeys(rule.baseline for rule in rules if rule.baseline is not None)
    return [(path, read_baseline(path)) for path in paths]


def rules_from_options(
    min_ratio: float | None, use: Use, baseline: str | None, max_drop: float | None,
    policy: Sequence[dict[str, Any]] | None = None, config: str | None = None,
    config_options: Collection[str] = (), fail_on_overshoot: bool = False,
) -> list[GateRule]:
    """Rules from the command-line flags plus a YAML policy's ``rules:`` list.

    ``fail_on_overshoot`` is the default of every rule that reads a prediction (``lower``,
    ``predicted``); a policy rule's own key overrides it. Given where no rule reads one, it
    is refused: it would change nothing.

    ``config``: the YAML file the policy was read from, and ``config_options`` those of
    ``min_ratio`` and ``max_drop`` it set rather than a flag: their rules are ``written_in`` it.

    ``use`` is an option (an ``OptionError`` naming it); a policy rule's own ``use`` key is
    checked with the rest of that rule (a ``UsageError`` naming the rule and its keys as
    written; a rule from the flags names them as options, which the command line names
    as flags)."""
    choice("use", use, USES)
    boolean("fail_on_overshoot", fail_on_overshoot)
    # before they name a rule: 'lower ratio >= True' would be refused under that odd name
    min_ratio, max_drop = ratio_value("min_ratio", min_ratio), ratio_value("max_drop", max_drop)
    baseline = file_name("baseline", baseline)
    rules: list[GateRule] = []
    if min_ratio is not None:
        rules.append(GateRule(f"{use} ratio >= {min_ratio}", use, min_ratio=min_ratio,
                              fail_on_overshoot=fail_on_overshoot and use != "actual",
                              written_in=config if "min_ratio" in config_options else None))
    if baseline is not None or max_drop is not None:
        name = f"drop vs {baseline} <= {max_drop}" if baseline is not None and max_drop is not None else "baseline rule"
        rules.append(GateRule(name, use, baseline=baseline, max_drop=max_drop,
                              fail_on_overshoot=fail_on_overshoot and use != "actual",
                              written_in=config if "max_drop" in config_options else None))
    in_file = "" if config is None else f" in {config}"  # a policy's rule is fixed in its file: named with it
    for i, entry in enumerate(policy or ()):
        if not isinstance(entry, dict):
            raise UsageError(f"gate rule {i + 1}{in_file}: expected a mapping with keys {sorted(RULE_KEYS)}")
        unknown = [key for key in entry if key not in RULE_KEYS]
        if unknown:
            raise UsageError(f"gate rule {i + 1}{in_file}: unknown key {quoted(unknown[0])}; "
                             + unknown_name(str(unknown[0]), RULE_KEYS, f"a rule's keys are {', '.join(sorted(RULE_KEYS))}"))
        name = _rule_name(entry.get("name"), i, in_file)
        rule_use = entry.get("use", use)
        try:
            rules.append(GateRule(
                name=name, use=rule_use,
                min_ratio=entry.get("min_ratio"), baseline=entry.get("baseline"), max_drop=entry.get("max_drop"),
                fail_on_overshoot=entry.get("fail_on_overshoot", fail_on_overshoot and rule_use != "actual"),
                own_overshoot_key="fail_on_overshoot" in entry, written_in=config,
            ))
        except UsageError as exc:  # a policy's keys are named as written in it, not as flags, and the file too
            raise UsageError(str(exc).replace(f"gate rule {name!r}", f"gate rule {name!r}{in_file}", 1)) from None
        if any(rule.name == name for rule in rules[:-1]):  # one JUnit case, one FAIL line a name: two would read as one
            raise UsageError(f"gate rule {i + 1}{in_file}: the name {name!r} is another rule's too; give each rule "
                             "its own name (it names the rule's line, its JUnit case and its part of the reason)")
    if fail_on_overshoot and not any(rule.fail_on_overshoot for rule in rules):
        # named where it was set: a --config file's key, not a flag its job never typed
        given = said(option_flag('fail_on_overshoot'), 'fail_on_overshoot')
        # rules on a prediction that their own key keeps from it: "every rule uses the measured limit" was said of them
        kept = [repr(rule.name) for rule in rules if rule.use != "actual"]
        if kept:
            several = len(kept) > 1
            measured = ", and every other rule uses the measured limit, which does not overshoot" \
                if len(kept) < len(rules) else ""
            key = said("fail_on_overshoot: false", "'fail_on_overshoot': False")
            raise UsageError(f"{given} has no effect: {'rules' if several else 'rule'} {' and '.join(kept)}{in_file} "
                             f"{'set their' if several else 'sets its'} own {key}, which overrides it{measured}; "
                             f"drop it, or {'those keys' if several else 'that key'}")
        raise UsageError(f"{given} has no effect: every rule "
                         f"uses the measured limit ({option('use', 'actual')}), which does not overshoot; drop it, "
                         "or gate on lower or predicted")
    return check_rules(rules)


def check_rules(rules: Sequence[GateRule]) -> list[GateRule]:
    """The rules a gate evaluates, checked before any curvature work: at least one, each a
    ``GateRule`` (which checks its values), each baseline a readable report of the value the
    rule uses (``InputError``, exit 3, otherwise)."""
    rules = list(rules)
    if not rules:
        raise UsageError.naming(f"the gate has no rule: pass {option('min_ratio', 0.9, '{0}', 'X')} and/or "
                                f"{option('baseline', 'report.json', '{1}', 'REPORT.json')} "
                                f"{option('max_drop', 0.01, '{2}', 'D')}", "min_ratio", "baseline", "max_drop")
    for rule in rules:
        if not isinstance(rule, GateRule):
            raise UsageError(f"gate rules must be GateRule objects, got a {type(rule).__name__}")
        if rule.baseline is not None:  # a missing, broken or unfit baseline fails before the curvature work
            baseline_value(rule.baseline, rule.use)
    return rules


_NAME_MAX = 200


def _rule_name(name: Any, index: int, in_file: str = "") -> str:
    """A policy rule's name: short printable text (it becomes a JUnit test name and a console line);
    ``in_file``: `` in FILE``, the policy file that errors name."""
    if name is None or name == "":
        return f"rule {index + 1}"
    if isinstance(name, bool) and in_file:
        # YAML 1.1 reads an unquoted yes/no/on/off/true/false as a boolean, not the word the file holds
        raise UsageError(f"gate rule {index + 1}{in_file}: name must be text, got the boolean {yaml_quoted(name)}; "
                         "YAML reads an unquoted yes, no, on, off, true or false as one: quote the name "
                         "(name: \"off\")")
    if isinstance(name, bool) or not isinstance(name, (str, int, float)):
        raise UsageError(f"gate rule {index + 1}{in_file}: name must be text, got a {type(name).__name__}")
    text = str(name)
    if len(text) > _NAME_MAX or not text.isprintable():
        raise UsageError(f"gate rule {index + 1}{in_file}: name must be printable text of at most {_NAME_MAX} "
                         "characters (no control characters or line breaks)")
    return text


def evaluate_gate(report: dict[str, Any], rules: Sequence[GateRule],
                  baselines: Sequence[tuple[str, Any]] = ()) -> GateResult:
    """Apply every rule to a ``bounds`` report. ``baselines``: the documents read already
    (``baseline_reports``), so that the baseline compared is the one checked for
    compatibility even if its file is rewritten meanwhile; others are read here."""
    documents = dict(baselines)
    outcomes = []
    for rule in rules:
        # the file a read prediction (or measured limit) came from names it in errors
        source = report.get("prediction_from") or report.get("actual_from")
        measured = measured_value(report, rule.use, source if isinstance(source, str) else "the bounds result")
        crossed = _crossed(report, rule.use)  # a measured limit no measured ratio failed is at least the one shown
        if rule.min_ratio is not None:
            # The conservative side: a spectrum estimate passes only when the whole of its
            # stated ± lies above the requirement (an exact spectrum has ± 0).
            # An incomplete ± fails the rule: nothing shows that the conservative side clears it.
            pm, missing, fix = margin(report, source if isinstance(source, str) else None) \
                if rule.use != "actual" else (0.0, "", "")
            fix = _read_fix(fix, source)
            required = rule.min_ratio + 0.0  # a YAML -0.0 is printed as 0
            # no ratio lies below 0: a ± wider than the value leaves 0 as its conservative side,
            # and a requirement of 0 holds whatever the ±, complete or not
            conservative = None if pm is None else max(0.0, measured - pm)
            # the conservative side holds the stated rounding part already: only the float resolution remains
            ok = reaches(0.0, required) or (conservative is not None and reaches(conservative, required, RESOLVED))
            if pm is None:
                places = _typed_places(required)
                reason = (f"{QUANTITY[rule.use]} {measured:.{places}f} has no complete stated ± ({missing}), so it "
                          f"cannot be shown to clear {required:.{places}f}: {fix}") if not ok else \
                    (f"{QUANTITY[rule.use]} {measured:.{places}f} >= required {required:.{places}f}, as every ratio "
                     f"is (its stated ± is incomplete: {missing})")
            else:
                reason = f"{QUANTITY[rule.use]} {AT_LEAST[crossed]}" \
                         f"{_conservative_text(measured, pm, conservative, required, ok, rule.use)}"
                fix = _narrow_fix(pm, source, report) if reaches(measured, required, RESOLVED) else \
                    _below_fix(rule, conservative, required, report)
                if not reaches(measured, required, RESOLVED) and reaches(measured + pm, required, RESOLVED):
                    # the requirement lies within the ±: the value may clear it, which only a narrower ±
                    # shows (ρ* 0.8963 ± 0.9363 of a --time-budget 3 run offered --min-ratio 0 or l1 training alone)
                    fix = f"{_narrow_fix(pm, source, report)}; or {fix}"
                fix = _overshot_fix(rule, conservative, required, report) or fix
            ok, reason, fix = _failed_on_overshoot(rule, report, ok, reason, None if ok else fix)
            outcomes.append(RuleOutcome(rule, ok, measured, required, None, reason, conservative, fix))
        else:
            stored = documents[rule.baseline] if rule.baseline in documents else read_baseline(rule.baseline)
            base = document_value(stored, rule.baseline, rule.use)
            threshold = base - rule.max_drop
            # another runner's rounding is no drop: the float resolution, and both predictions' rounding parts
            allowance = rounding_allowance(*(() if rule.use == "actual" else (report, stored)))
            ok = reaches(measured, threshold, allowance)
            # a fail shows the drop apart from max_drop, and the two values apart: a drop between two
            # values printed equal ("0.91834122 vs baseline 0.91834122: drop +0.00000001") shows nothing
            least = _typed_places(rule.max_drop)
            places = least if ok else apart(apart(least, base - measured, rule.max_drop), measured, base)
            base_crossed = _crossed(documents.get(rule.baseline), rule.use)
            # the drop is a bound where one side alone is: at most with the limit at least, at least with the
            # baseline's (both at least: the same last grid point, unmarked)
            drop = AT_MOST[crossed] if base_crossed else "≥ " if crossed else ""
            reason = (f"{QUANTITY[rule.use]} {AT_LEAST[crossed]}{measured:.{places}f} vs baseline "
                      f"{AT_LEAST[base_crossed]}{base:.{places}f}: drop {drop}{change_text(base - measured, places)} "
                      f"{'within' if ok else 'exceeds'} {rule.max_drop:.{places}f}{_rounding_text(allowance, places)}"
                      f"{_precision_text(report, stored)}")
            ok, reason, fix = _failed_on_overshoot(rule, report, ok, reason, None if ok else _drop_fix(rule, stored))
            outcomes.append(RuleOutcome(rule, ok, measured, threshold, base, reason, measured, fix))
    return GateResult(all(o.passed for o in outcomes), tuple(outcomes))


def _rounding_text(allowance: float, places: int) -> str:
    """What a drop rule allows besides ``max_drop`` where it shows at ``places`` decimals
    (stated rounding parts): a drop of 0.0015 read "within 0.0000", which it is not. The
    float resolution alone (``RESOLVED``) never shows there, and is not named."""
    if allowance <= RESOLVED or round(allowance, places) == 0:
        return ""
    return f" + {allowance:.{places}f} (the two reports' stated rounding parts, which another runner's rounding moves)"


def _precision_text(report: Any, stored: Any) -> str:
    """Where ``report`` and the baseline ``stored`` were computed at another float precision
    (another device type, TF32 or reduced-precision switches: their ``precision`` entries), the
    drop line says so: such runs round otherwise, and a TF32 GPU run beside a CPU baseline
    could not be told from a change of the model. Nothing where either records none."""
    from prunelimit.baseline import precision_difference

    def recorded(doc: Any) -> Any:
        return doc.get("precision") if isinstance(doc, dict) else None

    differing = precision_difference(recorded(report), recorded(stored))
    return f" (at another float precision than the baseline: {differing})" if differing else ""


def _typed_places(threshold: float, least: int = 4) -> int:
    """Decimals that show a rule's ``threshold`` as it was given (0.91223 → 5; at least
    ``least``): shown to 4, ``--min-ratio 0.91223`` read "required 0.9122", and a value the
    rounding allowance passes read as short of it ("0.9998 >= required 0.9999" for
    ``--min-ratio 0.99985``). A threshold of more than 8 decimals was computed, not typed
    (a value pasted at full precision): shown to ``least``."""
    given = len(f"{threshold:.10f}".rstrip("0").partition(".")[2])
    return max(least, given) if given <= 8 else least


def _crossed(report: Any, use: Use) -> bool:
    """Whether ``report``'s value for ``use`` is measured where a ratio failed, as every
    prediction is: ``False`` only for a measured limit whose ``actual.loss_crossed`` is false,
    the last grid point with no failure found (verify's ``≥``)."""
    actual = report.get("actual") if isinstance(report, dict) else None
    return not (use == "actual" and isinstance(actual, dict) and actual.get("loss_crossed") is False)


def _narrow_fix(pm: float, source: Any, report: dict[str, Any]) -> str:
    """A value that clears the requirement while its conservative side does not: only a
    narrower ± shows it (for a prediction read from ``source``, in the run that stores it).
    Where ``report``'s ± is mostly its products' rounding part, which no tolerance narrows:
    float64 products where they were float32, or a larger ε."""
    prediction = report.get("prediction") if isinstance(report.get("prediction"), dict) else {}
    u = prediction.get("uncertainty")
    rounding = u.get("rounding") if isinstance(u, dict) else None
    stated = f"its stated ± {half_width_text(pm, least=4)}"
    dim, float64, precision = report_facts(report)
    if isinstance(rounding, (int, float)) and not isinstance(rounding, bool) and rounding >= pm / 2:
        how = rounding_remedy(dim, float64, precision)
        return _read_fix(f"{stated} is mostly its products' rounding part ({half_width_text(rounding, least=4)}), "
                         f"which no tolerance narrows, and leaves the conservative side short: narrow it ({how})",
                         source)
    return _read_fix(f"{stated} leaves the conservative side short: narrow it ({_narrower(report)}"
                     f"{with_exact(dim)})", source)


def _narrower(report: dict[str, Any]) -> str:
    """What narrows ``report``'s ± where its rounding part does not hold it: the limit that
    stopped its runs, raised; a fixed plan's size (it never reads the tolerance); else a
    smaller tolerance."""
    from prunelimit.api.spectrum_notes import larger_budget

    spectrum = report.get("spectrum") if isinstance(report.get("spectrum"), dict) else {}
    stopped_by, choice = spectrum.get("stopped_by"), spectrum.get("choice")
    if stopped_by in ("max-hvps", "time-budget", "memory"):  # a budget stopped the runs short of the tolerance
        recorded = report.get("options") if isinstance(report.get("options"), dict) else {}
        return larger_budget(stopped_by, recorded.get("basis_dtype", "auto"))
    if isinstance(choice, dict) and choice.get("adaptive") is False and spectrum.get("solver") != "exact":
        return f"a larger {option('iterations')} or {option('runs')}"
    return f"a smaller {said(option_flag('tolerance'), 'tolerance')}"


def _both_narrower(report: dict[str, Any], baseline: dict[str, Any], name: str) -> str:
    """What narrows both reports' ± (``_narrower``), each named where they differ: a smaller
    tolerance was offered for a report that a --max-hvps had stopped, which it cannot narrow."""
    here, there = _narrower(report), _narrower(baseline)
    return here if here == there else f"{here} here, {there} for {name}"


def _below_fix(rule: GateRule, reached: float, required: float, report: dict[str, Any]) -> str:
    """A value short of the requirement: require at most what the model reaches (a value the
    rule passes), or make it more prunable (l1 training is the regime the prediction assumes;
    to convergence where ``report``'s regime check finds the model l1-shaped already, as
    verify's diagnosis says: "train with l1" was told to the l1-trained bundled example)."""
    from prunelimit.theory.regime import report_l1_fix

    what = {"actual": "one-shot pruning keeps the loss within L + ε only up to",
            "lower": "ρ_L less its ± is only", "predicted": "ρ* less its ± is only"}[rule.use]
    at_most = _at_most(reached)
    where = option("min_ratio", at_most) if rule.written_in is None else written_in("min_ratio", rule.written_in,
                                                                                    f"{at_most:g}")
    l1 = report_l1_fix(report.get("regime"))
    return (f"{what} {reached:.{apart(4, reached, required)}f}: require at most that ({where}), or make the model "
            f"more prunable, e.g. {l1}")


def _overshot_fix(rule: GateRule, reached: float, required: float, report: dict[str, Any]) -> str | None:
    """A prediction short of the requirement that ``report``'s overshoot check measured past the
    limit one-shot pruning reaches (its flag for ``rule.use`` true): requiring at most it, or a
    narrower ± that shows it clears, passes a model that breaks pruned to it (a regression MLP's
    ρ_L 0.3357, measured limit 0.099, was offered ``--min-ratio 0.3357``); the measured limit
    is the one to gate on, or a more prunable model. ``None`` where the flag is not true."""
    if not overshot(rule, report):
        return None
    return (f"{QUANTITY[rule.use]} less its ± is only {reached:.{apart(4, reached, required)}f}, and "
            f"{_past_the_limit(rule)} (measured: overshoot.{rule.use} is true), so lowering the requirement "
            f"to it would pass a model that breaks when pruned that far: {_measured_fix(rule, report)}")


def overshot(rule: GateRule, report: dict[str, Any]) -> bool:
    """Whether ``report``'s overshoot check measured the prediction ``rule`` reads past the limit
    one-shot pruning reaches (its flag true; ``null``, not measured, is not)."""
    overshoot = report.get("overshoot")
    return rule.use != "actual" and isinstance(overshoot, dict) and overshoot.get(rule.use) is True


def _past_the_limit(rule: GateRule) -> str:
    """What the overshoot flag of ``rule``'s value says, in words."""
    from prunelimit.pruning.actual import LARGE_GAP

    past = "ρ_L lies" if rule.use == "lower" else f"ρ* lies more than {100 * LARGE_GAP:g} points"
    return f"{past} past the limit one-shot pruning reaches"


def _measured_fix(rule: GateRule, report: dict[str, Any]) -> str:
    """Gate on the measured limit, in the terms of ``rule``'s reader, or make the model more prunable."""
    from prunelimit.theory.regime import report_l1_fix

    return f"gate on the measured limit ({_measured_use(rule)}), or make the model more prunable, e.g. " \
           f"{report_l1_fix(report.get('regime'))}"


def _measured_use(rule: GateRule) -> str:
    """``use: actual`` as ``rule``'s reader sets it: the option, or the key in its policy file."""
    return option("use", "actual") if rule.written_in is None else written_in("use", rule.written_in, "actual")


def _failed_on_overshoot(rule: GateRule, report: dict[str, Any], ok: bool, reason: str,
                         fix: str | None) -> tuple[bool, str, str | None]:
    """``rule``'s verdict, reason and fix, failed where it asks to fail on an overshoot and
    ``report``'s check measured one: a verdict standing on a number one-shot pruning does not reach."""
    if not (rule.fail_on_overshoot and overshot(rule, report)):
        return ok, reason, fix
    asked = option("fail_on_overshoot") if rule.written_in is None else written_in("fail_on_overshoot", rule.written_in)
    reason = f"{reason}, but {_past_the_limit(rule)} (overshoot.{rule.use} is true), which {asked} fails"
    return False, reason, fix if not ok else _measured_fix(rule, report)


def _at_most(value: float, places: int = 4) -> float:
    """``value`` to ``places`` decimals, rounded down where rounding would pass it: a fix of
    ``round(0.85897, 4)`` suggested --min-ratio 0.859, which fails the value it was made for."""
    shown = round(value, places)
    return shown if reaches(value, shown) else round(shown - 10.0 ** -places, places)


def _drop_fix(rule: GateRule, stored: Any) -> str:
    """A fall past ``max_drop``: the change to find, or a new baseline stored on purpose. Where the
    baseline document ``stored`` measured its own value past the limit one-shot pruning reaches,
    the fall may be that overshoot's rather than the model's: the measured limits tell."""
    store = "verify" if rule.use == "actual" else "bounds"
    larger = said("a larger --max-drop", "a larger max_drop") if rule.written_in is None else \
        f"a larger {written_in('max_drop', rule.written_in)}"
    if overshot(rule, stored):
        return (f"{_baseline_overshot(rule)}: {_compare_measured(rule)}, or store a new baseline "
                f"({stored_with(f'`prunelimit {store} --json > {rule.baseline}`', store)}) or allow {larger}")
    return (f"find the change that made the model less prunable; if it is intended, store a new baseline "
            f"({stored_with(f'`prunelimit {store} --json > {rule.baseline}`', store)}) or allow {larger}")


def _baseline_overshot(rule: GateRule) -> str:
    """What a baseline whose overshoot check measured ``rule``'s value past the limit tells of a drop against it."""
    return (f"baseline {rule.baseline}'s {_past_the_limit(rule)} (its overshoot.{rule.use} is true), so the drop is "
            f"judged against a value its model did not reach, and a fall of {QUANTITY[rule.use]} may be no fall of "
            "the limit")


def _compare_measured(rule: GateRule) -> str:
    """What tells a fall of the limit where ``rule``'s baseline overshot: the measured limits, compared."""
    verify = stored_with("`prunelimit verify --json`", "verify")
    return f"compare the measured limits ({_measured_use(rule)}, against a baseline stored with {verify})"


def baseline_overshoot_notes(baselines: Sequence[tuple[str, Any]], rules: Sequence[GateRule]) -> list[str]:
    """A warning for each drop rule on ``lower``/``predicted`` whose baseline (a ``bounds``,
    ``verify`` or ``gate`` report, ``baselines``' documents) measured that value past the limit
    one-shot pruning reaches (its ``overshoot`` flag true): whatever the verdict, it compares a
    prediction the baseline's model did not reach. A baseline that states no check (an older
    report, ``null``) is not said to overshoot, as a rule's own flag is not."""
    documents = dict(baselines)
    return [f"gate rule {rule.name!r}: {_baseline_overshot(rule)}; {_compare_measured(rule)}"
            for rule in rules if rule.baseline in documents and overshot(rule, documents[rule.baseline])]


def _conservative_text(measured: float, pm: float, conservative: float, required: float, ok: bool,
                       use: Use) -> str:
    """``0.9184 − 0.0062 = 0.9122 >= required 0.8000``: the value, its stated ± (``0`` for an
    exact spectrum) and the conservative side, each to the decimal the ± is shown to, or to
    the more that tell a fail apart from its requirement, the ± too (shown to 4, it made
    "0.818841576 − 0.0469 = 0.771932759", a subtraction that does not hold); a measured
    limit (``actual``) has no ± and is shown alone."""
    verdict = ">=" if ok else "<"
    least = max(decimals(pm, least=4), _typed_places(required))
    places = least if ok else apart(least, conservative, required)
    if use == "actual":
        return f"{measured:.{places}f} {verdict} required {required:.{places}f}"
    return (f"{measured:.{places}f} − {half_width_text(pm, least=places, most=places)} = {conservative:.{places}f} "
            f"{verdict} required {required:.{places}f}")


def resolution_notes(report: dict[str, Any], baselines: Sequence[tuple[str, dict[str, Any]]],
                     rules: Sequence[GateRule]) -> list[str]:
    """A warning for each baseline rule on a predicted value whose ``max_drop`` lies inside
    the noise of the difference it judges: √(a² + b²) of the two reports' stated 95 % ±
    (another --tolerance, --max-hvps or method leaves another ±). The verdict stands; it
    can flip on the estimates' noise alone. A baseline that states no complete ± is
    compared as it stands, and its warning says so."""
    documents = dict(baselines)
    notes = []
    for rule in rules:
        if rule.baseline is None or rule.use == "actual" or rule.baseline not in documents:
            continue
        (now, _, _), (then, why, _) = margin(report), margin(documents[rule.baseline])
        if then is None:  # an older report (no ±, or ± null): the values alone, and the rule says so
            notes.append(f"gate rule {rule.name!r}: baseline {rule.baseline} states no complete ± for its value "
                         f"({why}): the drop is judged on the two values as they stand, with no allowance for its "
                         f"estimation noise; store a new baseline with {stored_with('`prunelimit bounds --json`')} to have it "
                         "judged")
            continue
        if now is None:  # an incomplete ± here: the rule's other warnings say why
            continue
        noise = (now ** 2 + then ** 2) ** 0.5
        if rule.max_drop < noise:
            stated = [half_width_text(value, least=4) for value in (noise, then, now)]
            notes.append(f"gate rule {rule.name!r}: max_drop {rule.max_drop:g} is within the noise of the difference "
                         f"(± {stated[0]} from the stated ± {stated[1]} of {rule.baseline} and {stated[2]} here), so the "
                         "verdict can flip on estimation noise alone; allow a larger drop or make both ± smaller "
                         f"({_both_narrower(report, documents[rule.baseline], rule.baseline)}"
                         f"{with_exact(max(report_facts(report)[0], report_facts(documents[rule.baseline])[0]))})")
    return notes

