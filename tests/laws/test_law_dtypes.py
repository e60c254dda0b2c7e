"""`hyperflux` and `imp` started from a float16 or bfloat16 checkpoint write their files in the
checkpoint's float type, as `prune` does, and report the weights as saved in it: the loss after
Hyperflux is that of the file written, and an IMP sweep resumed from its files equals the
sweep run in one go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.inputs import load_batches
from prunelimit.models.evaluate import evaluate
from prunelimit.models.load import load_model
from prunelimit.models.spec import build_model

SPEC = "mlp:64,12,10"
DATA = ("--data", "digits:train", "--max-samples", 256, "--threads", 1)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def narrow_checkpoint(path: Path, dtype: torch.dtype) -> Path:
    torch.manual_seed(0)
    torch.save({k: v.to(dtype) for k, v in build_model(SPEC).state_dict().items()}, path)
    return path


def dtypes_of(path: Path) -> set[torch.dtype]:
    return {v.dtype for v in torch.load(path, weights_only=True)["state_dict"].values()}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_hyperflux_saves_the_checkpoint_float_type_and_reports_the_file_it_saved(tmp_path, dtype):
    start = narrow_checkpoint(tmp_path / "narrow.pt", dtype)
    out = tmp_path / "hf.pt"
    result = run("hyperflux", start, "--model", SPEC, *DATA, "--target-density", 0.5, "--pruning-epochs", 4,
                 "--regrowth-epochs", 1, "--gate-lr", 0.1, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert dtypes_of(out) == {dtype}
    saved = evaluate(load_model(out).model, load_batches("digits:train", 128, 256), cross_entropy_loss)
    assert json.loads(result.stdout)["after"]["loss"] == pytest.approx(saved.loss, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_imp_levels_keep_the_float_type_and_resume_as_one_run(tmp_path, dtype):
    start = narrow_checkpoint(tmp_path / "narrow.pt", dtype)
    sweep = ("imp", start, "--model", SPEC, *DATA, "--epochs", 1, "--epochs-dense", 1, "--rewind", "early",
             "--rewind-steps", 1, "--json")
    whole = run(*sweep, "--levels", 2, "-o", tmp_path / "whole")
    assert whole.exit_code == 0, whole.output
    for name in ("level_000.pt", "level_001.pt", "level_002.pt", "rewind.pt"):
        assert dtypes_of(tmp_path / "whole" / name) == {dtype}, name
    # stopped after level 1 and resumed: the same rows, as the levels saved in the narrow type go on
    assert run(*sweep, "--levels", 1, "-o", tmp_path / "parts").exit_code == 0
    resumed = run(*sweep, "--levels", 2, "-o", tmp_path / "parts")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["rows"] == json.loads(whole.stdout)["rows"]
