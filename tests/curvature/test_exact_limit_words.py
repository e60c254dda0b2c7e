"""The exact spectrum's size limit names the way out as its reader gives it: ``method='slq'``
to a library caller (it said ``--method slq``), ``--method slq`` on the command line
(tests/test_time_to_answer_audit.py)."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError
from prunelimit.models.spec import build_model


def test_a_library_call_past_the_exact_limit_is_told_the_argument() -> None:
    torch.manual_seed(0)
    model = build_model("mlp:64,300,10")  # D = 22,510
    data = (torch.randn(32, 64, generator=torch.Generator().manual_seed(0)), torch.arange(32) % 10)
    with pytest.raises(UsageError, match=r"^exact Hessian of dimension 22,510 exceeds the limit of 16,384 \(D products, "
                                         r"8·D² bytes\); use SLQ \(method='slq', or the default\)$"):
        prunelimit.bounds(model, data, method="exact", batch_size=16)
