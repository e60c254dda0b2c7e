"""Every command-line option has its keyword argument, with the same default, in the library
function of the same command or the config dataclass it takes fields of, except as
docs/library.md's table "Command-line options as keyword arguments" says (another name, a
default written another way, or no library form with the reason). The table is read here:
an option missing from both, a default that differs, a keyword no function takes, or a row
for an option no command has fails."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
import typer

import prunelimit
from prunelimit import api
from prunelimit.cli import app
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.laws.nplh import NplhConfig
from prunelimit.pruning.lomp import TRAIN_DEFAULTS

DOCS = Path(__file__).resolve().parents[1] / "docs" / "library.md"
REQUIRED = "required"
# each command's functions and the config whose fields they take as keyword arguments
LIBRARY = {
    "info": ([prunelimit.info], None),
    "spectrum": ([prunelimit.spectrum], api.CurvatureOptions()),
    "bounds": ([prunelimit.bounds], api.CurvatureOptions()),
    "verify": ([prunelimit.verify], api.CurvatureOptions()),
    "gate": ([prunelimit.gate], api.CurvatureOptions()),
    "prune": ([prunelimit.prune], api.CurvatureOptions()),
    "train": ([prunelimit.train], TRAIN_DEFAULTS),
    "export": ([prunelimit.export], None),
    "imp": ([prunelimit.imp], ImpConfig()),
    "hyperflux": ([prunelimit.hyperflux], HyperfluxConfig()),
    "law nplh": ([prunelimit.nplh], NplhConfig()),
    "law nplh-fit": ([prunelimit.fit_nplh], None),
    "law error-fit": ([prunelimit.fit_error_law, prunelimit.predict_error, prunelimit.density_for_error], None),
}


def _commands(group, prefix: str = ""):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield prefix + name, command


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _table() -> dict[tuple[str, str], tuple[str, str]]:
    """(command, option) → (keyword cell, defaults cell) of the docs' table."""
    text = DOCS.read_text(encoding="utf-8").split("## Command-line options as keyword arguments", 1)[1]
    rows = {}
    for line in text.split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("`"):
            continue
        for command in (c.strip() for c in cells[0].split(",")):
            rows[(command, cells[1].strip("`"))] = (cells[2], cells[3])
    return rows


TABLE = _table()


def _shown(param) -> str:
    """The option as the table names it: its long flag, or an argument's name in capitals."""
    if param.param_type_name == "argument":
        return param.name.upper()
    return next(o for o in param.opts if o.startswith("--"))


def _row(command: str, param) -> tuple[str, str] | None:
    shown = _shown(param)
    return TABLE.get((command, shown)) or TABLE.get(("every command", shown))


def _library_default(command: str, keyword: str):
    """The keyword's default in the command's functions (``REQUIRED`` for none), else its
    config's; ``KeyError`` where nothing takes it."""
    functions, config = LIBRARY[command]
    for function in functions:
        parameter = inspect.signature(function).parameters.get(keyword)
        if parameter is not None and parameter.kind is not parameter.VAR_KEYWORD:
            return REQUIRED if parameter.default is parameter.empty else parameter.default
    if config is not None and keyword in {f.name for f in dataclasses.fields(config)}:
        return getattr(config, keyword)
    raise KeyError(keyword)


def test_every_command_has_its_library_function():
    assert sorted(COMMANDS) == sorted(LIBRARY)


@pytest.mark.parametrize("command", LIBRARY)
def test_every_option_has_its_keyword_with_the_same_default(command):
    faults = []
    for param in COMMANDS[command].params:
        row = _row(command, param)
        keyword, defaults = (f"`{param.name}`", "") if row is None else row
        if keyword.startswith("—"):
            continue
        keyword = re.match(r"`(\w+)`", keyword)[1]
        try:
            default = _library_default(command, keyword)
        except KeyError:
            faults.append(f"{_shown(param)}: no library keyword {keyword!r}")
            continue
        if defaults:  # a default written another way: the table states both
            stated = re.match(r"`([^`]*)` = (`([^`]*)`|required)", defaults)
            if stated is None or stated[1] != repr(param.default) or (stated[3] or REQUIRED) != (
                    default if default == REQUIRED else repr(default)):
                faults.append(f"{_shown(param)}: the table says {defaults!r}, the defaults are "
                              f"{param.default!r} = {default!r}")
        elif param.default is not None and param.default != default:
            faults.append(f"{_shown(param)}: {param.default!r} on the command line, {default!r} as {keyword}")
    assert not faults, f"prunelimit {command}: " + "; ".join(faults)


def test_every_row_of_the_table_names_an_option_of_its_command():
    options = {(command, _shown(p)) for command, c in COMMANDS.items() for p in c.params}
    shared = {shown for _, shown in options}
    stale = [key for key in TABLE if (key not in options if key[0] != "every command" else key[1] not in shared)]
    assert not stale
