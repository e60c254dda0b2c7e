"""A ``gate --json`` report of rules that all use the measured limit, given as the baseline
of a rule on ρ_L or ρ*, was refused as "not a prunelimit bounds/verify report (no predicted
ratio)": it is one, of the measured limit alone. The refusal (exit 3) now says what it holds
and both ways on."""

from __future__ import annotations

import json

import pytest

from prunelimit.errors import InputError
from prunelimit.gate_rules import baseline_value

# what ``gate --json`` writes for rules that all use actual: its bounds hold the verify search alone
MEASURED_ONLY = {"schema": "prunelimit.gate/1", "passed": True, "rules": [{"name": "r", "use": "actual"}],
                 "bounds": {"schema": "prunelimit.verify/1", "epsilon": 0.01,
                            "actual": {"loss_ratio": 0.121, "loss_crossed": True}, "warnings": []}}


@pytest.mark.parametrize("use", ["lower", "predicted"])
def test_a_measured_only_gate_report_as_a_prediction_baseline_says_what_it_holds(tmp_path, use):
    path = tmp_path / "ga.json"
    path.write_text(json.dumps(MEASURED_ONLY), encoding="utf-8")
    with pytest.raises(InputError) as refused:
        baseline_value(str(path), use)
    said = str(refused.value)
    assert "holds the measured limit alone" in said and f"no {use} ratio" in said, said
    assert "use actual" in said and "prunelimit bounds --json" in said and "not a prunelimit" not in said, said
    assert baseline_value(str(path), "actual") == 0.121  # the value it holds is read on use actual
