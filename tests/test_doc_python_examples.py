"""The Python examples of the README and of every page under docs/ run as written, in a
fresh folder holding what the page's shell lines before them write. docs/library.md's
are run by tests/test_library.py and theory.md's `>>>` examples by tests/test_doc_theory.py;
this covers the rest (export.md's used a `model` it never made: NameError)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "library.md")]
# what a shell line does only to time or report, which the Python after it does not read
UNREAD = {"--bench": 0, "--batch-size": 1, "--plot": 1}


def _examples() -> list[tuple[Path, int, str, list[list[str]]]]:
    """``(page, index, code, prunelimit commands of the page's bash blocks before it)`` for
    each Python block that is a script (not a `>>>` session)."""
    found = []
    for page in PAGES:
        commands: list[list[str]] = []
        for kind, block in re.findall(r"```(\w*)\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
            if kind == "bash":
                commands += [shlex.split(line, comments=True)[1:] for line in block.replace("\\\n", " ").splitlines()
                             if line.startswith("prunelimit ")]
            elif kind == "python" and ">>>" not in block:
                found.append((page, sum(f[0] == page for f in found), block, list(commands)))
    return found


def _without_unread(args: list[str]) -> list[str]:
    kept, skip = [], 0
    for arg in args:
        if skip:
            skip -= 1
        elif arg in UNREAD:
            skip = UNREAD[arg]
        else:
            kept.append(arg)
    return kept


EXAMPLES = _examples()


@pytest.mark.parametrize("page, index, code, commands", EXAMPLES,
                         ids=[f"{p.name}-{i}" for p, i, _, _ in EXAMPLES])
def test_the_python_examples_run_as_written(page, index, code, commands, cli, monkeypatch, tmp_path, capsys):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(tmp_path / "cache"))
    needed, run = set(re.findall(r"""["']([\w./-]+\.(?:pt|safetensors))["']""", code)), []
    for args in reversed(commands):  # the lines that write a file the example reads, and their inputs' lines
        if needed & set(args):
            run.insert(0, args)
            needed |= set(args)
    for args in run:
        result = cli(*_without_unread(args))
        assert result.exit_code == 0, (args, result.stderr)
    exec(compile(code, f"{page.name} python block {index}", "exec"), {})


def test_every_page_with_a_script_is_covered():
    assert {p.name for p, *_ in EXAMPLES} >= {"README.md", "export.md"}
