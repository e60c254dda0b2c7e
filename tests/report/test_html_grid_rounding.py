"""The HTML report's per-layer table (``bounds --per-layer``) and tensor table (``export``)
state each number as the console's table does: λmax to four digits, the shares, the removed
fraction at ρ* and the layer's own ρ* in %, a tensor's shape as ``32×64`` and its density
in %, and the summary's size ratio as ``0.253×``. They were written to six significant digits
(``0.858506``, ``[32, 64]``, ``0.25332``)."""

from __future__ import annotations

import re

from tests.conftest import LIBRARY_SAMPLES

RUN = ("--max-samples", str(LIBRARY_SAMPLES), "--threads", "1")


def _grid(page: str, title: str) -> tuple[list[str], list[list[str]]]:
    table = page.partition(f"<h2>{title}</h2>")[2].partition("</table>")[0]
    head = re.findall(r"<th>([^<]*)</th>", table)
    return head, [re.findall(r"<td class=num>([^<]*)</td>", row) for row in table.split("<tr>")[2:]]


def _console(stdout: str, first: str) -> list[list[str]]:
    """The body rows of the console table whose header starts with ``first``, cell by cell."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"┃ {first} "))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("│"):
            break
        rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def test_the_per_layer_html_table_rounds_as_the_console(cli, small_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # below the table's width the console stacks it, a row per column
    result = cli("bounds", small_ckpt, "--method", "exact", "--per-layer", *RUN, "--report", tmp_path / "r")
    assert result.exit_code == 0, result.stderr
    head, rows = _grid((tmp_path / "r" / "report.html").read_text(encoding="utf-8"), "Layers")
    console = {row[0]: row for row in _console(result.stdout, "layer")}
    # console column → the page's column of the same JSON value
    columns = {1: "params", 2: "trace (± 95 %)", 3: "lambda_max", 4: "share_of_width", 5: "sparsity_at_rho",
               6: "radius_share", 7: "limit_alone"}
    assert len(rows) == len(console) == 3  # two layers and the rest
    for row in rows:
        shown = console[row[head.index("name")]]
        for at, key in columns.items():
            assert row[head.index(key)] == shown[at].removesuffix(" collapse"), (key, row, shown)
    assert any("%" in row[head.index("share_of_width")] for row in rows)


def test_the_export_html_table_rounds_as_the_console(cli, small_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the table unstacked and the size line unwrapped, as on a wide terminal
    pruned = tmp_path / "pruned.pt"
    assert cli("prune", small_ckpt, "--ratio", "0.9", "-o", pruned, *RUN).exit_code == 0
    result = cli("export", pruned, "-o", tmp_path / "small.safetensors", "--threads", "1", "--report", tmp_path / "r")
    assert result.exit_code == 0, result.stderr
    head, rows = _grid((tmp_path / "r" / "report.html").read_text(encoding="utf-8"), "Tensors")
    console = {row[0]: row for row in _console(result.stdout, "tensor")}
    assert len(rows) == len(console) == 4
    for row in rows:
        shown = console[row[head.index("name")]]
        assert row[head.index("shape")] == shown[1]  # 4×64, not [4, 64]
        assert row[head.index("density")] == shown[3]  # 10.16 %, not 0.101562
    assert console["0.weight"][1] == "4×64"
    # the size ratio as the console's last line states it (0.253×), not to six digits
    summary = dict(re.findall(r"<tr><td>([^<]*)</td><td class=num>([^<]*)</td></tr>",
                              (tmp_path / "r" / "report.html").read_text(encoding="utf-8").partition(
                                  "<h2>Summary</h2>")[2].partition("</table>")[0]))
    stated = re.search(r": (\d+\.\d{3}×) the dense size", result.stdout)[1]
    assert summary["exported / dense size"] == stated


def test_the_html_summary_states_epsilon_with_its_source_as_the_console(cli, small_ckpt, tmp_path):
    """The page's ε read ``0.05`` beside the console's ``ε = 0.05 (given)``: its source is
    stated with it, as on every console line that states ε."""
    pruned = tmp_path / "pruned.pt"
    for command, extra in (("bounds", ()), ("prune", ("--ratio", "auto", "-o", pruned))):
        given = ("--epsilon", "0.05") if command == "bounds" else ()
        result = cli(command, small_ckpt, "--method", "exact", *RUN, *given, *extra, "--report", tmp_path / command)
        assert result.exit_code == 0, result.stderr
        stated = re.search(r"ε = ([^·\n]*\))", result.stdout)[1]
        page = (tmp_path / command / "report.html").read_text(encoding="utf-8")
        summary = dict(re.findall(r"<tr><td>([^<]*)</td><td class=num>([^<]*)</td></tr>",
                                  page.partition("<h2>Summary</h2>")[2].partition("</table>")[0]))
        label = "loss tolerance ε" if command == "bounds" else "loss tolerance ε of the predicted ratio"
        assert summary[label] == stated, (summary[label], stated)
    assert stated.endswith("(std of per-batch losses)")
