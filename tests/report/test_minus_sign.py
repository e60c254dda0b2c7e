"""Every printed negative number carries the sign ``−`` (U+2212), as an accuracy that rose
(``−0.50 pt``) and the formulas' operators do: λmin read ``-0.007099``, a negative Δ
``-5.00 pt``, a Hyperflux run below its target ``-40% off``, a gate's negative drop
``drop -0.0500``. The JSON keeps its numbers as numbers."""

from __future__ import annotations

import json
import re

import pytest

from prunelimit.api.laws import _missed_target
from prunelimit.gate_rules import GateRule, evaluate_gate
from prunelimit.laws.hyperflux import HyperfluxEpoch
from prunelimit.report.console import delta_text, fmt, trace_text
from prunelimit.report.html import _format
from prunelimit.report.rounding import percent_digits, signed
from tests.conftest import LIBRARY_SAMPLES

ASCII_NEGATIVE = re.compile(r"(?<![\w.])-\d")  # a hyphen-minus read as a number's sign (not "e-05", not "2:4-")


@pytest.mark.parametrize(("text", "expected"), [
    (signed(-0.007099, ".4g"), "−0.007099"), (signed(0.5, "+.2f"), "+0.50"), (signed(-0.0, ".1f"), "−0.0"),
    (fmt(-1.5e-5), "−1.5e-05"), (fmt(3.0), "3"), (percent_digits(-0.0123), "−1.23"),
    (delta_text(-0.05, None), "−5.00 pt (no ± stated)"), (delta_text(-0.0193, 0.0), "−1.93 ± 0 pt"),
    (trace_text(-2.5, 0.31), "−2.50 ± 0.31"), (_format(-0.5, "points"), "−0.50 pt"),
    (_format([-1.25, None], "interval"), "[−1.25, unbounded]"), (_format(-0.25, "fixed"), "−0.2500"),
    (_format(-0.125), "−0.125"), (_format(-3), "−3"),
])
def test_a_negative_number_is_printed_with_the_minus_sign(text, expected):
    assert text == expected


def test_a_hyperflux_run_below_its_target_is_said_with_the_minus_sign():
    log = [HyperfluxEpoch(i + 1, "prune", 1.0, d, None, 0.1) for i, d in enumerate([0.9, 0.2, 0.25])]
    below = _missed_target(0.25, 0.5, log)[0]
    assert "−50 % off the requested 50.00 %" in below and not ASCII_NEGATIVE.search(below)
    above = _missed_target(0.2, 0.05, log)[0]
    assert "+300 % off the requested" in above


def test_a_gate_drop_that_is_a_gain_is_printed_with_the_minus_sign(tmp_path):
    """A lower bound 0.05 above its baseline's: the drop is −0.0500."""
    def report(lower: float) -> dict:
        return {"schema": "prunelimit.bounds/1", "prediction": {"ratio": lower + 0.05, "uncertainty": {"plus_minus": 0.0}},
                "bounds": {"lower": lower}}

    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps(report(0.75)), encoding="utf-8")
    result = evaluate_gate(report(0.80), [GateRule("drop", "lower", baseline=str(baseline), max_drop=0.01)])
    reason = result.outcomes[0].reason
    assert result.passed and "drop −0.0500 within 0.0100" in reason, reason


def test_spectrum_prints_a_negative_lambda_min_with_the_minus_sign(cli, small_ckpt):
    run = (small_ckpt, "--method", "exact", "--max-samples", str(LIBRARY_SAMPLES), "--threads", "1")
    doc = json.loads(cli("spectrum", *run, "--json").stdout)
    assert doc["spectrum"]["lambda_min"] < 0  # an untrained MLP's Hessian is indefinite
    console = cli("spectrum", *run).stdout
    row = next(line for line in console.splitlines() if line.startswith("│ λmin "))
    assert f"│ {fmt(doc['spectrum']['lambda_min'])} " in row and row.split("│")[2].strip().startswith("−")
    assert not ASCII_NEGATIVE.search(console)
