"""The regime check's near-zero share (prunelimit/theory/regime.py) on synthetic weights:
rescalings a BatchNorm network allows, and what balancing leaves alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunelimit.theory.regime import assess_regime, balanced


def _conv_bn_net(seed: int, near_zero: float) -> nn.Sequential:
    """conv → BatchNorm → ReLU → conv, Gaussian weights (a smooth, plainly trained shape) with
    a ``near_zero`` share of them, scattered, set to 1e-6 of their size (an l1 shape)."""
    torch.manual_seed(seed)
    # float64 and a negligible eps: the BatchNorm then divides out any scale of its input exactly
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16, eps=1e-20), nn.ReLU(), nn.Conv2d(16, 8, 3))
    net = net.double().eval()
    with torch.no_grad():
        net[1].weight.uniform_(0.5, 2.0)
        net[1].bias.normal_()
        for conv in (net[0], net[3]):
            conv.weight.normal_()
            conv.weight[torch.rand(conv.weight.shape) < near_zero] *= 1e-6
    return net


@pytest.mark.parametrize("near_zero, l1", [(0.0, False), (0.5, True)])
def test_batchnorm_channel_rescalings_keep_the_regime(near_zero, l1):
    """A BatchNorm's gamma/beta scaled per channel by c in 10^±4 and the next convolution's
    input channels by 1/c computes the same function (ReLU is positively homogeneous); the
    convolution before the BatchNorm scaled per output channel only moves its running
    statistics. Against raw magnitudes the plain net turned l1-shaped."""
    net = _conv_bn_net(0, near_zero)
    weights = [net[0].weight, net[3].weight]
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    before, out = assess_regime(weights), net(x)
    g = torch.Generator().manual_seed(2)
    c = 10.0 ** (torch.rand(16, generator=g, dtype=torch.float64) * 8 - 4)
    d = 10.0 ** (torch.rand(16, generator=g, dtype=torch.float64) * 8 - 4)
    with torch.no_grad():
        net[1].weight.mul_(c)
        net[1].bias.mul_(c)
        net[3].weight.div_(c[None, :, None, None])
        net[0].weight.mul_(d[:, None, None, None])
        net[0].bias.mul_(d)
        net[1].running_mean.mul_(d)
        net[1].running_var.mul_(d ** 2)
    assert torch.allclose(net(x), out, rtol=1e-6, atol=1e-6)
    after = assess_regime(weights)
    assert before.l1_shaped == after.l1_shaped == l1
    assert after.near_zero_share == pytest.approx(before.near_zero_share, abs=0.01)


@pytest.mark.parametrize("pruned", [0.0, 0.6])
def test_balancing_is_the_same_for_every_row_and_column_scaling(pruned):
    """Also with exact zeros (a pruned tensor), which leave the rows and columns uneven."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(10, 6, 3, generator=g, dtype=torch.float64)
    w[torch.rand(w.shape, generator=g) < pruned] = 0.0
    rows, cols = 10.0 ** torch.linspace(-4, 4, 10), 10.0 ** torch.linspace(3, -3, 6)
    a, b = balanced(w), balanced(w * rows[:, None, None] * cols[None, :, None])
    assert torch.allclose(a, b, rtol=1e-6) and torch.equal(a == 0, w == 0)


def test_an_empty_weight_has_no_levels_to_fit_and_counts_nothing():
    """A 0 × 16 weight (``nn.Linear(16, 0)``) failed the fit's reshape: every `bounds` on such a model exited 5."""
    empty = torch.zeros(0, 16)
    assert balanced(empty).shape == (0, 16)
    full = torch.ones(4, 16)
    assert assess_regime([empty, full]) == assess_regime([full])


def test_an_all_zero_model_gets_one_plain_message_not_l1_advice():
    """Every prunable weight exactly zero: pruning removes nothing, so ρ* = 1 is exact and no
    l1 regime is assumed; the regime said 0 weights were "too few to tell whether it was
    l1-trained" and that ρ* might overshoot, advising `verify` even inside verify."""
    regime = assess_regime([torch.zeros(8, 4), torch.zeros(3, 8)])
    assert regime.weights == 0 and regime.zero_share == 1.0 and not regime.l1_shaped
    assert regime.advice.startswith("every prunable weight (56) is exactly zero")
    assert "l1" not in regime.advice and "overshoot" not in regime.advice and "verify" not in regime.advice
    few = assess_regime([torch.zeros(8, 4), torch.eye(3, 8)])  # 3 live weights still decide the function
    assert few.weights == 3 and "too few" in few.advice
