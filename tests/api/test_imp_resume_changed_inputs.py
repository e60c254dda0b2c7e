"""An IMP sweep resumes only from the inputs it began with: a start checkpoint rewritten in
place, or a data file rewritten under the same spec, kept the spec and meta the sweep
records, so the old sweep was resumed (or, at its own --levels, read back whole) as the
sweep of the new inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import UsageError
from prunelimit.laws.imp import iterative_magnitude_pruning


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))


def _batches(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 8, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(3)]


def _run(model, train, ev, out, levels):
    return iterative_magnitude_pruning(model, train, ev, cross_entropy_loss, out_dir=out, levels=levels,
                                       rate=0.5, rewind="init", epochs_per_level=1, epochs_dense=0, lr=0.1,
                                       model_spec="mlp:8,6,3", meta={"data": "tensors:t.pt", "loss": "ce"})


@pytest.mark.parametrize("changed, match", [
    ("weights", "other start weights than these"),
    ("train", "other training batches than these"),
    ("eval", "other evaluation batches than these"),
])
def test_resume_refuses_a_sweep_of_other_inputs_under_the_same_specs(tmp_path, changed, match):
    train, ev = _batches(0), _batches(1)
    _run(_mlp(), train, ev, tmp_path, levels=1)
    model, train2, ev2 = _mlp(5 if changed == "weights" else 0), train, ev
    if changed == "train":  # same samples count and batch size, other values
        train2 = [(x + 0.5, y) for x, y in train]
    if changed == "eval":
        ev2 = [(x, (y + 1) % 3) for x, y in ev]
    for levels in (1, 2):  # read back whole at its own --levels, or extended
        with pytest.raises(UsageError, match=match):
            _run(model, train2, ev2, tmp_path, levels=levels)
    assert _run(_mlp(), train, ev, tmp_path, levels=2).resumed_after == 1  # the same inputs resume


def test_cli_imp_refuses_to_resume_after_the_checkpoint_was_rewritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(dict(zip(("x", "y"), (torch.cat(t) for t in zip(*_batches(0))))), "t.pt")
    net = _mlp()
    torch.save(net.state_dict(), "src.pt")
    args = ["imp", "src.pt", "--model", "mlp:8,6,3", "--data", "tensors:t.pt", "-o", "sweep", "--levels", "1",
            "--epochs", "1", "--batch-size", "16", "--threads", "1", "--quiet"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    with torch.no_grad():
        net[0].weight.mul_(2)  # retrained, say: the same file name and spec, other weights
    torch.save(net.state_dict(), "src.pt")
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "other start weights than these" in again.output, again.output
