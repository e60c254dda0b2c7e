"""``gate --from`` gates on ρ*'s ± as it reads it, the one its console line states: a saved ±
its parts do not give (another version's arithmetic) is none (``Uncertainty.from_json``), as
``verify --from`` and ``prune --from`` read it. Before, the gate's console said ``ρ* = 91.87 %
(no ± stated)`` while its rule subtracted the saved text's ± (``ρ_L 0.8590 − 0.0117 = 0.8473
>= required 0.6000``) and its JSON copied that text."""

from __future__ import annotations

import json

from tests.conftest import SAVED_DATA as DATA, saved_slq_report


def test_gate_from_a_plus_minus_its_parts_do_not_give_gates_on_none_as_its_console_states(cli, own_ckpt, tmp_path,
                                                                                             monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    report = saved_slq_report(cli, own_ckpt)
    stated = report["prediction"]["uncertainty"]
    assert 0 < stated["plus_minus"] < 0.5  # a ± of its own, whose parts give it
    report["prediction"]["uncertainty"] = {**stated, "plus_minus": 0.5}  # parts that give another ±
    saved = tmp_path / "foreign.json"
    saved.write_text(json.dumps(report))
    shown = cli("gate", own_ckpt, "--from", saved, "--min-ratio", "0.01", *DATA)
    estimate = next(line for line in shown.stdout.splitlines() if line.startswith("ρ* = "))
    assert estimate.endswith("(no ± stated)")
    # the rule reads none as the line states: no conservative side, so it cannot clear 0.01
    assert shown.exit_code == 1, shown.stdout
    assert "has no complete stated ± (the report states none)" in shown.stdout
    as_json = cli("gate", own_ckpt, "--from", saved, "--min-ratio", "0.01", *DATA, "--json")
    doc = json.loads(as_json.stdout)
    assert doc["rules"][0]["compared"] is None and not doc["passed"]
    assert doc["bounds"]["prediction"]["uncertainty"] is None and doc["bounds"]["prediction"]["stderr"] is None
    verified = cli("verify", own_ckpt, "--from", saved, *DATA, "--json")
    assert json.loads(verified.stdout)["prediction"]["uncertainty"] is None  # as verify --from reads it
