"""A gate that a CI job runs on another runner than the one that stored its baseline: the
same model's ratios differ there by float rounding alone (another --threads count, CPU or
BLAS sums the float32 losses behind ε in another order), and that is no drop. The bundled
example against its own stored baseline with ``--max-drop 0`` failed on such a runner:
"ρ* 0.918341218 vs baseline 0.918341224: drop +0.000000006 exceeds 0.000000000"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prunelimit.gate_rules import RESOLVED, GateRule, evaluate_gate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"
BASELINE = EXAMPLE / "ci" / "baseline.json"
# the bundled example's exact ρ*: stored in baseline.json, and as a second runner computed it
STORED, OTHER_RUNNER = 0.9183412238083363, 0.9183412177135031


def _report(ratio: float, rounding: float | None = None) -> dict:
    stated = {"probes": 0.0, "steps": 0.0, "data": None, "runs": 1, "steps_kind": "exact", "probes_kind": "exact",
              "rounding": rounding, "plus_minus": rounding or 0.0}
    return {"schema": "prunelimit.bounds/1", "prediction": {"ratio": ratio, "uncertainty": stated},
            "bounds": {"lower": ratio}}


def _drop(now: dict, then: dict, max_drop: float = 0.0):
    rule = GateRule("r", "predicted", baseline="b.json", max_drop=max_drop)
    return evaluate_gate(now, [rule], [("b.json", then)]).outcomes[0]


def test_the_examples_rho_on_another_runner_is_no_drop():
    outcome = _drop(_report(OTHER_RUNNER), _report(STORED))
    assert outcome.passed, outcome.reason
    assert outcome.reason == "ρ* 0.9183 vs baseline 0.9183: drop 0.0000 within 0.0000"


@pytest.mark.parametrize("fall", [2 * RESOLVED, 1e-5, 1e-4])
def test_a_fall_past_the_float_resolution_still_fails_max_drop_0(fall):
    """The allowance is the resolution no report reaches past, not a tolerance for drops:
    a fall of twice it fails (a margin of 1e-6 against float64 values: no rounding near it)."""
    outcome = _drop(_report(STORED - fall), _report(STORED))
    assert not outcome.passed, outcome.reason


@pytest.mark.parametrize("now, passed", [(STORED - 0.0035, True), (STORED - 0.0045, False)])
def test_a_drop_within_the_two_stated_rounding_parts_passes_and_says_so(now, passed):
    """A stated rounding part bounds how far unresolved eigenvalues move ρ*, either way, on
    any runner: a drop within the two reports' parts (0.003 + 0.001) is not judged a drop,
    and the line says what was allowed besides max_drop ("within 0.0000" alone read false)."""
    outcome = _drop(_report(now, rounding=0.001), _report(STORED, rounding=0.003))
    assert outcome.passed is passed, outcome.reason
    if passed:
        assert outcome.reason.endswith("within 0.0000 + 0.0040 (the two reports' stated rounding parts, which another "
                                       "runner's rounding moves)"), outcome.reason


def test_a_measured_limit_is_allowed_no_prediction_rounding():
    """``use: actual`` compares measured limits: the predictions' rounding parts are not theirs."""
    now, then = _report(STORED, rounding=0.003), _report(STORED, rounding=0.003)
    now["actual"], then["actual"] = {"loss_ratio": 0.85}, {"loss_ratio": 0.852}
    rule = GateRule("r", "actual", baseline="b.json", max_drop=0.0)
    assert not evaluate_gate(now, [rule], [("b.json", then)]).outcomes[0].passed


@pytest.mark.parametrize("min_ratio, passed", [(STORED, True), (STORED + 2 * RESOLVED, False)])
def test_min_ratio_at_the_stored_value_passes_on_another_runner(min_ratio, passed):
    """A requirement pasted from the baseline at full precision holds the same model on another runner."""
    rule = GateRule("r", "predicted", min_ratio=min_ratio)
    outcome = evaluate_gate(_report(OTHER_RUNNER), [rule]).outcomes[0]
    assert outcome.passed is passed, outcome.reason


def test_gate_from_a_report_of_another_runner_against_the_stored_baseline(cli, tmp_path, no_curvature):
    """The CI job's command, its prediction read (``--from``) from a report another runner
    stored: exit 0, as the job on the baseline's runner; no curvature work."""
    saved = json.loads(BASELINE.read_text())
    saved["prediction"].update(ratio=OTHER_RUNNER, continuous_ratio=OTHER_RUNNER, per_run=[OTHER_RUNNER],
                              density=1 - OTHER_RUNNER)
    other = tmp_path / "other-runner.json"
    other.write_text(json.dumps(saved))
    result = cli("gate", EXAMPLE / "digits-mlp.pt", "--from", other, "--baseline", BASELINE, "--max-drop", "0",
                 "--use", "predicted", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passed"] is True
