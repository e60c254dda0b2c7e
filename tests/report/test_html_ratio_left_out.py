"""prune's HTML report states the predicted ratio's ± as its console does: for a ratio predicted
over a curvature subset, the console's ``predicted ρ* = … ± … pt (…), incomplete: not the shift
of ρ* a Hessian over a subset gives`` and the report's row "stated uncertainty of the predicted
ratio" carry the same "incomplete"; before, the row stated the ± alone, as if complete."""

from __future__ import annotations

import json

from tests.conftest import summary_rows

DATA = ("--max-samples", "300", "--threads", "1")
SUBSET = ("--method", "slq", "--max-hvps", "40", "--hessian-samples", "100", "--no-cache", *DATA)
LEFT_OUT = ", incomplete: not the shift of ρ* a Hessian over a subset gives"


def test_the_html_row_of_a_ratio_predicted_over_a_subset_says_its_plus_minus_is_incomplete(
        cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    saved = tmp_path / "b.json"
    made = cli("bounds", own_ckpt, *SUBSET, "--json")
    assert made.exit_code == 0, made.stderr
    saved.write_text(made.stdout)
    assert json.loads(made.stdout)["prediction"]["uncertainty"]["data"] is not None  # the case: a subset's data part
    pruned = cli("prune", own_ckpt, "--ratio", "auto", "--from", saved, *DATA, "-o", tmp_path / "p.pt",
                 "--report", tmp_path / "r")
    assert pruned.exit_code == 0, pruned.stderr
    predicted = next(line for line in pruned.stdout.splitlines() if line.startswith("predicted ρ* = "))
    assert LEFT_OUT in predicted
    row = summary_rows((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))[
        "stated uncertainty of the predicted ratio"]
    assert row.endswith(LEFT_OUT)
    # the same ± and parts as the console's line (which puts ρ* before them)
    assert predicted.split(" % ", 1)[1].startswith(row)


def test_a_ratio_over_all_samples_states_its_plus_minus_alone(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    pruned = cli("prune", own_ckpt, "--ratio", "auto", "--method", "exact", "--no-cache", *DATA, "-o", tmp_path / "p.pt",
                 "--report", tmp_path / "r")
    assert pruned.exit_code == 0, pruned.stderr
    row = summary_rows((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))[
        "stated uncertainty of the predicted ratio"]
    assert row == "± 0 (exact spectrum: no sampling error)"
