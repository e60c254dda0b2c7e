"""Progress bars with ETA on stderr (silent under ``--json`` unless stderr is a terminal)."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from prunelimit.distributed import is_main

Advance = Callable[..., None]


class _Status(ProgressColumn):
    """The stage's status (such as ρ* ± its uncertainty), last and cut short first: on a
    narrow terminal the count done / expected and the ETA stay whole."""

    def render(self, task: Task) -> Text:
        return Text(task.fields.get("status", ""), no_wrap=True, overflow="ellipsis")


def _columns() -> tuple[ProgressColumn, ...]:
    # rich shrinks the columns that may wrap first: the bar and the status give way, the rest stays whole
    def whole() -> Column:
        return Column(no_wrap=True)

    return (
        TextColumn("{task.description}", table_column=whole()), BarColumn(table_column=Column(no_wrap=False)),
        MofNCompleteColumn(table_column=whole()), TimeElapsedColumn(table_column=whole()),
        TextColumn("eta", table_column=whole()), TimeRemainingColumn(table_column=whole()),
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
        task = bar.add_task(description, total=total or None, status="")

        def advance(n: int = 1, total: int | None = None, text: str | None = None, absolute: bool = False) -> None:
            if total is None and not absolute:
                bar.advance(task, n)
                return
            fields = {"completed": n}
            if total is not None:
                fields["total"] = max(total, n)
            if text is not None:
                fields["status"] = text
            bar.update(task, **fields)

        yield advance


def progress_enabled(json_mode: bool) -> bool:
    """A bar unless ``--json`` goes to a pipe; under torchrun on rank 0 only (one bar, not one a rank)."""
    return is_main() and ((not json_mode) or sys.stderr.isatty())
