"""``device.ieee_float32`` sets every per-operation float32 switch that rounds to IEEE and
back, the convolutions' and recurrent cells' too: the loss passes run a model's convolutions,
which oneDNN (``torch.backends.mkldnn.conv.fp32_precision = "bf16"``) and cuDNN (TF32 by
default: ``torch.backends.cudnn.allow_tf32``) round, where the Lanczos basis's guard it grew
from set the matmuls' alone. Read on the CPU, no GPU needed."""

from __future__ import annotations

import pytest
import torch

from prunelimit.cache import FP32_PRECISION_OPS, fp32_precision
from prunelimit.device import _switch_owner, ieee_float32


@pytest.fixture
def every_switch_set_back():
    """torch's float32 switches as before the test, the generic one and each operation's, owners
    first (the legacy cuDNN one with them: torch refuses to read it where conv and rnn differ,
    as an earlier test may leave them)."""
    if not hasattr(torch.backends.cudnn.conv, "fp32_precision"):
        pytest.skip("no per-operation fp32_precision in this torch (before 2.9)")
    owners = [torch.backends, torch.backends.cudnn, torch.backends.mkldnn,
              *(_switch_owner(op) for op in FP32_PRECISION_OPS)]
    old = [owner.fp32_precision for owner in owners]
    yield
    for owner, value in zip(owners, old):
        owner.fp32_precision = value


@pytest.mark.parametrize("op, value", [("mkldnn.conv", "bf16"), ("mkldnn.rnn", "bf16"), ("cudnn.conv", "tf32"),
                                       ("cudnn.rnn", "tf32")])
def test_the_guard_sets_convolution_and_recurrent_switches_to_ieee_and_back(every_switch_set_back, op, value) -> None:
    owner = _switch_owner(op)
    owner.fp32_precision = value
    with ieee_float32():  # each as torch computes it: its own, else its owners' (``none``: IEEE)
        assert {fp32_precision(torch.backends, name) for name in FP32_PRECISION_OPS} == {"ieee"}
    assert owner.fp32_precision == value


def test_cudnns_default_tf32_reads_as_it_did_after_the_guard(every_switch_set_back) -> None:
    """torch's default: cuDNN's convolutions in TF32 (``allow_tf32`` True); inside, off by that
    legacy switch, which torch reads as IEEE and still reads (``torch.backends.cudnn.flags``, which
    a model's forward may enter, reads it: set to ``ieee`` per operation, it raised "cuDNN conv and
    cuDNN RNN have different TF32 flags"), after it as they were."""
    torch.backends.cudnn.allow_tf32 = True
    with ieee_float32():
        assert {fp32_precision(torch.backends, op) for op in ("cudnn.conv", "cudnn.rnn")} == {"ieee"}
        assert torch.backends.cudnn.allow_tf32 is False
        with torch.backends.cudnn.flags(enabled=False):
            pass
    assert torch.backends.cudnn.allow_tf32 is True
    assert torch.backends.cudnn.conv.fp32_precision == torch.backends.cudnn.rnn.fp32_precision == "tf32"


def test_cudnns_own_tf32_stays_its_own_after_the_guard_under_the_generic_switch(every_switch_set_back) -> None:
    """Under ``torch.backends.fp32_precision = "tf32"`` cuDNN's conv and rnn read TF32 as their
    owners do, yet hold it themselves (torch's default). The guard set them back to ``none``:
    once the caller set the generic switch back, they read ``none``, no longer TF32 as without
    the guard, and torch's legacy ``cudnn.allow_tf32`` getter (``torch.export`` reads it) raised
    "cuDNN conv and cuDNN RNN have different TF32 flags" in every later test of the process."""
    torch.backends.fp32_precision = "none"
    torch.backends.cudnn.conv.fp32_precision = torch.backends.cudnn.rnn.fp32_precision = "tf32"  # torch's default
    torch.backends.fp32_precision = "tf32"
    with ieee_float32():
        assert torch.backends.cudnn.conv.fp32_precision == torch.backends.cudnn.rnn.fp32_precision == "ieee"
    torch.backends.fp32_precision = "none"
    assert torch.backends.cudnn.conv.fp32_precision == torch.backends.cudnn.rnn.fp32_precision == "tf32"
    assert torch.backends.cudnn.allow_tf32 is True
