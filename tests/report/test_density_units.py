"""A density and an error are printed in percent by every command, as ``imp``'s "Final
density 0.46 %", its error column and Hyperflux's lines state them: ``imp``'s density column
read ``0.7998`` above that line, and ``law error-fit`` printed "predicted error at density
0.05: 9.06 %" beside "density reaching error 0.1: 0.04123" (the error in % on one line, a
fraction on the next). The JSON keeps fractions; each printed value is its JSON value by the
rule (``rounding.percent``)."""

from __future__ import annotations

import json
import re

import numpy as np

from prunelimit.laws.errorlaw import error_law
from prunelimit.report.rounding import percent

PERCENT = r"(\d+(?:\.\d+)? %)"


def test_error_fit_states_its_queries_in_percent(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    density = np.geomspace(0.005, 1.0, 16)
    error = error_law(density, 0.04, 0.8, 2.0, 0.015) * (1 + 0.02 * np.sin(7 * density))  # smooth, not exact
    csv = tmp_path / "e.csv"
    csv.write_text("density,error\n" + "".join(f"{float(d)!r},{float(e)!r}\n" for d, e in zip(density, error)))
    args = ("law", "error-fit", csv, "--predict", "0.05", "--target-error", "0.1")
    shown, doc = cli(*args), json.loads(cli(*args, "--json").stdout)
    assert shown.exit_code == 0, shown.stderr
    predicted = re.search(rf"predicted error at density {PERCENT}: {PERCENT}", shown.stdout)
    reached = re.search(rf"density reaching error {PERCENT}: {PERCENT}", shown.stdout)
    assert predicted and reached, shown.stdout
    assert predicted.groups() == (percent(doc["predict"]["density"]), percent(doc["predict"]["error"]))
    assert reached.groups() == (percent(doc["target"]["error"]), percent(doc["target"]["density"]))


def test_imp_states_each_levels_density_as_its_final_line(cli, small_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    args = ("imp", small_ckpt, "--levels", 1, "--rate", 0.5, "--epochs", 1, "--max-samples", 200, "--threads", 1)
    doc = json.loads(cli(*args, "-o", tmp_path / "a", "--json").stdout)
    shown = cli(*args, "-o", tmp_path / "b")
    assert shown.exit_code == 0, shown.stderr
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in shown.stdout.splitlines()
            if line.startswith("│")]
    assert [row[1] for row in rows] == [percent(r["density"]) for r in doc["rows"]] == ["100.00 %", "50.00 %"]
    assert f"Final density {percent(doc['density'])} at level 1" in shown.stdout
