"""IMP of a model with a tied weight (one Parameter in two modules): each level's checkpoint
and the rewind file hold it once, under both names (as `prune` writes it), so the file and
`export` of it do not store it twice, and a resumed sweep ties it again."""

from __future__ import annotations

import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.laws.imp import iterative_magnitude_pruning


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.mid = nn.Linear(8, 8)
        self.out = nn.Linear(8, 20, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, x):
        return self.out(self.mid(self.emb(x).mean(1)).relu())


def batches():
    x = torch.randint(0, 20, (64, 4), generator=torch.Generator().manual_seed(0))
    return [(x[i:i + 32], x[i:i + 32, 0]) for i in (0, 32)]


def tied_in(path) -> bool:
    state = torch.load(path, weights_only=True)["state_dict"]
    same = state["emb.weight"].untyped_storage().data_ptr() == state["out.weight"].untyped_storage().data_ptr()
    return same and torch.equal(state["emb.weight"], state["out.weight"])


def test_every_imp_file_holds_a_tied_weight_once(tmp_path):
    torch.manual_seed(0)
    model, data = Tied(), batches()
    iterative_magnitude_pruning(model, data, data, cross_entropy_loss, levels=2, epochs_per_level=1, epochs_dense=1,
                                out_dir=tmp_path)
    for name in ("level_000.pt", "level_001.pt", "level_002.pt", "rewind.pt"):
        assert tied_in(tmp_path / name), name
    assert model.out.weight is model.emb.weight
