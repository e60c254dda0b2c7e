"""``--method paper`` is one pipeline: ρ*, ρ_L and ρ_U all from the reference arithmetic
(smoothed density, integer R, 1/1000 grid), and ``negative`` acts on all three alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prunelimit.theory.limit import a_eta
from prunelimit.theory.paper import code_density, code_gw, code_radii, paper_limit


def _problem(seed: int, negative_share: float = 0.0):
    """Random weights in two tensors and a one-run quadrature of 24 nodes on [0.01, 3], a
    share of the weight moved onto negative nodes."""
    rng = np.random.default_rng(seed)
    tensors = [torch.from_numpy(rng.normal(size=300) * rng.uniform(0.05, 0.5)),
               torch.from_numpy(rng.normal(size=500) * rng.uniform(0.05, 0.5))]
    nodes = np.sort(rng.uniform(0.01, 3.0, size=24))
    weights = rng.dirichlet(np.ones(24))
    if negative_share:
        nodes[:8] = -rng.uniform(0.05, 0.5, size=8)
        weights[:8] *= negative_share / weights[:8].sum()
        weights[8:] *= (1 - negative_share) / weights[8:].sum()
    return tensors, nodes[None, :], weights[None, :]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("bound_mode", ["akf", "geom"])
def test_paper_bounds_bracket_its_ratio_on_the_grid(seed, bound_mode):
    tensors, nodes, weights = _problem(seed)
    eps = 10 ** np.random.default_rng(seed).uniform(-3, -1)
    p = paper_limit(tensors, nodes, weights, eps, bound_mode=bound_mode, dim=800)
    assert p.lower <= p.ratio <= p.upper
    for value in (p.ratio, p.lower, p.upper):  # on the reference grid, not a continuous root
        assert value * 1000 == pytest.approx(round(value * 1000), abs=1e-9)


def test_paper_akf_bounds_are_the_code_arithmetic_with_the_margin():
    """ρ_L and ρ_U transcribed: the reference answer's argmin with gw shifted by ∓a_η/√D."""
    tensors, nodes, weights = _problem(3)
    eps, dim, eta = 0.01, 800, 0.05
    p = paper_limit(tensors, nodes, weights, eps, bound_mode="akf", eta=eta, dim=dim)
    grid, density = code_density(nodes, weights)
    table = int(sum(float(t.norm()) for t in tensors)) + 1
    gw = code_gw(grid, density, table, eps)
    ratios, radii = code_radii(tensors)
    looked_up = gw[np.minimum(np.rint(radii).astype(int), table - 1)]
    margin = a_eta(eta) / math.sqrt(dim)
    assert p.margin == margin
    assert p.lower == np.argmin(np.abs(looked_up - margin - ratios)) / 1000
    assert p.upper == np.argmin(np.abs(looked_up + margin - ratios)) / 1000
    assert p.ratio == np.argmin(np.abs(looked_up - ratios)) / 1000


@pytest.mark.parametrize("seed", range(4))
def test_negative_flat_moves_ratio_and_bounds_together(seed):
    """Flat negative curvature is a free direction (term 1 instead of 2ε/(2ε + |λ|R²)): F
    grows, so ρ* and both bounds move up together, never apart."""
    tensors, nodes, weights = _problem(seed, negative_share=0.4)
    kw = dict(bound_mode="akf", dim=800)
    absolute = paper_limit(tensors, nodes, weights, 0.005, **kw)
    flat = paper_limit(tensors, nodes, weights, 0.005, negative="flat", **kw)
    assert flat.ratio > absolute.ratio
    assert flat.lower >= absolute.lower and flat.upper >= absolute.upper
    assert flat.lower > absolute.lower or flat.upper > absolute.upper
    assert flat.lower <= flat.ratio <= flat.upper


def test_default_arguments_keep_the_reference_answer():
    tensors, nodes, weights = _problem(1)
    plain = paper_limit(tensors, nodes, weights, 0.01)
    assert plain.lower is None and plain.upper is None and plain.negative == "abs"
    assert paper_limit(tensors, nodes, weights, 0.01, bound_mode="akf", dim=800).ratio == plain.ratio


def test_akf_without_the_dimension_is_refused():
    tensors, nodes, weights = _problem(0)
    with pytest.raises(ValueError, match="dim"):
        paper_limit(tensors, nodes, weights, 0.01, bound_mode="akf")
