"""A prediction is read (``prediction_from=``) only for the loss it was computed for, also
where the loss is a lambda or a function made by another: functions their name does not
identify are recorded with a hash of what they compute with."""

from __future__ import annotations

import pytest
import torch.nn.functional as F

import prunelimit
from prunelimit.baseline import loss_name
from prunelimit.errors import UsageError


def _smoothed(amount: float):
    """A loss made by a factory: each is ``_smoothed.<locals>.loss``, whatever its ``amount``."""
    def loss(output, target):
        return F.cross_entropy(output, target, label_smoothing=amount)
    return loss


def test_a_prediction_for_another_lambda_loss_is_refused(model, train):
    """Two lambdas were both recorded as ``…<lambda>``: ``verify(..., loss=other,
    prediction_from=r)`` read r's ρ* for another Hessian without a word; now refused, naming
    both losses."""
    plain = lambda output, target: F.cross_entropy(output, target)  # noqa: E731
    smoothed = lambda output, target: F.cross_entropy(output, target, label_smoothing=0.3)  # noqa: E731
    computed = prunelimit.bounds(model, train, method="exact", loss=plain)
    for call in (lambda: prunelimit.verify(model, train, loss=smoothed, prediction_from=computed),
                 lambda: prunelimit.gate(model, train, min_ratio=0.0, loss=smoothed, prediction_from=computed),
                 lambda: prunelimit.prune(model, "auto", train, loss=smoothed, prediction_from=computed)):
        with pytest.raises(UsageError, match=r"another problem than this model: loss \S*<lambda>\(code=\w+\) vs "
                                             r"\S*<lambda>\(code=\w+\) here"):
            call()
    assert prunelimit.verify(model, train, loss=plain, prediction_from=computed).prediction.ratio == computed.ratio


def test_a_factorys_losses_record_their_captured_values():
    """Functions made alike record alike (a report stays readable by the same loss made again);
    made with another captured value, apart."""
    assert loss_name(_smoothed(0.1)) == loss_name(_smoothed(0.1))
    assert loss_name(_smoothed(0.1)) != loss_name(_smoothed(0.2))
    assert loss_name(F.cross_entropy) == "ce"  # installed: by its name
    assert loss_name(_smoothed).startswith(f"{_smoothed.__module__}._smoothed(code=")  # the user's own: with its code
