"""The products' rounding as a part of ρ*'s ± (``Uncertainty.rounding``, ``rounding_part``).

Before, how far eigenvalues below the products' rounding could move ρ* was only a warning
beside a ± that left it out: a least-squares fit to zero loss stated 1.5 % ± 0.2 pt by SLQ
on every seed against an exact 64.6 %. It is now a bound in the ±, added whole as the grid
part is, and adaptive SLQ, which cannot shrink it, stops where it alone reaches the tolerance.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from prunelimit.curvature.operator import DenseOperator
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.uncertainty import (
    EXACT,
    ROUNDING_REACH_NOTED,
    Uncertainty,
    rounding_part,
    rounding_reach,
)


def test_the_rounding_part_is_added_whole_and_read_back() -> None:
    """A bound like ``steps`` and ``grid``: ``plus_minus`` grows by exactly the part; the
    JSON states it and reads back to the same ±."""
    u = Uncertainty(probes=0.002, steps=0.003, data=None, runs=3, probes_kind="bound")
    with_part = Uncertainty(probes=0.002, steps=0.003, data=None, runs=3, probes_kind="bound", rounding=0.25)
    # the same statistical part plus the two bounds: equal to rounding only
    assert with_part.plus_minus == pytest.approx(u.plus_minus + 0.25, abs=1e-15)
    stated = with_part.to_json()
    assert stated["rounding"] == 0.25
    assert Uncertainty.from_json(stated) == with_part
    # the exact spectrum: ± 0 but for its float64 rounding part
    assert Uncertainty.from_json(EXACT.to_json() | {"rounding": 0.47, "plus_minus": 0.47}).plus_minus == 0.47


def test_a_report_from_before_the_rounding_part_still_reads() -> None:
    """``prediction.uncertainty`` without the key (older reports): read as no part, its ± unchanged."""
    stated = Uncertainty(probes=0.002, steps=0.003, data=None, runs=3, probes_kind="bound").to_json()
    del stated["rounding"]
    u = Uncertainty.from_json(stated)
    assert u is not None and u.rounding is None and u.plus_minus == stated["plus_minus"]
    # a part that does not give the stated total is another arithmetic's: not read as this one
    assert Uncertainty.from_json(stated | {"rounding": 0.1}) is None


def test_the_part_is_stated_only_from_the_noted_reach() -> None:
    """Nodes 1 (weight 0.3) and 1e-9 (0.7) with products of machine epsilon 1e-7: the reach is
    0.7·(1 − f(1e-7)); at ε = 1e-3 it is ~1e-5 (no part, the ± unchanged), at 1e-12 ~0.7."""
    profile = MagnitudeProfile.from_tensors([torch.linspace(0.01, 1.0, 100, dtype=torch.float64)])
    quad = SimpleNamespace(nodes=np.array([[1.0, 1e-9]]), weights=np.array([[0.3, 0.7]]))
    small = rounding_reach(profile, quad, 1e-3, 0.5, 1e-7)
    assert 0 < small < ROUNDING_REACH_NOTED and rounding_part(profile, quad, 1e-3, 0.5, 1e-7) is None
    large = rounding_reach(profile, quad, 1e-12, 0.5, 1e-7)
    assert large > 0.6 and rounding_part(profile, quad, 1e-12, 0.5, 1e-7) == large


def _operator(dim: int = 120):
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return DenseOperator(torch.tensor((q * rng.lognormal(-2, 1.5, dim)) @ q.T))


def _assess(fixed: float):
    """A truncation part that halves with each doubling of the steps, no probe part, and
    ``fixed`` that no stage shrinks (the products' rounding)."""
    def assess(quad) -> Assessment:
        steps = int((quad.weights > 0).sum(axis=1).max())
        truncation = 0.08 / steps
        return Assessment(0.5, truncation + fixed, truncation, 0.0, fixed=fixed)

    return assess


def test_adaptive_slq_stops_where_the_rounding_part_alone_reaches_the_tolerance() -> None:
    """A fixed part of 0.02 against a tolerance of 0.01: no stage can bring the ± there, so
    the first stage is the answer (``"rounding"``). Before, a part no stage shrinks kept
    the runs going, here to the end of the Krylov space (219 products), whose ± still held it."""
    plan = AdaptivePlan(tolerance=0.01, max_products=5_000, initial_steps=8, initial_runs=2)
    result = adaptive_slq(_operator(), plan, _assess(0.02), seed=0)
    assert result.stopped_by == "rounding"
    assert result.trail[-1].products == 2 * 8  # the first stage only


def test_adaptive_slq_aims_the_other_parts_at_what_the_rounding_part_leaves() -> None:
    """A fixed part of 0.007 under the tolerance 0.01: after 8 and 16 steps the power law
    aims the truncation part, 0.08/m, at 0.9 × 0.003 of what the fixed part leaves (30
    steps) and meets the tolerance there, a stage earlier. Aimed at the whole tolerance,
    it crept up by the least growth, 20, 25, then 32 steps, 64 products instead of 60."""
    plan = AdaptivePlan(tolerance=0.01, max_products=5_000, initial_steps=8, initial_runs=2)
    result = adaptive_slq(_operator(), plan, _assess(0.007), seed=0)
    assert result.stopped_by == "tolerance"
    assert [stage.steps for stage in result.trail] == [8, 16, 30]
    # the stated ± holds the fixed part: 0.08/30 + 0.007
    assert math.isclose(result.trail[-1].plus_minus, 0.08 / 30 + 0.007, rel_tol=1e-12)


def test_the_console_breakdown_names_the_rounding_part() -> None:
    """The ± line lists the part beside the others (SLQ) or alone (an exact spectrum, whose
    ± is no longer 0 there); a report without it reads as before."""
    from prunelimit.report.console import uncertainty_text

    slq = Uncertainty(probes=0.0003, steps=0.0, data=None, runs=3, rounding=0.79)
    assert uncertainty_text(slq.to_json()).endswith("products' rounding ≤ 79 pt)")
    exact = replace(EXACT, rounding=0.47)
    assert uncertainty_text(exact.to_json()) == "± 47 pt (exact spectrum, products' rounding ≤ 47 pt)"
    assert uncertainty_text(EXACT.to_json()) == "± 0 (exact spectrum: no sampling error)"
