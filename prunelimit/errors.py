"""Exception types, each mapped to its documented exit code (README, docs/guide.md)."""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import os
import re
import sys
import warnings
from contextvars import ContextVar
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def first_line(exc: BaseException) -> str:
    """An exception in a few words for a one-line message: its type and its first line."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    # cut at a word, marked: a line cut mid-word ('there is a high likelihood tha') reads as ours
    line = text[0] if len(text[0]) <= 160 else text[0][:160].rsplit(" ", 1)[0] + " …"
    return f"{type(exc).__name__}: {line}"


class PrunelimitError(Exception):
    """Base error: a short message naming the input and the fix; carries its exit code.

    An error made with :meth:`naming` names options in its message: its ``template`` holds
    ``{0}``, ``{1}``, … where the names of ``names`` go, so the message names the parameters
    to a library caller (``str(error)``) and the command line puts its flags there instead
    (:meth:`renamed`). Only these numbered fields are filled: values written into the
    template may hold braces.
    """

    exit_code = 2
    template: str | None = None
    names: tuple[str, ...] = ()

    @classmethod
    def naming(cls, template: str, *names: str):
        """The error whose message names the options ``names`` at ``{0}``, ``{1}``, …"""
        error = cls(_fill(template, names))
        error.template, error.names = template, names
        return error

    def renamed(self, rename: Callable[[str], str]) -> str:
        """The message with ``rename(name)`` (e.g. a command-line flag) for each option it names."""
        return str(self) if self.template is None else _fill(self.template, [rename(n) for n in self.names])


class UsageError(PrunelimitError, ValueError):
    """Bad option, spec string or configuration (exit 2); a ``ValueError`` for library callers."""

    exit_code = 2


class CallError(UsageError, TypeError):
    """A library function called with arguments its signature does not take (x and y apart,
    a keyword-only argument by position): a ``TypeError``, as Python's own, whose message
    names the call to make."""


class OptionError(UsageError):
    """An invalid value of one named option: ``template`` holds ``{0}`` wherever the option's
    name goes and ``{1}``, ``{2}``, … for the names of ``others`` (options the message points
    to); see :class:`PrunelimitError`."""

    def __init__(self, option: str, template: str, *others: str):
        super().__init__(_fill(template, (option, *others)))
        self.option, self.others = option, others
        self.template, self.names = template, (option, *others)

    def named(self, name: str, rename: Callable[[str], str] = str) -> str:
        """The message with ``name`` (e.g. a command-line flag) for the option and
        ``rename(other)`` for each of the others."""
        return _fill(self.template, [name, *map(rename, self.others)])


def _fill(template: str, names) -> str:
    """``template`` with ``names[i]`` for each ``{i}`` (other braces are left as they are)."""
    names = tuple(names)
    return _FIELD.sub(lambda m: names[int(m[1])] if int(m[1]) < len(names) else m[0], template)


_FIELD = re.compile(r"\{(\d)\}")


class InputError(PrunelimitError):
    """A checkpoint, model or data set could not be loaded (exit 3)."""

    exit_code = 3


class NumericalError(PrunelimitError):
    """NaN/Inf, breakdown or no convergence (exit 4)."""

    exit_code = 4


class GateFailed(PrunelimitError):
    """A CI gate rule failed (exit 1)."""

    exit_code = 1


class PrunelimitWarning(UserWarning):
    """Every warning prunelimit gives (a ``UserWarning``), so that a caller can filter them
    apart from others: ``warnings.filterwarnings("ignore", category=PrunelimitWarning)``. As
    plain ``UserWarning``s only their text told them apart: :func:`warn` points them at the
    caller's line, so their ``module`` is the caller's, not ``prunelimit``."""


# True within a call of the library (``prunelimit.bounds``, …): messages name keyword arguments
_LIBRARY_CALL: ContextVar[bool] = ContextVar("prunelimit_library_call", default=False)


@contextlib.contextmanager
def library_call() -> Iterator[None]:
    """Within: messages built with :func:`said` and :func:`option` speak to a library caller."""
    token = _LIBRARY_CALL.set(True)
    try:
        yield
    finally:
        _LIBRARY_CALL.reset(token)


# How the command line names options (its flags), set while a command runs (``options_named``)
_FLAGS: ContextVar[Callable[[str], str] | None] = ContextVar("prunelimit_flags", default=None)


@contextlib.contextmanager
def options_named(flag: Callable[[str], str]) -> Iterator[None]:
    """Within: :func:`message` names an error's options by ``flag`` (the command line's)."""
    token = _FLAGS.set(flag)
    try:
        yield
    finally:
        _FLAGS.reset(token)


def message(exc: BaseException) -> str:
    """``exc``'s message as its reader names options, for an error quoted inside another
    message (a warning's reason): the flags within :func:`options_named` (outside a
    :func:`library_call`), else the library's names, as ``str(exc)`` gives them."""
    flag = _FLAGS.get()
    if isinstance(exc, PrunelimitError) and flag is not None and not _LIBRARY_CALL.get():
        return on_command_line(exc, flag)
    return str(exc)


def on_command_line(exc: PrunelimitError, flag: Callable[[str], str]) -> str:
    """``exc``'s message as the command line names options (``flag(name)``, their flags), but
    the option whose value an :class:`OptionError` refuses by its key in the --config file
    that set it (``tolerance in ci.yaml must be …``): that file, not the command line, holds
    the value to fix (:func:`options_configured`)."""
    if isinstance(exc, OptionError):
        return exc.named(option_flag(exc.option, flag(exc.option)), flag)
    return exc.renamed(flag)


def command_line_running() -> bool:
    """Whether a command of the command line is running (:func:`options_named`), outside a
    :func:`library_call` made within it (a ``--model`` factory's own call of the library)."""
    return _FLAGS.get() is not None and not _LIBRARY_CALL.get()


def fields_named(check: Callable[[T], None]) -> Callable[[T], None]:
    """An option dataclass's ``__post_init__`` ``check`` whose messages name options as the
    library does (``tolerance=``, ``method='exact'``) unless a command of the command line is
    running, whose messages name its flags: a config built in a notebook
    (``CurvatureOptions(...)``, ``NplhConfig(...)``) names the fields its caller wrote."""
    @functools.wraps(check)
    def checked(self: T) -> None:
        with contextlib.nullcontext() if command_line_running() else library_call():
            check(self)
    return checked


def said(command_line: str, library: str) -> str:
    """The part of a warning or error that differs by reader: ``library`` within
    :func:`library_call`, else ``command_line`` (what the commands print)."""
    return library if _LIBRARY_CALL.get() else command_line


# The --config file of the command running and the keys it set (the command line did not
# override them), set while the command runs (``options_configured``)
_CONFIGURED: ContextVar[tuple[str, frozenset[str]] | None] = ContextVar("prunelimit_configured", default=None)


@contextlib.contextmanager
def options_configured(file: str, keys: Iterable[str]) -> Iterator[None]:
    """Within: :func:`option` and :func:`option_flag` name an option whose value ``file`` set by its
    key there (``hessian_samples: all in ci.yaml``): its reader edits the file, where the
    flag is nowhere in the job's command line."""
    token = _CONFIGURED.set((file, frozenset(keys)))
    try:
        yield
    finally:
        _CONFIGURED.reset(token)


def written_in(key: str, file: str, shown: str | None = None) -> str:
    """An option or rule key as ``file`` writes it: ``key: shown in file``, or ``key in file``."""
    return f"{key}{'' if shown is None else f': {shown}'} in {file}"


def _configured(typed: str) -> tuple[str, str] | None:
    """The key and file of the flag ``typed`` when the running command's --config file set it."""
    configured = _CONFIGURED.get()
    key = typed.removeprefix("--").replace("-", "_")
    return (key, configured[0]) if configured is not None and typed.startswith("--") and key in configured[1] else None


def option_flag(name: str, flag: str | None = None) -> str:
    """How the command line names option ``name`` (its flag ``flag``, or ``--`` and the name with
    dashes): that flag, or its key in the --config file that set it (:func:`options_configured`)."""
    typed = flag or "--" + name.replace("_", "-")
    configured = _configured(typed)
    return typed if configured is None else written_in(*configured)


def warn(text: str, stacklevel: int = 2) -> None:
    """``warnings.warn(text, PrunelimitWarning, stacklevel=stacklevel)`` as seen from the caller of ``warn``;
    within a :func:`library_call`, at the line that called prunelimit (the first frame outside
    the package and ``contextlib``'s context managers it enters through), so that Python shows
    the caller's line, not ours (``contextlib.py:137 … return next(self.gen)``), and its
    once-per-line filter counts each calling line apart. The commands show their warnings by
    the package's frames (``cli.common``), as before."""
    frame, level = sys._getframe(1), 2  # warn's caller, as warnings.warn counts from here
    if _LIBRARY_CALL.get():
        while frame is not None and _within_package(frame.f_code.co_filename):
            frame, level = frame.f_back, level + 1
    warnings.warn(text, PrunelimitWarning,
                  stacklevel=level if frame is not None and _LIBRARY_CALL.get() else stacklevel + 1)


def _within_package(filename: str) -> bool:
    """A frame of prunelimit's own code, or of ``contextlib`` (its context managers' ``__enter__``)."""
    return filename.startswith(_PACKAGE) or filename == contextlib.__file__


_PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


QUOTED_LIMIT = 80  # characters of a value's repr a message quotes


def quoted(value: object) -> str:
    """``repr(value)`` as a message quotes it: a tensor or array by its dtype and shape (data
    passed in a number's place printed thousands of numbers), a sequence holding them
    element by element, any other repr cut to ``QUOTED_LIMIT`` characters."""
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "ndim", 0):
        dtype = str(getattr(value, "dtype", "?")).removeprefix("torch.")
        return f"{type(value).__name__} ({dtype}, shape {tuple(shape)})"
    if isinstance(value, (tuple, list)) and any(getattr(item, "ndim", 0) for item in value):
        items = ", ".join(quoted(item) for item in value[:4]) + (", …" if len(value) > 4 else "")
        return f"({items})" if isinstance(value, tuple) else f"[{items}]"
    text = repr(value)
    return text if len(text) <= QUOTED_LIMIT else text[: QUOTED_LIMIT - 1] + "…"


def yaml_quoted(value: object) -> str:
    """``value`` as a YAML file writes it, for a message about a key of that file: ``null``,
    ``true``/``false``, ``.nan``, ``.inf`` (Python's ``None``, ``True``, ``nan``, ``inf`` are
    words the file does not hold); anything else as :func:`quoted`."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    return quoted(value)


_NO_VALUE = object()


def option(name: str, value: object = _NO_VALUE, flag: str | None = None, shown: str | None = None,
           in_file: bool = True) -> str:
    """Option ``name`` (with ``value``, if given) as a message names it: ``name=value`` to a
    library caller, else its flag and the value as typed (``flag``, or ``--`` and the name
    with dashes; a float as ``:g`` writes it, ``shown`` replaces that text): ``--iterations 256``
    or ``iterations=256``; one the running command's --config file set, by its key there:
    ``iterations: 256 in ci.yaml`` (:func:`options_configured`), unless ``in_file`` is False (a
    value the message describes, not one to set: "applies to --mode iterative"). In a
    :meth:`PrunelimitError.naming` template ``flag`` may be its field (``"{0}"``), filled by the
    name each reader knows the option by: ``{0} mse`` or ``{0}='mse'``."""
    typed = flag or "--" + name.replace("_", "-")
    if getattr(value, "ndim", None) == 0:  # a numpy scalar as the number it holds: 0.5, not np.float32(0.5)
        value = value.item()
    if value is _NO_VALUE:
        return said(option_flag(name, flag) if in_file else typed, f"{name}=")
    configured = _configured(typed) if in_file else None
    if shown is None:
        shown = f"{value:g}" if isinstance(value, float) else value if isinstance(value, str) else quoted(value)
    field = flag if flag and flag.startswith("{") else name  # a field keeps the name to be filled in
    return said(f"{typed} {shown}" if configured is None else written_in(*configured, shown), f"{field}={quoted(value)}")


def unknown_name(name: str, known: Iterable[str], listing: str) -> str:
    """What follows "unknown option 'NAME'": the nearest of ``known`` (a typo, found as typer
    finds a mistyped flag), else ``listing`` (what there is, for a name like none of them)."""
    nearest = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {nearest[0]!r}?" if nearest else listing
