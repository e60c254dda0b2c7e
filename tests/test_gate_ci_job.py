"""``gate`` as a CI job runs it: options a gate section sets that the gate cannot read, a
mixed policy reading its measured limit from a saved verify report, the JUnit report a
launch failure leaves, and a kept gate report as the baseline."""

from __future__ import annotations

import json

import pytest

REFUSED = ("has no effect: every rule uses the measured limit (--use actual), which computes no spectrum; drop it, "
           "or gate on --use lower|predicted")


@pytest.mark.parametrize("key, value", [("runs", 5), ("tolerance", 0.05), ("eta", 0.05), ("method", "slq"),
                                        ("bound_mode", "geom")])
@pytest.mark.parametrize("rules", ["  use: actual\n  min_ratio: 0.1\n",
                                   "  rules:\n    - min_ratio: 0.1\n      use: actual\n",
                                   "flat"])
def test_a_gate_sections_spectrum_option_beside_measured_rules_is_refused_as_the_flag_is(cli, tmp_path, own_ckpt,
                                                                                        no_curvature, key, value,
                                                                                        rules):
    """Every rule on the measured limit computes no spectrum: ``--runs 5`` typed is refused
    (exit 2), and ``runs: 5`` in the gate's own section, which serves no other command, was
    read and ignored in silence. It is refused with the same words, named by its key; so is
    one at the top level of a flat file that holds gate rules, which no other command reads."""
    config = tmp_path / "ci.yaml"
    config.write_text(f"{key}: {value}\nuse: actual\nmin_ratio: 0.1\n" if rules == "flat" else
                      f"gate:\n  {key}: {value}\n{rules}")
    result = cli("gate", own_ckpt, "--config", config, "--max-samples", "300")
    assert result.exit_code == 2, result.output
    assert result.stderr == f"prunelimit: error: {key} in {config} {REFUSED}\n"
    assert result.stdout == ""


@pytest.mark.parametrize("text, flags", [
    ("method: slq\nepsilon: 0.05\ngate:\n  use: actual\n  min_ratio: 0.1\n", ()),
    ("method: slq\nepsilon: 0.05\n", ("--use", "actual", "--min-ratio", "0.1")),
])
def test_a_top_level_spectrum_option_may_serve_the_files_other_commands(cli, tmp_path, own_ckpt, no_curvature, text,
                                                                        flags):
    """A top-level key is read by every command the file serves (``bounds`` here), so a gate of
    measured rules leaves it alone, as documented; ε, the search's criterion, is read."""
    config = tmp_path / "ci.yaml"
    config.write_text(text)
    result = cli("gate", own_ckpt, "--config", config, *flags, "--max-samples", "300", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bounds"]["epsilon"] == 0.05


def test_a_gate_sections_seed_beside_measured_rules_is_refused_as_the_flag_is(cli, tmp_path, own_ckpt, no_curvature):
    """Nothing is drawn at random when every rule measures the limit: ``--seed`` typed is
    refused, and ``seed:`` in the gate's own section now too (``gate(seed=…)`` from Python is)."""
    config = tmp_path / "ci.yaml"
    config.write_text("gate:\n  seed: 3\n  use: actual\n  min_ratio: 0.1\n")
    result = cli("gate", own_ckpt, "--config", config, "--max-samples", "300")
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"prunelimit: error: seed in {config} has no effect: nothing is drawn at random (every "
                             "rule uses the measured limit (--use actual), which computes no spectrum); drop it, or "
                             "gate on --use lower|predicted\n")


MIXED = "gate:\n  rules:\n    - name: measured\n      min_ratio: 0.1\n      use: actual\n" \
        "    - name: floor\n      min_ratio: 0\n      use: lower\n"


@pytest.fixture
def verified(cli, tmp_path, small_ckpt):
    """``verify --json`` of ``small_ckpt`` (its exact spectrum and the search), saved, and a
    mixed policy (a measured rule beside a predicted one)."""
    result = cli("verify", small_ckpt, "--max-samples", "300", "--json")
    assert result.exit_code == 0, result.output
    saved = tmp_path / "v.json"
    saved.write_text(result.stdout)
    policy = tmp_path / "ci.yaml"
    policy.write_text(MIXED)
    return saved, policy, json.loads(result.stdout)


def _no_search(monkeypatch):
    """Any prune-and-evaluate search fails the test: the measured limit must be read."""
    from prunelimit.pruning import actual

    def forbidden(*args, **kwargs):
        raise AssertionError("the measured limit was searched again")

    monkeypatch.setattr(actual, "actual_limit", forbidden)


def test_a_mixed_gate_from_a_verify_report_reads_its_measured_limit(cli, tmp_path, small_ckpt, verified, monkeypatch,
                                                                   no_curvature):
    """``gate --from v.json`` with a rule on the measured limit read the prediction from the
    verify report and ran the search again (13 prune-and-evaluate passes here), though the
    report holds the limit measured on these weights and data under its own ε, the one the
    gate reads. It is read now: no pass, the same verdict, and the result says where from."""
    saved, policy, verify_doc = verified
    stripped = tmp_path / "b.json"  # the same report without its measured limit: searched, as before
    stripped.write_text(json.dumps({k: v for k, v in verify_doc.items() if k != "actual"}))
    searched = json.loads(cli("gate", small_ckpt, "--config", policy, "--from", stripped, "--max-samples", "300",
                              "--json").stdout)
    assert "actual_from" not in searched["bounds"] and searched["bounds"]["actual"]["evaluations"] > 0

    _no_search(monkeypatch)
    result = cli("gate", small_ckpt, "--config", policy, "--from", saved, "--max-samples", "300", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["bounds"]["actual_from"] == str(saved) and doc["bounds"]["timing"]["search"]["seconds"] == 0
    assert doc["rules"][0]["measured"] == verify_doc["actual"]["loss_ratio"] == searched["rules"][0]["measured"]
    assert [r["passed"] for r in doc["rules"]] == [r["passed"] for r in searched["rules"]]
    assert doc["warnings"] == searched["warnings"]  # what qualifies the verdict, as the gate that searched says it
    console = cli("gate", small_ckpt, "--config", policy, "--from", saved, "--max-samples", "300")
    assert f"prediction and measured limit read from {saved} (no curvature work, no prune-and-evaluate passes)" \
        in " ".join(console.stdout.split())


def test_a_verify_report_that_records_no_weights_is_searched_again(cli, tmp_path, small_ckpt, verified, no_curvature):
    """An older report, which does not record its weights, is only taken as computed for this
    model (a warning says so): its measured limit is not read as this model's."""
    _, policy, verify_doc = verified
    older = tmp_path / "older.json"
    older.write_text(json.dumps({k: v for k, v in verify_doc.items() if k != "weights"}))
    doc = json.loads(cli("gate", small_ckpt, "--config", policy, "--from", older, "--max-samples", "300",
                         "--json").stdout)
    assert "actual_from" not in doc["bounds"] and doc["bounds"]["actual"]["evaluations"] > 0


def test_the_library_gate_reads_a_verify_reports_measured_limit(small_model, train, verified, monkeypatch,
                                                                 no_curvature):
    """``prunelimit.gate(prediction_from=…)`` gives the command's verdict, from the same file
    (``small_model`` holds ``small_ckpt``'s weights, ``train`` its 300 samples)."""
    import prunelimit

    saved, _, verify_doc = verified
    _no_search(monkeypatch)
    rules = [{"name": "measured", "min_ratio": 0.1, "use": "actual"}, {"name": "floor", "min_ratio": 0, "use": "lower"}]
    rep = prunelimit.gate(small_model, train, batch_size=128, rules=rules, prediction_from=saved)
    assert rep.passed and rep.result.outcomes[0].measured == verify_doc["actual"]["loss_ratio"]
    assert rep.bounds["actual_from"] == str(saved)

MEASURED_ONLY = ("--use", "actual", "--min-ratio", "0.1", "--max-samples", "300")
NEEDS_NO_PREDICTION = ("--from has no effect: every rule uses the measured limit, which needs no prediction; drop it, "
                       "or gate on lower or predicted")


def test_a_measured_only_gate_from_a_verify_report_reads_its_measured_limit(cli, tmp_path, small_ckpt, verified,
                                                                           monkeypatch, no_curvature):
    """``gate --use actual --from v.json`` was refused (exit 2, "--from has no effect"), though a
    mixed policy reads the measured limit from the same report. It is read now, checked alike
    (these weights, data and loss): no pass, the verdict and the limit of a gate that searches
    under the report's ε, no prediction shown (``overshoot`` null, as a measured-only gate's)."""
    saved, _, verify_doc = verified
    searched = json.loads(cli("gate", small_ckpt, *MEASURED_ONLY, "--epsilon", verify_doc["epsilon"],
                              "--json").stdout)
    _no_search(monkeypatch)
    result = cli("gate", small_ckpt, *MEASURED_ONLY, "--from", saved, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["bounds"]["actual_from"] == str(saved) and doc["bounds"]["timing"]["search"]["seconds"] == 0
    assert doc["measured"] == verify_doc["actual"]["loss_ratio"] == searched["measured"]
    assert doc["passed"] == searched["passed"] and doc["overshoot"] is None and "prediction" not in doc["bounds"]
    assert doc["bounds"]["epsilon"] == verify_doc["epsilon"] and doc["warnings"] == searched["warnings"]
    monkeypatch.setenv("COLUMNS", "400")  # rich breaks the long path at its last "/" on a narrow console
    console = " ".join(cli("gate", small_ckpt, *MEASURED_ONLY, "--from", saved).stdout.split())
    assert f"· read from {saved}, no prune-and-evaluate passes · no spectrum" in console
    assert "prediction" not in console


def test_a_measured_only_gate_from_a_report_without_the_limit_is_refused(cli, tmp_path, small_ckpt, verified,
                                                                         no_curvature):
    """A report that holds no measured limit of these inputs (a bounds report, a verify report
    that records no weights) is still refused; ``--epsilon`` beside a report whose ε is read is
    refused too (it would be ignored in silence). An older verify report (no ``weights``) was
    refused as one that "needs no prediction", though it holds a measured limit and ``verify
    --from`` reads it: the refusal now says what it lacks and how to get a report the gate reads."""
    saved, _, verify_doc = verified
    for kept, said in (("actual", NEEDS_NO_PREDICTION),
                       ("weights", "holds a measured limit but records no weights.fingerprint, weights.layout (a "
                                   "report of an older prunelimit), so it cannot be checked to be the limit of these "
                                   "weights, data and loss; drop it to measure the limit here, or write the report "
                                   "again with `prunelimit verify --json` and read that")):
        other = tmp_path / f"no-{kept}.json"
        other.write_text(json.dumps({k: v for k, v in verify_doc.items() if k != kept}))
        result = cli("gate", small_ckpt, *MEASURED_ONLY, "--from", other)
        assert result.exit_code == 2, result.output
        assert said in " ".join(result.stderr.split()) and result.stdout == ""
    result = cli("gate", small_ckpt, *MEASURED_ONLY, "--from", saved, "--epsilon", "0.05")
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"prunelimit: error: --epsilon has no effect: the measured limit and its ε are read from "
                             f"{saved}; drop it, or drop --from to measure it\n")


def test_the_library_measured_only_gate_reads_a_verify_reports_limit(small_model, train, verified, tmp_path,
                                                                     monkeypatch, no_curvature):
    """``prunelimit.gate(prediction_from=…)`` with every rule on ``actual``: read as the command
    reads it, and refused alike for a report without the limit."""
    import prunelimit
    from prunelimit.errors import UsageError

    saved, _, verify_doc = verified
    stripped = tmp_path / "b.json"
    stripped.write_text(json.dumps({k: v for k, v in verify_doc.items() if k != "actual"}))
    _no_search(monkeypatch)
    rules = [{"name": "measured", "min_ratio": 0.1, "use": "actual"}]
    rep = prunelimit.gate(small_model, train, batch_size=128, rules=rules, prediction_from=saved)
    assert rep.result.outcomes[0].measured == verify_doc["actual"]["loss_ratio"]
    assert rep.bounds["actual_from"] == str(saved) and rep.estimate is None
    with pytest.raises(UsageError, match="every rule uses the measured limit, which needs no prediction"):
        prunelimit.gate(small_model, train, batch_size=128, rules=rules, prediction_from=stripped)


LAUNCH_ERROR = ("WORLD_SIZE is set ('2') but RANK, MASTER_ADDR, MASTER_PORT are not, so no process group can be "
                "joined; run prunelimit with torchrun, which sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, or "
                "unset WORLD_SIZE")


@pytest.mark.parametrize("named_in", ["command line", "config"])
def test_a_launch_refused_for_torchruns_variables_rewrites_the_junit_report(tmp_path, named_in):
    """WORLD_SIZE left in a CI job's environment ends the gate in exit 2 before any work; the
    JUnit report was left as the previous run wrote it (a passing verdict), while a missing
    checkpoint or a bad --config rewrites it as one errored case. Now this error does too,
    the report named by --junit or by ``junit:`` in the --config file."""
    import os
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    from tests.conftest import junit_error_report

    report = tmp_path / "gate.xml"
    report.write_text('<testsuites tests="1" failures="0" errors="0"><testsuite name="prunelimit gate" tests="1" '
                      'failures="0" errors="0"><testcase name="passed last time"/></testsuite></testsuites>')
    config = tmp_path / "ci.yaml"
    config.write_text("gate:\n  min_ratio: 0.1\n" + ("  junit: gate.xml\n" if named_in == "config" else ""))
    junit = ["--junit", str(report)] if named_in == "command line" else []
    env = {key: value for key, value in os.environ.items() if key not in ("RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                                           "MASTER_PORT")}
    env.update(WORLD_SIZE="2", PRUNELIMIT_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "prunelimit", "gate", "model.pt", "--config", str(config), *junit],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"prunelimit: error: {LAUNCH_ERROR}"] and result.stdout == ""
    assert junit_error_report(report, result.stderr)
    assert ET.parse(report).getroot().find(".//error").get("message") == LAUNCH_ERROR


@pytest.mark.parametrize("bounds, held", [(None, "missing"), (5, "not an object"),
                                          ({"prediction": {"ratio": 0.5}}, "without its schema"),
                                          ({"schema": "prunelimit.spectrum/1"}, "a 'prunelimit.spectrum/1' document")])
def test_a_gate_report_baseline_that_stood_on_no_report_says_so(cli, tmp_path, own_ckpt, no_curvature, bounds, held):
    """A ``gate --json`` baseline is read as the bounds/verify document it holds; one whose
    ``bounds`` is no such document was refused as "a 'prunelimit.gate/1' document, not one of
    …, or a prunelimit.gate/1 report of one", which it is. It names what its bounds holds."""
    baseline = tmp_path / "last-gate.json"
    baseline.write_text(json.dumps({"schema": "prunelimit.gate/1", "passed": True,
                                    **({} if bounds is None else {"bounds": bounds})}))
    result = cli("gate", own_ckpt, "--baseline", baseline, "--max-drop", "0.1")
    assert result.exit_code == 3, result.output
    assert result.stderr == (f"prunelimit: error: baseline {baseline} is a prunelimit.gate/1 report whose bounds, the "
                             f"result it stood on, is {held}, not one of prunelimit.bounds/1, prunelimit.verify/1; "
                             "store it with this prunelimit's `bounds --json`\n")


def test_a_measured_only_gate_names_the_report_whose_limit_is_not_a_ratio(cli, tmp_path, small_ckpt, verified):
    """A verify report read by a measured-only gate whose limit is no ratio was refused as "the
    bounds result: …", naming no file; the file read is named, as a read prediction's is."""
    saved, _, verify_doc = verified
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**verify_doc, "actual": {**verify_doc["actual"], "loss_ratio": 2.0}}))
    result = cli("gate", small_ckpt, *MEASURED_ONLY, "--from", forged)
    assert result.exit_code == 3
    assert f"{forged}: the actual ratio (actual.loss_ratio) is 2.0, not a ratio in [0, 1]" in " ".join(
        result.stderr.split())
