"""Pruning a pruned model to a LOWER ratio than it has: what it pruned stays pruned (a weight
stays only where both masks keep it), so nothing more is removed and the output keeps its
ratio. That is said in a warning naming both ratios, on the command line and in the library
(it ended at 80 % for --ratio 0.5 with no word of it); a ratio at or above the model's is not."""

from __future__ import annotations

import copy
import math
import json

import pytest
import torch
from typer.testing import CliRunner

import prunelimit
from prunelimit.cli import app
from prunelimit.models.zoo import mlp


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def pruned_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beyond")
    torch.manual_seed(0)
    torch.save(mlp([64, 12, 10]).state_dict(), folder / "dense.pt")
    result = run("prune", folder / "dense.pt", "--model", "mlp:64,12,10", "--ratio", 0.8, "-o", folder / "p80.pt",
                 "--threads", 1)
    assert result.exit_code == 0, result.output
    return folder / "p80.pt"


def test_a_lower_ratio_than_the_file_has_is_warned_and_changes_nothing(pruned_file, tmp_path):
    result = run("prune", pruned_file, "--ratio", 0.5, "-o", tmp_path / "p50.pt", "--json", "--threads", 1)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ratio"]["requested"] == 0.5
    assert doc["ratio"]["achieved"] == pytest.approx(0.8, abs=1 / 888)
    [warning] = [w for w in doc["warnings"] if "stays pruned" in w]
    assert "not the 50.00 % --ratio 0.5 asks for" in warning and warning.startswith("80.")
    before, after = torch.load(pruned_file, weights_only=True), torch.load(tmp_path / "p50.pt", weights_only=True)
    assert all(torch.equal(before["masks"][n], after["masks"][n]) for n in before["masks"])


@pytest.mark.parametrize("ratio", [0.8, 0.9])
def test_a_ratio_at_or_above_the_files_is_not_warned(pruned_file, tmp_path, ratio):
    result = run("prune", pruned_file, "--ratio", ratio, "-o", tmp_path / "p.pt", "--json", "--threads", 1)
    assert result.exit_code == 0, result.output
    assert not [w for w in json.loads(result.stdout)["warnings"] if "stays pruned" in w]


def test_the_library_warns_as_the_command_line():
    torch.manual_seed(0)
    model = mlp([64, 12, 10])
    pruned = prunelimit.prune(model, 0.8).apply(copy.deepcopy(model))
    lower = prunelimit.prune(pruned, 0.5)
    assert lower.achieved == pytest.approx(0.8, abs=1 / 888)
    assert [w for w in lower.warnings if "ratio=0.5 asks for" in w]
    assert prunelimit.prune(model, 0.5).warnings == ()


def test_layer_scope_on_an_unpruned_model_is_not_warned(tmp_path):
    """``--scope layer`` removes ceil(ρ·n) of each tensor, which sums above the global ceil(ρ·N)
    (here 5 tensors: 722 zeros against 720 at ρ = 0.37): that is the path's own count, not zeros
    the model held, so nothing is warned (it said the model "had more pruned already")."""
    torch.manual_seed(0)
    model = mlp([64, 12, 11, 10])  # tensors of 768, 132 and 110 weights
    sizes = [768, 132, 110]
    layerwise = sum(math.ceil(0.37 * n) for n in sizes)
    assert layerwise > math.ceil(0.37 * sum(sizes))  # the case: the per-tensor ceils add up beyond the global one
    pruning = prunelimit.prune(model, 0.37, scope="layer")
    assert sum(layer.zeros for layer in pruning.layers) == layerwise
    assert not [w for w in pruning.warnings if "stays pruned" in w]
    torch.save(model.state_dict(), tmp_path / "dense.pt")
    result = run("prune", tmp_path / "dense.pt", "--model", "mlp:64,12,11,10", "--scope", "layer", "--ratio", 0.37,
                 "-o", tmp_path / "p.pt", "--json", "--threads", 1)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert sum(layer["zeros"] for layer in doc["layers"]) == layerwise
    assert not [w for w in doc["warnings"] if "stays pruned" in w]


def test_layer_scope_still_warns_when_the_model_had_more_pruned(tmp_path):
    """The warning stays for what it is for: a model pruned layer-wise to 0.8, pruned again to 0.5."""
    torch.manual_seed(0)
    model = mlp([64, 12, 11, 10])
    pruned = prunelimit.prune(model, 0.8, scope="layer").apply(copy.deepcopy(model))
    [warning] = [w for w in prunelimit.prune(pruned, 0.5, scope="layer").warnings if "stays pruned" in w]
    assert "not the 50.00 % ratio=0.5 asks for" in warning
