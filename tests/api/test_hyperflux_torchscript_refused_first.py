"""hyperflux on a TorchScript archive checked its epochs and rates first: with few
``--pruning-epochs`` it asked for more (exit 2), and once given them refused the archive
itself (exit 3), which no epochs could fix. The archive is now refused first."""

from __future__ import annotations

import torch


def test_a_torchscript_archive_is_refused_before_its_epochs_are_checked(cli, tmp_path, tiny_model):
    archive = tmp_path / "ts.pt"
    torch.jit.save(torch.jit.script(tiny_model.eval()), str(archive))
    r = cli("hyperflux", archive, "--trust-pickle", "--data", "digits:train", "--max-samples", "256",
            "--target-density", "0.3", "--pruning-epochs", "1", "--regrowth-epochs", "1", "-o", tmp_path / "hf.pt")
    assert r.exit_code == 3, r.output
    assert "a TorchScript model cannot run with substituted weights" in r.stderr and "--model SPEC" in r.stderr
    assert "pruning-epochs" not in r.stderr and not (tmp_path / "hf.pt").exists()
