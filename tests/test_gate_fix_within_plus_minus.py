"""A ``--min-ratio`` rule whose requirement lies within the estimate's stated ± above the value:
``gate --use predicted --method slq --min-ratio 0.92 --max-hvps 4`` on the bundled example
(ρ* 0.8963 ± 0.9363; its exact ρ* is 0.9183) said only "require at most that (--min-ratio 0),
or make the model more prunable, e.g. train with l1", though the estimate cannot tell whether
the model clears 0.92: the fix now leads with narrowing the ± (the limit that stopped the runs,
raised), then offers the rest. A value whose ± stays below the requirement keeps that fix alone."""

from __future__ import annotations

from prunelimit.errors import options_named
from prunelimit.gate_rules import GateRule, evaluate_gate
from tests.test_gate_rules import _flag, _report

RULE = [GateRule("r", use="predicted", min_ratio=0.92)]


def test_a_requirement_within_the_plus_minus_offers_a_narrower_one_first() -> None:
    report = {**_report(0.8963, 0.9363), "spectrum": {"stopped_by": "max-hvps"}}
    with options_named(_flag):
        fix = evaluate_gate(report, RULE).outcomes[0].fix
    assert fix.startswith("its stated ± 0.9363 leaves the conservative side short: narrow it (a larger --max-hvps")
    assert "; or ρ* less its ± is only 0.0000: require at most that (--min-ratio 0)" in fix


def test_a_requirement_above_the_plus_minus_keeps_the_below_fix() -> None:
    with options_named(_flag):
        fix = evaluate_gate(_report(0.84, 0.05), RULE).outcomes[0].fix
    assert fix.startswith("ρ* less its ± is only 0.7900: require at most that (--min-ratio 0.79)")
    assert "narrow" not in fix
