"""Untrusted files stay data (issue 16): no code runs, no escape reaches the terminal, no exit 5.

* TorchScript is code: an archive whose ``__setstate__`` (run while loading) and
  ``forward`` create files is refused by every command without ``--trust-pickle``, and
  the file really is created with it (so the test is real).
* Strings from files (names, specs, keys, rule names, paths) reach stdout/stderr as
  visible escapes, never as terminal control sequences or rich markup.
* Bad numbers, tensors, baselines, CSV/JSON and paths give exit 2 or 3 with one line,
  never exit 5 or a traceback, and leave no output file behind.

Every case asserts the exit code, a one-line message, no traceback and no marker or
output file. Subprocess runs have no terminal, so rich emits no styling of its own:
any ESC, CSI, BEL or C1 byte in their output came from a file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Tuple

import pytest
import torch
from torch import nn

from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from prunelimit.report.junit import junit_xml
from prunelimit.report.safe import console_safe, for_console, printable
from tests.conftest import SPEC, junit_error_report, signals_as_at_a_terminal

ROOT = Path(__file__).resolve().parents[1]
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\x1b[1A\u202e"  # clear screen, OSC title+BEL, C1 CSI, cursor up, bidi
MARKUP = "[bold red]all gate rules passed[/]"
NAME_MARKUP = "[bold red]gate passed[reverse]"  # a file name cannot hold the "/" of a closing tag
FAST = ("--iterations", "4", "--runs", "1")


def write_torchscript_payload(path: Path, marker: Path) -> None:
    """A real TorchScript archive: loading it creates ``marker``, calling it ``marker.fwd``.

    ``torch.from_file(name, shared=True, size)`` creates (or overwrites) any file the user
    can write; here it only makes the marker files that prove the code ran.
    """

    class Payload(nn.Module):
        def __init__(self, target: str):
            super().__init__()
            self.target = target
            self.hits = 0

        @torch.jit.export
        def __getstate__(self) -> Tuple[str, bool]:
            return (self.target, self.training)

        @torch.jit.export
        def __setstate__(self, state: Tuple[str, bool]) -> None:
            self.target = state[0]
            self.training = state[1]
            self.hits = int(torch.from_file(self.target, True, 8, dtype=torch.uint8).sum())

        def forward(self, x):
            return x + torch.from_file(self.target + ".fwd", True, 1).sum() * 0

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.payload = Payload(str(marker))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(self.payload(x))

    torch.jit.script(Net()).save(str(path))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("untrusted")
    f = SimpleNamespace(dir=d, marker=d / "code-ran")
    f.script = d / "scripted.pt"
    write_torchscript_payload(f.script, f.marker)
    assert not f.marker.exists()  # scripting and saving run nothing
    # The same archive without its code/ folder: still TorchScript (constants.pkl), still refused.
    f.no_code = d / "no-code.pt"
    with zipfile.ZipFile(f.script) as src, zipfile.ZipFile(f.no_code, "w") as dst:
        for item in src.infolist():
            if "/code/" not in item.filename:
                dst.writestr(item, src.read(item.filename))
    torch.manual_seed(0)
    model = build_model(SPEC)
    f.state = model.state_dict()
    f.good = d / "good.pt"
    save_checkpoint(f.good, SPEC, f.state, meta={"data": "digits:train"})
    result = CliRunner().invoke(app, ["bounds", str(f.good), "--json", *FAST])
    assert result.exit_code == 0, result.stderr
    f.report = json.loads(result.stdout)
    return f


def _one_line_error(result, code: int, *fragments: str, lines: int = 1) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout)
    err = result.stderr
    assert err.startswith("prunelimit: error: ") and len(err.strip().splitlines()) <= lines, err
    assert "Traceback" not in err and result.stdout == ""
    for fragment in fragments:
        assert fragment in err, err


# --------------------------------------------------------------------------- 1. TorchScript is code

TS_COMMANDS = {
    "info": ("info", "{ckpt}"),
    "spectrum": ("spectrum", "{ckpt}", "--data", "digits:train", *FAST),
    "bounds": ("bounds", "{ckpt}", "--data", "digits:train", *FAST),
    "verify": ("verify", "{ckpt}", "--data", "digits:train", *FAST),
    "prune": ("prune", "{ckpt}", "--ratio", "0.5", "-o", "{out}/p.pt"),
    "gate": ("gate", "{ckpt}", "--min-ratio", "0.1", "--data", "digits:train", "--no-cache",
             "--junit", "{out}/g.xml", *FAST),
    "law-nplh": ("law", "nplh", "{ckpt}", "--data", "digits:train", "-o", "{out}/n.csv"),
    "hyperflux": ("hyperflux", "{ckpt}", "--data", "digits:train", "--target-density", "0.5", "-o", "{out}/h.pt"),
    "imp": ("imp", "{ckpt}", "--data", "digits:train", "-o", "{out}/imp"),
}


@pytest.mark.parametrize("archive", ["script", "no_code"])
@pytest.mark.parametrize("command", list(TS_COMMANDS))
def test_torchscript_is_refused_without_trust(cli, files, tmp_path, command, archive):
    ckpt = getattr(files, archive)
    args = [a.format(ckpt=ckpt, out=tmp_path) for a in TS_COMMANDS[command]]
    result = cli(*args)
    _one_line_error(result, 3, str(ckpt), "TorchScript", "--trust-pickle")
    assert not files.marker.exists() and not Path(f"{files.marker}.fwd").exists()
    # no output, not even a partial one; a failed gate's JUnit report says it failed
    assert [p for p in tmp_path.iterdir() if not junit_error_report(p, result.stderr)] == []


def test_torchscript_as_a_data_file_is_refused(cli, files):
    result = cli("bounds", files.good, "--data", f"tensors:{files.script}", *FAST)
    _one_line_error(result, 3, str(files.script))
    assert not files.marker.exists()


def test_process_torchscript_runs_only_with_trust(files, tmp_path):
    """In a real process: refused without the flag; with it the archive's code does run."""
    marker = tmp_path / "ran"
    script = tmp_path / "scripted.pt"
    write_torchscript_payload(script, marker)
    proc = _run("info", script)
    assert proc.returncode == 3 and proc.stdout == "" and not marker.exists()
    assert "TorchScript" in proc.stderr and "--trust-pickle" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run("info", script, "--trust-pickle")
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()  # __setstate__ ran while loading: exactly what the flag warns about


def test_factory_recorded_in_a_file_never_imports(cli, tmp_path):
    """`package.module:factory` recorded in a checkpoint is code too (file.py:factory is in test_bad_input)."""
    marker = tmp_path / "imported"
    pkg = tmp_path / "evilpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(f"open({str(marker)!r}, 'w').close()\nimport torch\nmake = lambda: torch.nn.Linear(64, 10)\n")
    ckpt = tmp_path / "f.pt"
    save_checkpoint(ckpt, "evilpkg.mod:make", torch.nn.Linear(64, 10).state_dict())
    sys.path.insert(0, str(tmp_path))
    try:
        _one_line_error(cli("info", ckpt), 3, "evilpkg.mod:make", "--model")
    finally:
        sys.path.remove(str(tmp_path))
    assert not marker.exists()


# --------------------------------------------------------------------------- 2. terminal escapes

# Characters a file may not put on the terminal: every C0 control but the newline, DEL,
# C1 (U+0080–U+009F, e.g. U+009B = CSI), bidi overrides and other format characters.
def _unsafe(text: str) -> list[str]:
    return sorted({repr(ch) for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")})


def _run(*args, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "prunelimit", *map(str, args)], capture_output=True, text=True,
                          errors="surrogateescape", cwd=kw.get("cwd", ROOT), timeout=timeout, env=env)


@pytest.fixture(scope="module")
def hostile(files) -> SimpleNamespace:
    """Files whose strings carry terminal escapes and rich markup in every field that is printed."""
    d = files.dir / "hostile"
    d.mkdir()
    h = SimpleNamespace(dir=d)
    h.named = d / f"weights{ESCAPES}{NAME_MARKUP}.pt"  # the file name itself
    save_checkpoint(h.named, SPEC, files.state, meta={"data": "digits:train"})
    h.spec = d / "spec.pt"
    save_checkpoint(h.spec, SPEC + ESCAPES + MARKUP, files.state)
    h.keys = d / "keys.pt"
    torch.save({f"{ESCAPES}{MARKUP}{k}": v for k, v in files.state.items()}, h.keys)
    h.meta_data = d / "meta-data.pt"
    save_checkpoint(h.meta_data, SPEC, files.state, meta={"data": f"tensors:{d}/none{ESCAPES}{NAME_MARKUP}.npz"})
    h.csv = d / "header.csv"
    h.csv.write_text(f"density{ESCAPES},gamma{MARKUP}\n0.5,1\n")
    h.err_csv = d / "err.csv"
    h.err_csv.write_text(f"density,error\n0.5,high{ESCAPES}\n")
    h.baseline = d / f"base{ESCAPES}.json"
    h.baseline.write_text(json.dumps(files.report))
    h.policy = d / "policy.yaml"
    h.policy.write_text(f"rules:\n  - name: {json.dumps(MARKUP)}\n    min_ratio: 0.01\n")
    return h


HOSTILE_RUNS = {
    "file-name-in-a-table": (0, ("info", "{named}")),
    "recorded-model-spec": (3, ("info", "{spec}")),  # a recorded spec that is not valid is the file's error
    "state-dict-keys": (3, ("info", "{keys}", "--model", SPEC)),
    "recorded-data-spec": (3, ("bounds", "{meta_data}", *FAST)),
    "csv-header": (3, ("law", "nplh-fit", "{csv}")),
    "csv-value": (3, ("law", "error-fit", "{err_csv}")),
    "baseline-name-and-markup-rule": (0, ("gate", "{good}", "--baseline", "{baseline}", "--max-drop", "0.5",
                                          "--config", "{policy}", "--no-cache", "--junit", "{dir}/g.xml", *FAST)),
}


@pytest.mark.parametrize("case", list(HOSTILE_RUNS))
def test_strings_from_files_reach_the_terminal_inert(files, hostile, case):
    """In-process for speed; ``color=True`` stops click from stripping ANSI codes itself, and
    rich, writing to no terminal, adds none: every control character would be the file's."""
    code, args = HOSTILE_RUNS[case]
    paths = {**vars(hostile), "good": files.good}
    proc = CliRunner().invoke(app, [a.format(**paths) for a in args], color=True)
    assert proc.exit_code == code, proc.stderr
    assert _unsafe(proc.stdout) == [] and _unsafe(proc.stderr) == [], (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    shown = proc.stdout + proc.stderr
    assert "\\x1b" in shown or "\\x9b" in shown  # the escapes are shown, not dropped silently
    if code:
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    if case == "baseline-name-and-markup-rule":
        assert MARKUP in proc.stdout  # markup from a file prints as text, rich did not interpret it
        ET.parse(hostile.dir / "g.xml")  # and the JUnit report stays well-formed XML


def test_printable_and_console_safe_units():
    assert printable("ok [b] é ✓") == "ok [b] é ✓"
    assert printable("a\x1bb\x9bc\x07\u202e\n\x00") == "a\\x1bb\\x9bc\\x07\\u202e\\x0a\\x00"
    assert printable("bad byte \udc9b") == "bad byte \\udc9b"
    assert for_console("[bold]x[/]") == "\\[bold]x\\[/]"

    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Inner:
        name: str
        path: Path

    @dataclass
    class Rep:
        items: tuple
        table: dict
        count: int

    rep = Rep((Inner("a\x1b[1m", Path("p\x07")),), {"k": ["[red]x"]}, 3)
    safe = console_safe(rep)
    assert safe.items[0].name == "a\\x1b[1m" and safe.items[0].path == "p\\x07"
    assert safe.table == {"k": ["\\[red]x"]} and safe.count == 3
    assert rep.items[0].name == "a\x1b[1m"  # the original report (for --json) is unchanged


def test_junit_is_well_formed_whatever_the_names():
    text = junit_xml("suite\x00", [("rule \x1b[31m<&>\x00", False, "msg \x07 ]]>"), ("ok", True, "\ud800")])
    root = ET.fromstring(text.encode())
    names = [case.get("name") for case in root.iter("testcase")]
    assert names == ["rule \\x1b[31m<&>\\x00", "ok"]


# --------------------------------------------------------------------------- 3. exit 2/3/4, never 5


@pytest.fixture(scope="module")
def bad(files) -> SimpleNamespace:
    d = files.dir / "bad"
    d.mkdir()
    b = SimpleNamespace(dir=d, good=files.good, long=d / ("x" * 300))
    state = files.state

    def variant(name: str, key: str, value) -> None:
        s = dict(state)
        s[key] = value
        torch.save(s, d / f"{name}.pt")

    with warnings.catch_warnings():  # torch's beta/deprecation notes on making these tensors
        warnings.simplefilter("ignore")
        variant("meta-device", "0.weight", torch.empty(12, 64, device="meta"))
        variant("sparse", "0.weight", state["0.weight"].to_sparse())
        variant("sparse-csr", "0.weight", state["0.weight"].to_sparse_csr())
        variant("complex", "0.weight", state["0.weight"].to(torch.complex64))
        variant("quantized", "0.weight", torch.quantize_per_tensor(state["0.weight"], 0.1, 0, torch.qint8))
    own = {"format": "prunelimit/1", "model": SPEC, "state_dict": state}
    for name, extra in {"meta-list": {"meta": ["x"]}, "meta-str": {"meta": "abc"},
                        "meta-data-list": {"meta": {"data": ["digits"]}}, "spec-list": {"model": [SPEC]},
                        "masks-str": {"masks": "all"}, "state-dict-str": {"state_dict": "w"}}.items():
        torch.save({**own, **extra}, d / f"{name}.pt")
    (d / "huge-field.csv").write_text("density,gamma\n0.5," + "1" * 140_000 + "\n")
    (d / "huge-field-err.csv").write_text("density,error\n0.5," + "1" * 140_000 + "\n")
    (d / "points.csv").write_text("density,error\n1,0.1\n0.5,0.12\n0.25,0.2\n0.125,0.3\n0.0625,0.5\n")
    (d / "afile").write_text("keep me\n")
    (d / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (d / "big-int.json").write_text('{"bounds": {"lower": ' + "1" * 5000 + "}}")
    (d / "big-int.yaml").write_text("iterations: " + "1" * 5000 + "\n")
    report = files.report
    for name, value in {"-Infinity": "-Infinity", "NaN": "NaN", "Infinity": "Infinity", "text": '"0.5"',
                        "true": "true", "five": "5", "null": "null"}.items():
        text = json.dumps(report).replace(json.dumps(report["bounds"]["lower"]), value, 1)
        (d / f"base-{name}.json").write_text(text)
    for name, rule in {"control": '"a\\x1bb"', "newline": '"a\\nb"', "list": "[1, 2]",
                       "long": json.dumps("n" * 300)}.items():
        (d / f"rule-{name}.yaml").write_text(f"rules:\n  - name: {rule}\n    min_ratio: 0.1\n")
    (d / "rule-bool-ratio.yaml").write_text("rules:\n  - min_ratio: true\n")
    (d / "rule-list-baseline.yaml").write_text("rules:\n  - baseline: [a]\n    max_drop: 0.1\n")
    return b


G = "{good}"
BAD_CASES = {
    # weights the analysis cannot use: refused at load, never cast silently
    "meta-device": (3, ("info", "{dir}/meta-device.pt", "--model", SPEC), "meta device"),
    "sparse": (3, ("info", "{dir}/sparse.pt", "--model", SPEC), "sparse_coo"),
    "sparse-csr": (3, ("info", "{dir}/sparse-csr.pt", "--model", SPEC), "sparse_csr"),
    "complex": (3, ("info", "{dir}/complex.pt", "--model", SPEC), "complex64"),
    "quantized": (3, ("info", "{dir}/quantized.pt", "--model", SPEC), "quantized"),
    # prunelimit files whose entries have the wrong type
    "meta-list": (3, ("info", "{dir}/meta-list.pt"), "entry 'meta' is a list"),
    "meta-str": (3, ("info", "{dir}/meta-str.pt"), "entry 'meta' is a str"),
    "meta-data-list": (3, ("bounds", "{dir}/meta-data-list.pt"), "entry 'data' is a list"),
    "spec-list": (3, ("info", "{dir}/spec-list.pt"), "entry 'model' is a list"),
    "masks-str": (3, ("info", "{dir}/masks-str.pt"), "entry 'masks' is a str"),
    "state-dict-str": (3, ("info", "{dir}/state-dict-str.pt"), "entry 'state_dict' is a str"),
    # numbers from flags, config files and spec strings
    # 1e23 is read as the count it writes (validate.read_count), and refused by the seed's own check
    "seed-float": (2, ("info", G, "--seed", "1e23"), "--seed must be an integer in [0, 2**63), got 1000000000"),
    "seed-negative": (2, ("bounds", G, "--seed", "-1"), "--seed must be an integer in [0, 2**63)"),
    "seed-2^63": (2, ("train", "--model", SPEC, "--data", "digits", "-o", "{dir}/t.pt", "--seed", str(2**63)),
                  "--seed"),
    "seed-huge-law": (2, ("law", "error-fit", "{dir}/points.csv", "--seed", str(10**30)), "--seed"),
    "synthetic-seed": (2, ("bounds", G, "--data", f"synthetic:samples=64,features=64,seed={2**70}"), "seed"),
    "epsilon-1e308": (2, ("bounds", G, "--epsilon", "1e308"), "--epsilon must be a positive finite number"),
    "epsilon-inf": (2, ("bounds", G, "--epsilon", "inf"), "epsilon"),
    "epsilon-nan": (2, ("verify", G, "--epsilon", "nan"), "epsilon"),
    "epsilon-negative": (2, ("gate", G, "--min-ratio", "0.1", "--epsilon", "-1e-9"), "epsilon"),
    "lr-inf": (2, ("train", "--model", SPEC, "--data", "digits", "-o", "{dir}/t.pt", "--lr", "inf"), "--lr"),
    "finetune-lr-nan": (2, ("prune", G, "--ratio", "0.5", "-o", "{dir}/p.pt", "--finetune-lr", "nan"),
                        "--finetune-lr"),
    "predict-inf": (2, ("law", "error-fit", "{dir}/points.csv", "--predict", "inf"), "--predict"),
    "iterations-2^70": (2, ("bounds", G, "--iterations", str(2**70)), "--iterations"),
    "config-big-int": (2, ("bounds", G, "--config", "{dir}/big-int.yaml"), "big-int.yaml"),
    "spec-big-int": (2, ("info", G, "--model", "mlp:64,12,10:x=" + "1" * 5000), "bad model spec"),
    # CSV, JSON and file names
    "csv-field-128k": (3, ("law", "nplh-fit", "{dir}/huge-field.csv"), "field larger than field limit"),
    "csv-field-128k-err": (3, ("law", "error-fit", "{dir}/huge-field-err.csv"), "field larger than field limit"),
    "plot-txt": (2, ("law", "error-fit", "{dir}/points.csv", "--plot", "{dir}/fit.txt"), ".png"),
    "plot-pdf": (2, ("bounds", G, "--plot", "{dir}/b.pdf"), ".png"),
    "long-name-input": (3, ("info", "{long}.pt"), "File name too long"),
    "long-name-csv": (3, ("law", "nplh-fit", "{long}.csv"), "File name too long"),
    "long-name-plot": (2, ("bounds", G, "--plot", "{long}.png"), "File name too long"),
    "long-name-output": (2, ("prune", G, "--ratio", "0.5", "-o", "{long}.pt"), "File name too long"),
    "long-name-baseline": (3, ("gate", G, "--baseline", "{long}.json", "--max-drop", "0.1"), "File name too long"),
    "imp-onto-file": (2, ("imp", G, "-o", "{dir}/afile", "--data", "digits"), "is a file"),
    "imp-under-file": (2, ("imp", G, "-o", "{dir}/afile/sub", "--data", "digits"), "afile is a file"),
    "baseline-deep": (3, ("gate", G, "--baseline", "{dir}/deep.json", "--max-drop", "0.1"), "not valid JSON"),
    "baseline-big-int": (3, ("gate", G, "--baseline", "{dir}/big-int.json", "--max-drop", "0.1"), "not valid JSON"),
    # a baseline that would disable (or always fail) the gate is refused, naming the field
    **{f"baseline-{name}": (3, ("gate", G, "--baseline", f"{{dir}}/base-{name}.json", "--max-drop", "0.1"),
                            "bounds.lower")
       for name in ("-Infinity", "NaN", "Infinity", "text", "true", "five", "null")},
    # gate rules: validated up front, so the JUnit report is always valid
    **{f"rule-{name}": (2, ("gate", G, "--config", f"{{dir}}/rule-{name}.yaml"), "gate rule 1")
       for name in ("control", "newline", "list", "long")},
    "rule-bool-ratio": (2, ("gate", G, "--config", "{dir}/rule-bool-ratio.yaml"), "min_ratio"),
    "rule-list-baseline": (2, ("gate", G, "--config", "{dir}/rule-list-baseline.yaml"), "baseline"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_exit_2_or_3_never_5(cli, bad, case):
    code, args, fragment = BAD_CASES[case]
    before = {p.name: p.read_bytes() for p in bad.dir.iterdir() if p.is_file()}
    with warnings.catch_warnings(record=True) as shown:  # a warning would be a second stderr line
        warnings.simplefilter("always")
        result = cli(*[a.format(**vars(bad)) for a in args])
    assert [str(w.message) for w in shown] == []
    _one_line_error(result, code, fragment)
    after = {p.name: p.read_bytes() for p in bad.dir.iterdir() if p.is_file()}
    assert after == before  # no output written, no input changed (imp -o afile kept it)


# --------------------------------------------------------------------------- pipes and signals


@pytest.mark.parametrize("args", [("info", "{good}", "--json"), ("info", "{good}")], ids=["json", "table"])
def test_closed_pipe_exits_quietly(files, args):
    """`prunelimit ... | head`: the reader is gone; exit 141 (128 + SIGPIPE) without a word."""
    read, write = os.pipe()
    os.close(read)
    try:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-m", "prunelimit", *[a.format(good=files.good) for a in args]],
                              stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 141 and proc.stderr == ""


def _torch_loading(pid: int) -> bool:
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see when torch is importing")
@pytest.mark.parametrize(("launch", "delay"), [
    (["-m", "prunelimit"], 0.0), (["-m", "prunelimit"], 0.3), (["-m", "prunelimit"], 0.8),
    (["-c", "from prunelimit.__main__ import run; run()"], 0.0),
], ids=["python-m", "python-m-0.3s", "python-m-0.8s", "console-script"])
def test_sigint_while_importing_torch_exits_130(files, launch, delay):
    """Ctrl-C while torch is still importing (the console script's entry point too): 130, one
    line. ``delay`` after libtorch is mapped reaches torch's own initialisation, where a
    KeyboardInterrupt raised through its C++ code used to abort the process (SIGABRT)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, *launch, "info", str(files.good)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=signals_as_at_a_terminal)
    deadline = time.monotonic() + 60
    while not _torch_loading(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().startswith("prunelimit: interrupted") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and out == ""


def test_no_code_loader_without_the_flag():
    """Every loader that can run code sits behind --trust-pickle: a grep of the package."""
    package = ROOT / "prunelimit"
    sources = {p: p.read_text() for p in package.rglob("*.py")}
    jit = [p.name for p, s in sources.items() if "jit.load" in s or "torch.package" in s]
    assert jit == ["checkpoint.py"]
    unsafe_load = [p.name for p, s in sources.items() if re.search(r"weights_only\s*=\s*False", s)]
    assert unsafe_load == ["checkpoint.py"]
    bare = [p.name for p, s in sources.items()
            for call in re.findall(r"torch\.load\(([^)]*)\)", s) if "weights_only" not in call]
    assert "weights_only=weights_only" in sources[package / "io" / "checkpoint.py"]
    assert bare == []
    assert [p.name for p, s in sources.items() if "allow_pickle=True" in s or "yaml.load(" in s] == []


# --------------------------------------------------------------------------- --config grants no trust

@pytest.mark.parametrize("spelling", ["trust_pickle: true", "trust-pickle: yes", "bounds:\n  trust_pickle: true"])
@pytest.mark.parametrize("command", list(TS_COMMANDS))
def test_config_file_cannot_grant_trust_pickle(cli, files, tmp_path, command, spelling):
    """A --config file (shared, fetched with a repository, written by a CI job) may not switch on
    unpickling code: `trust_pickle` there is refused (exit 2) unless --trust-pickle is typed too.
    Before, every command loaded the archive and its __setstate__ ran (the marker file appeared)."""
    config = tmp_path / "ci.yaml"  # in the command's own section (`law nplh` reads nplh:)
    config.write_text(spelling.replace("bounds:", f"{command.removeprefix('law-')}:") + "\n")
    args = [a.format(ckpt=files.script, out=tmp_path) for a in TS_COMMANDS[command]]
    result = cli(*args, "--config", config)
    _one_line_error(result, 2, str(config), "trust_pickle", "--trust-pickle")
    assert not files.marker.exists() and not Path(f"{files.marker}.fwd").exists()
    assert [p for p in tmp_path.iterdir() if p != config and not junit_error_report(p, result.stderr)] == []


def test_config_trust_pickle_with_the_flag_typed_is_accepted(cli, tmp_path):
    """Typed on the command line as well, the file's `trust_pickle: true` is the user's own choice."""
    marker = tmp_path / "ran"
    script = tmp_path / "scripted.pt"
    write_torchscript_payload(script, marker)
    config = tmp_path / "ci.yaml"
    config.write_text("trust_pickle: true\n")
    result = cli("info", script, "--config", config, "--trust-pickle")
    assert result.exit_code == 0, result.stderr
    assert marker.exists()
    # and a file that grants nothing (`false`) needs no flag
    config.write_text("trust_pickle: false\n")
    _one_line_error(cli("info", script, "--config", config), 3, "TorchScript", "--trust-pickle")
