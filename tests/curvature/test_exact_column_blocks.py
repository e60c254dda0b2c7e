"""How many unit columns the exact spectrum asks of one product (``columns_per_product``):
the default prices a column by single products, so the columns must not be formed in a
way that costs more per column than one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.curvature.exact import CPU_COLUMN_BLOCK, COLUMN_BLOCK, columns_per_product, exact_hessian
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.operator import DenseOperator
from prunelimit.data.batches import cross_entropy_loss


def _recurrent_problem():
    torch.manual_seed(0)
    model = nn.GRU(3, 4, batch_first=True)  # D = 112
    x = torch.randn(24, 5, 3)
    head = nn.Linear(4, 2)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn, self.fc = model, head

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.rnn(x)[0][:, -1])

    return Net(), x, torch.randint(0, 2, (24,))


def test_recomputing_engine_forms_the_exact_columns_in_small_blocks_on_a_cpu(monkeypatch) -> None:
    """A block of 128 columns on the recomputing engine cost 2.4× a single product per column
    on a TransformerEncoder and 1.5× on a GRU (docs/benchmarks.md), past the prediction the
    default makes from single products; blocks of ``CPU_COLUMN_BLOCK`` did not. The spectrum
    is the same (float64 products, rounding only)."""
    net, x, y = _recurrent_problem()
    widths: list[int] = []
    matmat = HessianOperator.matmat

    def spied(self, V):
        widths.append(V.shape[1])
        return matmat(self, V)

    monkeypatch.setattr(HessianOperator, "matmat", spied)
    blocks = prunelimit.spectrum(net, (x, y), method="exact", hvp="revrev", include=("rnn",), batch_size=8)
    assert set(widths[:-1]) == {CPU_COLUMN_BLOCK} and widths[-1] <= CPU_COLUMN_BLOCK
    widths.clear()
    kept = prunelimit.spectrum(net, (x, y), method="exact", hvp="cached", include=("rnn",), batch_size=8)
    assert set(widths) == {1}
    # the same float64 products, summed in another order: rounding only (λmax ~ 0.1)
    assert blocks.lambda_max == pytest.approx(kept.lambda_max, rel=1e-12, abs=1e-15)


def test_an_explicit_matrix_keeps_the_wide_block() -> None:
    """No graph to recompute: a dense matrix's product is cheapest in wide blocks."""
    op = DenseOperator(torch.eye(3, dtype=torch.float64))
    assert columns_per_product(op) == COLUMN_BLOCK
    assert torch.equal(exact_hessian(op), torch.eye(3, dtype=torch.float64))


def test_cached_and_recomputing_operators_on_a_cpu() -> None:
    net, x, y = _recurrent_problem()
    params = list(net.rnn.parameters())
    for engine, block in (("cached", 1), ("revrev", CPU_COLUMN_BLOCK)):
        op = HessianOperator(net, params, [(x, y)], cross_entropy_loss, engine=engine, dtype=torch.float64)
        assert columns_per_product(op) == block
