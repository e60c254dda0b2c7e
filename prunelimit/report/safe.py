"""Strings from files, made safe to show on a terminal or to put into XML.

A checkpoint's recorded spec or ``meta``, a state dict's keys, a CSV header, a YAML rule
name, a baseline report or just a file name may hold terminal control sequences (ANSI
CSI/OSC, C1 controls such as U+009B, BEL, bidirectional overrides) that would repaint or
hide what prunelimit prints, or rich markup (``[bold]``) that rich would interpret.
``printable`` writes every such character as a visible escape (``\\x1b``); ``for_console``
also escapes rich markup; ``console_safe`` applies it to every string inside a report
before a renderer formats it, so the renderers' own styling stays the only styling.
"""

from __future__ import annotations

import copy
import dataclasses
import unicodedata
from pathlib import PurePath
from typing import Any

from rich.markup import escape

# control (C0, DEL, C1), format (bidi overrides, zero-width), surrogate (undecodable
# bytes of a file name), unassigned (U+FFFE/U+FFFF, invalid in XML) and line/paragraph
# separators: none of them is needed to read a message, each can mislead a terminal.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})


def printable(text: str) -> str:
    """``text`` with every control-like character written as a Python-style escape."""
    if text.isprintable():  # fast path; isprintable() is False for every unsafe category
        return text
    return "".join(_escaped(ch) if unicodedata.category(ch) in _UNSAFE else ch for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def clipped(value: Any, limit: int = 40) -> str:
    """A value read from a file as a message shows it: a file may hold a value of any size (a
    100,000-character string, a 400-digit number), the message shows its first ``limit``
    characters."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def listed(items: "list[str]", n: int = 3, sep: str = ", ") -> str:
    """The first ``n`` of ``items`` as a message names them, each ``clipped`` to 120 characters,
    then how many more: a file or a model may hold thousands (masks, patterns, keys), and a
    file's key may be a megabyte long; a one-line message shows a few, short."""
    more = f" (+{len(items) - n:,} more)" if len(items) > n else ""
    return sep.join(clipped(item, 120) for item in items[:n]) + more


def for_console(text: str) -> str:
    """``printable`` plus escaped rich markup: the string prints as it is, unstyled."""
    return escape(printable(text))


def console_safe(obj: Any, _memo: dict[int, Any] | None = None) -> Any:
    """A copy of a report with ``for_console`` applied to every string (and path) inside.

    Dataclasses, dicts, lists and tuples are copied; anything else (numbers, tensors,
    models) is shared, so the copy is cheap and the original report stays as it was
    (``--json`` and the HTML report use the original).
    """
    memo = {} if _memo is None else _memo
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, str):
        return for_console(obj)
    if isinstance(obj, PurePath):
        return for_console(str(obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        clone = memo[id(obj)] = copy.copy(obj)
        for f in dataclasses.fields(obj):
            object.__setattr__(clone, f.name, console_safe(getattr(obj, f.name), memo))  # frozen ones too
        return clone
    if isinstance(obj, dict):
        return {console_safe(k, memo): console_safe(v, memo) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [console_safe(v, memo) for v in obj]
        if hasattr(obj, "_fields"):  # a named tuple
            return type(obj)(*items)
        return type(obj)(items)
    return obj
