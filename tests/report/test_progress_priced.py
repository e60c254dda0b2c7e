"""A progress ETA the caller priced (``advance(..., left=seconds)``: adaptive SLQ's under a
time budget, each stage's products at their own cost) is shown in place of the measured
rate's, which prices every unit left alike: a GPU ResNet-18's bar read 'eta 0:04:11' for a
data check whose products cost 0.37 s against the runs' 1.27 s, 47 s of work left."""

from __future__ import annotations

from rich.progress import Progress

from prunelimit.report import progress

from tests.report.test_progress import _fake_clock, _log, _terminal


def _runs_then_a_priced_rest(advance, now: list[float]) -> None:
    """39 products in 39 s, then the runs' end: 127 left (a data check and top-ups) priced at 53 s."""
    for done in range(1, 40):
        now[0] = float(done)
        advance(done, 166, "ρ* 72 % ± 69 pt")
    now[0] = 40.0
    advance(39, 166, "ρ* 72 % ± 69 pt", left=53.0)


def test_a_priced_eta_is_shown_in_place_of_the_rates(monkeypatch):
    """At one product a second the measured rate put the 127 left at over two minutes; priced,
    0:00:53: in a log and on the bar."""
    log = _log(monkeypatch)
    now = [0.0]
    with progress.progress("curvature", 166, clock=lambda: now[0]) as advance:
        _runs_then_a_priced_rest(advance, now)
    lines = log.getvalue().splitlines()
    assert lines[-2] == "prunelimit: curvature 25/166, elapsed 0:00:25, eta 0:02:21, ρ* 72 % ± 69 pt"  # the rate's
    assert lines[-1] == "prunelimit: curvature 39/166, elapsed 0:00:40, eta 0:00:53, ρ* 72 % ± 69 pt"
    now = _fake_clock(monkeypatch)
    out = _terminal(monkeypatch, 120)
    with progress.progress("curvature", 166) as advance:
        _runs_then_a_priced_rest(advance, now)
    last = out.getvalue().rsplit("\r", 2)[-2]
    assert "39/166" in last and "eta 0:00:53" in last, last


def test_a_bars_priced_eta_counts_down_between_counts():
    """A product may take seconds (22 s a product on a GPU ResNet-18 over 50,000 samples): the
    bar redraws in between, its priced ETA less the time since it was given."""
    now = [100.0]
    bar = Progress(get_time=lambda: now[0])
    bar.add_task("curvature", total=157, left=(53.0, 100.0), rate=1.0, completed=30)
    task = bar.tasks[0]
    now[0] = 110.0
    assert progress._Remaining().render(task).plain == "eta 0:00:43"
    now[0] = 200.0  # past the price: none left, not a negative time
    assert progress._Remaining().render(task).plain == "eta 0:00:00"


def test_no_price_keeps_the_rates_eta():
    assert progress.eta_text(30, 157, 1.0) == "eta 0:02:07"
    assert progress.eta_text(30, 157, None) == "eta -:--:--"
    assert progress.eta_text(30, 157, None, 53.0) == "eta 0:00:53"  # priced before a rate is known
    assert progress.eta_text(157, 157, None, 53.0) == "eta 0:00:00"
