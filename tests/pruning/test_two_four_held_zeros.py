"""2:4 pruning of a model that holds zeros: the pattern removes 2 of every group of 4 (and
``max(g − 2, 0)`` of a last group of g < 4), and a group that held more zeros than that keeps
them, so the output holds more zeros than the pattern removes. That is warned, naming the
pattern's own ratio; it was compared with ``ceil(N/2)``, so a row ending in a short group
(which the pattern prunes below half) hid the extra zeros, and the warning named 50 %."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from typer.testing import CliRunner

import prunelimit
from prunelimit.cli import app
from prunelimit.models.zoo import mlp
from prunelimit.pruning.magnitude import removed_on_path


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("shape,removed", [((10, 30), 140), ((4, 8), 16), ((3, 7), 9), ((5, 2), 0), ((2, 3, 3), 8)])
def test_the_pattern_removes_two_of_every_four_and_what_a_short_group_exceeds_two_by(shape, removed):
    assert removed_on_path(0.5, "2:4", [torch.ones(shape)]) == removed
    # and that is what pruning a tensor with no zeros removes
    model = torch.nn.Sequential(torch.nn.Conv1d(shape[1], shape[0], shape[2]) if len(shape) == 3
                                else torch.nn.Linear(shape[1], shape[0]))
    assert sum(layer.zeros for layer in prunelimit.prune(model, 0.5, scope="2:4").layers) == removed


def _held(rows_with_three_zeros: int) -> torch.nn.Module:
    """A 10×30 Linear (groups 7 × 4 + 2: the pattern removes 140 of 300) whose first group holds
    3 zeros in ``rows_with_three_zeros`` rows: one zero more than the pattern removes in each."""
    torch.manual_seed(0)
    model = mlp([30, 10])
    with torch.no_grad():
        model[0].weight[:rows_with_three_zeros, :3] = 0.0
    return model


@pytest.mark.parametrize("rows", [1, 10])
def test_zeros_beyond_the_pattern_are_warned_naming_the_patterns_ratio(rows):
    pruning = prunelimit.prune(_held(rows), 0.5, scope="2:4")
    assert sum(layer.zeros for layer in pruning.layers) == 140 + rows
    [warning] = [w for w in pruning.warnings if "stays pruned" in w]
    assert warning.startswith(f"{100 * (140 + rows) / 300:.2f} % of the prunable weights are pruned")
    assert "not the 46.67 % the 2:4 pattern removes" in warning and "lower ratio" not in warning


def test_zeros_within_the_pattern_are_not_warned():
    """Two zeros in a group of 4 are the two the pattern removes: nothing beyond it."""
    torch.manual_seed(0)
    model = mlp([30, 10])
    with torch.no_grad():
        model[0].weight[:, :2] = 0.0
    pruning = prunelimit.prune(model, 0.5, scope="2:4")
    assert sum(layer.zeros for layer in pruning.layers) == 140
    assert pruning.warnings == ()


def test_the_command_line_warns_as_the_library(tmp_path):
    model = _held(10)
    torch.save(model.state_dict(), tmp_path / "held.pt")
    result = run("prune", tmp_path / "held.pt", "--model", "mlp:30,10", "--scope", "2:4", "--ratio", 0.5,
                 "-o", tmp_path / "p.pt", "--json", "--threads", 1)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["layers"][0]["zeros"] == 150
    assert [w for w in doc["warnings"] if "not the 46.67 % the 2:4 pattern removes" in w]
    # the file pruned again with the pattern removes nothing more and is warned the same way
    again = prunelimit.prune(prunelimit.prune(copy.deepcopy(model), 0.5, scope="2:4").apply(model), 0.5,
                             scope="2:4")
    assert [w for w in again.warnings if "not the 46.67 % the 2:4 pattern removes" in w]
