"""A ``--method paper`` report read with ``--from`` (``verify``, ``gate``) states what the bounds
run that stored it printed beside its grid ρ*: the ``continuous ρ* (same spectrum)`` row and
the ``reference density:`` line (JSON ``prediction.continuous_ratio`` and
``prediction.reference_density``), on the console and in ``gate --junit``. Before, both were
dropped, so a reader never saw that the grid ρ* stood on an aliased density; verify and gate
computing the prediction here state them alike."""

from __future__ import annotations

import xml.etree.ElementTree as ET

DATA = ("--max-samples", "300", "--threads", "1")  # the saved report's data, which --from checks
PAPER = ("--method", "paper", "--no-cache", *DATA)


def _stored(cli, ckpt, tmp_path) -> tuple[str, str, object]:
    """The continuous ρ* (its removed ratio) and the reference density line bounds printed, and the saved report."""
    made = cli("bounds", ckpt, *PAPER)
    assert made.exit_code == 0, made.stderr
    row = next(line for line in made.stdout.splitlines() if "continuous ρ* (same spectrum)" in line)
    continuous = row.split("│")[2].strip()
    density = next(line for line in made.stdout.splitlines() if line.startswith("reference density: "))
    saved = tmp_path / "b.json"
    as_json = cli("bounds", ckpt, *PAPER, "--json")  # the same run again (seeded): the same spectrum
    assert as_json.exit_code == 0, as_json.stderr
    saved.write_text(as_json.stdout)
    return continuous, density, saved


def test_verify_from_a_paper_report_states_its_continuous_root_and_reference_density(cli, own_ckpt, tmp_path,
                                                                                     monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    continuous, density, saved = _stored(cli, own_ckpt, tmp_path)
    for args in (("--from", saved), PAPER):  # read, and computed here
        verified = cli("verify", own_ckpt, *args, *DATA)
        assert verified.exit_code == 0, verified.stderr
        lines = verified.stdout.splitlines()
        row = next((line for line in lines if "continuous ρ* (same spectrum)" in line), "")
        assert row.split("│")[2].strip() == continuous if row else False, verified.stdout
        assert density in lines


def test_gate_from_a_paper_report_states_its_continuous_root_and_reference_density(cli, own_ckpt, tmp_path,
                                                                                   monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    continuous, density, saved = _stored(cli, own_ckpt, tmp_path)
    gated = cli("gate", own_ckpt, "--from", saved, "--min-ratio", "0", "--junit", tmp_path / "g.xml", *DATA)
    assert gated.exit_code == 0, gated.stderr
    lines = gated.stdout.splitlines()
    assert f"continuous ρ* (same spectrum): {continuous}" in lines and density in lines
    properties = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "g.xml").iter("property")}
    assert properties["continuous"] == f"continuous ρ* (same spectrum): {continuous}"
    assert properties["reference_density"] == density


def test_a_report_of_another_method_states_neither(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    made = cli("bounds", own_ckpt, "--method", "exact", "--no-cache", *DATA, "--json")
    assert made.exit_code == 0, made.stderr
    saved = tmp_path / "b.json"
    saved.write_text(made.stdout)
    for command in (("verify",), ("gate", "--min-ratio", "0")):
        ran = cli(*command, own_ckpt, "--from", saved, *DATA)
        assert ran.exit_code == 0, ran.stderr
        assert "continuous ρ*" not in ran.stdout and "reference density" not in ran.stdout
