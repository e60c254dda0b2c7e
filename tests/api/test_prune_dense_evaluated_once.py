"""``prune --ratio auto|lower`` evaluated the model as given on the analysis data twice: the
prediction's overshoot check measures it (its dense point), then the pruning measured it again
for the loss and accuracy before pruning, where no ``--eval-data`` names other data. One pass
over the data now; the numbers are the ones a pass gives (a given ratio still makes it)."""

from __future__ import annotations

import json

import pytest

import prunelimit.models.evaluate as evaluate_module


@pytest.mark.parametrize("ratio", ["auto", "lower"])
def test_prune_to_the_prediction_evaluates_the_dense_model_once(cli, own_ckpt, tiny_model, tmp_path, monkeypatch,
                                                                 ratio):
    assert all(bool((p != 0).all()) for p in tiny_model.parameters())  # any zero in the model is the pruning's
    dense_passes = []
    real = evaluate_module.evaluate_with_losses

    def counted(model, batches, loss_fn):
        dense_passes.append(all(bool((p != 0).all()) for p in model.parameters()))
        return real(model, batches, loss_fn)

    monkeypatch.setattr(evaluate_module, "evaluate_with_losses", counted)
    common = ("--max-samples", 300, "--cache-dir", tmp_path / "cache", "--json")
    result = cli("prune", own_ckpt, "--ratio", ratio, "-o", tmp_path / "auto.pt", *common)
    assert result.exit_code == 0, result.stderr
    assert dense_passes.count(True) == 1, dense_passes  # 2 before: the overshoot check's and the pruning's
    report = json.loads(result.stdout)
    assert report["before"] == {"loss": report["overshoot"]["dense_loss"],
                                "accuracy": report["overshoot"]["dense_accuracy"]}
    given = cli("prune", own_ckpt, "--ratio", 0.5, "-o", tmp_path / "given.pt", *common)  # no prediction: measured
    assert given.exit_code == 0, given.stderr
    assert report["before"] == json.loads(given.stdout)["before"]  # bit for bit: the same pass
