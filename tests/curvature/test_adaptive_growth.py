"""Predicted step growth of adaptive SLQ (``curvature.adaptive.predicted_steps``): a
truncation part that falls as a power law is met in one extension, not a doubling; and
its focus on the first run (``focus_pays``) when the budget cannot serve every run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.curvature.adaptive import (
    MIN_GROWTH,
    TARGET_SHARE,
    AdaptivePlan,
    Assessment,
    adaptive_slq,
    focus_pays,
    predicted_steps,
)
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq


def _operator(dim: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    lam = rng.lognormal(-2, 1.5, dim)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    h = torch.tensor((q * lam) @ q.T)
    return DenseOperator(h)


def _power_law(scale: float, rate: float):
    """Truncation part ``0.01 · (scale / m)^rate`` after m steps, no probe part."""
    def assess(quad) -> Assessment:
        steps = int((quad.weights > 0).sum(axis=1).max())
        trunc = 0.01 * (scale / steps) ** rate
        return Assessment(0.5, trunc, trunc, 0.0)

    return assess


def test_power_law_is_met_in_one_predicted_extension_equal_to_the_fixed_plan() -> None:
    """0.01·(24/m)²: 0.09 at 8, 0.0225 at 16; the law through them asks for
    16·(0.0225 / (0.9·0.01))^(1/2) = 25.3 → 26 steps, where it is 0.0085 ≤ 0.01."""
    op = _operator()
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=4, lockstep=2)
    result = adaptive_slq(op, plan, _power_law(24, 2), seed=5)
    assert [s.steps for s in result.trail] == [8, 16, 26] and result.stopped_by == "tolerance"
    fixed = slq(op, 26, 4, 5, "h", lockstep=2)
    np.testing.assert_allclose(result.quadrature.nodes, fixed.nodes, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.quadrature.weights, fixed.weights, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("history, allowed, expected", [
    ([(32, 0.05)], 0.01, 64),                      # one point: no rate yet, double
    ([(32, 0.05), (64, 0.02)], 0.01, 118),         # rate log2(2.5) = 1.32: 64·(0.02/0.009)^(1/1.32) = 117.2
    ([(32, 0.05), (64, 0.012)], 0.01, 80),         # the law asks for 74: a step grows by MIN_GROWTH at least
    ([(32, 0.05), (64, 0.049)], 0.01, 128),        # stalled: at most a doubling
    ([(32, 0.05), (64, 0.06)], 0.01, 128),         # not shrinking: double
    ([(32, 0.05), (64, 0.02)], -0.001, 128),       # the statistical part alone exceeds the tolerance
    # all but stalled (rate 7e-6): the law's 128·222^(1.4e5) steps overflowed a float (OverflowError)
    ([(64, 0.02), (128, 0.0199999)], 0.0001, 256),
])
def test_predicted_steps(history, allowed, expected) -> None:
    assert predicted_steps(history, allowed) == expected
    assert MIN_GROWTH * history[-1][0] <= predicted_steps(history, allowed) <= 2 * history[-1][0]
    assert TARGET_SHARE < 1


def test_a_truncation_part_that_all_but_stalls_doubles_the_steps() -> None:
    """A truncation part that shrinks by 1e-7 a stage (float32 rounding noise in the null
    space of a model fitted to zero loss, whose ε is 1e-14, did so) gives a power law of
    rate ~1e-7: the steps it predicts for the tolerance overflowed a float, and ``bounds``
    ended in an OverflowError traceback. It is at most a doubling, as for a stalled part."""
    op = _operator()

    def assess(quad) -> Assessment:
        steps = int((quad.weights > 0).sum(axis=1).max())
        trunc = 0.5 - 1e-7 * steps
        return Assessment(0.5, trunc, trunc, 0.0)

    plan = AdaptivePlan(tolerance=0.01, max_products=200, initial_steps=8, initial_runs=2)
    result = adaptive_slq(op, plan, assess, seed=0)
    assert [s.steps for s in result.trail][:3] == [8, 16, 32]


def _slow_law(alone: float, probes: float = 0.001):
    """Truncation ``0.1·(16/m)^0.5`` (a slow power law: the budget cannot meet 0.01), a
    small probe part with every run and ``alone`` with the first run only."""
    def assess(quad) -> Assessment:
        steps = int((quad.weights > 0).sum(axis=1).max())
        trunc = 0.1 * (16 / steps) ** 0.5
        statistical = alone if quad.runs == 1 else probes
        return Assessment(0.5, trunc + statistical, trunc, statistical, alone)

    return assess


def test_a_budget_that_cannot_serve_every_run_goes_to_the_first_alone() -> None:
    """4 × 8 → 4 × 16 (64 products), then 136 left: four runs would reach 50 steps, ± ≈
    0.058; the first alone reaches D = 120, ± ≈ 0.041: it goes on alone, and the result is
    the fixed plan of that one probe."""
    op = _operator()
    plan = AdaptivePlan(tolerance=0.01, max_products=200, initial_steps=8, initial_runs=4, lockstep=2)
    result = adaptive_slq(op, plan, _slow_law(alone=0.004), seed=5)
    assert [s.runs for s in result.trail][:2] == [4, 4] and {s.runs for s in result.trail[2:]} == {1}
    assert result.quadrature.runs == 1 and result.trail[-1].products <= 200
    fixed = slq(op, result.steps, 1, 5, "h")
    np.testing.assert_allclose(result.quadrature.nodes, fixed.nodes, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.quadrature.weights, fixed.weights, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("alone", [float("inf"), 0.05])
def test_no_focus_when_one_run_would_end_worse(alone) -> None:
    """Unknown (∞) or large probe noise of one run: every run goes on. D = 300: carrying a
    run to D steps, the exact spectrum, is beyond the budget (``test_adaptive_exhaust.py``)."""
    op = _operator(300)
    plan = AdaptivePlan(tolerance=0.01, max_products=200, initial_steps=8, initial_runs=4, lockstep=2)
    result = adaptive_slq(op, plan, _slow_law(alone=alone), seed=5)
    assert {s.runs for s in result.trail} == {4} and result.stopped_by == "max-hvps"


@pytest.mark.parametrize("history, left, runs, expected", [
    ([(16, 0.1)], 1_000, 3, False),                    # one point: no rate
    ([(8, 0.1), (16, 0.1)], 1_000, 3, False),          # not shrinking
    # rate 1: together 0.1·16/(16 + 333) + 0.001 = 0.0056 ≤ 0.01: the tolerance is in reach
    ([(8, 0.2), (16, 0.1)], 1_000, 3, False),
    # rate 0.5: together 0.1·(16/349)^0.5 + 0.001 = 0.0224; alone 0.1·(16/1016)^0.5 + 0.004 = 0.0165
    ([(8, 0.1 * 2**0.5), (16, 0.1)], 1_000, 3, True),
])
def test_focus_pays(history, left, runs, expected) -> None:
    verdict = Assessment(0.5, 0.101, 0.1, 0.001, 0.004)
    assert focus_pays(history, verdict, 0.01, left, runs, dim=10**6) is expected


def test_a_lone_run_that_ends_wider_gives_way_to_the_answer_it_replaced() -> None:
    """The prediction promises 0.004 of probe noise for one run; the lone run's own
    assessment then says 0.2. The ± the four runs had when set aside (4 × 16: 0.101) is
    smaller, so that answer is returned, and the trail's last row says so. D = 400: the
    budget cannot carry the lone run to the exact spectrum (at D = 120 it does, and that
    exact answer is returned instead)."""
    op = _operator(400)
    plan = AdaptivePlan(tolerance=0.01, max_products=200, initial_steps=8, initial_runs=4, lockstep=2)

    def assess(quad) -> Assessment:
        steps = int((quad.weights > 0).sum(axis=1).max())
        trunc = 0.1 * (16 / steps) ** 0.5
        statistical = 0.2 if quad.runs == 1 else 0.001
        return Assessment(0.5, trunc + statistical, trunc, statistical, 0.004)

    result = adaptive_slq(op, plan, assess, seed=5)
    assert 1 in {s.runs for s in result.trail}  # it did focus
    assert result.quadrature.runs == 4 and result.trail[-1].runs == 4 and result.trail[-1].steps == 16
    assert result.trail[-1].plus_minus == pytest.approx(0.101) and result.trail[-1].products <= 200
    assert result.quadrature.hvps == result.trail[-1].products > 4 * 16  # the lone run's products counted too
    np.testing.assert_allclose(result.quadrature.nodes, slq(op, 16, 4, 5, "h", lockstep=2).nodes, rtol=1e-12,
                               atol=1e-14)


def test_no_focus_when_the_budget_cannot_double_the_first_run() -> None:
    verdict = Assessment(0.5, 0.101, 0.1, 0.001, 0.004)
    history = [(8, 0.1 * 2**0.5), (16, 0.1)]
    assert focus_pays(history, verdict, 0.01, 16, 3, dim=10**6)
    assert not focus_pays(history, verdict, 0.01, 15, 3, dim=10**6)


def test_focus_weighs_the_lone_runs_probe_part_against_the_runs_prediction() -> None:
    """Rate 0.5, 1,000 products left, 3 runs. Truncation-bound (0.214 predicted for the runs,
    0.126 + 0.02 alone): the lone run goes on though its probe part alone, 0.02, misses the
    tolerance 0.01, which the runs miss too (a 34k-parameter MLP ended at ± 0.060 with three
    runs, ± 0.014 alone). Nearly probe-bound (0.0093 for the runs, 0.0025 + 0.006 alone): the
    power law errs high on both truncation parts, so a lone probe part of half the runs'
    predicted ± or more keeps every run."""
    steep = [(8, 2**0.5), (16, 1.0)]
    assert focus_pays(steep, Assessment(0.5, 1.001, 1.0, 0.001, 0.02), 0.01, 1_000, 3, dim=10**6)
    flat = [(8, 0.02 * 2**0.5), (16, 0.02)]
    assert not focus_pays(flat, Assessment(0.5, 0.025, 0.02, 0.005, 0.006), 0.005, 1_000, 3, dim=10**6)


def test_no_focus_where_the_predicted_gain_is_under_the_lone_runs_probe_excess() -> None:
    """The stages a |Cauchy| spectrum (D = 3,000, exact ρ* 0.5, tolerance 0.01, 800 products)
    gave three runs at 32 and 64 steps: truncation 0.437 then 0.239, a rate of 0.87, which
    predicts ± 0.084 for the runs and 0.067 for a lone run (probe part 0.036, under half of
    0.084). The rate quickened (0.047 at 128 steps): a lone run ended at ± 0.036, three at
    0.020. The predicted gain, 0.017, is under the 0.021 the lone run's probe part exceeds the
    runs' by, which it loses for certain where the truncation parts fall faster: every run
    goes on. The same rate from a truncation part ten times larger predicts a gain of 0.38:
    the first run goes on alone."""
    verdict = Assessment(0.5017, 0.2535, 0.2388, 0.0148, 0.0358)
    history = [(32, 0.43727097046313224), (64, 0.23878938373902214)]
    assert not focus_pays(history, verdict, 0.01, 608, 3, dim=3_000)
    assert focus_pays([(m, 10 * e) for m, e in history], verdict, 0.01, 608, 3, dim=3_000)
