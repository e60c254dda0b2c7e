"""Weight matrices the default prunable set leaves out are named, not passed over in silence.

A GRU classifier's ρ* was its linear head's alone (N = 160 of D = 1,418) with nothing saying
the recurrent weights were outside N; each command that reads the set now says so once, with
the include that prunes them."""

import torch
from torch import nn

import prunelimit


class _RowGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 6, batch_first=True)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.rnn(x.reshape(-1, 2, 4))[0][:, -1])


class _TiedLM(nn.Module):
    """An output layer tied to the embedding: the matrix counts once, as the embedding's."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 5)
        self.mix = nn.Linear(5, 5)
        self.out = nn.Linear(5, 7, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, ids):
        return self.out(torch.tanh(self.mix(self.emb(ids))))


def _left_out(warnings):
    return [w for w in warnings if "outside the prunable set by default" in w]


def test_a_recurrent_layer_left_out_is_named_with_its_weights_and_the_include():
    torch.manual_seed(0)
    model = _RowGRU()
    report = prunelimit.info(model)
    (warning,) = _left_out(report.warnings)
    recurrent = sum(p.numel() for name, p in model.rnn.named_parameters() if name.startswith("weight"))
    assert f"{recurrent:,} weights" in warning and "'rnn' (GRU)" in warning and "include=('rnn',)" in warning
    assert report.params_prunable == model.head.weight.numel()
    widened = prunelimit.info(model, include=("rnn",))
    assert not _left_out(widened.warnings)
    assert widened.params_prunable == model.head.weight.numel() + recurrent


def test_a_tied_embedding_is_named_once_as_the_embedding():
    report = prunelimit.info(_TiedLM())
    (warning,) = _left_out(report.warnings)
    assert "35 weights" in warning and "'emb' (Embedding)" in warning and "'out'" not in warning
    assert report.params_prunable == 25  # mix alone: out's weight is emb's


def test_an_excluded_module_is_not_named():
    report = prunelimit.info(_RowGRU(), exclude=("rnn",))
    assert not _left_out(report.warnings)


def test_the_bounds_report_carries_it():
    torch.manual_seed(0)
    x, y = torch.randn(40, 8), torch.randint(0, 3, (40,))
    report = prunelimit.bounds(_RowGRU(), (x, y), method="exact", batch_size=10)
    assert len(_left_out(report.warnings)) == 1
