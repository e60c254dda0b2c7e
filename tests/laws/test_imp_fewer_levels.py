"""Resuming an IMP sweep with fewer ``--levels`` than its folder holds (4 there, 2 asked) is
refused before the model is touched, naming the levels there: it returned all 4 levels and
"Final density … at level 4" for a run asked for 2, in silence. As many levels as the folder
holds reads the sweep back, more extend it."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import OptionError, library_call
from prunelimit.laws.imp import iterative_magnitude_pruning, level_density_count


def _sweep(model, out, levels):
    batches = [(torch.rand(16, 8, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 3)]
    return iterative_magnitude_pruning(model, batches, batches, cross_entropy_loss, rate=0.5, levels=levels,
                                       epochs_per_level=1, out_dir=out)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def test_fewer_levels_than_the_folder_holds_are_refused(tmp_path):
    full = _sweep(_model(), tmp_path / "sweep", 4)
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with library_call(), pytest.raises(OptionError, match=r"^levels=2: .*sweep already holds levels 0–4 of this "
                                                          r"sweep; give levels=4 or more"):
        _sweep(model, tmp_path / "sweep", 2)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())  # not loaded, not trained
    again = _sweep(_model(), tmp_path / "sweep", 4)  # as many as there: read back, the same rows
    assert again.rows == full.rows and again.resumed_after == 4
    # more extend it: N − ceil((1 − 0.5^k)·N) of N = 176 kept at level k (5 of 176 at level 5, 0.5^5·N = 5.5)
    assert [r.density for r in _sweep(_model(), tmp_path / "sweep", 5).rows] == \
        [level_density_count(k, 0.5, 176) / 176 for k in range(6)] == [1.0, 0.5, 0.25, 0.125, 0.0625, 5 / 176]


def test_the_command_refuses_it_with_exit_2(tmp_path):
    args = ["imp", "mlp:64,4,10", "--data", "digits:train", "--max-samples", "64", "--epochs", "1", "--threads", "1",
            "-o", str(tmp_path / "sweep")]
    assert CliRunner().invoke(app, [*args, "--levels", "2"]).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--levels", "1"])
    assert result.exit_code == 2, result.output
    assert "--levels 1: " in result.stderr and "already holds levels 0–2 of this sweep; give --levels 2 or more" \
        in result.stderr
