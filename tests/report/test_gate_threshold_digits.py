"""A gate rule's line shows its threshold as it was given, and a value the rounding
allowance (1e-9) passes never reads as short of it: ``--min-ratio 0.99985`` passed by a
ρ_L of 0.9998499995 read "0.9998 − 0 = 0.9998 >= required 0.9999", and ``--min-ratio
0.91223`` read "required 0.9122"."""

from __future__ import annotations

import json
import re

import pytest

from prunelimit.gate_rules import GateRule, evaluate_gate

PASSED = re.compile(r"= (\S+) >= required (\S+)$")


def _report(ratio: float, plus_minus: float = 0.0) -> dict:
    return {"schema": "prunelimit.bounds/1", "prediction": {"ratio": ratio, "uncertainty": {"plus_minus": plus_minus}},
            "bounds": {"lower": ratio}}


def test_a_value_passed_within_the_rounding_allowance_never_reads_below_its_requirement():
    # every requirement half-way between two 4-decimal values, passed by a value 5e-10 under it
    for k in range(1000, 10000, 7):
        required = round(k / 10000 + 0.00005, 5)
        outcome = evaluate_gate(_report(required - 5e-10), [GateRule("r", min_ratio=required)]).outcomes[0]
        assert outcome.passed, outcome.reason
        value, shown = PASSED.search(outcome.reason).groups()
        assert float(value) >= float(shown) == required, outcome.reason


@pytest.mark.parametrize("required, plus_minus, line", [
    (0.91223, 0.00618476427924629, "ρ_L 0.91841 − 0.00618 = 0.91223 >= required 0.91223"),
    (0.8, 0.0, "ρ_L 0.9184 − 0 = 0.9184 >= required 0.8000"),  # as docs/guide.md shows it: 4 decimals at least
])
def test_a_requirement_is_shown_as_given(required, plus_minus, line):
    outcome = evaluate_gate(_report(0.9184148684460881, plus_minus), [GateRule("r", min_ratio=required)]).outcomes[0]
    assert outcome.passed and outcome.reason == line


def test_a_max_drop_is_shown_as_given(tmp_path):
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(_report(0.9)), encoding="utf-8")
    rule = GateRule("r", "predicted", baseline=str(baseline), max_drop=0.00005)
    outcome = evaluate_gate(_report(0.89997), [rule]).outcomes[0]
    assert outcome.passed and outcome.reason.endswith("drop +0.00003 within 0.00005"), outcome.reason
