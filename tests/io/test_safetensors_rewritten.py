"""A safetensors file truncated by another process while prunelimit reads it (a training job
saving over the checkpoint a gate is reading) ends in a result or a one-line error, never in
SIGBUS: safetensors' ``load_file``/``safe_open`` map the file, and a mapped page past the new
end kills the process (exit -7 here, 135 in a shell) with no message. prunelimit reads the
bytes once instead (``prunelimit.io.safetensors_bytes``).

Each case runs a real process in which every ``safe_open`` (what ``load_file`` uses) truncates
its file right after opening it: the writer's truncation, at the one moment that used to crash,
every time. A reader that does not map the file sees the whole file it read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from prunelimit.sparse.sparse_file import write_sparse
from tests.conftest import SPEC

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import os, sys
import safetensors, safetensors.torch

real = safetensors.safe_open


class Truncated:  # another process truncates the file once it is open
    def __init__(self, filename, *args, **kwargs):
        self.handle, self.filename = real(filename, *args, **kwargs), filename

    def __enter__(self):
        opened = self.handle.__enter__()
        os.truncate(self.filename, 0)
        return opened

    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)


safetensors.safe_open = safetensors.torch.safe_open = Truncated
from prunelimit.__main__ import run

sys.argv = ["prunelimit", *sys.argv[1:]]
run()
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rewritten")
    torch.manual_seed(0)
    state = build_model(SPEC).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(d / "plain.safetensors"))
    write_sparse(d / "sparse.safetensors", state, {}, model_spec=SPEC)
    save_checkpoint(d / "good.pt", SPEC, state)
    save_file({"x": torch.randn(16, 64), "y": torch.arange(16) % 10}, str(d / "data.safetensors"))
    return {"dir": d}


CASES = {
    "checkpoint": ["info", "plain.safetensors", "--model", SPEC],
    "sparse-export": ["info", "sparse.safetensors"],
    "data": ["info", "good.pt", "--data", "tensors:data.safetensors"],
}


@pytest.mark.parametrize("case", CASES)
def test_a_safetensors_file_truncated_while_read_never_kills_the_process(files, case):
    proc = subprocess.run([sys.executable, "-c", CHILD, *CASES[case], "--json"], capture_output=True, text=True,
                          cwd=files["dir"], timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])  # it was -7 (SIGBUS) or exit 3
    # (a second open for the metadata read the truncated file)
    report = json.loads(proc.stdout)
    assert report["params"]["prunable"] == 64 * 12 + 12 * 10  # the whole file as it was when read
