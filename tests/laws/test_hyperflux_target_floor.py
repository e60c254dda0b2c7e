"""A Hyperflux target density that keeps less than one prunable weight (1e-6 of a few
thousand) is refused before training, naming the smallest target; it used to train to
density 0 (every prunable weight removed) and report "-100% off the requested 0.00%"."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import OptionError
from prunelimit.laws.hyperflux import hyperflux_prune


def test_a_target_below_one_weight_is_refused_before_training():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))  # N = 176 prunable weights
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = [(torch.randn(16, 8), torch.arange(16) % 3)]
    with pytest.raises(OptionError, match=r"^target_density 0\.001 keeps 0\.176 of the 176 prunable weights, "
                                          r"less than one; give at least 0\.00568"):
        hyperflux_prune(model, batches, cross_entropy_loss, 0.001, pruning_epochs=200)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # refused before any step
    assert hyperflux_prune(model, batches, cross_entropy_loss, 1 / 176, pruning_epochs=200,
                           regrowth_epochs=0).density <= 0.05


def test_the_command_refuses_it_with_exit_2(tmp_path):
    example = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
    result = CliRunner().invoke(app, [str(a) for a in (
        "hyperflux", example, "--target-density", 1e-6, "--pruning-epochs", 40, "-o", tmp_path / "h.pt",
        "--threads", 1)])
    assert result.exit_code == 2, result.output
    assert "--target-density 1e-06 keeps 0.00237 of the 2,368 prunable weights, less than one" in result.stderr
    assert not (tmp_path / "h.pt").exists()
