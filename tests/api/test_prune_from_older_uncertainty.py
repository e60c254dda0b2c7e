"""``prune --ratio auto --from`` reads a saved report's ρ* ± as ``verify --from`` and ``gate
--from`` read it: a report whose ``prediction.uncertainty`` records no ``runs`` (as reports
before the key did) takes them from ``spectrum.runs``. Before, prune alone read such a ± as
none stated: ``predicted ρ* = 91.87 % (no ± stated)`` and JSON ``ratio.uncertainty`` null,
where verify --from of the same file said ``ρ* = 91.9 % ± 1.2 pt (95 %; …)``."""

from __future__ import annotations

import json

from tests.conftest import SAVED_DATA as DATA, saved_slq_report


def test_prune_from_a_report_without_the_runs_key_states_the_plus_minus_verify_states(cli, own_ckpt, tmp_path,
                                                                                       monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    older = saved_slq_report(cli, own_ckpt)
    assert older["spectrum"]["runs"] > 1  # several probes: the runs set the ± (Student's t)
    del older["prediction"]["uncertainty"]["runs"]
    saved = tmp_path / "older.json"
    saved.write_text(json.dumps(older))
    verified = cli("verify", own_ckpt, "--from", saved, *DATA, "--json")
    assert verified.exit_code == 0, verified.stderr
    stated = json.loads(verified.stdout)["prediction"]["uncertainty"]
    assert stated is not None
    pruned = cli("prune", own_ckpt, "--ratio", "auto", "--from", saved, "-o", tmp_path / "p.pt", *DATA, "--json")
    assert pruned.exit_code == 0, pruned.stderr
    ratio = json.loads(pruned.stdout)["ratio"]
    assert ratio["uncertainty"] == stated and ratio["plus_minus"] == stated["plus_minus"]  # the same numbers, read alike
    shown = cli("verify", own_ckpt, "--from", saved, *DATA)
    estimate = next(line for line in shown.stdout.splitlines() if line.startswith("ρ* = "))
    printed = cli("prune", own_ckpt, "--ratio", "auto", "--from", saved, "-o", tmp_path / "q.pt", *DATA)
    predicted = next(line for line in printed.stdout.splitlines() if line.startswith("predicted "))
    assert predicted.startswith(f"predicted {estimate}; pruned to ")  # the line verify --from printed
