"""``evaluate`` (the measured search's losses against L + ε, the dense loss ``verify``,
``prune`` and ``gate --use actual`` print) under switches that round float32 products in
bfloat16, oneDNN's matmuls or its convolutions, as a model's module may set them: it ran at
them, so its losses were not those ε is now taken from (IEEE) and the search compared a
bfloat16 loss with an IEEE threshold. They now run at IEEE float32, the switches set back
after them."""

from __future__ import annotations

import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.evaluate import evaluate
from prunelimit.models.spec import build_model
from prunelimit.pruning.actual import actual_limit
from tests.conftest import SPEC, adam_fit


def _batches(x, y) -> list:
    return [(x[i:i + 128], y[i:i + 128]) for i in range(0, len(y), 128)]


def _ieee_then_reduced(run, switch: str):
    """``run()`` with oneDNN's float32 switches at IEEE, then with ``switch`` (``matmul`` or
    ``conv``) at bfloat16, which is left so for the fixture to set back."""
    mkldnn = torch.backends.mkldnn
    mkldnn.matmul.fp32_precision = mkldnn.conv.fp32_precision = "ieee"
    ieee = run()
    getattr(mkldnn, switch).fp32_precision = "bf16"
    reduced = run()
    assert getattr(mkldnn, switch).fp32_precision == "bf16"  # set back after the passes
    return ieee, reduced


def test_the_measured_search_is_the_ieee_one_under_bfloat16_matmuls(bfloat16_products, train) -> None:
    """An MLP fitted to 300 digits, ε = 0.01: before, the dense loss moved by 1.4e-4 of itself
    and every probe's loss with it. Now the same losses, bit for bit, so the same limit."""
    torch.manual_seed(0)
    model, batches = adam_fit(build_model(SPEC), *train), _batches(*train)
    ieee, reduced = _ieee_then_reduced(lambda: actual_limit(model, batches, cross_entropy_loss, 0.01), "matmul")
    assert reduced.dense_loss == ieee.dense_loss
    assert [(p.ratio, p.loss) for p in reduced.probes] == [(p.ratio, p.loss) for p in ieee.probes]
    assert reduced.loss_ratio == ieee.loss_ratio


def test_a_convolution_nets_loss_is_the_ieee_one_under_bfloat16_convolutions(bfloat16_products) -> None:
    """oneDNN's convolution switch alone (``torch.backends.mkldnn.conv.fp32_precision``): a
    two-convolution net's loss on 256 seeded 8×8 images moved by 6.8e-6 of itself before; now
    bit for bit."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(512, 10))
    batches = _batches(torch.randn(256, 1, 8, 8), torch.randint(0, 10, (256,)))
    ieee, reduced = _ieee_then_reduced(lambda: evaluate(model, batches, cross_entropy_loss), "conv")
    assert reduced == ieee


def test_a_float64_models_loss_is_unchanged_by_the_switches(bfloat16_products, train) -> None:
    """Float64 products never take the float32 switches: the loss is the same either way."""
    torch.manual_seed(0)
    model = build_model(SPEC).double()
    batches = _batches(train[0].double(), train[1])
    ieee, reduced = _ieee_then_reduced(lambda: evaluate(model, batches, cross_entropy_loss), "matmul")
    assert reduced == ieee
