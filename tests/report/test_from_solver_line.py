"""``verify --from``, ``gate --from`` and ``prune --ratio auto --from`` state the saved run's
``solver:`` line (how its spectrum was computed, why, what stopped it, the curvature's subset)
in the words that run printed, on the console and in ``gate --junit``, as verify's JSON and
``--report`` already carried it (``spectrum.choice``, ``spectrum.stopped_by``); prune's JSON
and ``--report`` carry it too. Before, none printed a ``solver:`` line and prune's JSON stated
``spectrum`` null, so a console or CI page never said that the ρ* ± it read was cut short by
``--max-hvps``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tests.conftest import summary_rows

DATA = ("--max-samples", "300", "--threads", "1")  # the saved report's data, which --from checks
STOPPED = ("--method", "slq", "--max-hvps", "40", "--hessian-samples", "100", "--no-cache", *DATA)


def _solver(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("solver: ")]


def test_verify_and_gate_from_a_report_state_the_solver_line_its_run_printed(cli, own_ckpt, tmp_path,
                                                                              monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    made = cli("bounds", own_ckpt, *STOPPED)
    assert made.exit_code == 0, made.stderr
    stored = _solver(made.stdout)
    # the facts the test is about: a stop and a subset, in that run's line
    assert len(stored) == 1 and "stopped by --max-hvps" in stored[0] and "curvature on 100 of 300" in stored[0]
    saved = tmp_path / "b.json"
    as_json = cli("bounds", own_ckpt, *STOPPED, "--json")  # the same run again (seeded): the same spectrum
    assert as_json.exit_code == 0, as_json.stderr
    saved.write_text(as_json.stdout)
    verified = cli("verify", own_ckpt, "--from", saved, *DATA)
    assert verified.exit_code == 0, verified.stderr
    assert _solver(verified.stdout) == stored
    gated = cli("gate", own_ckpt, "--from", saved, "--min-ratio", "0.1", "--junit", tmp_path / "g.xml", *DATA)
    assert gated.exit_code == 1, gated.stderr  # failed: a ρ_L over a subset has no complete ±
    assert _solver(gated.stdout) == stored
    properties = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "g.xml").iter("property")}
    assert properties["solver"] == stored[0]


def test_prune_from_a_report_states_the_solver_line_its_run_printed(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    made = cli("bounds", own_ckpt, *STOPPED)
    assert made.exit_code == 0, made.stderr
    stored = _solver(made.stdout)
    saved = tmp_path / "b.json"
    as_json = cli("bounds", own_ckpt, *STOPPED, "--json")  # the same run again (seeded): the same spectrum
    assert as_json.exit_code == 0, as_json.stderr
    saved.write_text(as_json.stdout)
    args = ("--ratio", "auto", "--from", saved, *DATA)
    pruned = cli("prune", own_ckpt, *args, "-o", tmp_path / "p.pt", "--report", tmp_path / "r")
    assert pruned.exit_code == 0, pruned.stderr
    assert _solver(pruned.stdout) == stored
    doc = json.loads(cli("prune", own_ckpt, *args, "-o", tmp_path / "q.pt", "--json").stdout)
    spectrum = json.loads(as_json.stdout)["spectrum"]
    assert doc["spectrum"]["choice"] == spectrum["choice"] and doc["spectrum"]["stopped_by"] == "max-hvps"
    assert doc["timing"]["hvps"] == 0 and doc["timing"]["stages"] == {}  # this run's work: none
    rows = summary_rows((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))
    assert rows["what stopped the spectrum"] == "stopped by --max-hvps"
    assert stored[0].startswith(f"solver: {rows['solver choice']} · {rows['probes × steps']}, ")


def test_a_report_that_records_no_solver_choice_prints_no_solver_line(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    made = cli("bounds", own_ckpt, *STOPPED, "--json")
    assert made.exit_code == 0, made.stderr
    older = json.loads(made.stdout)
    del older["spectrum"]["choice"]  # a report of a prunelimit before the solver choice
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(older))
    verified = cli("verify", own_ckpt, "--from", saved, *DATA)
    assert verified.exit_code == 0, verified.stderr
    assert _solver(verified.stdout) == []
