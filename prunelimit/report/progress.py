"""Progress bars with ETA on stderr (silent under ``--json`` unless stderr is a terminal)."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from prunelimit.distributed import is_main

Advance = Callable[..., None]


@contextlib.contextmanager
def progress(description: str, total: int, enabled: bool = True) -> Iterator[Advance]:
    """Yield ``advance(n)``, or ``advance(done, total, text)`` to set the count done, the
    (re-planned) total and a status after the description; a bar on stderr when ``enabled``.
    ``absolute=True`` makes ``n`` the count done even without a total."""
    console = Console(stderr=True, emoji=False)
    if not enabled or not console.is_terminal:  # off a terminal rich only leaves a stray blank line
        yield lambda *args, **kwargs: None
        return
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total or None)

        def advance(n: int = 1, total: int | None = None, text: str | None = None, absolute: bool = False) -> None:
            if total is None and not absolute:
                bar.advance(task, n)
                return
            fields = {"completed": n}
            if total is not None:
                fields["total"] = max(total, n)
            if text is not None:
                fields["description"] = f"{description} · {text}"
            bar.update(task, **fields)

        yield advance


def progress_enabled(json_mode: bool) -> bool:
    """A bar unless ``--json`` goes to a pipe; under torchrun on rank 0 only (one bar, not one a rank)."""
    return is_main() and ((not json_mode) or sys.stderr.isatty())
