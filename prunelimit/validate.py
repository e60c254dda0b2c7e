"""Checks of single option values, shared by the option dataclasses' ``__post_init__``.

Each raises :class:`~prunelimit.errors.OptionError` (a ``ValueError``) naming the option,
so a library caller and the command line (which puts its flag in the name's place) see
the same check.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import sys
from dataclasses import fields
from decimal import Decimal
from typing import Any, Iterable, Mapping

from prunelimit import errors
from prunelimit.errors import OptionError, UsageError, quoted


def plain_number(value: Any) -> Any:
    """A NumPy scalar (``np.int64(3)``, ``np.float32(0.5)``, ``np.True_``, or a 0-d array: ``np.asarray(3)``)
    or a 0-d real tensor (torch's scalar: ``ratio=(w == 0).float().mean()``, ``density=torch.tensor(0.3)``)
    as the Python number it
    holds, as every function takes it: a NumPy integer seed failed inside torch (``manual_seed``:
    'an integer is required', or an int64 overflow in the epoch's seed), one recorded in a result's
    settings made ``json.dumps(result.to_json())`` fail, and a 0-d tensor was refused as 'a Tensor,
    not a number' (``error_law`` alone took it). A list or tuple of NumPy scalars alike, item by item."""
    import numpy as np
    from torch import Tensor

    if isinstance(value, Tensor) and value.dim() == 0 and not value.is_complex() and not value.is_meta:
        return value.item()
    if type(value) in (list, tuple) and value and all(isinstance(v, np.generic) for v in value):
        # a setting's numbers (milestones=[np.int64(10)], pressures=) were kept as NumPy scalars in the
        # result's config (LompConfig(milestones=[np.int64(10)])); only NumPy's, so no batch is read
        return type(value)(map(plain_number, value))
    number = isinstance(value, np.generic) or isinstance(value, np.ndarray) and value.ndim == 0
    return value.item() if number and value.dtype.kind in "biuf" else value


def plain_fields(config: object) -> None:
    """The fields of the frozen dataclass instance ``config`` as :func:`plain_number` reads them,
    in place: a config built directly (``LompConfig(seed=np.int64(1))``) holds what the functions'
    keyword arguments give it, where it kept the NumPy scalar (its result's JSON failed, its
    ``repr`` read ``np.int64(1)``, and ``prunelimit.api.train``'s shuffle seed overflowed)."""
    for field in fields(config):  # type: ignore[arg-type]
        value = getattr(config, field.name)
        plain = plain_number(value)
        if plain is not value:
            object.__setattr__(config, field.name, plain)


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


def percent_fix(text: object, what: str = "ratios") -> str:
    """For a ratio (or the fraction ``what`` names) typed as a percentage below 100 (``"70%"``), the
    fraction to give instead; else nothing."""
    if not isinstance(text, str) or not text.strip().endswith("%"):
        return ""
    try:
        fraction = float(text.strip()[:-1]) / 100
    except ValueError:
        return ""
    return f" ({what} are fractions, not percentages: {text.strip()} is {fraction:g})" if 0 <= fraction < 1 else ""


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


INT64_MAX = 2**63 - 1  # torch's integers: a count or seed beyond it is refused by name, before torch overflows
# Digits a count typed in exponent notation may expand to: far past INT64_MAX, so its own check
# names it; 1e999999999 would take a billion digits to write out
_MAX_COUNT_DIGITS = 100


# How a number is typed: digits with an optional decimal point and exponent (``200``, ``0.5``,
# ``2e2``), or inf/nan (refused as not finite, by name, once read); no sign of a locale
# (``1,000`` is 1000 or 1.0) nor Python's ``1_000``, which a reader elsewhere would not take
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)", re.I)
# ... and with a unit typed after it (``10s``, ``512MB``, ``1 GiB``)
_WITH_UNIT = re.compile(r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*([a-z]+|%)", re.I)
# Each unit an option takes, with the units one may type for it in its own multiples (MB are
# MiB, 2^20 bytes, as --memory-budget and --basis-memory count them)
_UNIT_SCALES: dict[str, dict[str, float]] = {
    "seconds": {"ms": 1e-3, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60,
                "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600},
    "percentage points": {"%": 1, "pt": 1, "pts": 1, "point": 1, "points": 1},
    "MB": {"b": 2**-20, "kb": 2**-10, "kib": 2**-10, "k": 2**-10, "mb": 1, "mib": 1, "m": 1, "gb": 2**10,
           "gib": 2**10, "g": 2**10, "tb": 2**20, "tib": 2**20, "t": 2**20},
}


def read_number(value: Any, unit: str = "", fraction: str = "") -> float:
    """``value`` (typed, or a --config file's number or text) as the number it is written as,
    in ``unit`` (``seconds``, ``MB``) or a fraction (``fraction``: ``ratios``, ``tolerances``,
    …); else a ``ValueError`` saying what it is and what to write: a unit typed after the
    number (``10s``) names the unit the option takes and the number it means there, a
    percentage the fraction it means, a comma both numbers it may mean."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = value.strip() if isinstance(value, str) else None
    if text is not None and _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    kind = "" if text is not None else f", a {type(value).__name__}"
    raise ValueError(f"got {quoted(value)}{kind}, not a number{number_fix(value, unit, fraction)}")


def number_fix(value: Any, unit: str = "", fraction: str = "") -> str:
    """For text that :func:`read_number` does not read, in parentheses, what it may mean (a
    percentage, a unit, a separator: see there); else nothing."""
    text = value.strip() if isinstance(value, str) else ""
    fix = (percent_fix(value, fraction) if fraction else "") or _unit_fix(text, unit)
    return fix or (_separator_fix(text) if "," in text or "_" in text else "")


def read_count(value: Any, unit: str = "") -> int:
    """``value`` as :func:`read_number` reads it, when that is a whole number (``200``,
    ``200.0``, ``2e2``, a --config file's ``1.0e3``), as an ``int``; else a ``ValueError``
    worded as :func:`integer`'s refusal of a library argument (the integers near it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = read_number(value, unit)
    # exactly, as typed (read_number took its form): 9007199254740993 is no float
    exact = Decimal(value.strip()) if isinstance(value, str) else Decimal(number)
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise ValueError(f"must be an integer, got {quoted(value)}{not_a_number(number, int)}")
    if exact.adjusted() >= _MAX_COUNT_DIGITS:  # 1e999999999: never expanded to its digits
        raise ValueError(f"{quoted(value)} is too large (at most {INT64_MAX})")
    return int(exact)  # beyond INT64_MAX or an option's range: refused by the option's own check, by name


def _unit_fix(text: str, unit: str) -> str:
    """For a number typed with a unit (``10s``, ``1GB``), the unit the option takes and the number to write."""
    typed = _WITH_UNIT.fullmatch(text)
    if typed is None:
        return ""
    scale = _UNIT_SCALES.get(unit, {}).get(typed.group(2).lower())
    if scale is None:
        return f" (a plain number{f' of {unit}' if unit else ''}, without a unit)"
    return f" (it takes {unit}, a plain number: {text} is {float(typed.group(1)) * scale:g})"


def _separator_fix(text: str) -> str:
    """For a number typed with a comma or an underscore, the number(s) it may mean: ``0,5`` a
    decimal comma, ``1,000`` that or a thousands separator, ``1_000`` (Python's) 1000."""
    joined = text.replace("_", "").replace(",", "")
    whole, comma, tail = text.partition(",")
    if comma and "," not in tail and not {".", "_"} & set(text) and _PLAIN_NUMBER.fullmatch(f"{whole}.{tail}"):
        also = f" or {joined}" if len(tail) == 3 and tail.isdigit() else ""  # 1,000: a thousands separator too
        return f" (a comma is no decimal point here, nor a thousands separator: write {whole}.{tail}{also})"
    return f" (write it without separators: {joined})" if _PLAIN_NUMBER.fullmatch(joined) else ""


def as_tuple_fix(name: str, value: object) -> str:
    """What to add to a refusal of an array or tensor ``value`` where a tuple of numbers belongs
    (``milestones=``, ``pressures=``, ``region=``): the call that gives one; nothing for another value."""
    if isinstance(value, (str, bytes)) or not callable(getattr(value, "tolist", None)):
        return ""
    return f"; give tuple({name}.tolist())"


def not_a_number(value: object, kind: type = float) -> str:
    """What to add to a refusal of ``value`` where a number of ``kind`` belongs: nothing for
    a number, else that it is none. Library arguments take numbers only, never their text
    (``"0.5"``, which the command line's flags parse) nor a bool, so ``"0.5"`` is refused
    as a string, not as a value out of range (docs/library.md)."""
    if real(value):  # a count given as a float (max_hvps=1e3): the integer(s) to give
        if kind is not int or not isinstance(value, float) or not abs(value) <= INT64_MAX:
            return ""
        whole = math.floor(value)
        return f"; write {whole}" if whole == value else f"; write {whole} or {math.ceil(value)}"
    try:
        fix = f": write {(read_count if kind is int else read_number)(value)!r}, without quotes" \
            if isinstance(value, str) else ""
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
