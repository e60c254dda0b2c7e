"""YAML configuration: any option of a command can live in ``--config FILE.yaml``.

The file is flat (``iterations: 64``) or sectioned by command (``bounds: {iterations: 64}``,
``gate: {...}``), the command's section winning over the top level; flags on the command
line override it. Unknown keys, wrong types and a key given twice are usage errors (exit 2)
that name the key. A relative path in the file is read from the
file's own folder (``relative_to_file``), so that a CI job finds the same files from any
folder; command-line paths are read from the current folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Collection, Iterable, Mapping

import yaml

from prunelimit.errors import OptionError, UsageError, unknown_name
from prunelimit.limits import MAX_CONFIG_BYTES, check_file_size, load_yaml, require_file
from prunelimit.specs import with_file_part

COMMANDS = ("info", "spectrum", "bounds", "prune", "train", "verify", "gate", "law", "hyperflux", "imp",
            "nplh", "nplh_fit", "error_fit")


_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


class ConfigLoader(yaml.SafeLoader):
    """``SafeLoader`` reading plain numbers as YAML 1.2 (and their reader) does, where YAML 1.1
    read them otherwise in silence: ``1e-3`` is a number (1.1 wants a dot and read the text
    '1e-3', which a gate rule refused), ``010`` is ten (1.1: octal 8) and ``1:30`` is text
    (1.1: base 60, 90). Underscores (``10_000``), ``0x``/``0b`` and 1.1's booleans stay."""


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
# an integer before a float: both patterns match "10"
ConfigLoader.add_implicit_resolver(_INT, re.compile(r"^(?:[-+]?[0-9][0-9_]*|[-+]?0o[0-7_]+|[-+]?0x[0-9a-fA-F_]+"
                                                    r"|[-+]?0b[01_]+)$"), list("-+0123456789"))
ConfigLoader.add_implicit_resolver(_FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)"
                                                      r"(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                                                      r"|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def _construct_int(loader: ConfigLoader, node: yaml.ScalarNode) -> int:
    """An integer in base 10 unless ``0o``/``0x``/``0b`` says otherwise: a leading zero is no octal."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    digits = text.lstrip("+-")
    base = {"0o": 8, "0x": 16, "0b": 2}.get(digits[:2].lower(), 10)
    return (-1 if text.startswith("-") else 1) * int(digits if base == 10 else digits[2:], base)


ConfigLoader.add_constructor(_INT, _construct_int)


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse a YAML config file into a dict (empty file → empty dict)."""
    path = Path(path)
    require_file(path, "config file", UsageError)  # configuration, not model input: exit 2
    check_file_size(path, MAX_CONFIG_BYTES, "config file", UsageError)
    try:
        raw = path.read_bytes()
    except OSError as exc:  # no read permission: read while click parses, outside the CLI's error handling
        raise UsageError(f"config file {path} cannot be read ({exc.strerror or exc}); check its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # UTF-16 (Windows editors' "Unicode"), Latin-1, or no text at all
        raise UsageError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    try:
        data = load_yaml(text, f"config file {path}", ConfigLoader)
    except UsageError:  # too deep or too many aliases: load_yaml's own message
        raise
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer of > 4300 digits
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


def options_for(config: dict[str, Any], command: str, known: Iterable[str], source: str = "config",
                elsewhere: Mapping[str, Collection[str]] = MappingProxyType({})) -> dict[str, Any]:
    """The options of ``command``: top-level keys plus its own section, validated.

    Keys may use ``-`` or ``_``. Sections of other commands are ignored; anything else
    that is not an option of ``command`` is an error naming the key, and the sections it
    belongs in when ``elsewhere`` (other commands' sections → their options) holds it.
    """
    known = set(known)
    command = command.replace("-", "_")
    top: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for key, value in config.items():
        name = str(key).replace("-", "_")
        if name in COMMANDS:
            if name == command and value is not None:  # ``bounds:`` with every key commented out: an empty section
                if not isinstance(value, dict):
                    raise UsageError(f"{source}: section {key!r} must be a mapping")
                own = _spelled_once(value, source)
            continue
        top[name] = value
    _spelled_once(config, source)
    merged = {**top, **own}  # the command's own section wins over the top level, wherever it stands
    unknown = sorted(set(merged) - known)
    if unknown:
        owners = [section for section, keys in elsewhere.items() if unknown[0] in keys and section != command]
        if owners:  # a shared file's key at the top level: a section holds it, not a typo
            raise UsageError(f"{source}: {unknown[0]!r} is an option of {' and '.join(owners)}, not of {command}; "
                             f"move it into a {' or '.join(f'{o}:' for o in owners)} section, which "
                             f"{'that command' if len(owners) == 1 else 'those commands'} alone "
                             f"read{'s' if len(owners) == 1 else ''}")
        raise _unknown_key(unknown[0], merged[unknown[0]], command, known, source)
    return merged


def keys_served_alone(config: dict[str, Any], command: str, elsewhere: Mapping[str, Collection[str]]) -> set[str]:
    """The option names of ``config`` that serve ``command`` alone: those of its own section,
    and those of the top level when it holds a key no other command takes (``elsewhere``:
    other commands' sections → their options), since any other command refuses such a file.
    Another top-level key may serve every command that reads the file."""
    command = command.replace("-", "_")
    own: set[str] = set()
    top: set[str] = set()
    for key, value in config.items():
        name = str(key).replace("-", "_")
        if name == command and isinstance(value, dict):
            own = {str(k).replace("-", "_") for k in value}
        elif name not in COMMANDS:
            top.add(name)
    others = {key for section, keys in elsewhere.items() if section != command for key in keys}
    return own | top if top - others else own


def _spelled_once(mapping: dict, source: str) -> dict[str, Any]:
    """``mapping`` by option name (``-`` read as ``_``); a ``UsageError`` for an option spelled
    both ways (``min-ratio`` and ``min_ratio``), of which the later won in silence."""
    named: dict[str, Any] = {}
    spelled: dict[str, Any] = {}
    for key, value in mapping.items():
        name = str(key).replace("-", "_")
        if name in named:
            raise UsageError(f"{source}: {name} is given twice (as {spelled[name]!r} and {key!r}); write it once")
        named[name], spelled[name] = value, key
    return named


def _unknown_key(name: str, value: Any, command: str, known: set[str], source: str) -> UsageError:
    """The error for key ``name`` of the file, neither an option of ``command`` nor a section:
    a mapping is a mistyped section (``bound:``), named as one with the nearest section,
    where the nearest option misled (``bound_mode``); else a mistyped option, with the nearest."""
    if isinstance(value, dict):
        sections = ", ".join(sorted(COMMANDS))
        nearest = unknown_name(name, COMMANDS, "")
        return UsageError(f"{source}: unknown section {name!r}; {nearest}" if nearest else
                          f"{source}: {name!r} holds a mapping but is no section; sections are {sections}")
    return UsageError(f"{source}: unknown option {name!r} for `prunelimit {command}`; "
                      + unknown_name(name, known, f"known: {', '.join(sorted(known))}"))


def refuse_booleans(options: Mapping[str, Any], takes: Mapping[str, str], source: str = "config") -> None:
    """A YAML boolean (true/false, yes/no, on/off) for an option that ``takes`` a number or
    text is a usage error naming the key: the command line's parsers would read it as 1 or 0
    (``min_ratio: true`` demanding ρ ≥ 1) or as the text "True". ``takes`` maps each option
    that is no switch to what it takes; a repeatable option's list is checked item by item."""
    for key, value in options.items():
        items = value if isinstance(value, list) else [value]
        if key in takes and any(isinstance(item, bool) for item in items):
            raise UsageError(f"{source}: {key} must be {takes[key]}, not a YAML boolean "
                             "(true/false, yes/no and on/off are booleans in YAML)")


# options that hold a spec with a file in it: ``--model file.py:factory``, ``--loss file.py:fn``,
# ``--data tensors:PATH`` (``--eval-data`` alike)
SPEC_KEYS = ("model", "loss", "data", "eval_data")


def relative_to_file(options: Mapping[str, Any], config_file: str | Path, path_keys: Iterable[str]) -> dict[str, Any]:
    """``options`` (from ``options_for``) with every relative path read from ``config_file``'s
    folder: the values of ``path_keys``, the file in a ``SPEC_KEYS`` spec, and each gate
    rule's ``baseline``. Absolute paths, and values of another type (refused later, naming
    the key), stay as they are."""
    base = Path(config_file).parent
    path_keys = set(path_keys)
    resolved = dict(options)
    for key, value in options.items():
        if key in path_keys:
            resolved[key] = _each(value, lambda text: _from(base, text))
        elif key in SPEC_KEYS:
            resolved[key] = _each(value, lambda text, key=key: _spec_from(base, text, key))
        elif key == "rules" and isinstance(value, list):
            resolved[key] = [{**rule, "baseline": _from(base, rule["baseline"])}
                             if isinstance(rule, dict) and isinstance(rule.get("baseline"), str) else rule
                             for rule in value]
    return resolved


def _each(value: Any, resolve) -> Any:
    """``resolve`` applied to a string, or to each string of a list (a repeatable option)."""
    if isinstance(value, str):
        return resolve(value)
    return [resolve(v) if isinstance(v, str) else v for v in value] if isinstance(value, list) else value


def _from(base: Path, text: str) -> str:
    """``text`` read from ``base`` when relative; an empty one stays empty (refused as such),
    and ``-`` stays ``-``: the standard stream it means on the command line, refused as there,
    not a file of that name beside the config. A leading ``~`` or ``~user`` is that home folder,
    as a shell reads it (``cache-dir: ~/.cache/ci`` made a folder ``~`` beside the file); one
    naming no user (a file ``~draft.pt``) is a name like any other."""
    text = os.path.expanduser(text)
    return str(base / text) if text not in ("", "-") and not Path(text).is_absolute() else text


def _spec_from(base: Path, text: str, key: str) -> str:
    """A spec with its file part read from ``base``: the ``file.py`` of a model or loss, the
    first argument of a data source that reads a file or folder."""
    return with_file_part(text, key, lambda part: _from(base, part))


def number_list(text: str, name: str, kind: type = float, what: str = "numbers", example: str = "0.25,1,4") -> tuple:
    """Option ``name``'s numbers as a user types them: ``0.25,1,4``, or a bracketed list
    ``[0.25, 1, 4]`` as YAML and JSON write it (a ``--config`` list arrives as that text), each
    read as a single number option reads it (``kind`` ``int``: a count, ``1e1`` or ``10.0`` is
    10); an ``OptionError`` naming a number that is not whole, else showing both forms of the flag."""
    from prunelimit.validate import number_fix, read_count, read_number

    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    read = read_count if kind is int else read_number
    parts = body.split(",") if body.strip() else []
    for part in parts:
        try:
            read(part)
        except ValueError as exc:
            if "not a number" not in str(exc) or number_fix(part):  # 2.5, 1e999, 1_000: what to write instead
                raise OptionError(name, f"{{0}} {text!r}: {exc}") from None
            listed = ", ".join(example.split(","))
            raise OptionError(name, f"{{0}} {text!r}: give {what} separated by commas, e.g. {{1}} {example} "
                                    f"(or as a list: {{1}} \"[{listed}]\")", name) from None
    return tuple(read(part) for part in parts)
