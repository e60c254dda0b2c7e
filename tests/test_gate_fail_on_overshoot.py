"""``gate --fail-on-overshoot``: a rule on ρ_L or ρ* fails where the overshoot check measured
that value past the limit one-shot pruning reaches. Without it a plainly trained model whose
ρ_L clears ``--min-ratio`` passes with a warning (exit 0), and a CI job could tell only by
reading the JSON (``jq -e '.overshoot.lower | not'``); with it the gate exits 1, the rule's
reason says what was measured, and its fix names the measured limit to gate on."""

from __future__ import annotations

import contextlib
import json

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError, library_call
from prunelimit.gate_rules import GateRule, evaluate_gate, rules_from_options
from tests.conftest import SPEC


def _report(lower: bool | None, predicted: bool | None) -> dict:
    """A bounds report (ρ* 0.4630, ρ_L 0.3357, exact: ± 0) with the overshoot check's flags as given."""
    return {"bounds": {"lower": 0.3357}, "regime": {"l1_shaped": False},
            "prediction": {"ratio": 0.4630, "uncertainty": {"plus_minus": 0.0}},
            "overshoot": {"lower": lower, "predicted": predicted}}


@pytest.mark.parametrize("use", ["lower", "predicted"])
def test_a_rule_that_clears_its_requirement_fails_on_its_own_overshoot(use) -> None:
    (outcome,) = evaluate_gate(_report(True, True), [GateRule("r", use, min_ratio=0.3, fail_on_overshoot=True)]).outcomes
    past = "ρ_L lies" if use == "lower" else "ρ* lies more than 5 points"
    assert not outcome.passed
    assert outcome.reason.endswith(f", but {past} past the limit one-shot pruning reaches (overshoot.{use} is true), "
                                   "which --fail-on-overshoot fails")
    assert outcome.fix.startswith("gate on the measured limit (--use actual), or make the model more prunable")
    # the same rule without it passes, as before
    (kept,) = evaluate_gate(_report(True, True), [GateRule("r", use, min_ratio=0.3)]).outcomes
    assert kept.passed and kept.fix is None and outcome.reason.startswith(kept.reason)


@pytest.mark.parametrize("flags", [(False, False), (None, None), "no check"])
def test_a_prediction_not_measured_past_the_limit_passes(flags) -> None:
    # within the limit, not measured (null, as jq's '| not' passes it), or an older report without the check
    report = {**_report(True, True), "overshoot": None} if flags == "no check" else _report(*flags)
    rules = [GateRule("a", "lower", min_ratio=0.3, fail_on_overshoot=True),
             GateRule("b", "predicted", min_ratio=0.3, fail_on_overshoot=True)]
    assert evaluate_gate(report, rules).passed


def test_each_rule_reads_its_own_flag() -> None:
    # ρ* alone lies past the limit: the rule on ρ_L stands, the one on ρ* fails
    lower, predicted = evaluate_gate(_report(False, True), [
        GateRule("a", "lower", min_ratio=0.3, fail_on_overshoot=True),
        GateRule("b", "predicted", min_ratio=0.3, fail_on_overshoot=True)]).outcomes
    assert lower.passed and not predicted.passed


def test_a_rule_failing_already_keeps_its_fix_and_a_baseline_rule_fails_too(tmp_path) -> None:
    (short,) = evaluate_gate(_report(True, True), [GateRule("r", min_ratio=0.4, fail_on_overshoot=True)]).outcomes
    assert not short.passed and short.fix.startswith("ρ_L less its ± is only 0.3357, and ρ_L lies past the limit")
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps(_report(True, True)))
    (drop,) = evaluate_gate(_report(True, True), [GateRule("d", baseline=str(baseline), max_drop=0.01,
                                                           fail_on_overshoot=True)]).outcomes
    assert not drop.passed and "drop 0.0000 within" in drop.reason and "overshoot.lower is true" in drop.reason


def test_a_policy_rule_names_its_key_and_overrides_the_flag() -> None:
    policy = [{"name": "kept", "min_ratio": 0.3}, {"name": "own", "min_ratio": 0.3, "fail_on_overshoot": False},
              {"name": "measured", "min_ratio": 0.1, "use": "actual"}]
    rules = rules_from_options(None, "lower", None, None, policy, "ci.yaml", fail_on_overshoot=True)
    assert [rule.fail_on_overshoot for rule in rules] == [True, False, False]
    (outcome,) = evaluate_gate(_report(True, True), rules[:1]).outcomes
    assert outcome.reason.endswith("which fail_on_overshoot in ci.yaml fails")
    assert outcome.fix.startswith("gate on the measured limit (use: actual in ci.yaml)")
    with library_call():
        (named,) = evaluate_gate(_report(True, True), [GateRule("r", min_ratio=0.3, fail_on_overshoot=True)]).outcomes
    assert named.reason.endswith("which fail_on_overshoot= fails") and "(use='actual')" in named.fix


@pytest.mark.parametrize("given, message", [
    (dict(use="actual", policy=None), "fail_on_overshoot has no effect: every rule uses the measured limit "
                                      "(use='actual'), which does not overshoot; drop it, or gate on lower or predicted"),
    (dict(use="lower", policy=[{"min_ratio": 0.1, "use": "actual", "fail_on_overshoot": True}]),
     "gate rule 'rule 1': fail_on_overshoot has no effect on a rule on the measured limit (use actual)"),
    (dict(use="lower", policy=[{"min_ratio": 0.1, "fail_on_overshoot": "yes"}]),
     "gate rule 'rule 1': fail_on_overshoot must be true or false, got 'yes'"),
])
def test_a_setting_that_cannot_change_the_verdict_is_refused(given, message) -> None:
    with library_call(), pytest.raises(UsageError) as caught:
        rules_from_options(0.1 if given["policy"] is None else None, given["use"], None, None, given["policy"],
                           fail_on_overshoot=given["policy"] is None)
    assert str(caught.value).startswith(message)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A plainly trained MLP (Adam, no l1) on 300 digits, saved as a state dict: its ρ_L lies
    past the limit one-shot pruning reaches (``overshoot.lower`` true)."""
    from prunelimit.data.spec import load_dataset
    from prunelimit.models.spec import build_model
    from tests.conftest import adam_fit

    data = load_dataset("digits:train", max_samples=300)
    torch.manual_seed(0)
    model = adam_fit(build_model(SPEC), data.x, data.y, steps=200).eval()
    path = tmp_path_factory.mktemp("plain") / "plain.pt"
    torch.save(model.state_dict(), path)
    return model, (data.x, data.y), path


def test_the_command_line_gate_exits_1_on_a_plainly_trained_model(cli, plain, tmp_path) -> None:
    args = ("gate", plain[2], "--model", SPEC, "--data", "digits:train", "--max-samples", "300", "--min-ratio", "0.2",
            "--method", "exact", "--threads", "1", "--json")
    warned = cli(*args)
    assert warned.exit_code == 0, warned.output
    document = json.loads(warned.stdout)
    assert document["overshoot"]["lower"] is True and document["rules"][0]["fail_on_overshoot"] is False
    # the overshoot's warning names the way to fail the job on it, which the verdict alone does not
    assert [w for w in document["warnings"] if "past the limit" in w][0].endswith(
        "; `gate --fail-on-overshoot` makes a CI job fail on it")
    junit = tmp_path / "gate.xml"
    failed = cli(*args, "--fail-on-overshoot", "--junit", junit)
    assert failed.exit_code == 1, failed.output
    document = json.loads(failed.stdout)
    (rule,) = document["rules"]
    assert not rule["passed"] and rule["reason"].endswith("which --fail-on-overshoot fails")
    # a saved report says the verdict used it; its warning no longer offers it
    assert rule["fail_on_overshoot"] is True and not any("--fail-on-overshoot" in w for w in document["warnings"])
    assert rule["fix"].startswith("gate on the measured limit (--use actual)")
    assert "<failure" in junit.read_text() and "overshoot.lower is true" in junit.read_text()


def test_the_library_gate_takes_it_as_a_keyword(plain) -> None:
    model, data, _ = plain
    verdict = prunelimit.gate(model, data, min_ratio=0.2, method="exact", fail_on_overshoot=True)
    assert not verdict.passed and verdict.bounds["overshoot"]["lower"] is True
    assert "(use='actual')" in verdict.result.outcomes[0].fix


def test_each_rule_records_whether_it_failed_on_overshoot(plain) -> None:
    # a rule's own key false overrides the keyword: it passes over the overshoot, and the JSON says which did
    model, data, _ = plain
    verdict = prunelimit.gate(model, data, method="exact", fail_on_overshoot=True, rules=[
        {"name": "on", "min_ratio": 0.2}, {"name": "off", "min_ratio": 0.2, "fail_on_overshoot": False}])
    rules = verdict.to_json()["rules"]
    assert [(r["name"], r["passed"], r["fail_on_overshoot"]) for r in rules] == [("on", False, True), ("off", True, False)]
    # given already (rule 'off' turned it off with its own key): the warning does not offer it again
    advice = "; prunelimit.gate(..., fail_on_overshoot=True) fails the gate on it"
    assert not any(advice in w for w in verdict.warnings)
    # not given: the overshoot's warning names the keyword in a library caller's words
    (warning,) = [w for w in prunelimit.gate(model, data, min_ratio=0.2, method="exact").warnings if "past the limit" in w]
    assert warning.endswith(advice)


def test_a_config_files_key_is_named_where_it_was_set(cli, tmp_path, own_ckpt) -> None:
    config = tmp_path / "ci.yaml"
    config.write_text("gate:\n  fail_on_overshoot: true\n  use: actual\n  min_ratio: 0.1\n")
    result = cli("gate", own_ckpt, "--config", config, "--max-samples", "300")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"prunelimit: error: fail_on_overshoot in {config} has no effect: every rule "
                                    f"uses the measured limit (use: actual in {config})")


@pytest.mark.parametrize("library", [False, True])
def test_the_option_refused_where_each_rule_turned_it_off_says_so(library) -> None:
    # "every rule uses the measured limit" was said of a rule on lower that its own key kept from it
    policy = [{"name": "loose", "min_ratio": 0.1, "fail_on_overshoot": False}]
    with (library_call() if library else contextlib.nullcontext()), pytest.raises(UsageError) as caught:
        rules_from_options(None, "lower", None, None, policy, None if library else "ci.yaml", fail_on_overshoot=True)
    assert str(caught.value) == ("fail_on_overshoot has no effect: rule 'loose' sets its own 'fail_on_overshoot': "
                                 "False, which overrides it; drop it, or that key" if library else
                                 "--fail-on-overshoot has no effect: rule 'loose' in ci.yaml sets its own "
                                 "fail_on_overshoot: false, which overrides it; drop it, or that key")
    with pytest.raises(UsageError) as caught:  # beside a rule on the measured limit, both are said
        rules_from_options(None, "lower", None, None, [*policy, {"name": "m", "min_ratio": 0.1, "use": "actual"}],
                           fail_on_overshoot=True)
    assert "sets its own fail_on_overshoot: false, which overrides it, and every other rule uses the measured " \
           "limit, which does not overshoot; drop it" in str(caught.value)


def _drop_rule(baseline: str, use: str = "lower") -> GateRule:
    return GateRule("d", use, baseline=baseline, max_drop=0.01)


@pytest.mark.parametrize("form", ["bounds", "gate", "older", "not measured"])
def test_a_drop_against_a_baseline_that_overshot_says_so(tmp_path, form) -> None:
    # the baseline's ρ_L (0.45) was measured past its model's limit; the model now (ρ_L 0.3357) does not overshoot:
    # "find the change that made the model less prunable" was told of a fall the measured limits may not show
    from prunelimit.gate_rules import GATE_SCHEMA, baseline_overshoot_notes, baseline_reports

    stored = {**_report(True, True), "schema": "prunelimit.bounds/1", "bounds": {"lower": 0.45},
              "prediction": {"ratio": 0.55, "uncertainty": {"plus_minus": 0.0}}}
    if form == "gate":  # a gate --json report that failed on that overshoot, read as the result it stood on
        stored = {"schema": GATE_SCHEMA, "passed": False, "bounds": stored, "overshoot": stored["overshoot"],
                  "rules": [{"name": "r", "use": "lower", "passed": False, "fail_on_overshoot": True}]}
    elif form == "older":
        del stored["overshoot"]
    elif form == "not measured":
        stored["overshoot"] = {"lower": None, "predicted": None}
    path = tmp_path / "base.json"
    path.write_text(json.dumps(stored))
    rules = [_drop_rule(str(path)), _drop_rule(str(path), "predicted")]
    lower, predicted = evaluate_gate(_report(False, False), rules).outcomes
    notes = baseline_overshoot_notes(baseline_reports(rules), rules)
    assert not lower.passed and not predicted.passed
    if form in ("older", "not measured"):  # no check stated, as a rule's own null flag: nothing said
        assert notes == [] and lower.fix.startswith("find the change that made the model less prunable")
        return
    said = f"baseline {path}'s ρ_L lies past the limit one-shot pruning reaches (its overshoot.lower is true), so the " \
           "drop is judged against a value its model did not reach, and a fall of ρ_L may be no fall of the limit"
    assert lower.fix.startswith(f"{said}: compare the measured limits (--use actual, against a baseline stored with "
                                "`prunelimit verify --json`)")
    assert predicted.fix.startswith(f"baseline {path}'s ρ* lies more than 5 points past the limit")
    assert notes[0] == f"gate rule 'd': {said}; compare the measured limits (--use actual, against a baseline " \
                       "stored with `prunelimit verify --json`)"
    assert len(notes) == 2 and "overshoot.predicted is true" in notes[1]


def test_the_command_line_states_a_baseline_overshoot_in_every_output(cli, plain, tmp_path, monkeypatch) -> None:
    # a passing drop against a report of the same model: the verdict stands, the console, the JSON and JUnit say so
    monkeypatch.setenv("COLUMNS", "200")
    args = ("gate", plain[2], "--model", SPEC, "--data", "digits:train", "--max-samples", "300", "--method", "exact",
            "--threads", "1")
    baseline = tmp_path / "base.json"
    stored = cli(*args, "--min-ratio", "0.2", "--fail-on-overshoot", "--json")
    assert stored.exit_code == 1, stored.output
    baseline.write_text(stored.stdout)
    junit = tmp_path / "gate.xml"
    said = f"baseline {baseline}'s ρ_L lies past the limit one-shot pruning reaches (its overshoot.lower is true)"
    result = cli(*args, "--baseline", baseline, "--max-drop", "0.01", "--junit", junit, "--json")
    assert result.exit_code == 0, result.output
    assert any(w.startswith(f"gate rule 'drop vs {baseline} <= 0.01': {said}") for w in
               json.loads(result.stdout)["warnings"])
    assert said in junit.read_text()
    console = cli(*args, "--baseline", baseline, "--max-drop", "0.01")
    assert console.exit_code == 0 and f"warning: gate rule 'drop vs {baseline} <= 0.01': {said}" in \
        " ".join(console.stdout.split())


def test_the_overshoot_warning_offers_only_what_would_fail_the_gate(cli, plain, tmp_path) -> None:
    args = ("gate", plain[2], "--model", SPEC, "--data", "digits:train", "--max-samples", "300", "--method", "exact",
            "--threads", "1", "--json")

    def advice(config: str, exit_code: int = 0) -> str:
        path = tmp_path / "ci.yaml"
        path.write_text(config)
        result = cli(*args, "--config", path)
        assert result.exit_code == exit_code, result.output
        (warning,) = [w for w in json.loads(result.stdout)["warnings"] if "past the limit" in w]
        return warning.rpartition("`prunelimit train --l1 ...`)")[2]

    # a rule whose own key turned it off: the flag it offered would change nothing (the flag is refused then)
    assert advice("gate:\n  rules:\n    - {name: loose, min_ratio: 0.2, fail_on_overshoot: false}\n") == ""
    # set false in the file: its key there, not a flag the job's command line does not hold
    assert advice("gate:\n  fail_on_overshoot: false\n  min_ratio: 0.2\n") == \
        f"; fail_on_overshoot: true in {tmp_path / 'ci.yaml'} makes a CI job fail on it"
    # a rule that fails on it by its own key beside one the option would change: offered, for that one
    assert advice("gate:\n  rules:\n    - {name: strict, min_ratio: 0.1, use: predicted, fail_on_overshoot: true}\n"
                  "    - {name: plain, min_ratio: 0.2}\n"
                  "    - {name: own, min_ratio: 0.1, fail_on_overshoot: false}\n", exit_code=1) == \
        "; `gate --fail-on-overshoot` makes a CI job fail on it"
