"""``export --model SPEC`` names the architecture the exported file records (every command
then reads the file with it). A spec the checkpoint's tensors do not fit (other shapes, an
unknown spec) was written into the header without a look, exit 0, and every command reading
the file then failed; it is refused before anything is written, as every command refuses a
``--model`` the checkpoint does not fit (exit 3, naming the mismatch; an unknown spec exit 2)."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from prunelimit import load_sparse
from prunelimit.cli import app
from prunelimit.models.zoo import mlp


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _pruned(tmp_path):
    torch.manual_seed(0)
    torch.save(mlp([30, 20, 10]).state_dict(), tmp_path / "dense.pt")
    result = run("prune", tmp_path / "dense.pt", "--model", "mlp:30,20,10", "--ratio", 0.7, "-o", tmp_path / "p.pt",
                 "--format", "torch-prune", "--threads", 1)
    assert result.exit_code == 0, result.output
    return tmp_path / "p.pt"


def test_a_model_the_tensors_do_not_fit_is_refused_and_nothing_written(tmp_path):
    pruned = _pruned(tmp_path)
    for source in (pruned, pruned.with_suffix(".prune.pt")):  # its own spec recorded, or none (torch-prune)
        out = tmp_path / "e.safetensors"
        result = run("export", source, "--model", "mlp:30,21,10", "-o", out)
        assert result.exit_code == 3, result.output
        assert "does not fit the model: shape mismatch 0.weight (20, 30) in the file vs (21, 30) in the model" in result.stderr
        assert "Traceback" not in result.output and not out.exists()
    result = run("export", pruned, "--model", "nosuch:1,2", "-o", tmp_path / "e.safetensors")
    assert result.exit_code == 2, result.output
    assert "nosuch" in result.stderr and not (tmp_path / "e.safetensors").exists()


def test_a_model_that_fits_is_written_and_read_back(tmp_path):
    pruned = _pruned(tmp_path)
    out = tmp_path / "e.safetensors"
    result = run("export", pruned.with_suffix(".prune.pt"), "--model", "mlp:30,20,10", "-o", out)
    assert result.exit_code == 0, result.output
    model = mlp([30, 20, 10])
    model.load_state_dict(load_sparse(out))
    info = run("info", out)  # the spec recorded in the header rebuilds the model
    assert info.exit_code == 0, info.output


def test_the_library_refuses_a_model_spec_the_model_does_not_fit(tmp_path):
    import copy

    import pytest

    import prunelimit
    from prunelimit.errors import InputError

    torch.manual_seed(0)
    model = mlp([30, 20, 10])
    pruned = prunelimit.prune(model, 0.7).apply(copy.deepcopy(model))
    with pytest.raises(InputError, match=r"shape mismatch 0\.weight \(20, 30\) in the file vs \(21, 30\) in the model"):
        prunelimit.export(pruned, tmp_path / "e.safetensors", model_spec="mlp:30,21,10")
    assert not (tmp_path / "e.safetensors").exists()
    prunelimit.export(pruned, tmp_path / "e.safetensors", model_spec="mlp:30,20,10")
    assert run("info", tmp_path / "e.safetensors").exit_code == 0
