"""LOMP's l1 term as documented: λ·Σ|w| over the prunable weights only (never biases or
normalisation parameters), and the reported train loss is the data loss without it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.params import ParamSelection
from prunelimit.pruning.lomp import LompConfig, train


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))


def test_one_step_of_l1_moves_prunable_weights_by_lr_lambda_sign_and_nothing_else() -> None:
    gen = torch.Generator().manual_seed(1)
    data = [(torch.randn(32, 6, generator=gen), torch.randint(0, 3, (32,), generator=gen))]
    lr, lam = 0.1, 0.01
    runs = {}
    for l1 in (0.0, lam):
        model = _net()
        start = {n: p.detach().clone() for n, p in model.named_parameters()}
        config = LompConfig(epochs=1, lr=lr, l1=l1, momentum=0.0, batch_size=32, shuffle=False)
        runs[l1] = (start, model, train(model, data, cross_entropy_loss, config))
    start, plain, plain_result = runs[0.0]
    _, l1_model, l1_result = runs[lam]
    prunable = {"0.weight", "3.weight"}
    for (name, p), q in zip(l1_model.named_parameters(), plain.parameters()):
        shift = (p - q).detach()
        if name in prunable:  # SGD on loss + λΣ|w|: the extra step is −lr·λ·sign(w)
            assert torch.allclose(shift, -lr * lam * start[name].sign(), atol=1e-7), name
        else:  # biases and LayerNorm's weight and bias: no l1 pull at all
            assert torch.equal(shift, torch.zeros_like(shift)), name
    # the train loss is the data loss alone (measured before the step: equal in both runs) ...
    assert l1_result.history[0].train_loss == plain_result.history[0].train_loss
    # ... and the penalty column is λ·Σ|w| over the prunable weights at the epoch's end
    expected = lam * sum(float(p.detach().abs().sum()) for n, p in l1_model.named_parameters() if n in prunable)
    assert abs(l1_result.history[0].penalty - expected) < 1e-6 * expected


class _Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.LSTM(3, 4, batch_first=True)
        self.norm = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(self.rnn(x)[0][:, -1]))


@pytest.mark.parametrize("scope", ["prunable", "reference"])
def test_the_reference_scope_adds_to_the_prunable_set_never_drops_from_it(scope) -> None:
    """``--l1-biases`` penalises biases and norms *too*: with ``--include rnn`` the LSTM's
    ``weight_ih_l0``/``weight_hh_l0`` (names not ending in ``weight``) lost their penalty, and its
    ``bias_ih_l0``/``bias_hh_l0`` were never penalised, under the reference scope."""
    model = _Recurrent()
    gen = torch.Generator().manual_seed(2)
    data = [(torch.randn(8, 5, 3, generator=gen), torch.randint(0, 2, (8,), generator=gen))]
    selection = ParamSelection(include=("rnn",))
    config = LompConfig(epochs=1, lr=1e-9, l1=1.0, momentum=0.0, batch_size=8, shuffle=False, l1_scope=scope)
    result = train(model, data, cross_entropy_loss, config, selection=selection)
    prunable = {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "fc.weight"}
    penalised = prunable if scope == "prunable" else {n for n, _ in model.named_parameters()}
    expected = sum(float(p.detach().abs().sum()) for n, p in model.named_parameters() if n in penalised)
    assert abs(result.history[0].penalty - expected) < 1e-6 * expected
