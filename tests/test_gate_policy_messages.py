"""A gate policy's rule that cannot be read is refused (exit 2) naming the rule, the key and
the policy file, before any work: a CI log must say where to fix it (docs/guide.md,
"Configuration files": values are named by their key and the file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunelimit.errors import UsageError
from prunelimit.gate_rules import rules_from_options

EXAMPLE_CKPT = Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt"


@pytest.mark.parametrize("rule, said", [
    # a misspelt key: refused as 'expected a mapping with keys [...]', naming neither the key nor the file
    ("{name: a, min_ratio: 0.8, usee: lower}", "gate rule 2 in {cfg}: unknown key 'usee'; did you mean 'use'?"),
    ("{name: a, min-ratio: 0.8}", "gate rule 2 in {cfg}: unknown key 'min-ratio'; did you mean 'min_ratio'?"),
    ("{name: a, min_ratio: 0.8, zzz: 1}",
     "gate rule 2 in {cfg}: unknown key 'zzz'; a rule's keys are baseline, fail_on_overshoot, max_drop, min_ratio, name, use"),
    # a value out of range named the rule and the key but not the file
    ("{name: a, min_ratio: 80}", "gate rule 'a' in {cfg}: min_ratio must be a ratio in [0, 1], got 80; "
                                 "a ratio is a fraction: write 0.8 for 80 %"),
    ("{name: a, min_ratio: 0.5, use: Actual}", "gate rule 'a' in {cfg}: use must be lower, predicted or actual, "
                                               "got 'Actual'"),
    ("{name: [a], min_ratio: 0.5}", "gate rule 2 in {cfg}: name must be text, got a list"),
    # YAML reads an unquoted off as false: 'got a bool' did not say why, nor how to write the name
    ("{name: off, min_ratio: 0.5}", "gate rule 2 in {cfg}: name must be text, got the boolean false; YAML reads "
                                    "an unquoted yes, no, on, off, true or false as one: quote the name (name: \"off\")"),
    # a YAML value was quoted in Python's words, which the file does not hold ("got None")
    ("{name: a, min_ratio: 0.5, use: null}", "gate rule 'a' in {cfg}: use must be lower, predicted or actual, "
                                             "got null"),
    ("{name: a, min_ratio: 0.5, use: true}", "gate rule 'a' in {cfg}: use must be lower, predicted or actual, "
                                             "got true"),
    ("{name: a, min_ratio: .nan}", "gate rule 'a' in {cfg}: min_ratio must be a ratio in [0, 1], got .nan"),
])
def test_a_policy_rule_refused_names_its_key_and_file(cli, tmp_path, rule, said):
    policy = tmp_path / "ci" / "gate.yaml"
    policy.parent.mkdir()
    policy.write_text(f"gate:\n  rules:\n    - {{name: fine, min_ratio: 0.1}}\n    - {rule}\n")
    junit = tmp_path / "gate.xml"
    result = cli("gate", EXAMPLE_CKPT, "--config", policy, "--no-cache", "--junit", junit)
    assert result.exit_code == 2, result.output
    expected = said.format(cfg=policy)
    assert result.stderr == f"prunelimit: error: {expected}\n"


@pytest.mark.parametrize("policy, flags", [
    ("    - {name: a, min_ratio: 0.5}\n    - {name: a, min_ratio: 0.6}\n", ()),
    # a flag's rule takes the name 'lower ratio >= 0.5': a policy rule of that name read as the same
    ("    - {name: 'lower ratio >= 0.5', min_ratio: 0.9}\n", ("--min-ratio", "0.5")),
])
def test_two_rules_of_one_name_are_refused(cli, tmp_path, policy, flags):
    """Two rules named alike passed, each with its own verdict but one name: two JUnit cases
    of one name (which a CI's test view shows as one), two FAIL lines and a ``reason``
    ('a: …; a: …') that could not tell which rule of the policy failed."""
    path = tmp_path / "gate.yaml"
    path.write_text("gate:\n  rules:\n" + policy)
    result = cli("gate", EXAMPLE_CKPT, "--config", path, "--no-cache", *flags)
    assert result.exit_code == 2, result.output
    position = 2 if not flags else 1
    assert result.stderr.startswith(f"prunelimit: error: gate rule {position} in {path}: the name ")
    assert "is another rule's too; give each rule its own name" in result.stderr


def test_a_rule_from_python_names_no_file():
    """From Python the rules are no file's: the message names the rule and the key alone."""
    with pytest.raises(UsageError, match=r"^gate rule 1: unknown key 'usee'; did you mean 'use'\?$"):
        rules_from_options(None, "lower", None, None, [{"min_ratio": 0.5, "usee": "lower"}])
    with pytest.raises(UsageError, match=r"^gate rule 2: the name 'a' is another rule's too"):
        rules_from_options(None, "lower", None, None, [{"name": "a", "min_ratio": 0.5}, {"name": "a", "min_ratio": 0.6}])


@pytest.mark.parametrize("value, hint", [(80, "; a ratio is a fraction: write 0.8 for 80 %"),
                                         (2, "; a ratio is a fraction: write 0.02 for 2 %"),
                                         (1000, ""), (-5, "")])
def test_a_percentage_for_a_ratio_says_the_fraction(cli, value, hint):
    """``--min-ratio 80`` (80 %) was refused as 'must be a ratio in [0, 1], got 80.0' alone;
    a value in (1, 100] now says the fraction it likely means. Others are no percentage."""
    flag = "--max-drop" if value == 2 else "--min-ratio"
    extra = ("--baseline", "b.json") if value == 2 else ()
    result = cli("gate", EXAMPLE_CKPT, flag, str(value), *extra)
    assert result.exit_code == 2
    assert result.stderr == f"prunelimit: error: {flag} must be a ratio in [0, 1], got {float(value)}{hint}\n"


@pytest.mark.parametrize("where, value", [("flag", "80%"), ("flag", "2 %"), ("key", "80%"), ("policy", "80%")])
def test_a_percentage_written_with_its_sign_says_the_fraction(cli, tmp_path, where, value):
    """``--min-ratio 80%`` (a flag, a --config key, a policy rule's key: YAML reads ``80%`` as
    text) was refused as 'Input should be a valid number' or 'a str, not a number', with no
    word of the fraction meant, which ``--min-ratio 80`` and ``prune --ratio 70%`` give."""
    config = tmp_path / "gate.yaml"
    config.write_text({"key": f"min_ratio: {value}\n", "policy": f"gate:\n  rules:\n    - min_ratio: {value}\n",
                       "flag": "{}\n"}[where])
    flags = ("--min-ratio", value) if where == "flag" else ()
    result = cli("gate", EXAMPLE_CKPT, "--config", config, "--no-cache", *flags)
    assert result.exit_code == 2, result.output
    number = value.rstrip("% ")
    assert f"(ratios are fractions, not percentages: {value} is {float(number) / 100:g})" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 2  # the error and where --help is
