"""A ``bounds(bound_mode='none')`` result read for ρ_L (``prediction_from=`` beside a ``lower``
gate rule or ``prune(..., 'lower')``) is refused with the fix written as the call takes it."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.errors import UsageError


def test_a_prediction_without_rho_l_read_for_it_names_the_keywords_as_written(model, train):
    """The library's message said "read ρ* instead (gate use=predicted, prune ratio=auto), or
    store the report again": values unquoted, as no call writes them, and a report in hand
    is stored nowhere. Now ``use='predicted'``, ``ratio='auto'``, and "compute it again"."""
    computed = prunelimit.bounds(model, train, method="exact", bound_mode="none")
    for call in (lambda: prunelimit.gate(model, train, min_ratio=0.1, prediction_from=computed),
                 lambda: prunelimit.prune(model, "lower", train, prediction_from=computed)):
        with pytest.raises(UsageError, match="computes no ρ_L") as refused:
            call()
        message = str(refused.value)
        assert "gate's use='predicted', prune's ratio='auto'" in message, message
        assert message.endswith("or compute it again without bound_mode='none'"), message
    assert prunelimit.prune(model, "auto", train, prediction_from=computed).requested == computed.ratio  # the fix


def test_a_lower_rule_under_bound_mode_none_names_use_as_a_call_writes_it(model, train):
    """Refused before the spectrum, the library was told "gate on predicted or actual (use)",
    the command line's words; now ``use='predicted'`` or ``use='actual'``, and that fix works."""
    with pytest.raises(UsageError) as refused:
        prunelimit.gate(model, train, min_ratio=0.1, bound_mode="none")
    assert str(refused.value).endswith(
        "does not compute: gate on use='predicted' or use='actual', or pass another bound_mode"), str(refused.value)
    assert prunelimit.gate(model, train, min_ratio=0.1, use="predicted", bound_mode="none", method="exact").passed
