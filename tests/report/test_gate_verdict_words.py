"""The gate's verdict line as a CI log shows it: the quantity named as every other output
names it (ρ_L, ρ*, the actual limit), the numbers kept as the fractions the options are
given in, and a drop of zero printed without a sign (``drop 0.0000``, not ``+0.0000``)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from prunelimit.gate_rules import GateRule, evaluate_gate
from tests.conftest import LIBRARY_SAMPLES

DROP = re.compile(r"drop (\S+) (within|exceeds)")


def _report(lower: float, predicted: float, actual: float, plus_minus: float = 0.0) -> dict:
    return {"schema": "prunelimit.bounds/1", "prediction": {"ratio": predicted, "uncertainty": {"plus_minus": plus_minus}},
            "bounds": {"lower": lower}, "actual": {"loss_ratio": actual}}


@pytest.mark.parametrize("use, name", [("lower", "ρ_L"), ("predicted", "ρ*"), ("actual", "actual limit")])
def test_the_verdict_names_the_quantity_as_the_fix_line_does(use, name):
    report = _report(0.8590, 0.9183, 0.8800)
    passed, failed = (evaluate_gate(report, [GateRule("r", use, min_ratio=m)]).outcomes[0] for m in (0.8, 0.95))
    assert passed.passed and passed.reason.startswith(f"{name} 0.") and "required 0.8000" in passed.reason
    assert not failed.passed and failed.reason.startswith(f"{name} 0.") and "< required 0.9500" in failed.reason
    assert " ratio " not in passed.reason + failed.reason, (passed.reason, failed.reason)


@pytest.mark.parametrize("use", ["lower", "predicted", "actual"])
def test_a_zero_drop_is_printed_without_a_sign(tmp_path, use):
    """Equal values (and a fall that rounds to zero at the 4 decimals shown, either way) read
    ``drop 0.0000``: ``+0.0000`` or ``−0.0000`` claims a direction nothing shows. A fall and a
    gain keep their signs, a gain with ``−`` (U+2212)."""
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(_report(0.8, 0.9, 0.85)), encoding="utf-8")

    def drop(shift: float) -> str:
        now = _report(0.8 + shift, 0.9 + shift, 0.85 + shift)
        reason = evaluate_gate(now, [GateRule("r", use, baseline=str(baseline), max_drop=0.02)]).outcomes[0].reason
        return DROP.search(reason).group(1)

    assert [drop(s) for s in (0.0, 0.00001, -0.00001, -0.01, 0.01)] == \
        ["0.0000", "0.0000", "0.0000", "+0.0100", "−0.0100"]


def test_the_cli_verdict_reads_the_same_on_the_console_in_json_and_junit(cli, tmp_path, small_ckpt, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    saved = tmp_path / "b.json"
    bounds = cli("bounds", small_ckpt, "--method", "exact", "--max-samples", str(LIBRARY_SAMPLES), "--threads", "1",
                 "--json")
    assert bounds.exit_code == 0, bounds.output
    saved.write_text(bounds.stdout, encoding="utf-8")
    junit = tmp_path / "gate.xml"
    run = (small_ckpt, "--from", saved, "--max-samples", str(LIBRARY_SAMPLES), "--threads", "1", "--min-ratio", "0",
           "--baseline", saved, "--max-drop", "0.02")
    console = cli("gate", *run, "--junit", junit)
    assert console.exit_code == 0, console.output
    lines = [line for line in console.stdout.splitlines() if line.startswith("PASS ")]
    assert re.fullmatch(r"PASS lower ratio >= 0\.0: ρ_L 0\.\d{4} − 0 = 0\.\d{4} >= required 0\.0000", lines[0]), lines
    assert lines[1].endswith(": drop 0.0000 within 0.0200") and ": ρ_L 0." in lines[1], lines
    doc = json.loads(cli("gate", *run, "--json").stdout)
    assert [r["reason"] for r in doc["rules"]] == [line.split(": ", 1)[1] for line in lines]
    cases = ET.parse(junit).getroot().iter("testcase")
    assert [c.get("name") for c in cases] == [r["name"] for r in doc["rules"]]
    assert all(" ratio 0." not in json.dumps(r["reason"]) for r in doc["rules"])
