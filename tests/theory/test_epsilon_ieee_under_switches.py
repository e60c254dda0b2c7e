"""ε, the loss and the exact ρ* under switches that round float32 products in bfloat16
(``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``, as a model's module or a library
caller may set them): the per-batch losses ε is taken from ran at those switches, so on a
64-12-10 MLP fitted to 300 digits ε moved by 2.9e-3 of itself and the exact spectrum's ρ*,
stated ± 0, by about 0.01 pt from its IEEE value (66.80 % for 66.81 %). The loss passes now run at IEEE float32
(``device.ieee_float32``), the switches set back after them; the products keep them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.spec import build_model
from prunelimit.theory.epsilon import batch_losses
from tests.conftest import SPEC, adam_fit


@pytest.fixture
def fitted_mlp(train) -> torch.nn.Module:
    torch.manual_seed(0)
    return adam_fit(build_model(SPEC), *train)


def _batches(train) -> list:
    x, y = train
    return [(x[i:i + 128], y[i:i + 128]) for i in range(0, len(y), 128)]


def _switches_on() -> None:
    """The ``bfloat16_products`` fixture's switches, set after an IEEE reference was taken."""
    torch.backends.mkldnn.matmul.fp32_precision = torch.backends.mkldnn.conv.fp32_precision = "bf16"


def test_batch_losses_are_the_ieee_ones_under_bfloat16_switches(bfloat16_products, fitted_mlp, train) -> None:
    """Bit for bit: the same passes at IEEE give the same losses (before, up to 1.2e-3 apart)."""
    torch.backends.mkldnn.matmul.fp32_precision = torch.backends.mkldnn.conv.fp32_precision = "ieee"
    ieee = batch_losses(fitted_mlp, _batches(train), cross_entropy_loss)
    _switches_on()
    assert np.array_equal(batch_losses(fitted_mlp, _batches(train), cross_entropy_loss), ieee)
    assert torch.backends.mkldnn.matmul.fp32_precision == torch.backends.mkldnn.conv.fp32_precision == "bf16"


def test_the_exact_answer_is_the_ieee_one_under_bfloat16_switches(bfloat16_products, fitted_mlp, train) -> None:
    """The exact spectrum's float64 columns never took the switches; its ε (from the float32
    losses) did. 1e-12: the same float64 eigenvalues and the same ε give the same ρ* to
    float64's rounding of the root (bfloat16 moved it by about 1e-4); the precision record still
    shows the caller's switches, which the run's float32 products took."""
    torch.backends.mkldnn.matmul.fp32_precision = torch.backends.mkldnn.conv.fp32_precision = "ieee"
    ieee = prunelimit.bounds(fitted_mlp, train, method="exact")
    _switches_on()
    reduced = prunelimit.bounds(fitted_mlp, train, method="exact")
    assert reduced.spectrum.epsilon == ieee.spectrum.epsilon
    assert reduced.ratio == pytest.approx(ieee.ratio, abs=1e-12)
    assert reduced.uncertainty.plus_minus == 0.0
    assert reduced.provenance.precision["fp32_precision_mkldnn_matmul"] == "bf16"
