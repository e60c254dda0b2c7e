"""``matmat`` takes one product per vector only where the batched pass fails and a single product works, and says so."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunelimit.curvature.hvp import HessianOperator


class _Square(torch.autograd.Function):
    """x² whose gradient is another Function with a data-dependent double backward (it
    reads a value with ``float``): vmap has no batching rule for that (aten::item)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _Twice.apply(g, x)


class _Twice(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(g, x)
        return 2 * g * x

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        if float(gg.abs().sum()) == 0.0:  # data-dependent: what vmap cannot batch
            return torch.zeros_like(gg), torch.zeros_like(x)
        return 2 * gg * x, 2 * gg * g


def _operator(engine: str, loss_fn) -> HessianOperator:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(12, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (12,), generator=gen)
    return HessianOperator(model, list(model.parameters()), [(x[:6], y[:6]), (x[6:], y[6:])], loss_fn,
                           engine=engine)


def _squared_loss(model, batch):
    x, y = batch
    return _Square.apply(model(x)).mean() + nn.functional.cross_entropy(model(x), y)


def _plain_loss(model, batch):
    x, y = batch
    return nn.functional.cross_entropy(model(x), y)


@pytest.mark.parametrize("engine", ["cached", "revrev"])
def test_unbatchable_operation_falls_back_once_with_a_warning(engine):
    op = _operator(engine, _squared_loss)
    vs = torch.randn(5, op.dim, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with pytest.warns(UserWarning, match="one at a time"):
        products = op.matmat(vs.T).T
    assert "aten::item" in op.fallback
    expected = torch.stack([op.matvec(v) for v in vs])
    # the same products by the same code path: float64, identical order
    assert torch.allclose(products, expected, rtol=0, atol=1e-14)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # announced once, not on every call
        op.matmat(vs.T)


def test_batched_products_need_no_fallback():
    op = _operator("cached", _plain_loss)
    op.matmat(torch.eye(op.dim, dtype=torch.float64)[:, :4])
    assert op.fallback is None


def test_other_errors_of_the_batched_pass_propagate(monkeypatch):
    op = _operator("cached", _plain_loss)

    def broken(*args, batched=False, **kwargs):
        raise RuntimeError("something else went wrong")

    monkeypatch.setattr(op, "_second_backward", broken)
    with pytest.raises(RuntimeError, match="something else"):
        op.matmat(torch.eye(op.dim, dtype=torch.float64)[:, :3])
    assert op.fallback is None
