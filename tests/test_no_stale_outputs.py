"""No stale or half-written output on any path a run can end by.

* ``gate --junit FILE`` holds this run's verdict, or this run's error, whatever raised it:
  click while parsing the options, ``--config``, the option checks, the work, a signal; an
  earlier run's PASS never stays in ``FILE`` (once ``FILE`` itself passes the output checks).
* A command that writes several files writes all of them or none: when a later write fails,
  the files written before it keep their old bytes, and no temporary file stays.
"""

from __future__ import annotations

import errno
import json
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from prunelimit.io.atomic import Terminated
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from prunelimit.report.junit import junit_xml
from tests.conftest import SPEC, junit_error_report

PASSED = junit_xml("prunelimit gate", [("lower ratio >= 0.1", True, "an earlier run passed")])


def _gate_error(cli, junit: Path, *args) -> str:
    """Run a gate that ends in an error over an earlier PASS in ``junit``; return its stderr."""
    junit.write_text(PASSED)
    result = cli("gate", *args)
    err = result.stderr
    assert result.exit_code == 2, err
    assert err.startswith("prunelimit: error: ") and "Traceback" not in err and result.stdout == ""
    return err


# --------------------------------------------------------------------------- gate --junit

# Every place a gate's error can arise before its command body runs; {j} is the JUnit file.
PARSE_ERRORS = {
    "not a number": ["--min-ratio", "0.1", "--max-drop", "abc", "--junit", "{j}"],
    "unknown option": ["--min-ratio", "0.1", "--mistyped", "1", "--junit", "{j}"],
    "bad choice": ["--bound-mode", "bogus", "--junit", "{j}", "--min-ratio", "0.1"],
    "not an integer": ["--junit", "{j}", "--threads", "x"],
    "option without its value": ["--junit", "{j}", "--max-drop"],
    "extra argument": ["--junit", "{j}", "surplus"],
    "--junit=FILE": ["--junit={j}", "--max-drop", "abc"],
    "missing --config": ["--config", "{dir}/nope.yaml", "--junit", "{j}"],
    "--config not YAML": ["--config", "{dir}/broken.yaml", "--junit", "{j}"],
    "--config unknown key": ["--config", "{dir}/unknown.yaml", "--junit", "{j}"],
    "seed out of range": ["--min-ratio", "0.1", "--seed", "-1", "--junit", "{j}"],
    "count below one": ["--min-ratio", "0.1", "--iterations", "0", "--junit", "{j}"],
    "--junit named in --config": ["--config", "{dir}/junit.yaml", "--max-drop", "abc"],
}


@pytest.fixture
def configs(tmp_path) -> Path:
    (tmp_path / "broken.yaml").write_text(": : :\n")
    (tmp_path / "unknown.yaml").write_text("gate: {bogus: 1}\n")
    (tmp_path / "junit.yaml").write_text(f"junit: {tmp_path / 'g.xml'}\n")
    return tmp_path


@pytest.mark.parametrize("kind", list(PARSE_ERRORS))
def test_a_gate_that_fails_to_parse_rewrites_its_junit_report(cli, own_ckpt, configs, kind):
    junit = configs / "g.xml"
    args = [a.format(j=junit, dir=configs) for a in PARSE_ERRORS[kind]]
    err = _gate_error(cli, junit, own_ckpt, *args)
    assert junit_error_report(junit, err), junit.read_text()


def test_a_gate_without_its_checkpoint_rewrites_its_junit_report(cli, tmp_path):
    junit = tmp_path / "g.xml"
    err = _gate_error(cli, junit, "--min-ratio", "0.1", "--junit", junit)
    assert "Missing argument" in err and junit_error_report(junit, err)


def test_the_error_report_passes_the_output_checks_first(cli, own_ckpt, tmp_path):
    """A parse error never writes the report over an input, a folder or a device, and a
    word that is another option's value (``--baseline --junit``) names no report."""
    before = own_ckpt.read_bytes()
    cli("gate", own_ckpt, "--junit", own_ckpt, "--max-drop", "abc")
    assert own_ckpt.read_bytes() == before
    data = tmp_path / "g.xml"
    _gate_error(cli, data, own_ckpt, "--data", f"tensors:{data}", "--junit", data, "--max-drop", "abc")
    assert data.read_text() == PASSED
    folder = tmp_path / "folder.xml"
    folder.mkdir()
    cli("gate", own_ckpt, "--junit", folder, "--max-drop", "abc")
    assert folder.is_dir() and list(folder.iterdir()) == []
    junit = tmp_path / "j.xml"
    _gate_error(cli, junit, own_ckpt, "--min-ratio", "0.1", "--baseline", "--junit", junit)
    assert junit.read_text() == PASSED  # click read "--junit" as the baseline's value: no --junit option given


@pytest.mark.parametrize("signal_error, code, said", [
    (KeyboardInterrupt, 130, "interrupted"),
    (Terminated, 143, "terminated (SIGTERM)"),
])
def test_a_gate_stopped_by_a_signal_rewrites_its_junit_report(cli, own_ckpt, tmp_path, monkeypatch,
                                                              signal_error, code, said):
    """A CI timeout (SIGTERM) or Ctrl-C mid-gate: no verdict, so the report says so."""
    from prunelimit import api

    def stopped(*args, **kwargs):
        raise signal_error()

    monkeypatch.setattr(api, "gate", stopped)
    junit = tmp_path / "g.xml"
    junit.write_text(PASSED)
    result = cli("gate", own_ckpt, "--min-ratio", "0.1", "--no-cache", "--max-samples", "64", "--junit", junit)
    assert result.exit_code == code, result.stderr
    root = ET.parse(junit).getroot()
    assert root.get("errors") == "1" and said in root.find(".//error").get("message")


def test_a_failing_gate_reports_each_rule_as_its_own_case(cli, own_ckpt, tmp_path):
    """Exit 1 with one failed and one passed rule: two cases, one failure, no error."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("gate:\n  rules:\n    - {name: easy, min_ratio: 0.0}\n    - {name: impossible, min_ratio: 1.0}\n")
    junit = tmp_path / "g.xml"
    result = cli("gate", own_ckpt, "--config", policy, "--max-samples", "256", "--junit", junit, "--json")
    assert result.exit_code == 1, result.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and suite.get("errors") == "0"
    assert cases["impossible"].find("failure") is not None and cases["easy"].find("failure") is None


# --------------------------------------------------------------------------- all outputs or none


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A checkpoint, a pruned one (for export) and the point files of the two law fits."""
    d = tmp_path_factory.mktemp("made")
    torch.manual_seed(0)
    model = build_model(SPEC)
    save_checkpoint(d / "m.pt", SPEC, model.state_dict(), meta={"data": "digits:train"})
    masks = {name: (p.abs() > p.abs().median()).float()
             for name, p in model.named_parameters() if name.endswith("weight")}
    save_checkpoint(d / "pruned.pt", SPEC, model.state_dict(), masks, meta={"data": "digits:train"})
    (d / "points.csv").write_text("density,gamma\n" + "".join(f"{0.9 ** k!r},{0.01 * 1.3 ** k!r}\n" for k in range(30)))
    (d / "errors.csv").write_text("density,error\n" + "".join(f"{0.8 ** k!r},{0.02 + 0.03 * 0.8 ** (-k / 4)!r}\n"
                                                              for k in range(12)))
    return d


FEW = ["--max-samples", "256", "--no-cache"]
# command → (its arguments given the inputs' folder, the outputs it writes: relative paths)
MULTI = {
    "bounds": (lambda m: ["bounds", m / "m.pt", "--plot", "b.png", "--report", "r", *FEW], ["b.png", "r/report.html"]),
    "verify": (lambda m: ["verify", m / "m.pt", "--plot", "v.png", "--report", "r", *FEW], ["v.png", "r/report.html"]),
    "prune": (lambda m: ["prune", m / "m.pt", "--ratio", "0.5", "-o", "p.pt", "--format", "safetensors",
                         "--report", "r", "--max-samples", "256"], ["p.pt", "p.safetensors", "r/report.html"]),
    "export": (lambda m: ["export", m / "pruned.pt", "-o", "e.safetensors", "--report", "r"],
               ["e.safetensors", "r/report.html"]),
    "law nplh": (lambda m: ["law", "nplh", m / "m.pt", "-o", "n.csv", "--plot", "n.png", "--report", "r",
                            "--max-samples", "256"], ["n.csv", "n.png", "r/report.html"]),
    "law nplh-fit": (lambda m: ["law", "nplh-fit", m / "points.csv", "--plot", "f.png", "--report", "r"],
                     ["f.png", "r/report.html"]),
    "law error-fit": (lambda m: ["law", "error-fit", m / "errors.csv", "--plot", "e.png", "--report", "r"],
                      ["e.png", "r/report.html"]),
    "hyperflux": (lambda m: ["hyperflux", m / "m.pt", "--target-density", "0.5", "-o", "h.pt", "--log", "h.csv",
                             "--report", "r", "--pruning-epochs", "3", "--regrowth-epochs", "1", "--max-samples", "256",
                             "--gate-lr", "0.1"],
                  ["h.pt", "h.csv", "r/report.html"]),
}


def _disk_full_for(monkeypatch, name: str, after: int = 0) -> None:
    """The temporary file of output ``name`` cannot be created (disk full) from its
    ``after``-th save on; every other file is written as usual."""
    real, seen = tempfile.mkstemp, []

    def mkstemp(*args, prefix=None, **kwargs):
        if prefix == f".{name}.":
            seen.append(name)
            if len(seen) > after:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command, failing", [(c, f) for c, (_, outs) in MULTI.items() for f in outs])
def test_a_failing_write_leaves_every_output_as_it_was(cli, made, tmp_path, monkeypatch, command, failing):
    """Each output in turn cannot be written (after the work, past the output checks): the
    run fails with the one-line error and no result on stdout, and every output, the ones
    written before it included, keeps its earlier bytes; no temporary file stays."""
    args, outputs = MULTI[command]
    monkeypatch.chdir(tmp_path)
    for out in outputs:
        Path(out).parent.mkdir(exist_ok=True)
        Path(out).write_bytes(f"earlier {out}".encode())
    before = _files(tmp_path)
    _disk_full_for(monkeypatch, Path(failing).name)
    result = cli(*args(made), "--force", "--json")
    assert result.exit_code == 2, result.stderr
    assert f"cannot write {failing}" in result.stderr and "No space left" in result.stderr
    assert result.stdout == ""
    assert _files(tmp_path) == before


def test_a_failing_imp_report_leaves_no_page_and_the_levels_resumable(cli, made, tmp_path, monkeypatch):
    """`imp --report`: the levels are saved as each finishes (a sweep resumes), the page after
    the last; a page that cannot be written fails the run with its one line, leaves no page
    nor temporary file, and the levels stay for the next run to resume from."""
    monkeypatch.chdir(tmp_path)
    _disk_full_for(monkeypatch, "report.html")
    args = ["imp", made / "m.pt", "-o", "sweep", "--levels", "1", "--epochs", "1", "--max-samples", "256",
            "--report", "r"]
    result = cli(*args, "--json")
    assert result.exit_code == 2 and "cannot write r/report.html" in result.stderr, result.stderr
    assert result.stdout == "" and not Path("r").exists()
    assert sorted(p.name for p in Path("sweep").iterdir()) == ["imp.csv", "level_000.pt", "level_001.pt", "rewind.pt"]
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    result = cli(*args, "--json")  # resumed: no level to redo, the page written
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["resumed_after"] == 1 and Path("r/report.html").is_file()


def test_a_failing_imp_level_leaves_the_folder_as_the_last_level_left_it(cli, made, tmp_path, monkeypatch):
    """Level 1's CSV row cannot be written: its checkpoint does not appear either (a resumed
    run redoes level 1 from a folder that says level 0 is the last one done)."""
    sweep = tmp_path / "sweep"
    _disk_full_for(monkeypatch, "imp.csv", after=1)  # level 0's row is written, level 1's is not
    result = cli("imp", made / "m.pt", "-o", sweep, "--levels", "1", "--epochs", "1", "--max-samples", "256")
    assert result.exit_code == 2, result.stderr
    assert sorted(p.name for p in sweep.iterdir()) == ["imp.csv", "level_000.pt", "rewind.pt"]
    assert len((sweep / "imp.csv").read_text().splitlines()) == 2  # the header and level 0
