"""The one atomic file writer: a temporary file beside the target, then a rename.

Every file prunelimit writes (checkpoints, safetensors, CSV, JSON, PNG, HTML, JUnit XML)
goes through :func:`atomic_path`. A failure, Ctrl-C, SIGTERM or SIGHUP at any point leaves the
destination as it was and no temporary file behind; an existing file is replaced only
when the caller allows it (``--force``); under torchrun only rank 0 writes.

SIGINT, SIGTERM and SIGHUP become exceptions (:func:`install_signal_handlers`, called by the
command line) so this cleanup runs; inside :func:`signals_deferred` a signal waits until
the block ends, so creating or removing a temporary file is never cut in half.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from prunelimit.distributed import is_main
from prunelimit.errors import UsageError


class Terminated(KeyboardInterrupt):
    """SIGTERM, or SIGHUP (the terminal closed), raised where Ctrl-C raises ``KeyboardInterrupt``,
    so the same cleanup runs; the exit code is the shell's 128 + the signal (143, 129)."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__()
        self.signum = signum


_deferring = 0
_pending: list[int] = []
# SIGHUP where the platform has it; a signal the caller ignores (``nohup``) stays ignored
_HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def install_signal_handlers() -> None:
    """SIGINT raises ``KeyboardInterrupt``, SIGTERM and SIGHUP :class:`Terminated` (main thread only)."""
    for signum in _HANDLED:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _on_signal)


def _on_signal(signum: int, frame: object) -> None:
    if _deferring:
        _pending.append(signum)
    else:
        _raise_for(signum)


def _raise_for(signum: int) -> None:
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM (when our handlers are installed) until the block ends, then raise."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending:
            signum = _pending[0]
            _pending.clear()
            _raise_for(signum)


def check_writable(path: str | os.PathLike, force: bool = False) -> Path:
    """Refuse to overwrite without ``force`` and fail early on a missing parent folder."""
    path = Path(path)
    try:
        return _check_writable(path, force)
    except OSError as exc:  # a name too long, a loop of symbolic links, ...
        raise UsageError(f"cannot write {path} ({exc.strerror or exc})") from None


def _check_writable(path: Path, force: bool) -> Path:
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder; name a file inside it")
    if path.exists() and not path.is_file():  # the rename would replace a device or FIFO node (as root: /dev/null)
        raise UsageError(f"cannot write {path}: it is a device, FIFO or socket, not a regular file; name a file")
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        problem = f"{parent} is a file, not a folder" if parent.exists() else f"folder {parent} does not exist"
        raise UsageError(f"cannot write {path}: {problem}")
    probe_folder(parent, path)
    return path


def probe_folder(folder: Path, target: Path) -> None:
    """Create and remove a file in ``folder``: ``os.access`` says yes to root even on
    read-only file systems, a real probe does not."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {target}: folder {folder} is not writable ({exc.strerror})") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False, parents: bool = False,
                mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path; on success it is renamed onto ``path``, else removed.

    ``parents``: create missing parent folders (removed again if the write fails).
    ``mode``: the file's permissions (``None``: the usual ones, 0o666 less the umask).
    Under torchrun only rank 0 writes: other ranks get a throwaway path (and skip the
    checks, which rank 0's own file could fail).
    """
    if not is_main():
        with tempfile.TemporaryDirectory() as scratch:
            yield Path(scratch) / Path(path).name
        return
    path = Path(path)
    made: list[Path] = []
    tmp: str | None = None
    try:
        if parents:
            _make_parents(path, made)
        check_writable(path, force)
        with signals_deferred():  # a signal between creating the file and knowing its name would leak it
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            except OSError as exc:
                raise UsageError(f"cannot write {path} ({exc.strerror})") from None
            os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
        os.replace(tmp, path)  # the one atomic step: before it the old file, after it the new one
    except BaseException:
        with signals_deferred():
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


def _make_parents(path: Path, made: list[Path]) -> None:
    """Create the missing folders above ``path``, outermost first, appending each to ``made``."""
    for folder in [p for p in reversed(path.parents) if not p.exists()]:
        try:
            folder.mkdir()
        except OSError as exc:
            raise UsageError(f"cannot create folder {folder} for {path} ({exc.strerror})") from None
        made.append(folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], None], force: bool = False,
                 parents: bool = False, mode: int | None = None) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically (``mode``: see :func:`atomic_path`)."""
    with atomic_path(path, force, parents, mode) as tmp:
        writer(tmp)
    return Path(path)


def write_all_atomic(writes: list[tuple[str | os.PathLike, Callable[[Path], None]]], force: bool = False) -> None:
    """Write several files as one result: every writer runs on its temporary file first and
    the renames follow only once all of them succeeded, so a failing writer leaves none of
    the files (not a checkpoint without the copy the user asked for beside it)."""
    with contextlib.ExitStack() as stack:
        temporaries = [stack.enter_context(atomic_path(path, force)) for path, _ in writes]
        for tmp, (_, writer) in zip(temporaries, writes):
            writer(tmp)


def write_text_atomic(path: str | os.PathLike, text: str, force: bool = False, parents: bool = False) -> Path:
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"), force, parents)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, force: bool = False) -> Path:
    return write_atomic(path, lambda p: p.write_bytes(data), force)
