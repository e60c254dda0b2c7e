"""Adaptive SLQ: grow the Lanczos runs, or add probes, until the answer is precise enough.

A fixed plan (the old default: 8 probes × 200 steps) spends the same work whether the
quantity of interest converged after 40 steps or has not at 400. Here the caller says
what "precise enough" means through ``assess(quadrature)``, which returns the current
estimate and its uncertainty split into a truncation part (more steps shrink it) and a
statistical part (more probes shrink it; ``prunelimit.theory.uncertainty``). Each stage
then buys the cheaper remedy for the larger part:

* steps: every run continues its recurrence (``LanczosRuns.extend``), so nothing computed
  before is thrown away: to twice the steps at first, then to the steps a power law
  through the last two stages' truncation parts predicts for the tolerance (between
  ``MIN_GROWTH`` and 2× the current steps). Truncation errors of Gauss-type rules fall at
  least as fast as a power law in the steps, so the prediction errs towards more steps,
  and it saves up to half of a doubling's products where the tolerance is just missed;
* probes: as many new runs as there are, seeded in order, brought to the current steps;
* focus: when the power law predicts that the budget left cannot bring every run to the
  tolerance, and that the first run carried alone through all of that budget ends with a
  smaller ± (its truncation part there plus ``statistical_alone``, the probe part one run
  has), the other runs stop and the first continues alone, unless one run's probe part
  alone is at or above the tolerance (it could never meet it). Truncation-bound models where
  one probe's noise is small (large D) get a several-fold smaller ± for the same products;
  the dropped runs' products stay counted. Should the lone run still end with a wider ±
  than every run had when it was set aside (one run's bracket varies about the mean), that
  earlier answer is returned.

It stops at the first of: uncertainty ≤ ``tolerance`` (``"tolerance"``), the product
budget (``"max-hvps"``), the time budget, predicted from the seconds per product of the
latest stage and enforced within a stage, which then ends short (``"time-budget"``), the
host memory the bases may hold (``"memory"``), or nothing left to refine (``"converged"``:
every run, or the focused one, exact).
Every run keeps its basis for full reorthogonalisation, so memory grows with the steps of
all runs; a stage is cut to ``max_basis_rows`` rows in all, counting the copy a basis
makes while it grows, and a focus frees the other runs' bases.
Runs are drawn and grouped as ``curvature.slq.slq`` does, so the result equals a fixed
plan of the final probes and steps (after a focus: of the first probe alone), to the
operator's rounding.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from prunelimit.curvature.lanczos import LanczosRuns
from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.curvature.slq import rademacher, runs_quadrature
from prunelimit.report.rounding import half_width_text, value_text

STOP_REASONS = ("tolerance", "max-hvps", "time-budget", "memory", "converged")
MIN_GROWTH = 1.25  # a predicted extension grows the steps by at least this factor ...
TARGET_SHARE = 0.9  # ... and aims the truncation part at this share of what the tolerance leaves it


@dataclass(frozen=True)
class Assessment:
    """An estimate after a stage and its uncertainty: ``plus_minus`` in total, of which
    ``steps`` is the truncation part and ``statistical`` the probe part;
    ``statistical_alone``: the probe part were the first run kept alone (∞: unknown, never
    focus)."""

    estimate: float
    plus_minus: float
    steps: float
    statistical: float
    statistical_alone: float = math.inf


@dataclass(frozen=True)
class AdaptivePlan:
    """Where adaptive SLQ starts and when it stops (see the module doc).

    ``tolerance``: the ``plus_minus`` to reach; ``max_products``: Hessian-vector products
    at most; ``time_budget``: seconds at most (``None``: no limit); ``initial_steps`` and
    ``initial_runs``: the first stage; ``lockstep``: runs advanced together (one
    ``matmat`` call serves a group); ``max_basis_rows``: Lanczos basis vectors all runs
    may hold at once, a host-memory limit (``None``: none).
    """

    tolerance: float
    max_products: int
    initial_steps: int
    initial_runs: int
    time_budget: float | None = None
    lockstep: int = 1
    max_basis_rows: int | None = None


@dataclass(frozen=True)
class Stage:
    """One row of the adaptive trail: the state after a stage and its assessment."""

    products: int
    runs: int
    steps: int
    seconds: float
    estimate: float
    plus_minus: float

    def to_json(self) -> dict:
        """Without ``seconds``: results are byte-identical across runs apart from their timing block."""
        return {"hvps": self.products, "runs": self.runs, "iterations": self.steps, "ratio": self.estimate,
                "plus_minus": self.plus_minus}


@dataclass(frozen=True)
class AdaptiveResult:
    quadrature: SpectralQuadrature
    stopped_by: str
    trail: list[Stage] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return self.trail[-1].steps

    @property
    def runs(self) -> int:
        return self.trail[-1].runs


Progress = Callable[[int, int, str], None]


def adaptive_slq(
    op: CurvatureOperator,
    plan: AdaptivePlan,
    assess: Callable[[SpectralQuadrature], Assessment],
    seed: int = 0,
    storage_dtype: torch.dtype | None = None,
    progress: Progress | None = None,
    describe: Callable[[Assessment], str] = lambda a: (f"{value_text(a.estimate, a.plus_minus, least=4)} "
                                                       f"± {half_width_text(a.plus_minus, least=4)}"),
    clock: Callable[[], float] = time.perf_counter,
) -> AdaptiveResult:
    """SLQ on ``op`` grown until ``assess`` is satisfied (groups of ``plan.lockstep`` runs
    advanced by one ``op.matmat`` a step).

    ``progress(done, planned, text)`` is called after every product with the products of
    the stages so far plus the current one, and ``describe`` of the latest assessment.
    """
    start = clock()
    dim = op.shape[0]
    generator = torch.Generator().manual_seed(seed)
    groups: list[LanczosRuns] = []
    if plan.max_basis_rows is not None and plan.max_basis_rows < 1:
        raise ValueError(f"max_basis_rows must be at least 1, got {plan.max_basis_rows}")
    rows = sys.maxsize if plan.max_basis_rows is None else plan.max_basis_rows  # an int: exact arithmetic
    # the first stage fits the product and memory budgets too
    add_runs = min(plan.initial_runs, plan.max_products, rows)
    steps = max(1, min(plan.initial_steps, dim, plan.max_products // add_runs, rows // add_runs))
    spent = 0
    trail: list[Stage] = []
    truncation: list[tuple[int, float]] = []  # (steps, truncation part) after each steps stage
    kept: int | None = None  # 1 after a focus: only the first run goes on and counts
    set_aside: tuple[SpectralQuadrature, Assessment, int] | None = None  # every run's answer before the focus
    text = "first stage"
    deadline = None if plan.time_budget is None else start + plan.time_budget
    out_of_time = None if deadline is None else (lambda: clock() >= deadline)

    def finish(reason: str) -> AdaptiveResult:
        """The result: the focused run's, unless every run's answer before the focus was
        tighter (one run's bracket can be wider than the runs' mean); the trail's last row
        then says which answer was returned."""
        if set_aside is not None and set_aside[1].plus_minus < verdict.plus_minus:
            before, assessment, before_steps = set_aside
            trail.append(Stage(spent, before.runs, before_steps, clock() - start, assessment.estimate,
                               assessment.plus_minus))
            return AdaptiveResult(before, reason, trail)
        return AdaptiveResult(quad, reason, trail)

    while True:
        new_groups = _new_groups(op, add_runs, steps, plan.lockstep, generator, storage_dtype)
        going = [g for g in groups[: 1 if kept else None] if min(g.steps) < steps and not all(g.broken_down)]
        going += new_groups
        planned = spent + _stage_cost(groups, new_groups, steps, kept)
        for group in going:
            if out_of_time is not None and spent and out_of_time():
                break  # the groups not started stay out; the stage is cut
            base = spent
            callback = None if progress is None else (lambda n, base=base: progress(base + n, planned, text))
            spent += group.extend(steps, callback, runs=kept, until=out_of_time)
        groups += [g for g in new_groups if max(g.steps) > 0]
        results = [r for g in groups for r in g.results()][:kept]
        broken = [b for g in groups for b in g.broken_down][:kept]
        cut = any(r.steps < min(steps, dim) and not b for r, b in zip(results, broken))
        steps = max(r.steps for r in results)  # what the runs took: fewer after a cut or a breakdown
        quad = runs_quadrature(results, broken, dim, "h", hvps=spent, iterations=steps)
        verdict = assess(quad)
        elapsed = clock() - start
        trail.append(Stage(spent, len(results), steps, elapsed, verdict.estimate, verdict.plus_minus))
        text = describe(verdict)
        if add_runs == 0 or not truncation:
            truncation.append((steps, verdict.steps))
        if progress is not None:
            progress(spent, spent, text)
        if verdict.plus_minus <= plan.tolerance:
            return AdaptiveResult(quad, "tolerance", trail)
        if cut:  # the time budget ran out within the stage
            return finish("time-budget")
        exhausted = steps >= dim or all(broken)
        if exhausted and (verdict.statistical <= 0.0 or kept):
            return finish("converged")
        active = sum(not b for b in broken)
        # a focused run has no other remedy than steps: new probes would not count
        grow_steps = not exhausted and (kept or verdict.steps >= verdict.statistical)
        left = plan.max_products - spent
        if plan.time_budget is not None:
            per_product = seconds_per_product(trail)
            left = min(left, int((plan.time_budget - elapsed) / per_product) if per_product > 0 else left)
        if grow_steps:
            add_runs = 0
            if active > 1 and not broken[0] and focus_pays(truncation, verdict, plan.tolerance,
                                                           min(left, rows - steps), active, dim):
                kept, active, set_aside = 1, 1, (quad, verdict, steps)
                _release_all_but_first(groups)
            statistical = verdict.statistical_alone if kept else verdict.statistical
            wanted = predicted_steps(truncation, plan.tolerance - statistical)
            by_memory = _steps_in_memory(groups, rows, kept)
            new_steps = min(wanted, dim, steps + left // max(active, 1), by_memory)
            if new_steps <= steps:
                return finish("memory" if by_memory <= steps else _limit(plan, left, spent))
            steps = new_steps
        else:
            by_memory = (rows - _allocated(groups)) // steps
            add_runs = min(len(results), left // steps, by_memory)
            if add_runs < 1:
                return finish("memory" if by_memory < 1 else _limit(plan, left, spent))


def predicted_steps(history: list[tuple[int, float]], allowed: float) -> int:
    """Steps at which the truncation part should reach ``TARGET_SHARE · allowed``, from the
    power law through the last two ``(steps, truncation)`` points; twice the last steps
    without two shrinking points, and always within [``MIN_GROWTH``, 2] times them."""
    steps = history[-1][0]
    low, high = math.ceil(MIN_GROWTH * steps), 2 * steps
    rate = _rate(history)
    if rate is None or allowed <= 0:
        return high
    m2, e2 = history[-1]
    wanted = m2 * (e2 / (TARGET_SHARE * allowed)) ** (1 / rate)
    return int(min(high, max(low, math.ceil(wanted))))


def focus_pays(history: list[tuple[int, float]], verdict: Assessment, tolerance: float, left: int, runs: int,
               dim: int) -> bool:
    """Whether to carry the first run alone (module doc): with ``left`` products, the power
    law through the last two ``(steps, truncation)`` points predicts that ``runs`` runs end
    above ``tolerance`` and one run alone ends with a smaller ±. ``False`` without two
    shrinking points, or when ``left`` cannot at least double the first run's steps (one
    run's bracket varies about the runs' mean; a short extension does not outgrow that), or
    when one run's statistical part alone is at or above the tolerance."""
    rate = _rate(history)
    steps, last = history[-1]
    if rate is None or left < steps:  # a run that cannot double its steps is not worth following alone
        return False

    def truncation_at(m: float) -> float:
        return last * (min(m, dim) / steps) ** -rate

    if verdict.statistical_alone >= tolerance:
        # one run alone can never reach the tolerance, and the runs' probe part, the floor
        # their ± falls to, is lower: the power law through early stages is too slow to
        # weigh against it (a 2,410-parameter MLP: 0.030 alone against 0.026 for three runs)
        return False
    together = truncation_at(steps + left / runs) + verdict.statistical
    alone = truncation_at(steps + left) + verdict.statistical_alone
    return together > tolerance and alone < together


def _rate(history: list[tuple[int, float]]) -> float | None:
    """Exponent of the power law through the last two points, if they shrink."""
    if len(history) < 2:
        return None
    (m1, e1), (m2, e2) = history[-2], history[-1]
    if not (m2 > m1 and 0 < e2 < e1):
        return None
    return math.log(e1 / e2) / math.log(m2 / m1)


def seconds_per_product(trail: list[Stage]) -> float:
    """Seconds a product cost in the latest stage: after a focus one run's products cost
    more each than a lockstep group's, so the average since the start would overstate
    what the time budget has left."""
    last = trail[-1]
    if len(trail) < 2:
        return last.seconds / max(last.products, 1)
    before = trail[-2]
    return (last.seconds - before.seconds) / max(last.products - before.products, 1)


def _limit(plan: AdaptivePlan, left: int, spent: int) -> str:
    """Which budget stopped the run: products when they are spent, else time."""
    return "max-hvps" if plan.max_products - spent <= left else "time-budget"


def _allocated(groups: list[LanczosRuns]) -> int:
    return sum(sum(g.allocated) for g in groups)


def _steps_in_memory(groups: list[LanczosRuns], rows: int, kept: int | None) -> int:
    """The most steps the runs that grow (the first ``kept``, all: ``None``) can reach within
    ``rows`` basis rows, counting the old copy of a basis while it grows."""
    runs = [(a, b) for g in groups for a, b in zip(g.allocated, g.broken_down)]
    growing = [a for a, b in runs[:kept] if not b]
    if not growing:
        return rows
    others = sum(a for a, _ in runs) - sum(growing)
    return (rows - others - max(growing)) // len(growing)


def _release_all_but_first(groups: list[LanczosRuns]) -> None:
    """After a focus only the first run grows: the others' bases are freed."""
    groups[0].release(1)
    for group in groups[1:]:
        group.release()


def _new_groups(op: CurvatureOperator, runs: int, steps: int, lockstep: int, generator: torch.Generator,
                storage_dtype: torch.dtype | None) -> list[LanczosRuns]:
    """``runs`` new probe runs of ``op`` in groups of ``lockstep``, probes drawn in order."""
    groups = []
    for first in range(0, runs, lockstep):
        count = min(lockstep, runs - first)
        probes = torch.stack([rademacher(op.shape[0], generator) for _ in range(count)])
        groups.append(LanczosRuns(op, probes, steps, storage_dtype=storage_dtype))
    return groups


def _stage_cost(groups: list[LanczosRuns], new_groups: list[LanczosRuns], steps: int, kept: int | None) -> int:
    """Products the coming stage will spend on the first ``kept`` runs (all: ``None``;
    runs that break down spend fewer)."""
    runs = [(s, b) for g in groups for s, b in zip(g.steps, g.broken_down)][:kept]
    grown = sum(steps - s for s, b in runs if not b and s < steps)
    return grown + steps * sum(len(g.steps) for g in new_groups)

