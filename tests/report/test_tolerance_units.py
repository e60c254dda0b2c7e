"""The tolerance warning states ρ* and its ± as the headline line beside it does: it read
"ρ* = 0.9187 ± 0.0198 is not within the tolerance 0.01" under "ρ* = 91.87 % ± 2.0 pt (…)",
one quantity in two units on consecutive lines."""

from __future__ import annotations

import json
import re

from prunelimit.report.rounding import estimate_text

RUN = ("--runs", "2", "--iterations", "10", "--max-samples", "300", "--no-cache", "--threads", "1")


def test_the_tolerance_warning_states_rho_as_the_headline(cli, own_ckpt, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # each line whole
    shown = cli("bounds", own_ckpt, *RUN)
    assert shown.exit_code == 0, shown.stderr
    doc = json.loads(cli("bounds", own_ckpt, *RUN, "--json").stdout)
    headline = re.search(r"^ρ\* = (\S+ % ± \S+ pt) \(", shown.stdout, re.M)
    warned = re.search(r"ρ\* = (\S+ % ± \S+ pt) is not within the tolerance 0\.01 \(1 pt\)", shown.stdout)
    assert headline and warned, shown.stdout
    ratio, plus_minus = doc["prediction"]["ratio"], doc["prediction"]["uncertainty"]["plus_minus"]
    assert warned[1] == headline[1] == estimate_text(ratio, plus_minus)
