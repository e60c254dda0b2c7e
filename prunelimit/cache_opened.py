"""The files the user's code opens while prunelimit loads a model and runs the loss on the first
analysis batch, as the result cache keys them.

:mod:`prunelimit.cache_reads` keys what the code's strings *name*; a path built at run time from
computed pieces (``name + ".json"`` with ``name`` read elsewhere, a name made of character codes)
names nothing there. What the code *opens* does not depend on how its paths are built: while
recording (:func:`recording_opens`), an audit hook (:func:`sys.addaudithook`, PEP 578) notes each
file the recording thread opens for reading, and the key holds each one's name and bytes
(:func:`opened_lines`). Loading and the first batch run on every command before the cache is
read, so a file opened in place of another, or new bytes in the same one, moves the key of the
very run that would otherwise have read a stale entry. The environment variables the user's code
reads there (``os.environ``, ``os.getenv``), by a name built at run time too (``PREFIX + "_SCALE"``),
are recorded alike, as ``$NAME`` (:data:`VARIABLE_MARK`), and keyed by their values: Python audits
no such read, so ``os.environ``'s item lookup notes the name while a recording is under way and the
code reading it is the user's (:func:`_noting_reads`).

The user's code the first batch runs is recorded too (:func:`recording_ran`): a helper the forward
executes from a file by a path built at run time, or imports by a name built so, is reached by no walk
of the model's objects, and its read of the file is an import's; the key holds that code by its
bytecode and what it reads (``cache._Values.code_ran``).

Not keyed here: what a module reads while it is imported (once a process: a second command in
the same process would not read it again, and its key would differ; the strings of its code
name it, :mod:`prunelimit.cache_reads`), Python code (``.py``, bytecode, extensions: the key
holds the user's code by other means) but a file of it the user's code opens itself (``exec(open(path).read())``,
whose code is compiled from ``<string>``, which :func:`recording_ran` leaves out), installed packages and the system's own views
(``/proc``); the checkpoint and the data, which count by the tensors read from them; and files
opened for writing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import sys
import threading
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, Callable, Iterable, Iterator

from prunelimit.cache_reads import ENTRY_NAME, FILE_BYTES_KEYED, SYSTEM_FOLDERS, BigFile, file_content

# an entry of a recording that names an environment variable read (``$SCALE``), not a file: a
# recorded path is absolute, so never starts with it
VARIABLE_MARK = "$"
# the frames of os.environ's own lookups (``os.getenv``, ``Mapping.get``, ``in``) above the user's code
_LOOKUP_FILES = frozenset({"<frozen os>", "<frozen _collections_abc>", os.__file__,
                           getattr(sys.modules.get("_collections_abc"), "__file__", None)})
# imports and extension modules: the user's code is keyed by its source (``cache.code_files``), but a file of
# them the user's code opens itself (``exec(open(path).read())``: code compiled from ``<string>``)
CODE_SUFFIXES = frozenset({".py", ".pyc", ".pyo", ".pyd", ".so"})
_WRITE_MODES = frozenset("wax+")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR

# the recordings under way, each with the thread it listens to: another thread's reads (a
# notebook's background work) are not the model's
_recordings: list[tuple[int, set[str]]] = []
_hook_added = threading.Lock()
_hooked = False
_environ_item = os._Environ.__getitem__
# set while this thread notes a read: telling whose code read it reads variables itself (sysconfig's, on
# the first look for the installed folders), which noted in turn recursed without end
_noting = threading.local()


def _noting_reads(environ: "os._Environ[str]", name: str) -> str:
    """``os.environ[name]``, the name noted in this thread's recordings (:data:`VARIABLE_MARK`) where the
    code reading it is the user's, not installed code (torch's, prunelimit's, the standard library's),
    and not an import's; noted unset too (``KeyError``), so that setting it later moves the key."""
    if _recordings and environ is os.environ and not getattr(_noting, "busy", False):
        _noting.busy = True
        try:  # never let noting fail the read
            _note_read(name, sys._getframe(1))
        except Exception:  # noqa: BLE001 - an odd name: not recorded, the read goes on
            pass
        finally:
            _noting.busy = False
    return _environ_item(environ, name)


def _note_read(name: str, frame: FrameType | None) -> None:
    from prunelimit.cache import is_installed

    while frame is not None and frame.f_code.co_filename in _LOOKUP_FILES:
        frame = frame.f_back
    if frame is None or is_installed(frame.f_code.co_filename) or _importing(frame):
        return
    me = threading.get_ident()
    for thread, paths in _recordings:
        if thread == me:
            paths.add(VARIABLE_MARK + name)


def _on_event(event: str, args: tuple) -> None:
    if event != "open" or not _recordings:
        return
    try:  # an audit hook that raises makes the audited call fail: never let one escape
        path, mode, flags = args
        if isinstance(path, int) or path is None:  # a file descriptor: opened before, by path
            return
        if (mode is not None and _WRITE_MODES & set(mode)) or (mode is None and flags & _WRITE_FLAGS):
            return
        if _importing(sys._getframe(1)):
            return
        name = os.path.abspath(os.fsdecode(os.fspath(path)))
        # not installed code reading one (linecache, torch.jit's source: once a process, as an import)
        if Path(name).suffix in CODE_SUFFIXES and not _users_opener(sys._getframe(1)):
            return
        me = threading.get_ident()
        for thread, paths in _recordings:
            if thread == me:
                paths.add(name)
    except Exception:  # noqa: BLE001 - an odd path object: not recorded, the call goes on
        return


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside an import: a module reads its files once a process, so
    what it reads at import would be keyed on the first command of a process and not on the
    next (a notebook's, a test's), and the two keys would differ."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def recording_opens(into: set[str] | None = None) -> Iterator[set[str]]:
    """Within the block, the absolute paths of the files this thread opens for reading, and the
    environment variables the user's code in it reads (``$NAME``), are added to ``into`` (a new set
    when ``None``), which the block receives."""
    global _hooked
    with _hook_added:
        if not _hooked:  # once a process: an audit hook cannot be removed
            sys.addaudithook(_on_event)
            os._Environ.__getitem__ = _noting_reads  # type: ignore[method-assign]
            _hooked = True
    recording = (threading.get_ident(), set() if into is None else into)
    _recordings.append(recording)
    try:
        yield recording[1]
    finally:
        _recordings.remove(recording)


# what ``recording_ran`` records: each code object run, by id, with the globals it ran in
Ran = dict[int, tuple[CodeType, dict[str, Any]]]


@contextlib.contextmanager
def recording_ran(into: Ran) -> Iterator[None]:
    """Within the block, the user's code this thread runs outside an import is added to ``into``, each code
    object by id with the globals it ran in: not installed code (torch's, prunelimit's, the standard
    library's), nor code without a file (a notebook's cell, generated code), which the walk of the model's
    objects keys. Nothing is recorded under a profiler of the caller's own (``sys.setprofile``), which this
    would displace: the loss witness still guards the key there."""
    if sys.getprofile() is not None:
        yield
        return

    def ran(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        # whether the code is the user's is remembered by file; an import's run is left out, as its reads are
        if event == "call" and id(code) not in into and _users_file(code.co_filename) and not _importing(frame):
            into[id(code)] = (code, frame.f_globals)

    sys.setprofile(ran)
    try:
        yield
    finally:
        sys.setprofile(None)


@functools.lru_cache(maxsize=4096)
def _users_file(filename: str) -> bool:
    """Whether code compiled from ``filename`` is the user's: a file (relative, as ``--model nets.py`` loads it, or
    not), not code generated without one (``<string>``), outside the installation."""
    from prunelimit.cache import is_installed

    return not filename.startswith("<") and os.path.isfile(filename) and not is_installed(filename)


def opened_lines(paths: Iterable[str], ignored: Callable[[str], bool], big: BigFile | None = None) -> list[str]:
    """One line per opened file the key holds: its name and bytes (:func:`cache_reads.file_content`, ``big``
    above :data:`FILE_BYTES_KEYED`),
    ``absent`` for one that was not there (the code's fallback, until someone creates it); and one per
    environment variable read, ``$NAME=value`` (``$NAME unset``).
    Sorted, and never by folder: a checkout moved elsewhere keeps its key. ``ignored`` skips
    more paths (installed code, the checkpoint)."""
    lines = set()
    for path in paths:
        if path.startswith(VARIABLE_MARK):
            name = path[len(VARIABLE_MARK):]
            lines.add(f"{path}={os.environ[name]}" if name in os.environ else f"{path} unset")
            continue
        if _not_keyed(path) or ignored(path):
            continue
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            lines.add(f"{Path(path).name}:absent")
            continue
        if stat.S_ISREG(info.st_mode):  # a folder, a FIFO, a device: nothing to hash
            lines.add(f"{Path(path).name}:{file_content(Path(path), info, FILE_BYTES_KEYED, big)}")
    return sorted(lines)


def _users_opener(frame: FrameType | None) -> bool:
    """Whether the code opening a file in ``frame`` (past ``pathlib``'s: ``Path.read_text``) is the user's."""
    while frame is not None and frame.f_code.co_filename == _PATHLIB:
        frame = frame.f_back
    return frame is not None and _users_file(frame.f_code.co_filename)


_PATHLIB = sys.modules["pathlib"].__file__


def _not_keyed(path: str) -> bool:
    where = Path(path)
    return ("__pycache__" in where.parts or bool(ENTRY_NAME.fullmatch(where.name))
            or any(where.is_relative_to(system) for system in SYSTEM_FOLDERS))
