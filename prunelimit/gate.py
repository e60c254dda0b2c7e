"""CI gate on compressibility: rules over a ``bounds`` result, each with its own outcome.

A rule either demands a minimum pruning ratio (``min_ratio``) or bounds the fall of the
limit against a stored report (``baseline`` + ``max_drop``). The measured value is the
lower bound ρ_L by default (``use: lower``), the prediction ρ* (``use: predicted``), or the
limit one-shot pruning really reaches, the ``verify`` search's loss criterion (``use:
actual``; a baseline for it must be a ``verify --json`` report). A ``min_ratio`` rule
compares the conservative side of a predicted value, the value minus its stated ± (an SLQ
estimate passes only when its whole uncertainty lies above the requirement); a measured
limit has no such ±, and a baseline rule compares the two reports' values as they stand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

from prunelimit.errors import InputError, UsageError
from prunelimit.limits import MAX_REPORT_BYTES, check_file_size
from prunelimit.validate import choice

Use = Literal["lower", "predicted", "actual"]
USES = ("lower", "predicted", "actual")
_FIELDS = {"lower": ("bounds", "lower"), "predicted": ("prediction", "ratio"), "actual": ("actual", "loss_ratio")}
_RULE_KEYS = {"name", "min_ratio", "baseline", "max_drop", "use"}


@dataclass(frozen=True)
class GateRule:
    """One rule: ``min_ratio`` alone, or ``baseline`` with ``max_drop`` (both removed fractions)."""

    name: str
    use: Use = "lower"
    min_ratio: float | None = None
    baseline: str | None = None
    max_drop: float | None = None


@dataclass(frozen=True)
class RuleOutcome:
    rule: GateRule
    passed: bool
    measured: float
    threshold: float
    baseline: float | None
    reason: str


@dataclass(frozen=True)
class GateResult:
    passed: bool
    outcomes: tuple[RuleOutcome, ...]

    @property
    def reason(self) -> str:
        failed = [o.reason for o in self.outcomes if not o.passed]
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
        hint = ": store it with `prunelimit verify --json`" if use == "actual" else ""
        raise InputError(f"{source} is not a prunelimit {'verify' if use == 'actual' else 'bounds/verify'} "
                         f"report (no {use} ratio){hint}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{source}: the {use} ratio ({field}) is missing or not a number")
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise InputError(f"{source}: the {use} ratio ({field}) is {value}, not a ratio in [0, 1]")
    return float(value)


def plus_minus(report: dict[str, Any]) -> float | None:
    """The stated ± of ρ* in a ``bounds``/``verify`` document (0 for an exact spectrum), or
    ``None`` when the document states none or leaves a part of it unknown (a truncation part
    it could not measure): then no conservative side is known. It applies to ρ_L as well:
    both are solved from the same estimated F."""
    u = (report.get("prediction") or {}).get("uncertainty") if isinstance(report, dict) else None
    value = u.get("plus_minus") if isinstance(u, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < float("inf") \
            or u.get("steps_kind") == "none":
        return None
    return float(value)


def read_report(path: str | Path, what: str = "baseline report") -> dict[str, Any]:
    """A saved ``bounds``/``verify`` JSON document (``what`` names it in errors: exit 3)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} not found")
    check_file_size(path, MAX_REPORT_BYTES, what)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError):  # bad JSON or UTF-8, an integer of > 4300 digits, nested 1000s deep
        raise InputError(f"{what} {path} is not valid JSON; write it with `prunelimit bounds --json`") from None
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read ({exc.strerror})") from None


def baseline_reports(rules: Sequence[GateRule]) -> list[tuple[str, dict[str, Any]]]:
    """Each baseline file the rules name, once, with its JSON document."""
    paths = dict.fromkeys(rule.baseline for rule in rules if rule.baseline is not None)
    return [(path, read_report(path)) for path in paths]


def rules_from_options(
    min_ratio: float | None, use: Use, baseline: str | None, max_drop: float | None,
    policy: Sequence[dict[str, Any]] | None = None,
) -> list[GateRule]:
    """Rules from the command-line flags plus a YAML policy's ``rules:`` list.

    ``use`` is an option (an ``OptionError`` naming it); a policy rule's own ``use`` key is
    checked with the rest of that rule (a ``UsageError`` naming the rule)."""
    choice("use", use, USES)
    rules: list[GateRule] = []
    if min_ratio is not None:
        rules.append(_checked(GateRule(f"{use} ratio >= {min_ratio}", use, min_ratio=min_ratio)))
    if baseline is not None or max_drop is not None:
        rules.append(_checked(GateRule(f"drop vs {baseline} <= {max_drop}", use, baseline=baseline, max_drop=max_drop)))
    for i, entry in enumerate(policy or ()):
        if not isinstance(entry, dict) or set(entry) - _RULE_KEYS:
            raise UsageError(f"gate rule {i + 1}: expected a mapping with keys {sorted(_RULE_KEYS)}")
        rules.append(_checked(GateRule(
            name=_rule_name(entry.get("name"), i), use=entry.get("use", use),
            min_ratio=entry.get("min_ratio"), baseline=entry.get("baseline"), max_drop=entry.get("max_drop"),
        )))
    if not rules:
        raise UsageError("the gate has no rule: pass --min-ratio X and/or --baseline REPORT.json --max-drop D")
    return rules


_NAME_MAX = 200


def _rule_name(name: Any, index: int) -> str:
    """A policy rule's name: short printable text (it becomes a JUnit test name and a console line)."""
    if name is None or name == "":
        return f"rule {index + 1}"
    if isinstance(name, bool) or not isinstance(name, (str, int, float)):
        raise UsageError(f"gate rule {index + 1}: name must be text, got a {type(name).__name__}")
    text = str(name)
    if len(text) > _NAME_MAX or not text.isprintable():
        raise UsageError(f"gate rule {index + 1}: name must be printable text of at most {_NAME_MAX} "
                         "characters (no control characters or line breaks)")
    return text


def _checked(rule: GateRule) -> GateRule:
    if rule.use not in USES:
        raise UsageError(f"gate rule {rule.name!r}: use must be lower, predicted or actual, got {rule.use!r}")
    if (rule.min_ratio is None) == (rule.baseline is None):
        raise UsageError(f"gate rule {rule.name!r}: give either min_ratio or baseline + max_drop")
    if rule.baseline is not None and rule.max_drop is None:
        raise UsageError(f"gate rule {rule.name!r}: --baseline needs --max-drop D (a ratio, e.g. 0.02)")
    if rule.baseline is None and rule.max_drop is not None:
        raise UsageError(f"gate rule {rule.name!r}: --max-drop needs --baseline REPORT.json")
    if rule.baseline is not None:
        if not isinstance(rule.baseline, str):
            raise UsageError(f"gate rule {rule.name!r}: baseline must be a file name, got {rule.baseline!r}")
        # a missing, broken or unfit baseline fails before the curvature work
        measured_value(read_report(rule.baseline), rule.use, f"baseline {rule.baseline}")
    for label, value in (("min_ratio", rule.min_ratio), ("max_drop", rule.max_drop)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0.0 <= value <= 1.0):
            raise UsageError(f"gate rule {rule.name!r}: {label} must be a ratio in [0, 1], got {value!r}")
    return rule


def evaluate_gate(report: dict[str, Any], rules: Sequence[GateRule]) -> GateResult:
    """Apply every rule to a ``bounds`` report."""
    outcomes = []
    for rule in rules:
        measured = measured_value(report, rule.use, "the bounds result")
        if rule.min_ratio is not None:
            # The conservative side: a spectrum estimate passes only when the whole of its
            # stated ± lies above the requirement (an exact spectrum has ± 0).
            # An unknown ± fails the rule: nothing shows that the conservative side clears it.
            margin = plus_minus(report) if rule.use != "actual" else 0.0
            ok = margin is not None and measured - margin >= rule.min_ratio
            shown = f"{measured:.4f}" + (f" ± {margin:.4f}" if margin else "")
            reason = f"{rule.use} ratio {shown} {'>=' if ok else '<'} required {rule.min_ratio:.4f}"
            if margin is None:
                reason = (f"{rule.use} ratio {shown} has no complete stated ± (the Lanczos truncation part is "
                          f"unknown), so it cannot be shown to clear {rule.min_ratio:.4f}: give more --iterations")
            outcomes.append(RuleOutcome(rule, ok, measured, rule.min_ratio, None, reason))
        else:
            base = measured_value(read_report(rule.baseline), rule.use, f"baseline {rule.baseline}")
            threshold = base - rule.max_drop
            ok = measured >= threshold
            reason = (f"{rule.use} ratio {measured:.4f} vs baseline {base:.4f}: drop {base - measured:+.4f} "
                      f"{'within' if ok else 'exceeds'} {rule.max_drop:.4f}")
            outcomes.append(RuleOutcome(rule, ok, measured, threshold, base, reason))
    return GateResult(all(o.passed for o in outcomes), tuple(outcomes))
