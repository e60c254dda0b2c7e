"""Determinism (issue 8): the same seed and inputs give byte-identical ``--json`` on CPU.

Only wall-clock timings and memory peaks may differ, so lines holding a ``"seconds"`` or
``"peak_…"`` key are dropped and
the rest of stdout is compared byte for byte. Runs use the bundled example with
``--max-samples 300`` and a short SLQ (``--method paper``) to stay fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"
# --no-cache: the second run must compute again, not read the first one's spectrum
FAST = ["--max-samples", "300", "--method", "paper", "--iterations", "12", "--runs", "2", "--device", "cpu",
        "--no-cache"]


def _without_timings(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if '"seconds"' not in line and '"peak_' not in line)


def _twice(cli, *args) -> tuple[str, str]:
    outputs = []
    for _ in range(2):
        result = cli(*args, "--json")
        assert result.exit_code == 0, result.stderr
        outputs.append(_without_timings(result.stdout))
    return outputs[0], outputs[1]


@pytest.mark.parametrize(
    "args",
    [
        ["bounds", EXAMPLE, *FAST],
        ["spectrum", EXAMPLE, *FAST],
        ["verify", EXAMPLE, *FAST, "--sweep", "5"],
        ["law", "nplh", EXAMPLE, "--max-samples", "300", "--metric", "taylor", "--device", "cpu"],
    ],
    ids=["bounds", "spectrum", "verify", "law-nplh"],
)
def test_json_is_byte_identical(cli, args):
    first, second = _twice(cli, *args)
    assert first == second
    assert '"schema": "prunelimit.' in first


def test_prune_json_and_weights_are_identical(cli, tmp_path):
    docs, states = [], []
    for i in range(2):
        out = tmp_path / f"p{i}.pt"
        result = cli("prune", EXAMPLE, *FAST, "--ratio", "auto", "-o", out, "--json")
        assert result.exit_code == 0, result.stderr
        docs.append(_without_timings(result.stdout).replace(str(out), "OUT"))
        states.append(torch.load(out, weights_only=True))
    assert docs[0] == docs[1]
    a, b = states
    assert a["state_dict"].keys() == b["state_dict"].keys() and a["masks"].keys() == b["masks"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert all(torch.equal(a["masks"][k], b["masks"][k]) for k in a["masks"])


def test_fresh_processes_agree(tmp_path):
    """Across interpreters too (hash seeds, lazy imports): two real runs, same bytes."""
    runs = [
        subprocess.run([sys.executable, "-m", "prunelimit", "bounds", str(EXAMPLE), *FAST, "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert _without_timings(runs[0].stdout) == _without_timings(runs[1].stdout)


def test_seed_changes_the_probes(cli):
    """The comparison above is not vacuous: another seed gives other SLQ numbers."""
    a = cli("spectrum", EXAMPLE, *FAST, "--json", "--seed", "0").stdout
    b = cli("spectrum", EXAMPLE, *FAST, "--json", "--seed", "1").stdout
    assert _without_timings(a) != _without_timings(b)


def test_existing_output_needs_force(cli, tmp_path):
    out = tmp_path / "p.pt"
    out.write_bytes(b"precious")
    result = cli("prune", EXAMPLE, "--ratio", "0.5", "--max-samples", "300", "-o", out)
    assert result.exit_code == 2 and "--force" in result.stderr and out.read_bytes() == b"precious"
    result = cli("prune", EXAMPLE, "--ratio", "0.5", "--max-samples", "300", "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    assert torch.load(out, weights_only=True)["format"] == "prunelimit/1"
    assert [p.name for p in tmp_path.iterdir()] == ["p.pt"]  # no temporary file left beside it
