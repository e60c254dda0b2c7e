"""``gate`` as a CI job runs it: options a gate section sets that the gate cannot read, a
mixed policy reading its measured limit from a saved verify report, and the JUnit report
a launch failure leaves."""

from __future__ import annotations

import json

import pytest

REFUSED = ("has no effect: every rule uses the measured limit (--use actual), which computes no spectrum; drop it, "
           "or gate on --use lower|predicted")


@pytest.mark.parametrize("key, value", [("runs", 5), ("tolerance", 0.05), ("eta", 0.05), ("method", "slq"),
                                        ("bound_mode", "geom")])
@pytest.mark.parametrize("rules", ["  use: actual\n  min_ratio: 0.1\n",
                                   "  rules:\n    - min_ratio: 0.1\n      use: actual\n"])
def test_a_gate_sections_spectrum_option_beside_measured_rules_is_refused_as_the_flag_is(cli, tmp_path, own_ckpt,
                                                                                        no_curvature, key, value,
                                                                                        rules):
    """Every rule on the measured limit computes no spectrum: ``--runs 5`` typed is refused
    (exit 2), and ``runs: 5`` in the gate's own section, which serves no other command, was
    read and ignored in silence. It is refused with the same words, named by its key."""
    config = tmp_path / "ci.yaml"
    config.write_text(f"gate:\n  {key}: {value}\n{rules}")
    result = cli("gate", own_ckpt, "--config", config, "--max-samples", "300")
    assert result.exit_code == 2, result.output
    assert result.stderr == f"prunelimit: error: {key} in {config} {REFUSED}\n"
    assert result.stdout == ""


def test_a_top_level_spectrum_option_may_serve_the_files_other_commands(cli, tmp_path, own_ckpt, no_curvature):
    """A top-level key is read by every command the file serves (``bounds`` here), so a gate of
    measured rules leaves it alone, as documented; ε, the search's criterion, is read."""
    config = tmp_path / "ci.yaml"
    config.write_text("method: slq\nepsilon: 0.05\ngate:\n  use: actual\n  min_ratio: 0.1\n")
    result = cli("gate", own_ckpt, "--config", config, "--max-samples", "300", "--json")
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

