"""`verify` on a model that gives no accuracy (a regression model) says it has no accuracy
criterion: the table used to drop the accuracy row in silence, so `--acc-drop 2` typed
beside it seemed to have been checked (`prune --ratio auto` says so for the same model)."""

from __future__ import annotations

import json

import numpy as np
import torch

from prunelimit.models.spec import build_model


def test_verify_on_a_regression_model_says_acc_drop_checks_nothing(cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype(np.float32)
    np.savez(tmp_path / "reg.npz", x=x, y=(x @ rng.normal(size=(8, 2))).astype(np.float32))
    torch.manual_seed(0)
    torch.save(build_model("mlp:8,16,2").state_dict(), tmp_path / "m.pt")
    common = ("--model", "mlp:8,16,2", "--data", f"tensors:{tmp_path / 'reg.npz'}", "--loss", "mse",
              "--batch-size", 32, "--threads", 1)
    (tmp_path / "b.json").write_text(cli("bounds", tmp_path / "m.pt", *common, "--method", "exact", "--no-cache",
                                         "--json").stdout)
    args = ("verify", tmp_path / "m.pt", *common, "--from", tmp_path / "b.json", "--acc-drop", 2)
    doc = json.loads(cli(*args, "--json").stdout)
    assert doc["actual"]["accuracy_ratio"] is None and doc["actual"]["dense_accuracy"] is None
    out = cli(*args)
    assert out.exit_code == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "no accuracy criterion" in text and "--acc-drop checks nothing" in text
    assert "actual (accuracy" not in text
