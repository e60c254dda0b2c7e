"""A criterion holding a float tensor of its own (a class-weighted ``CrossEntropyLoss``, a
``functools.partial`` of ``F.cross_entropy`` with ``weight=``) stopped every curvature call on a float32 model with torch's bare
``RuntimeError: expected scalar type Double but found Float``: the exact spectrum (and the
products' float64 runs) work on a float64 copy of the model, and the criterion's weight stayed
float32. It now joins the copy's type, on a copy: the caller's criterion is left alone. A
function's own tensor (a weight a lambda captures), which cannot be converted, is refused
saying so and what to write, where torch's bare error stopped the run."""

from __future__ import annotations

import copy
import functools
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import prunelimit
from prunelimit.errors import InputError

# ρ* of a float32 model against the same model written in float64: the spectrum is float64 on
# both sides, but ε comes from the float32 model's own per-batch losses (relative rounding ~1e-7)
RHO_TOLERANCE = 1e-4


@pytest.fixture
def weighted(small_model, train, fitted):
    x, y = train
    return fitted(small_model, x, y, steps=50), (x, y), torch.linspace(0.2, 3.0, 10)


def _ratio(model, data, loss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the class weight's note on merged batches is not under test
        return prunelimit.bounds(model, data, loss=loss, method="exact", batch_size=64).ratio


class OwnWeighted(nn.Module):
    """A criterion of the caller's own class holding its class weight as a buffer."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight.clone())

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target, weight=self.weight)


def test_a_class_weighted_criterion_gives_the_float64_models_limit(weighted):
    model, (x, y), weight = weighted
    truth = _ratio(copy.deepcopy(model).double(), (x.double(), y), nn.CrossEntropyLoss(weight=weight.double()))
    for loss in (nn.CrossEntropyLoss(weight=weight), functools.partial(F.cross_entropy, weight=weight),
                 OwnWeighted(weight)):
        assert _ratio(model, (x, y), loss) == pytest.approx(truth, rel=RHO_TOLERANCE)


def test_a_lambdas_own_weight_is_refused_with_what_to_write(weighted):
    model, (x, y), weight = weighted
    with pytest.raises(InputError) as error:
        _ratio(model, (x, y), lambda output, target: F.cross_entropy(output, target, weight=weight))
    assert str(error.value) == (
        "the loss fails on the float64 copy of the model the curvature is computed on (RuntimeError: expected "
        "scalar type Double but found Float): a tensor the loss holds of its own (a class weight a lambda captures) "
        "is float32; compute with it in the output's type (weight=w.to(output.dtype)), or give torch's criterion, "
        "nn.CrossEntropyLoss(weight=w), whose tensors join the copy's type")
    written = _ratio(model, (x, y), lambda output, target: F.cross_entropy(output, target,
                                                                           weight=weight.to(output.dtype)))
    assert written == _ratio(model, (x, y), nn.CrossEntropyLoss(weight=weight))  # the same arithmetic


def test_the_callers_criterion_keeps_its_weight(weighted):
    model, data, weight = weighted
    criterion = nn.CrossEntropyLoss(weight=weight)
    _ratio(model, data, criterion)
    assert criterion.weight.dtype == torch.float32 and torch.equal(criterion.weight, weight)

