"""A saved prediction is refused for a TorchScript model whose custom operator's Python differs from the
one it was computed for (``torch.library.custom_op``: the archive names the operator, its Python
implements it): a backward scaled by another constant moves the gradient alone, so the code, the weights
and the loss on the data are the same, and ``gate --from`` gated on the old ρ* in silence (76.29 % read,
67.77 % computed with ``--no-cache``, a ``--model`` factory loading the archive)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError
from tests import conftest
from tests.conftest import keys_at_backward_scales, recorded_in_two_processes


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

    def forward(self, x):
        return self.b(torch.ops.prunelimit_tests.scaled_tanh(self.a(x)))


def _scripted() -> torch.jit.ScriptModule:
    torch.manual_seed(0)
    return torch.jit.script(_Net())


def test_a_report_of_another_custom_operator_backward_is_refused(train, monkeypatch):
    report = prunelimit.bounds(_scripted(), train)
    # its own operator reads it
    assert prunelimit.gate(_scripted(), train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    monkeypatch.setattr(conftest, "SCALED_TANH_BACKWARD", 3.0)
    with pytest.raises(UsageError, match="the model's TorchScript differs .*the Python of a custom operator it "
                                         r"calls \(prunelimit_tests::scaled_tanh\)"):
        prunelimit.gate(_scripted(), train, min_ratio=0.0, use="predicted", prediction_from=report)
    # the verdict it would have read was stale: the same weights compute another limit (exact spectra: the
    # Hessian scales by 3 in the operator's part, far above float rounding)
    assert abs(prunelimit.bounds(_scripted(), train).ratio - report.ratio) > 0.01



# a process recording the model's code, having run the operator's forward and backward first or not
_RECORD = ("import torch; from tests.api.test_from_custom_operator import _scripted; from prunelimit.baseline import "
           "_code; m = _scripted(); {run}print(_code(m)['code'])")


def test_the_operator_is_recorded_alike_in_another_process():
    """A report is read by another command, another process: the operator's Python is recorded by the
    functions its kernels run, not by the wrapper torch registers, whose closure holds the operator's state
    (its own report was refused where the command storing it had run the operator). Two processes: pytest
    rewrites a test module's code, so this one's functions are not those another process imports."""
    recorded = recorded_in_two_processes(_RECORD)
    assert recorded[0] and recorded[0] == recorded[1]


def test_the_cache_key_holds_the_operator_backward(train, monkeypatch):
    """The result cache keyed the archive alone: ``bounds`` read the ρ* cached for a backward scaled by 1
    for one scaled by 3, the first batch's loss (the witness) the same."""
    (first, witness), (scaled, scaled_witness), (again, _) = keys_at_backward_scales(_scripted, train, monkeypatch)
    assert scaled_witness == witness and scaled != first and again == first
