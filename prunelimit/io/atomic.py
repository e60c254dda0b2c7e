"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or Ctrl-C never leaves a half-written file, and an existing file is only
replaced when the caller allows it (``--force``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from prunelimit.distributed import is_main
from prunelimit.errors import UsageError


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
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; pass --force to overwrite it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {parent} does not exist")
    try:  # os.access says yes to root even on read-only file systems; a real probe does not
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {path}: folder {parent} is not writable ({exc.strerror})") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path; on success it is renamed onto ``path``, else removed.

    Under torchrun only rank 0 writes: other ranks get a throwaway path (and skip the
    checks, which rank 0's own file could fail).
    """
    if not is_main():
        with tempfile.TemporaryDirectory() as scratch:
            yield Path(scratch) / Path(path).name
        return
    path = check_writable(path, force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path} ({exc.strerror})") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], None], force: bool = False) -> Path:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path, force) as tmp:
        writer(tmp)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, force: bool = False) -> Path:
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"), force)
