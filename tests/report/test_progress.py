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
    assert progress.progress_enabled(json_mode=False) is main


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
