"""Per-layer traces over a curvature subset (``--hessian-samples``) state the subsampling's error.

Their ± was the probes' alone, of the subset's Hessian: a block formed exactly from its unit
columns stated ``± 0`` for a trace that is not the full data's (bag-of-words net, 200 of 400
samples: fc.weight 4.27e-4 ± 0 against 4.03e-4, 5.9 % off; here 2.weight 11 % off). Each block's
± now holds its trace's spread over the subset's parts, as the whole trace's does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.curvature.layers import Block, SubsetParts, lanczos_block_curvature
from prunelimit.curvature.operator import DenseOperator


@pytest.mark.parametrize("seed", [1, 2])
def test_a_subsets_blocks_state_their_scatter_and_cover_the_full_datas(small_model, train, seed):
    """64-4-10 MLP (untrained, D = 310) over 100 of 300 digits: 2.weight (40) and the rest (14)
    are formed exactly over the subset, and stated ``± 0`` where 2.weight's trace missed the
    full data's by 0.011 (seed 1) and 0.008 (seed 2); 0.weight (256) runs Lanczos."""
    torch.set_num_threads(1)
    full = prunelimit.spectrum(small_model, train, method="exact", per_layer=True).layers.layers
    rep = prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, seed=seed, per_layer=True)
    by_name = {layer.name: layer for layer in full}
    for layer in rep.layers.layers:
        assert layer.trace_plus_minus > 0 and layer.trace_stderr > 0, layer.name
        # a 95 % figure: these two seeds are held
        assert abs(layer.trace - by_name[layer.name].trace) <= layer.trace_plus_minus, layer.name
    formed = {layer.name: layer for layer in rep.layers.layers}["2.weight"]
    assert formed.trace != pytest.approx(by_name["2.weight"].trace, rel=1e-3)  # the subset's, not the full data's


def _least_squares(rng: np.random.Generator, dim: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """400 rows, scaled log-normally by ``spread``, and a random 100 of them."""
    x = rng.normal(size=(400, dim)) * rng.lognormal(sigma=spread, size=(400, 1))
    return x, rng.permutation(400)[:100]


def _hessian(rows: np.ndarray) -> DenseOperator:
    """The mean of the per-sample Hessians ``x_i x_iᵀ`` of ``rows``."""
    return DenseOperator(torch.as_tensor(rows.T @ rows / len(rows)))


def test_the_blocks_data_part_holds_the_full_datas_traces_at_their_stated_rate():
    """Least squares, D = 36 in a 30-weight block (Lanczos, 2 probes × 8 steps, one probe a part)
    and a 6-weight one (formed on each part), Gaussian rows: each block's trace over 100 of 400
    rows against the full data's exact one. Measured over 2,000 seeds: 100 % (the Lanczos
    block's ± holds its probes' noise too) and 94.6 % (formed: the parts' spread alone, at its
    95 %); over these 300, 100 % and 94.0 %, so ≥ 93 % leaves the binomial noise of 300 draws
    at 95 % (sd 1.3 points) about one sd below what they measure, two below 95 %."""
    blocks = (Block("a", ((0, 30),)), Block("b", ((30, 36),)))
    rng = np.random.default_rng(0)
    held = np.zeros(2)
    for seed in range(300):
        x, chosen = _least_squares(rng, 36, 0.0)
        split = np.array_split(chosen, 4)
        parts = SubsetParts(tuple(_hessian(x[part]) for part in split), tuple(len(p) for p in split), 400)
        found = lanczos_block_curvature(_hessian(x[chosen]), blocks, steps=8, probes=2, seed=seed, parts=parts)
        truth = [float(np.sum(x[:, 0:30] ** 2) / 400), float(np.sum(x[:, 30:36] ** 2) / 400)]
        held += [abs(b.trace - t) <= b.trace_plus_minus for b, t in zip(found, truth)]
        # the formed block is the subset's: its parts' mean, to float64 rounding
        assert found[1].trace == pytest.approx(float(np.sum(x[chosen, 30:36] ** 2) / 100), rel=1e-12)
    assert (held >= 0.93 * 300).all(), held


def test_a_subsets_blocks_keep_their_data_part_through_the_cache(cli, tmp_path):
    """The bundled example over 100 of 200 digits: the blocks read back from the result cache
    (0 products) state the ± the run that stored them stated, data part included."""
    example = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
    run = (example, "--per-layer", "--data", "digits:train", "--max-samples", 200, "--hessian-samples", 100,
           "--method", "slq", "--threads", 1, "--cache-dir", tmp_path / "cache", "--json")
    stored, read = (json.loads(cli("bounds", *run).stdout) for _ in range(2))
    assert not stored["layer_curvature"]["cached"] and read["layer_curvature"]["cached"]
    assert all(layer["trace_plus_minus"] > 0 for layer in stored["layers"])
    assert read["layers"] == stored["layers"]


def test_a_formed_blocks_own_rho_takes_its_data_part_from_the_subset_less_each_part():
    """A block formed over a subset keeps its block on the subset less each part
    (``part_quadratures``), formed from the parts' own at no further products, and its own
    ρ*'s data part is their delete-a-group jackknife (``left_out_sd``), as ρ*'s is: before,
    the blocks on the parts alone, whose spread understated the subsets' scatter where a few
    samples carry the curvature (docs/accuracy.md). Exact to float64 rounding (1e-10)."""
    from prunelimit.theory.layers import _limit_alone
    from prunelimit.theory.limit import predict_from_quadrature
    from prunelimit.theory.profile import MagnitudeProfile
    from prunelimit.theory.uncertainty import left_out_sd, ratio_uncertainty

    blocks = (Block("a", ((0, 30),)), Block("b", ((30, 36),)))
    x, chosen = _least_squares(np.random.default_rng(0), 36, 1.0)
    split = np.array_split(chosen, 4)
    parts = SubsetParts(tuple(_hessian(x[part]) for part in split), tuple(len(p) for p in split), 400)
    formed = lanczos_block_curvature(_hessian(x[chosen]), blocks, steps=8, probes=2, seed=0, parts=parts)[1]
    for quad, part in zip(formed.part_quadratures, split):
        rest = np.setdiff1d(chosen, part)
        rows = x[rest][:, 30:36]
        expected = np.linalg.eigvalsh(rows.T @ rows / len(rest))
        assert np.sort(quad.nodes[0]) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    weight = torch.as_tensor(np.random.default_rng(1).laplace(0, 0.05, 6))
    ratio, plus_minus = _limit_alone(formed, weight, 0.01, "abs")
    own = MagnitudeProfile.from_tensors([weight])
    roots = tuple(predict_from_quadrature(own, q, 0.01, bound_mode="none").ratio for q in formed.part_quadratures)
    data = left_out_sd(roots, 100, 400)
    assert plus_minus == pytest.approx(ratio_uncertainty(own, formed.quadrature, 0.01, ratio, "abs", data=data,
                                                         data_parts=4).plus_minus, rel=1e-12)
