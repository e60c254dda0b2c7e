"""Checks of single option values, shared by the option dataclasses' ``__post_init__``.

Each raises :class:`~prunelimit.errors.OptionError` (a ``ValueError``) naming the option,
so a library caller and the command line (which puts its flag in the name's place) see
the same check.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from dataclasses import fields
from typing import Iterable, Mapping

from prunelimit import errors
from prunelimit.errors import OptionError, UsageError, quoted


def known_fields(kind: type, given: Mapping[str, object], what: str) -> None:
    """Every name in ``given`` is a field of the dataclass ``kind``: else a ``UsageError``
    naming the first unknown one and listing ``what`` there are (a typo is not ignored)."""
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise UsageError(f"unknown option {unknown[0]!r}; "
                         + errors.unknown_name(unknown[0], known, f"{what} are {', '.join(sorted(known))}"))


def changed_fields(config: object) -> dict[str, object]:
    """The fields of the dataclass instance ``config`` set away from their defaults, by name:
    what a mode, plan or schedule that ignores some of them must refuse rather than drop."""
    return {f.name: getattr(config, f.name) for f in fields(config) if getattr(config, f.name) != f.default}


def choice(option: str, value: object, choices: Iterable[str]) -> None:
    """``value`` must be one of ``choices``."""
    allowed = tuple(choices)
    if not (isinstance(value, str) and value in allowed):
        raise OptionError(option, f"{errors.option(option, value, '{0}', repr(value))}: use {', '.join(allowed)}")


def boolean(option: str, value: object) -> None:
    """``value`` must be ``True`` or ``False`` (not a truthy string such as ``"no"``)."""
    if not isinstance(value, bool):
        raise OptionError(option, f"{{0}} must be True or False, got {quoted(value)}")


def integer(option: str, value: object, low: int, high: int | None = None) -> None:
    """``value`` must be an int (not a bool) in ``[low, high)``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise OptionError(option, f"{{0}} must be an integer, got {quoted(value)}{not_a_number(value, int)}")
    if value < low:
        raise OptionError(option, f"{{0}} must be at least {low}, got {value}")
    if high is not None and value >= high:
        raise OptionError(option, f"{{0}} must be below {high}, got {value}")


def positive(option: str, value: object) -> None:
    """``value`` must be a finite number > 0 (twice it finite too: formulas use 2·value)."""
    if not real(value) or not (value > 0 and math.isfinite(2.0 * value)):
        # a positive finite value refused is one whose double overflows: say so, not that it is infinite
        large = real(value) and value > 0 and math.isfinite(value)
        why = f": too large (at most {sys.float_info.max / 2:.4g})" if large else not_a_number(value)
        raise OptionError(option, f"{{0}} must be a positive finite number, got {quoted(value)}{why}")


def non_negative(option: str, value: object) -> None:
    """``value`` must be a finite number ≥ 0."""
    if not real(value) or not (value >= 0 and math.isfinite(value)):
        raise OptionError(option, f"{{0}} must be a finite number >= 0, got {quoted(value)}{not_a_number(value)}")


def momentum(option: str, value: object) -> None:
    """``value`` must lie in [0, 1): heavy-ball SGD diverges at a momentum of 1 and above,
    whatever the learning rate, so such a run would only end in "training diverged"."""
    if not real(value) or not 0 <= value < 1:
        raise OptionError(option, f"{{0}} must lie in [0, 1) (SGD diverges at 1 and above), got {quoted(value)}"
                                  f"{not_a_number(value)}")


def open_unit(option: str, value: object) -> None:
    """``value`` must lie in the open interval (0, 1)."""
    if not real(value) or not 0 < value < 1:
        raise OptionError(option, f"{{0}} must lie in (0, 1), got {quoted(value)}{not_a_number(value)}"
                                  f"{percent_hint(value)}")


def percent_hint(value: object) -> str:
    """For a fraction given as a percentage (``10`` for 0.1), the fraction it may mean; else nothing."""
    if not real(value) or not 1 < value < 100:
        return ""
    return f" (a percentage? {value:g} % is {value / 100:g})"


def callback(option: str, value: object, signature: str, counts: Iterable[int]) -> None:
    """``value`` must be a function or ``None`` that takes each of ``counts`` positional
    arguments, as ``signature`` (e.g. ``(done, total=None, text=None)``) says: it is called
    only once the work has begun, where its own ``TypeError`` would end the run."""
    import inspect

    if value is not None and not callable(value):
        raise OptionError(option, f"{{0}} must be a function or None, got {type(value).__name__} {value!r}")
    try:
        taken = inspect.signature(value) if value is not None else None
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check ahead
        return
    for count in counts if taken is not None else ():
        try:
            taken.bind(*range(count))
        except TypeError:
            raise OptionError(option, f"{{0}} must take {signature}; it is called with {count} positional "
                                      f"argument{'s' if count > 1 else ''}, which {option}{taken} does not take, "
                                      f"e.g. {option}=lambda {signature[1:-1]}: ...") from None


def patterns(option: str, value: object) -> None:
    """``value`` must be a tuple or list of glob strings (a bare string would be read letter by letter)."""
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
        hint = f"; for one pattern write ({value!r},)" if isinstance(value, str) else ""
        raise OptionError(option, f"{{0}} must be a tuple of glob patterns such as ('0',), got {quoted(value)}{hint}")


def path(option: str, value: object) -> None:
    """``value`` must be a path: a ``str`` or ``os.PathLike``."""
    if not isinstance(value, (str, os.PathLike)):
        raise OptionError(option, f"{{0}} must be a path (str or pathlib.Path), got {type(value).__name__} {value!r}")


def pair(option: str, value: object) -> None:
    """``value`` must be two real numbers, ``(low, high)`` with ``low <= high``."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(real(v) for v in value)
            and value[0] <= value[1]):
        raise OptionError(option, f"{{0}} must be (low, high) with low <= high, got {quoted(value)}")


def not_a_number(value: object, kind: type = float) -> str:
    """What to add to a refusal of ``value`` where a number of ``kind`` belongs: nothing for
    a number, else that it is none. Library arguments take numbers only, never their text
    (``"0.5"``, which the command line's flags parse) nor a bool, so ``"0.5"`` is refused
    as a string, not as a value out of range (docs/library.md)."""
    if real(value):
        return ""
    try:
        fix = f": write {kind(value)!r}, without quotes" if isinstance(value, str) else ""
    except ValueError:
        fix = ""
    return f", a {type(value).__name__}, not a number{fix}"


def not_a_module(value: object) -> str:
    """What ``value``, given where a ``torch.nn.Module`` belongs, is, for a refusal's "got …":
    its type, or for a module class itself (``bounds(Net, data)``: the parentheses left out)
    that it is the class, with the fix; "got type" named neither."""
    from torch import nn

    if isinstance(value, type) and issubclass(value, nn.Module):
        return f"the class {value.__name__}, not a module; give an instance, {value.__name__}(...) with its weights"
    return type(value).__name__


def real(value: object) -> bool:
    """A real number, not a bool (``True`` is an int to Python, never a setting's value)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def real_array(value: object) -> bool:
    """Real numbers: one, or a sequence, array or tensor of them (not strings, not bools)."""
    import numpy as np

    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        return False
    return array.dtype.kind in "iuf" and array.size > 0
