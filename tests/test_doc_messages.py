"""The usage errors the guide quotes are what the command line prints, word for word: a
mistyped option or command names the nearest ones, and `prunelimit` alone lists the
commands and exits 2."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text(encoding="utf-8")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt"


def _quoted(start: str) -> str:
    """The guide's backticked message that starts with ``start``, unwrapped."""
    match = re.search(rf"`({re.escape(start)}[^`]*)`", " ".join(GUIDE.split()))
    assert match is not None, start
    return match[1]


def test_the_quoted_typo_messages_are_printed(cli):
    option = cli("bounds", EXAMPLE, "--tolerence", "0.02")
    command = cli("bound", EXAMPLE)
    assert (option.exit_code, command.exit_code) == (2, 2)
    assert _quoted("No such option: --tolerence") in option.stderr
    assert _quoted("No such command 'bound'") in command.stderr


def test_no_command_lists_the_commands_and_exits_2(cli):
    result = cli()
    assert "prunelimit` alone prints the list of commands and exits 2" in " ".join(GUIDE.split())
    assert result.exit_code == 2
    assert all(name in result.stdout + result.stderr for name in ("bounds", "verify", "gate", "law"))


def test_prunes_summary_names_every_scope_it_prunes_with():
    """`prunelimit --help` said prune does "global magnitude pruning" only, while `--scope`
    also prunes per layer and 2:4: its summary names each."""
    import typer

    from prunelimit.cli import app
    from prunelimit.pruning.magnitude import PRUNE_SCOPES

    summary = typer.main.get_command(app).commands["prune"].help.splitlines()[0]
    words = {"global": "global", "layer": "per layer", "2:4": "2:4"}
    assert [scope for scope in PRUNE_SCOPES if words[scope] not in summary] == []


def test_the_quoted_rounding_remedy_past_the_exact_limit_is_printed():
    """The guide's rounding remedy for a model past --method exact's D (the CIFAR ResNet-18 of
    the first GPU run) is what the rounding note ends with there, word for word."""
    from prunelimit.errors import options_named
    from prunelimit.remedies import float64_products

    with options_named(lambda name: "--" + name.replace("_", "-")):
        fix = float64_products(11_164_362, None)
    assert _quoted("it needs float64 products") == f"it needs {fix}"
