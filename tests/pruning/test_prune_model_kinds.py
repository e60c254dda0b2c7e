"""Magnitude pruning and export on layer kinds beyond Linear: a grouped convolution,
BatchNorm and LayerNorm (never pruned), an LSTM and an Embedding (pruned only with
``include``), a layer called twice in ``forward`` (one tensor, counted once)."""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from prunelimit.models.params import ParamSelection, prunable_parameters
from prunelimit.pruning.magnitude import prune_model
from prunelimit.sparse.sparse_file import load_sparse, write_sparse


class _Kinds(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(11, 4)
        self.conv = nn.Conv1d(4, 6, 3, groups=2)
        self.bn = nn.BatchNorm1d(6)
        self.rnn = nn.LSTM(6, 5, batch_first=True)
        self.ln = nn.LayerNorm(5)
        self.twice = nn.Linear(5, 5)
        self.out = nn.Linear(5, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(self.emb(tokens).transpose(1, 2))).transpose(1, 2)
        x = self.ln(self.rnn(x)[0][:, -1])
        return self.out(self.twice(torch.relu(self.twice(x))))


DEFAULT = {"conv.weight", "twice.weight", "out.weight"}
INCLUDED = DEFAULT | {"emb.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0"}


def test_the_prunable_set_default_and_with_include() -> None:
    model = _Kinds()
    assert {n for n, _ in prunable_parameters(model)} == DEFAULT
    assert {n for n, _ in prunable_parameters(model, ParamSelection(include=("emb", "rnn")))} == INCLUDED


def test_pruning_removes_ceil_rho_n_of_the_set_only_and_exports_bit_for_bit(tmp_path) -> None:
    model = _Kinds()
    selection = ParamSelection(include=("emb", "rnn"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n = sum(p.numel() for _, p in prunable_parameters(model, selection))
    result = prune_model(model, 0.6, selection=selection)
    assert set(result.masks) == INCLUDED
    assert sum(int((~m).sum()) for m in result.masks.values()) == math.ceil(0.6 * n)
    state = model.state_dict()
    for name, tensor in state.items():  # norms, biases and buffers untouched; pruned weights exactly 0
        if name in result.masks:
            assert torch.equal(tensor[~result.masks[name]], torch.zeros(int((~result.masks[name]).sum())))
            assert torch.equal(tensor[result.masks[name]], before[name][result.masks[name]])
        else:
            assert torch.equal(tensor, before[name]), name
    path = tmp_path / "k.sparse.safetensors"
    layouts = write_sparse(path, state, result.masks)
    loaded = load_sparse(path)
    assert list(loaded) == list(state)
    assert all(torch.equal(loaded[k].view(torch.uint8), v.contiguous().view(torch.uint8)) for k, v in state.items()
               if v.dtype.is_floating_point)
    header = int.from_bytes(path.read_bytes()[:8], "little")  # the size claimed is the size written
    assert os.path.getsize(path) == 8 + header + sum(layout.total_bytes for layout in layouts)
    fresh = _Kinds()
    fresh.load_state_dict(loaded)
    tokens = torch.randint(0, 11, (4, 7), generator=torch.Generator().manual_seed(3))
    model.eval(), fresh.eval()
    assert torch.equal(fresh(tokens), model(tokens))
