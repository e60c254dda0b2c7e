"""Extendable Lanczos runs and adaptive SLQ (``curvature.lanczos.LanczosRuns``,
``curvature.adaptive``) on operators with known spectra."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
from prunelimit.curvature.lanczos import LanczosRuns, lanczos_lockstep
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import rademacher, slq


def _operator(dim: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    lam = rng.lognormal(-2, 1.5, dim) * rng.choice([1, -1], dim)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    h = torch.tensor((q * lam) @ q.T)
    return DenseOperator(h)


def test_runs_extended_in_stages_equal_runs_made_at_once() -> None:
    dim, op = 120, _operator()
    gen = torch.Generator().manual_seed(3)
    starts = torch.stack([rademacher(dim, gen) for _ in range(3)])
    once = lanczos_lockstep(op, 40, starts)
    staged = LanczosRuns(op, starts, 8)
    spent = staged.extend(8) + staged.extend(25) + staged.extend(40)
    assert spent == 3 * 40
    for a, b in zip(once, staged.results()):
        np.testing.assert_array_equal(a.alpha, b.alpha)
        np.testing.assert_array_equal(a.beta, b.beta)


def test_breakdown_stops_a_run_for_good() -> None:
    """A 5-dimensional operator: the Krylov space is invariant after 5 steps."""
    op = DenseOperator(torch.diag(torch.arange(1.0, 6.0, dtype=torch.float64)))
    runs = LanczosRuns(op, torch.ones(1, 5, dtype=torch.float64), 2)
    runs.extend(3)
    assert runs.extend(50) == 2 and runs.steps == [5] and runs.broken_down == [True]
    assert runs.extend(80) == 0


def _assess_by_steps(target_steps: int, probe_part: float = 0.0):
    """An assessment whose truncation part halves with every doubling of the steps."""
    def assess(quad) -> Assessment:
        steps = int((quad.weights > 0).sum(axis=1).max())
        trunc = target_steps / steps * 0.01
        return Assessment(0.5, trunc + probe_part, trunc, probe_part)

    return assess


def test_adaptive_stops_at_the_tolerance_and_equals_the_fixed_plan() -> None:
    op = _operator()
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=4, lockstep=2)
    result = adaptive_slq(op, plan, _assess_by_steps(32), seed=5)
    assert result.stopped_by == "tolerance"
    assert [s.steps for s in result.trail] == [8, 16, 32]
    assert result.quadrature.hvps == 4 * 32
    fixed = slq(op, 32, 4, 5, "h", lockstep=2)
    np.testing.assert_allclose(result.quadrature.nodes, fixed.nodes, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.quadrature.weights, fixed.weights, rtol=1e-12, atol=1e-14)


def test_adaptive_adds_probes_when_they_dominate_and_respects_the_budget() -> None:
    # D above the budget: at D = 120 the stage past D products carries one run to D instead
    op = _operator(400)
    plan = AdaptivePlan(tolerance=0.001, max_products=200, initial_steps=10, initial_runs=4)
    result = adaptive_slq(op, plan, _assess_by_steps(1, probe_part=0.05), seed=1)
    assert result.stopped_by == "max-hvps"
    # Probes double while the budget lasts, then the rest of it buys what it can.
    assert [s.runs for s in result.trail] == [4, 8, 16, 20]
    assert result.quadrature.hvps == 200


def test_first_stage_fits_a_small_budget() -> None:
    op = _operator()
    plan = AdaptivePlan(tolerance=1e-9, max_products=30, initial_steps=32, initial_runs=4)
    result = adaptive_slq(op, plan, _assess_by_steps(1000), seed=0)
    assert result.quadrature.hvps <= 30 and result.stopped_by == "max-hvps"


def test_time_budget_stops_with_its_reason() -> None:
    op = _operator()
    ticks = iter(np.arange(0.0, 1e6, 1.0))  # one second per clock reading
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=2.5, initial_steps=8, initial_runs=2)
    result = adaptive_slq(op, plan, _assess_by_steps(1000), clock=lambda: next(ticks))
    assert result.stopped_by == "time-budget"


@pytest.mark.parametrize("runs", [1, 3])
def test_converged_when_every_run_is_exact(runs: int) -> None:
    dim, op = 20, _operator(20)
    plan = AdaptivePlan(tolerance=1e-12, max_products=10_000, initial_steps=8, initial_runs=runs)
    result = adaptive_slq(op, plan, _assess_by_steps(10**6), seed=0)
    assert result.stopped_by == "converged" and result.steps == dim


class _Timed:
    """``op`` on a clock where every product takes one second."""

    def __init__(self, op) -> None:
        self.op, self.shape, self.dtype, self.seconds = op, op.shape, op.dtype, 0.0

    def matvec(self, v):
        self.seconds += 1.0
        return self.op.matvec(v)

    def matmat(self, vs):
        self.seconds += vs.shape[1]
        return self.op.matmat(vs)


def test_time_budget_cuts_a_stage_short() -> None:
    """20 s at 1 s a product: the first pair of runs takes its 8 steps (16 s), the second
    pair 2 (20 s), and the stage ends there instead of spending the 32 products it planned;
    the answer is the four runs as far as they got."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=20.0, initial_steps=8, initial_runs=4,
                        lockstep=2)
    result = adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds)
    assert result.stopped_by == "time-budget" and result.trail[-1].products == 20 == timed.seconds
    steps = (result.quadrature.weights > 0).sum(axis=1)
    assert steps.tolist() == [8, 8, 2, 2] and result.quadrature.runs == 4


def _assess_by_runs(tolerance_runs: int):
    """An assessment whose probe part falls as 1/runs (adaptive SLQ adds probes)."""
    def assess(quad) -> Assessment:
        probes = 0.01 * tolerance_runs / quad.runs
        return Assessment(0.5, probes, 0.0, probes)

    return assess


@pytest.mark.parametrize("assess, lockstep", [(_assess_by_steps(24), 2), (_assess_by_steps(24), 1),
                                              (_assess_by_runs(5), 1)])
def test_a_time_budget_that_does_not_stop_the_runs_changes_nothing(assess, lockstep) -> None:
    """At 1 s a product, every budget either stops the runs (and says so) or leaves them the
    runs made without one, product for product: the clock never shapes a stage. Before, the
    next stage was priced at the latest one's seconds per product and shrunk to fit, so a
    budget a little under the unbudgeted run's time gave fewer steps (25, not 27) and still
    said ``tolerance``; and a stage cut by the budget whose answer met the tolerance said
    ``tolerance`` too, though another machine's clock would have cut it elsewhere. A budget
    that stops them ends them before a step that would take them past it (before, once the
    clock had passed it), unless it cannot hold even the first step."""
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=2, lockstep=lockstep)
    free = adaptive_slq(_operator(60), plan, assess, seed=0)
    assert free.stopped_by == "tolerance"
    products = free.trail[-1].products
    for budget in (1, products // 2, products - 4, products - 1, products + 1):
        timed = _Timed(_operator(60))
        result = adaptive_slq(timed, replace(plan, time_budget=float(budget)), assess, seed=0,
                              clock=lambda: timed.seconds)
        if result.stopped_by == "time-budget":
            assert timed.seconds <= budget or result.trail[-1].products == lockstep, budget
            assert timed.seconds + lockstep > budget, budget  # the next step would not have fitted
            continue
        assert result.stopped_by == "tolerance", budget
        assert [s.to_json() for s in result.trail] == [s.to_json() for s in free.trail], budget
        np.testing.assert_array_equal(result.quadrature.nodes, free.quadrature.nodes)


def test_a_stage_cut_short_that_widens_the_answer_gives_way_to_the_last_whole_one() -> None:
    """Probes dominate, so the second stage adds two runs; 20 s at 1 s a product cut the
    first new run at 4 of its 8 steps and leave the other unstarted. That short run's wide
    bracket would widen ρ*'s ± (0.057 against 0.045): the first stage's two runs are
    returned, and the trail's last row, at the 20 products spent, says so."""
    def assess(quad) -> Assessment:
        probes, steps = 0.05 / quad.runs, 0.16 / int((quad.weights > 0).sum(axis=1).min())
        return Assessment(0.5, probes + steps, steps, probes)

    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-3, max_products=10_000, time_budget=20.0, initial_steps=8, initial_runs=2)
    result = adaptive_slq(timed, plan, assess, seed=0, clock=lambda: timed.seconds)
    first = adaptive_slq(_operator(), replace(plan, time_budget=None, max_products=16), assess, seed=0)
    assert result.stopped_by == "time-budget" and result.quadrature.runs == 2
    assert [(s.products, s.runs, s.steps) for s in result.trail] == [(16, 2, 8), (20, 3, 8), (20, 2, 8)]
    # every product spent, not the earlier answer's 16: the spectrum's stages count the Lanczos runs by it
    assert result.quadrature.hvps == 20 == timed.seconds
    assert result.trail[-1].plus_minus == result.trail[0].plus_minus < result.trail[1].plus_minus
    np.testing.assert_array_equal(result.quadrature.nodes, first.quadrature.nodes)


def test_steps_reported_after_a_breakdown_are_the_steps_taken() -> None:
    """Three distinct eigenvalues: every Krylov space is invariant after 3 steps, so the
    runs stop there however many the stage planned, and the trail says 3, not 8."""
    lam = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).repeat(20)
    op = DenseOperator(torch.diag(lam))
    plan = AdaptivePlan(tolerance=1e-6, max_products=10_000, initial_steps=8, initial_runs=3, lockstep=3)
    result = adaptive_slq(op, plan, _assess_by_steps(1000), seed=0)
    assert result.stopped_by == "converged"
    assert result.trail[-1].steps == 3 == int((result.quadrature.weights > 0).sum(axis=1).max())


def _probe_bound(quad) -> Assessment:
    """A probe part that more probes never shrink below the tolerance; none once exact."""
    if quad.exact:
        return Assessment(0.5, 0.0, 0.0, 0.0)
    return Assessment(0.5, 0.05, 0.0, 0.05)


@pytest.mark.parametrize("lam", [
    torch.cat([torch.zeros(9), torch.linspace(0.1, 2.0, 90)]),  # a 9-fold 0 (softmax's null space): runs break down
    torch.linspace(-0.5, 2.0, 99),  # all simple: runs would span the space at D steps
], ids=["breakdown", "simple"])
def test_small_model_carries_one_run_to_the_exact_spectrum(lam) -> None:
    """D = 99, the probe part dominating: more probes would spend the whole budget (before:
    25 probes × 64 steps, ``max-hvps``). Carrying the first run to D steps costs less than
    the next stage, and gives every eigenvalue with its multiplicity: ``converged``, exact."""
    lam = lam.to(torch.float64)
    q, _ = torch.linalg.qr(torch.randn(99, 99, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    op = DenseOperator((q * lam) @ q.T)
    plan = AdaptivePlan(tolerance=0.01, max_products=1600, initial_steps=32, initial_runs=3, lockstep=3)
    result = adaptive_slq(op, plan, _probe_bound, seed=0)
    assert result.stopped_by == "converged" and result.quadrature.exact
    assert result.quadrature.hvps <= 3 * 32 + 99 - 32
    np.testing.assert_allclose(np.sort(result.quadrature.nodes[0]), lam.numpy(), atol=1e-10)


def test_runs_that_broke_down_with_probe_noise_left_end_exact() -> None:
    """Three distinct eigenvalues ×20: every run breaks down after 3 steps with its probe's
    weights, which more probes only average. Once a stage of probes would cost as much as
    the 57 steps left to D, the first run is carried past its breakdowns instead (before:
    probes until ``max-hvps``)."""
    lam = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).repeat(20)
    plan = AdaptivePlan(tolerance=1e-6, max_products=10_000, initial_steps=8, initial_runs=3, lockstep=3)
    result = adaptive_slq(DenseOperator(torch.diag(lam)), plan, _probe_bound, seed=0)
    assert result.stopped_by == "converged" and result.quadrature.exact
    assert result.quadrature.hvps < 200
    np.testing.assert_allclose(np.sort(result.quadrature.nodes[0]), np.sort(lam.numpy()), atol=1e-10)


def test_the_progress_total_is_what_the_time_budget_affords() -> None:
    """50 s at 1 s a product: stages of 16, 32 and then 64 products in all are planned, and
    the budget cuts the third at 50. The bar expected 64 there, so its ETA ran past the
    budget; it now expects what the time left affords at the rate so far (50), never
    fewer than are done."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=50.0, initial_steps=8, initial_runs=2)
    seen: list[tuple[int, int]] = []
    result = adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds,
                          progress=lambda done, planned, text, left=None: seen.append((done, planned)))
    assert result.stopped_by == "time-budget" and result.trail[-1].products == 50
    assert max(planned for _, planned in seen) == 50 and all(done <= planned for done, planned in seen)
    assert {planned for _, planned in seen} >= {16, 32}  # the stages the budget did not reach, as planned


def _assess_focusing(quad) -> Assessment:
    """Truncation falling as 1/steps, one run's probe part small: the runs focus on the first."""
    trunc = 4.0 / int((quad.weights > 0).sum(axis=1).max())
    return Assessment(0.5, trunc + 0.001, trunc, 0.001, 0.002)


@pytest.mark.parametrize("assess", [_assess_by_steps(1000), _assess_by_runs(50), _assess_focusing],
                         ids=["steps", "probes", "focus"])
@pytest.mark.parametrize("budget", [5, 13, 40, 97, 200, 400])
def test_a_product_budget_holds_what_must_follow_the_runs(assess, budget) -> None:
    """A given --max-hvps counted the runs alone: the data check after them (the first
    probe's steps again on each of 4 parts) and the trace's top-ups (to 8 samples) came on
    top, 453 products under --max-hvps 200 on the example. The runs now hold them back, at
    every stage, whether steps or probes grow or the first run goes on alone (7 top-ups
    then); below the smallest plan (one step, its 4 data-check products and 7 top-ups: 12)
    they take one step (the caller says how far over)."""
    from prunelimit.curvature.adaptive import Afterwards

    after = Afterwards(per_step=4, runs_to=8, counted=True)
    tolerance = 0.01 if assess is _assess_focusing else 1e-9  # a focus needs one run's probe part below it
    plan = AdaptivePlan(tolerance=tolerance, max_products=budget, initial_steps=8, initial_runs=3, after=after)
    result = adaptive_slq(_operator(), plan, assess, seed=0)
    runs, steps = result.quadrature.runs, int((result.quadrature.weights > 0).sum(axis=1).max())
    if budget < 1 + after.products(1, 1):
        assert (result.quadrature.hvps, runs, steps) == (1, 1, 1)
    else:
        assert result.quadrature.hvps + after.products(runs, steps) <= budget
    assert result.stopped_by == "max-hvps"
    if assess is _assess_focusing and budget >= 200:
        assert result.trail[-1].runs == 1  # the focus was taken, its top-ups held back too


@pytest.mark.parametrize("budget", [30.0, 45.0, 80.0])
def test_a_time_budget_holds_the_predicted_seconds_of_what_must_follow_the_runs(budget) -> None:
    """At 1 s a product, a data check of 0.5 s plus 2 s a step and top-ups to 8 samples at
    the runs' rate: the runs stop where the next step and that work would end past the
    budget (before, they ran to it, and the data check and top-ups came on top). A cut first
    stage may answer with the runs it finished (``_finished_runs``): its top-ups are held
    for those."""
    from prunelimit.curvature.adaptive import Afterwards

    after = Afterwards(per_step=4, runs_to=8, fixed_seconds=0.5, step_seconds=2.0)
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=budget, initial_steps=8, initial_runs=3,
                        after=after)
    result = adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds)
    runs, steps = result.quadrature.runs, int((result.quadrature.weights > 0).sum(axis=1).max())
    assert result.stopped_by == "time-budget"
    assert timed.seconds + after.seconds(runs, steps, 1.0) <= budget
    per_run = (result.quadrature.weights > 0).sum(axis=1)
    fewest = int((per_run == 8).sum()) or runs if len(result.trail) == 1 else runs
    assert timed.seconds + 1 + after.seconds(fewest, steps + 1, 1.0) > budget  # one more would not have fitted


@pytest.mark.parametrize("budget", [60.0, 100.0, 150.0])
def test_a_time_budget_holds_the_assessment_after_the_runs(budget) -> None:
    """At 1 s a product and an assessment of 5e-3 s per squared step a run (its eigen-solve
    and band reduction grow as steps²: 2 runs of 64 steps, 41 s): the runs stop where the
    next step and the assessment after it would end past the budget. Before, they ran to it
    and the last assessment came on top (a 150 s budget ended at 283 s). And no earlier:
    priced per cubed step, the assessment after more steps was priced above its cost, and a
    150 s budget stopped the first run, carried on alone, at 63 steps at 128.3 s, where 75
    steps end at 148.6 s."""
    timed = _Timed(_operator())
    inner = _assess_by_steps(1000)
    per_squared_step = 5e-3
    last: list[tuple[float, np.ndarray]] = []  # (clock before, steps a run) of each assessment

    def assess(quad) -> Assessment:
        steps = (quad.weights > 0).sum(axis=1).astype(float)
        last.append((timed.seconds, steps))
        timed.seconds += per_squared_step * float((steps**2).sum())
        return inner(quad)

    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=budget, initial_steps=8, initial_runs=2)
    result = adaptive_slq(timed, plan, assess, seed=0, clock=lambda: timed.seconds)
    assert result.stopped_by == "time-budget"
    assert timed.seconds <= budget  # exact: the clock is the products and the assessments' squares
    before, steps = last[-1]
    # one more product (1 s) and the assessment after it, every run a step further, end past it
    assert before + 1 + per_squared_step * float(((steps + 1) ** 2).sum()) > budget


def test_the_progress_total_follows_a_rate_that_changes_under_the_time_budget() -> None:
    """The total a time budget allows was set once a stage, at the rate so far: products
    that grew faster (2 s each for the first 16, then 0.5 s) ran past it, 52 done of 40
    expected, the bar at 100 % and its ETA at 0 while the budget still had products to
    make. It is now re-read before every step, at the rate the deadline is checked with."""
    timed = _Timed(_operator())
    slow = timed.matmat

    def matmat(vs):
        before = timed.seconds
        out = slow(vs)
        timed.seconds = before + vs.shape[1] * (2.0 if before < 32 else 0.5)
        return out

    timed.matmat = matmat
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=50.0, initial_steps=8, initial_runs=2)
    seen: list[tuple[int, int]] = []
    result = adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds,
                          progress=lambda done, planned, text, left=None: seen.append((done, planned)))
    assert result.stopped_by == "time-budget"
    assert all(done <= planned for done, planned in seen)
    assert seen[-1][0] == result.trail[-1].products


@pytest.mark.parametrize("progress", [None, lambda done, planned, text, left=None: None], ids=["no-bar", "bar"])
def test_a_time_budget_too_long_to_count_in_products_changes_nothing(progress) -> None:
    """--time-budget takes up to 8.9e307 s: at a millisecond a product the products it affords
    overflowed a float (math.floor(inf): an internal error before any answer). Such a budget
    affords every product: the runs are those without one."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=0.01, max_products=10_000, initial_steps=8, initial_runs=2)
    free = adaptive_slq(_operator(), plan, _assess_by_steps(32), seed=0)
    long = adaptive_slq(timed, replace(plan, time_budget=8e307), _assess_by_steps(32), seed=0,
                        clock=lambda: timed.seconds * 1e-3, progress=progress)
    assert long.stopped_by == free.stopped_by == "tolerance"
    assert [s.to_json() for s in long.trail] == [s.to_json() for s in free.trail]
