"""Every `prunelimit` line of every page (README and all of docs/, in `bash`, `sh`, `console`
and plain blocks, `torchrun … -m prunelimit` lines, and inline code) names only options its
command has and data its `--data` reads, so a copied line never stops at "No such option"
or "unknown data source". tests/test_ci_examples.py checks the README's and the guide's
blocks, with the files they read; methods.md, export.md, accuracy.md, scaling.md (whose
torchrun line read `--data imagenet:ROOT`, a source that does not exist) and the inline
commands of every page were checked by nothing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from test_ci_examples import _check_command, _doc_commands

from prunelimit.data.spec import PATH_SOURCES, _check_keys
from prunelimit.specs import parse_spec

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
    launched = [c[c.index("prunelimit"):] for c in commands if c[0] == "torchrun" and "prunelimit" in c]
    return [c for c in commands if c[0] == "prunelimit"] + launched


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


def _data_problems(tokens: list[str]) -> list[str]:
    """What is wrong with the `--data`/`--eval-data` specs of one command (placeholders such as
    `...` or `DATA` aside): an unknown source, or a key the source does not read."""
    problems = []
    for flag, value in zip(tokens, tokens[1:]):
        if flag in ("--data", "--eval-data") and "..." not in value and "…" not in value and not value.isupper():
            spec = parse_spec(value, "data")
            if spec.head not in ("digits", "synthetic", *PATH_SOURCES):
                problems.append(f"{' '.join(tokens)}: unknown data source {spec.head}")
            else:
                try:
                    _check_keys(spec)
                except Exception as error:  # the parser's own refusal, as the command would print it
                    problems.append(f"{' '.join(tokens)}: {error}")
    return problems


def test_every_documented_data_spec_names_a_source_and_its_keys():
    problems = [(page.name, problem) for page in PAGES
                for tokens in _commands(page.read_text(encoding="utf-8")) for problem in _data_problems(tokens)]
    assert problems == []
    assert _data_problems(["prunelimit", "bounds", "m.pt", "--data", "imagenet:ROOT"])
    assert _data_problems(["prunelimit", "bounds", "m.pt", "--data", "digits:imgae=1"])
