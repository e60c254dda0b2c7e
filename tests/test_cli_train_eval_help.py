"""`train --help` says what `train` evaluates without `--eval-data`: nothing (its help said
"default: the file's recorded eval data, else --data", the text of the commands that read a
checkpoint, while the run's `history` held no evaluation)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from prunelimit.cli import app


def test_train_eval_data_help_matches_a_run_without_it(tmp_path):
    (param,) = [p for p in typer.main.get_command(app).commands["train"].params if "--eval-data" in p.opts]
    text = " ".join(param.help.split())
    assert "else --data" not in text and "default: none" in text, text

    result = CliRunner().invoke(app, ["train", "--model", "mlp:64,4,10", "--data", "digits:train", "--epochs", "1",
                                      "--max-samples", "64", "--threads", "1", "--json", "-o", str(tmp_path / "t.pt")])
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)["history"]
    assert row["eval_loss"] is None and row["eval_accuracy"] is None, row
