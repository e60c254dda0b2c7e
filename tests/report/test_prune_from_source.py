"""``prune --ratio auto --from b.json`` says where its prediction was read from, as ``verify
--from`` and ``gate --from`` do (``prediction read from b.json (no curvature work)``), on the
console, in its JSON (``ratio.prediction_from``) and in its HTML report; ``verify --from``'s
report states it too. Before, prune's console named the file only in its table's title
(``ratio auto from …``, folded across lines) and no HTML report named it at all."""

from __future__ import annotations

import json

from prunelimit.report.console import read_from_text
from tests.conftest import summary_rows

DATA = ("--max-samples", "300", "--threads", "1")  # the saved report's data, which --from checks
BUDGETED = ("--method", "slq", "--max-hvps", "40", "--no-cache", *DATA)


def test_prune_from_a_saved_report_says_where_its_prediction_was_read(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    saved = tmp_path / "b.json"
    made = cli("bounds", own_ckpt, *BUDGETED, "--json")
    assert made.exit_code == 0, made.stderr
    saved.write_text(made.stdout)
    line = read_from_text(str(saved))
    pruned = cli("prune", own_ckpt, "--ratio", "auto", "--from", saved, "-o", tmp_path / "p.pt", *DATA,
                 "--report", tmp_path / "p")
    assert pruned.exit_code == 0, pruned.stderr
    assert line in pruned.stdout.splitlines()  # the line verify --from and gate --from print
    as_json = cli("prune", own_ckpt, "--ratio", "auto", "--from", saved, "-o", tmp_path / "q.pt", *DATA, "--json")
    assert json.loads(as_json.stdout)["ratio"]["prediction_from"] == str(saved)
    rows = summary_rows((tmp_path / "p" / "report.html").read_text(encoding="utf-8"))
    assert f"prediction read from {rows['prediction read from']}" == line
    verified = cli("verify", own_ckpt, "--from", saved, *DATA, "--report", tmp_path / "v")
    assert verified.exit_code == 0, verified.stderr
    assert line in verified.stdout.splitlines()
    rows = summary_rows((tmp_path / "v" / "report.html").read_text(encoding="utf-8"))
    assert f"prediction read from {rows['prediction read from']}" == line


def test_a_ratio_predicted_here_or_given_names_no_saved_report(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    for ratio in (("auto", *BUDGETED), ("0.5", *DATA)):
        shown = cli("prune", own_ckpt, "--ratio", *ratio, "-o", tmp_path / f"{ratio[0]}.pt", "--json")
        assert shown.exit_code == 0, shown.stderr
        assert json.loads(shown.stdout)["ratio"]["prediction_from"] is None
