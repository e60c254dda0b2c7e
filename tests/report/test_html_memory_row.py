"""``bounds --report``'s summary states the spectrum's memory as the console's ``memory:`` line
does (``Lanczos basis, float32 0.6 MB (host) · HVP graphs ≈ 0.3 MB (cached) · peak host 341
MB``): the page held the JSON's ``memory.*_mb`` to every digit among the raw values only."""

from __future__ import annotations

from tests.conftest import summary_rows


def test_the_memory_line_is_a_row_of_the_report(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    shown = cli("bounds", own_ckpt, "--method", "slq", "--max-hvps", "40", "--max-samples", "300", "--no-cache",
                "--threads", "1", "--report", tmp_path / "r")
    assert shown.exit_code == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("memory: "))
    assert line == f"memory: {summary_rows((tmp_path / 'r' / 'report.html').read_text(encoding='utf-8'))['memory']}"
