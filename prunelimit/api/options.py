"""Curvature options and the plan: what a spectrum is computed with, and the one place that
decides exact vs SLQ (``choose_solver``)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from typing import Collection, get_args

from prunelimit.curvature.exact import EXACT_MEMORY_BYTES, exact_host_bytes
from prunelimit.errors import OptionError, UsageError, command_line_running, fields_named, option, quoted, said
from prunelimit.inputs import Inputs
from prunelimit.limits import byte_size
from prunelimit.models.params import hessian_parameters
from prunelimit.specs import SEED_LIMIT

METHODS = ("default", "slq", "paper", "exact")


@dataclass(frozen=True)
class CurvatureOptions:
    """Settings that change the numbers of ``spectrum`` and ``bounds`` (all part of the cache
    key, except those ``method="exact"`` never reads: ``EXACT_IGNORES``).

    ``method``: ``default`` (the exact spectrum when it is predicted to be affordable,
    else adaptive SLQ; see below), ``slq`` (adaptive SLQ), ``paper`` (the reference
    pipeline: SLQ on H, 1 probe × 128 steps, smoothed density, integer R, 1/1000 grid) or
    ``exact`` (full Hessian, D ≤ 16,384). ``iterations``/``runs`` ``None``: the method's
    plan (adaptive for ``default``/``slq``); either given fixes an SLQ plan, the other
    then ``DEFAULT_ITERATIONS``/``DEFAULT_RUNS`` of ``curvature.slq`` (200 × 8), or
    128 × 1 for ``paper``. ``epsilon`` ``None`` is the population std of per-batch losses
    (docs/theory.md). ``"auto"``, the command line's word, is ``None`` for ``epsilon``,
    ``memory_budget_mb`` and ``basis_memory_mb`` (``_AUTO_IS_NONE``).
    ``basis_dtype``: storage of the Lanczos basis in host memory, ``auto`` (float32 for
    float32 HVPs, else float64) or a name in ``prunelimit.curvature.lanczos.BASIS_DTYPES``.
    ``memory_budget_mb``: what the HVP graphs may hold on the model's device (decides
    ``hvp="auto"`` and the chunk size on an accelerator); ``None``: ``CPU_MEMORY_BUDGET_MB``
    on a CPU, ``ACCELERATOR_BUDGET_SHARE`` of the device's free memory on a GPU.
    ``basis_memory_mb``: what the solver may hold in host memory: SLQ's Lanczos bases
    (adaptive SLQ stops growing there, ``stopped_by="memory"``; a fixed plan that cannot fit
    is refused), or the exact spectrum's dense Hessian and the eigenvalue solver's copy
    (``curvature.exact.exact_host_bytes``: ``default`` takes SLQ where they do not fit,
    ``exact`` is refused); ``None``: ``BASIS_MEMORY_SHARE`` of the host memory available at the start.

    Time to answer (docs/methods.md): ``default`` takes the exact spectrum when D × t_HVP
    and the eigenvalues fit ``EXACT_TIME_BUDGET_S`` (or ``time_budget``, when smaller; near
    it a tie rule decides, see ``choose_solver``), the dense Hessian fits
    ``EXACT_MEMORY_BYTES`` and its peak fits ``basis_memory_mb``, else adaptive SLQ (``slq`` asks for it directly); adaptive
    SLQ grows until ρ*'s stated ± is at most ``tolerance`` (in ratio units, below 1;
    default 0.01), or ``max_hvps`` products (``None``: ``DEFAULT_MAX_HVPS`` = 1,600 Lanczos
    products; a given ``max_hvps`` is a ceiling on every product from the start, the timed
    products, any exact columns left for SLQ, the data check (its 3 timing products held
    back with or without ``time_budget``) and the trace's top-ups included, and below
    D + ``TIMED_PRODUCTS`` (D + 4 for a float64 model) rules out the default's exact spectrum),
    ``time_budget`` seconds (default ``None``: no limit; a ceiling on the wall time from the
    command's start, the process's on the command line, the call's in the library
    (``distributed.budget_counted_from``): start-up and loading count; the runs leaving the data check and top-ups their predicted share:
    ``curvature.adaptive.Afterwards``) or ``basis_memory_mb`` are spent.
    Giving ``iterations`` or ``runs`` fixes the plan instead. ``hessian_samples``: SLQ's
    curvature on a class-balanced seeded subset of that many samples (``"auto"``/``None``:
    ``prunelimit.data.subsample.AUTO_HESSIAN_SAMPLES`` = 8,192, or ``DATA_PARTS`` = 4 a class
    if more, where that is at most a quarter of the data, else all; ``"all"``; the ``mse`` loss's targets, and those of torch's regression criteria, are drawn without classes); the exact spectrum, ε, the loss and the gradient always use the full
    analysis data.
    """

    method: str = "default"
    iterations: int | None = None
    runs: int | None = None
    epsilon: float | None = None
    eta: float = 0.01
    bound_mode: str = "akf"
    negative: str = "abs"
    hvp: str = "auto"
    seed: int = 0
    basis_dtype: str = "auto"
    memory_budget_mb: float | None = None
    tolerance: float = 0.01
    max_hvps: int | None = None
    time_budget: float | None = None
    hessian_samples: int | str | None = None
    basis_memory_mb: float | None = None

    @property
    def product_budget(self) -> int:
        """Lanczos products adaptive SLQ may spend: ``max_hvps``, or ``DEFAULT_MAX_HVPS``."""
        return DEFAULT_MAX_HVPS if self.max_hvps is None else self.max_hvps

    @fields_named
    def __post_init__(self) -> None:
        """Refuse invalid values (``OptionError``, a ``ValueError``, naming the field as its
        caller wrote it: ``tolerance=``, or the flag on the command line), one field a block,
        then a field set away from its default that the plan would ignore (:func:`check_plan`),
        as the command line refuses its flag: built in a notebook and passed to ``api.bounds``,
        it was ignored in silence. The command line checks the flags typed instead: a
        ``--config`` file's keys may serve other plans."""
        from prunelimit import validate
        from prunelimit.curvature.hvp import ENGINES
        from prunelimit.curvature.lanczos import BASIS_CHOICES
        from prunelimit.data.subsample import DATA_PARTS
        from prunelimit.theory.limit import BOUND_MODES
        from prunelimit.theory.statdim import Negative

        validate.plain_fields(self)  # NumPy scalars and 0-d tensors as the numbers they hold
        for name in _AUTO_IS_NONE:  # the command line's word for the default, as hessian_samples takes it
            if isinstance(getattr(self, name), str) and getattr(self, name) == "auto":
                object.__setattr__(self, name, None)
        validate.choice("method", self.method, METHODS)
        if self.iterations is not None:
            validate.integer("iterations", self.iterations, 1)
        if self.runs is not None:
            validate.integer("runs", self.runs, 1)
        if self.epsilon is not None:
            validate.positive("epsilon", self.epsilon)
        validate.open_unit("eta", self.eta)
        validate.choice("bound_mode", self.bound_mode, BOUND_MODES)
        validate.choice("negative", self.negative, get_args(Negative))
        validate.choice("hvp", self.hvp, ENGINES)
        validate.integer("seed", self.seed, 0, SEED_LIMIT)
        validate.choice("basis_dtype", self.basis_dtype, BASIS_CHOICES)
        if self.memory_budget_mb is not None:
            validate.positive("memory_budget_mb", self.memory_budget_mb)
        # ρ* lies in [0, 1]: a ± of 1 or more says nothing (a percentage typed?); checked first,
        # so that 1e308 is told this rather than that it is too large to double
        if validate.real(self.tolerance) and 1 <= self.tolerance < math.inf:
            raise OptionError("tolerance", f"{{0}} is in ratio units (0.01 is one point of ρ*) and must be "
                                           f"below 1, got {quoted(self.tolerance)}{validate.percent_hint(self.tolerance)}")
        validate.positive("tolerance", self.tolerance)
        if self.max_hvps is not None:
            validate.integer("max_hvps", self.max_hvps, 1)
        if self.time_budget is not None:
            validate.positive("time_budget", self.time_budget)
        if self.hessian_samples not in (None, "auto", "all"):
            if not isinstance(self.hessian_samples, numbers.Integral) or isinstance(self.hessian_samples, bool):
                raise OptionError("hessian_samples", "{0} must be 'auto', 'all' or a sample count (an integer of at "
                                  f"least {DATA_PARTS}), got {quoted(self.hessian_samples)}"
                                  f"{validate.not_a_number(self.hessian_samples, int)}")
            if self.hessian_samples < DATA_PARTS:  # the least any data takes (more with classes: curvature_subsample)
                raise OptionError("hessian_samples", f"{{0}} {self.hessian_samples} is too few to split into "
                                  f"{DATA_PARTS} parts (the data part of ρ*'s ±): use at least {DATA_PARTS} "
                                  f"({DATA_PARTS} a class, where the targets are classes), or all")
        if self.basis_memory_mb is not None:
            validate.positive("basis_memory_mb", self.basis_memory_mb)
        if not command_line_running():
            check_plan(self, list(validate.changed_fields(self)))


# The options whose default the command line writes 'auto' and a dataclass ``None``: 'auto' given
# here is that default (it was refused as "a str, not a number" with no fix, while
# hessian_samples='auto' was taken), so a value copied from a command line or --config file works
_AUTO_IS_NONE = ("epsilon", "memory_budget_mb", "basis_memory_mb")
# What steers adaptive SLQ alone (``tolerance`` also sets the threshold of a fixed plan's warning).
_ADAPTIVE_ONLY = ("max_hvps", "time_budget")
# What the exact spectrum (``method="exact"``, which never turns to SLQ) never reads and the
# caller may not set beside it (``check_plan``); ``hessian_samples`` too, when a count below
# the data's size (``check_exact_subset``: a count of at least it means all, as under SLQ)
_NOT_EXACT = ("iterations", "runs", "tolerance", *_ADAPTIVE_ONLY)
# ... and all that never changes its numbers: SLQ's random probes and curvature subset, its
# basis storage, and the host memory it may hold (which only refuses it: ``choose_solver``)
EXACT_IGNORES = (*_NOT_EXACT, "seed", "basis_dtype", "hessian_samples", "basis_memory_mb")
# What only a prediction reads, its spectrum and the bounds and negative-curvature rule applied
# to it: nothing, where none is computed (a gate on the measured limit, whose search reads ε alone).
PREDICTION_ONLY = ("method", "iterations", "runs", "hvp", "memory_budget_mb", "basis_dtype", "basis_memory_mb",
                   "tolerance", *_ADAPTIVE_ONLY, "hessian_samples", "eta", "bound_mode", "negative")


def check_same_on_every_rank(options: CurvatureOptions) -> None:
    """Under torchrun, a ``UsageError`` on every rank alike when the ranks' curvature options
    differ (a ``--config`` file or a flag that is not the same on every node): ranks that run
    other plans meet in collectives of other sizes, and gloo aborted with an internal error.
    One collective (a plain process: none)."""
    from prunelimit.distributed import all_agree

    if not all_agree(repr(options)):
        raise UsageError("the curvature options differ between the torchrun ranks (a --config file or an option "
                         "that is not the same on every node): give every rank the same options")


def check_plan(options: CurvatureOptions, given: Collection[str]) -> None:
    """Refuse an option the caller set (``given``: field names) that the plan would ignore:
    the adaptive budgets beside a fixed plan (``method`` ``exact`` or ``paper``,
    ``iterations``/``runs``), and every SLQ setting beside the exact spectrum. An
    ``OptionError`` naming the option, the option that fixes the plan as ``{1}`` (and ``{2}``).

    The library passes the keyword arguments it was given; the command line the flags typed
    on it (a ``--config`` file's keys are shared by commands and plans: one that does not
    apply to this plan is left unused). ``eta`` beside ``bound_mode`` ``none``, which computes no
    bounds, is refused alike."""
    if options.bound_mode == "none" and "eta" in given:
        raise OptionError("eta", f"{{0}} has no effect: {option('bound_mode', 'none')} computes no bounds, the only "
                          f"use of η; drop it, or use {option('bound_mode', 'akf')}")
    if options.method == "exact":
        (plan, fix), others = _exact_plan(), ()
        plan += " the data"
        ignored = list(_NOT_EXACT)
    elif options.method == "paper":
        plan, fix, others = f"{option('method', 'paper')} runs the reference pipeline's fixed plan", \
            f"use {option('method', 'slq')}", ()
        ignored = list(_ADAPTIVE_ONLY)
    elif options.iterations is not None or options.runs is not None:
        plan, fix, others = "{1}/{2} fix the plan", "drop {1}/{2}", ("iterations", "runs")
        ignored = list(_ADAPTIVE_ONLY)
    else:
        return
    for name in ignored:
        if name in given:
            raise OptionError(name, f"{{0}} has no effect: {plan}; drop it, or {fix}", *others)


def _exact_plan() -> tuple[str, str]:
    """What ``method`` ``exact`` does and the option that changes it, as the reader names them
    (a flag on the command line, a keyword in the library: read when the error is raised)."""
    return f"{option('method', 'exact')} computes every eigenvalue from all", f"use {option('method', 'slq')}"


def check_exact_subset(options: CurvatureOptions, total: int) -> None:
    """Refuse a ``hessian_samples`` count below the data's ``total`` samples beside
    ``method`` ``exact``, which takes its curvature over all of them (an ``OptionError``, as
    ``check_plan`` refuses SLQ's other settings); a count of at least ``total`` means all,
    as it does under SLQ, and is taken: it was refused whatever the data's size. Checked
    once the data are known; the command line leaves a --config file's count unused here."""
    asked = options.hessian_samples
    if options.method == "exact" and isinstance(asked, int) and asked < total:
        plan, fix = _exact_plan()
        raise OptionError("hessian_samples", f"{{0}} {asked:,} has no effect: {plan} {total:,} samples of the data; "
                                             f"drop it, or {fix}")


def fixed_by(options: CurvatureOptions) -> str:
    """The options that fixed an SLQ plan as its reader set them: ``--iterations 20``,
    ``iterations: 20 in ci.yaml`` (the --config file's key) or ``iterations=20``."""
    return ", ".join(option(name, value) for name, value in (("iterations", options.iterations),
                                                             ("runs", options.runs)) if value is not None)


# The HVP graphs' memory budget when none is given: on a CPU a fixed 1 GiB (graphs share
# host memory with everything else, and a fixed rule keeps the engine, hence the numbers,
# the same on every machine); on a GPU 3/4 of what is free when the operator is built.
CPU_MEMORY_BUDGET_MB = 1024.0
ACCELERATOR_BUDGET_SHARE = 0.75


@dataclass(frozen=True)
class MemoryUse:
    """Where a spectrum computation keeps its data, in MiB (docs/benchmarks.md, Memory).

    ``basis``: what the solver holds in host memory (the Lanczos basis, or the dense
    Hessian of the exact solver), described by ``basis_kind``; ``hvp_graphs``: estimated
    first-order graphs the ``hvp_engine`` keeps (cached) or rebuilds one chunk at a time
    (revrev), on the model's device (this rank's shard under torchrun); ``peak_host``:
    the process's peak resident memory so far; ``peak_device``: peak allocated
    accelerator memory during the computation (``None`` on a CPU).
    """

    basis_kind: str
    basis: float
    hvp_engine: str
    hvp_graphs: float
    peak_host: float
    peak_device: float | None

    def to_json(self) -> dict:
        return {"basis_kind": self.basis_kind, "basis_mb": self.basis, "hvp_engine": self.hvp_engine,
                "hvp_graphs_mb": self.hvp_graphs, "peak_host_mb": self.peak_host, "peak_device_mb": self.peak_device}


PAPER_ITERATIONS, PAPER_RUNS = 128, 1  # the SLQ configs of Zhang et al., NeurIPS 2024's code
# Cost-aware default: the exact spectrum when its D products are predicted to take at most
# this long and the dense float64 Hessian fits ``EXACT_MEMORY_BYTES`` (the limit
# ``curvature.exact.exact_hessian`` enforces).
EXACT_TIME_BUDGET_S = 60.0
DEFAULT_MAX_HVPS = 1600  # adaptive SLQ's products when no max_hvps is given: the old fixed 8 × 200 plan's
# Products the default times per operator after a warm-up one; the fastest prices a column
# (``api.curvature._seconds_per_column``: other load only ever slows a product).
TIMED_REPEATS = 3
# Products the default spends timing the exact spectrum's columns, at most: a warm-up and
# the timed ones in the model's dtype, the same in float64 (``api.curvature._cost_aware_choice``;
# a float64 model's are timed once: ``api.curvature.timed_products``).
TIMED_PRODUCTS = 2 * (1 + TIMED_REPEATS)
# Up to this factor over the exact spectrum's time budget the prediction does not refuse it
# (it scatters by about 2× from run to run on a loaded machine, and errs high by 1.3-1.7×:
# docs/benchmarks.md): a tie, settled by the columns' own fastest rate as they are formed.
EXACT_TIE_BAND = 1.5
# What a time budget already spent leaves the plans after it (they need a positive one): the
# solver's reason says nothing is left, not this.
SPENT_BUDGET_S = 1e-3
# An overshoot of a --time-budget the spectrum's warning lets pass: this share of the budget,
# but at least OVERRUN_FLOOR_S. Below them it is the clock's and the scheduler's noise, not
# work mispriced: a budget is read between stages on a clock other processes share (a
# time slice on a loaded Linux machine is several ms), and 0.2 ms over 3 s said "raise
# --time-budget". The plans still aim at the budget itself; only the warning allows this.
OVERRUN_SHARE = 0.01
OVERRUN_FLOOR_S = 0.02


def overrun_allowance(budget: float) -> float:
    """Seconds a spectrum may end past a ``budget`` of seconds before a warning says so."""
    return max(OVERRUN_SHARE * budget, OVERRUN_FLOOR_S)
ADAPTIVE_INITIAL_STEPS = 32  # adaptive SLQ's first stage: this many steps ...
ADAPTIVE_INITIAL_PROBES = 3  # ... on this many probes, or one on large models (docs/methods.md: why)
# Steps adaptive SLQ's bases are sized for when choosing their dtype and the lockstep group
# (the runs grow past it when they must; the rules only need its order of magnitude).
ADAPTIVE_PLANNED_STEPS = 256
SPREAD_TOLERANCE = 0.01  # ρ* spread over probes or m/2→m change above this is flagged
SLQ_VALIDATED_STIFFNESS = 1e5  # c·λmax up to which SLQ on H (m = 200) stayed within ~1 % (docs/accuracy.md)
TRACE_PROBES = 8  # Hutchinson samples behind the reported trace, at least (SLQ's probes count)


@dataclass(frozen=True)
class SolverChoice:
    """How the spectrum is computed and why: ``solver`` ``"exact"`` or ``"slq-h"``;
    ``adaptive`` SLQ grows from ``iterations`` × ``runs`` (else a fixed plan)."""

    solver: str
    adaptive: bool
    iterations: int
    runs: int
    reason: str
    predicted_exact_seconds: float | None = None  # D × t_HVP + eigenvalues, where measured (a timing: not in ``reason``)
    # False where the columns alone refused the exact spectrum, so the eigenvalues were not
    # timed: ``predicted_exact_seconds`` is then the columns' alone, a lower bound
    eigenvalues_timed: bool = True
    # the ± in ρ* adaptive SLQ ran to (its --tolerance; ``None``: exact or a fixed plan): a cached answer
    # that a tighter run stored keeps it, so that its trail and "reached the tolerance" read as made
    tolerance: float | None = None

    def to_json(self) -> dict:
        return {"solver": self.solver, "adaptive": self.adaptive, "reason": self.reason, "tolerance": self.tolerance}


def memory_budget_mb(options: CurvatureOptions, device) -> float:
    """The HVP graphs' budget on ``device`` (see ``CurvatureOptions.memory_budget_mb``)."""
    from prunelimit.device import free_memory_mb

    if options.memory_budget_mb is not None:
        return options.memory_budget_mb
    free = free_memory_mb(device)
    return CPU_MEMORY_BUDGET_MB if free is None else ACCELERATOR_BUDGET_SHARE * free


# Lanczos bases (or the exact spectrum's peak) may take this share of the host memory available
# when the solver is chosen and when SLQ starts: the rest
# stays for the HVP graphs, the data and everything else. Only a run that would otherwise
# exhaust the memory depends on it, so the numbers of every other run stay machine-independent.
BASIS_MEMORY_SHARE = 0.5


def basis_memory_bytes(options: CurvatureOptions) -> float:
    """Bytes the solver may hold in host memory, the Lanczos bases or the exact spectrum's
    peak (see ``CurvatureOptions.basis_memory_mb``; ∞ where
    the host's available memory is unknown). Under torchrun the least over the ranks: where
    the bases fill it decides where SLQ stops, which must be the same on every rank."""
    from prunelimit.device import available_host_mb
    from prunelimit.distributed import agreed_min

    if options.basis_memory_mb is not None:
        return options.basis_memory_mb * 2**20
    available = available_host_mb()
    return agreed_min(math.inf if available is None else BASIS_MEMORY_SHARE * available * 2**20)


def choose_solver(options: CurvatureOptions, dim: int, seconds_per_column: float | None = None,
                  eigen_seconds: float | None = 0.0, asked_budget: float | None = None,
                  timed: int = TIMED_PRODUCTS, host_bytes: float | None = None) -> SolverChoice:
    """The one place that decides exact vs SLQ and the SLQ plan (see ``CurvatureOptions``).

    ``seconds_per_column``: the measured cost of one Hessian column (one float64 HVP);
    ``eigen_seconds``: the predicted cost of the dense matrix's eigenvalues (``None``: not
    timed, taken as 0: the choice then errs towards exact, and states it). ``default`` is
    exact only when the columns are known, D of them plus the eigenvalues fit the time
    budget, or ``EXACT_TIE_BAND`` × it (a tie, which the exact columns' watch then settles:
    ``api.curvature._exact_watch``), and D products fit a given ``max_hvps``. ``paper`` is
    the reference code's fixed 1 × 128 SLQ. ``asked_budget``: the ``--time-budget`` given,
    when ``options.time_budget`` is only what the spectrum has left of it (the reason names both).
    ``timed``: the products the default's timing takes (``api.curvature.timed_products``: 4 for
    a float64 model, timed once), counted with the D columns against a given ``max_hvps``.
    ``host_bytes``: the host memory the solver may hold (``None``: ``basis_memory_bytes``, read
    only where the exact spectrum is in question): the exact spectrum's peak,
    ``curvature.exact.exact_host_bytes``, must fit it, else the default takes SLQ and
    ``method="exact"`` is refused (a ``UsageError``) before any work.
    """
    from prunelimit.curvature.slq import DEFAULT_ITERATIONS, DEFAULT_RUNS
    from prunelimit.theory.uncertainty import initial_runs

    if dim < 1:  # a Hessian of nothing: refused here, before every plan's arithmetic divides by D
        raise UsageError.naming(
            "no parameters for the Hessian: every selected parameter is frozen (requires_grad=False) or a "
            "normalisation parameter; make the weights trainable, or check {0}/{1}", "include", "exclude")
    if options.method == "exact":
        from prunelimit.curvature.exact import require_exact_fits

        require_exact_fits(dim)  # before any operator is built or product spent
        _require_exact_memory(dim, _host(options, host_bytes))
        return SolverChoice("exact", False, dim, 1, f"asked for ({option('method', 'exact')})")
    if options.method == "paper":
        return SolverChoice("slq-h", False, options.iterations or PAPER_ITERATIONS, options.runs or PAPER_RUNS,
                            f"the reference pipeline's fixed plan ({option('method', 'paper')})")
    if options.iterations is not None or options.runs is not None:
        return SolverChoice("slq-h", False, options.iterations or DEFAULT_ITERATIONS, options.runs or DEFAULT_RUNS,
                            f"fixed plan ({fixed_by(options)})")
    adaptive = SolverChoice("slq-h", True, ADAPTIVE_INITIAL_STEPS,
                            initial_runs(dim, options.tolerance, ADAPTIVE_INITIAL_PROBES),
                            f"adaptive SLQ to ±{options.tolerance:g} in ρ*", tolerance=options.tolerance)

    def slq(why: str, predicted: float | None = None) -> SolverChoice:
        return replace(adaptive, reason=f"{adaptive.reason}{why}", predicted_exact_seconds=predicted)

    if options.method == "slq":
        return slq(f" ({option('method', 'slq')})")
    dense = 8.0 * dim * dim
    if dense > EXACT_MEMORY_BYTES:
        return slq(f": a dense Hessian would need {dense / 2**30:.1f} GiB")
    host = _host(options, host_bytes)
    if exact_host_bytes(dim) > host:
        return slq(f": the exact spectrum would hold {_exact_memory_text(dim, host)} ({_basis_memory_option()})")
    if options.max_hvps is not None and dim + timed > options.max_hvps:
        return slq(f": the exact spectrum takes D = {dim:,} products and its timing {timed}, more than "
                   f"{option('max_hvps', options.max_hvps, shown=f'{options.max_hvps:,}')}")
    if seconds_per_column is None:
        return adaptive
    predicted = dim * seconds_per_column + (eigen_seconds or 0.0)
    budget = exact_time_budget(options)
    # named only where it sets the limit: over EXACT_TIME_BUDGET_S the exact spectrum's own limit holds
    given = f" ({said('--time-budget', 'time_budget')})" if budget == options.time_budget else ""
    if asked_budget is not None and budget == options.time_budget:  # what is left, not what was asked
        if budget <= SPENT_BUDGET_S:  # the timing ended past the budget: "the 0.001 s left" was the floor
            return replace(slq(f": nothing was left of the {asked_budget:g} s budget{given} for D × t_HVP + "
                               "eigenvalues", predicted), eigenvalues_timed=eigen_seconds is not None)
        limit = of_budget = f"{budget:.4g} s left of the {asked_budget:g} s budget{given}"
    else:
        limit, of_budget = f"{budget:g} s{given}", f"{budget:g} s budget{given}"
    if predicted <= budget:
        return SolverChoice("exact", False, dim, 1, f"exact spectrum: D × t_HVP + eigenvalues ≤ {limit}", predicted)
    if predicted <= budget * EXACT_TIE_BAND:
        return SolverChoice("exact", False, dim, 1, f"exact spectrum: D × t_HVP + eigenvalues within "
                            f"{EXACT_TIE_BAND:g}× the {of_budget}, a tie the timing cannot settle: the "
                            "columns' own fastest rate decides as they are formed", predicted)
    return replace(slq(f": exact would take D × t_HVP + eigenvalues > {budget * EXACT_TIE_BAND:.3g} s, "
                       f"{EXACT_TIE_BAND:g}× the {of_budget}", predicted),
                   eigenvalues_timed=eigen_seconds is not None)


def _host(options: CurvatureOptions, host_bytes: float | None) -> float:
    return basis_memory_bytes(options) if host_bytes is None else host_bytes


def _basis_memory_option() -> str:
    return option("basis_memory_mb", flag="--basis-memory")


def _exact_memory_text(dim: int, host: float) -> str:
    return (f"{byte_size(exact_host_bytes(dim))} of host memory (the dense float64 Hessian and the eigenvalue "
            f"solver's copy, 16·D² bytes), more than the {byte_size(host)} the solver may hold")


def _require_exact_memory(dim: int, host: float) -> None:
    """Refuse ``method="exact"`` whose peak (``exact_host_bytes``) is over ``host``: before the D
    columns, not out of memory in the eigenvalue solver after them."""
    if exact_host_bytes(dim) > host:
        raise UsageError.naming(
            f"{option('method', 'exact')} at D = {dim:,} needs {_exact_memory_text(dim, host)}; "
            "use a larger {0}, free host memory, or SLQ (the default, or " + option('method', 'slq') + ")",
            "basis_memory_mb")


def exact_time_budget(options: CurvatureOptions) -> float:
    """Seconds the default's exact spectrum may be predicted to take: ``EXACT_TIME_BUDGET_S``,
    or the caller's ``time_budget`` when smaller (the exact solver cannot stop early)."""
    return EXACT_TIME_BUDGET_S if options.time_budget is None else min(EXACT_TIME_BUDGET_S, options.time_budget)


def curvature_steps(inputs: Inputs, options: CurvatureOptions) -> int:
    """Units of work the progress bar starts with (it is re-planned as the work goes):
    Hessian columns, Lanczos products of all probes, or 0 (no total yet) while the default
    has still to time its products."""
    from prunelimit.api.curvature import timed_products

    named = hessian_parameters(inputs.model, inputs.selection)
    dim, timed = sum(p.numel() for _, p in named), timed_products(named)
    choice = choose_solver(options, dim, timed=timed)
    if choice.solver != "exact" and choose_solver(options, dim, 0.0, timed=timed).solver == "exact":
        return 0  # exact or SLQ is decided by timed products: no total until then
    return dim if choice.solver == "exact" else choice.runs * min(choice.iterations, dim)
