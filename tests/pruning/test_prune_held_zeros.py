"""A plain checkpoint that holds exact zeros (pruned elsewhere, its masks lost): ``prune`` keeps
the zeros the model held and counts them as removed, so at a ratio below their share masked
fine-tuning must not revive them (it did: 1,229 zeros of layer 0 ended as 768 after two epochs,
while the warning said "what it pruned stays pruned"), and the masks written mark them."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

import prunelimit
from prunelimit.cli import app
from prunelimit.models.zoo import mlp


def model_with_zeros():
    """mlp 64-12-10 whose first layer holds 60 % exact zeros (its smallest weights)."""
    torch.manual_seed(0)
    model = mlp([64, 12, 10])
    with torch.no_grad():
        w = model[0].weight
        w[w.abs() < w.abs().quantile(0.6)] = 0
    return model


def test_finetuning_keeps_the_zeros_the_checkpoint_held(tmp_path):
    model = model_with_zeros()
    zeros = model[0].weight == 0
    assert int(zeros.sum()) > 0.3 * (768 + 120) + 1  # the case: more zeros than --ratio 0.3 removes
    torch.save(model.state_dict(), tmp_path / "zeros.pt")
    result = CliRunner().invoke(app, [str(a) for a in (
        "prune", tmp_path / "zeros.pt", "--model", "mlp:64,12,10", "--data", "digits:train", "--max-samples", 256,
        "--ratio", 0.3, "--finetune-epochs", 2, "--finetune-lr", 0.1, "-o", tmp_path / "p.pt", "--json",
        "--threads", 1)])
    assert result.exit_code == 0, result.output
    saved = torch.load(tmp_path / "p.pt", weights_only=True)
    weight, mask = saved["state_dict"]["0.weight"], saved["masks"]["0.weight"]
    assert bool((weight[zeros] == 0).all())  # none revived (the digits' blank pixels alone would keep some)
    assert torch.equal(mask, weight != 0)  # the masks mark what is zero, as a pruned file's do
    assert bool((saved["state_dict"]["0.weight"][~zeros] != model[0].weight[~zeros]).any())  # it did train
    doc = json.loads(result.stdout)
    assert doc["layers"][0]["zeros"] == int(zeros.sum())


def test_the_library_masks_the_held_zeros_as_the_command_line():
    model = model_with_zeros()
    pruning = prunelimit.prune(model, 0.3)
    assert torch.equal(pruning.masks["0.weight"], model[0].weight != 0)
    assert pruning.achieved == (int((model[0].weight == 0).sum()) + 0) / (768 + 120)


def test_verify_refit_holds_the_zeros_as_prune_finetune_does():
    """``verify --refit`` measures the limit ``prune --finetune-epochs`` reaches, so it holds the
    zeros too: every probe below their share is their mask, fine-tuned alike, one loss (unheld,
    fine-tuning at each lower ratio revived a different set of them)."""
    from prunelimit.data.spec import load_dataset

    model = model_with_zeros()
    share = float((model[0].weight == 0).sum()) / (768 + 120)
    train = load_dataset("digits:train")
    data = (train.x[:256], train.y[:256])
    predicted = prunelimit.bounds(model, data, method="slq", iterations=16, runs=2)
    report = prunelimit.verify(model, data, prediction_from=predicted, refit=True, finetune_epochs=1,
                               finetune_lr=0.05)
    below = [p for p in report.refit.points if p.ratio < share]
    assert len(below) >= 2 and len({p.loss for p in below}) == 1
