"""``prunelimit.prune(model, "auto", data)`` sorted the weights by magnitude for the prediction
(``bounds``' path along the scope) and again for the masks (``MagnitudeOrder.of``), as the command
line did before it passed the prediction's path on (``ResolvedRatio.path``): the library's
inputs hold the caller's module itself, so the path ranks the weights masked. Counted, not timed;
the masks are those a sort of their own gives."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.pruning.magnitude import MagnitudeOrder, magnitude_masks
from tests.api.test_measured_slice import _fitted

PLAN = {"iterations": 30, "runs": 2}


@pytest.mark.parametrize("ratio, scope", [("auto", "global"), ("lower", "layer")])
def test_the_pruning_to_the_prediction_sorts_no_weight_again(monkeypatch, ratio, scope) -> None:
    model, data = _fitted(300, 12)
    orders: list = []
    real = MagnitudeOrder.of
    monkeypatch.setattr(MagnitudeOrder, "of", classmethod(lambda _, *a, **k: orders.append(a) or real(*a, **k)))
    pruning = prunelimit.prune(model, ratio, data, scope=scope, **PLAN)
    assert orders == []  # one before: the masks' own sort
    monkeypatch.undo()
    expected = magnitude_masks(model, pruning.requested, scope)
    assert pruning.masks.keys() == expected.keys()
    assert all(torch.equal(pruning.masks[name], expected[name]) for name in expected)
