"""A library call as a notebook user types it, where its signature takes another form: the
data as ``x, y`` apart (or ``x=``, ``y=``), a keyword-only argument by position, a required
argument left out, a model with complex parameters. Each raised Python's ``TypeError`` or a
torch error from deep inside ('takes 2 positional arguments but 3 were given', 'mat1 and mat2
must have the same dtype'), or read ``y`` as ``prune``'s data and ``x`` as its ratio; each is
now one message naming the call to make (a ``CallError``, also a ``TypeError``, or a
``UsageError`` naming the parameter)."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.errors import CallError, UsageError

CALL = "an (x, y) pair of tensors (or a DataLoader or a list of (x, y) batches), not x and y apart: "


@pytest.mark.parametrize("call, right", [
    (lambda m, x, y: prunelimit.bounds(m, x, y), "prunelimit.bounds(model, (x, y))"),
    (lambda m, x, y: prunelimit.spectrum(m, x, y), "prunelimit.spectrum(model, (x, y))"),
    (lambda m, x, y: prunelimit.info(m, x, y), "prunelimit.info(model, (x, y))"),
    (lambda m, x, y: prunelimit.verify(m, x, y), "prunelimit.verify(model, (x, y))"),
    (lambda m, x, y: prunelimit.gate(m, x, y, min_ratio=0.1), "prunelimit.gate(model, (x, y))"),
    (lambda m, x, y: prunelimit.nplh(m, x, y), "prunelimit.nplh(model, (x, y))"),
    (lambda m, x, y: prunelimit.train(m, x, y), "prunelimit.train(model, (x, y))"),
    (lambda m, x, y: prunelimit.imp(m, x, y), "prunelimit.imp(model, (x, y))"),
    (lambda m, x, y: prunelimit.inputs_from(m, x, y), "prunelimit.inputs_from(model, (x, y))"),
    # the ratio first, or x where the ratio goes (it was refused as a ratio that is a Tensor)
    (lambda m, x, y: prunelimit.prune(m, "auto", x, y), "prunelimit.prune(model, ratio, (x, y))"),
    (lambda m, x, y: prunelimit.prune(m, x, y), "prunelimit.prune(model, ratio, (x, y))"),
    # y was read as the density ('density must lie in (0, 1), got Tensor')
    (lambda m, x, y: prunelimit.hyperflux(m, x, y), "prunelimit.hyperflux(model, (x, y), density)"),
    (lambda m, x, y: prunelimit.bounds(m, x=x, y=y), "prunelimit.bounds(model, (x, y))"),
])
def test_x_and_y_given_apart_are_refused_naming_the_pair(model, train, call, right):
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    with pytest.raises(CallError) as refused:
        call(model, *train)
    assert str(refused.value).endswith(CALL + right), str(refused.value)
    assert isinstance(refused.value, TypeError) and "\n" not in str(refused.value)
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())  # nothing ran


@pytest.mark.parametrize("call, message", [
    (lambda m, d: prunelimit.verify(m, d, d), "verify() takes model, data by position and eval_data=, loss=, "
                                              "batch_size=, … by name, and 3 arguments were given by position: e.g. "
                                              "prunelimit.verify(model, (x, y), eval_data=…)"),
    (lambda m, d: prunelimit.gate(m, d, 0.5), "e.g. prunelimit.gate(model, (x, y), min_ratio=…)"),
    (lambda m, d: prunelimit.bounds(m, d, "ce"), "e.g. prunelimit.bounds(model, (x, y), loss=…)"),
    (lambda m, d: prunelimit.bounds(m), "bounds() needs data: prunelimit.bounds(model, (x, y))"),
    (lambda m, d: prunelimit.prune(m), "prune() needs ratio: prunelimit.prune(model, ratio, (x, y))"),
    (lambda m, d: prunelimit.info(m, d, method="exact"),
     "info() got an unexpected keyword argument 'method'; it takes model, data by position and loss=, batch_size=, "
     "include=, … by name: prunelimit.info(model, (x, y))"),
])
def test_a_call_its_signature_does_not_take_names_the_call_to_make(model, train, call, message):
    with pytest.raises(CallError) as refused:
        call(model, train)
    assert message in str(refused.value), str(refused.value)


def test_the_forms_taken_still_run(model, train):
    """The pair by position or by name, and a ratio as a number (without data, which a number
    does not read: tests/test_library_prune_number_unread.py)."""
    assert prunelimit.prune(model, 0.5, scope="layer").achieved == 0.5  # 0.5 of each layer's even count
    assert prunelimit.info(model, data=train).loss == prunelimit.info(model, train).loss


class _Complex(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.real = torch.nn.Linear(64, 8)
        self.mix = torch.nn.Linear(8, 10, dtype=torch.cfloat)

    def forward(self, x):
        return self.mix(self.real(x).to(torch.cfloat)).abs()


@pytest.mark.parametrize("call", [
    lambda m, d: prunelimit.bounds(m, d), lambda m, d: prunelimit.spectrum(m, d), lambda m, d: prunelimit.info(m, d),
    lambda m, d: prunelimit.prune(m, 0.5), lambda m, d: prunelimit.train(m, d, epochs=1),
])
def test_a_complex_parameter_is_refused_naming_it(train, call):
    """``bounds`` failed in torch ('mat1 and mat2 must have the same dtype, but got ComplexFloat
    and Double'), and ``prune`` ranked the weights by their real part, with numpy's warning."""
    torch.manual_seed(0)
    model = _Complex()
    with pytest.raises(UsageError, match=r"^model: parameter 'mix\.weight' is complex \(complex64\), and the Hessian, "
                                         r"magnitudes and masks are of real weights; hold its real and imaginary parts "
                                         r"as two real parameters") as refused:
        call(model, train)
    assert "\n" not in str(refused.value)
