"""Every `prunelimit` line of every page (README and all of docs/, in `bash`, `sh`, `console`
and plain blocks, and in inline code) names only options its command has, so a copied line
never stops at "No such option". tests/test_ci_examples.py checks the README's and the
guide's blocks, with the files they read; methods.md, export.md, accuracy.md and the
inline commands of every page were checked by nothing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from test_ci_examples import _check_command, _doc_commands

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(text: str) -> list[list[str]]:
    """The block commands (`sh` read as `bash`) and the inline `prunelimit …` code spans."""
    commands = _doc_commands(text.replace("```sh\n", "```bash\n"))
    for span in re.findall(r"`(prunelimit [^`\n]+)`", text):
        try:
            tokens = shlex.split(span.replace("…", ""))
        except ValueError:  # an unclosed quote: a fragment, not a command
            continue
        commands.append(tokens)
    return [c for c in commands if c[0] == "prunelimit"]


def _unknown_options(tokens: list[str]) -> list[str]:
    """The "no option" problems of one command; a fragment ending at an option that takes a
    value (`prunelimit prune --ratio`) names the option and is fine."""
    try:
        return [p for p in _check_command(tokens, set()) if "no option" in p]
    except IndexError:
        return []


def test_every_documented_command_names_only_options_it_has():
    unknown = [(page.name, problem) for page in PAGES
               for tokens in _commands(page.read_text(encoding="utf-8")) for problem in _unknown_options(tokens)]
    assert unknown == []


def test_the_check_reads_every_kind_of_block_and_inline_code():
    text = "```sh\nprunelimit bounds x.pt --tolerence 0.1\n```\nSee `prunelimit verify x.pt --sweeep 3`.\n"
    found = [problem for tokens in _commands(text) for problem in _unknown_options(tokens)]
    assert len(found) == 2 and "--tolerence" in found[0] and "--sweeep" in found[1]
    assert sum(len(_commands(page.read_text(encoding="utf-8"))) for page in PAGES) >= 100
