"""Progress bars with ETA on stderr (silent under ``--json`` unless stderr is a terminal)."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

Advance = Callable[..., None]


@contextlib.contextmanager
def progress(description: str, total: int, enabled: bool = True) -> Iterator[Advance]:
    """Yield ``advance(n)`` (or ``advance(done, total)`` to set both); a bar on stderr when ``enabled``."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:  # off a terminal rich only leaves a stray blank line
        yield lambda *args: None
        return
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total or None)

        def advance(n: int = 1, total: int | None = None) -> None:
            if total is None:
                bar.advance(task, n)
            else:
                bar.update(task, completed=n, total=total)

        yield advance


def progress_enabled(json_mode: bool) -> bool:
    return (not json_mode) or sys.stderr.isatty()
