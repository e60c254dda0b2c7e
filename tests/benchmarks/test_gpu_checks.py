"""benchmarks/gpu_checks.sh and what it runs work the first time, on a machine lent for one call.

A GPU session runs the script once; a crash, a JSON key that moved, or a part that outlasts
the device tool's 600 s call wastes it. Checked here on the CPU: the summaries read the
JSON ``bounds`` writes today (and name a run that wrote none), the ResNet-18 benchmark's
code runs and a time limit still reaches its projection, and the script gives every
command a timeout from one clock that ends inside the call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from prunelimit.cache import float_precision

from tests.conftest import SAVED_DATA, benchmark_module as benchmark, saved_slq_report

ROOT = Path(__file__).resolve().parents[2]
CALL_LIMIT_S = 600  # the device tool's limit on one command
MARGIN_S = 60  # left of it for the machine's start-up of the command and the files' return


def test_report_reads_the_json_bounds_writes(cli, small_ckpt, tmp_path, capsys):
    report = benchmark("gpu_checks_report")
    made = cli("bounds", small_ckpt, "--method", "exact", "--no-cache", *SAVED_DATA, "--json")
    assert made.exit_code == 0, made.stderr
    slq = saved_slq_report(cli, small_ckpt)
    for device in ("cpu", "cuda"):
        (tmp_path / f"bounds-exact-{device}.json").write_text(made.stdout)
        for name in ("paper", "revrev"):
            (tmp_path / f"bounds-{name}-{device}.json").write_text(json.dumps(slq))
    (tmp_path / "answer.json").write_text(json.dumps(slq))
    report.compare(tmp_path, ["cpu", "cuda"])
    report.answer(tmp_path / "answer.json")
    printed = capsys.readouterr().out
    assert printed.count(" HVPs in ") == 6 and printed.count("|continuous rho* cpu - cuda| = 0.00e+00") == 3
    assert f"stopped by {slq['spectrum']['stopped_by']}" in printed and "+-" in printed
    assert "parts of the ±: steps " in printed and "cudnn_tf32 " in printed
    assert "FAILED" not in printed


def test_report_names_a_run_that_wrote_no_json(tmp_path, capsys):
    report = benchmark("gpu_checks_report")
    (tmp_path / "bounds-exact-cuda.json").write_text("")
    (tmp_path / "bounds-exact-cuda.err").write_text("Traceback ...\nRuntimeError: CUDA error: out of memory\n")
    report.compare(tmp_path, ["cuda"])  # the paper and revrev files are missing altogether
    report.answer(tmp_path / "time-to-answer-resnet18.json")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "FAILED: bounds-exact-cuda.json holds no JSON (RuntimeError: CUDA error: out of memory)"
    assert len(printed) == 4 and all(line.startswith("FAILED: ") for line in printed)


class TinyNet(nn.Module):
    """A convolution, BatchNorm and a linear head: the ResNet's kinds of layer at a toy size."""

    def __init__(self, num_classes: int = 10, width: int = 2) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, stride=8), nn.BatchNorm2d(width), nn.ReLU(), nn.Flatten())
        self.head = nn.Linear(width * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def run_bench(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    bench = benchmark("bench_gpu_resnet18")
    monkeypatch.setattr(bench, "resnet18_cifar", TinyNet)  # the real one takes seconds an HVP on a busy CPU
    monkeypatch.setattr(sys, "argv", ["bench_gpu_resnet18.py", *argv])
    # the bench sets torch's TF32 switches and seed for the process, as its own run should; given
    # back here, or a later test in this worker finds them flipped (the cache key's test did). Not
    # by monkeypatch: torch's backend modules hold these switches outside their __dict__, which
    # pytest 9.2's undo deletes instead of setting back
    switches, rng, before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32), \
        torch.get_rng_state(), float_precision()
    try:
        code = bench.main()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = switches
        torch.set_rng_state(rng)
    assert float_precision() == before
    return code, capsys.readouterr().out


def test_resnet18_bench_runs_on_the_cpu_and_stops_at_its_time_limit(monkeypatch, capsys):
    code, printed = run_bench(monkeypatch, capsys, "--device", "cpu", "--samples", "16", "--batch", "8",
                              "--steps", "50", "--time-limit", "0")
    assert code == 0, printed
    assert "  step 1:" in printed and "  step 2:" not in printed  # at least one step, none past the limit
    assert "lanczos: 1 steps" in printed and "projected to 128 steps" in printed
    code, printed = run_bench(monkeypatch, capsys, "--device", "cpu", "--samples", "16", "--batch", "8", "--steps", "3")
    assert code == 0 and "lanczos: 3 steps" in printed


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_resnet18_bench_refuses_cuda_without_a_gpu(monkeypatch, capsys):
    bench = benchmark("bench_gpu_resnet18")
    monkeypatch.setattr(sys, "argv", ["bench_gpu_resnet18.py", "--device", "cuda"])
    assert bench.main() == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("bash") is None, reason="the script is bash")
def test_gpu_checks_times_out_every_command_within_one_call(tmp_path):
    """Every command runs under ``timeout`` (here a stand-in that records its seconds and
    fails at once, as a hung command would after them): each part still runs, writes under
    $OUT and says it failed, and the caps of the parts after part 1 (whose own are drawn
    from what they leave) fit one call with its margin."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "timeout").write_text('#!/bin/sh\necho "$1" >> "$OUT/caps"\n'
                                  'echo "${NVIDIA_TF32_OVERRIDE-unset}" >> "$OUT/tf32"\nexit 124\n')
    (fake / "timeout").chmod(0o755)
    out = tmp_path / "out"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "OUT": str(out), "DEVICES": "cpu cuda"}
    env.pop("TOTAL", None)
    done = subprocess.run(["bash", "benchmarks/gpu_checks.sh"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    caps = [int(line) for line in (out / "caps").read_text().split()]
    # env, 3 variants × 2 devices, the ResNet-18 benchmark, the checkpoint, time to answer TF32 on and off
    assert len(caps) == 1 + 6 + 1 + 1 + 2
    assert sum(caps[7:]) + 100 <= CALL_LIMIT_S - MARGIN_S  # part 1's 100 s: what the script's TOTAL leaves it
    assert done.stdout.count("FAILED") == 6 + 1 + 1 + 2 + 6 + 2  # every command, then the summaries' missing JSON
    assert (out / "tf32").read_text().split()[-2:] == ["unset", "0"]  # the second time to answer has TF32 off
    names = {p.name for p in out.iterdir()}
    assert {"compare.txt", "resnet18.txt", "time-to-answer-resnet18.txt", "time-to-answer-resnet18-ieee.txt"} <= names
