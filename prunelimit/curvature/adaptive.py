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
* exhaust: when carrying the first run to D steps costs no more than the coming stage
  (or a focused run broke down, or a stage predicted to miss the tolerance would leave
  too few products for it afterwards, or one predicted to miss it
  would take the runs past D products, what the exact spectrum's columns cost), it goes on
  alone, restarting past every breakdown
  (``LanczosRuns.exhaust``), to the exact spectrum: on small models the probe part, which
  only more probes shrink, would otherwise take the whole budget;
* focus: when the power law predicts that the budget left cannot bring every run to the
  tolerance, and that the first run carried alone through all of that budget ends with a
  smaller ± (its truncation part there plus ``statistical_alone``, the probe part one run
  has), the other runs stop and the first continues alone, unless one run's probe part
  alone is half the runs' predicted ± or more (the power law errs high on the truncation
  parts, which fall towards the probe parts, the runs' the lower), or the predicted gain is
  under the excess of that probe part over the runs', which the lone run loses for certain
  should the truncation parts fall faster than predicted. Truncation-bound models
  get a several-fold smaller ± for the same products, also where one probe's noise alone
  misses the tolerance (D of 10⁴–10⁵: then the runs could not meet it either);
  the dropped runs' products stay counted. Should the lone run still end with a wider ±
  than every run had when it was set aside (one run's bracket varies about the mean), that
  earlier answer is returned.

Both budgets are ceilings for what follows the runs too (``Afterwards``: a data check on the
curvature subset's parts, the first probe's steps again on each, and the trace's top-up
probes): the products it will spend at the answer's runs and steps are held back from
``max_products`` when it counts them, and its predicted seconds (at the runs' own seconds a
product, the data check's as the caller measured them) end the runs that much before the
time budget, before a product that would leave too little; so does the assessment that
follows the runs' last step, priced at the latest one's seconds per squared step.

It stops at the first of: the time budget, which ends a stage short (``"time-budget"``,
also when that stage's answer meets the tolerance: it is not the planned stage's; the
last whole stage's answer, or that of the runs a stage adding runs finished, instead
where it is tighter: ``_finished_runs``), or is spent between stages;
uncertainty ≤ ``tolerance`` (``"tolerance"``), the product budget (``"max-hvps"``), the
host memory the bases may hold (``"memory"``; at any of these three budgets, where the stages
since the runs last changed only grew their steps and one before the last whole one is
tighter than the answer otherwise returned, the tightest of those is: all bound the same
probes, the estimate having moved within a narrowing bracket (a time budget weighed only
the last whole stage, and returned 32 steps' ± 0.05 where 16 steps' 0.025 came before them
and a product budget at the same products returned it); never one whose rounding part is
below the latest's, which the steps found as they resolved nodes below the products' floor:
an earlier answer left it out, as it would at a ``"rounding"`` stop, where every earlier
stage either states less of that part or would have stopped there; nor does a focus return
such an answer), or nothing left to refine (``"converged"``: a run spans the space, the exact spectrum, or every run broke down with no probe part left),
or a part no stage shrinks at or above the tolerance (``"rounding"``: ``Assessment.fixed``,
the products' rounding, which only float64 products or a larger ε narrow), at once where
``plan.remedy`` says that what narrows it follows the runs (the caller's float64 re-run,
whose budgets the products left are). Where nothing follows, stopping there would leave
the products left unspent and the steps and probe parts as wide as they happen to be
(± 16 pt after 192 of 300 products on a classifier near zero loss, 0.6 pt of it rounding):
the runs go on, those parts aimed at the tolerance itself (the ± cannot go below the fixed
part), and stop ``"rounding"`` once they meet it, or at a limit or convergence as above.
The steps and probe parts are otherwise aimed at what that fixed part leaves of the tolerance.
Under a time budget a stage that grows the steps of several groups grows them a step each
in turn (the same products in another order: each run's are its own), so a stage the clock
cuts leaves every run within a step of the others, where one group after the other left the
first at the stage's steps, the data check priced at them, and the last where they began.
The clock only ever stops the runs, never shapes a stage, a focus or an exhaustion: a run
the time budget did not stop is the run without one, product for product, however fast
the machine (a ``plan.remedy`` may read it to say whether a re-run fits the time left; a run
it says none follows is then the run without a remedy).
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
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import torch

from prunelimit.curvature.lanczos import LanczosRuns
from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.curvature.slq import rademacher, runs_quadrature
from prunelimit.report.progress import clock_text
from prunelimit.report.rounding import RATIO_ENDS, half_width_text, value_text

STOP_REASONS = ("tolerance", "max-hvps", "time-budget", "memory", "converged", "rounding")
MIN_GROWTH = 1.25  # a predicted extension grows the steps by at least this factor ...
TARGET_SHARE = 0.9  # ... and aims the truncation part at this share of what the tolerance leaves it
RECENT_STEPS = 64  # steps timed before the worst case is fitted, and those that set its level (16 followed the noise)


@dataclass(frozen=True)
class Assessment:
    """An estimate after a stage and its uncertainty: ``plus_minus`` in total, of which
    ``steps`` is the truncation part and ``statistical`` the probe part;
    ``statistical_alone``: the probe part were the first run kept alone (∞: unknown, never
    focus); ``fixed``: the part of ``plus_minus`` no stage shrinks (the products' rounding),
    which the steps and probe parts are aimed past; ``products``: those the assessment itself
    took (the products' error measured again over all the data), counted as the runs' own."""

    estimate: float
    plus_minus: float
    steps: float
    statistical: float
    statistical_alone: float = math.inf
    fixed: float = 0.0
    products: int = 0


@dataclass(frozen=True)
class Afterwards:
    """What must follow the runs within the budgets, by the answer's runs and steps:
    ``per_step`` products for each step (a data check: the first probe's steps again on each
    of ``per_step`` parts) and one for each run short of ``runs_to`` (the trace's top-up
    probes); ``counted``: whether those products count against ``max_products`` (a given
    --max-hvps, not the default's Lanczos-only one). ``fixed_seconds`` and ``step_seconds``:
    the data check's measured cost beyond its steps and per step; ``row_seconds``: its
    reorthogonalisation's per basis vector, a step j projecting against j (the top-ups are
    priced at the runs' own seconds a product)."""

    per_step: int = 0
    runs_to: int = 0
    counted: bool = False
    fixed_seconds: float = 0.0
    step_seconds: float = 0.0
    row_seconds: float = 0.0

    @property
    def counted_per_step(self) -> int:
        """Products each step of the answer adds after the runs, as far as they count."""
        return self.per_step if self.counted else 0

    def products(self, runs: int, steps: int) -> int:
        """Products that come after ``runs`` runs of ``steps`` steps, as far as they count."""
        return self.expected(runs, steps) if self.counted else 0

    def expected(self, runs: int, steps: int, exact: bool = False) -> int:
        """Products that come after ``runs`` runs of ``steps`` steps, counted or not: what a
        progress bar's total holds beyond the runs (no top-ups after runs that found every
        eigenvalue, ``exact``: the trace is their sum)."""
        return self.per_step * steps + (0 if exact else max(0, self.runs_to - runs))

    def seconds(self, runs: int, steps: int, per_product: float, exact: bool = False) -> float:
        """Predicted seconds of what comes after ``runs`` runs of ``steps`` steps (no top-ups
        after runs that found every eigenvalue, ``exact``, as in ``expected``)."""
        data = (self.fixed_seconds + self.step_seconds * steps + self.row_seconds * steps * (steps + 1) / 2
                if self.per_step else 0.0)
        return data + (0 if exact else max(0, self.runs_to - runs)) * per_product


@dataclass(frozen=True)
class AdaptivePlan:
    """Where adaptive SLQ starts and when it stops (see the module doc).

    ``tolerance``: the ``plus_minus`` to reach; ``max_products``: Hessian-vector products
    at most; ``time_budget``: seconds at most (``None``: no limit); ``initial_steps`` and
    ``initial_runs``: the first stage; ``lockstep``: runs advanced together (one
    ``matmat`` call serves a group); ``max_basis_rows``: Lanczos basis vectors all runs
    may hold at once, a host-memory limit (``None``: none); ``after``: what must follow the
    runs within both budgets; ``remedy``: whether what narrows ``Assessment.fixed`` follows
    a ``"rounding"`` stop with that result (the caller's float64 re-run; ``None``: nothing
    does), where the runs stop at once and leave it the budgets (module doc); ``measuring``:
    the seconds, in the runs' products, an assessment may take beyond its bracket until one
    has taken products (``Assessment.products``: the caller's measuring of the products'
    error again over all the data, a float64 product among them), which the time budget
    holds until then (0: none); ``measuring_seconds``: the seconds of that measuring where
    the caller timed its like (the data check's operator over the subset's parts), held as
    ``measuring`` is, beside it.
    """

    tolerance: float
    max_products: int
    initial_steps: int
    initial_runs: int
    time_budget: float | None = None
    lockstep: int = 1
    max_basis_rows: int | None = None
    after: Afterwards = Afterwards()
    remedy: "Callable[[AdaptiveResult], bool] | None" = None
    measuring: float = 0.0
    measuring_seconds: float = 0.0


@dataclass(frozen=True)
class Stage:
    """One row of the adaptive trail: the state after a stage and its assessment.
    ``float64_products``: the stage's runs took float64 products (a float32 model's float32
    runs and the float64 ones that replaced them are rows of one trail)."""

    products: int
    runs: int
    steps: int
    seconds: float
    estimate: float
    plus_minus: float
    float64_products: bool = False

    def to_json(self) -> dict:
        """Without ``seconds``: results are byte-identical across runs apart from their timing block."""
        return {"hvps": self.products, "runs": self.runs, "iterations": self.steps, "ratio": self.estimate,
                "plus_minus": self.plus_minus, "float64_products": self.float64_products}


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


# ``progress(done, planned, text, left=seconds)``: see ``adaptive_slq``
Progress = Callable[..., None]


class StepCosts:
    """A product's seconds against the Lanczos step k it took: each step reorthogonalises
    against the k basis vectors before it, so a step costs more the further a run has gone,
    which no rate measured so far holds (a status priced at the slowest of them read
    0.31-0.65 of the time left through the first half of a 19,210-weight MLP's runs). The
    growth a step is the slope b of a + b·k fitted by least squares over every step timed so
    far (running sums); the level is the latest ``RECENT_STEPS`` steps' seconds a product at
    their mean step: the machine's load moves it, which a level fitted over the whole run
    (its intercept) lags. ``prior``: a slope fitted elsewhere on the same work, taken until
    this one's own is (the runs' for the data check's: the same reorthogonalisation against
    as many rows of the same length, whatever data its products pass over)."""

    def __init__(self, prior: float | None = None) -> None:
        self.prior = prior
        self.sums = [0.0] * 5  # Σw, Σw·k, Σw·k², Σw·y, Σw·k·y: exact for a clock of whole seconds
        self.recent: deque[tuple[float, float, float]] = deque()  # (products, seconds, products × step)
        self.latest = [0.0] * 3  # their sums, kept as they change: the status asks after every product

    def add(self, step: int, seconds: float, products: int) -> None:
        """``products`` products at step ``step`` took ``seconds`` in all."""
        per = seconds / products
        for i, term in enumerate((1, step, step * step, per, step * per)):
            self.sums[i] += products * term
        self.recent.append((products, seconds, products * step))
        dropped = self.recent.popleft() if len(self.recent) > RECENT_STEPS else (0, 0.0, 0)
        for i, (new, old) in enumerate(zip(self.recent[-1], dropped)):
            self.latest[i] += new - old

    def slope(self) -> float | None:
        """The fitted growth a step: ``None`` before ``RECENT_STEPS`` steps were timed (a slope
        over the first few, extrapolated to the budget's steps, read 728 s with 20 s left), or
        where the fit has a step cost less as the basis grows (a reorthogonalisation never
        does; the load's noise, which the rates hold)."""
        w, k, kk, y, ky = self.sums
        spread = w * kk - k * k
        if len(self.recent) < RECENT_STEPS or spread <= 0:
            return None
        slope = (w * ky - k * y) / spread
        return slope if slope >= 0 else None

    def seconds(self, products: int, first: float, last: float) -> float | None:
        """Seconds of ``products`` products spread evenly over steps ``first`` to ``last``, at
        the fitted slope, else the ``prior`` from the first step timed on; ``None`` without
        either."""
        slope = self.slope()
        if slope is None and self.recent:
            slope = self.prior
        if slope is None:
            return None
        timed, seconds, steps = self.latest
        return products * max(0.0, (seconds + slope * ((first + last) / 2 * timed - steps)) / timed)


def _at_worst(plan: AdaptivePlan, spent: int, per_product: float, steps: list[int], dim: int,
              costs: StepCosts | None = None, steady: float = 0.0, alone: bool = False) -> str:
    """What the product budget still allows after ``spent`` products, for the progress status:
    each stage's bar ends with its own products, so its ETA says nothing of the stages that
    may follow (a CNN's first 'eta 0:01:42' for a run that took 12 min 55 s to its 1,600
    products). ``steps``: each run's steps so far (after a focus, the first run's alone).
    What must follow the runs comes with it, at the steps the runs reach were they to spend
    the budget left as they stand: a data check runs the first probe's steps again on each
    part, outside the default product budget, and over a subset it is as many products as the
    runs (16,000 samples, 8,192 of them the curvature's: 'at worst 1,600 products, ≈ 0:00:01
    more' with the check's 2,132 products and some 2:50 ahead). Priced at ``per_product``, the
    slowest rate the runs have shown (``adaptive_slq``'s ``worst_rate``), the check too (it is
    timed only under a time budget, which bounds the bar already and states nothing here);
    once the steps' cost is fitted (``costs``, ``StepCosts``), the runs' products at the steps
    from theirs to that reach, or at ``steady`` where it is more (the slowest rate less the
    current stage's, whose first product holds the reservation of the stage's bases: 69 s with
    21 s left), the check's at the steps from 1 to it and the top-ups' at the first. Nothing
    before a rate is known. ``alone``: the first run may yet go on alone (a focus) while the
    others stop, the budget left then taking it, and the check after it, to steps + left, not
    the (Σ steps + left) / runs every run reaches: priced too, the dearer of the two is stated
    (3 runs focused at 16 steps under 600 products, a check of one part: 'a data check of 200'
    where it took 568, 0.67 of the seconds left at a second a product)."""
    left = plan.max_products - spent
    if plan.time_budget is not None or left <= 0 or per_product <= 0:
        return ""
    check, seconds = max((_worst_for(plan, left, per_product, going, dim, costs, steady)
                          for going in ([steps, steps[:1]] if alone and len(steps) > 1 else [steps])),
                         key=lambda worst: worst[1])
    text = f" and a data check of {check:,}" if check else ""
    return f"; at worst {plan.max_products:,} products{text}, ≈ {clock_text(seconds)} more"


def _worst_for(plan: AdaptivePlan, left: int, per_product: float, steps: list[int], dim: int,
               costs: StepCosts | None, steady: float) -> tuple[int, float]:
    """``_at_worst``'s data check beyond the budget (its products) and seconds, the runs at
    ``steps`` spending the ``left`` products."""
    after, runs = plan.after, max(len(steps), 1)
    reach = min(dim, (sum(steps) + left) // (runs + after.counted_per_step))
    following = after.expected(runs, reach)
    runs_products = max(0, left - after.products(runs, reach))
    check = after.per_step * reach if after.per_step and not after.counted else 0  # beyond the budget
    seconds = (runs_products + following) * per_product
    fitted = [costs.seconds(runs_products, sum(steps) / runs + 1, reach),
              costs.seconds(after.per_step * reach, 1, reach),
              costs.seconds(following - after.per_step * reach, 1, 1)] if costs is not None else [None]
    if None not in fitted:  # the runs' steps no cheaper than the steady rate: a focus can slow a product
        seconds = max(fitted[0], runs_products * steady) + fitted[1] + fitted[2]
    return check, seconds


def adaptive_slq(
    op: CurvatureOperator,
    plan: AdaptivePlan,
    assess: Callable[[SpectralQuadrature], Assessment],
    seed: int = 0,
    storage_dtype: torch.dtype | None = None,
    progress: Progress | None = None,
    describe: Callable[[Assessment], str] = lambda a: (f"{value_text(a.estimate, a.plus_minus, least=4, ends=RATIO_ENDS)} "
                                                       f"± {half_width_text(a.plus_minus, least=4)}"),
    clock: Callable[[], float] = time.perf_counter,
    costs: StepCosts | None = None,
) -> AdaptiveResult:
    """SLQ on ``op`` grown until ``assess`` is satisfied (groups of ``plan.lockstep`` runs
    advanced by one ``op.matmat`` a step). ``costs``: where the runs' steps are timed while
    ``progress`` is called (the status's worst case), for the caller to read after them (the
    data check's ETA takes their slope: ``StepCosts.prior``).

    ``progress(done, planned, text, left=seconds)`` is called after every product with the
    products of the stages so far plus the current one (no more than the time budget affords
    at the rate so far, or the stage's own where it is slower: ``budget_products`` at a stage's
    start, then before every step) plus what must follow the runs at the stage's steps
    (``Afterwards.expected``: a data check often spends more than the runs, and a bar that
    ended with them showed an ETA of none with half the work ahead), ``describe`` of the
    latest assessment and, under a time budget, the seconds that work is priced at
    (``left``; ``None`` without a time budget, or before a rate is known): the runs' products
    at their rate, what follows them at ``Afterwards.seconds`` (a data check's products over a
    part of the data cost a fraction of a run's, and an ETA of every product at the runs'
    rate read 4:11 with 47 s of the work left) and the assessment after the last step, never
    more than the time budget leaves.
    """
    start = clock()
    dim = op.shape[0]
    generator = torch.Generator().manual_seed(seed)
    groups: list[LanczosRuns] = []
    if plan.max_basis_rows is not None and plan.max_basis_rows < 1:
        raise ValueError(f"max_basis_rows must be at least 1, got {plan.max_basis_rows}")
    rows = sys.maxsize if plan.max_basis_rows is None else plan.max_basis_rows  # an int: exact arithmetic
    after = plan.after
    per_step = after.counted_per_step
    add_runs, steps = _first_stage(plan, dim, rows)
    spent = 0
    running = 0  # products made so far, updated within a stage (``spent`` is at its groups' ends)
    width = 1  # products the next step makes: the runs of the group going
    trail: list[Stage] = []
    truncation: list[tuple[int, float]] = []  # (steps, truncation part) after each steps stage
    kept: int | None = None  # 1 after a focus: only the first run goes on and counts
    set_aside: tuple[SpectralQuadrature, Assessment, int] | None = None  # every run's answer before the focus
    text = "first stage"
    whole: tuple[SpectralQuadrature, Assessment, int] | None = None  # the last stage the budget did not cut
    # the whole stages before the latest of the same runs, every stage since having only grown
    # their steps: their answers bound the same probes, so a product, memory or time stop returns
    # the tightest where it is tighter (the estimate can move within a narrowing bracket); not
    # only the one before: two stages can widen in turn
    fewer_steps: list[tuple[SpectralQuadrature, Assessment, int]] = []
    live: list[LanczosRuns] = []  # every group so far and the stage's new ones
    assessing = 0.0  # seconds the latest assessment took per squared step of its runs (``_assessed``)
    measuring = plan.measuring  # what an assessment may still measure, in the runs' products
    measuring_seconds = plan.measuring_seconds  # ... and in seconds, where timed
    began = (start, 0)  # (clock, products) where the current stage's products began
    priced: float | None = None  # seconds the work left is priced at, after the next step (``past_deadline``)
    apart = (0.0, 0)  # (seconds, products) the assessments took: not the runs' rate
    last_stage_rate = 0.0  # the last whole stage's seconds a product, its assessment left out
    costs = StepCosts() if costs is None else costs  # the runs' steps timed so far, for the status's worst case
    assessments = 1  # assessments after the stage's last step: 2 where it adds runs (``_finished_runs``)
    focusable = True  # a focus may come: none yet, and the latest assessment knows one run's probe part

    def runs_rate(now: float) -> float:
        """The runs' seconds a product so far, the assessments' seconds and products left out
        (``apart``); 0 before any."""
        products = running - apart[1]
        return (now - start - apart[0]) / products if products > 0 else 0.0

    def stage_rate(now: float) -> float:
        """The current stage's seconds a product so far; 0 before any."""
        return (now - began[0]) / (running - began[1]) if running > began[1] else 0.0

    def worst_rate(now: float) -> float:
        """What the status's worst case prices a product at: the slowest of the runs' rate so
        far, the current stage's and the last whole stage's. One run going on alone after a
        focus, its basis growing, makes products slower than the mean so far: a 100k-parameter
        MLP's status priced at the mean read 0.47 and 0.56 of the time its runs still took."""
        return max(runs_rate(now), stage_rate(now), last_stage_rate)

    def worst_case(now: float, done: int, steps: list[int]) -> str:
        """The status's worst case (``_at_worst``) after ``done`` products, the runs at ``steps``."""
        return _at_worst(plan, done, worst_rate(now), steps, dim, costs, max(runs_rate(now), last_stage_rate),
                         alone=focusable and kept is None)

    def past_deadline() -> bool:
        """Whether the next step's products, and what must follow the runs at the steps it may
        reach (``plan.after``, the top-ups priced at the runs' seconds a product so far), would
        end past the time budget. Sets ``planned`` to what the time left affords at that rate:
        a rate that changes (products grow faster once warm) would otherwise run the count
        past the total the stage began with, or stop it short. ``planned`` takes the stage's
        own rate where it is slower: one run going on alone after several in lockstep makes
        its products slower than the mean so far, whose total had the bar's ETA, read at the
        stage's rate, end minutes past the budget (the stop keeps the mean's rate). The rate
        leaves the assessments out (``apart``), which are priced on their own (``assessing``,
        ``measuring``): a first assessment that measured the products' error again over all
        the data (20 s of float64 products at 1 s a float32 one) more than doubled the
        runs' seconds a product, and the runs stopped a step early at every stage after it.
        Sets ``priced`` to the seconds the work left after that step is priced at (``progress``)."""
        nonlocal planned, priced
        now = clock()
        per_product = runs_rate(now)
        counts = [s for g in live for s in g.steps][:kept]
        answering = sum(s > 0 for s in counts)  # the runs the answer has, hence the top-ups after it
        if new_groups:  # ... the fewest: a cut stage that adds runs may answer with those it finished
            answering = _finished_runs(counts, [b for g in live for b in g.broken_down], steps) or answering
        ahead = (after.seconds(answering, max(counts, default=0) + 1, per_product)
                 + assessments * assessing * sum((s + 1) ** 2 for s in counts) + measuring * per_product
                 + measuring_seconds)
        if per_product > 0:
            rate = max(per_product, stage_rate(now))
            affords = running + max(width, _products_in(deadline - now - ahead, rate))
            planned = min(stage_plan, affords)
            runs = len(counts)  # the runs the total counts, at the stage's steps
            following_seconds = after.seconds(runs, steps, per_product) + assessing * runs * steps**2
            priced = max(0.0, min(max(0, planned - running - width) * rate + following_seconds,
                                  deadline - now - width * rate))
        return now + width * per_product + ahead > deadline

    deadline = None if plan.time_budget is None else start + plan.time_budget
    out_of_time = None if deadline is None else past_deadline

    def finish(reason: str, *earlier: tuple[SpectralQuadrature, Assessment, int] | None) -> AdaptiveResult:
        """The result: the latest stage's, unless every run's answer before a focus, or
        one of ``earlier`` (the earlier stages of the same runs, when a product, memory or time
        budget ends runs whose stages since only grew their steps; and the last whole stage's,
        or the runs a cut stage finished, when the time budget cut one short), was tighter and states at least the latest's rounding part (one run's bracket can be wider than the runs'
        mean, a run cut short widens the answer); the trail's last row then says which answer was returned, and
        its quadrature counts every product spent (the spectrum's ``lanczos`` stage)."""
        # only an answer that states the rounding part the latest found, or more: where the
        # steps resolved nodes below the products' floor, an earlier rule had that mass on
        # nodes above it, and its ± left out what its bracket could not see (16 steps on an
        # 80 %-null float32 spectrum: ρ* 0 ± 0.798 against the exact 0.8, where 32 steps stated
        # ± 1 of which 0.86 rounding; a product budget returned the 16 steps')
        candidates = [c for c in (set_aside, *earlier) if c is not None and c[1].fixed >= verdict.fixed]
        best = min(candidates, key=lambda c: c[1].plus_minus, default=None)
        if best is not None and best[1].plus_minus < verdict.plus_minus:
            before, assessment, before_steps = best
            row = Stage(spent, before.runs, before_steps, clock() - start, assessment.estimate, assessment.plus_minus)
            return AdaptiveResult(replace(before, hvps=spent), reason, trail + [row])
        return AdaptiveResult(quad, reason, trail)

    while True:
        if spent and out_of_time is not None and out_of_time():
            return finish("time-budget", *fewer_steps)
        new_groups = _new_groups(op, add_runs, steps, plan.lockstep, generator, storage_dtype)
        going = [g for g in groups[: 1 if kept else None] if min(g.steps) < steps and not all(g.broken_down)]
        going += new_groups
        live[:] = groups + new_groups
        stage_plan = planned = spent + _stage_cost(groups, new_groups, steps, kept)
        assessments = 2 if new_groups else 1
        following = after.expected(len([s for g in live for s in g.steps][:kept]), steps)
        if plan.time_budget is not None and trail:  # what the bar expects, not what the stage plans
            planned = min(planned, spent + budget_products(trail[-1], plan.time_budget))
        short = False  # the time budget left groups of this stage unstarted, or its steps untaken
        # a steps stage under a time budget grows its groups a step each in turn: where the
        # budget cuts it, every run has about the same steps (the most the time held)
        interleaved = out_of_time is not None and not new_groups and len(going) > 1
        for group, to in _turns(going, steps, kept) if interleaved else ((g, steps) for g in going):
            if out_of_time is not None and spent and out_of_time():
                short = True  # the groups or steps not started stay out; the stage is cut
                break
            base = spent
            stepped: list[float] = []  # the clock at this extend's latest step (its first also reserves the bases)

            def callback(n: int, base: int = base, group: LanczosRuns = group,
                         stepped: list[float] = stepped) -> None:
                nonlocal running
                before, running = running, base + n
                if progress is not None:
                    now = clock()
                    if stepped:
                        costs.add(max(group.steps[:kept]), now - stepped[0], running - before)
                    stepped[:] = [now]
                    worst = worst_case(now, running, [s for g in live for s in g.steps][:kept])
                    progress(base + n, planned + following, text + worst, left=priced)

            width = len(group.steps[:kept])
            spent += group.extend(to, callback, runs=kept, until=out_of_time)
            running = spent
        groups += [g for g in new_groups if max(g.steps) > 0]
        results = [r for g in groups for r in g.results()][:kept]
        broken = [b for g in groups for b in g.broken_down][:kept]
        cut = short or any(r.steps < min(steps, dim) and not b for r, b in zip(results, broken))
        aimed = min(steps, dim)  # the stage's steps
        steps = max(r.steps for r in results)  # what the runs took: fewer after a cut or a breakdown
        assessed = clock()
        last_stage_rate = stage_rate(assessed) or last_stage_rate
        quad = runs_quadrature(results, broken, dim, "h", hvps=spent, iterations=steps)
        verdict = assess(quad)
        focusable = math.isfinite(verdict.statistical_alone)  # ∞: never a focus
        spent += verdict.products
        running = spent
        quad = replace(quad, hvps=spent)
        now = clock()
        apart = (apart[0] + now - assessed, apart[1] + verdict.products)
        elapsed = now - start
        began = (now, spent)  # the next stage's products begin after this assessment
        if not verdict.products:  # one that measured products, once, prices no later one
            assessing = _assessed(now - assessed, [r.steps for r in results])
        else:  # measured, once: no later assessment measures again
            measuring = measuring_seconds = 0.0
        trail.append(Stage(spent, len(results), steps, elapsed, verdict.estimate, verdict.plus_minus))
        text = describe(verdict)
        if add_runs == 0 or not truncation:
            truncation.append((steps, verdict.steps))
        if progress is not None:  # the total and its price as though the runs ended here
            priced = None if deadline is None else max(0.0, min(
                after.seconds(len(results), steps, runs_rate(now), quad.exact), deadline - now))
            more = not quad.exact and verdict.plus_minus > plan.tolerance  # else the runs end here
            progress(spent, spent + after.expected(len(results), steps, quad.exact),
                     text + (worst_case(now, spent, [r.steps for r in results]) if more else ""),
                     left=priced)
        if quad.exact:  # a run spans the space: the exact spectrum, whatever the clock read
            return finish("converged")
        if cut:  # the time budget ran out within the stage: its answer depends on the clock
            done = _finished_runs([r.steps for r in results], broken, aimed) if new_groups else 0
            finished = None
            if (whole[0].runs if whole else 0) < done < len(results):
                # the runs the stage finished, without the one the clock cut short: a fixed plan
                # of the first probes, whose answer the cut run's short bracket may widen
                most = max(r.steps for r in results[:done])
                kept_quad = runs_quadrature(results[:done], broken[:done], dim, "h", hvps=spent, iterations=most)
                alone = assess(kept_quad)
                spent += alone.products
                finished = (kept_quad, alone, most)
            return finish("time-budget", whole, *fewer_steps, finished)
        if whole is None or new_groups or whole[0].runs != quad.runs:  # other probes: none bounds these
            fewer_steps = []
        else:
            fewer_steps.append(whole)
        whole = (quad, verdict, steps)
        if verdict.plus_minus <= plan.tolerance:
            return AdaptiveResult(quad, "tolerance", trail)
        tolerance = plan.tolerance - verdict.fixed  # what the parts that stages shrink must meet
        if tolerance <= 0:  # more steps or probes cannot bring the ± there
            stop = finish("rounding")
            if plan.remedy is not None and plan.remedy(stop):
                return stop  # what narrows the fixed part follows: the products left are its
            # nothing narrows it: the parts stages shrink are narrowed to the tolerance itself
            tolerance = plan.tolerance
            if verdict.plus_minus - verdict.fixed <= tolerance:
                return stop
        exhausted = steps >= dim or all(broken)
        if exhausted and verdict.statistical <= 0.0:
            return finish("converged")
        active = sum(not b for b in broken)
        # a focused run has no other remedy than steps: new probes would not count
        grow_steps = not exhausted and (kept or verdict.steps >= verdict.statistical)
        # products the runs may still spend: what must follow them at the current answer held back
        left = plan.max_products - spent - after.products(len(results), steps)
        if exhausted and kept:  # the focused run broke down: only carrying it past that refines it
            stage = math.inf
        elif grow_steps:
            add_runs = 0
            if active > 1 and not broken[0] and focus_pays(truncation, verdict, tolerance,
                                                           min(left, rows - steps), active, dim, per_step):
                kept, active, set_aside = 1, 1, (quad, verdict, steps)
                left -= after.products(1, steps) - after.products(len(results), steps)  # more top-ups
                _release_all_but_first(groups)
            statistical = verdict.statistical_alone if kept else verdict.statistical
            wanted = predicted_steps(truncation, tolerance - statistical)
            by_memory = _steps_in_memory(groups, rows, kept)
            new_steps = min(wanted, dim, steps + left // (max(active, 1) + per_step), by_memory)
            stage = active * (new_steps - steps) if new_steps > steps else math.inf
        else:
            by_memory = (rows - _allocated(groups)) // steps
            add_runs = min(len(results), left // steps, by_memory)
            stage = add_runs * steps if add_runs >= 1 else math.inf
        # whether the stage misses the tolerance, by the power law (steps) or by the probe part
        # falling as 1/√runs (probes)
        misses = stage != math.inf and (
            predicted_miss(truncation, statistical, tolerance, new_steps, dim) if grow_steps
            else verdict.steps + verdict.statistical * math.sqrt(len(results) / (len(results) + add_runs))
            > tolerance)
        # a stage that misses, and after which carrying the first run to D steps would no
        # longer fit the budget, would trade the exact spectrum for a wider ± (899 parameters:
        # 6 runs × 256 steps, ± 0.027, for 1,536 products)
        slips = misses and exact_slips_away(groups[0], dim, new_steps if grow_steps else steps, stage, left, rows,
                                            per_step)
        # a stage that misses and takes the runs past D products, what the exact spectrum's
        # columns cost: the first run goes on to D instead
        beyond = misses and spent + stage > dim
        if slips or exhaust_pays(groups[0], dim, stage, left, rows, per_step, beyond):
            # carrying the first run to D steps costs no more than the stage planned and
            # ends with every eigenvalue: no steps or probe part left
            kept, set_aside, add_runs, steps = 1, None, 0, dim
            _release_all_but_first(groups)
            groups[0].exhaust()
        elif exhausted and kept:
            return finish("converged")
        elif stage == math.inf:
            stuck = by_memory <= steps if grow_steps else by_memory < 1
            return finish("memory" if stuck else "max-hvps", *fewer_steps)
        elif grow_steps:
            steps = new_steps


def _turns(going: list[LanczosRuns], steps: int, kept: int | None) -> Iterator[tuple[LanczosRuns, int]]:
    """``(group, steps to extend it to)`` that take the first ``kept`` runs (all: ``None``) of
    ``going`` to ``steps`` a step at a time, every group in turn, each basis reserved at
    ``steps`` first (grown a step at a time it would be copied at every step). A time budget
    that ends the stage leaves every run within a step of the others. One group after the
    other left 3 runs of a 17,226-parameter MLP at 200, 128 and 128 steps under
    --time-budget 4.5: the data check, at the first probe's steps, priced at 200, and the
    runs' spread, the probe part, widened by their unequal steps (± 2.7 pt, 0.40 pt of it
    probes; now 170 steps each, ± 2.1 pt, 0.07 pt probes)."""
    for group in going:
        group.reserve(steps, kept)
    start = min(s for g in going for s, b in zip(g.steps[:kept], g.broken_down[:kept]) if not b)
    for to in range(start + 1, steps + 1):
        for group in going:
            if any(s < to and not b for s, b in zip(group.steps[:kept], group.broken_down[:kept])):
                yield group, to


def _finished_runs(counts: list[int], broken: list[bool], steps: int) -> int:
    """How many runs (their steps ``counts``, in probe order), from the first, reached
    ``steps`` steps or broke down. A stage that adds runs takes them one after another (a run short of the
    stage's steps has a wide bracket: spread over all of them, a cut stage would leave every
    new run short), so where the time budget cuts it these runs are a fixed plan of the first
    probes at the stage's steps, the cut one and those never started left out. Its answer is
    weighed against the cut stage's: a 2,410-parameter MLP's stage from 3 to 6 runs of 256
    steps (1 s a product on a simulated clock) cut at 1,100 products left runs of 256, 256,
    256, 256 and 70 steps, ± 6.6 pt, and the 3 whole runs answered (± 3.5 pt), where the
    first 4 runs give 2.7 pt. The time budget holds this second assessment (``assessments``),
    and the trace's top-ups after the fewest runs the answer may have, these or the last
    whole stage's (priced after every run started, a cut stage answered by the 3 whole runs
    of 4 started ended 1 top-up past the budget)."""
    count = 0
    for done, stopped in zip(counts, broken):
        if done < steps and not stopped:
            break
        count += 1
    return count


def _assessed(seconds: float, steps: list[int]) -> float:
    """Seconds an assessment of runs of ``steps`` steps took, per squared step: the time
    budget must hold the one after the runs' last step too, 0.35 s on a run of 2,000 steps
    where the products of the step before may take milliseconds. Its largest parts grow
    as steps² a run: the Gauss rule's eigen-solve (all of the tridiagonal's eigenvectors)
    and the bracket's band reduction (``curvature.bracket``); the ρ* solves over the nodes
    grow as the steps. Priced per cubed step, as the bracket's Stieltjes procedure once
    grew, the 6 runs of 256 steps of a 2,410-parameter MLP (0.10 s) priced the assessment
    of its first run carried on alone at 1,416 steps at 2.9 s, which took 0.59 s, and a 12 s
    budget stopped the spectrum at 9.4 s (now at 11.8 s, the run at 2,102 steps). Measured
    after every stage, its fixed costs counted as squared steps too, which errs towards
    stopping early."""
    return seconds / max(1, sum(s**2 for s in steps))


def budget_products(last: Stage, budget: float) -> int:
    """Products the rest of ``budget`` seconds affords at the rate of the stages so far
    (``last``, the latest): the total a progress bar expects, whose ETA would otherwise run
    past the budget that cuts the stage short. At least one: the stage makes one."""
    if last.seconds <= 0:
        return sys.maxsize
    return max(1, _products_in((budget - last.seconds) * last.products, last.seconds))


def _products_in(seconds: float, per_product: float) -> int:
    """Whole products ``seconds`` afford at ``per_product`` seconds each, at most
    ``sys.maxsize``: a --time-budget may be up to 8.9e307 s, which over a millisecond a
    product is past any float (``math.floor`` of ∞ raises)."""
    return math.floor(min(seconds / per_product, sys.maxsize))


def exhaust_pays(first: LanczosRuns, dim: int, stage: float, left: int, rows: int, per_step: int = 0,
                 beyond: bool = False) -> bool:
    """Whether to carry the first run of ``first`` to ``dim`` steps (``LanczosRuns.exhaust``)
    instead of the coming stage of ``stage`` products (∞: none fits): ``left`` products pay
    for it and the ``per_step`` products each step adds after the runs (``Afterwards``),
    ``rows`` basis rows hold its basis and the copy made while it grows, and it costs no more
    than the stage, or the stage is ``beyond``: predicted to miss the tolerance and to take
    the runs past ``dim`` products, what the exact spectrum's columns cost (310 parameters:
    6 runs of 64 steps before the first went on to D, 630 products; now 438). On small
    models the probe part, which only more probes shrink, would otherwise take the whole
    budget (99 parameters: 25 probes × 64 steps, 1,600 products, where 67 more steps of one
    run give the exact spectrum)."""
    to_end = dim - first.steps[0]
    fits = 0 < to_end and to_end * (1 + per_step) <= left and dim + first.allocated[0] <= rows
    return fits and (to_end <= stage or beyond)


def exact_slips_away(first: LanczosRuns, dim: int, new_steps: int, stage: float, left: int, rows: int,
                     per_step: int = 0) -> bool:
    """Whether carrying the first run of ``first`` to ``dim`` steps fits ``left`` products
    and ``rows`` basis rows now (as in ``exhaust_pays``) but would not after the coming stage
    of ``stage`` products, to ``new_steps`` steps, were that stage to miss the tolerance (the
    first run's own growth in it counts towards the end)."""
    to_end = dim - first.steps[0]
    grown = 0 if first.broken_down[0] else max(0, min(new_steps, dim) - first.steps[0])
    fits = 0 < to_end and to_end * (1 + per_step) <= left and dim + first.allocated[0] <= rows
    return fits and (to_end - grown) * (1 + per_step) > left - stage - grown * per_step


def predicted_miss(history: list[tuple[int, float]], statistical: float, tolerance: float, steps: int,
                   dim: int) -> bool:
    """Whether the power law through the last two ``(steps, truncation)`` points puts the
    truncation part at ``steps`` steps, plus ``statistical``, above ``tolerance``; ``False``
    without two shrinking points (no prediction: the stage may meet it)."""
    rate = _rate(history)
    return rate is not None and _truncation_at(history, rate, steps, dim) + statistical > tolerance


def _truncation_at(history: list[tuple[int, float]], rate: float, steps: float, dim: int) -> float:
    """The truncation part at ``steps`` steps (at most ``dim``) by the power law of ``rate``
    through the last ``(steps, truncation)`` point."""
    last_steps, last = history[-1]
    return last * (min(steps, dim) / last_steps) ** -rate


def _first_stage(plan: AdaptivePlan, dim: int, rows: int) -> tuple[int, int]:
    """Runs and steps of the first stage: within the product and memory budgets, what must
    follow it (``plan.after``) included, one run of D steps where the planned steps reach D
    and it fits, else as many of the planned runs as leave each a step; one run of one step
    where even that does not fit, the smallest plan there is (the caller says how far past
    the budget it went)."""
    after = plan.after
    per_step = after.counted_per_step
    # A first stage of D steps: one run that does not break down spans the space, its
    # quadrature the exact spectrum (``runs_quadrature``), which more runs only repeat
    # (D = 17: 3 × 17 products for the 17 of one); one that breaks down is exhausted next.
    if plan.initial_steps >= dim and dim + after.products(1, dim) <= plan.max_products and dim <= rows:
        return 1, dim
    for runs in range(min(plan.initial_runs, plan.max_products, rows), 0, -1):
        room = plan.max_products - after.products(runs, 0)
        steps = min(plan.initial_steps, dim, room // (runs + per_step), rows // runs)
        if steps >= 1:
            return runs, steps
    return 1, 1


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
    # in logarithms: a part that all but stalls has a rate near 0, and the power itself
    # overflows a float (OverflowError) where the clamp to 2× would have taken it
    log_wanted = math.log(m2) + math.log(e2 / (TARGET_SHARE * allowed)) / rate
    if log_wanted >= math.log(high):
        return high
    return int(max(low, math.ceil(math.exp(log_wanted))))


def focus_pays(history: list[tuple[int, float]], verdict: Assessment, tolerance: float, left: int, runs: int,
               dim: int, per_step: int = 0) -> bool:
    """Whether to carry the first run alone (module doc): with ``left`` products, each step
    also adding ``per_step`` after the runs (``Afterwards``), the power law through the last
    two ``(steps, truncation)`` points predicts that ``runs`` runs end above ``tolerance``
    and one run alone ends with a smaller ±. ``False`` without two
    shrinking points, or when ``left`` cannot at least double the first run's steps (one
    run's bracket varies about the runs' mean; a short extension does not outgrow that), or
    when one run's statistical part alone is half the runs' predicted ± or more, or when the
    predicted gain is under the excess of one run's statistical part over the runs'."""
    rate = _rate(history)
    steps = history[-1][0]
    if rate is None or left < steps * (1 + per_step):  # a run that cannot double its steps is not worth following
        return False
    together = _truncation_at(history, rate, steps + left / (runs + per_step), dim) + verdict.statistical
    alone = _truncation_at(history, rate, steps + left / (1 + per_step), dim) + verdict.statistical_alone
    # The power law through two early stages errs high on both truncation parts, which may then
    # fall to the probe parts, the runs' the lower: the lone run must win by more than its probe
    # part's excess (|Cauchy| eigenvalues, D = 3,000: a predicted gain of 0.017 against 0.021 ended
    # at ± 0.036 alone where three runs reached 0.020), and its probe part stay under half the
    # runs' predicted ± (a 2,410-parameter MLP: 0.030 alone against 0.026). Past both it wins by
    # far, though that part alone misses the tolerance (a 34k-parameter MLP: ± 0.014 against 0.060).
    return (together > tolerance and alone < together and 2 * verdict.statistical_alone < together
            and together - alone >= verdict.statistical_alone - verdict.statistical)


def _rate(history: list[tuple[int, float]]) -> float | None:
    """Exponent of the power law through the last two points, if they shrink."""
    if len(history) < 2:
        return None
    (m1, e1), (m2, e2) = history[-2], history[-1]
    if not (m2 > m1 and 0 < e2 < e1):
        return None
    return math.log(e1 / e2) / math.log(m2 / m1)


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

