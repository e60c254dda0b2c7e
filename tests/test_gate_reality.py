"""Numbers a CI job can stand on (issue 21): threads, self-consistency, compatible
baselines, the regime statement, and gating on the measured limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prunelimit.theory.consistency import consistency_warnings
from prunelimit.threads import idle_cores

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"


def _doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- --threads


@pytest.mark.parametrize("cores, load, expected", [(2, 0.0, 2), (2, 1.4, 1), (2, 3.9, 1), (8, 2.5, 6), (1, 0.0, 1)])
def test_default_threads_are_the_idle_cores(cores, load, expected):
    assert idle_cores(cores, load) == expected


def test_threads_option_sets_torch_threads(cli):
    try:
        _doc(cli("info", EXAMPLE, "--threads", "2", "--json"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


@pytest.mark.parametrize("command", [("info", EXAMPLE), ("law", "error-fit", "missing.csv")])
def test_threads_out_of_range_is_a_usage_error(cli, command):
    result = cli(*command, "--threads", "0")
    assert result.exit_code == 2
    assert "--threads must be at least 1" in result.stderr


# --------------------------------------------------------------------------- consistency


def test_ratio_inside_bounds_and_agreeing_is_quiet():
    assert consistency_warnings(0.8, 0.7, 0.9, 0.801, 0.0) == []


def test_ratio_below_its_lower_bound_is_flagged():
    # the CNN of issue 21: paper ρ* 69.2 % with [74.8 %, 86.9 %], continuous 80.9 %
    warns = consistency_warnings(0.692, 0.748, 0.869, 0.809, 0.0)
    assert len(warns) == 2
    assert "below its lower bound" in warns[0] and "INCONSISTENT" in warns[0]
    assert "differ by 0.1170" in warns[1]


def test_gap_within_the_stated_uncertainty_is_not_flagged():
    assert consistency_warnings(0.80, 0.7, 0.9, 0.83, 0.04) == []
    assert len(consistency_warnings(0.80, 0.7, 0.9, 0.85, 0.04)) == 1


def _fake_report(path: Path, ratio: float) -> Path:
    path.write_text(json.dumps({"prediction": {"ratio": ratio, "scope": "global"}, "bounds": {"lower": ratio}}))
    return path


def test_prune_auto_reports_an_accuracy_drop_beyond_acc_drop(cli, tmp_path):
    report = _fake_report(tmp_path / "b.json", 0.97)
    out = tmp_path / "p.pt"
    doc = _doc(cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", out, "--json"))
    assert doc["after"]["accuracy_drop"] == pytest.approx(100 * (doc["before"]["accuracy"] - doc["after"]["accuracy"]))
    assert doc["after"]["accuracy_drop"] > 0.5
    assert doc["acc_drop_exceeded"] is True and doc["acc_drop"] == 0.5
    strict = cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "s.pt", "--strict")
    assert strict.exit_code == 1
    assert "more than --acc-drop 0.5" in strict.stderr
    assert (tmp_path / "s.pt").is_file()  # the pruned file is still written: the verdict is about its quality


def test_prune_auto_within_acc_drop_passes_strict(cli, tmp_path):
    report = _fake_report(tmp_path / "b.json", 0.10)
    doc = _doc(cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "p.pt", "--strict",
                   "--json"))
    assert doc["acc_drop_exceeded"] is False


def test_prune_to_a_given_ratio_is_not_checked(cli, tmp_path):
    doc = _doc(cli("prune", EXAMPLE, "--ratio", "0.97", "-o", tmp_path / "p.pt", "--strict", "--json"))
    assert doc["after"]["accuracy_drop"] > 0.5
    assert doc["acc_drop_exceeded"] is None and doc["acc_drop"] is None
