"""``prune --ratio auto --from b.json`` says where its prediction was read from, as ``verify
--from`` and ``gate --from`` do (``prediction read from b.json (no curvature work)``), on the
console, in its JSON (``ratio.prediction_from``) and in its HTML report; ``verify --from``'s
report states it too. Before, prune's console named the file only in its table's title
(``ratio auto from …``, folded across lines) and no HTML report named it at all."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from prunelimit.report.console import read_from_text

DATA = ("--max-samples", "300", "--threads", "1")  # the saved report's data, which --from checks
BUDGETED = ("--method", "slq", "--max-hvps", "40", "--no-cache", *DATA)


class _Summary(HTMLParser):
    """The rows of the first table after the "Summary" heading, as ``{label: value}``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self._heading: str | None = None
        self._in_summary = self._done = False
        self._row: list[str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "h2":
            self._heading = ""
        elif tag == "tr" and self._in_summary and not self._done:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag) -> None:
        if tag == "h2":
            self._in_summary = self._heading == "Summary"
            self._heading = None
        elif tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if len(self._row) == 2:
                self.rows[self._row[0]] = self._row[1]
            self._row = None
        elif tag == "table" and self._in_summary:
            self._done = True

    def handle_data(self, data) -> None:
        if self._heading is not None:
            self._heading += data
        elif self._cell is not None:
            self._cell += data


def summary_rows(page: str) -> dict[str, str]:
    """The HTML summary's ``{quantity: value}`` rows, read with the stdlib parser."""
    parser = _Summary()
    parser.feed(page)
    return parser.rows


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
