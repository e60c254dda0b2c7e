"""What the user's code may read while it runs that no loaded object shows: the files, folders
and environment variables its strings name (``open("scale.txt")``, ``os.listdir("conf")``,
``glob.glob("conf/*.json")``, ``os.environ["SCALE"]``), as the result cache keys them.

A string names a path when something exists there: an absolute path as itself, a relative one
against the working folder, each folder of the user's code (a path joined to
``os.path.dirname(__file__)`` at run time) and the home folder, and against their parents when
a string steps up (``".."``), a piece of a path built by ``+`` by the rest after its leading
separator (``HERE + "/w.npy"``) or by the files ending in it (``prefix + "_scale.txt"``,
:func:`fragment_patterns`), a small config or list file by the paths its words name too
(:func:`listed_names`), a pattern with ``*``, ``?`` or ``[`` by the paths it
matches, a file suffix (``".json"``) by the files beside the code of its name with that suffix
(:func:`sibling_paths`), a template (``"conf/{}.json"``, ``"conf/%s.json"``, an f-string's pieces, every branch of one holding a
conditional) by the paths its fields may fill in to, a string with ``$NAME`` as :func:`os.path.expandvars` expands it, and
the value of an environment variable a string names as a string itself. A file counts by its bytes (above
:data:`FILE_BYTES_KEYED` hashed once for its stat and remembered where the caller gives a :data:`BigFile`,
else by its size, modification and change times and inode), a folder by its listing and its files
(their bytes up to :data:`FILE_BYTES_KEYED` in all, the rest as a file above it), except a folder that
holds the user's code or the working folder (the checkout, ``.``, ``/``): that one counts only
through the files the code names inside it, so the command's own outputs and cache beside
the code leave the key as it was. A string that can name an environment variable (a letter,
then letters, digits or underscores) counts by the variable's value when it is set. Each is
keyed by the string and what it names, never by the folder it lies in: a moved checkout with
the same files keeps its key.
"""

from __future__ import annotations

import dis
import glob
import hashlib
import itertools
import os
import re
import stat
from pathlib import Path
from types import CodeType
from typing import Callable, Iterable, Sequence

# A file is keyed by its bytes up to this size (a folder's files up to this much in all); a
# larger one (a data set the code streams) by its size, modification and change times, not read whole.
FILE_BYTES_KEYED = 64 * 2**20
# What keys a file above it, given its stat: its bytes' digest, hashed once for that stat and
# remembered (``cache.remembered_digest``: a fresh checkout sets every time anew, and was a miss)
BigFile = Callable[[Path, os.stat_result], str]
# A folder the code names with more entries than this is not keyed (the result is not cached):
# listing a data set of millions of files on every command would cost more than the cache saves.
FOLDER_ENTRIES = 100_000
PATH_MAX = 4096
# the kernel's views: their files change on their own and reading some blocks (/proc/kmsg);
# a string naming one (``"dev"`` with the working folder ``/``) counts by the string alone
SYSTEM_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))
# the result cache's own entries and their temporary files (``cache.Store.entry_path``): a
# folder or pattern that reaches the cache folder must not change with every entry written
ENTRY_NAME = re.compile(r"\.?[0-9a-f]{64}\.entry(\..+\.tmp)?")
_VARIABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PATTERN = re.compile(r"[*?[]")
# a replacement field of ``str.format`` or of ``%`` formatting, and their escaped braces and percent
_FIELD = re.compile(r"\{\{|\}\}|%%|\{[^{}]*\}|%(\([^)]*\))?[#0 +-]*(\*|\d+)?(\.(\*|\d+))?[diouxXeEfFgGcrsa]")
_ESCAPED = {"{{": "{", "}}": "}", "%%": "%"}
# a template names a path when its fixed text has a folder separator or ends in a file extension
_PATH_LIKE = re.compile(r"(.*/.*|.*\.[A-Za-z0-9]{1,10})")
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_SUFFIX = re.compile(r"\.[A-Za-z0-9_]{1,10}")
# the tail of a file name built by ``+`` (``prefix + "_scale.txt"``, ``name + "-v2.json"``)
_TAIL = re.compile(r"[_-][^/*?[]*\.[A-Za-z0-9]{1,10}")
# files whose contents may name other files the code reads: configs and lists, read when small
LISTING_SUFFIXES = (".json", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini", ".conf", ".csv", ".tsv", ".lst")
LISTING_BYTES = 2**20
# how many configs deep a file named in one is followed (a config naming a config naming a file)
LISTED_DEPTH = 2
# a listed word names a path when it holds a folder separator or ends in an extension with a
# letter (``w.npy``, not the number ``0.25`` of a table of values)
_LISTED_PATH = re.compile(r"(.*/.*|.*\.[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*)")
_WORD_BREAK = re.compile(r"[\s\"'=,;:()\[\]{}<>]+")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def could_name_a_path(text: str) -> bool:
    return 0 < len(text) < PATH_MAX and "\0" not in text and "\n" not in text


def portable(text: str) -> str:
    """``text`` as the key shows it: an absolute path to a file by the file's name alone, to a
    folder as a folder (a checkout's own name changes when it moves; what either holds is
    keyed by :func:`named_paths`), anything else as it is."""
    try:
        if could_name_a_path(text) and os.path.isabs(text) and os.path.exists(text):
            return "folder" if os.path.isdir(text) else f"path:{Path(text).name}"
    except (OSError, ValueError):  # a name the system refuses
        pass
    return text


def named_paths(strings: Iterable[str], code_folders: Sequence[Path], big: BigFile | None = None) -> list[str]:
    """One line per string that names an existing path: the string (:func:`portable`) and what
    its paths hold, relative strings resolved against the working folder, ``code_folders``, the
    home folder (``Path.home() / ".conf/x.json"``) and, when a string steps up (``".."``), their
    parents; the strings a small text file it names lists (:func:`listed_names`: a config
    naming the file the code reads next) count too, resolved against that file's folder as
    well. ``big`` keys a file above :data:`FILE_BYTES_KEYED` (:func:`file_content`). ``TypeError``
    for a named folder too large to key (:data:`FOLDER_ENTRIES`)."""
    strings = set(strings)
    named = {s for s in strings | variable_values(strings) if could_name_a_path(s)}
    named |= {os.path.expandvars(text) for text in named if "$" in text}  # "$DATA/cfg.json" as it expands
    bases = _bases((*_working_folder(), *code_folders, *_home()), _levels_up(named))
    lines: list[str] = []
    done: set[str] = set()
    for _ in range(LISTED_DEPTH + 1):
        # a path the code fills in (``"conf/{}.json".format(name)``) by every file the template matches,
        # one an environment variable it names holds (``open(os.environ["MODEL_CFG"])``), the last
        # piece of one built by ``+`` (``HERE + "/w.npy"``, ``prefix + "_scale.txt"``)
        named |= {pattern for text in named if (pattern := template_pattern(text)) is not None}
        named |= {piece for text in named for piece in fragment_patterns(text)}
        listed: set[str] = set()
        for text in sorted(named - done):
            # in the order of the folders it resolves in, not as a set: a copy of the same file in
            # another folder (an older checkout's) must not hide a change in this one
            found = [(label, path, content) for label, path in _paths(text, bases)
                     if (content := _content(path, bases, big)) is not None]
            if found:
                lines.append(f"{portable(text)}={'|'.join(f'{label}:{content}' for label, _, content in found)}")
            for _, path, _ in found:
                if (names := listed_names(path)):
                    listed |= names
                    bases = _bases((*bases, path.parent), 0)
        done |= named
        named = {text for text in listed if could_name_a_path(text)} - done
    return lines


def _bases(folders: Iterable[Path], levels_up: int) -> list[Path]:
    """``folders`` resolved, each followed by its parents up to ``levels_up`` levels, once each."""
    resolved = [p.resolve() for p in folders]
    return list(dict.fromkeys(up for p in resolved for up in (p, *p.parents[:levels_up])))


def _levels_up(strings: Iterable[str]) -> int:
    """The most ``..`` steps a string takes (``os.path.join(HERE, "..", "data")``), up to 3."""
    return min(3, max((Path(text).parts.count("..") for text in strings), default=0))


def _home() -> list[Path]:
    """The home folder, unless it is ``/`` (some containers' users): every relative string
    resolved against ``/`` would walk ``/usr``, ``/tmp``..."""
    try:
        home = Path.home()
    except (RuntimeError, KeyError, OSError):  # no HOME and no passwd entry
        return []
    return [] if home.resolve() == Path("/") else [home]


def fragment_patterns(text: str) -> set[str]:
    """What ``text`` names as the last piece of a path built by ``+`` or an f-string: one that
    starts with a separator and names nothing as it stands (``HERE + "/w.npy"``,
    ``f"{HERE}/w.npy"``'s ``*/w.npy``) by the rest, relative; a file name's tail
    (``prefix + "_scale.txt"``) by the files ending in it."""
    if not could_name_a_path(text):
        return set()
    if text.startswith("*/"):
        return {text[2:]} if text[2:] else set()
    if text.startswith("/") and text.strip("/") and not _exists(text):
        return {text.lstrip("/")}
    return {"*" + glob.escape(text)} if _TAIL.fullmatch(text) else set()


def _exists(text: str) -> bool:
    try:
        return os.path.exists(text)
    except (OSError, ValueError):
        return False


def listed_names(path: Path) -> set[str]:
    """The path-like strings (:data:`_LISTED_PATH`) a small text file lists: a config or list
    file (:data:`LISTING_SUFFIXES`, up to :data:`LISTING_BYTES`) naming the files the code
    reads after it, each of its lines and the words between its quotes, separators and
    brackets. Empty for any other file; ``TypeError`` for one listing over
    :data:`FOLDER_ENTRIES` paths."""
    try:
        if path.suffix.lower() not in LISTING_SUFFIXES or not path.is_file() or path.stat().st_size > LISTING_BYTES:
            return set()
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return set()
    words = {line.strip() for line in text.splitlines()} | set(_WORD_BREAK.split(text))
    names = {word for word in words if _LISTED_PATH.fullmatch(word) and could_name_a_path(word)}
    if len(names) > FOLDER_ENTRIES:  # a data set's manifest, not a config: as a folder that large
        raise TypeError(f"file {path.name}, which the model's or the loss's code names, lists over "
                        f"{FOLDER_ENTRIES:,} paths")
    return names


def text_bytes(text: str) -> bytes:
    """``text`` as the key's bytes: UTF-8, a lone surrogate (a file or module name's undecodable
    byte, ``\\udcff``) as its own three bytes (``surrogatepass``), so names stay apart and
    encoding never fails (it raised for such a name: exit 5)."""
    return text.encode("utf-8", "surrogatepass")


def _working_folder() -> list[Path]:
    try:
        return [Path.cwd()]
    except OSError:  # removed while the process ran in it: a relative path names nothing there
        return []


def named_variables(strings: Iterable[str]) -> list[str]:
    """``NAME=value`` for each set environment variable a string names, whole or as ``$NAME``
    inside it (one that is not set adds nothing, so setting it changes the lines)."""
    names = {text for text in strings if _VARIABLE.fullmatch(text)}
    names |= {name for text in strings for name in _REFERENCE.findall(text)}  # "$DATA/cfg.json", "${DATA}"
    return [f"{name}={os.environ[name]}" for name in sorted(names) if name in os.environ]


def sibling_paths(strings: Iterable[str], code_files: Iterable[str]) -> set[str]:
    """The files beside the user's code named by its file name and a suffix the code holds
    (``Path(__file__).with_suffix(".json")``, ``__file__.replace(".py", ".json")``): each code
    file's path with each such suffix."""
    suffixes = {text for text in strings if _SUFFIX.fullmatch(text)}
    return {str(Path(source).with_suffix(suffix)) for source in code_files for suffix in suffixes}


def variable_values(strings: Iterable[str]) -> set[str]:
    """The values of the set environment variables that ``strings`` name."""
    return {os.environ[name] for name in set(strings) if _VARIABLE.fullmatch(name) and name in os.environ}


def template_pattern(text: str) -> str | None:
    """The glob pattern of the paths a ``str.format`` or ``%`` template may fill in to
    (``"conf/{}.json"``: ``conf/*.json``), or ``None`` for a string with no field or whose
    fixed text does not look like a path (``"loss {:.3f}"``)."""
    if not _FIELD.search(text):
        return None
    pieces: list[str | None] = []
    at = 0
    for field in _FIELD.finditer(text):
        pieces += [text[at:field.start()], _ESCAPED.get(field.group())]
        at = field.end()
    return fields_pattern([*pieces, text[at:]])


def fields_pattern(pieces: Sequence[str | None]) -> str | None:
    """The glob pattern of a string built of fixed ``pieces`` and fields (``None``): a template's,
    an f-string's; ``None`` when it has no field or its fixed text does not look like a path."""
    fixed = "".join(piece for piece in pieces if piece is not None)
    if None not in pieces or not _PATH_LIKE.fullmatch(fixed) or not any(c.isalnum() for c in fixed):
        return None
    # fields side by side are one wildcard: ``**`` would walk every folder below
    return re.sub(r"\*{2,}", "*", "".join("*" if piece is None else glob.escape(piece) for piece in pieces))


def fstring_patterns(code: CodeType) -> list[str]:
    """The glob patterns of the f-strings ``code`` builds (``f"{name}.json"``: ``*.json``), by
    :func:`fields_pattern` (:func:`_string_pieces`)."""
    instructions = list(dis.get_instructions(code))
    patterns = []
    for at, instruction in enumerate(instructions):
        if instruction.opname == "BUILD_STRING":
            if (pattern := fields_pattern(_string_pieces(instructions[:at], instruction.arg))) is not None:
                patterns.append(pattern)
    return patterns


def _string_pieces(before: Sequence[dis.Instruction], count: int) -> list[str | None]:
    """The ``count`` values pushed last by the ``before`` instructions, each as its constant
    string or ``None`` (a formatted value). Where a jump makes the stack unclear (a field
    holding a conditional, ``f"{a}_{'big' if b else 'small'}.txt"``), that piece and those
    before it are one field: the pattern then covers every branch (``*.txt``)."""
    pieces: list[str | None] = []
    end = len(before)
    for _ in range(count):
        pushed, start = 0, end
        while pushed != 1:  # walk back over one value's instructions: together they push one
            start -= 1
            if start < 0 or before[start].opcode in _JUMPS or before[start].is_jump_target:
                return [None, *pieces]
            op = before[start]
            try:
                pushed += dis.stack_effect(op.opcode, op.arg if op.opcode >= dis.HAVE_ARGUMENT else None, jump=False)
            except ValueError:  # an opcode this Python's dis cannot size
                return [None, *pieces]
        first = before[start]
        constant = start == end - 1 and first.opname == "LOAD_CONST" and isinstance(first.argval, str)
        pieces.insert(0, first.argval if constant else None)
        end = start
    return pieces


def _paths(text: str, bases: Sequence[Path]) -> list[tuple[str, Path]]:
    """The paths ``text`` may name, each with a label that holds no folder outside the string."""
    text = os.path.expanduser(text)
    if _PATTERN.search(text):
        roots = [Path(_fixed_part(text))] if os.path.isabs(text) else bases
        found = []
        for root in roots:
            pattern = text if os.path.isabs(text) else str(root / text)
            matches = list(itertools.islice(glob.iglob(pattern, recursive=True), FOLDER_ENTRIES + 1))
            if len(matches) > FOLDER_ENTRIES:
                raise TypeError(f"pattern {text!r}, which the model's or the loss's code names, matches over "
                                f"{FOLDER_ENTRIES:,} paths")
            found += [(Path(m).relative_to(root).as_posix(), Path(m)) for m in sorted(matches)
                      if not ENTRY_NAME.fullmatch(Path(m).name)]
        return found
    if os.path.isabs(text):
        return [("", Path(text))]
    return [("", base / text) for base in bases]


def _fixed_part(pattern: str) -> str:
    """The folder an absolute glob pattern starts in: its parts before the first wildcard."""
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if _PATTERN.search(part))
    return str(Path(*parts[:fixed]))


def _content(path: Path, code_folders: Sequence[Path], big: BigFile | None) -> str | None:
    """What keys the file or folder at ``path``; ``None`` where nothing is (or no file: a FIFO)."""
    try:
        info = path.stat()  # first: most strings name nothing, and resolving costs more
        folder = path.resolve()
        if any(folder.is_relative_to(system) for system in SYSTEM_FOLDERS):
            return None
        if stat.S_ISREG(info.st_mode):
            return file_content(path, info, FILE_BYTES_KEYED, big)
        if not stat.S_ISDIR(info.st_mode):
            return None
    except (OSError, ValueError):  # unreadable, a name the system refuses: the string alone
        return None
    if any(code == folder or code.is_relative_to(folder) for code in code_folders):
        return "folder of the code"
    return "folder " + _folder_content(folder, big)


def file_content(path: Path, info: os.stat_result, budget: int, big: BigFile | None = None) -> str:
    """What keys the regular file at ``path`` (``info`` its stat): its bytes up to ``budget``; above
    it ``big`` of it (its bytes' digest, remembered by its stat) where given, else its stat."""
    if info.st_size <= budget or big is not None:
        try:
            return file_sha256(path) if info.st_size <= budget else big(path, info)
        except OSError:
            return "unreadable"
    # the change time too: a rewrite that sets the size and modification time back (cp -p,
    # rsync -t, touch -d) moves it, and nothing but the clock sets it
    # and the inode: another file put in its place (a link re-pointed, a rename over it) may carry
    # the same three, the change time ticking coarsely (a jiffy) for files written together
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"


def _folder_content(folder: Path, big: BigFile | None) -> str:
    """sha256 over a folder's listing (every level, links followed) and its files' contents."""
    digest, budget, count = hashlib.sha256(), FILE_BYTES_KEYED, 0
    for top, folders, files in os.walk(folder, followlinks=True):
        folders.sort()
        count += len(folders) + len(files)
        if count > FOLDER_ENTRIES:  # a link loop ends here too
            raise TypeError(f"folder {folder}, which the model's or the loss's code names, holds over "
                            f"{FOLDER_ENTRIES:,} entries")
        where = Path(top).relative_to(folder).as_posix()
        digest.update(text_bytes(f"{where}/:{','.join(folders)}\n"))
        for name in sorted(f for f in files if not ENTRY_NAME.fullmatch(f)):
            try:
                info = (Path(top) / name).stat()
            except OSError:  # a broken link
                info = None
            if info is None or not stat.S_ISREG(info.st_mode):  # never read a FIFO: it would wait
                digest.update(text_bytes(f"{name}:{'-' if info is None else stat.S_IFMT(info.st_mode)}\n"))
                continue
            content = file_content(Path(top) / name, info, budget, big)
            budget -= info.st_size if info.st_size <= budget else 0
            digest.update(text_bytes(f"{name}:{content}\n"))
    return digest.hexdigest()
