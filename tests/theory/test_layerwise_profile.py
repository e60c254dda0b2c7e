"""R(ρ) on the layer-wise path equals ‖w − MP^layer_ρ(w)‖ measured by pruning the model."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from prunelimit.errors import UsageError
from prunelimit.models.params import prunable_parameters
from prunelimit.models.zoo import mlp
from prunelimit.pruning.magnitude import prune_model
from prunelimit.theory.limit import predict_limit
from prunelimit.theory.profile import LayerwiseProfile, MagnitudeProfile, path_profile


def _model(seed: int) -> torch.nn.Module:
    """MLP 13-17-11-5 (tensors of 221, 187 and 55 weights: ρ·n_l rarely whole at once),
    the layers at different scales so the two paths part, a few ties and zeros."""
    torch.manual_seed(seed)
    model = mlp([13, 17, 11, 5])
    with torch.no_grad():
        for scale, (_, p) in zip((1.0, 0.1, 3.0), prunable_parameters(model)):
            p.mul_(scale)
            p.view(-1)[:5] = 0.0
            p.view(-1)[5:9] = p.view(-1)[9]
    return model


def _measured_radius(model: torch.nn.Module, ratio: float) -> float:
    """Brute force: prune a copy layer-wise and take the l2 distance to the original."""
    pruned = copy.deepcopy(model)
    prune_model(pruned, ratio, "layer")
    before = torch.cat([p.detach().double().reshape(-1) for _, p in prunable_parameters(model)])
    after = torch.cat([p.detach().double().reshape(-1) for _, p in prunable_parameters(pruned)])
    return float((before - after).norm())


RATIOS = sorted({*np.linspace(0, 0.999, 67).round(6), 0.07, 0.1, 1 / 3, 0.5, 0.9, 0.995})


@pytest.mark.parametrize("seed", [0, 1])
def test_layerwise_radius_equals_the_pruned_distance(seed):
    model = _model(seed)
    profile = path_profile([p for _, p in prunable_parameters(model)], "layer")
    assert isinstance(profile, LayerwiseProfile) and profile.n == 221 + 187 + 55
    for ratio in RATIOS:
        # 1e-12: a float64 sum of a few hundred squares in two orders
        assert profile.radius(ratio) == pytest.approx(_measured_radius(model, ratio), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_layerwise_masks_are_those_of_layer_pruning(seed):
    model = _model(seed)
    tensors = [p for _, p in prunable_parameters(model)]
    profile = LayerwiseProfile.from_tensors(tensors)
    for ratio in (0.1, 0.5, 0.93):
        pruned = copy.deepcopy(model)
        masks = prune_model(pruned, ratio, "layer").masks
        for mine, theirs in zip(profile.keep_masks(ratio), masks.values()):
            assert torch.equal(mine, theirs.cpu())


def test_continuous_layerwise_radius_is_monotone_and_meets_the_steps():
    """Interpolated within each tensor: non-decreasing (so the fixed point has one root), at
    most the step R (ceil) and at least the R a grid step earlier."""
    profile = LayerwiseProfile.from_tensors([p for _, p in prunable_parameters(_model(0))])
    grid = np.linspace(0, 1, 4001)
    smooth = np.array([profile.radius_continuous(r) for r in grid])
    assert np.all(np.diff(smooth) >= -1e-12)
    assert smooth[-1] == pytest.approx(profile.norm, rel=1e-12) and smooth[0] == 0.0
    step = np.array([profile.radius(r) for r in grid])
    assert np.all(smooth <= step * (1 + 1e-12))


def test_layerwise_prediction_differs_from_global_and_solves_its_own_equation():
    """With layers at different scales the layer-wise path removes large weights of the
    large-scale layer early: a different R(ρ), so a different ρ*; each ρ* solves ρ = F(R(ρ))
    on its own path (2ε = 0.1)."""
    tensors = [p for _, p in prunable_parameters(_model(0))]
    nodes, weights = np.array([[0.5, 4.0, 40.0]]), np.array([[0.5, 0.3, 0.2]])
    layer, whole = LayerwiseProfile.from_tensors(tensors), MagnitudeProfile.from_tensors(tensors)
    for profile in (layer, whole):
        p = predict_limit(profile, nodes, weights, 463, 0.05)
        r = profile.radius_continuous(p.ratio)
        f = float(np.sum(weights * 0.1 / (0.1 + nodes * r * r)))
        assert f == pytest.approx(p.ratio, abs=1e-9)
    assert abs(predict_limit(layer, nodes, weights, 463, 0.05).ratio
               - predict_limit(whole, nodes, weights, 463, 0.05).ratio) > 0.01


def test_unknown_scope_is_a_usage_error():
    with pytest.raises(UsageError, match="scope"):
        path_profile([torch.ones(3)], "row")
