"""The one atomic file writer: a temporary file beside the target, then a rename.

Every file prunelimit writes (checkpoints, safetensors, CSV, JSON, PNG, HTML, JUnit XML)
goes through :func:`atomic_path`. A failure, Ctrl-C, SIGTERM or SIGHUP at any point leaves the
destination as it was and no temporary file behind; an existing file is replaced only
when the caller allows it (``--force``); under torchrun only rank 0 writes.

Several files of one result are written inside :func:`staged`: each is left under its
temporary name and all are renamed together at the end, so a failing write leaves every
destination as it was (all new files, or none).

SIGINT, SIGTERM and SIGHUP become exceptions (:func:`install_signal_handlers`, called by the
command line) so this cleanup runs; inside :func:`signals_deferred` a signal waits until
the block ends, so creating or removing a temporary file is never cut in half. Such an
exception can be swallowed where Python code runs under a broad ``except`` not ours (mpmath,
imported lazily mid-run by torch, tries ``import gmpy2`` under a bare one) or in a finalizer
(printed as "Exception ignored"): the signal is kept until the command takes it
(:func:`forget_signal`), and :func:`raise_if_signalled` raises it again where the work goes on
(each Hessian-vector product, each progress step, each file written).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import sys
import tempfile
from dataclasses import dataclass
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
_raised: int | None = None  # the signal last raised as an exception, until a command takes it (forget_signal)
# SIGHUP where the platform has it; a signal the caller ignores (``nohup``) stays ignored
_HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def install_signal_handlers() -> None:
    """SIGINT raises ``KeyboardInterrupt``, SIGTERM and SIGHUP :class:`Terminated` (main thread only)."""
    global _shown_by
    forget_signal()
    for signum in _HANDLED:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _on_signal)
    if sys.unraisablehook is not _unraisable:
        _shown_by, sys.unraisablehook = sys.unraisablehook, _unraisable


def _on_signal(signum: int, frame: object) -> None:
    if _deferring:
        _pending.append(signum)
    else:
        _raise_for(signum)


def _raise_for(signum: int) -> None:
    global _raised
    _raised = signum
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def raise_if_signalled() -> None:
    """Raise again a signal whose exception was swallowed before a command took it: a Ctrl-C
    during mpmath's ``import gmpy2`` (torch imports it mid-run) let bounds run on to its end
    (exit 0, its files written). Only while our handler still serves the signal: a caller
    that put its own back has taken it."""
    if _raised is not None and signal.getsignal(_raised) is _on_signal:
        _raise_for(_raised)


def forget_signal() -> None:
    """The signal's exception reached the command's end, which reports it: no longer pending."""
    global _raised
    _raised = None


_shown_by: Callable[[object], None] = sys.__unraisablehook__  # the hook that shows the exceptions _unraisable passes on


def _unraisable(unraisable) -> None:
    """Python's report of an exception it could only print (raised in a finalizer, a weakref or
    gc callback), passed on unless it is our signal's: that one is raised again where the work
    goes on (:func:`raise_if_signalled`), and a traceback on stderr is no part of its exit."""
    if _raised is not None and isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    _shown_by(unraisable)


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


def refuse_stdout(path: Path) -> None:
    """``-`` reads as standard output, which no command writes its files to: refused rather
    than written as a file (or ``--report``'s folder) named ``-`` in the current folder."""
    if path.parts[:1] == ("-",):
        raise UsageError("cannot write -: outputs are files, never standard output (--json prints the report "
                         "there); name a file")


def _check_writable(path: Path, force: bool) -> Path:
    refuse_stdout(path)
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
        try:
            yield Path(tmp)
        except Exception as exc:
            full = _no_room(exc)
            if full is None:
                raise
            raise UsageError(f"cannot write {path} ({full}); free space on its file system, or write it "
                             "elsewhere") from exc
        raise_if_signalled()  # an interrupted command leaves no file, even where its interrupt was swallowed
        os.chmod(tmp, _kept_mode(path) if mode is None else mode)  # mkstemp makes 0600
        if _stage is not None:  # renamed with the other files of the result, when it ends
            _stage_write(Path(tmp), path, made, force)
        else:
            os.replace(tmp, path)  # the one atomic step: before it the old file, after it the new one
    except BaseException:
        _discard(_Staged(None if tmp is None else Path(tmp), path, made))
        raise


# a file system that takes no more bytes: full, over its quota, or over its largest file size
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _no_room(exc: BaseException) -> str | None:
    """The OS's words when writing failed for want of room, else ``None``. torch's zip writer
    raises a RuntimeError ("unexpected pos") with the OSError as its context, safetensors'
    writer an error naming Rust's "(os error 28)": it was exit 5, or exit 3 naming no file."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _NO_ROOM:
            return os.strerror(seen.errno)
        code = re.search(r"\(os error (\d+)\)", str(seen))
        if code and int(code.group(1)) in _NO_ROOM:
            return os.strerror(int(code.group(1)))
        seen = seen.__cause__ or seen.__context__
    return None


@dataclass(frozen=True)
class _Staged:
    """A written temporary file, its destination and the folders made for it."""

    tmp: Path | None
    path: Path
    made: list[Path]


_stage: list[_Staged] | None = None


def _discard(staged: _Staged) -> None:
    """Remove a temporary file and the folders made for it (a signal waits until it is done)."""
    with signals_deferred():
        if staged.tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged.tmp)
        for folder in reversed(staged.made):
            with contextlib.suppress(OSError):
                folder.rmdir()


@contextlib.contextmanager
def staged() -> Iterator[None]:
    """Write the files of one result together: every write inside the block goes to its
    temporary file, and the renames all follow once the block ends without an error; an
    error, Ctrl-C or SIGTERM removes the temporary files instead, leaving every destination
    as it was; a rename that fails undoes the ones before it. A block inside another joins
    it: its files wait for the outer block's end, and an error in it removes its own files
    (the outer block may go on without them). A path written twice is written as one file
    written twice: without ``force`` the second write is refused. Keep work that saves
    files of its own (the result cache) outside the block: they too would wait for its end."""
    global _stage
    if _stage is not None:
        start = len(_stage)
        try:
            yield
        except BaseException:
            _discard_all(_stage, start)
            raise
        return
    _stage = pending = []
    try:
        yield
        raise_if_signalled()
        with signals_deferred():  # a signal between two renames would leave half the result
            _commit(pending)
    except BaseException:
        _discard_all(pending, 0)
        raise
    finally:
        _stage = None


def _discard_all(pending: list[_Staged], start: int) -> None:
    """Remove the temporary files of ``pending[start:]`` (and drop them from it), latest
    first: an earlier write made the folders the later ones lie in. A second signal waits
    until all are gone."""
    with signals_deferred():
        while len(pending) > start:
            _discard(pending.pop())


def _stage_write(tmp: Path, path: Path, made: list[Path], force: bool) -> None:
    """Queue ``tmp`` for renaming onto ``path`` at the end of the block; a second write to
    a path already queued replaces the first (refused without ``force``, as it would be
    once the first file were in place)."""
    assert _stage is not None
    entry = _entry(path)
    earlier = next((item for item in _stage if _entry(item.path) == entry), None)
    if earlier is not None:
        if not force:
            raise UsageError(f"{path} already exists; pass --force to overwrite it")
        _stage.remove(earlier)
        _discard(_Staged(earlier.tmp, path, []))
        made = earlier.made + made  # the folders the first write made are this file's now
    _stage.append(_Staged(tmp, path, made))


def _commit(pending: list[_Staged]) -> None:
    """Rename each file of ``pending`` into place, removing it from the list. When a rename
    fails, the files renamed before it are undone: an old file gets its content back (kept
    under a second name, a hard link, until all are in place), a new one goes again."""
    done: list[tuple[_Staged, Path | None, bool]] = []  # the file, the link to its old content, whether it existed
    try:
        while pending:
            item = pending[0]
            existed = os.path.lexists(item.path)
            done.append((item, _link_old(item.path) if existed else None, existed))
            os.replace(item.tmp, item.path)
            pending.pop(0)
    except BaseException:
        for item, old, existed in reversed(done):
            if old is not None:
                with contextlib.suppress(OSError):
                    os.replace(old, item.path)
            elif not existed:  # the new file goes, and the folders made for it
                _discard(_Staged(item.path, item.path, item.made))
        raise
    finally:
        for _, old, _ in done:
            if old is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(old)


def _entry(path: Path) -> str:
    """The folder entry a rename onto ``path`` replaces (``a/../b`` and ``b`` are one; a
    symbolic link is its own entry, as the rename replaces the link)."""
    return os.path.join(os.path.realpath(path.parent), path.name)


def _link_old(path: Path) -> Path | None:
    """A second name beside ``path`` for its old content; None where the file system has no
    hard links (that file alone then cannot be put back)."""
    link = path.with_name(f".{path.name}.{os.urandom(6).hex()}.old")
    try:
        os.link(path, link)
    except OSError:
        return None
    return link


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those above it that do not exist, outermost first. A ``..`` below a
    missing folder is refused: it names a folder only once the one before it is made, a
    folder nobody asked for (and checking the path first, it names none)."""
    missing = [p for p in reversed((folder, *folder.parents)) if not p.exists()]
    if any(p.name == ".." for p in missing):
        raise UsageError(f"cannot create folder {folder}: {missing[0]} does not exist, so '..' after it names no "
                         f"folder; write the path without it ({os.path.normpath(folder)})")
    return missing


def _make_parents(path: Path, made: list[Path]) -> None:
    """Create the missing folders above ``path``, outermost first, appending each to ``made``."""
    for folder in missing_folders(path.parent):
        try:
            folder.mkdir()
        except OSError as exc:
            raise UsageError(f"cannot create folder {folder} for {path} ({exc.strerror})") from None
        made.append(folder)


def _kept_mode(path: Path) -> int:
    """The permissions of the file ``path`` replaces (a file kept private stays so), else 0o666
    less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


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


def write_text_atomic(path: str | os.PathLike, text: str, force: bool = False, parents: bool = False) -> Path:
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"), force, parents)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, force: bool = False) -> Path:
    return write_atomic(path, lambda p: p.write_bytes(data), force)
