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
