"""A failed ``--max-drop`` rule's line shows the two values to the decimals that show the
drop it reports: the bundled example against its own stored baseline with ``--max-drop 0``
(another thread count moved ρ* by 6e-9) read "ρ* 0.91834122 vs baseline 0.91834122: drop
+0.00000001 exceeds 0.00000000", a drop between two values printed equal."""

from __future__ import annotations

import re

import pytest

from prunelimit.gate_rules import GateRule, evaluate_gate

LINE = re.compile(r"ρ\* (\S+) vs baseline (\S+): drop \+(\S+) exceeds (\S+)")


def _report(ratio: float) -> dict:
    return {"schema": "prunelimit.bounds/1", "prediction": {"ratio": ratio, "uncertainty": {"plus_minus": 0.0}},
            "bounds": {"lower": ratio}}


@pytest.mark.parametrize("base, now, max_drop", [
    (0.9183412238083363, 0.9183412177135031, 0.0),  # the example's ρ* under two thread counts
    (0.84, 0.81999996, 0.02),  # a fall a hair past max_drop, the values far apart
    (0.5000000049, 0.4999999949, 0.0),  # a fall of 1e-8 across a rounding boundary
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
