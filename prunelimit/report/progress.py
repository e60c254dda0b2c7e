"""Progress bars with ETA on stderr (silent under ``--json`` unless stderr is a terminal)."""

from __future__ import annotations

import collections
import contextlib
import math
import sys
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from prunelimit.distributed import is_main

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
    None in a stage with no count: there is no rate to state one from."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        if task.total is None:
            return Text("")
        if not task.finished and not rate:
            return Text("eta -:--:--", style="progress.remaining")
        seconds = 0 if task.finished else math.ceil(task.remaining / rate)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"eta {hours:d}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


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


@contextlib.contextmanager
def progress(description: str, total: int, enabled: bool = True, lazy: bool = False) -> Iterator[Advance]:
    """Yield ``advance(n)``, or ``advance(done, total, text)`` to set the count done, the
    (re-planned) total and a status after the count; a bar on stderr when ``enabled``.
    ``absolute=True`` makes ``n`` the count done even without a total; ``total`` 0 starts a
    stage that cannot count its work (one long call): the bar pulses, with no count or ETA.
    ``lazy``: the bar is drawn at the first ``advance``, not before, so work that turns out
    to need none (a spectrum read from the cache) draws no empty bar."""
    console = Console(stderr=True, emoji=False)
    # off a terminal, or on one that cannot redraw a line (TERM=dumb), rich only leaves a stray blank line
    if not enabled or not console.is_terminal or console.is_dumb_terminal:
        yield lambda *args, **kwargs: None
        return
    with contextlib.ExitStack() as stack:
        bar = Progress(*_columns(), console=console, transient=True)
        task = bar.add_task(description, total=total or None, status="", rate=None)
        if not lazy:
            stack.enter_context(bar)
        counts: collections.deque[tuple[float, float]] = collections.deque()  # (time, count done)

        def advance(n: int = 1, total: int | None = None, text: str | None = None, absolute: bool = False) -> None:
            if not bar.live.is_started:
                stack.enter_context(bar)
            done = n if total is not None or absolute else bar.tasks[0].completed + n
            now = bar.get_time()
            if counts and done < counts[-1][1]:
                counts.clear()  # the count started again: another stage, counting other units
            counts.append((now, done))
            while now - counts[0][0] > RATE_WINDOW_S:
                counts.popleft()
            span = counts[-1][0] - counts[0][0]
            fields = {"completed": done, "rate": (done - counts[0][1]) / span if span > 0 else None}
            if total == 0:  # rich's update reads a total of None as "unchanged"
                bar.tasks[0].total = None
            elif total is not None:
                fields["total"] = max(total, done)
            if text is not None:
                fields["status"] = text
            bar.update(task, **fields)

        yield advance


def progress_enabled(json_mode: bool) -> bool:
    """A bar unless ``--json`` goes to a pipe; under torchrun on rank 0 only (one bar, not one a rank)."""
    return is_main() and ((not json_mode) or sys.stderr.isatty())
