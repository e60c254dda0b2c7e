"""The HTML report's summary states how the spectrum was computed, why and what stopped it,
and its products, as the console's ``solver:`` and cost lines do: they were only among the
raw scalars (``spectrum.stopped_by`` as ``max-hvps``), below every other number."""

from __future__ import annotations

import html
import re

BUDGETED = ("--method", "slq", "--max-hvps", "40", "--max-samples", "300", "--no-cache", "--threads", "1")


def _summary(path) -> dict[str, str]:
    page = path.read_text(encoding="utf-8")
    summary = page.split("<h2>Summary</h2>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", summary)
    return {html.unescape(label): html.unescape(value) for label, value in rows}


def test_bounds_and_prune_reports_state_the_solver_and_its_stop(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    shown = cli("bounds", own_ckpt, *BUDGETED, "--report", tmp_path / "b")
    assert shown.exit_code == 0, shown.stderr
    solver = next(line for line in shown.stdout.splitlines() if line.startswith("solver: "))
    pruned = cli("prune", own_ckpt, "--ratio", "auto", *BUDGETED, "-o", tmp_path / "p.pt", "--report", tmp_path / "p")
    assert pruned.exit_code == 0, pruned.stderr
    for report in ("b", "p"):
        rows = _summary(tmp_path / report / "report.html")
        assert solver.startswith(f"solver: {rows['solver choice']} · ")  # the console's reason, word for word
        assert rows["what stopped the spectrum"] == "stopped by --max-hvps" and "stopped by --max-hvps" in solver
        assert int(rows["curvature products (HVPs)"].replace(",", "")) > 0
