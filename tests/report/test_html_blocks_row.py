"""``bounds --per-layer --report``'s summary states how the blocks were computed and what they
cost as the console's ``blocks:`` line does (``Lanczos on each block, 2 probes × 4 steps a
block; 44 HVPs in 0.1 s · block-diagonal F at R(ρ*) = 0.9360``): the page had the per-layer
table but neither the blocks' products and seconds nor the block-diagonal F."""

from __future__ import annotations

from tests.conftest import summary_rows

RUN = ("--method", "slq", "--max-hvps", "40", "--max-samples", "300", "--no-cache", "--threads", "1")
LABEL = "per-layer blocks (--per-layer)"


def test_the_blocks_line_is_a_row_of_the_report(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    shown = cli("bounds", own_ckpt, *RUN, "--per-layer", "--report", tmp_path / "layers")
    assert shown.exit_code == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("blocks: "))
    rows = summary_rows((tmp_path / "layers" / "report.html").read_text(encoding="utf-8"))
    assert line == f"blocks: {rows[LABEL]}" and " HVPs in " in line
    plain = cli("bounds", own_ckpt, *RUN, "--report", tmp_path / "plain")
    assert plain.exit_code == 0, plain.stderr
    assert LABEL not in summary_rows((tmp_path / "plain" / "report.html").read_text(encoding="utf-8"))
