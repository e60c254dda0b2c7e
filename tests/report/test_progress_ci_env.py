"""Progress under the environment variables CI jobs set for rich: a bar only where stderr
can redraw it, plain lines everywhere else."""

from __future__ import annotations

import io
import sys

import pytest

from prunelimit.report import progress


class _Stderr(io.StringIO):
    """stderr as a log file (``tty`` False) or as a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _written(monkeypatch, env: dict[str, str], tty: bool) -> str:
    """What 30 s of progress (one product a second, 100 planned) writes to a stderr that is
    a terminal or not (``tty``), under ``env`` and no other of rich's variables."""
    monkeypatch.setenv("TERM", "xterm")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    err = _Stderr(tty)
    monkeypatch.setattr(sys, "stderr", err)
    now = [0.0]
    with progress.progress("curvature", 96, clock=lambda: now[0]) as advance:
        for done in range(1, 31):
            now[0] = float(done)
            advance(done, 100, "ρ* 91.8 % ± 1.1 pt")
    return err.getvalue()


@pytest.mark.parametrize(("tty", "env"), [
    (False, {"FORCE_COLOR": "1"}),  # coloured CI logs: GitHub Actions, tox, nox
    (False, {"TTY_COMPATIBLE": "1"}),  # rich's own "escape codes are fine here"
    (True, {"TTY_INTERACTIVE": "0"}),  # rich's own "no animations"
], ids=["force-color-log", "tty-compatible-log", "tty-interactive-0"])
def test_a_ci_log_gets_lines_whatever_colour_it_asks_for(monkeypatch, tty, env):
    """FORCE_COLOR=1 or TTY_COMPATIBLE=1 made rich take a log file for a terminal: `bounds
    2> log` wrote the bar's frames there (carriage returns and escape codes, ten a second,
    for the whole run) and not one progress line; TTY_INTERACTIVE=0, rich's way to ask for
    no animation, left the log with nothing but two cursor codes and a blank line. Each now
    gets the plain lines a log gets: one product a second for 30 s, lines at 10 and 25 s."""
    assert _written(monkeypatch, env, tty).splitlines() == [
        "prunelimit: curvature 10/100, elapsed 0:00:10, eta 0:01:30, ρ* 91.8 % ± 1.1 pt",
        "prunelimit: curvature 25/100, elapsed 0:00:25, eta 0:01:15, ρ* 91.8 % ± 1.1 pt"]


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}],
                         ids=["plain", "force-color", "tty-interactive-1"])
def test_a_terminal_still_gets_its_bar(monkeypatch, env):
    """A terminal draws the bar (carriage returns, no log line), with or without colour asked
    for; so does any stderr rich is told can take escape codes and animate (TTY_COMPATIBLE=1
    TTY_INTERACTIVE=1)."""
    written = _written(monkeypatch, env, tty="TTY_INTERACTIVE" not in env)
    assert "\r" in written and "prunelimit: curvature" not in written
