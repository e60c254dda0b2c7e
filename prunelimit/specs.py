"""Parsing of ``NAME[:ARG]...[:k=v,...]`` spec strings shared by models, data and losses."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator


from prunelimit.errors import InputError, UsageError, first_line, option, quoted, said
from prunelimit.limits import require_file
from prunelimit.validate import number_fix

USER_MODULE_PREFIX = "_prunelimit_user_"  # modules imported from a user's file.py

# What user code (a --model factory, a --loss function, a model's forward) may raise: any
# exception, and SystemExit too, since sys.exit(0) in it would otherwise end prunelimit
# with exit 0, which a CI job reads as success (a gate passed).
USER_CODE_ERRORS = (Exception, SystemExit)


def user_failure(exc: BaseException) -> str:
    """How user code failed, in a few words: ``ValueError: boom`` or ``it called sys.exit(0)``."""
    return f"it called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else first_line(exc)


def user_code_line(exc: BaseException) -> tuple[str, int] | None:
    """The file and line of the innermost frame of ``exc``'s traceback that ran code imported
    from a user's file (a ``--model`` or ``--loss`` ``file.py:fn``); ``None`` when none did."""
    where, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(USER_MODULE_PREFIX):
            where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


# seeds feed torch.Generator (< 2**64) with small offsets added; numpy takes no negative one
SEED_LIMIT = 2**63


def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed every generator accepts: an integer in ``[0, SEED_LIMIT)``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise UsageError(f"{what} must be an integer in [0, 2**63), got {quoted(seed)}")
    return seed


@dataclass(frozen=True)
class Spec:
    """A parsed spec: ``head`` plus positional ``args`` and ``k=v`` keyword ``kwargs``, whose
    values as typed are ``written`` (a count is read from its text: ``1e30`` is no float)."""

    text: str
    head: str
    args: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)


# a ``k=v`` value that is a number, in decimal as written (YAML 1.1 read ``010`` as 8, ``0x3``
# as 3 and ``1_000`` as 1000, and left ``1e-3`` a string)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_REAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def parse_value(text: str) -> Any:
    """``3`` → 3, ``0.5`` or ``1e-3`` → a float, ``true``/``false`` (any case) → a bool;
    anything else (``0x3``, ``yes``, ``1e999``, a 5,000-digit number) stays the string written."""
    if _INTEGER.fullmatch(text):
        with contextlib.suppress(ValueError):  # Python refuses ints of over 4,300 digits
            return int(text)
    elif _REAL.fullmatch(text) and math.isfinite(float(text)):
        return float(text)
    elif text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_spec(text: str, what: str) -> Spec:
    """Split a spec on ``:``; parts made only of ``k=v`` items become keyword arguments."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"empty {what} spec; see `prunelimit --help` for the accepted forms")
    parts = text.strip().split(":")
    head, args, kwargs, written = parts[0], [], {}, {}
    for part in parts[1:]:
        items = part.split(",")
        if part and all("=" in item for item in items):
            for item in items:
                key, _, value = (side.strip() for side in item.partition("="))
                if not key:
                    raise UsageError(f"bad {what} spec {text!r}: empty key in {item!r}")
                if key in written:  # the later one won in silence, as a --config key given twice would
                    raise UsageError(f"bad {what} spec {text!r}: {key} is given twice "
                                     f"({written[key]} and {value}); write it once")
                kwargs[key], written[key] = parse_value(value), value
        else:
            _refuse_split_number(text, what, items)
            args.append(part)
    if not head:
        raise UsageError(f"bad {what} spec {text!r}: it must start with a name")
    return Spec(text=text, head=head, args=tuple(args), kwargs=kwargs, written=written)


def _refuse_split_number(text: str, what: str, items: list[str]) -> None:
    """A ``k=v`` whose number holds a comma (``samples=1,000``, ``lr=0,5``, a list ``sizes=64,32``)
    is refused naming what it may mean: the comma split the part, which then was no ``k=v`` list
    but an argument, the number ignored (``synthetic`` made its default 512 samples) or refused
    as no split."""
    for before, after in zip(items, items[1:]):
        key, eq, value = before.partition("=")
        number = f"{value.strip()},{after.strip()}"
        fix = number_fix(number) if eq and "=" not in after else ""
        if fix:
            raise UsageError(f"bad {what} spec {text!r}: {key.strip()}={number} holds a comma, which separates "
                             f"k=v items: a value is one number{fix}")


def spec_file_part(text: str, key: str) -> int | None:
    """Which ``:`` part of a ``key`` spec (``model``, ``loss``, ``data``, ``eval_data``) names a
    file or folder: the ``file.py`` of a model or loss, the first argument of a data source
    that reads one (``tensors:PATH``, ``cifar10:ROOT``); ``None`` when none does."""
    from prunelimit.data.spec import PATH_SOURCES

    parts = text.split(":")
    if key in ("model", "loss") and parts[0].endswith(".py"):
        return 0
    if key in ("data", "eval_data") and parts[0] in PATH_SOURCES and len(parts) > 1:
        return 1
    return None


def with_file_part(text: str, key: str, change: Callable[[str], str]) -> str:
    """``text``, a ``key`` spec, with its file part (:func:`spec_file_part`) replaced by
    ``change`` of it; unchanged when no part names a file."""
    at = spec_file_part(text, key)
    if at is None:
        return text
    parts = text.split(":")
    parts[at] = change(parts[at])
    return ":".join(parts)


class SourceBytesLoader(importlib.machinery.SourceFileLoader):
    """Compiles a module from its source file's bytes, never from a cached .pyc: that cache
    is trusted by the file's mtime and size, so an edit keeping both would run the old code
    (while the result cache, keyed by the bytes, stored its numbers as the new code's)."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


class _UserCodeFinder(importlib.abc.MetaPathFinder):
    """Finds modules as the path finder does, and loads the user's own (source files outside
    the installed packages, ``prunelimit.cache.code_files``' sense) with ``SourceBytesLoader``."""

    def __init__(self, is_installed: Callable[[str | None], bool]) -> None:
        self.is_installed = is_installed  # imported beforehand: an import in find_spec would recurse

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader \
                or self.is_installed(spec.origin):
            return None  # the next finders take it as usual
        spec.loader = SourceBytesLoader(spec.loader.name, spec.loader.path)
        return spec


@contextlib.contextmanager
def fresh_user_code() -> Iterator[None]:
    """While importing a ``--model``/``--loss`` spec, the user's modules it imports (the named
    ``package.module``, its package, its helpers) run the source the result cache hashes."""
    from prunelimit.cache import is_installed

    # the installed folders, found (and sysconfig imported) before the finder is in place: a path is
    # needed (None answers at once), else the first user's import found them from inside the finder,
    # whose import of sysconfig asked the finder again, to a RecursionError (a fresh process's first spec)
    is_installed(__file__)
    finder = _UserCodeFinder(is_installed)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def user_module_name(path: Path) -> str:
    """The module name a user's ``file.py`` is imported under: from its name and bytes, not
    its folder, so that the result cache's key, which names user code by it, is the same for
    a checkout moved elsewhere (a CI runner's new workspace); the same in every process
    (``hash`` of a str is salted per process)."""
    # the name's bytes: one that is not UTF-8 (Python reads it as \udcff) is as good a name
    digest = hashlib.sha256(os.fsencode(path.name) + b"\0" + path.read_bytes())
    return f"{USER_MODULE_PREFIX}{digest.hexdigest()[:16]}"


def _forget_user_modules(path: Path) -> None:
    """Drop the modules imported from ``path`` before (an earlier, edited version in this
    process): one module a file, as the result cache's key lists the user's modules."""
    where = path.resolve()
    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if name.startswith(USER_MODULE_PREFIX) and source and Path(source).resolve() == where:
            del sys.modules[name]


def _package_hint(path: Path, attr: str, what: str) -> str:
    """For a file that imports relative to its package (``from .layers import …``), which
    only an import of it as a module can give: its module spec, and the folder above its
    package that must be on the import path (its package: the folders with an
    ``__init__.py`` above it, else its own folder, a namespace package)."""
    package = path.parent
    while (package.parent / "__init__.py").is_file() and package.parent != package.parent.parent:
        package = package.parent
    module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
    root = str(package.parent)
    return (f"; a file of a package is imported as a module: {option(what, f'{module}:{attr}')}, with "
            + said(f"PYTHONPATH={root} (the folder above {package.name})",
                   f"{root} (the folder above {package.name}) on sys.path"))


def _current_folder_holding(name: str | None) -> str | None:
    """The current folder, when it holds the top-level module or package of ``name`` and is
    not on ``sys.path``; else ``None``."""
    if not name:
        return None
    try:
        here = Path.cwd().resolve()
    except OSError:  # the current folder was removed
        return None
    top = name.partition(".")[0]
    if not ((here / top).is_dir() or (here / f"{top}.py").is_file()):
        return None
    on_path = any(Path(entry or ".").resolve() == here for entry in sys.path if isinstance(entry, str))
    return None if on_path else str(here)


def _import_module(target: str) -> Any:
    """``importlib.import_module(target)``, else from the current folder when it holds the
    module found missing (the spec's package or a helper module it imports): ``python -m
    prunelimit`` has that folder on ``sys.path``, the installed command does not, and a user
    cannot see that difference. The folder goes last, so nothing installed is shadowed."""
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        folder = _current_folder_holding(exc.name)
        if folder is None:
            raise
    sys.path.append(folder)
    return importlib.import_module(target)


def _not_found_hint(exc: BaseException, target: str) -> str:
    """Where to put a spec's top-level package found nowhere (neither the current folder nor
    ``sys.path`` holds it); nothing for other failures: a module missing from a package that
    was found, or one the user's code imports."""
    top = target.partition(".")[0]
    if not isinstance(exc, ModuleNotFoundError) or exc.name != top:
        return ""
    return "; " + said(f"run prunelimit from the folder holding {top}, or add that folder to PYTHONPATH",
                       f"work in the folder holding {top}, or add that folder to sys.path")


def resolve_callable(target: str, attr: str, what: str, contract: str = "a function") -> Callable[..., Any]:
    """Import ``attr`` from ``path/to/file.py`` or ``package.module``; ``contract`` says what
    it must be (``factory(**k=v) -> nn.Module``), for the message when it is no callable."""
    if not attr.strip():  # ``file.py:``: refused as a spec, before the file's code runs for nothing
        raise UsageError(f"bad {what} spec {target + ':' + attr!r}: name the function after the colon, "
                         f"{target}:NAME")
    if target.endswith(".py"):
        path = Path(target)
        require_file(path, f"{what} file")
        try:  # an unreadable file, as a failing one, is a load error
            name = user_module_name(path)
            spec = importlib.util.spec_from_file_location(name, path, loader=SourceBytesLoader(name, str(path)))
            module = importlib.util.module_from_spec(spec)
            _forget_user_modules(path)
            sys.modules[name] = module
            with fresh_user_code():
                spec.loader.exec_module(module)
        except USER_CODE_ERRORS as exc:  # the user's file: any error is a load error
            hint = _package_hint(path, attr, what) if "no known parent package" in str(exc) else ""
            raise InputError(f"could not import {what} file {target}: {user_failure(exc)}{hint}") from exc
    else:
        try:
            with fresh_user_code():
                module = _import_module(target)
        except USER_CODE_ERRORS as exc:
            raise InputError(f"could not import {what} module {target!r}: {user_failure(exc)}"
                             f"{_not_found_hint(exc, target)}") from exc
    missing = object()
    fn = getattr(module, attr, missing)
    if fn is missing:
        raise InputError(f"{what} {target}:{attr}: {target} defines no {attr!r}; the {what} must be {contract}")
    if not callable(fn):
        raise InputError(f"{what} {target}:{attr}: {attr!r} is of type {type(fn).__name__}, not a function; "
                         f"the {what} must be {contract}")
    return fn
