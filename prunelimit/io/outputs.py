"""Check every output of a command before any work starts (one function for all commands).

:func:`preflight` refuses, with exit 2 and one line: an output that is one of the
command's input files (symbolic links, relative paths and hard links included; ``--force``
never overwrites an input), two outputs on one path, an extension that contradicts the
output's format (a PNG named ``.csv``, a torch file named ``.safetensors``), and a place
that cannot be written (an existing file without ``--force``, a missing or unwritable
folder, a folder where a file is due). The writes themselves happen later, atomically
(:mod:`prunelimit.io.atomic`).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from itertools import combinations, permutations
from pathlib import Path
from typing import Iterable

from prunelimit.errors import UsageError
from prunelimit.io.atomic import check_writable, missing_folders, probe_folder, refuse_stdout

FOLDER = "folder"

# The extensions each format is known by; an output may not carry another format's extension.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "checkpoint": (".pt", ".pth", ".ckpt", ".bin", ".tar"),
    "safetensors": (".safetensors",),
    "png": (".png",),
    "csv": (".csv", ".txt"),
    "json": (".json",),
    "html": (".html", ".htm"),
    "xml": (".xml",),
    "yaml": (".yaml", ".yml"),
    "numpy": (".npz", ".npy"),
    "python": (".py",),
    "image": (".jpg", ".jpeg", ".gif", ".svg", ".pdf", ".eps", ".ps", ".tif", ".tiff", ".webp"),
}
NAMES = {"checkpoint": "PyTorch checkpoint", "safetensors": "safetensors", "png": "PNG", "csv": "CSV or text",
         "json": "JSON", "html": "HTML", "xml": "XML", "yaml": "YAML", "numpy": "NumPy", "python": "Python",
         "image": "non-PNG image"}
_OWNER = {ext: fmt for fmt, exts in EXTENSIONS.items() for ext in exts}


def names_a_file(source: str) -> bool:
    """Whether ``source`` is a checkpoint path rather than a model spec: a file, a name with a
    checkpoint's extension, or an existing path given with a folder in it. A mistyped or
    wrong-kind path is then named as such ("checkpoint … not found", "… is a folder"), not
    read as a model spec ("bad model spec … write …:factory")."""
    path = Path(source)
    suffixes = (*EXTENSIONS["checkpoint"], *EXTENSIONS["safetensors"])
    return path.is_file() or path.suffix.lower() in suffixes or (len(path.parts) > 1 and path.exists())


@dataclass(frozen=True)
class Output:
    """One file (or folder) a command is about to write.

    ``overwrite``: replacing an earlier file is this output's job (``gate --junit``,
    ``train --resume``), with or without ``--force``. ``parents``: missing parent folders
    are created (``--report DIR``). A ``FOLDER`` output is filled with files matching
    ``members`` (globs); an input file among them is refused.
    """

    option: str
    path: Path
    fmt: str
    overwrite: bool = False
    parents: bool = False
    members: tuple[str, ...] = ()

    def covers(self, path: Path) -> bool:
        """Would writing this output replace ``path``?"""
        if self.fmt == FOLDER:
            return same_file(path.parent, self.path) and any(fnmatch.fnmatch(path.name, m) for m in self.members)
        return same_file(self.path, path)

    def holds(self, path: Path) -> bool:
        """Would ``path`` lie inside a file this output writes (``--report p.pt`` beside ``-o p.pt``)?"""
        return any(self.covers(parent) for parent in path.parents)


def optional(option: str, path: str | os.PathLike | None, fmt: str, **kwargs) -> Output | None:
    """The output of an option that may be absent: ``None`` (skipped by :func:`preflight`) without a path."""
    return None if path is None else Output(option, Path(path), fmt, **kwargs)


def same_file(a: Path, b: Path) -> bool:
    """One file under two names: the inode when both exist (links), else the resolved paths."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def input_files(*items: object) -> list[Path]:
    """The existing files among paths and spec strings (``tensors:FILE``, ``file.py:fn``, ...)."""
    found: list[Path] = []
    for item in items:
        if item is None:
            continue
        text = str(item)
        found += [Path(c) for c in (text, *text.split(":")) if c and _is_file(Path(c))]
    return found


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system names no input
        return False


def preflight(outputs: Iterable[Output | None], inputs: Iterable[object] = (), force: bool = False) -> None:
    """Refuse bad outputs before any work; ``inputs`` are paths or spec strings (``None`` skipped)."""
    outs = [o for o in outputs if o is not None]
    try:
        _preflight(outs, input_files(*inputs), force)
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror}") from None


def _preflight(outs: list[Output], files: list[Path], force: bool) -> None:
    for out in outs:
        clash = next((f for f in files if out.covers(f)), None)
        if clash is not None:
            raise UsageError(f"{out.option} {out.path} would overwrite the input {clash}; write the output to "
                             "another path (--force never replaces an input)")
    for a, b in combinations(outs, 2):
        if a.covers(b.path) or b.covers(a.path):
            raise UsageError(f"{a.option} {a.path} and {b.option} {b.path} are the same file; give each output "
                             "its own path")
    for a, b in permutations(outs, 2):
        if a.holds(b.path):
            raise UsageError(f"{b.option} {b.path} lies inside {a.option} {a.path}, which is written as a file; "
                             "give each output its own path")
    for out in outs:
        _check_extension(out)
    for out in outs:
        _check_place(out, force)


def _check_extension(out: Output) -> None:
    suffix = out.path.suffix.lower()
    owner = _OWNER.get(suffix)
    if out.fmt != FOLDER and owner is not None and owner != out.fmt:
        raise UsageError(f"{out.option} {out.path}: {suffix} is a {NAMES[owner]} extension, but this output is "
                         f"a {NAMES[out.fmt]} file; end the name in {EXTENSIONS[out.fmt][0]}")


def _check_place(out: Output, force: bool) -> None:
    refuse_stdout(out.path)
    if out.fmt == FOLDER:
        _check_folder(out.option, out.path)
    elif out.parents and not out.path.parent.is_dir():
        _check_folder(out.option, out.path.parent)
    else:
        check_writable(out.path, force or out.overwrite)


def _check_folder(option: str, folder: Path) -> None:
    """``folder`` is a folder, or can be created: its nearest existing ancestor is a writable folder."""
    missing_folders(folder)
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # "." and "/" always do
    if not existing.is_dir():
        where = "is" if existing == folder else f"cannot be created: {existing} is"
        raise UsageError(f"{option} {folder} {where} a file, not a folder; name a folder")
    probe_folder(existing, folder)
