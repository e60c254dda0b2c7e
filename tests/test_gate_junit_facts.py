"""``gate --junit`` states what the verdict stood on as the console does: ρ* with its ± and
its parts, the solver, its reason and its stop, and the spectrum's cost, each a suite
property and a line of the suite's ``<system-out>``. The report held the rules and the
warnings only, so a CI page showed neither the ± nor which limit stopped the spectrum."""

from __future__ import annotations

import xml.etree.ElementTree as ET

# adaptive SLQ the product budget stops, on the tiny model: a ± and a stop reason to state
BUDGETED = ("--method", "slq", "--max-hvps", "40", "--max-samples", "300", "--no-cache", "--threads", "1")


def _suite(path) -> tuple[dict[str, str], list[str]]:
    suite = ET.parse(path).getroot().find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property") if p.get("name") != "warning"}
    return properties, suite.find("system-out").text.splitlines()


def test_the_junit_report_states_the_estimate_the_solver_and_the_cost_as_the_console(cli, own_ckpt, tmp_path,
                                                                                     monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = cli("gate", own_ckpt, "--min-ratio", "0.1", *BUDGETED, "--junit", tmp_path / "gate.xml")
    assert result.exit_code == 0, result.stderr
    properties, out = _suite(tmp_path / "gate.xml")
    assert set(properties) == {"estimate", "solver", "spectrum"}
    shown = result.stdout.splitlines()
    for name, line in properties.items():
        assert line in shown and line in out, name  # the console's line, word for word
    assert properties["estimate"].startswith("ρ* = ") and " ± " in properties["estimate"]
    assert "stopped by --max-hvps" in properties["solver"]


def test_a_gate_from_a_report_states_where_its_prediction_came_from(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "b.json").write_text(cli("bounds", own_ckpt, *BUDGETED, "--json").stdout)
    result = cli("gate", own_ckpt, "--min-ratio", "0.1", "--from", tmp_path / "b.json", "--max-samples", "300",
                 "--junit", tmp_path / "gate.xml")
    assert result.exit_code == 0, result.stderr
    properties, out = _suite(tmp_path / "gate.xml")
    # the saved run's solver: line too (tests/report/test_from_solver_line.py)
    assert set(properties) == {"estimate", "solver", "source"} and "(no curvature work)" in properties["source"]
    assert "stopped by --max-hvps" in properties["solver"]
    assert all(line in result.stdout.splitlines() and line in out for line in properties.values())
