"""``prune --ratio auto|lower`` states how the spectrum behind its ratio was computed, why, and
what stopped it, as ``bounds`` does: the console's ``solver:`` line and the JSON's
``spectrum`` block (``choice``, ``stopped_by``). It stated only the cost line and ``timing``."""

from __future__ import annotations

import json

import pytest

import prunelimit

# an adaptive SLQ run the product budget stops, on the tiny model: a stop reason to state
BUDGETED = ("--method", "slq", "--max-hvps", "40", "--max-samples", "300", "--no-cache", "--threads", "1")


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _solver_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("solver: ")]
    assert len(lines) == 1, stdout
    return lines[0]


@pytest.mark.parametrize("ratio", ["auto", "lower"])
def test_prune_states_the_solver_choice_and_stop_as_bounds_does(cli, own_ckpt, tmp_path, monkeypatch, ratio) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bounds = cli("bounds", own_ckpt, *BUDGETED)
    pruned = cli("prune", own_ckpt, "--ratio", ratio, *BUDGETED, "-o", tmp_path / "p.pt")
    assert bounds.exit_code == 0 and pruned.exit_code == 0, pruned.stderr
    assert "stopped by --max-hvps" in _solver_line(bounds.stdout)
    assert _solver_line(pruned.stdout) == _solver_line(bounds.stdout)  # same run, same words
    stated = _json(cli("bounds", own_ckpt, *BUDGETED, "--json"))["spectrum"]
    doc = _json(cli("prune", own_ckpt, "--ratio", ratio, *BUDGETED, "-o", tmp_path / "q.pt", "--json"))
    assert doc["spectrum"]["choice"] == stated["choice"] and doc["spectrum"]["stopped_by"] == "max-hvps"
    assert doc["spectrum"]["runs"] == stated["runs"] and doc["spectrum"]["iterations"] == stated["iterations"]


def test_a_given_ratio_states_no_solver(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    """No prediction, no solver: JSON ``spectrum`` null and no ``solver:`` line (a saved
    report's solver is its run's: tests/report/test_from_solver_line.py)."""
    monkeypatch.setenv("COLUMNS", "200")
    args = ("--ratio", "0.5", "-o", tmp_path / "p.pt", "--force")
    assert _json(cli("prune", own_ckpt, *args, "--json"))["spectrum"] is None
    shown = cli("prune", own_ckpt, *args)
    assert shown.exit_code == 0 and "solver: " not in shown.stdout


def test_the_library_pruning_carries_the_solver_choice(tiny_model, train) -> None:
    found = prunelimit.prune(tiny_model, "auto", train, method="slq", max_hvps=40)
    doc = found.to_json()
    assert doc["spectrum"]["choice"] == found.spectrum.choice.to_json()
    assert doc["spectrum"]["stopped_by"] == "max-hvps"
    assert prunelimit.prune(tiny_model, 0.5).to_json()["spectrum"] is None
