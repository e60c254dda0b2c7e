"""A saved prediction is refused for a TorchScript model whose custom operator's Python differs from the
one it was computed for (``torch.library.custom_op``: the archive names the operator, its Python
implements it): a backward scaled by another constant moves the gradient alone, so the code, the weights
and the loss on the data are the same, and ``gate --from`` gated on the old ρ* in silence (76.29 % read,
67.77 % computed with ``--no-cache``, a ``--model`` factory loading the archive)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError

# the operator's backward reads it: 1.0 is tanh's own gradient
_SCALE = 1.0


@torch.library.custom_op("prunelimit_tests_from::act", mutates_args=())
def _act(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


@_act.register_fake
def _(x):
    return torch.empty_like(x)


def _setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


def _backward(ctx, g):
    (x,) = ctx.saved_tensors
    return g * _SCALE * (1 - torch.tanh(x) ** 2)


_act.register_autograd(_backward, setup_context=_setup)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

    def forward(self, x):
        return self.b(torch.ops.prunelimit_tests_from.act(self.a(x)))


def _scripted() -> torch.jit.ScriptModule:
    torch.manual_seed(0)
    return torch.jit.script(_Net())


def test_a_report_of_another_custom_operator_backward_is_refused(train, monkeypatch):
    report = prunelimit.bounds(_scripted(), train)
    # its own operator reads it
    assert prunelimit.gate(_scripted(), train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    monkeypatch.setitem(globals(), "_SCALE", 3.0)
    with pytest.raises(UsageError, match="the model's TorchScript differs .*the Python of a custom operator it "
                                         r"calls \(prunelimit_tests_from::act\)"):
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
    recorded = [subprocess.run([sys.executable, "-c", _RECORD.format(run=run)], capture_output=True, text=True,
                               check=True, cwd=Path(__file__).parents[2]).stdout.strip()
                for run in ("", "m(torch.ones(2, 64)).sum().backward(); ")]
    assert recorded[0] and recorded[0] == recorded[1]
