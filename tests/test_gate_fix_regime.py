"""A gate rule's fix for a value below its requirement said "make the model more prunable, e.g.
train with l1" of every model, of the l1-trained bundled example too (its regime check: l1-shaped,
near-zero share 91.7 %; `gate --from bounds.json --min-ratio 0.95`). Where the report's regime
check finds the model l1-shaped, it says to train with l1 to convergence (or in place of weight
decay, whose share looks alike), as verify's diagnosis does."""

from __future__ import annotations

from prunelimit.gate_rules import GateRule, evaluate_gate


def _report(l1_shaped: bool | None) -> dict:
    """ρ_L 0.859 with an exact spectrum's ± 0, and the regime check (``None``: an older report without one)."""
    report = {"bounds": {"lower": 0.859}, "prediction": {"ratio": 0.918, "uncertainty": {"plus_minus": 0.0}}}
    return report if l1_shaped is None else {**report, "regime": {"l1_shaped": l1_shaped}}


def _fix(report: dict, use: str = "lower") -> str:
    (outcome,) = evaluate_gate(report, [GateRule("floor", use=use, min_ratio=0.95)]).outcomes
    assert not outcome.passed
    return outcome.fix


def test_an_l1_shaped_model_is_told_to_train_with_l1_to_convergence() -> None:
    """Or in place of weight decay, whose near-zero share its weights cannot tell from l1's."""
    assert ("more prunable, e.g. train with l1 to convergence (`prunelimit train --l1 ...`), or with l1 in place of "
            "weight decay if it was trained with that (weight decay of ") in _fix(_report(True))
    measured = {**_report(True), "actual": {"loss_ratio": 0.899}}
    assert "e.g. train with l1 to convergence (" in _fix(measured, "actual")


def test_a_model_that_is_not_l1_shaped_or_not_assessed_is_told_to_train_with_l1() -> None:
    for report in (_report(False), _report(None)):
        assert _fix(report).endswith("more prunable, e.g. train with l1 (`prunelimit train --l1 ...`)")
