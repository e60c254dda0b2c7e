"""An eager module calling a custom operator defined in Python (``torch.library.custom_op``, called as
``torch.ops.ns.op``): the operator's Python counts in ``weights.python`` and in the result cache key. A
backward scaled by another constant moves the gradient alone, so the weights, the module's own code and
the loss on the data (the cache's witness) are the same: before, a report computed for a backward scaled
by 1 was read for one scaled by 3 (``gate --from``: 81.62 % read, 73.87 % computed with ``--no-cache``),
and ``bounds`` read the cached 81.62 %. A module calling the object ``custom_op`` returned was recorded
by torch's state of the operator, so that a report was refused for its own model in the next process."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError
from tests import conftest
from tests.conftest import keys_at_backward_scales, recorded_in_two_processes

_NAMESPACE = torch.ops.prunelimit_tests


class _Net(nn.Module):
    """Calls the operator by torch.ops' names: the module reads torch alone."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

    def forward(self, x):
        return self.b(torch.ops.prunelimit_tests.scaled_tanh(self.a(x)))


# the other ways a forward reaches it, each a class apart (a module's code is read whole)
class _ByOverload(_Net):
    def forward(self, x):
        return self.b(torch.ops.prunelimit_tests.scaled_tanh.default(self.a(x)))


class _ByNamespace(_Net):  # a namespace held at import
    def forward(self, x):
        return self.b(_NAMESPACE.scaled_tanh(self.a(x)))


class _ByCustomOp(_Net):  # the object custom_op returned (not imported by its name: _Net's forward reads that)
    def forward(self, x):
        return self.b(conftest.scaled_tanh(self.a(x)))


_CALLS = {net.__name__: net for net in (_Net, _ByOverload, _ByNamespace, _ByCustomOp)}


@pytest.mark.parametrize("call", list(_CALLS))
def test_a_report_of_another_operator_backward_is_refused(train, monkeypatch, call):
    report = prunelimit.bounds(_CALLS[call](), train)
    # its own operator reads it
    assert prunelimit.gate(_CALLS[call](), train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    monkeypatch.setattr(conftest, "SCALED_TANH_BACKWARD", 3.0)
    with pytest.raises(UsageError, match="the model's Python code differs"):
        prunelimit.gate(_CALLS[call](), train, min_ratio=0.0, use="predicted", prediction_from=report)


def test_the_verdict_read_was_stale(train, monkeypatch):
    """The same weights compute another limit (exact spectra: the Hessian scales by 9 in the operator's
    part, far above float rounding)."""
    before = prunelimit.bounds(_Net(), train).ratio
    monkeypatch.setattr(conftest, "SCALED_TANH_BACKWARD", 3.0)
    assert abs(prunelimit.bounds(_Net(), train).ratio - before) > 0.01


def test_the_cache_key_holds_the_operator_backward(train, monkeypatch):
    (first, witness), (scaled, scaled_witness), (again, _) = keys_at_backward_scales(_Net, train, monkeypatch)
    # the loss on the first batch is the same (the forward is): the witness cannot tell them apart
    assert scaled_witness == witness and scaled != first and again == first


# a process recording the model's Python, having run the operator's forward and backward first or not
_RECORD = ("import torch; from tests.api import test_from_eager_custom_operator as t; from prunelimit.baseline import "
           "_python; m = t.{call}(); {run}print(_python(m)[0])")


@pytest.mark.parametrize("call", ["_Net", "_ByCustomOp"])
def test_the_operator_is_recorded_alike_in_another_process(call):
    """A report is read by another command, another process: the operator counts by the functions its
    kernels run, not by torch's objects, which hold its state (a dispatch cache filled once it ran)."""
    recorded = recorded_in_two_processes(_RECORD.format(call=call, run="{run}"))
    assert recorded[0] != "None" and recorded[0] == recorded[1]
