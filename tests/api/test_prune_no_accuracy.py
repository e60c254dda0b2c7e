"""`prune --ratio auto` on a model that gives no accuracy (a regression model): the
--acc-drop check cannot run, and the output says so with the loss it measured, rather than
passing in silence (and `--strict` exiting 0 as if it had checked)."""

from __future__ import annotations

import json

import numpy as np
import torch
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.models.spec import build_model


def test_a_predicted_ratio_on_a_regression_model_warns_it_was_not_checked(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype(np.float32)
    np.savez(tmp_path / "reg.npz", x=x, y=(x @ rng.normal(size=(8, 2))).astype(np.float32))
    torch.manual_seed(0)
    torch.save(build_model("mlp:8,16,2").state_dict(), tmp_path / "m.pt")
    result = CliRunner().invoke(app, [str(a) for a in (
        "prune", tmp_path / "m.pt", "--model", "mlp:8,16,2", "--data", f"tensors:{tmp_path / 'reg.npz'}",
        "--loss", "mse", "--ratio", "auto", "--method", "exact", "--batch-size", 32, "--no-cache", "--strict",
        "-o", tmp_path / "p.pt", "--json", "--threads", 1)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["after"]["accuracy"] is None and doc["acc_drop_exceeded"] is None
    unchecked = [w for w in doc["warnings"] if "not checked against --acc-drop" in w]
    assert len(unchecked) == 1, doc["warnings"]
    assert f"{doc['before']['loss']:.4g}" in unchecked[0] and f"{doc['after']['loss']:.4g}" in unchecked[0]
    assert "not checked against --acc-drop" in result.stderr
