"""Coverage of the stated ± conditional on how adaptive SLQ stopped (docs/accuracy.md,
"Coverage by how the run stopped").

Adaptive SLQ stops at the first stage whose ± meets ``--tolerance``. Where the probe part is
a jackknife of few runs, the ± is itself random, and a stop taken when it happens to be
small selects the runs whose spread understates the noise (optional stopping: Chow &
Robbins, *Ann. Math. Statist.* 36, 1965). The overall rate holds; the rate among the runs
that stopped at the first stage does not. This test pins both, as measured, so that a stop
rule that changes either has to say so here.

Oracle: each of three runs' exact measure on a known spectrum (its weights are the squared
components of a Rademacher probe in a random eigenbasis), so only Hutchinson noise is left,
and ρ* is exact from the spectrum itself; no Lanczos, a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from prunelimit.theory.limit import predict_limit
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.uncertainty import ratio_uncertainty

DIM, RUNS, SEEDS, EPSILON = 400, 3, 300, 1e-4
TOLERANCE = 0.0225  # about the 20th percentile of the three runs' stated ±: a fifth of the seeds stop here


@dataclass(frozen=True)
class _Runs:
    """Per-run exact measures in the shape ``ratio_uncertainty`` reads from a quadrature."""

    nodes: np.ndarray
    weights: np.ndarray
    dim: int
    signed: bool = True
    exact: bool = False

    @property
    def runs(self) -> int:
        return self.nodes.shape[0]


def _mlp_like(rng: np.random.Generator) -> np.ndarray:
    """A trained MLP's shape: 44 % a ±1.6e-3 bulk (40 % of it negative), 6 % a log-uniform
    tail to 1.37, half the eigenvalues at zero."""
    zero, bulk = DIM // 2, int(0.44 * DIM)
    middle = rng.uniform(0, 1.6e-3, bulk)
    middle *= np.where(rng.random(bulk) < 0.4, -1.0, 1.0)
    tail = np.exp(rng.uniform(np.log(2e-3), np.log(1.37), DIM - zero - bulk))
    tail[0] = 1.37
    return np.concatenate([rng.normal(0, 1e-9, zero), middle, tail])


def _first_stages() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stated ±, whether it covers the exact ρ*, and whether the jackknife was stated, by seed."""
    rng = np.random.default_rng(0)
    lam = _mlp_like(rng)
    profile = MagnitudeProfile.from_tensors([torch.tensor(rng.laplace(0, 0.05, DIM))])
    exact = predict_limit(profile, lam[None], np.full((1, DIM), 1 / DIM), DIM, EPSILON, bound_mode="none").ratio
    basis, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    plus_minus, covered, jackknife = [], [], []
    for seed in range(SEEDS):
        probes = np.random.default_rng(1000 + seed).choice([-1.0, 1.0], size=(RUNS, DIM))
        weights = (probes @ basis) ** 2
        runs = _Runs(np.tile(lam, (RUNS, 1)), weights / weights.sum(axis=1, keepdims=True), DIM)
        ratio = predict_limit(profile, runs.nodes, runs.weights, DIM, EPSILON, bound_mode="none").ratio
        u = ratio_uncertainty(profile, runs, EPSILON, ratio)
        plus_minus.append(u.plus_minus)
        covered.append(abs(ratio - exact) <= u.plus_minus)
        jackknife.append(u.probes_kind == "jackknife")
    return np.array(plus_minus), np.array(covered), np.array(jackknife)


def test_coverage_among_first_stage_stops_is_below_the_stated_rate() -> None:
    """Measured: 285/300 (95.0 %) covered over all seeds; 45/60 (75 %, Wilson 95 % interval
    [63 %, 84 %]) among the seeds whose ± met the tolerance at the first stage, where
    adaptive SLQ stops, and 240/240 among the rest. The bounds allow the binomial scatter
    of a differently rounded platform (≥ 92 % overall is 95 % less 1.5 s.d. over 300 draws)
    while still separating the stops from 95 % (≤ 85 % is below the interval's far end
    for 95 % over 60 draws, 89 %)."""
    plus_minus, covered, jackknife = _first_stages()
    stops = plus_minus <= TOLERANCE
    assert covered.mean() >= 0.92  # the stated 95 % holds over every seed ...
    assert 40 <= stops.sum() <= 80 and jackknife[stops].all()  # (the stops' ± is a jackknife's)
    assert covered[stops].mean() <= 0.85  # ... but not among the runs that stopped on it
    assert covered[~stops].mean() >= 0.97  # which the runs that went on make up for
