"""Progress bars: shown on a terminal or without --json, and by one process."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from prunelimit.report import progress


@pytest.mark.parametrize("main", [True, False])
def test_only_rank_zero_draws_the_bar(monkeypatch, main):
    """Under torchrun every rank runs the same stages: one bar (rank 0's), not one a rank."""
    monkeypatch.setattr(progress, "is_main", lambda: main)
    assert progress.progress_enabled(quiet=False) is main


def _terminal(monkeypatch, width: int, term: str = "xterm") -> io.StringIO:
    """The bar's stderr as a terminal ``width`` columns wide, written to the returned buffer."""
    out = io.StringIO()
    monkeypatch.setattr(progress, "Console", lambda **_: Console(file=out, force_terminal=True, width=width,
                                                                  color_system=None, _environ={"TERM": term}))
    return out


@pytest.mark.parametrize("width", [40, 60, 120])
def test_a_narrow_terminal_keeps_the_count_and_the_eta(monkeypatch, width):
    """The status went into the description, first on the line: 40 columns showed
    'curvature · ρ* 91.84 % ± 0.31 pt    eta' (no count, no ETA) and 60 cut the count to
    '883…'. The status now comes last and gives way first."""
    out = _terminal(monkeypatch, width)
    with progress.progress("curvature", 96) as advance:
        advance(883, 1518, "ρ* 91.84 % ± 0.31 pt")
    frames = out.getvalue()
    assert "883/1518" in frames and "eta -:--:--" in frames  # one update: no rate yet, so no ETA to state
    if width >= 80:  # room for it all
        assert "ρ* 91.84 % ± 0.31 pt" in frames


def test_a_dumb_terminal_gets_no_stray_line(monkeypatch):
    """TERM=dumb cannot redraw a line: rich drew no bar there but left a blank line on stderr."""
    out = _terminal(monkeypatch, 80, term="dumb")
    with progress.progress("curvature", 96) as advance:
        advance(10, 96, "first stage")
    assert out.getvalue() == ""


def _fake_clock(monkeypatch) -> list[float]:
    """The bar's clock, set by the test: ETAs without wall time."""
    from functools import partial

    from rich.progress import Progress

    now = [0.0]
    monkeypatch.setattr(progress, "Progress", partial(Progress, get_time=lambda: now[0]))
    return now


def test_the_eta_survives_a_re_planned_total(monkeypatch):
    """Adaptive SLQ re-plans its total every stage, and under --time-budget every step; rich
    forgot its rate whenever the total changed, so the ETA read -:--:-- there. 10 products
    at one a second, each re-planning the total (91, 92, …, 100): 90 left, 0:01:30."""
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 96) as advance:
        for done in range(1, 11):
            now[0] = float(done)
            advance(done, 90 + done, "ρ* 91.8 % ± 1.1 pt")
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "10/100" in last and "eta 0:01:30" in last


def _hundred_columns_in_ten_seconds(advance, now: list[float]) -> None:
    """An exact spectrum's 100 columns, one each 0.1 s on the fake clock."""
    for done in range(1, 101):
        now[0] = done / 10
        advance(done, 100)


def test_the_elapsed_time_goes_on_past_a_stage_that_ends(monkeypatch):
    """Adaptive SLQ ends every stage with its count at its total (192/192) and then plans
    the next (384): rich stops a task's elapsed clock the first time the count reaches the
    total, for good, so `bounds --method slq` showed 0:00:01 elapsed from its first stage's
    end to its last product, seconds later. 192 products in 2 s, then 192 more in 8 s:
    0:00:10 at 384/768."""
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 192) as advance:
        now[0] = 2.0
        advance(192, 192, "ρ* 91.8 % ± 1.1 pt")
        now[0] = 10.0
        advance(384, 768, "ρ* 91.8 % ± 1.1 pt")
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "384/768" in last and "0:00:10" in last, last


def test_a_stage_counting_other_units_gets_its_own_eta(monkeypatch):
    """The count starting again (exact columns, then verify's search passes) starts the rate
    again: 100 columns in 10 s, then a pass every 10 s, leave 48 passes at 0:08:00, not at
    the columns' rate."""
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 100) as advance:
        _hundred_columns_in_ten_seconds(advance, now)
        for done in range(1, 3):
            now[0] = 10.0 + 10 * done
            advance(done, 50, "actual-limit search: passes")
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "2/50" in last and "eta 0:08:00" in last


def test_a_count_after_a_stage_that_cannot_count_gets_its_own_eta(monkeypatch):
    """verify's search after the dense eigenvalue solve (a stage whose count 0 stands for none):
    its rate counted from the solve's start, so the first passes read as one each 15 s, and a
    gate's CI log said 'curvature 1/49, …, eta 0:03:07' for a search of a second. Solve from
    10 s to 25 s, then a pass a second: 48 passes left at 0:00:48, in the bar and in a log."""
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 100) as advance:
        _hundred_columns_in_ten_seconds(advance, now)
        advance(0, 0, "eigenvalues of the dense Hessian", absolute=True)
        for done in range(1, 3):
            now[0] = 24.0 + done
            advance(done, 50, "actual-limit search: passes")
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "2/50" in last and "eta 0:00:48" in last
    log = _log(monkeypatch)
    now[0] = 0.0
    with progress.progress("curvature", 100, clock=lambda: now[0]) as advance:
        _hundred_columns_in_ten_seconds(advance, now)
        advance(0, 0, "eigenvalues of the dense Hessian", absolute=True)
        for done in range(1, 17):  # the next line, 15 s after the search's first
            now[0] = 24.0 + done
            advance(done, 50, "actual-limit search: passes")
    lines = log.getvalue().splitlines()
    assert lines[-2:] == ["prunelimit: curvature 1/50, elapsed 0:00:25, eta -:--:--, actual-limit search: passes",
                          "prunelimit: curvature 16/50, elapsed 0:00:40, eta 0:00:34, actual-limit search: passes"]


def test_a_stage_that_cannot_count_shows_no_count_and_no_eta(monkeypatch):
    """The dense eigenvalue solve is one call: after 100 columns the bar read '100/100 … eta
    0:00:00' through it. Total 0 marks such a stage: the bar pulses, with elapsed time and the
    status (its predicted seconds), but no count and no ETA."""
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 100) as advance:
        _hundred_columns_in_ten_seconds(advance, now)
        advance(0, 0, "eigenvalues of the dense Hessian (predicted ≈ 40 s)", absolute=True)
        now[0] = 20.0
        advance(0, 0, "eigenvalues of the dense Hessian (predicted ≈ 40 s)", absolute=True)
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "eigenvalues of the dense Hessian" in last and "/100" not in last and "0/" not in last
    assert not re.search(r"eta [-\d]", last) and re.search(r"0:00:[12]0", last)  # elapsed, no ETA


def test_a_lazy_bar_is_drawn_at_its_first_count_only(monkeypatch):
    """Work that may need none (a spectrum read from the cache) drew an empty bar at once."""
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 96, lazy=True):
        pass
    assert out.getvalue() == ""
    with progress.progress("curvature", 96, lazy=True) as advance:
        advance(3)
    assert "3/96" in out.getvalue()


def _log(monkeypatch, term: str | None = None) -> io.StringIO:
    """The progress's stderr as a file (a CI log), or as a terminal of type ``term``."""
    out = io.StringIO()
    kind = {} if term is None else {"force_terminal": True, "_environ": {"TERM": term}}
    monkeypatch.setattr(progress, "Console", lambda **_: Console(file=out, color_system=None, **kind))
    return out


def _products(advance, now: list[float], seconds: int) -> None:
    """One product a second on the injected clock, ρ* ± as adaptive SLQ states it."""
    for done in range(1, seconds + 1):
        now[0] = float(done)
        advance(done, 100, "ρ* 91.8 % ± 1.1 pt")


@pytest.mark.parametrize("term", [None, "dumb"])
def test_a_log_gets_a_progress_line_every_fifteen_seconds_after_the_first_ten(monkeypatch, term):
    """On a non-terminal stderr (a CI log, `2> log.txt`), or one that cannot redraw a line,
    long work printed nothing at all: a `bounds` running for minutes looked hung. One product
    a second for a minute: lines at 10, 25, 40 and 55 s, each with the count, the elapsed
    time, the ETA at the rate measured and the status, as the bar shows them."""
    out = _log(monkeypatch, term)
    now = [0.0]
    with progress.progress("curvature", 96, lazy=True, clock=lambda: now[0]) as advance:
        _products(advance, now, 60)
    lines = out.getvalue().splitlines()
    assert lines[0] == "prunelimit: curvature 10/100, elapsed 0:00:10, eta 0:01:30, ρ* 91.8 % ± 1.1 pt"
    assert [line.split(",")[0] for line in lines] == [f"prunelimit: curvature {n}/100" for n in (10, 25, 40, 55)]
    assert "eta 0:00:45" in lines[-1]


def test_a_short_run_writes_no_progress_line(monkeypatch):
    """Work done within the first ten seconds leaves stderr as it was (warnings and errors alone)."""
    out = _log(monkeypatch)
    now = [0.0]
    with progress.progress("curvature", 96, clock=lambda: now[0]) as advance:
        _products(advance, now, 9)
    assert out.getvalue() == ""


def test_a_stage_without_a_count_logs_its_elapsed_time_and_status(monkeypatch):
    """The dense eigenvalue solve (total 0): no count and no ETA, as on the bar."""
    out = _log(monkeypatch)
    now = [0.0]
    with progress.progress("curvature", 100, clock=lambda: now[0]) as advance:
        now[0] = 12.0
        advance(0, 0, "eigenvalues of the dense Hessian (predicted ≈ 40 s)", absolute=True)
    assert out.getvalue() == "prunelimit: curvature, elapsed 0:00:12, eigenvalues of the dense Hessian (predicted ≈ 40 s)\n"


def test_quiet_writes_no_progress(monkeypatch):
    out = _log(monkeypatch)
    now = [0.0]
    with progress.progress("curvature", 96, progress.progress_enabled(quiet=True), clock=lambda: now[0]) as advance:
        _products(advance, now, 60)
    assert out.getvalue() == ""


def test_a_log_names_a_new_stage_as_it_begins(monkeypatch):
    """The dense eigenvalue solve is one call (a minute and more at D = 16k) with no count to
    advance: begun between two lines, it was named only by the line after it, so the log said
    nothing of it while it ran. A stage that starts past the first 10 s gets its line at once."""
    out = _log(monkeypatch)
    now = [0.0]
    with progress.progress("curvature", 100, clock=lambda: now[0]) as advance:
        for done in range(1, 31):  # columns, one a second: lines at 10 and 25 s
            now[0] = float(done)
            advance(done, 100)
        now[0] = 31.0
        advance(0, 0, "eigenvalues of the dense Hessian (predicted ≈ 40 s)", absolute=True)
    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["prunelimit: curvature 10/100", "prunelimit: curvature 25/100",
                                                      "prunelimit: curvature"]
    assert lines[-1].endswith("elapsed 0:00:31, eigenvalues of the dense Hessian (predicted ≈ 40 s)")


def test_a_log_line_writes_large_counts_whole():
    """A count past a million (products under a large --max-hvps, training steps) read
    '1.23457e+06/2e+06'."""
    line = progress.log_line("curvature", progress.Tally(1_234_567, 2_000_000), 75.0, 1_000.0)
    assert line == "prunelimit: curvature 1234567/2000000, elapsed 0:01:15, eta 0:12:46"


def _one_run_after_three(advance, now: list[float]) -> None:
    """Three runs in lockstep, one product each a second (30 in 10 s), a second's
    assessment, then the first run alone, a product a second, to 130: 34 done at 15 s."""
    for step in range(1, 11):
        now[0] = float(step)
        advance(3 * step, 30, "ρ* 91.8 % ± 3.9 pt")
    now[0] = 11.0
    advance(30, 30, "ρ* 91.8 % ± 1.1 pt")
    for done in range(31, 35):
        now[0] = 11.0 + done - 30
        advance(done, 130, "ρ* 91.8 % ± 1.1 pt")


def test_a_stage_of_its_own_rate_gets_its_own_eta(monkeypatch):
    """Adaptive SLQ's next stage, the data check and the trace top-up go on counting from the
    stage before, at a rate of their own: one run going on alone after three in lockstep
    makes its products at a third of the rate. The ETA read the rate of the last 30 s, the
    earlier stage's mostly: 'eta 0:00:44' for 96 products at one a second, rising for 30 s
    as the old rate left the window. A stage that begins (the count had reached its total,
    and the total grows) is now measured from its start: 0:01:36, in the bar and in a log."""
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 30) as advance:
        _one_run_after_three(advance, now)
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "34/130" in last and "eta 0:01:36" in last, last
    log = _log(monkeypatch)
    monkeypatch.setattr(progress, "LOG_AFTER_S", 15.0)
    now[0] = 0.0
    with progress.progress("curvature", 30, clock=lambda: now[0]) as advance:
        _one_run_after_three(advance, now)
    assert log.getvalue() == "prunelimit: curvature 34/130, elapsed 0:00:15, eta 0:01:36, ρ* 91.8 % ± 1.1 pt\n"


def test_a_stages_set_up_does_not_make_its_eta_leap(monkeypatch):
    """A stage's first product pays for its set-up (the Lanczos bases grown to the new
    steps): 100 products a second, then a stage whose first product takes 0.2 s and the
    rest 100 a second again. Read from the stage's start at once, 20 products in 0.39 s
    read as 51 a second: 'eta 0:00:16' for 800 products that take 8 s. The stage's own rate
    is read once it spans a second, the window's before: 220 in 2.39 s, 0:00:09."""
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 200) as advance:
        for done in range(1, 201):
            now[0] = done / 100
            advance(done, 200, "ρ* 91.8 % ± 1.1 pt")
        now[0] = 2.2
        advance(201, 1020, "ρ* 91.8 % ± 1.1 pt")
        for done in range(202, 221):
            now[0] = 2.2 + (done - 201) / 100
            advance(done, 1020, "ρ* 91.8 % ± 1.1 pt")
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "220/1020" in last and "eta 0:00:09" in last, last
