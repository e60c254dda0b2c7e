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


class _Remaining(ProgressColumn):
    """The ETA at the rate ``advance`` measures (``task.fields["rate"]``, units a second):
    rich's own forgets its rate whenever the total changes, and adaptive SLQ re-plans its
    total every stage (under a time budget, every step), which left the ETA at -:--:--."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        if task.total is None:
            return Text("")
        if not task.finished and not rate:
            return Text("-:--:--", style="progress.remaining")
        seconds = 0 if task.finished else math.ceil(task.remaining / rate)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours:d}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


# seconds of counts the rate is measured over (rich's own speed estimate's period)
RATE_WINDOW_S = 30.0


def _columns() -> tuple[ProgressColumn, ...]:
    # rich shrinks the columns that may wrap first: the bar and the status give way, the rest stays whole
    def whole() -> Column:
        return Column(no_wrap=True)

    return (
        TextColumn("{task.description}", table_column=whole()), BarColumn(table_column=Column(no_wrap=False)),
        MofNCompleteColumn(table_column=whole()), TimeElapsedColumn(table_column=whole()),
        TextColumn("eta", table_column=whole()), _Remaining(table_column=whole()),
        _Status(table_column=Column(no_wrap=False, overflow="ellipsis")),
    )


@contextlib.contextmanager
def progress(description: str, total: int, enabled: bool = True) -> Iterator[Advance]:
    """Yield ``advance(n)``, or ``advance(done, total, text)`` to set the count done, the
    (re-planned) total and a status after the count; a bar on stderr when ``enabled``.
    ``absolute=True`` makes ``n`` the count done even without a total."""
    console = Console(stderr=True, emoji=False)
    # off a terminal, or on one that cannot redraw a line (TERM=dumb), rich only leaves a stray blank line
    if not enabled or not console.is_terminal or console.is_dumb_terminal:
        yield lambda *args, **kwargs: None
        return
    with Progress(*_columns(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=total or None, status="", rate=None)
        counts: collections.deque[tuple[float, float]] = collections.deque()  # (time, count done)

        def advance(n: int = 1, total: int | None = None, text: str | None = None, absolute: bool = False) -> None:
            done = n if total is not None or absolute else bar.tasks[0].completed + n
            now = bar.get_time()
            if counts and done < counts[-1][1]:
                counts.clear()  # the count started again: another stage, counting other units
            counts.append((now, done))
            while now - counts[0][0] > RATE_WINDOW_S:
                counts.popleft()
            span = counts[-1][0] - counts[0][0]
            fields = {"completed": done, "rate": (done - counts[0][1]) / span if span > 0 else None}
            if total is not None:
                fields["total"] = max(total, done)
            if text is not None:
                fields["status"] = text
            bar.update(task, **fields)

        yield advance


def progress_enabled(json_mode: bool) -> bool:
    """A bar unless ``--json`` goes to a pipe; under torchrun on rank 0 only (one bar, not one a rank)."""
    return is_main() and ((not json_mode) or sys.stderr.isatty())
