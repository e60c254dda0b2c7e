"""Parsing of ``NAME[:ARG]...[:k=v,...]`` spec strings shared by models, data and losses."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from prunelimit.errors import InputError, UsageError
from prunelimit.limits import load_yaml

USER_MODULE_PREFIX = "_prunelimit_user_"  # modules imported from a user's file.py


# seeds feed torch.Generator (< 2**64) with small offsets added; numpy takes no negative one
SEED_LIMIT = 2**63


def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed every generator accepts: an integer in ``[0, SEED_LIMIT)``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise UsageError(f"{what} must be an integer in [0, 2**63), got {seed!r}")
    return seed


@dataclass(frozen=True)
class Spec:
    """A parsed spec: ``head`` plus positional ``args`` and ``k=v`` keyword ``kwargs``."""

    text: str
    head: str
    args: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def parse_value(text: str) -> Any:
    """``3`` → 3, ``0.5`` → 0.5, ``true`` → True, anything else stays a string."""
    try:
        value = load_yaml(text, "spec value")  # a spec may come from a stranger's file: bounded
    except (yaml.YAMLError, ValueError):  # a UsageError (too deep) is a ValueError too; so is an int of > 4300 digits
        return text
    return value if isinstance(value, (int, float, bool)) else text


def parse_spec(text: str, what: str) -> Spec:
    """Split a spec on ``:``; parts made only of ``k=v`` items become keyword arguments."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"empty {what} spec; see `prunelimit --help` for the accepted forms")
    parts = text.strip().split(":")
    head, args, kwargs = parts[0], [], {}
    for part in parts[1:]:
        items = part.split(",")
        if part and all("=" in item for item in items):
            for item in items:
                key, _, value = item.partition("=")
                if not key.strip():
                    raise UsageError(f"bad {what} spec {text!r}: empty key in {item!r}")
                kwargs[key.strip()] = parse_value(value.strip())
        else:
            args.append(part)
    if not head:
        raise UsageError(f"bad {what} spec {text!r}: it must start with a name")
    return Spec(text=text, head=head, args=tuple(args), kwargs=kwargs)


def resolve_callable(target: str, attr: str, what: str) -> Callable[..., Any]:
    """Import ``attr`` from ``path/to/file.py`` or ``package.module``."""
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise InputError(f"{what} file {target} not found")
        # the same name in every process (``hash`` of a str is salted per process): the result
        # cache's key and the reports name user code by it
        name = f"{USER_MODULE_PREFIX}{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            # Compiled from the file's bytes, never from a cached .pyc: that cache is keyed by the
            # file's mtime and size, so an edit keeping both would run the old code (while the
            # result cache, keyed by the bytes, stored its numbers as the new code's).
            exec(spec.loader.source_to_code(path.read_bytes(), str(path)), module.__dict__)
        except Exception as exc:  # the user's file: any error is a load error
            raise InputError(f"could not import {what} file {target}: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise InputError(f"could not import {what} module {target!r}: {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InputError(f"{target} has no callable {attr!r} for the {what}")
    return fn
