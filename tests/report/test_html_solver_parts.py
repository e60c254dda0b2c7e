"""The HTML report's summary states every part of the console's ``solver:`` line, in its
words: the exact spectrum's predicted time (``exact predicted ≈ 2.1 s``), SLQ's probes ×
steps and the curvature's subset of the samples. It stated the choice's reason and the stop
alone; the rest was among the raw scalars (``timing.predicted_exact_seconds`` to every digit)
or nowhere (the plan a stop left, ``the first of 4 carried on alone``)."""

from __future__ import annotations

from tests.conftest import summary_rows

DATA = ("--max-samples", "300", "--no-cache", "--threads", "1")


def _solver_and_rows(cli, ckpt, tmp_path, name: str, *args: str) -> tuple[str, dict[str, str]]:
    shown = cli("bounds", ckpt, *args, *DATA, "--report", tmp_path / name)
    assert shown.exit_code == 0, shown.stderr
    solver = next(line for line in shown.stdout.splitlines() if line.startswith("solver: "))
    return solver, summary_rows((tmp_path / name / "report.html").read_text(encoding="utf-8"))


def test_the_exact_spectrums_predicted_time_as_the_solver_line_states_it(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    solver, rows = _solver_and_rows(cli, own_ckpt, tmp_path, "exact")  # the default: timed, then exact
    assert solver == f"solver: {rows['solver choice']} (exact predicted {rows['exact spectrum predicted']})"
    assert "probes × steps" not in rows and "curvature samples" not in rows  # as the line: no plan, all samples


def test_slqs_plan_and_subset_as_the_solver_line_states_them(cli, own_ckpt, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    solver, rows = _solver_and_rows(cli, own_ckpt, tmp_path, "slq", "--method", "slq", "--max-hvps", "40",
                                    "--hessian-samples", "100")
    assert rows["curvature samples"] == "curvature on 100 of 300 samples"
    assert solver == (f"solver: {rows['solver choice']} · {rows['probes × steps']}, "
                      f"{rows['what stopped the spectrum']} · {rows['curvature samples']}")
    assert "exact spectrum predicted" not in rows  # asked for SLQ: nothing timed, as the line
