"""A failed ``--max-drop`` rule's line shows the two values to the decimals that show the
drop it reports: a fall of 1e-5 from the bundled example's ρ* with ``--max-drop 0`` read
"ρ* 0.9183 vs baseline 0.9183: drop +0.0000 exceeds 0.0000", a drop between two values printed
equal (a fall within the float resolution, another runner's rounding, passes:
tests/test_gate_other_runner.py)."""

from __future__ import annotations

import re

import pytest

from prunelimit.gate_rules import GateRule, evaluate_gate

LINE = re.compile(r"ρ\* (\S+) vs baseline (\S+): drop \+(\S+) exceeds (\S+)")


def _report(ratio: float) -> dict:
    return {"schema": "prunelimit.bounds/1", "prediction": {"ratio": ratio, "uncertainty": {"plus_minus": 0.0}},
            "bounds": {"lower": ratio}}


@pytest.mark.parametrize("base, now, max_drop", [
    (0.9183412238083363, 0.9183312238083363, 0.0),  # the example's ρ* less 1e-5
    (0.84, 0.81999, 0.02),  # a fall a hair past max_drop (and its float resolution), the values far apart
    (0.500004, 0.499994, 0.0),  # a fall of 1e-5 across a rounding boundary
])
def test_a_failed_drop_shows_values_whose_difference_is_the_drop(base, now, max_drop):
    rule = GateRule("r", "predicted", baseline="b.json", max_drop=max_drop)
    outcome = evaluate_gate(_report(now), [rule], [("b.json", _report(base))]).outcomes[0]
    assert not outcome.passed
    shown = LINE.search(outcome.reason)
    assert shown is not None, outcome.reason
    measured, baseline, drop, limit = shown.groups()
    places = len(drop.split(".")[1])
    assert all(len(text.split(".")[1]) == places for text in (measured, baseline, limit)), outcome.reason
    # the printed values differ by the printed drop, to its last decimal (exact decimal arithmetic)
    assert round(float(baseline) - float(measured), places) == float(drop), outcome.reason
    assert float(drop) > float(limit), outcome.reason
