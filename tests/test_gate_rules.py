"""Gate rules (prunelimit.gate_rules): refused values, the checks before any work, and the
conservative side of a min_ratio rule, which fails on a ± that leaves out a known error."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from prunelimit.errors import InputError, UsageError, options_named
from prunelimit.gate_rules import GateRule, check_rules, evaluate_gate, margin, rules_from_options


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def failing_fix(report: dict, rule: GateRule) -> str:
    """The fix the one failing ``rule`` is told on ``report``, options named as flags."""
    with options_named(_flag):
        (outcome,) = evaluate_gate(report, [rule]).outcomes
    assert not outcome.passed
    return outcome.fix


@pytest.mark.parametrize("fields, message", [
    ({"min_ratio": 1.5}, "min_ratio must be a ratio in \\[0, 1\\], got 1.5"),
    ({"min_ratio": -1.0}, "min_ratio must be a ratio in \\[0, 1\\], got -1.0"),
    ({"min_ratio": "0.5"}, "min_ratio must be a ratio in \\[0, 1\\], got '0.5'"),
    ({"min_ratio": True}, "min_ratio must be a ratio"),
    ({"use": "upper", "min_ratio": 0.5}, "use must be lower, predicted or actual, got 'upper'"),
    ({}, "give either min_ratio or baseline \\+ max_drop"),
    ({"baseline": "b.json"}, "baseline needs max_drop D"),
    ({"min_ratio": 0.5, "max_drop": 0.1}, "max_drop needs baseline REPORT.json"),
    ({"baseline": 3, "max_drop": 0.1}, "baseline must be a file name"),
])
def test_a_rule_that_cannot_be_evaluated_is_refused_when_made(fields, message):
    with pytest.raises(UsageError, match=message):
        GateRule("r", **fields)


def test_the_command_line_names_its_flags_in_rule_errors():
    with pytest.raises(UsageError) as caught:
        GateRule("r", baseline="b.json")
    assert caught.value.renamed(_flag) == "gate rule 'r': --baseline needs --max-drop D (a ratio, e.g. 0.02)"
    with pytest.raises(UsageError) as caught:
        rules_from_options(None, "lower", None, None)
    assert str(caught.value) == "the gate has no rule: pass min_ratio X and/or baseline REPORT.json max_drop D"
    assert caught.value.renamed(_flag) == ("the gate has no rule: pass --min-ratio X and/or --baseline REPORT.json "
                                           "--max-drop D")


@pytest.mark.parametrize("min_ratio, baseline, max_drop, message", [
    (None, None, 0.1, "gate rule 'baseline rule': --max-drop needs --baseline REPORT.json"),
    (0.5, None, 0.1, "gate rule 'baseline rule': --max-drop needs --baseline REPORT.json"),
    (0.5, "b.json", None, "gate rule 'baseline rule': --baseline needs --max-drop D (a ratio, e.g. 0.02)"),
])
def test_a_half_given_baseline_pair_names_the_missing_flag(min_ratio, baseline, max_drop, message):
    """--max-drop without --baseline (with or without --min-ratio) says that --baseline is
    missing, not "give either ...", and names no rule after a baseline that is not there."""
    with pytest.raises(UsageError) as caught:
        rules_from_options(min_ratio, "lower", baseline, max_drop)
    assert caught.value.renamed(_flag) == message


def test_check_rules_wants_rules_and_readable_baselines(tmp_path):
    with pytest.raises(UsageError, match="the gate has no rule"):
        check_rules([])
    with pytest.raises(UsageError, match="GateRule objects, got a dict"):
        check_rules([{"min_ratio": 0.5}])
    with pytest.raises(InputError, match="not found"):
        check_rules([GateRule("r", baseline=str(tmp_path / "missing.json"), max_drop=0.1)])
    report = tmp_path / "b.json"
    report.write_text(json.dumps({"bounds": {"lower": 0.7}}), encoding="utf-8")
    rule = GateRule("r", baseline=str(report), max_drop=0.1)
    assert check_rules((rule,)) == [rule]


def _report(ratio: float = 0.84, plus_minus: float = 0.01, used: int = 600, total: int = 600,
            density: dict | None = None, continuous: float | None = None) -> dict:
    return {
        "bounds": {"lower": ratio - 0.1},
        "prediction": {"ratio": ratio, "continuous_ratio": ratio if continuous is None else continuous,
                       "uncertainty": {"plus_minus": plus_minus, "steps_kind": "bracket"},
                       "reference_density": density},
        "spectrum": {"hessian_samples": {"used": used, "total": total}},
    }


PREDICTED = [GateRule("ρ* ≥ 0.75", use="predicted", min_ratio=0.75)]


def test_the_failure_line_shows_the_conservative_side_arithmetic():
    passed = evaluate_gate(_report(0.84, 0.01), PREDICTED)
    assert passed.passed
    assert passed.outcomes[0].reason == "ρ* 0.8400 − 0.0100 = 0.8300 >= required 0.7500"
    failed = evaluate_gate(_report(0.6441, 0.1945), [GateRule("r", use="predicted", min_ratio=0.5)])
    assert failed.reason == "r: ρ* 0.6441 − 0.1945 = 0.4496 < required 0.5000"
    exact = evaluate_gate(_report(0.84, 0.0), PREDICTED)
    assert exact.outcomes[0].reason == "ρ* 0.8400 − 0 = 0.8400 >= required 0.7500"
    measured = {**_report(0.84, 0.01), "actual": {"loss_ratio": 0.6}}
    assert evaluate_gate(measured, [GateRule("m", "actual", min_ratio=0.5)]).outcomes[0].reason == \
        "actual limit 0.6000 >= required 0.5000"


def test_a_tolerance_warning_read_from_a_report_puts_its_remedy_where_it_applies():
    """gate/verify/prune --from b.json repeated b.json's "ρ* = 81.7 % ± 9.0 pt is not within
    the tolerance 0.05 …, which needs more Lanczos steps (a larger --max-hvps)", a flag those
    commands refuse beside --from. It now says, as the rule's fix does, to raise it when
    storing b.json or to drop --from; once only, when the report read was itself written by
    a --from run; other warnings, and a report read without a source, are left as they are."""
    from prunelimit.errors import options_named
    from prunelimit.gate_rules import recorded_warnings

    missed = ("ρ* = 81.7 % ± 9.0 pt is not within the tolerance 0.05 (5 pt): the product budget (--max-hvps 100) "
              "ran out; the largest part is steps, which needs more Lanczos steps (a larger --max-hvps)")
    report = {"warnings": [missed, "the model is not at a minimum of the analysis loss"]}
    with options_named(_flag):
        told = recorded_warnings(report, "b.json")
        again = recorded_warnings({"warnings": list(told)}, "v.json")
    assert told == (f"{missed} when storing b.json, or drop --from", report["warnings"][1])
    assert again == told
    assert recorded_warnings(report) == tuple(report["warnings"])


def test_a_subset_note_read_from_a_report_puts_its_remedy_where_it_applies():
    """gate/verify/prune --from b.json repeated b.json's "curvature over 300 of 1,437 samples: …;
    --hessian-samples all takes every sample", a flag those commands refuse beside --from
    (exit 2), while the gate rule's fix in the same output said "pass --hessian-samples all
    when storing b.json, or drop --from". The note now says so too, once."""
    from prunelimit.errors import options_named
    from prunelimit.gate_rules import recorded_warnings

    note = ("curvature over 300 of 1,437 samples: the ± holds the scatter between such subsets, not the shift a "
            "Hessian over fewer samples gives ρ* (measured in docs/accuracy.md); --hessian-samples all takes every sample")
    with options_named(_flag):
        told = recorded_warnings({"warnings": [note]}, "b.json")
        again = recorded_warnings({"warnings": list(told)}, "v.json")
    assert told == (f"{note} when storing b.json, or drop --from",)
    assert again == told
    assert recorded_warnings({"warnings": [note]}) == (note,)  # no source: the run's own words


@pytest.mark.parametrize("min_ratio, shown", [
    (0.77193476, "0.81884158 − 0.04690882 = 0.77193276 < required 0.77193476"),
    (0.7719345, "0.8188416 − 0.0469088 = 0.7719328 < required 0.7719345"),
    (0.7719327586781712, "0.8188 − 0.0469 = 0.7719 >= required 0.7719"),
    # within the float resolution (gate_rules.RESOLVED): another runner's rounding, no fail
    (0.7719327586781712 + 9e-7, "0.8188 − 0.0469 = 0.7719 >= required 0.7719"),
])
def test_a_fail_shown_to_more_decimals_shows_its_plus_minus_to_them_too(min_ratio, shown):
    """gate --min-ratio 0.77193276 on ρ* 0.8188415762621546 ± 0.04690881758398341 (adaptive
    SLQ, --tolerance 0.05) read "ρ* 0.818841576 − 0.0469 = 0.771932759 < required
    0.771932760": the value and the conservative side to the 9 decimals that part the fail
    from its requirement, the ± to 4, and the subtraction shown did not hold. The requirement
    exactly at the conservative side passes, and one within the float resolution past it
    (a fail now lies more than 1e-6 from its requirement: the cases are 2e-6 and 1.7e-6)."""
    outcome = evaluate_gate(_report(0.8188415762621546, 0.04690881758398341),
                            [GateRule("r", use="predicted", min_ratio=min_ratio)]).outcomes[0]
    assert outcome.reason == f"ρ* {shown}"


@pytest.mark.parametrize("plus_minus, shown", [
    (0.00004, "0.840000 − 0.000040 = 0.839960"),
    (0.000123, "0.84000 − 0.00012 = 0.83988"),
    (0.0000000001, "0.840000 − < 0.000001 = 0.840000"),
])
def test_a_small_nonzero_plus_minus_is_never_shown_as_zero(plus_minus, shown):
    """Four fixed decimals printed a ± of 4e-5 as "− 0.0000": the ± is shown to two
    significant digits and the value and its conservative side to the same decimal."""
    outcome = evaluate_gate(_report(0.84, plus_minus), PREDICTED).outcomes[0]
    assert outcome.reason.startswith(f"ρ* {shown} >= required 0.75")
    assert outcome.compared == pytest.approx(0.84 - plus_minus)


def test_a_subsampled_curvature_has_no_conservative_side():
    """The ± of a Hessian over a subset holds the scatter between subsets, not the shift the
    subset gives ρ* (0.836 on 15 samples against 0.682 on all 600 in the review): the rule
    fails and says how to gate on the full data."""
    result = evaluate_gate(_report(0.8364, 0.0107, used=15, total=600), PREDICTED)
    assert not result.passed
    assert "over 15 of 600 samples" in result.reason and "--hessian-samples all" in result.reason
    assert margin(_report(used=600, total=600))[0] == 0.01
    lower = evaluate_gate(_report(0.95, 0.001, used=8192, total=50000), [GateRule("r", min_ratio=0.5)])
    assert not lower.passed and "8,192 of 50,000" in lower.reason


@pytest.mark.parametrize("report", [_report(0.8364, 0.0107, used=15, total=600),  # a subset's ±
                                    _report(0.44, 0.15, density={"aliased": True, "weight_moved": 0.336}),  # paper
                                    {**_report(0.5), "prediction": {"ratio": 0.5}}])  # an older report: none stated
def test_min_ratio_zero_holds_on_an_incomplete_plus_minus(report):
    """No ratio lies below 0, so ``min_ratio: 0`` (a gate run for its report, as ``auto`` on
    16,384 samples or more subsamples under SLQ) holds whatever the ±: it failed when the ±
    was incomplete, 'cannot be shown to clear 0.0000'. Above 0 such a rule still fails."""
    for use, name in (("lower", "ρ_L"), ("predicted", "ρ*")):
        outcome = evaluate_gate(report, [GateRule("r", use, min_ratio=0.0)]).outcomes[0]
        assert outcome.passed and outcome.fix is None and outcome.compared is None
        assert outcome.reason.startswith(f"{name} ") and ">= required 0.0000, as every ratio is" in outcome.reason
        assert not evaluate_gate(report, [GateRule("r", use, min_ratio=0.01)]).passed


def test_the_paper_grid_error_outside_the_plus_minus_has_no_conservative_side():
    aliased = {"aliased": True, "weight_moved": 0.336}
    result = evaluate_gate(_report(0.44, 0.15, density=aliased), [GateRule("r", min_ratio=0.18)])
    assert not result.passed and "aliases onto the grid" in result.reason and "--method slq" in result.reason
    off_grid = evaluate_gate(_report(0.50, 0.01, density={"aliased": False, "weight_moved": 0.0},
                                     continuous=0.45), [GateRule("r", min_ratio=0.1)])
    assert not off_grid.passed and "lies 0.0500 from the continuous ρ*" in off_grid.reason
    slight = {"aliased": True, "weight_moved": 0.001}  # below the warning's threshold: the ± stands
    assert evaluate_gate(_report(0.50, 0.01, density=slight, continuous=0.505), [GateRule("r", min_ratio=0.1)]).passed


def test_a_measured_limit_and_a_baseline_rule_need_no_plus_minus(tmp_path):
    report = {**_report(0.8, 0.01, used=15, total=600), "actual": {"loss_ratio": 0.6}}
    assert evaluate_gate(report, [GateRule("r", use="actual", min_ratio=0.6)]).passed
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(_report(0.82)), encoding="utf-8")
    assert evaluate_gate(report, [GateRule("r", use="predicted", baseline=str(baseline), max_drop=0.05)]).passed


def test_a_plus_minus_wider_than_the_value_leaves_zero_and_min_ratio_zero_always_holds():
    """A ratio is never below 0: ``min_ratio: 0`` (or a YAML ``-0.0``) passes on a complete ±
    wider than the value, whose conservative side is 0, not a negative ratio."""
    for required in (0.0, -0.0):
        outcome = evaluate_gate(_report(ratio=0.05, plus_minus=0.2), [GateRule("r", "predicted", min_ratio=required)])
        assert outcome.passed
        assert outcome.outcomes[0].reason == "ρ* 0.0500 − 0.2000 = 0.0000 >= required 0.0000"
    assert not evaluate_gate(_report(ratio=0.05, plus_minus=0.2), [GateRule("r", "predicted", min_ratio=0.01)]).passed


def test_a_max_drop_inside_the_noise_of_the_difference_is_warned_about():
    """Two SLQ estimates of one model (another --tolerance: ± 0.04 and ± 0.03) differ by
    noise up to √(0.04² + 0.03²) = 0.05: a ``max_drop`` below that is warned about, the
    verdict kept; exact spectra (± 0), incomplete ± and measured limits are not."""
    from prunelimit.gate_rules import resolution_notes

    baselines = [("b.json", _report(0.80, 0.04))]
    tight = GateRule("tight", use="predicted", baseline="b.json", max_drop=0.02)
    notes = resolution_notes(_report(0.79, 0.03), baselines, [tight])
    assert notes == ["gate rule 'tight': max_drop 0.02 is within the noise of the difference (± 0.0500 from the "
                     "stated ± 0.0400 of b.json and 0.0300 here), so the verdict can flip on estimation noise alone; "
                     "allow a larger drop or make both ± smaller (a smaller --tolerance, or --method exact)"]
    assert resolution_notes(_report(0.79, 0.03), baselines, [GateRule("r", baseline="b.json", max_drop=0.06)]) == []
    # a report its --max-hvps stopped narrows with a larger one, not a smaller --tolerance (it was told that)
    budgeted = _report(0.79, 0.03)
    budgeted["spectrum"] = {**budgeted.get("spectrum", {}), "stopped_by": "max-hvps"}
    assert resolution_notes(budgeted, baselines, [tight])[0].endswith(
        "(a larger --max-hvps here, a smaller --tolerance for b.json, or --method exact)")
    assert resolution_notes(_report(0.79, 0.0), [("b.json", _report(0.80, 0.0))], [tight]) == []
    assert resolution_notes(_report(0.79, 0.03, used=15, total=600), baselines, [tight]) == []
    measured = GateRule("m", use="actual", baseline="b.json", max_drop=0.0)
    assert resolution_notes(_report(0.79, 0.03), baselines, [measured]) == []


@pytest.mark.parametrize("uncertainty", [None, {"plus_minus": None, "steps_kind": "bracket"}, "absent"])
def test_a_baseline_without_a_plus_minus_is_compared_as_it_stands_and_says_so(tmp_path, uncertainty):
    """A baseline from an older prunelimit states no ± (no ``prediction.uncertainty``, or
    ``plus_minus: null``): the drop is judged on the values alone, and a warning says that
    its noise is not allowed for (it was skipped in silence)."""
    from prunelimit.gate_rules import resolution_notes

    old = _report(0.80, 0.0)
    if uncertainty == "absent":
        del old["prediction"]["uncertainty"]
    else:
        old["prediction"]["uncertainty"] = uncertainty
    rule = GateRule("drop", use="predicted", baseline="b.json", max_drop=0.05)
    notes = resolution_notes(_report(0.79, 0.03), [("b.json", old)], [rule])
    assert notes == ["gate rule 'drop': baseline b.json states no complete ± for its value (the report states none): "
                     "the drop is judged on the two values as they stand, with no allowance for its estimation noise; "
                     "store a new baseline with `prunelimit bounds --json` to have it judged"]
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(old), encoding="utf-8")
    rule = GateRule("drop", use="predicted", baseline=str(baseline), max_drop=0.01)
    assert evaluate_gate(_report(0.79, 0.03), [rule]).passed  # 0.80 − 0.79 = 0.01: the values as they stand
    assert not evaluate_gate(_report(0.78, 0.03), [rule]).passed


@pytest.mark.parametrize("use", ["lower", "predicted", "actual"])
def test_a_value_exactly_at_its_threshold_passes_despite_float_rounding(tmp_path, use):
    """At the threshold a rule passes ("at least", "within"), also where the subtraction
    that makes the threshold rounds the wrong way: 0.8 − 0.1 = 0.7000000000000001 and
    0.3 − 0.1 = 0.19999999999999998 in floats, which failed a drop of exactly 0.1 and a
    conservative side of exactly 0.2 while printing "0.1000 exceeds 0.1000"."""
    def report(ratio: float, plus_minus: float = 0.0) -> dict:
        return {**_report(ratio, plus_minus), "bounds": {"lower": ratio}, "actual": {"loss_ratio": ratio}}

    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(report(0.8)), encoding="utf-8")
    drop = evaluate_gate(report(0.7), [GateRule("r", use, baseline=str(baseline), max_drop=0.1)])
    assert drop.passed and drop.outcomes[0].reason.endswith("drop +0.1000 within 0.1000")
    ratio, plus_minus = (0.2, 0.0) if use == "actual" else (0.3, 0.1)  # a measured limit has no ±
    at = evaluate_gate(report(ratio, plus_minus), [GateRule("r", use, min_ratio=0.2)])
    assert at.passed and ">= required 0.2000" in at.outcomes[0].reason
    # one step of the 4 printed decimals below still fails
    assert not evaluate_gate(report(0.6999), [GateRule("r", use, baseline=str(baseline), max_drop=0.1)]).passed
    assert not evaluate_gate(report(ratio - 0.0001, plus_minus), [GateRule("r", use, min_ratio=0.2)]).passed


def test_each_outcome_records_the_value_it_held_against_the_threshold(tmp_path):
    """The JSON's ``measured`` is ρ_L as stated; a min_ratio rule compares it less its ±:
    ``compared`` carries that number, so ``compared >= threshold`` is the verdict (0.489 ≥ 0.48
    alone would read as a pass of a rule that failed), ``None`` when no complete ± exists."""
    from prunelimit.api.gating import GateReport

    result = evaluate_gate(_report(0.589, 0.0157), [GateRule("r", min_ratio=0.48)])
    rule = GateReport(result, {}, False, 0.0).to_json()["rules"][0]
    assert rule["measured"] == pytest.approx(0.489) and rule["threshold"] == 0.48 and rule["passed"] is False
    assert rule["compared"] == pytest.approx(0.489 - 0.0157)
    assert evaluate_gate(_report(used=15), PREDICTED).outcomes[0].compared is None
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(_report(0.84)), encoding="utf-8")
    drop = evaluate_gate(_report(0.83), [GateRule("b", "predicted", baseline=str(baseline), max_drop=0.02)])
    assert drop.outcomes[0].compared == 0.83 and drop.outcomes[0].threshold == pytest.approx(0.82)


@pytest.mark.parametrize("inner", ["prunelimit.bounds/1", "prunelimit.verify/1"])
def test_a_gate_report_is_a_baseline_of_the_result_it_stood_on(tmp_path, inner):
    """What a CI job keeps of its last run is the gate's own --json: its ``bounds`` document
    (with the provenance the compatibility check reads) is the baseline; a gate report whose
    inner document is of another schema stays refused."""
    from prunelimit.gate_rules import baseline_reports

    path = tmp_path / "gate.json"
    result = {"schema": inner, **_report(0.8), "actual": {"loss_ratio": 0.7}, "params": {"hessian": 5}}
    path.write_text(json.dumps({"schema": "prunelimit.gate/1", "passed": True, "measured": 0.1, "bounds": result}),
                    encoding="utf-8")
    rules = check_rules([GateRule("r", use, baseline=str(path), max_drop=0.05) for use in ("predicted", "actual")])
    now = {**_report(0.78), "actual": {"loss_ratio": 0.69}}
    assert [o.baseline for o in evaluate_gate(now, rules).outcomes] == [0.8, 0.7]
    assert baseline_reports(rules) == [(str(path), result)]
    path.write_text(json.dumps({"schema": "prunelimit.gate/1", "bounds": {**result, "schema": "prunelimit.bounds/2"}}),
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"is a prunelimit.gate/1 report whose bounds, the result it stood on, is a "
                                         r"'prunelimit.bounds/2' document, not one of"):
        check_rules(rules)


@pytest.mark.parametrize("schema", ["prunelimit.bounds/2", "prunelimit.spectrum/1", "prunelimit.gate/1", 7])
def test_a_baseline_of_another_schema_is_refused_before_any_work(tmp_path, schema):
    """A newer schema may mean other things by the same keys, and another command's document
    is no limit report: exit 3 naming what it is, though the fields read would be there."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema": schema, **_report(0.8), "actual": {"loss_ratio": 0.7}}), encoding="utf-8")
    for use in ("lower", "actual"):
        # a gate report is named by what its bounds holds: here the bounds section of a bounds report
        with pytest.raises(InputError, match=r"is a ('.*' document|prunelimit.gate/1 report whose bounds, the result it "
                                             r"stood on, is without its schema), not one of prunelimit.bounds/1"):
            check_rules([GateRule("r", use, baseline=str(path), max_drop=0.1)])
    for schema in ("prunelimit.bounds/1", "prunelimit.verify/1", None):  # None: hand-written, read as it stands
        path.write_text(json.dumps({"schema": schema, **_report(0.8)}), encoding="utf-8")
        assert check_rules([GateRule("r", "lower", baseline=str(path), max_drop=0.1)])


@pytest.mark.parametrize("content, said", [
    ("", "is empty"),
    ("\n", "is empty"),
    ('{"schema": "prunelimit.bounds/1", "bounds": {"lower": 0.8', "ends before its JSON does"),
])
def test_a_baseline_written_half_way_is_named_so(tmp_path, content, said):
    """An empty or cut-off baseline (a job that failed while writing it, or `gate ... --baseline
    b.json --json > b.json`, which the shell empties first) says which, not only 'not valid JSON'."""
    from prunelimit.gate_rules import read_report

    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(InputError, match=said) as caught:
        read_report(path)
    assert "prunelimit bounds --json" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("value", [True, False, "0.5", float("nan"), 0.5 + 0j, [0.5]])
@pytest.mark.parametrize("key", ["min_ratio", "max_drop"])
def test_a_flag_that_is_no_ratio_is_refused_by_its_name_not_by_a_rule_named_after_it(key, value):
    """``min_ratio=True`` named no rule 'lower ratio >= True': the option is refused as such
    (the command line says its flag), whatever the other flags are."""
    given = {"min_ratio": None, "baseline": "b.json", "max_drop": None, key: value}
    with pytest.raises(UsageError) as caught:
        rules_from_options(given["min_ratio"], "lower", given["baseline"], given["max_drop"])
    said = caught.value.renamed(_flag)
    assert said.startswith(f"{_flag(key)} must be a ratio in [0, 1], got {value!r}") and "gate rule" not in said


@pytest.mark.parametrize("value", [np.float32(0.5), np.int64(1), Fraction(1, 2), np.float64(0.25)])
def test_any_real_ratio_is_taken_as_a_float(value):
    """A NumPy scalar or a Fraction is a number: taken, and held as a float (its JSON and its name)."""
    rule, = rules_from_options(value, "lower", None, None)
    assert type(rule.min_ratio) is float and rule.min_ratio == float(value)
    assert rule.name == f"lower ratio >= {float(value)!r}"
    policy, = rules_from_options(None, "lower", None, None, [{"min_ratio": value}])
    assert type(policy.min_ratio) is float and policy.min_ratio == float(value)


@pytest.mark.parametrize("line", ["min_ratio: true", "max_drop: false", "gate:\n  min_ratio: yes", "seed: true",
                                  "iterations: on"])
def test_a_yaml_boolean_for_a_numeric_option_is_refused(cli, tmp_path, line):
    """``min_ratio: true`` in --config was read as 1 (so a gate demanded ρ ≥ 1); a boolean is
    no number for any numeric option: exit 2 naming the key, before any work."""
    config = tmp_path / "c.yaml"
    config.write_text(line + "\n", encoding="utf-8")
    key = line.split(":")[-2].split()[-1]
    result = cli("gate", tmp_path / "absent.pt", "--config", config)
    assert result.exit_code == 2
    assert f"{key} must be a number, not a YAML boolean" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("value", [True, 3, ""])
def test_a_baseline_that_is_no_file_name_is_refused_by_its_name(value):
    """``baseline=True`` named a rule 'drop vs True <= 0.1' and an empty one (a policy's
    ``baseline: ""``) was read as the folder '.'; both are refused as the option, from the
    flags and from a policy alike."""
    with pytest.raises(UsageError) as caught:
        rules_from_options(None, "lower", value, 0.1)
    assert caught.value.renamed(_flag) == f"--baseline must be a file name, got {value!r}"
    with pytest.raises(UsageError, match=f"gate rule 'rule 1': baseline must be a file name, got {value!r}"):
        rules_from_options(None, "lower", None, None, [{"baseline": value, "max_drop": 0.1}])


def test_the_gates_reason_names_each_rule_that_failed():
    """Two policy rules on one value failed with one reason each and no names ('lower ratio
    0.8590 − 0 = 0.8590 < required 0.9000; ρ_L ... < required 0.9500'): a CI log
    reading ``reason`` could not tell which rule of the policy failed."""
    rules = [GateRule("floor", min_ratio=0.9), GateRule("kept", min_ratio=0.5), GateRule("stretch", min_ratio=0.95)]
    result = evaluate_gate(_report(0.959, 0.0), rules)  # ρ_L 0.859
    assert result.reason == ("floor: ρ_L 0.8590 − 0 = 0.8590 < required 0.9000; "
                             "stretch: ρ_L 0.8590 − 0 = 0.8590 < required 0.9500")


def test_a_failed_rule_says_what_to_do_and_a_passed_one_nothing():
    """A failing rule named the numbers but not the way out, so a CI reader had to know that
    a stated ± can be narrowed, that the requirement is above what the model reaches, or that
    a baseline is stored anew on purpose; each failed outcome now carries its fix."""
    from prunelimit.errors import options_named

    with options_named(_flag):
        noise = evaluate_gate(_report(0.6441, 0.1945), [GateRule("r", use="predicted", min_ratio=0.5)])
        below = evaluate_gate(_report(0.84, 0.0), [GateRule("r", use="predicted", min_ratio=0.9)])
        held = evaluate_gate(_report(0.84, 0.0), PREDICTED)
        base = {**_report(0.90, 0.0), "schema": "prunelimit.bounds/1"}
        drop = evaluate_gate(_report(0.84, 0.0), [GateRule("r", use="predicted", baseline="b.json", max_drop=0.01)],
                             [("b.json", base)])
    # ρ* 0.6441 clears 0.5, its conservative side 0.4496 does not: only a narrower ± helps
    assert "its stated ± 0.1945" in noise.outcomes[0].fix and "--tolerance" in noise.outcomes[0].fix
    # 0.84 itself is short of 0.9: require at most what the model reaches, or make it more prunable
    assert "--min-ratio 0.84" in below.outcomes[0].fix and "--l1" in below.outcomes[0].fix
    assert held.outcomes[0].fix is None
    # a fall of 0.06 against b.json: a change to look for, or a new baseline stored on purpose
    assert "b.json" in drop.outcomes[0].fix and "--max-drop" in drop.outcomes[0].fix


@pytest.mark.parametrize("use", ["lower", "predicted", "actual"])
def test_a_requirement_a_hair_above_the_value_is_shown_apart_and_the_fix_passes(tmp_path, use):
    """ρ_L 0.8589709701 against --min-ratio 0.859 (the value as the log prints it) failed as
    "0.8590 − 0 = 0.8590 < required 0.8590", and its fix said to require at most
    ``--min-ratio 0.859``: the very value that failed (rounded up). The line now shows the
    decimals that tell the two apart, and the fix's value passes the rule it fixes."""
    from prunelimit.errors import options_named

    value = 0.8589709701047918
    report = {**_report(value, 0.0), "bounds": {"lower": value}, "actual": {"loss_ratio": value}}
    with options_named(_flag):
        failed = evaluate_gate(report, [GateRule("r", use, min_ratio=0.859)]).outcomes[0]
    assert not failed.passed
    shown = failed.reason.split("< required ")
    assert len(shown) == 2 and shown[0].split()[-1] != shown[1], failed.reason
    suggested = float(failed.fix.split("--min-ratio ")[1].split(")")[0])
    assert evaluate_gate(report, [GateRule("r", use, min_ratio=suggested)]).passed
    assert suggested == 0.8589


def test_a_drop_a_hair_past_max_drop_is_shown_apart(tmp_path):
    """A fall of 0.02000004 against --max-drop 0.02 read "drop +0.0200 exceeds 0.0200"
    (a fall past it by the float resolution, gate_rules.RESOLVED, or less passes: 0.02001 here)."""
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(_report(0.84, 0.0)), encoding="utf-8")
    failed = evaluate_gate(_report(0.81999, 0.0),
                           [GateRule("r", "predicted", baseline=str(baseline), max_drop=0.02)]).outcomes[0]
    assert not failed.passed
    drop, limit = failed.reason.split("drop ")[1].split(" exceeds ")
    assert float(drop) != float(limit), failed.reason


def test_a_report_on_standard_input_or_gzipped_is_named_as_such(cli, tmp_path, monkeypatch):
    """``--from -`` (or ``--baseline -``) read "bounds report - not found", and a gzipped
    report (a CI artifact kept compressed) "is not valid JSON": neither said what to do. Each
    now names what it is and the fix, one line, exit 3."""
    import gzip

    from prunelimit.gate_rules import read_report

    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="standard input") as caught:
        read_report("-", "bounds report")
    assert "prunelimit bounds --json > b.json" in str(caught.value)
    packed = tmp_path / "b.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(_report()).encode()))
    with pytest.raises(InputError, match="gzip") as caught:
        read_report(packed)
    assert "gunzip" in str(caught.value) and "\n" not in str(caught.value)
    example = Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt"
    result = cli("gate", example, "--from", "-", "--min-ratio", "0.5")
    assert result.exit_code == 3 and "standard input" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_report_saved_as_utf16_is_read(tmp_path, encoding):
    """Windows PowerShell 5's ``prunelimit bounds --json > b.json`` writes UTF-16 with a byte
    order mark: the report was refused as "not valid JSON", though nothing in it was wrong."""
    import codecs

    from prunelimit.gate_rules import read_report

    text = json.dumps(_report())
    bom = {"utf-16": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding]
    path = tmp_path / "b.json"
    path.write_bytes(bom + text.encode(encoding))
    assert read_report(path) == _report()


def test_a_failed_rule_written_in_a_file_names_its_key_there_not_a_flag(tmp_path):
    """A policy's rule (or a --config file's min_ratio/max_drop) that failed said to pass
    ``--min-ratio 0.8589``, where its reader edits ``min_ratio: 0.8589`` in the file; a rule
    from the flags still names its flag."""
    from prunelimit.errors import options_named

    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(_report(0.84, 0.0)), encoding="utf-8")
    policy = [{"name": "floor", "min_ratio": 0.9, "use": "predicted"},
              {"name": "drop", "baseline": str(baseline), "max_drop": 0.01, "use": "predicted"}]
    with options_named(_flag):
        from_file = rules_from_options(None, "predicted", None, None, policy, config="ci/gate.yaml")
        floor, drop = evaluate_gate(_report(0.8, 0.0), from_file).outcomes
        assert "(min_ratio: 0.8 in ci/gate.yaml)" in floor.fix and "--min-ratio" not in floor.fix
        assert "a larger max_drop in ci/gate.yaml" in drop.fix and "--max-drop" not in drop.fix
        # the same keys at the file's top level: the key, in that file
        top = rules_from_options(0.9, "predicted", str(baseline), 0.01, config="ci/gate.yaml",
                                 config_options=("min_ratio", "max_drop"))
        assert [o.fix for o in evaluate_gate(_report(0.8, 0.0), top).outcomes] == [floor.fix, drop.fix]
        flags = rules_from_options(0.9, "predicted", str(baseline), 0.01, config="ci/gate.yaml")
        floor, drop = evaluate_gate(_report(0.8, 0.0), flags).outcomes
        assert "(--min-ratio 0.8)" in floor.fix and "a larger --max-drop" in drop.fix


@pytest.mark.parametrize("edit, field", [
    (lambda u: u.update(plus_minus="0.01"), "prediction.uncertainty.plus_minus"),
    (lambda u: u.update(plus_minus=-0.01), "prediction.uncertainty.plus_minus"),
    (None, "prediction.uncertainty"),
])
def test_a_baseline_whose_plus_minus_is_of_the_wrong_type_is_refused_as_from_refuses_it(tmp_path, edit, field):
    """A baseline's ± edited to text, a negative number or a bare number was warned about as
    "states no complete ±" and the drop judged anyway, where --from refuses the same damage:
    refused alike (exit 3, naming the file and the field), before any curvature work. A ±
    stated as null (an older report) is still compared with that warning."""
    document = _report(0.84, 0.01)
    if edit is None:
        document["prediction"]["uncertainty"] = 0.01
    else:
        edit(document["prediction"]["uncertainty"])
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        check_rules([GateRule("r", "predicted", baseline=str(baseline), max_drop=0.1)])
    assert f"baseline {baseline}: {field} is" in str(caught.value) and "\n" not in str(caught.value)
    document["prediction"]["uncertainty"] = {"plus_minus": None}
    baseline.write_text(json.dumps(document), encoding="utf-8")
    assert check_rules([GateRule("r", "predicted", baseline=str(baseline), max_drop=0.1)])


@pytest.mark.parametrize("spectrum, how", [
    ({"stopped_by": "max-hvps", "choice": {"adaptive": True}}, "a larger --max-hvps, or --method exact"),
    ({"stopped_by": "time-budget", "choice": {"adaptive": True}}, "a larger --time-budget, or --method exact"),
    ({"stopped_by": "memory", "choice": {"adaptive": True}},
     "a narrower --basis-dtype, a larger --basis-memory or more host memory, or --method exact"),
    ({"stopped_by": None, "solver": "slq-h", "choice": {"adaptive": False}},
     "a larger --iterations or --runs, or --method exact"),
    ({"stopped_by": "tolerance", "choice": {"adaptive": True}}, "a smaller --tolerance, or --method exact"),
])
def test_a_plus_minus_that_leaves_the_conservative_side_short_is_narrowed_by_what_stopped_it(spectrum, how):
    """Measured: ``gate --method slq --max-hvps 1 --min-ratio 0.1 --use predicted`` (ρ* 0.27 ± 1)
    said to narrow the ± with a smaller --tolerance, which neither a budget that stopped the
    runs short of it nor a fixed plan, which never reads it, narrows. The fix names the option
    that would: the budget that ran out, or the fixed plan's steps and probes."""
    report = _report(0.84, 0.2)
    report["spectrum"].update(spectrum)
    outcome = evaluate_gate(report, PREDICTED).outcomes[0]
    assert not outcome.passed
    assert outcome.fix == f"its stated ± 0.2000 leaves the conservative side short: narrow it ({how})"


@pytest.mark.parametrize("source, fix", [("b.json", "store the report again with `prunelimit bounds --json`"),
                                         (None, "compute it with `prunelimit bounds`")])
def test_an_unknown_truncation_part_is_fixed_by_computing_the_report_again(source, fix) -> None:
    """Only a saved report states the truncation part unknown (``steps_kind`` none: every run
    bounds it), and no option of the run reading it changes that: the fix said "give more
    --iterations", refused beside --from. It now says to compute the report again, as a
    report stating no ± is told."""
    doc = {"prediction": {"ratio": 0.5, "uncertainty": {"plus_minus": 0.01, "steps_kind": "none"}}}
    assert margin(doc, source) == (None, "the Lanczos truncation part is unknown", fix)
