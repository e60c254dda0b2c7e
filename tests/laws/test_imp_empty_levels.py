"""An IMP rate so low that a level prunes no weight (1e-4 of 2,368 weights: level 1 removes
one, level 2 none) is refused before training, as levels past the last weight are; it used
to train that level again and record the same density twice."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import UsageError, library_call
from prunelimit.laws.imp import iterative_magnitude_pruning, level_density_count

N = 64 * 32 + 32 * 10  # 2368


def test_a_level_that_would_prune_nothing_is_refused_before_training(tmp_path):
    assert level_density_count(1, 1e-4, N) == N - 1 and level_density_count(2, 1e-4, N) == N - 1
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = [(torch.rand(16, 64), torch.arange(16) % 10)]
    with library_call(), pytest.raises(UsageError, match="^rate=0.0001: level 2 would prune none of the 2,367 "
                                                         "weights level 1 keeps; use levels=1 or a higher rate$"):
        iterative_magnitude_pruning(model, batches, batches, cross_entropy_loss, rate=1e-4, levels=3,
                                    epochs_per_level=1, out_dir=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # nothing trained


def test_the_command_refuses_it_with_exit_2(tmp_path):
    example = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
    result = CliRunner().invoke(app, [str(a) for a in (
        "imp", example, "-o", tmp_path / "sweep", "--rate", 1e-4, "--levels", 2, "--epochs", 1, "--threads", 1)])
    assert result.exit_code == 2, result.output
    assert ("--rate 0.0001: level 2 would prune none of the 2,367 weights level 1 keeps; use --levels 1 or a "
            "higher --rate") in result.stderr
    assert not (tmp_path / "sweep").exists()
