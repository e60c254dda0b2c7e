"""A gate rule on the prediction that fails, where the overshoot check measured that prediction past
the limit one-shot pruning reaches, was told to require at most it: on a plainly trained regression
MLP (MSE, ρ_L 0.3357, verify's measured limit 0.099, ``overshoot.lower`` true) ``gate --min-ratio 0.4``
said "require at most that (--min-ratio 0.3357)", a requirement that passes a model which breaks
pruned that far. Such a rule's fix now says what was measured and names the measured limit to gate
on, in its reader's terms; a rule whose own flag is not true keeps its fix."""

from __future__ import annotations

from prunelimit.errors import library_call
from prunelimit.gate_rules import GateRule, evaluate_gate
from tests.test_gate_rules import failing_fix as _fix


def _report(lower: bool | None, predicted: bool | None, plus_minus: float = 0.0) -> dict:
    """The regression MLP's bounds report: ρ* 0.4630, ρ_L 0.3357, the overshoot check's flags as given."""
    return {"bounds": {"lower": 0.3357}, "regime": {"l1_shaped": False},
            "prediction": {"ratio": 0.4630, "uncertainty": {"plus_minus": plus_minus}},
            "overshoot": {"lower": lower, "predicted": predicted}}


def test_a_prediction_measured_past_the_limit_is_not_offered_as_the_requirement() -> None:
    fix = _fix(_report(True, True), GateRule("r", use="lower", min_ratio=0.4))
    assert fix == ("ρ_L less its ± is only 0.3357, and ρ_L lies past the limit one-shot pruning reaches (measured: "
                   "overshoot.lower is true), so lowering the requirement to it would pass a model that breaks when "
                   "pruned that far: gate on the measured limit (--use actual), or make the model more prunable, "
                   "e.g. train with l1 (`prunelimit train --l1 ...`)")
    assert "require at most" not in fix


def test_a_requirement_within_the_plus_minus_is_not_told_to_narrow_it() -> None:
    # ρ* 0.4630 ± 0.05 may clear 0.5: a narrower ± would show a prediction measured past the limit
    fix = _fix(_report(True, True, plus_minus=0.05), GateRule("r", use="predicted", min_ratio=0.5))
    assert fix.startswith("ρ* less its ± is only 0.4130, and ρ* lies more than 5 points past the limit")
    assert "narrow" not in fix and "overshoot.predicted is true" in fix


def test_the_fix_names_the_rule_file_and_the_library_keyword() -> None:
    assert "(use: actual in policy.yaml)" in _fix(_report(True, True), GateRule("r", min_ratio=0.4,
                                                                               written_in="policy.yaml"))
    with library_call():
        (outcome,) = evaluate_gate(_report(True, True), [GateRule("r", min_ratio=0.4)]).outcomes
    assert "gate on the measured limit (use='actual')" in outcome.fix


def test_a_rule_whose_own_flag_is_not_true_keeps_its_fix() -> None:
    # ρ_L within the limit (ρ* alone past it), not measured (null), or an older report without the check
    for report in (_report(False, True), _report(None, None), {**_report(True, True), "overshoot": None}):
        fix = _fix(report, GateRule("r", use="lower", min_ratio=0.4))
        assert fix.startswith("ρ_L less its ± is only 0.3357: require at most that (--min-ratio 0.3357)")
