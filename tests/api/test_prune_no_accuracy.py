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


def test_a_prediction_read_from_a_verify_report_names_the_loss_limit_it_measured(tmp_path):
    """With --from a verify report, the warning told the user that `prunelimit verify` measures
    the loss limit, which that report had measured: it names the report's limit now."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype(np.float32)
    np.savez(tmp_path / "reg.npz", x=x, y=(x @ rng.normal(size=(8, 2))).astype(np.float32))
    torch.manual_seed(0)
    torch.save(build_model("mlp:8,16,2").state_dict(), tmp_path / "m.pt")
    report = tmp_path / "v.json"  # no record of its weights or data: taken as computed for this model, with a warning
    report.write_text(json.dumps({
        "schema": "prunelimit.verify/1", "epsilon": 0.05, "params": {"hessian": 178}, "spectrum": {"trace": 5.0},
        "prediction": {"ratio": 0.6, "density": 0.4, "radius": 1.5, "scope": "global"},
        "bounds": {"lower": 0.5, "lower_density": 0.5},
        "actual": {"loss_ratio": 0.412, "accuracy_ratio": None, "acc_drop_points": 0.5}}))
    result = CliRunner().invoke(app, [str(a) for a in (
        "prune", tmp_path / "m.pt", "--model", "mlp:8,16,2", "--data", f"tensors:{tmp_path / 'reg.npz'}",
        "--loss", "mse", "--ratio", "auto", "--from", report, "--batch-size", 32, "-o", tmp_path / "p.pt", "--json",
        "--threads", 1)])
    assert result.exit_code == 0, result.output
    (unchecked,) = [w for w in json.loads(result.stdout)["warnings"] if "not checked against --acc-drop" in w]
    assert "`prunelimit verify`" not in unchecked
    assert unchecked.endswith(f"; {report} measured the ratio whose loss stays within L + ε at 0.412")
