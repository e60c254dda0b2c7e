"""A Hyperflux target above what the slowest trajectory keeps (retention R_INF = 0.999 an
epoch: 40 epochs fall to 0.9608) is refused before training naming the setting to change:
``--pruning-epochs`` and the most epochs that still reach it, or, where one epoch falls
past it, the largest ``--target-density``. It said "target density 0.891 is above what 200
pruning epochs reach at minimum pruning; use fewer epochs" for a --target-density 0.99 (the
0.891 was the target times the regrowth headroom) and named no flag nor a count."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import OptionError
from prunelimit.laws.hyperflux import R_INF, hyperflux_prune


def _model_and_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    return model, [(torch.randn(16, 8), torch.arange(16) % 3)]


@pytest.mark.parametrize("target, epochs, regrowth", [(0.99, 40, 0), (0.99, 200, 10), (0.95, 100, 0)])
def test_too_many_epochs_for_a_high_target_name_the_most_that_fit(target, epochs, regrowth):
    model, batches = _model_and_batches()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(OptionError) as refused:
        hyperflux_prune(model, batches, cross_entropy_loss, target, pruning_epochs=epochs, regrowth_epochs=regrowth)
    assert refused.value.names[0] == "pruning_epochs"
    most = int(re.search(r"use --pruning-epochs (\d+) or fewer$", str(refused.value))[1])
    aim = target * (0.9 if regrowth else 1.0)  # the regrowth headroom's aim, which the message names as such
    assert R_INF ** most >= aim > R_INF ** (most + 1)  # the most epochs whose slowest trajectory stays above it
    assert ("regrowth headroom 0.9" in str(refused.value)) == bool(regrowth)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # refused before any step


def test_a_target_one_epoch_falls_past_names_the_largest_target():
    model, batches = _model_and_batches()
    with pytest.raises(OptionError, match=r"ask for at most 0\.999$") as refused:
        hyperflux_prune(model, batches, cross_entropy_loss, 0.9995, pruning_epochs=5, regrowth_epochs=0)
    assert refused.value.names[0] == "target_density"


def test_the_command_names_the_flag(tmp_path):
    result = CliRunner().invoke(app, [str(a) for a in (
        "hyperflux", "--model", "mlp:64,4,10", "--data", "digits:train", "--max-samples", 64,
        "--target-density", 0.99, "--regrowth-epochs", 0, "-o", tmp_path / "h.pt", "--threads", 1)])
    assert result.exit_code == 2, result.output
    assert "below the target 0.99: the run would end under it; use --pruning-epochs 10 or fewer" in result.stderr
    assert not (tmp_path / "h.pt").exists()


def test_the_library_names_its_keywords():
    import prunelimit

    model, [(x, y)] = _model_and_batches()
    with pytest.raises(OptionError, match=r"use pruning_epochs=10 or fewer$"):
        prunelimit.hyperflux(model, (x, y), 0.99, regrowth_epochs=0)
    with pytest.raises(OptionError, match=r"^density 0\.9995: one pruning epoch"):
        prunelimit.hyperflux(model, (x, y), 0.9995, regrowth_epochs=0, pruning_epochs=5)
