"""The console outputs README.md, docs/guide.md and docs/methods.md quote for the bundled
example are what the commands print today, word for word: each console block (README's are
plain ``` blocks) whose `$ prunelimit …` line analyses examples/digits-mlp.pt (info, bounds,
spectrum, verify, gate: seconds each once its spectra are stored) and reads only files the
repository holds is run, its `--plot`/`--junit` files written to a scratch folder, and
compared with the block, wrapping and table rules aside, and apart from what the machine
decides (seconds, peak memory, whether the spectrum came from the cache); so are the
`--method slq` lines README and the guide quote. Such quotes went stale as the code changed
and nothing ran them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "guide.md", ROOT / "docs" / "methods.md"]
OUTPUTS = ("--plot", "--junit")
ANALYSES = ("info", "bounds", "spectrum", "verify", "gate")
EXIT_ECHO = '; echo "exit code: $?"'
RULES = str.maketrans("", "", "┏┓┗┛┡┩└┘━─┃│╇╋┳┻┼┬┴")
MACHINE = [  # what timing, memory and the cache decide, not the code
    (r"[\d,]+ HVPs in [\d.]+ s( \(spectrum from the cache; --no-cache recomputes it\))?", "_ HVPs"),
    (r"≈ [\d.]+ s\)", "≈ _ s)"),
    (r"peak host [\d,.]+ MB", "peak host _"),
    (r" in [\d.]+ s\b", " in _ s"),
]


def _blocks() -> list[tuple[str, str, str]]:
    """``(page, command line, quoted output)`` of each runnable, non-empty console block."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for command, output in re.findall(r"```(?:console)?\n\$ (prunelimit [^\n]+)\n(.*?)```", text, flags=re.S):
            args = shlex.split(command.removesuffix(EXIT_ECHO))[1:]
            reads = [a for i, a in enumerate(args) if re.search(r"\.(pt|ya?ml|json)$", a)
                     and not (i and args[i - 1] in OUTPUTS)]
            # an empty block shows a command alone; "…" marks an output cut short
            if args[:2] in ([c, "examples/digits-mlp.pt"] for c in ANALYSES) and "--json" not in args \
                    and all((ROOT / a).is_file() for a in reads) and output.strip() and "…" not in output:
                found.append((page.name, command, output))
    return found


def _normal(text: str) -> str:
    text = " ".join(text.translate(RULES).split())
    for pattern, replacement in MACHINE:
        text = re.sub(pattern, replacement, text)
    return text


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One result cache for the module, holding the spectra the pages' runs before a block
    had stored (the exact one, and `--method paper`'s), as the pages show them read."""
    return tmp_path_factory.mktemp("doc-cache")


@pytest.fixture
def warm(cli, shared_cache, monkeypatch):
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(shared_cache))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(ROOT)
    if not any(shared_cache.iterdir()):
        for args in (["bounds", "examples/digits-mlp.pt"], ["spectrum", "examples/digits-mlp.pt", "--method", "paper"]):
            assert cli(*args).exit_code == 0


def test_the_check_finds_the_pages_blocks():
    commands = [command for _, command, _ in _blocks()]
    assert len(commands) >= 12 and "prunelimit bounds examples/digits-mlp.pt --epsilon 1e-4" in commands
    assert "prunelimit verify examples/digits-mlp.pt --sweep 40 --plot verify.png" in commands  # README's
    assert _normal("│ ρ* │ 91.83 % │\nspectrum: 2,418 HVPs in 22.2 s\n") == _normal("ρ* 91.83 %  spectrum: 0 HVPs in 0.3 s "
                                                                                  "(spectrum from the cache; --no-cache "
                                                                                  "recomputes it)")


@pytest.mark.parametrize(("page", "command", "quoted"), _blocks(), ids=[f"{p}: {c}" for p, c, _ in _blocks()])
def test_a_quoted_output_is_what_the_command_prints(cli, warm, tmp_path, page, command, quoted):
    args = shlex.split(command.removesuffix(EXIT_ECHO))[1:]
    args = [str(tmp_path / a) if i and args[i - 1] in OUTPUTS else a for i, a in enumerate(args)]
    result = cli(*args)
    printed = result.stdout + result.stderr + (f"exit code: {result.exit_code}" if command.endswith(EXIT_ECHO) else "")
    assert _normal(printed) == _normal(quoted)


def test_the_quoted_slq_lines_are_what_method_slq_prints(cli, warm):
    """README and the guide quote `--method slq`'s ± and solver lines without its command."""
    printed = _normal(cli("bounds", "examples/digits-mlp.pt", "--method", "slq").stdout)
    for page in PAGES[:2]:
        quoted = re.findall(r"```\n(ρ\* = [^\n]+\nsolver: adaptive SLQ[^\n]+\n)```", page.read_text(encoding="utf-8"))
        assert len(quoted) == 1 and _normal(quoted[0]) in printed, page.name
