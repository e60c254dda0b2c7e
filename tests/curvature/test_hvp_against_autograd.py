"""The operator's Hessian against ``torch.func.hessian`` of the full-data mean loss: over
batches that do not divide the data, as a user's ``DataLoader`` gives them; and with
activation checkpointing inside forward (``torch.utils.checkpoint``), whose non-reentrant
form gives the Hessian of the same function and whose reentrant form is refused with the
fix (torch.autograd.grad cannot go through it: its segment's parameters got no gradient,
so their curvature read as zero, or the products raised a RuntimeError)."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.utils.checkpoint as checkpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunelimit
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import InputError


class _Net(nn.Module):
    """tanh(a x) then b, with the ``segment`` ("first": a's layer, "second": b; ``None``
    for none) run under ``torch.utils.checkpoint`` (reentrant or not)."""

    def __init__(self, segment: str | None = None, reentrant: bool = False) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(5, 4), nn.Linear(4, 3)
        self.segment, self.reentrant = segment, reentrant

    def _run(self, fn, x):
        return checkpoint.checkpoint(fn, x, use_reentrant=self.reentrant)

    def forward(self, x):
        first = lambda t: torch.tanh(self.a(t))  # noqa: E731
        h = self._run(first, x) if self.segment == "first" else first(x)
        return self._run(self.b, h) if self.segment == "second" else self.b(h)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(23, 5, generator=gen, dtype=torch.float64), torch.randint(0, 3, (23,), generator=gen)


def _net(segment: str | None, reentrant: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return _Net(segment, reentrant).double()


def _func_hessian(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``torch.func.hessian`` of the full-batch mean cross-entropy over the flat parameters."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(w: torch.Tensor) -> torch.Tensor:
        parts = dict(zip(names, (c.reshape(s) for c, s in zip(w.split([s.numel() for s in shapes]), shapes))))
        return nn.functional.cross_entropy(torch.func.functional_call(model, parts, (x,)), y)

    return torch.func.hessian(loss)(flat)


@pytest.mark.parametrize("batch_size", [1, 7, 23, 40])
def test_the_hessian_of_a_data_loader_is_that_of_the_mean_loss_over_every_sample(batch_size):
    """23 samples in batches of 1, of 7 (the last of 2), in one, and in one short batch of 40:
    the exact spectrum (float64) is the eigenvalues of the full-batch mean loss's Hessian,
    rounding only (1e-10), however the batches (and the operator's chunks) cut the data."""
    x, y = _data()
    model = _net(None)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size)
    quad = prunelimit.spectrum(model, loader, method="exact").quadrature
    expected = torch.linalg.eigvalsh(_func_hessian(model, x, y)).numpy()
    assert quad.nodes[0] == pytest.approx(sorted(expected), abs=1e-10)


@pytest.mark.parametrize("segment", ["first", "second"])
def test_non_reentrant_checkpointing_gives_the_hessian_of_the_same_function(segment):
    """Against ``torch.func.hessian`` of the model without checkpointing (which torch.func
    cannot trace through a checkpoint), in float64: rounding only, 1e-10, in batches of 7
    that do not divide the 23 samples."""
    x, y = _data()
    model = _net(segment)
    op = HessianOperator(model, list(model.parameters()), [(x[i:i + 7], y[i:i + 7]) for i in range(0, 23, 7)],
                         cross_entropy_loss, chunk_samples="batches")
    dense = op.matmat(torch.eye(op.dim, dtype=torch.float64))
    torch.testing.assert_close(dense, _func_hessian(_net(None), x, y), rtol=0, atol=1e-10)


@pytest.mark.parametrize("segment", ["first", "second"])
def test_reentrant_checkpointing_is_refused_with_the_fix(segment):
    """"first": the segment's input needs no gradient, so torch gave a's parameters none,
    only a warning, and their curvature read as zero (ρ* 0.91 against 0.74); "second": a
    RuntimeError from torch.autograd.grad reached the user as an internal error."""
    x, y = _data()
    with pytest.raises(InputError, match="use_reentrant=False"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own warning for the "first" segment
        prunelimit.spectrum(_net(segment, reentrant=True), (x, y), batch_size=7, method="exact")


def test_the_operator_refuses_a_reentrant_segment_without_gradients():
    """The operator's own check, for callers that build it without the inputs' checks."""
    x, y = _data()
    model = _net("first", reentrant=True)
    with pytest.raises(InputError, match="use_reentrant=False"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        HessianOperator(model, list(model.parameters()), [(x, y)], cross_entropy_loss)


def test_a_reentrant_segment_without_parameters_is_not_refused():
    """A parameter-free function checkpointed on the input (torch warns, nothing is lost):
    every parameter gets its gradient, so the Hessian is the plain model's."""
    x, y = _data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 3)).double()

    class _Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, t):
            return self.inner(checkpoint.checkpoint(torch.tanh, t, use_reentrant=True))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        op = HessianOperator(_Wrapped(), list(model.parameters()), [(x, y)], cross_entropy_loss)
        dense = op.matmat(torch.eye(op.dim, dtype=torch.float64))
    plain = nn.Sequential(nn.Tanh(), model)
    torch.testing.assert_close(dense, _func_hessian(plain, x, y), rtol=0, atol=1e-10)


def test_other_warnings_of_the_gradient_still_show():
    """The check watches the checkpoint calls, not warnings: the model's own ones pass on."""
    x, y = _data()
    torch.manual_seed(0)

    class _Warns(nn.Linear):
        def forward(self, t):
            if torch.is_grad_enabled():
                warnings.warn("the model's own warning", UserWarning)
            return super().forward(t)

    model = _Warns(5, 3).double()
    with pytest.warns(UserWarning, match="the model's own warning"):
        HessianOperator(model, list(model.parameters()), [(x, y)], cross_entropy_loss)


def test_a_loss_that_reaches_no_parameter_is_refused():
    """A forward that detaches its output: autograd's RuntimeError ("element 0 of tensors
    does not require grad") reached the user as an internal error."""
    x, y = _data()

    class _Detached(nn.Linear):
        def forward(self, t):
            return super().forward(t).detach()

    model = _Detached(5, 3).double()
    with pytest.raises(InputError, match="depends on none of the Hessian's parameters"):
        HessianOperator(model, list(model.parameters()), [(x, y)], cross_entropy_loss)


def test_the_models_own_warning_shows_once_under_bounds_as_pythons_default_filter_shows_it():
    """The reentrant checkpoint guard recorded warnings around each gradient check and re-emitted
    them without their registry: a forward's warning showed 6 times in one ``bounds`` here (18
    in a CLI run on digits), where Python's default filter shows it once."""
    x, y = _data()

    class _Noisy(nn.Linear):
        def forward(self, t):
            warnings.warn("the model's own warning")
            return super().forward(t)

    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        prunelimit.bounds(_Noisy(5, 3).double(), (x, y), batch_size=8, method="exact")
    assert [str(w.message) for w in caught] == ["the model's own warning"]
