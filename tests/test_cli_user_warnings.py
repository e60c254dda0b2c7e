"""A warning of the user's code shows once a command, as Python's default display means it to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import prunelimit

NOISY_PY = ("import warnings\nfrom torch import nn\n\n\nclass Noisy(nn.Sequential):\n    def forward(self, x):\n"
            "        warnings.warn('noisy model says hello')\n        return super().forward(x)\n\n\n"
            "def noisy():\n    return Noisy(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))\n")


@pytest.mark.parametrize("display, shown", [(None, 1), ("always", "many")])
def test_a_models_warning_in_forward_shows_once_a_command(tmp_path, display, shown):
    """`bounds` on a model warning in every forward showed the warning 4 times in a fresh
    process: the libraries it imports mid-run change the warning filters, and Python then
    forgets what it showed. Once now; every time when PYTHONWARNINGS asks for it. A fresh
    interpreter: in this one those libraries are imported already."""
    (tmp_path / "models.py").write_text(NOISY_PY)
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10)).state_dict(), tmp_path / "noisy.pt")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = str(Path(prunelimit.__file__).parents[1])
    if display is not None:
        env["PYTHONWARNINGS"] = display
    run = subprocess.run([sys.executable, "-m", "prunelimit", "bounds", "noisy.pt", "--model", "models.py:noisy",
                          "--data", "digits", "--max-samples", "256", "--batch-size", "32", "--threads", "1",
                          "--no-cache", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    count = run.stderr.count("UserWarning: noisy model says hello")
    assert count == 1 if shown == 1 else count > 1, run.stderr
