"""YAML configuration: any option of a command can live in ``--config FILE.yaml``.

The file is flat (``iterations: 64``) or sectioned by command (``bounds: {iterations: 64}``,
``gate: {...}``); flags on the command line override it. Unknown keys and wrong types
are usage errors (exit 2) that name the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from prunelimit.errors import UsageError
from prunelimit.limits import MAX_CONFIG_BYTES, check_file_size, load_yaml, require_file

COMMANDS = ("info", "spectrum", "bounds", "prune", "train", "verify", "gate", "law", "hyperflux", "imp",
            "nplh", "nplh_fit", "error_fit")


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse a YAML config file into a dict (empty file → empty dict)."""
    path = Path(path)
    require_file(path, "config file", UsageError)  # configuration, not model input: exit 2
    check_file_size(path, MAX_CONFIG_BYTES, "config file", UsageError)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), f"config file {path}")
    except UsageError:  # too deep or too many aliases: load_yaml's own message
        raise
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: bad UTF-8, an integer of > 4300 digits
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        tag = re.search(r"constructor for the tag '([^']*)'", str(getattr(exc, "problem", "")))
        if tag:  # e.g. !!python/object/apply, which would build objects (run code): never constructed
            name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            raise UsageError(f"config file {path}{where}: the tag {name} is not a plain value (a Python tag would "
                             "run code, and is never read); write plain numbers, strings and lists") from None
        raise UsageError(f"config file {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must be a mapping of option: value")
    return data


def options_for(config: dict[str, Any], command: str, known: Iterable[str], source: str = "config") -> dict[str, Any]:
    """The options of ``command``: top-level keys plus its own section, validated.

    Keys may use ``-`` or ``_``. Sections of other commands are ignored; anything else
    that is not an option of ``command`` is an error naming the key.
    """
    known = set(known)
    command = command.replace("-", "_")
    merged: dict[str, Any] = {}
    for key, value in config.items():
        name = str(key).replace("-", "_")
        if name in COMMANDS:
            if name == command:
                if not isinstance(value, dict):
                    raise UsageError(f"{source}: section {key!r} must be a mapping")
                merged.update({str(k).replace("-", "_"): v for k, v in value.items()})
            continue
        merged[name] = value
    unknown = sorted(set(merged) - known)
    if unknown:
        raise UsageError(
            f"{source}: unknown option {unknown[0]!r} for `prunelimit {command}`; "
            f"known: {', '.join(sorted(known))}"
        )
    return merged
