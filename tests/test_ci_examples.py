"""The CI examples under examples/ci/ run exactly as written (same command lines)."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "examples" / "ci"


def _prunelimit_lines(text: str) -> list[list[str]]:
    return [shlex.split(line.strip())[1:] for line in text.splitlines() if line.strip().startswith("prunelimit ")]


def _run(cli, args: list[str], monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(tmp_path / "cache"))
    return cli(*[str(tmp_path / a) if a.endswith(".xml") else a for a in args])


def test_github_workflow_gate_step_passes(cli, monkeypatch, tmp_path):
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    runs = [step["run"] for step in workflow["jobs"]["gate"]["steps"] if "run" in step]
    commands = [c for run in runs for c in _prunelimit_lines(run)]
    assert commands and commands[0][0] == "gate"
    for args in commands:
        result = _run(cli, args, monkeypatch, tmp_path)
        assert result.exit_code == 0, result.stdout + result.stderr
        assert result.stdout.count("PASS") == 2
    assert (tmp_path / "prunelimit-gate.xml").exists()


def test_pre_commit_hook_entry_passes(cli, monkeypatch, tmp_path):
    config = yaml.safe_load((CI / "pre-commit-config.yaml").read_text())
    entry = config["repos"][0]["hooks"][0]["entry"]
    result = _run(cli, shlex.split(entry)[1:], monkeypatch, tmp_path)
    assert result.exit_code == 0, result.stdout + result.stderr


def test_the_stored_baseline_records_what_a_gate_compares():
    """Written by this version's ``bounds --json``: its loss and version are compared too
    (an older report would be compared as is, with a warning)."""
    import json

    import prunelimit

    report = json.loads((CI / "baseline.json").read_text())
    assert report["data"]["loss"] == "ce" and len(report["data"]["fingerprint"]) == 64
    assert report["prunelimit"] == prunelimit.__version__


# The newcomer's path: README and the guide show commands to copy. Running them all takes
# minutes, so this checks what makes a copied line fail at once: an option the command does
# not have, a file that neither the repository holds nor an earlier line of the same
# document writes (the README's `gate model.pt` read a file no step made: exit 3), or an
# output an earlier line wrote, which is refused without --force.
DOCS = (ROOT / "README.md", ROOT / "docs" / "guide.md")
READS = ("--from", "--baseline", "--config")  # options whose value is a file the command reads
WRITES = ("-o", "--output", "--plot", "--junit", "--report", "--log")


def _doc_commands(text: str) -> list[list[str]]:
    """Every shell command of a document's bash blocks and the `$ ` lines of its console and
    plain blocks (the rest is output; text blocks are templates), in order, as tokens with
    the shell's `>`, `;`, `&&` and `|` kept as tokens and comments dropped."""
    import re

    commands = []
    for kind, block in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if kind not in ("bash", "console", "") or kind != "bash" and not line.startswith("$ "):
                continue
            line = line.strip().removeprefix("$ ")
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|>")
            lexer.whitespace_split = True
            tokens, current = list(lexer), []
            for token in tokens:
                if token in (";", "&&", "|"):
                    commands.append(current)
                    current = []
                else:
                    current.append(token)
            commands.append(current)
    return [c for c in commands if c]


def _files_written_outside_the_cli(text: str) -> set[str]:
    """Files a document has the reader write by hand (`Write this to X`) or with Python."""
    import re

    return set(re.findall(r"Write this to `([^`]+)`", text)) | set(re.findall(r"torch\.save\([^\n]*'([^']+)'\)", text))


def _command(tokens: list[str]):
    import typer

    from prunelimit.cli import app

    command, rest = typer.main.get_command(app), tokens[1:]
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    return command, rest


def _check_command(tokens: list[str], written: set[str]) -> list[str]:
    """What is wrong with one `prunelimit ...` line; the files it writes go into ``written``."""
    command, rest = _command(tokens)
    if hasattr(command, "commands"):  # `prunelimit --version`, `--help`, `bo<TAB>`
        return []
    options = {opt: p for p in command.params if p.param_type_name == "option" for opt in (*p.opts, *p.secondary_opts)}
    problems, reads, positional = [], [], []
    i = 0
    while i < len(rest):
        token = rest[i]
        if token == ">":
            written.add(rest[i + 1])
            i += 2
            continue
        if token.startswith("-") and token != "-":
            name, _, value = token.partition("=")
            param = options.get(name)
            if param is None and name != "--help":
                problems.append(f"{' '.join(tokens)}: no option {name}")
            if param is not None and not param.is_flag and not value:
                value, i = rest[i + 1], i + 1
            if name in READS:
                reads.append(value)
            if name in WRITES:
                # refused (exit 2), but gate --junit rewrites its file: a CI job reruns it
                if value in written and "--force" not in rest and name != "--junit":
                    problems.append(f"{' '.join(tokens)}: {value} was written above; add --force")
                written.add(value)
        else:
            positional.append(token)
        i += 1
    arguments = [p.name for p in command.params if p.param_type_name == "argument"]
    if positional and arguments[0] in ("checkpoint", "points"):  # imp's `source` may be a model spec
        reads.append(positional[0])
    for path in reads:
        known = (ROOT / path).exists() or any(path == w or path.startswith(w.rstrip("/") + "/") for w in written)
        if not known:
            problems.append(f"{' '.join(tokens)}: reads {path}, which no earlier line writes")
    return problems


def test_every_documented_command_has_its_options_and_its_input_files():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        written = _files_written_outside_the_cli(text)
        problems = [problem for tokens in _doc_commands(text) if tokens[0] == "prunelimit"
                    for problem in _check_command(tokens, written)]
        assert not problems, (doc.name, problems)


def test_the_guide_writes_no_file_the_readme_wrote():
    """A newcomer does the README's tour, then the guide's, in one folder: the guide wrote
    `pruned.pt`, `verify.png`, `lomp.pt`, `points.csv`, `imp-out` and `hf.pt` again, and each
    such line was refused ("already exists; pass --force")."""
    readme, guide = (doc.read_text(encoding="utf-8") for doc in DOCS)
    written = _files_written_outside_the_cli(readme)
    for tokens in _doc_commands(readme):
        if tokens[0] == "prunelimit":
            _check_command(tokens, written)
    problems = [problem for tokens in _doc_commands(guide) if tokens[0] == "prunelimit"
                for problem in _check_command(tokens, written) if "was written above" in problem]
    assert not problems, problems


def test_the_doc_check_sees_a_missing_file_and_an_unknown_option():
    written: set[str] = set()
    assert _check_command(["prunelimit", "prune", "examples/digits-mlp.pt", "-o", "p.pt"], written) == []
    assert _check_command(["prunelimit", "law", "nplh", "p.pt", "--metric", "taylor"], written) == []
    assert _check_command(["prunelimit", "gate", "model.pt", "--use", "actual"], written)
    assert _check_command(["prunelimit", "bounds", "p.pt", "--no-such-flag"], written)
    assert _check_command(["prunelimit", "verify", "p.pt", "--from", "b.json"], written)
    assert _check_command(["prunelimit", "prune", "p.pt", "-o", "p.pt"], written)
    assert _check_command(["prunelimit", "prune", "p.pt", "-o", "p.pt", "--force"], written) == []


def _console_outputs(text: str) -> list[tuple[list[str], list[str]]]:
    """``(command tokens, printed lines)`` of each console block of one `$ prunelimit` line."""
    import re

    shown = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        lines = block.splitlines()
        commands = [line for line in lines if line.startswith("$ ")]
        if len(commands) == 1 and lines[0].startswith("$ prunelimit ") and len(lines) > 1:
            shown.append((shlex.split(lines[0][2:], comments=True), lines[1:]))
    return shown


def test_quick_documented_outputs_are_what_the_commands_print(cli, monkeypatch, tmp_path):
    """The guide's outputs of the commands that take a second (`info` on the bundled
    example, `--version`, `--help`'s command list) are printed line for line as shown, in a
    terminal as wide as the block; `…` stands for lines the guide leaves out."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(tmp_path / "cache"))
    checked = 0
    for tokens, lines in _console_outputs((ROOT / "docs" / "guide.md").read_text(encoding="utf-8")):
        quick = tokens[1] in ("--version", "--help") or tokens[1] == "info" and (ROOT / tokens[2]).exists()
        if not quick:
            continue
        monkeypatch.setenv("COLUMNS", str(max(len(line) for line in lines)))
        printed = [line.rstrip() for line in cli(*tokens[1:]).stdout.splitlines()]
        at = 0
        for line in (line.rstrip() for line in lines if line != "…"):
            assert line in printed[at:], (tokens, line, printed)
            at = printed.index(line, at) + 1
        checked += 1
    assert checked >= 3


def test_every_help_example_names_options_its_command_has():
    """The example each `--help` ends with runs as typed: no option it names is missing."""
    import typer

    from prunelimit.cli import app

    def epilogs(group):
        for command in group.commands.values():
            yield from epilogs(command) if hasattr(command, "commands") else [command.epilog or ""]

    examples = [e.removeprefix("Example: ") for e in epilogs(typer.main.get_command(app))]
    assert len(examples) >= 13  # every command and law subcommand
    for example in examples:
        for line in example.split("&&"):
            tokens = shlex.split(line.split("  (")[0])
            unknown = [p for p in _check_command(tokens, {"pruned.pt", "points.csv", "imp-out"}) if "no option" in p]
            assert not unknown, unknown


# What varies from run to run in a shown output: wall times, the host's peak memory, and
# whether the spectrum was computed or read from the cache (the order the documents run
# their commands in is not the order a test can afford to): a cached run's HVPs read as
# none, a computed run's count stays (``_shown_pattern`` compares it where both computed).
_VARIES = ((r"[\d,]+ HVPs in [\d.]+ s \(spectrum from the cache[^)]*\)", "cached HVPs"),
           (r"([\d,]+) HVPs in [\d.]+ s", r"\1 HVPs"),
           (r"peak host [\d,.]+ MB", "peak host MB"), (r"\d[\d,.]* s\b", "# s"),
           # a table's rules are as wide as its widest cell: a longer peak memory (an xdist worker's
           # RSS after many tests passes 1,000 MB) or timing widens them
           (r"([━─])\1*", r"\1"))
# Commands whose shown output takes more than seconds to reproduce (training sweeps), and
# `--per-layer`, which shows none and forms its blocks from 2,410 columns.
_SLOW = ("imp", "hyperflux", "error-fit", "--per-layer")


def _flat(text: str) -> str:
    """One line, spaces collapsed: a block wrapped at another width reads the same."""
    import re

    for pattern, fixed in _VARIES:
        text = re.sub(pattern, fixed, text)
    return " ".join(text.split())


def _shown_pattern(shown: list[str]) -> str:
    """The regular expression a run's flattened output must match for the ``shown`` lines:
    `…` stands for anything, and a count of HVPs stands for itself or a cached run (and one
    the document shows from the cache for any count), so it is checked where both computed
    the spectrum: "135 HVPs" stayed in methods.md and the guide after `--method paper` came to
    spend 137."""
    import re

    def counted(piece: str) -> str:
        parts = re.split(r"((?<![\d,])[\d,]+ HVPs|cached HVPs)", piece.strip())
        return "".join(re.escape(part) if i % 2 == 0 else r"(?:[\d,]+|cached) HVPs" if part == "cached HVPs"
                       else rf"(?:{re.escape(part.removesuffix(' HVPs'))}|cached) HVPs" for i, part in enumerate(parts))

    return ".*".join(counted(piece) for piece in _flat("\n".join(shown)).split("…"))


def _shown_runs(text: str) -> list[tuple[list[str], list[str]]]:
    """``(command tokens, shown lines)`` of every `$ prunelimit` line of a document's console
    and plain blocks, in order, with the shell's `;` and `>` as tokens; the lines are empty
    where the block shows no output."""
    runs, blocks, fence = [], [], None
    for line in text.splitlines():  # fences in order: a closing ``` opens nothing
        if line.startswith("```") and fence is None:
            fence = line[3:]
            blocks.append((fence, []))
        elif line.startswith("```"):
            fence = None
        elif fence is not None:
            blocks[-1][1].append(line)
    for lines in (lines for kind, lines in blocks if kind in ("", "console")):
        commands = [i for i, line in enumerate(lines) if line.startswith("$ prunelimit ")]
        for i in commands:
            lexer = shlex.shlex(lines[i][2:], posix=True, punctuation_chars=";&|>")
            lexer.whitespace_split = True
            runs.append((list(lexer), lines[i + 1:] if len(commands) == 1 else []))
    return runs


def _python_saves(text: str) -> list[str]:
    """The code of a document's `$ python -c "…torch.save(…)"` lines (a model saved by hand)."""
    return [shlex.split(line[2:])[2] for line in text.splitlines()
            if line.startswith("$ python -c") and "torch.save(" in line]


def test_outputs_shown_for_the_example_are_what_the_commands_print(cli, monkeypatch, tmp_path):
    """A reader who copies the commands of the README, the guide and docs/methods.md sees the
    output they show, line for line (`…` stands for what a block leaves out): the numbers,
    the wording of each line, its warnings (stdout, then stderr). The README's `verify`
    lacked the seconds its search line prints, the guide's `spectrum --method paper` its
    tolerance warning and its `prune` the warning it carries over from the prediction."""
    import re

    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    checked = 0
    for doc in (*DOCS, ROOT / "docs" / "methods.md"):
        text = doc.read_text(encoding="utf-8")
        for name in _files_written_outside_the_cli(text) & {"prunelimit.yaml"}:
            (tmp_path / name).write_text(re.search(rf"`{name}`:\n\n```yaml\n(.*?)```", text, flags=re.S)[1])
        for code in _python_saves(text):
            exec(code, {})
        for tokens, shown in _shown_runs(text):
            args = tokens[1:tokens.index(";")] if ";" in tokens else tokens[1:]
            command, _ = _command(["prunelimit", *args])
            if hasattr(command, "commands") or any(a in _SLOW for a in args):
                continue  # `--version`, `--help`: the quick test above
            args, target = (args[:args.index(">")], args[args.index(">") + 1]) if ">" in args else (args, None)
            # wider than the block: a longer timing or peak memory must not wrap a table cell
            monkeypatch.setenv("COLUMNS", str(max((len(line) for line in shown), default=100) + 40))
            force = any(a in WRITES for a in args) and any("--force" in p.opts for p in command.params)
            result = cli(*args, *(["--force"] if force else []))  # methods.md writes the guide's bounds.png again
            assert result.exit_code in (0, 1), (tokens, result.stderr)
            if target:
                (tmp_path / target).write_text(result.stdout)
            if not shown:
                continue
            printed = _flat(result.stdout + "\n" + result.stderr
                            + (f"\nexit code: {result.exit_code}" if "exit code: $?" in tokens else ""))
            assert re.fullmatch(_shown_pattern(shown), printed), (doc.name, tokens, printed)
            checked += 1
    assert checked >= 12



def test_the_slq_lines_shown_without_a_command_are_what_method_slq_prints(cli, monkeypatch):
    """README and the guide show `--method slq`'s ± and solver lines on the example in a plain
    block of their own, with no `$ prunelimit` line, which the test above does not run, and
    say how many products it took (482 in both after it came to spend 484)."""
    import re

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "200")
    printed = _flat(cli("bounds", "examples/digits-mlp.pt", "--method", "slq").stdout)
    hvps = re.search(r"([\d,]+) HVPs", printed)[1]
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        shown = re.findall(r"```\n(ρ\* = [^\n]+\nsolver: adaptive SLQ[^\n]+\n)```", text)
        assert len(shown) == 1 and _flat(shown[0]) in printed, doc.name
        assert re.findall(r"`--method slq` on the (?:same\s+model \(|example: )([\d,]+) HVPs", text) == [hvps], doc.name

def test_every_exit_code_list_names_the_codes_the_commands_exit_with():
    """README, the guide and docs/bad-input.md each list the exit codes; bad-input.md's table
    left out 143 (SIGTERM) and 129 (SIGHUP), which the commands exit with
    (tests/test_outputs.py, tests/test_no_stale_outputs.py)."""
    import re
    import signal

    from prunelimit import errors

    def paragraph(path: Path, start: str) -> str:
        text = path.read_text(encoding="utf-8")
        return text[text.index(start):text.index("\n\n", text.index(start))]

    classes = [errors.PrunelimitError]
    for cls in classes:
        classes += cls.__subclasses__()
    internal = 5  # an unexpected exception: cli.common's last resort
    signals = {128 + s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE)}
    exited = {0, internal, *(cls.exit_code for cls in classes), *signals}
    number = r"(?<![\d.\w-])(\d{1,3}) (?=[a-z(])"  # "0 success", "130 interrupted (Ctrl-C)"
    listed = {
        "README.md": re.findall(number, paragraph(ROOT / "README.md", "Exit codes:")),
        "guide.md": re.findall(number, paragraph(ROOT / "docs" / "guide.md", "Exit codes for every command:")),
        "bad-input.md": re.findall(r"^\| (\d+) \|", paragraph(ROOT / "docs" / "bad-input.md", "| code | meaning |"),
                                   flags=re.M),
    }
    assert {doc: set(map(int, codes)) for doc, codes in listed.items()} == dict.fromkeys(listed, exited)


def test_every_option_of_every_command_is_documented():
    """Each option a `--help` lists is named in the README or under docs/ (`--momentum`,
    `--weight-lr`, `--gate-lr`, `--epochs-per-level` and `--extrapolate` were in `--help`
    alone)."""
    import re

    import typer

    from prunelimit.cli import app

    def commands(group):
        for command in group.commands.values():
            yield from commands(command) if hasattr(command, "commands") else [command]

    docs = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "README.md", *(ROOT / "docs").glob("*.md")))
    options = {opt for command in commands(typer.main.get_command(app)) for p in command.params
               if p.param_type_name == "option" for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}
    assert sorted(o for o in options - {"--help"} if not re.search(rf"{o}(?![\w-])", docs)) == []


def test_the_options_every_command_takes_are_on_every_command():
    """README: "Every command takes `--json`, `--config`, `--device`, …". The CSV fits
    (`law nplh-fit`, `law error-fit`) run no model and take no `--device`: the sentence
    names them, and every other command has each option it lists."""
    import re

    import typer

    from prunelimit.cli import app

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("Every command takes")
    sentence = text[start:re.compile(r"shows an\s+example in `--help`").search(text, start).start()]
    named = set(re.findall(r"`(--[a-z-]+)", sentence))
    excused = set(re.findall(r"`law ([a-z-]+)`", sentence))
    lacking = {}
    for name, command in typer.main.get_command(app).commands.items():
        for sub, leaf in getattr(command, "commands", {name: command}).items():
            options = {opt for p in leaf.params for opt in p.opts}
            if named - options:
                lacking[sub] = named - options
    assert named >= {"--json", "--config", "--device", "--seed", "--debug"}
    assert lacking == dict.fromkeys(excused, {"--device"})


def test_the_error_fit_help_example_reads_what_the_imp_help_example_writes():
    """`law error-fit --help`'s example reads the imp-out/imp.csv that `imp --help`'s writes;
    run in that order they must work: `--levels 8` reached density 0.8⁸ = 0.17, so
    `--predict 0.05` was refused (exit 2: outside the measured range)."""
    import typer

    from prunelimit.cli import app

    group = typer.main.get_command(app)
    imp, fit = group.commands["imp"], group.commands["law"].commands["error-fit"]

    def value(command, option: str) -> float:
        tokens = shlex.split(command.epilog.removeprefix("Example: "))
        if option in tokens:
            return float(tokens[tokens.index(option) + 1])
        return next(p.default for p in command.params if option in p.opts)

    assert "imp-out/imp.csv" in fit.epilog and "-o imp-out" in imp.epilog
    reached = (1 - value(imp, "--rate")) ** value(imp, "--levels")
    assert reached <= value(fit, "--predict") <= 1


def test_the_guides_json_reading_line_prints_what_it_shows_on_any_machine(tmp_path, monkeypatch):
    """The guide's `python -c "…json.load(open('bounds.json'))…"` printed every digit of ρ* and
    the bounds, whose last ones follow the machine's float round-off (0.9524148669669085 in the
    guide, …081 on another run): it now prints what the console prints, the same on any
    machine. Checked on the values it shows, moved by round-off in either direction."""
    import json
    import math
    import re
    import subprocess
    import sys

    text = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ (python -c .*json\.load\(open\('bounds\.json'\)\).*)\n(.*)\n```", text)
    assert block is not None
    command, shown = block[1], block[2]
    values = {"ratio": 0.9183412233529203, "lower": 0.8589709701047918, "upper": 0.9524148669669083,
              "epsilon": 0.017292483844500853}  # the example's, as `bounds --json` writes them
    monkeypatch.chdir(tmp_path)
    for ulps in (-3, 0, 3):
        moved = {k: v + ulps * math.ulp(v) for k, v in values.items()}
        (tmp_path / "bounds.json").write_text(json.dumps(
            {"prediction": {"ratio": moved["ratio"]}, "epsilon": moved["epsilon"],
             "bounds": {"lower": moved["lower"], "upper": moved["upper"]}}))
        code = shlex.split(command)[2]
        printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert printed.strip() == shown, (ulps, printed)


def test_the_guides_stderr_example_is_what_method_slq_states_under_its_product_budget(cli, monkeypatch):
    """The guide sets `prediction.stderr` against the `±` with numbers of `--method slq
    --max-hvps N` on the example: they read 0.020 and 0.21 long after the run came to state
    0.00073 and 0.084. Compared within 2 %: the guide's two significant digits (the stderr,
    0.000725, lies at a rounding edge) and float round-off across machines."""
    import json
    import math
    import re

    text = " ".join((ROOT / "docs" / "guide.md").read_text(encoding="utf-8").split())
    shown = re.search(r"probes and data combined: ([\d.]+) where the `±` is ([\d.]+) under `--max-hvps (\d+)`", text)
    assert shown is not None
    monkeypatch.chdir(ROOT)
    result = cli("bounds", "examples/digits-mlp.pt", "--method", "slq", "--max-hvps", shown[3], "--json")
    prediction = json.loads(result.stdout)["prediction"]
    stated = (prediction["stderr"], prediction["uncertainty"]["plus_minus"])
    assert all(math.isclose(value, float(quoted), rel_tol=0.02) for value, quoted in zip(stated, shown.groups()[:2])), stated


def test_the_workflow_saves_what_each_run_computed():
    """The workflow's cache key was the checkpoint's hash alone: ``actions/cache`` saves nothing
    under a key that hit, so what a new prunelimit, torch or option computed (the entries
    inside are keyed by all of it) was never saved and every run computed it again. The key
    is now new each commit, restoring the latest entries by its prefix."""
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    cache = next(step["with"] for step in workflow["jobs"]["gate"]["steps"]
                 if step.get("uses", "").startswith("actions/cache"))
    assert "${{ github.sha }}" in cache["key"]
    assert cache["key"].startswith(cache["restore-keys"])


def test_the_pre_commit_hook_runs_when_the_verdicts_inputs_change():
    """The hook ran on a changed checkpoint only: an edited policy or baseline, which can flip
    the verdict, was committed ungated."""
    import re

    hook = yaml.safe_load((CI / "pre-commit-config.yaml").read_text())["repos"][0]["hooks"][0]
    for path in ("examples/digits-mlp.pt", "examples/ci/gate.yaml", "examples/ci/baseline.json"):
        assert re.search(hook["files"], path), path
    assert not re.search(hook["files"], "examples/export_digits.py")
