"""Every numeric option of every command reads its value with the one shared reader
(``validate.read_number`` / ``read_count``), typed or from ``--config``. Before, each took
pydantic's reading: ``--max-hvps 1e3`` and ``--runs 2.5`` said only "Input should be a valid
integer", ``--time-budget 10s`` "Input should be a valid number", ``--memory-budget 1GB`` "use
auto or a positive number of MB", ``--hessian-samples 1e2`` was refused while ``200.0`` was read."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"
# the options that take "auto" (or "all") or a number: text, read by the same reader
WORDS_OR_NUMBER = {"memory_budget", "basis_memory", "epsilon", "hessian_samples"}


def _options() -> list[tuple[str, object]]:
    """(command and flag, click parameter) of every option that takes a number, in every command."""
    from prunelimit.cli import app

    found = []

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())
        for param in getattr(command, "commands", None) is None and command.params or ():
            annotation = getattr(param.type_descriptor, "annotation", None)
            if annotation in (int, float) or param.name in WORDS_OR_NUMBER:
                found.append((f"{path} {param.opts[0]}", param))

    walk(typer.main.get_command(app), "")
    return found


OPTIONS = _options()


def test_the_options_are_found():
    assert len(OPTIONS) > 100 and any(name == "bounds --time-budget" for name, _ in OPTIONS)


@pytest.mark.parametrize("name, param", OPTIONS, ids=[name for name, _ in OPTIONS])
def test_every_numeric_option_reads_numbers_as_written_and_names_a_unit(name, param):
    parse = param.type_descriptor.parameter_info.parser
    assert parse is not None, f"{name} reads its value with pydantic's parser, not the shared one"
    annotation = param.type_descriptor.annotation
    whole = annotation is int or param.name == "hessian_samples"
    assert str(parse("2e1" if whole else "5e-1")) == ("20" if whole else "0.5")
    assert str(parse("20.0" if whole else ".5")) == ("20" if whole else "0.5")
    with pytest.raises(typer.BadParameter, match=r"^got '20s', not a number \((a plain number|it takes)"):
        parse("20s")
    if whole:
        with pytest.raises(typer.BadParameter, match=r"^must be an integer, got '2\.5'; write 2 or 3$"):
            parse("2.5")


@pytest.mark.parametrize("given", [("--max-hvps", "2e7"), ("--config", "max_hvps: 2e7"),
                                   ("--config", "max_hvps: 2.0e7"), ("--config", "max_hvps: '20000000.0'")])
def test_a_count_reaches_its_range_check_however_it_is_written(cli, tmp_path, given):
    """2e7 typed, and YAML's number 2e7 or 2.0e7 or text '20000000.0': one count, refused by its
    range (10,000,000 Hessian-vector products at most), before any work."""
    flag, value = given
    if flag == "--config":
        (tmp_path / "c.yaml").write_text(value + "\n", encoding="utf-8")
        value = tmp_path / "c.yaml"
    result = cli("bounds", EXAMPLE, flag, value, "--threads", "1", "--no-cache")
    assert result.exit_code == 2, result.stderr
    assert "must be at most 10,000,000 (Hessian-vector products), got 20,000,000" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_library_gives_a_count_the_fix_the_command_line_does(cli):
    """``bounds(..., max_hvps=2.5)`` and ``--max-hvps 2.5`` say alike what to write; a float
    that is whole (``max_hvps=1e3``) is told the integer (library arguments take numbers as
    typed values: docs/library.md)."""
    from prunelimit.api import CurvatureOptions
    from prunelimit.errors import OptionError

    with pytest.raises(OptionError, match=r"^max_hvps must be an integer, got 2\.5; write 2 or 3$"):
        CurvatureOptions(max_hvps=2.5)
    with pytest.raises(OptionError, match=r"^max_hvps must be an integer, got 1000\.0; write 1000$"):
        CurvatureOptions(max_hvps=1e3)
    with pytest.raises(OptionError, match=r"^max_hvps must be an integer, got '1e3', a str, not a number: write "
                                          r"1000, without quotes$"):
        CurvatureOptions(max_hvps="1e3")
    result = cli("bounds", EXAMPLE, "--max-hvps", "2.5")
    assert result.exit_code == 2
    assert "--max-hvps': must be an integer, got '2.5'; write 2 or 3" in result.stderr
