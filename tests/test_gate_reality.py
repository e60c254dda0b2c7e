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


# --------------------------------------------------------------------------- compatible baselines


def _provenance():
    from prunelimit.api import CurvatureOptions
    from prunelimit.baseline import provenance
    from prunelimit.inputs import load_inputs

    return provenance(load_inputs(EXAMPLE, data_from_checkpoint=True), CurvatureOptions())


def _baseline(path: Path, ratio: float = 0.5, **changes) -> Path:
    """A stored bounds report recording the example's own method, D, N and data, with ``changes``."""
    p = _provenance()
    doc = {"method": p.method, "params": {"hessian": p.hessian, "prunable": p.prunable},
           "data": {"fingerprint": p.fingerprint}, "options": p.options,
           "prediction": {"ratio": ratio}, "bounds": {"lower": ratio}}
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def no_curvature(monkeypatch):
    """Any spectrum computation fails the test: a refusal must come before the curvature work."""
    from prunelimit import api

    def forbidden(*args, **kwargs):
        raise AssertionError("the spectrum was computed")

    monkeypatch.setattr(api, "spectrum", forbidden)


@pytest.mark.parametrize("changes, reason", [
    ({"method": "paper"}, "method paper vs default here"),
    ({"params": {"hessian": 9802, "prunable": 2368}}, "D (Hessian parameters) 9,802 vs 2,410 here"),
    ({"params": {"hessian": 2410, "prunable": 100}}, "N (prunable weights) 100 vs 2,368 here"),
    ({"data": {"fingerprint": "0" * 64}}, "data fingerprint 000000000000… vs"),
])
def test_incompatible_baseline_is_refused_before_the_curvature_work(cli, tmp_path, no_curvature, changes, reason):
    base = _baseline(tmp_path / "base.json", **changes)
    result = cli("gate", EXAMPLE, "--baseline", base, "--max-drop", "0.02")
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "--allow-incompatible-baseline" in lines[0]
    assert "Traceback" not in result.stderr


def test_baselines_record_and_compare_method_sizes_and_data(cli, tmp_path):
    fingerprint = _provenance().fingerprint
    good = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "b.json"), "--max-drop", "0.02", "--json"))
    assert good["passed"] is True and not any("baseline" in w for w in good["warnings"])
    assert good["bounds"]["data"]["fingerprint"] == fingerprint and len(fingerprint) == 64
    assert good["bounds"]["options"]["method"] == "default" and good["bounds"]["options"]["scope"] == "global"
    # a stored report of this very run is a compatible baseline
    (tmp_path / "own.json").write_text(json.dumps(good["bounds"]))
    own = _doc(cli("gate", EXAMPLE, "--baseline", tmp_path / "own.json", "--max-drop", "0.0", "--json"))
    assert own["passed"] is True and own["warnings"] == good["warnings"]
    anyway = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "p.json", method="paper"),
                      "--max-drop", "0.02", "--allow-incompatible-baseline", "--json"))
    assert anyway["passed"] is True
    assert any("compared anyway" in w and "method paper" in w for w in anyway["warnings"])
    old = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "o.json", data=None, options=None),
                   "--max-drop", "0.02", "--json"))
    assert old["passed"] is True
    assert any("does not record its data fingerprint" in w for w in old["warnings"])
    other = _doc(cli("gate", EXAMPLE, "--baseline", _baseline(tmp_path / "e.json", options={"epsilon": 0.1}),
                     "--max-drop", "0.02", "--json"))
    assert any("other options: epsilon 0.1 vs None here" in w for w in other["warnings"])
