"""The Hessian operator's loss passes (the per-batch losses SLQ's ε is taken from, the loss
``bounds`` and ``spectrum`` print, the data's determinism and per-sample-mean checks) under
switches that round float32 products in bfloat16 (``torch.backends.mkldnn.matmul
.fp32_precision = "bf16"``): they ran at them, so a 64-16-10 MLP trained on the digits printed
loss 0.04075 for its IEEE 0.04090 and ε moved by 0.7 %, where ``--method slq`` stated ρ* ± 0.
They now run at IEEE float32; the products keep the switches (their rounding part says so)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from prunelimit.curvature.hvp import HessianOperator
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.spec import build_model
from tests.conftest import SPEC, adam_fit


def test_the_operators_losses_are_the_ieee_ones_under_bfloat16_switches(bfloat16_products, train) -> None:
    """Bit for bit: the same passes at IEEE (before, the loss moved by 1.4e-4 of itself, each
    batch's by up to 1.2e-3)."""
    torch.manual_seed(0)
    model = adam_fit(build_model(SPEC), *train)
    x, y = train
    batches = [(x[i:i + 128], y[i:i + 128]) for i in range(0, len(y), 128)]
    params = list(model.parameters())
    torch.backends.mkldnn.matmul.fp32_precision = "ieee"
    ieee = HessianOperator(model, params, batches, cross_entropy_loss)
    torch.backends.mkldnn.matmul.fp32_precision = "bf16"
    reduced = HessianOperator(model, params, batches, cross_entropy_loss)
    assert np.array_equal(reduced.batch_losses(), ieee.batch_losses())
    assert reduced.loss() == ieee.loss()
    assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"  # set back after the passes


def test_small_batches_are_merged_without_a_false_warning_under_bfloat16_switches(bfloat16_products, train) -> None:
    """The per-sample-mean check compares the chunked loss with the batches' to 1e-5: under the
    switches the 32-sample batches rounded otherwise than the merged 300-sample chunk, so the
    check read a mean loss as "not a per-sample mean (merging batches changed it)", warned so,
    and the products walked 32-sample batches (``--hessian-samples 400`` on a 64-16-10 MLP
    warned it too). At IEEE the two agree: one chunk, no warning."""
    torch.manual_seed(0)
    model = adam_fit(build_model(SPEC), *train)
    x, y = train
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(y), 32)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss)
    assert op.chunk_sizes() == [len(y)]
