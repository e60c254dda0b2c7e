"""A ``"rounding"`` stop after a stage that only grew the runs' steps (``curvature.adaptive``):
where that last stage's ± is wider than the one before it, the earlier answer is returned,
as at a product or memory stop (``test_adaptive_last_steps_widen.py``). Both bound the same
probes, and the rounding part grows with the steps as Lanczos resolves nodes below the
products' floor: 3 float32 runs on an 80 %-null Q·diag·Qᵀ (D = 300, ε = 1e-20) stated
ρ* 0.0 ± 0.83 at 8 steps, all of it the bracket, then stopped at 16 steps with ± 1 (the
rounding part alone reached 1: a ± that says nothing), which was returned."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from prunelimit.curvature.operator import DenseOperator
from prunelimit.theory.limit import predict_limit
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.uncertainty import one_run_half_width, ratio_uncertainty, rounding_part
from tests.curvature.test_adaptive import _operator
from tests.curvature.test_adaptive_last_steps_widen import _steps


def _rounding_grows(quad) -> Assessment:
    """The steps part 0.4/steps; a fixed part above the tolerance (0.01) from 16 steps on,
    0.06, and 0.08 from 40, each time with the estimate moved."""
    steps = _steps(quad)
    fixed, estimate = (0.0, 0.5) if steps < 16 else (0.06, 0.47) if steps < 40 else (0.08, 0.46)
    return Assessment(estimate, 0.4 / steps + fixed, 0.4 / steps, 0.0, fixed=fixed)


@pytest.mark.parametrize("remedy, widened, returned", [
    # a float64 re-run follows: the runs stop at once, at 16 steps (± 0.085), asking the
    # remedy about the answer returned, the 8 steps' (± 0.05)
    (True, 16, (8, 0.5, 0.4 / 8)),
    # nothing follows: the parts stages shrink go on to the tolerance, met at 45 steps
    # (0.4/45 + 0.08 = 0.089), after 32 steps' 0.0125 + 0.06 = 0.0725
    (None, 45, (32, 0.47, 0.4 / 32 + 0.06)),
])
def test_a_rounding_stop_after_a_widening_steps_stage_returns_the_one_before(remedy, widened, returned) -> None:
    asked = []

    def follows(result) -> bool:
        asked.append(result.trail[-1].plus_minus)
        return True

    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=3,
                        remedy=None if remedy is None else follows)
    result = adaptive_slq(_operator(), plan, _rounding_grows, seed=0)
    assert result.stopped_by == "rounding"
    last, before = result.trail[-1], result.trail[-2]
    assert before.steps == widened and before.plus_minus > last.plus_minus  # the widened stage happened
    # the answer returned is the stage before it, every product counted
    steps, estimate, plus_minus = returned
    assert (last.runs, last.steps, last.estimate) == (3, steps, estimate)
    assert last.plus_minus == pytest.approx(plus_minus)
    assert _steps(result.quadrature) == steps and result.quadrature.runs == 3
    assert result.quadrature.hvps == before.products == last.products == 3 * widened
    assert asked == ([] if remedy is None else [last.plus_minus])


def test_a_rounding_stop_after_a_narrowing_steps_stage_is_returned() -> None:
    """A fixed part from the first stage on: every stage narrows the ±, the last is returned."""
    def fixed_from_the_start(quad) -> Assessment:
        steps = _steps(quad)
        return Assessment(0.5, 0.4 / steps + 0.06, 0.4 / steps, 0.0, fixed=0.06)

    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=3)
    result = adaptive_slq(_operator(), plan, fixed_from_the_start, seed=0)
    assert result.stopped_by == "rounding"
    assert [s.plus_minus for s in result.trail] == sorted((s.plus_minus for s in result.trail), reverse=True)
    # 45 steps by the power law through 16 and 32 (0.4/45 ≤ 0.01 < 0.4/32)
    assert _steps(result.quadrature) == result.trail[-1].steps == 45


DIM, EPSILON = 300, 1e-20


def _null_heavy(seed: int):
    """A float32 Q·diag·Qᵀ with 80 % of its eigenvalues exactly 0 (the rest in [0.01, 1]), a
    weight profile, and the exact ρ* from the diagonal itself (0.8: every other eigenvalue is
    curved at this ε)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    d = np.zeros(DIM)
    d[: DIM // 5] = rng.uniform(0.01, 1.0, DIM // 5)
    profile = MagnitudeProfile.from_tensors([torch.tensor(rng.lognormal(-2, 1, DIM))])
    exact = predict_limit(profile, d[None], np.full((1, DIM), 1 / DIM), DIM, EPSILON, bound_mode="none").ratio
    return DenseOperator(torch.tensor((q * d) @ q.T).float()), profile, exact


def test_float32_runs_on_a_near_null_spectrum_return_their_tighter_stage_at_a_rounding_stop() -> None:
    """Thirty seeds, adaptive SLQ as the library assesses it (bracket, probe and rounding
    parts at float32's epsilon; tolerance 0.01, nothing to follow). A rounding stop came after
    16 steps on 6 of them (this machine's numpy), their 8 steps' ± 0.83-0.86 against 1 returned
    before. Now no rounding stop returns a wider ± than the steps stage before it, and every
    seed's ± still covers the exact ρ* (0.8; coverage itself, no tolerance added)."""
    precision = torch.finfo(torch.float32).eps
    widened = 0
    for seed in range(30):
        op, profile, exact = _null_heavy(seed)

        def assess(quad) -> Assessment:
            ratio = predict_limit(profile, quad.nodes, quad.weights, DIM, EPSILON, bound_mode="none").ratio
            u = replace(ratio_uncertainty(profile, quad, EPSILON, ratio),
                        rounding=rounding_part(profile, quad, EPSILON, ratio, precision))
            return Assessment(ratio, u.plus_minus, u.steps or 0.0, u.statistical,
                              one_run_half_width(ratio, DIM, u.steps or 0.0), u.rounding or 0.0)

        plan = AdaptivePlan(tolerance=0.01, max_products=1600, initial_steps=8, initial_runs=3)
        result = adaptive_slq(op, plan, assess, seed=seed)
        answer = result.trail[-1]
        assert abs(answer.estimate - exact) <= answer.plus_minus, (seed, answer)
        if result.stopped_by != "rounding" or len(result.trail) < 2:
            continue
        stages = result.trail[:-1] if result.trail[-1].products == result.trail[-2].products else result.trail
        if len(stages) >= 2 and stages[-1].runs == stages[-2].runs and stages[-1].steps > stages[-2].steps:
            widened += stages[-1].plus_minus > stages[-2].plus_minus
            assert answer.plus_minus <= stages[-2].plus_minus, (seed, result.trail)
    assert widened  # the case arose
