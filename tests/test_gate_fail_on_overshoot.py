"""``gate --fail-on-overshoot``: a rule on ρ_L or ρ* fails where the overshoot check measured
that value past the limit one-shot pruning reaches. Without it a plainly trained model whose
ρ_L clears ``--min-ratio`` passes with a warning (exit 0), and a CI job could tell only by
reading the JSON (``jq -e '.overshoot.lower | not'``); with it the gate exits 1, the rule's
reason says what was measured, and its fix names the measured limit to gate on."""

from __future__ import annotations

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
