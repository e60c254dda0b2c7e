"""A float16 or bfloat16 checkpoint pruned: every file `prune` writes (and `export` of it)
keeps the checkpoint's float type, the pruned weights bit for bit, at the size of that type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from prunelimit import load_sparse
from prunelimit.cli import app
from prunelimit.io.checkpoint import read_checkpoint

SPEC = "mlp:64,12,10"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def half_checkpoint(path: Path, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    state = {k: v.to(dtype) for k, v in build_model(SPEC).state_dict().items()}
    torch.save(state, path)
    return state


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("finetune", [0, 1])
def test_every_prune_format_and_the_export_keep_the_float_type(tmp_path, dtype, finetune):
    original = half_checkpoint(tmp_path / "half.pt", dtype)
    out = tmp_path / "pruned.pt"
    tune = ("--finetune-epochs", finetune) if finetune else ()
    result = run("prune", tmp_path / "half.pt", "--model", SPEC, "--data", "digits:train", "--max-samples", 256,
                 "--ratio", 0.6, "-o", out, "--format", "prunelimit", "--format", "torch-prune",
                 "--format", "safetensors", *tune, "--json", "--threads", 1)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    own = read_checkpoint(out)
    torch_prune = torch.load(out.with_suffix(".prune.pt"), weights_only=True)
    plain = load_file(str(out.with_suffix(".safetensors")))
    for name, before in original.items():
        saved = own.state_dict[name]
        assert saved.dtype == dtype, name
        assert plain[name].dtype == dtype and torch.equal(plain[name], saved), name
        mask = own.masks.get(name)
        if mask is None:
            assert torch_prune[name].dtype == dtype and torch.equal(torch_prune[name], saved), name
            continue
        assert torch_prune[f"{name}_orig"].dtype == dtype, name
        assert torch.equal(torch_prune[f"{name}_orig"] * torch_prune[f"{name}_mask"].to(dtype), saved), name
        assert not bool(saved[~mask].ne(0).any()), name
        if not finetune:  # pruning changes no kept weight: bit for bit the file's
            assert torch.equal(saved[mask].view(torch.int16), before[mask].view(torch.int16)), name
    # the ratio reported is the count in the file written
    zeros = sum(int((own.state_dict[n] == 0).sum()) for n in own.masks)
    total = sum(own.state_dict[n].numel() for n in own.masks)
    assert doc["ratio"]["achieved"] == pytest.approx(zeros / total)

    sparse = tmp_path / "model.sparse.safetensors"
    exported = run("export", out, "-o", sparse, "--json")
    assert exported.exit_code == 0, exported.output
    size = json.loads(exported.stdout)["size"]
    assert size["dense_bytes"] == sum(t.numel() * 2 for t in original.values())
    assert size["file_bytes"] == sparse.stat().st_size
    back = load_sparse(sparse)
    for name, saved in own.state_dict.items():
        assert back[name].dtype == dtype and torch.equal(back[name].view(torch.int16), saved.view(torch.int16)), name


TIED = '''import torch.nn as nn


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.out = nn.Linear(8, 20, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, x):
        return self.out(self.emb(x).mean(1))


def make():
    return Tied()
'''


def test_a_tied_weight_written_back_in_float16_stays_one_tensor(tmp_path):
    """Cast back key by key, the two names of a tied weight became two tensors: the file
    held it twice and `export` stored it twice instead of once with an alias."""
    import numpy as np

    (tmp_path / "tied.py").write_text(TIED)
    spec = f"{tmp_path / 'tied.py'}:make"
    x = np.random.default_rng(0).integers(0, 20, size=(64, 4))
    np.savez(tmp_path / "tok.npz", x=x, y=x[:, 0])
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    torch.save({k: v.half() for k, v in build_model(spec).state_dict().items()}, tmp_path / "tied.pt")
    out = tmp_path / "pruned.pt"
    result = run("prune", tmp_path / "tied.pt", "--model", spec, "--data", f"tensors:{tmp_path / 'tok.npz'}",
                 "--include", "emb", "--ratio", 0.5, "-o", out, "--threads", 1)
    assert result.exit_code == 0, result.output
    saved = torch.load(out, weights_only=True)["state_dict"]
    assert saved["emb.weight"].dtype == torch.float16
    assert saved["emb.weight"].untyped_storage().data_ptr() == saved["out.weight"].untyped_storage().data_ptr()
    exported = run("export", out, "--model", spec, "-o", tmp_path / "m.sparse.safetensors", "--json")
    assert exported.exit_code == 0, exported.output
    aliases = {t["name"]: t["alias"] for t in json.loads(exported.stdout)["tensors"]}
    assert aliases["out.weight"] == "emb.weight"
