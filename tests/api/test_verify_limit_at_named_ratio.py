"""``verify`` measured the limit on a grid of ratios (step 0.001) while its overshoot check
measures the loss at the prediction's own ratios: on a model pruned to 80 % of 1,280 weights a
grid step removes one or two weights, so ρ_L (80.0008 %) and ρ* (80.029 %) each remove one
weight more and pass, while the grid's 80.1 % removes two and fails. verify reported a limit of
80.0 % beside ``overshoot.lower`` false (ρ_L within L + ε) and Δ = +0.03 pt, an overshoot by a
ratio it measured to pass. The search now measures the named ratios between its grid limit and
its failure: the limit is ρ*, Δ 0, in the result, its JSON and the console alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import prunelimit
from prunelimit.report.jsonout import document

N = 1280
EPSILON = 1.5 / N  # mse over N one-hot samples: a weight w adds w² / N; one (1.0) passes, two (2.008) fail


def pruned_regression() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A linear regression on N one-hot samples, its 1,280 weights 80 % exact zeros and the
    rest 1, 1.004, …: its loss after pruning is exact, the squares of the weights removed / N."""
    w = torch.zeros(N)
    w[1024:] = 1.0 + torch.arange(256) / 256.0
    model = torch.nn.Linear(N, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(w[None])
    x = torch.eye(N)
    return model, (x, (x @ w)[:, None])


def pruned_regression_checkpoint(folder: Path) -> Path:
    """:func:`pruned_regression` as a checkpoint in ``folder`` that records its data and loss."""
    import numpy as np

    from prunelimit.io.checkpoint import save_checkpoint

    model, (x, y) = pruned_regression()
    np.savez(folder / "eye.npz", x=x.numpy(), y=y.numpy())
    # mlp:1280,1 is this linear map and a bias, which is not prunable (set to 0)
    state = {"0.weight": model.weight.detach().clone(), "0.bias": torch.zeros(1)}
    ckpt = folder / "eye.pt"
    save_checkpoint(ckpt, "mlp:1280,1", state, meta={"data": f"tensors:{folder / 'eye.npz'}", "loss": "mse"})
    return ckpt


@pytest.fixture(scope="module")
def report():
    model, data = pruned_regression()
    return prunelimit.verify(model, data, loss="mse", epsilon=EPSILON)


def test_the_limit_is_not_below_a_ratio_measured_to_pass(report) -> None:
    check, actual, prediction = report.bounds.overshoot, report.actual, report.prediction
    # the case: ρ_L and ρ* between the grid's 80.0 % and 80.1 %, ρ_L measured within L + ε
    assert 0.800 < check.lower.ratio < prediction.ratio < 0.801 and check.lower_overshoots is False
    assert actual.loss_ratio == prediction.ratio  # before: 0.8, below ρ_L
    assert report.delta == 0.0 and actual.loss_crossed
    limit = actual.dense_loss + actual.epsilon
    # the search's promise holds off the grid too: no measured point at or below the limit fails
    assert all(p.loss <= limit for p in actual.probes if p.ratio <= actual.loss_ratio)
    assert any(p.ratio == 0.801 and p.loss > limit for p in actual.probes)  # the failure above it, measured


def test_every_output_states_that_limit(report) -> None:
    doc = document("verify", report.to_json())
    assert doc["actual"]["loss_ratio"] == report.prediction.ratio and doc["delta"] == 0.0
    assert report.prediction.ratio in [p["ratio"] for p in doc["actual"]["probes"]]
    assert report.named_limit_note.startswith("the loss limit is ρ* (80.03 %), measured within L + ε")


def test_the_command_reads_it_from_a_saved_prediction_and_says_so(cli, tmp_path, monkeypatch) -> None:
    """``verify --from b.json`` measures the saved prediction's ratios alike, the console names
    the limit's ratio, and ``gate --from`` the verify report reads that limit."""
    import json

    ckpt = pruned_regression_checkpoint(tmp_path)
    common = (ckpt, "--threads", "1", "--no-cache", "--quiet")
    made = cli("bounds", *common, "--epsilon", EPSILON, "--json")
    assert made.exit_code == 0, made.stderr
    (tmp_path / "b.json").write_text(made.stdout)
    verified = cli("verify", *common, "--from", tmp_path / "b.json", "--json")
    assert verified.exit_code == 0, verified.stderr
    doc = json.loads(verified.stdout)
    assert doc["actual"]["loss_ratio"] == doc["prediction"]["ratio"] and doc["delta"] == 0.0
    (tmp_path / "v.json").write_text(verified.stdout)
    monkeypatch.setenv("COLUMNS", "200")
    console = " ".join(cli("verify", *common, "--from", tmp_path / "b.json").stdout.split())
    assert "the loss limit is ρ* (80.03 %), measured within L + ε" in console
    gated = cli("gate", *common, "--from", tmp_path / "v.json", "--use", "actual", "--min-ratio", "0.8002")
    assert gated.exit_code == 0 and "actual limit 0.8003 >= required 0.8002" in gated.stdout, gated.output
