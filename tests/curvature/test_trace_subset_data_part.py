"""The trace over a curvature subset (``--hessian-samples``) states the subsampling's error.

Its ± was the probes' alone, of the subset's Hessian: a run that spanned the subset's space
stated ``± 0`` for a trace that is not the full data's (bag-of-words net, 200 of 400
samples: 5.8 % off; here 0.3–2 % off). The subset's trace is unbiased for the full data's
(a mean of per-sample Hessians), so its scatter over the subset's parts is what it misses by.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.curvature.trace import TraceEstimate, with_data_part
from prunelimit.theory.uncertainty import student_factor


@pytest.mark.parametrize("seed", [1, 2])
def test_a_spanned_subset_states_its_traces_scatter_and_covers_the_full_datas(small_model, train, seed):
    """64-4-10 MLP (untrained, D = 310) over 100 of 300 digits: seeds 1 and 2 span the subset's
    space (the trace exact for the subset) and missed the full data's by 0.0056 and 0.043 at ± 0."""
    torch.set_num_threads(1)
    full = prunelimit.spectrum(small_model, train, method="exact").trace
    rep = prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, seed=seed)
    assert rep.stopped_by == "converged"  # the case in question: no probe noise left
    assert rep.trace != pytest.approx(full, rel=1e-6)  # the subset's trace is not the full data's
    assert rep.trace_plus_minus > 0
    assert abs(rep.trace - full) <= rep.trace_plus_minus  # a 95 % figure: these two seeds are held


def test_the_data_part_is_the_parts_spread_at_students_quantile():
    """Arithmetic: 1σ ``s_4/√4·sqrt(1 − n/N)`` (as ρ*'s data part), 3.18 of it added whole to the
    probes' half-width, and the 1σ combined in quadrature (exact to float rounding)."""
    probes = TraceEstimate(10.0, 0.5, 1.2, 3)
    parts = (9.0, 11.0, 10.0, 12.0)
    out = with_data_part(probes, parts, 200, 800)
    data = float(np.std(parts, ddof=1)) / 2 * math.sqrt(1 - 200 / 800)
    assert out.value == 10.0 and out.probes == 3
    assert out.stderr == pytest.approx(math.hypot(0.5, data), rel=1e-12)
    assert out.plus_minus == pytest.approx(1.2 + student_factor(3) * data, rel=1e-12)
    # three parts that ran of four (a time budget cut the check): the subset is still 4 parts' mean
    cut = with_data_part(probes, parts[:3], 200, 800, parts=4)
    spread = float(np.std(parts[:3], ddof=1)) / 2 * math.sqrt(1 - 200 / 800)
    assert cut.plus_minus == pytest.approx(1.2 + student_factor(2) * spread, rel=1e-12)


@pytest.mark.parametrize("dim, spread", [(30, 0.5), (30, 0.0), (5, 0.5)])
def test_the_data_part_holds_the_full_datas_trace_at_its_stated_rate(dim, spread):
    """Least squares, per-sample Hessians ``x_i x_iᵀ`` (rows scaled log-normally by ``spread``):
    the exact trace of a random 100 of 400 against the full data's, the data part from one
    Rademacher probe on the subset's 4 parts. 300 seeds; measured 97–100 %, so ≥ 93 % leaves
    the binomial noise of 300 draws at 95 % (sd 1.3 points) two sds."""
    rng = np.random.default_rng(0)
    held = 0
    for _ in range(300):
        x = rng.normal(size=(400, dim)) * rng.lognormal(sigma=spread, size=(400, 1))
        chosen = rng.permutation(400)[:100]
        z = rng.choice([-1.0, 1.0], size=dim)
        parts = tuple(float(np.mean((x[part] @ z) ** 2)) for part in np.array_split(chosen, 4))
        subset = float(np.sum(x[chosen] ** 2) / 100)
        stated = with_data_part(TraceEstimate(subset, 0.0, 0.0, 1), parts, 100, 400)
        held += abs(subset - float(np.sum(x**2) / 400)) <= stated.plus_minus
    assert held >= 0.93 * 300, held
