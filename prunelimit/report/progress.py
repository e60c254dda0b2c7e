"""Progress on stderr: a bar with ETA on a terminal, plain low-rate lines elsewhere (a CI
log, ``2> file``), so that long work does not look hung; ``--quiet`` silences both."""

from __future__ import annotations

import collections
import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from prunelimit.distributed import is_main
from prunelimit.io.atomic import raise_if_signalled

Advance = Callable[..., None]


class _Status(ProgressColumn):
    """The stage's status (such as ρ* ± its uncertainty), last and cut short first: on a
    narrow terminal the count done / expected and the ETA stay whole."""

    def render(self, task: Task) -> Text:
        return Text(task.fields.get("status", ""), no_wrap=True, overflow="ellipsis")


class _Count(MofNCompleteColumn):
    """Done / total; nothing in a stage with no count (``total`` None), rather than "0/?"."""

    def render(self, task: Task) -> Text:
        return Text("") if task.total is None else super().render(task)


class _Remaining(ProgressColumn):
    """The ETA at the rate ``advance`` measures (``task.fields["rate"]``, units a second):
    rich's own forgets its rate whenever the total changes, and adaptive SLQ re-plans its
    total every stage (under a time budget, every step), which left the ETA at -:--:--.
    Where the caller priced the work left (``task.fields["left"]``: seconds, and the bar's
    time it was given at), that price, less the time since. None in a stage with no count:
    there is no rate to state one from."""

    def render(self, task: Task) -> Text:
        priced = task.fields.get("left")
        left = None if priced is None else max(0.0, priced[0] - (task.get_time() - priced[1]))
        return Text(eta_text(task.completed, task.total, task.fields.get("rate"), left), style="progress.remaining")


def clock_text(seconds: float) -> str:
    """``seconds`` as h:mm:ss, as the bar's elapsed and ETA columns show them."""
    minutes, seconds = divmod(math.ceil(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{seconds:02d}"


def eta_text(done: float, total: float | None, rate: float | None, left: float | None = None) -> str:
    """"eta h:mm:ss" for the ``total - done`` units left: the ``left`` seconds the caller
    priced them at, else at ``rate`` a second; "eta -:--:--" before either is known; "" in a
    stage with no count (``total`` None)."""
    if total is None:
        return ""
    if done >= total:
        return f"eta {clock_text(0)}"
    if left is not None:
        return f"eta {clock_text(left)}"
    if not rate:
        return "eta -:--:--"
    return f"eta {clock_text((total - done) / rate)}"


# seconds of counts the rate is measured over (rich's own speed estimate's period)
RATE_WINDOW_S = 30.0


def _columns() -> tuple[ProgressColumn, ...]:
    # rich shrinks the columns that may wrap first: the bar and the status give way, the rest stays whole
    def whole() -> Column:
        return Column(no_wrap=True)

    return (
        TextColumn("{task.description}", table_column=whole()), BarColumn(table_column=Column(no_wrap=False)),
        _Count(table_column=whole()), TimeElapsedColumn(table_column=whole()), _Remaining(table_column=whole()),
        _Status(table_column=Column(no_wrap=False, overflow="ellipsis")),
    )


# A log line no sooner than this into the work (short runs stay quiet), then at most one this often.
LOG_AFTER_S = 10.0
LOG_EVERY_S = 15.0


@dataclass(frozen=True)
class Tally:
    """Where a stage stands: units done, the (re-planned) total, None in a stage that cannot
    count its work, the status shown after the count (such as ρ* ± its uncertainty), and
    the seconds the caller priced the work left at (None: the ETA is the measured rate's)."""

    done: int = 0
    total: int | None = None
    text: str = ""
    left: float | None = None


def advanced(count: Tally, n: int = 1, total: int | None = None, text: str | None = None,
             absolute: bool = False, left: float | None = None) -> Tally:
    """``count`` after ``advance(n, total, text, absolute, left)`` (see :func:`progress`)."""
    done = n if total is not None or absolute else count.done + n
    if total == 0:  # a stage that cannot count its work
        count = replace(count, total=None)
    elif total is not None:
        count = replace(count, total=max(total, done))
    return replace(count, done=done, text=count.text if text is None else text, left=left)


# a stage's own rate once it spans this long: before, its first products (which pay for its
# set-up, the bases it grows) would make the ETA leap; the window's rate stands in
STAGE_RATE_AFTER_S = 1.0


class Rate:
    """Units a second over the last ``RATE_WINDOW_S`` seconds of counts, measured again as a
    stage begins: from nothing when the count goes back or starts or stops counting (another
    stage, counting other units: verify's search after the dense eigenvalue solve, whose count
    0 stood for none), from the stage's start, once it spans ``STAGE_RATE_AFTER_S``, when the
    total grows past a count that had reached it (adaptive SLQ's next stage, the data check,
    the trace top-up: products of another width, or over another share of the data, at a
    rate of their own; one run going on alone after three in lockstep took the three's rate,
    its ETA a third of the time left)."""

    def __init__(self) -> None:
        self.counts: collections.deque[tuple[float, float]] = collections.deque()  # (time, count done)
        self.total: float | None = None  # the latest count's total (None: a stage that cannot count its work)
        self.stage: tuple[float, float] | None = None  # (time, count done) where the current stage began

    def add(self, now: float, done: float, total: float | None) -> float | None:
        """Record ``done`` of ``total`` (None: a stage that cannot count its work) at ``now``;
        the rate since the window's first count, or the stage's start (None: no span yet)."""
        if self.counts:
            last = self.counts[-1]
            if done < last[1] or (total is None) != (self.total is None):
                self.counts.clear()
                self.stage = None
            elif self.total is not None and total is not None and last[1] >= self.total and total > self.total:
                self.stage = last  # the stage before ended there
        self.total = total
        self.counts.append((now, done))
        while now - self.counts[0][0] > RATE_WINDOW_S:
            self.counts.popleft()
        origin = self.counts[0]
        if self.stage is not None and self.stage[0] > origin[0] and now - self.stage[0] >= STAGE_RATE_AFTER_S:
            origin = self.stage
        span = now - origin[0]
        return (done - origin[1]) / span if span > 0 else None


def log_line(description: str, count: Tally, elapsed: float, rate: float | None) -> str:
    """One progress line for a log: what the bar shows, in the bar's order."""
    parts = [f"prunelimit: {description}" + ("" if count.total is None else f" {count.done}/{count.total}"),
             f"elapsed {clock_text(elapsed)}", eta_text(count.done, count.total, rate, count.left), count.text]
    return ", ".join(part for part in parts if part)


def _log_lines(description: str, total: int, write: Callable[[str], None],
               clock: Callable[[], float]) -> Advance:
    """``advance`` writing a line (``log_line``) no sooner than ``LOG_AFTER_S`` after the start
    and then at most every ``LOG_EVERY_S``, or at once when a stage starts (the count goes back,
    or starts or stops counting): a CI log shows the work going on, not a line a step, and a
    stage that makes no count (the dense eigenvalue solve) is named as it begins."""
    start = clock()
    state = {"count": Tally(total=total or None), "next": start + LOG_AFTER_S}
    rate = Rate()

    def advance(n: int = 1, total: int | None = None, text: str | None = None, absolute: bool = False,
                left: float | None = None) -> None:
        before = state["count"]
        count = state["count"] = advanced(before, n, total, text, absolute, left)
        now = clock()
        per_second = rate.add(now, count.done, count.total)
        stage = count.done < before.done or (count.total is None) != (before.total is None)
        if now >= state["next"] or (stage and now >= start + LOG_AFTER_S):
            state["next"] = now + LOG_EVERY_S
            write(log_line(description, count, now - start, per_second))

    return advance


@contextlib.contextmanager
def progress(description: str, total: int, enabled: bool = True, lazy: bool = False,
             clock: Callable[[], float] = time.monotonic) -> Iterator[Advance]:
    """Yield ``advance(n)``, or ``advance(done, total, text)`` to set the count done, the
    (re-planned) total and a status after the count; on stderr when ``enabled``, a bar on a
    terminal, else plain lines (``_log_lines``, timed by ``clock``). ``left``: the seconds
    the caller prices the work left at (each stage's products at their own cost, within a
    time budget), the ETA in place of the measured rate's, which prices every unit alike.
    ``absolute=True`` makes ``n`` the count done even without a total; ``total`` 0 starts a
    stage that cannot count its work (one long call): the bar pulses, with no count or ETA.
    ``lazy``: the bar is drawn at the first ``advance``, not before, so work that turns out
    to need none (a spectrum read from the cache) draws no empty bar."""
    console = Console(stderr=True, emoji=False, force_interactive=_may_animate())
    if not enabled:
        yield _stoppable(lambda *args, **kwargs: None)
        return
    # off a terminal, or on one that cannot redraw a line (TERM=dumb, TTY_INTERACTIVE=0), a bar would
    # leave a stray blank line, or its frames in a log
    if not (console.is_interactive and console.is_terminal) or console.is_dumb_terminal:
        def write(line: str) -> None:
            console.file.write(line + "\n")
            console.file.flush()

        yield _stoppable(_log_lines(description, total, write, clock))
        return
    with contextlib.ExitStack() as stack:
        bar = Progress(*_columns(), console=console, transient=True)
        task = bar.add_task(description, total=total or None, status="", rate=None, left=None)
        if not lazy:
            stack.enter_context(bar)
        state = {"count": Tally(total=total or None)}
        rate = Rate()

        def advance(n: int = 1, total: int | None = None, text: str | None = None, absolute: bool = False,
                    left: float | None = None) -> None:
            if not bar.live.is_started:
                stack.enter_context(bar)
            count = state["count"] = advanced(state["count"], n, total, text, absolute, left)
            now = bar.get_time()
            bar.tasks[0].total = count.total  # rich's update reads a total of None as "unchanged"
            # rich stops the elapsed clock, for good, the first time the count reaches the total: at
            # the end of adaptive SLQ's first stage (192/192), whose next stage then plans 384 more
            bar.tasks[0].finished_time = None
            bar.update(task, completed=count.done, status=count.text, rate=rate.add(now, count.done, count.total),
                       left=None if left is None else (left, now))

        yield _stoppable(advance)


def _stoppable(advance: Advance) -> Advance:
    """``advance`` that first raises a signal whose exception was swallowed (``--quiet`` too):
    each step of long work is a place to stop it (:func:`prunelimit.io.atomic.raise_if_signalled`)."""
    def step(*args, **kwargs) -> None:
        raise_if_signalled()
        advance(*args, **kwargs)

    return step


def _may_animate() -> bool | None:
    """False where stderr is not a terminal, unless ``TTY_INTERACTIVE=1`` asks for animation;
    else None: rich decides (no bar at ``TERM=dumb`` or ``TTY_INTERACTIVE=0``). The
    ``FORCE_COLOR=1`` or ``TTY_COMPATIBLE=1`` that CI jobs set for coloured logs make rich
    take a log file for a terminal, and it animated the bar there: ten frames a second."""
    if os.environ.get("TTY_INTERACTIVE") == "1":
        return None
    try:
        return None if sys.stderr.isatty() else False
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


def progress_enabled(quiet: bool) -> bool:
    """Progress unless ``--quiet``; under torchrun on rank 0 only (one bar, not one a rank)."""
    return is_main() and not quiet
