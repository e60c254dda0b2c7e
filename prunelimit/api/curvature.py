"""``spectrum``: the Hessian spectrum as quadrature, computed the cheapest way that meets the
tolerance in ρ*, read from and written to the spectrum store."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

import numpy as np
import torch

from prunelimit.api.options import (
    ADAPTIVE_PLANNED_STEPS,
    DEFAULT_MAX_HVPS,
    EXACT_TIE_BAND,
    SPENT_BUDGET_S,
    TIMED_PRODUCTS,
    TIMED_REPEATS,
    TRACE_PROBES,
    CurvatureOptions,
    MemoryUse,
    SolverChoice,
    basis_memory_bytes,
    check_exact_subset,
    choose_solver,
    exact_time_budget,
    memory_budget_mb,
)
from prunelimit.api.spectrum_notes import (
    given_host_bytes,
    over_budget_note,
    smallest_plan,
    subsample_note,
    tolerance_warning,
)
from prunelimit.curvature.adaptive import AdaptiveResult, Afterwards, Stage, StepCosts
from prunelimit.remedies import narrower_basis
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.curvature.trace import TraceEstimate
from prunelimit.data.subsample import Subsample, left_out
from prunelimit.equality import compared_by_value
from prunelimit.errors import NumericalError, UsageError, message, option, option_flag, said
from prunelimit.inputs import Inputs
from prunelimit.limits import byte_size
from prunelimit.models.params import hessian_parameters, required_prunable
from prunelimit.report.jsonout import plain
from prunelimit.report.notebook import spectrum_summary, shown
from prunelimit.report.rounding import apart, estimate_text, loss_text
from prunelimit.theory.layers import LayerBreakdown
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.uncertainty import Uncertainty
from prunelimit.threads import one_thread


@dataclass(frozen=True)
class CurvatureData:
    """Samples the Hessian was taken over (``used`` of ``total``) and, when subsampled,
    ρ* from the same probe on the subset less each of its parts (``part_ratios``, of the
    pruning path it was solved for) behind the data uncertainty, and those spectra
    (``parts``), from which another path's ρ* solves its own (``path_data``). ``drawn``: the
    parts the subset was split into where the time budget cut the data check short of them
    (``_part_spectra``; ``None``: as many as ran)."""

    used: int
    total: int
    part_ratios: tuple[float, ...] | None = None
    parts: "tuple[SpectralQuadrature, ...] | None" = field(default=None, repr=False, compare=False)
    drawn: int | None = None

    @property
    def part_sd(self) -> float | None:
        """The data part of ρ*'s uncertainty (1σ) from ``part_ratios``; ``None`` on the full data."""
        from prunelimit.theory.uncertainty import left_out_sd

        return None if self.part_ratios is None else left_out_sd(self.part_ratios, self.used, self.total, self.drawn)

    @property
    def data_parts(self) -> int | None:
        """How many parts ``part_sd`` comes from (its degrees of freedom and one); ``None`` on the full data."""
        return None if self.part_ratios is None else len(self.part_ratios)

    def to_json(self) -> dict:
        return {"used": self.used, "total": self.total,
                "part_ratios": None if self.part_ratios is None else list(self.part_ratios)}


# The ``timing`` of a report that computed no spectrum (``verify --from``, a gate on the
# measured limit alone): this run's curvature work, none.
NO_SPECTRUM_TIMING = {"seconds": 0.0, "stages": {}, "hvps": 0, "hvp_passes": 0.0, "cached": False}


@shown("spectrum", spectrum_summary)
@compared_by_value
@dataclass(frozen=True)
class SpectrumReport:
    """SLQ (or exact) spectrum: quadrature per probe, extremes, trace, cost, and the
    ρ* it was refined for (``limit_ratio``, ``None`` where ρ* is undefined) with its uncertainty."""

    method: str
    solver: str
    # the per-probe node and weight arrays are the bulk of a printed report: kept out of repr
    quadrature: "SpectralQuadrature"
    lambda_max: float
    lambda_min: float
    trace: float
    # a bound on the trace's standard error and its 95 % half-width (prunelimit.curvature.trace); 0 when exact
    trace_stderr: float | None
    trace_plus_minus: float | None
    negative_mass: float | None
    iterations: int
    runs: int
    params_hessian: int
    loss: float
    batch_losses: np.ndarray  # one a batch
    gradient_norm: float
    hvps: int
    seconds: float
    half: "SpectralQuadrature | None" = None
    # the mean gradient per Hessian parameter name
    gradient: dict[str, torch.Tensor] = field(default_factory=dict)
    memory: MemoryUse | None = None
    choice: SolverChoice | None = None
    stopped_by: str | None = None
    trail: tuple[Stage, ...] = ()
    curvature_data: CurvatureData | None = None
    hvp_passes: float = 0.0
    limit_ratio: float | None = None
    uncertainty: "Uncertainty | None" = None
    # the loss tolerance ``limit_ratio`` was solved for, and its source, as ``bounds`` states them
    # (``None`` where there is no ρ*)
    epsilon: float | None = None
    epsilon_source: str | None = None
    cached: bool = False  # read from the result cache: ``hvps`` and ``seconds`` are this run's (0 HVPs)
    # ``(name, seconds, hvps)`` of each stage run, in ``STAGES`` order: they sum to ``seconds``
    # and ``hvps``, so what the budgets counted and what came after them can both be read off
    stages: tuple[tuple[str, float, int], ...] = ()
    notes: tuple[str, ...] = ()  # how the computation departed from its plan (e.g. unbatched products)
    # the one of ``notes`` that says how far the run went past --max-hvps/--time-budget: about
    # that run, so never stored (a read back from the cache spent neither)
    over_budget: str | None = None
    # why ``limit_ratio``'s ± is above the tolerance (``tolerance_warning``): the spectrum
    # command's warning; ``bounds`` states its own for the ρ* of its path
    tolerance_note: str | None = None
    # The dense float64 Hessian when this run formed it (per-layer curvature reads its
    # diagonal blocks); transient: never stored in the result cache.
    dense: "torch.Tensor | None" = field(default=None, compare=False)
    layers: "LayerBreakdown | None" = None  # per-layer curvature, on request (``api.layers.spectrum_layers``)
    # The memory budgets [low, high) in MB under which every HVP engine the run chose by its
    # budget is chosen again (``stored_spectrum``: a run under another budget in it reads this
    # answer); ``None``: not known (a run that asked for revrev chose none by its budget).
    engine_budgets: tuple[float, float] | None = field(default=None, compare=False)
    # The --max-hvps [low, high) under which a fixed plan's run decides as one with none given:
    # its runs go to their end under any, but the ceiling decides whether the products' error is
    # measured again over all the data and how many trace top-ups follow (``_default_ceiling_range``);
    # ``None``: not a fixed SLQ plan.
    hvps_budgets: tuple[float, float] | None = field(default=None, compare=False)
    # The host memory a fixed plan's bases needed at once (``_fixed_basis_bytes``), which a given
    # --basis-memory must hold; ``None``: not a fixed SLQ plan.
    basis_bytes: int | None = field(default=None, compare=False)

    def to_json(self) -> dict:
        from prunelimit.api.layers import with_layers

        q = self.quadrature
        return plain(with_layers(self.layers, {
            "method": self.method,
            "params": {"hessian": self.params_hessian},
            "loss": self.loss,
            "epsilon": self.epsilon,
            "epsilon_source": self.epsilon_source,
            "spectrum": self.summary_json(),
            "probes": [
                {"nodes": q.nodes[r][q.weights[r] > 0], "weights": q.weights[r][q.weights[r] > 0]}
                for r in range(q.runs)
            ],
            "prediction": None if self.limit_ratio is None or self.uncertainty is None else {
                "ratio": self.limit_ratio, "stderr": self.uncertainty.stderr,
                "uncertainty": self.uncertainty.to_json()},
            "timing": self.timing_json(),
            "memory": None if self.memory is None else self.memory.to_json(),
            "warnings": self.warnings,
        }))

    @property
    def fewest_iterations(self) -> int:
        """Lanczos steps of the shortest run, ``iterations`` being the longest's: fewer where a
        time budget cut a stage of new runs, which run one after the other, or a run broke down."""
        return self.iterations if self.solver == "exact" else self.quadrature.fewest_steps

    @property
    def tolerance_met(self) -> bool | None:
        """Whether ρ*'s whole ± meets the tolerance adaptive SLQ aimed at (``tolerance_note`` is
        why not; in a ``bounds`` report, its path's ρ*, whose note it holds); ``None`` where
        nothing aimed at one: an exact spectrum, a fixed plan, no ρ*.
        Its runs stop "tolerance" on their steps and probe parts, before a subset's data part
        (a 17,226-parameter MLP's on 400 samples: 0.85 pt from the runs, 1.13 pt in all against 1 pt)."""
        aimed = self.choice is not None and self.choice.adaptive and self.solver != "exact"
        return None if not aimed or self.uncertainty is None else self.tolerance_note is None

    @property
    def warnings(self) -> list[str]:
        """What qualifies this spectrum, as the ``spectrum`` command states it."""
        return [*self.notes, *([self.tolerance_note] if self.tolerance_note else []),
                *([] if self.layers is None else self.layers.warnings)]

    def timing_json(self) -> dict:
        """The JSON ``timing`` of every report that stands on this spectrum (bounds, verify, gate, prune)."""
        stages = {name: {"seconds": seconds, "hvps": hvps} for name, seconds, hvps in self.stages}
        predicted = None if self.choice is None else self.choice.predicted_exact_seconds
        return {"seconds": self.seconds, "stages": stages, "hvps": self.hvps,
                "hvp_passes": 0.0 if self.cached else self.hvp_passes, "cached": self.cached,
                "predicted_exact_seconds": predicted,
                # the columns' alone, a lower bound, where they refused the exact spectrum untimed
                # (the console's "exact predicted ≥ … s, its columns alone")
                "predicted_exact_columns_only": None if predicted is None else not self.choice.eigenvalues_timed}

    def summary_json(self) -> dict:
        """The JSON ``spectrum`` block of ``spectrum`` and ``bounds``."""
        return {
            "lambda_max": self.lambda_max,
            "lambda_min": self.lambda_min,
            "trace": self.trace,
            "trace_stderr": self.trace_stderr,
            "trace_plus_minus": self.trace_plus_minus,
            "negative_mass": self.negative_mass,
            "runs": self.runs,
            "iterations": self.iterations,
            "fewest_iterations": self.fewest_iterations,
            "solver": self.solver,
            "signed_nodes": bool(self.quadrature.signed),
            # only a warning said so: a reader of the JSON could not tell float64 runs' answer from float32's
            "float64_products": bool(self.quadrature.float64_products),
            "choice": None if self.choice is None else self.choice.to_json(),
            "stopped_by": self.stopped_by,
            "tolerance_met": self.tolerance_met,
            "trail": [stage.to_json() for stage in self.trail],
            "hessian_samples": None if self.curvature_data is None else self.curvature_data.to_json(),
        }


@dataclass(frozen=True)
class LimitTarget:
    """What ρ* is solved from besides the spectrum: ε and the magnitude profile of the
    prunable weights (cheap to rebuild from the inputs, so never stored with a spectrum)."""

    epsilon: float
    epsilon_source: str
    profile: MagnitudeProfile
    weights: tuple
    names: tuple[str, ...]
    # ρ* and its runs' ± on each rule solved so far (:func:`limit_ratio_of`, :func:`slq_uncertainty`):
    # a fixed plan's runs solved them for the progress status, for whether to measure the error
    # again and for the answer, on the same nodes. Not an init field, so that
    # ``replace(target, profile=...)`` (another path) starts with none.
    solved: dict = field(default_factory=dict, init=False, repr=False, compare=False)


def product_dtype(model_dtype: "torch.dtype") -> "torch.dtype":
    """The dtype SLQ's products are computed in: the model's, but at least float32. A
    float16/bfloat16 model's products in its own type keep 3-4 significant digits: on a
    213-parameter MLP in bfloat16 they moved ρ* by 0.02 from its exact float64 spectrum and
    its gradient read as "not at a minimum" (float32: within 1e-6)."""
    import torch

    return torch.promote_types(model_dtype, torch.float32)


def timed_products(named) -> int:
    """Products the default's timing takes on the Hessian parameters ``named`` (``(name,
    tensor)`` pairs; ``_cost_aware_choice``): ``TIMED_PRODUCTS``, or a warm-up and the timed
    ones once where the model's own products are the exact solver's float64 ones."""
    import torch

    if named and product_dtype(named[0][1].dtype) == torch.float64:
        return 1 + TIMED_REPEATS
    return TIMED_PRODUCTS


def epsilon_losses(inputs: Inputs, options: CurvatureOptions) -> np.ndarray:
    """The per-batch losses the default ε is taken from, on every path (the spectrum's, the
    measured search's): in the products' dtype (the model's, at least float32:
    ``product_dtype``), as SLQ's operator computes them, never in the exact spectrum's float64
    copy. One input then gives one ε to the last bit, whichever command or solver reads it
    (float64 sums moved it by 4e-8 relative on the bundled example)."""
    from prunelimit.distributed import gather_shards, shard_batches
    from prunelimit.theory.epsilon import batch_losses

    if own_pass_losses(inputs):
        # under torchrun each rank takes its shard of batches, as the spectrum's pass does
        return gather_shards(batch_losses(inputs.model, shard_batches(inputs.batches), inputs.loss_fn),
                             len(inputs.batches))
    return hessian_operator(inputs, replace(options, hvp="revrev")).batch_losses()


def own_pass_losses(inputs: Inputs) -> bool:
    """Whether ε's per-batch losses (``epsilon_losses``) are those of a pass over the model as
    given: its dtype is the products' (a float16 or bfloat16 model's are taken from a float32 copy)."""
    params = hessian_parameters(inputs.model, inputs.selection)
    return not params or params[0][1].dtype == product_dtype(params[0][1].dtype)


def hessian_operator(inputs: Inputs, options: CurvatureOptions, dtype=None, probes: int = 1, batches=None):
    """The Hessian of the mean loss over ``batches`` (default: the analysis data) with respect
    to the Hessian parameter set, by ``options.hvp``, in ``dtype`` (default: the model's, at
    least float32: ``product_dtype``)."""
    from prunelimit.curvature.hvp import HessianOperator

    params = [p for _, p in hessian_parameters(inputs.model, inputs.selection)]
    if dtype is None and params:  # none: the operator says so
        dtype = product_dtype(params[0].dtype)
    op = HessianOperator(inputs.model, params, inputs.batches if batches is None else batches, inputs.loss_fn,
                         engine=options.hvp, dtype=dtype, probes=probes,
                         memory_budget_mb=memory_budget_mb(options, inputs.device))
    if (chosen := _ENGINES_CHOSEN.get()) is not None and op.graph_need_mb is not None:
        chosen.append((op.engine, op.graph_need_mb))
    return op


# The engines the operators built chose by the memory budget, with the graphs' MB each was
# weighed by, while ``recorded_engines`` records them (``None``: not recording)
_ENGINES_CHOSEN: ContextVar["list[tuple[str, float]] | None"] = ContextVar("prunelimit_engines_chosen", default=None)


@dataclass
class EngineChoices:
    """The HVP engines operators chose by the memory budget, with the graphs' MB each was
    weighed by (``recorded_engines``)."""

    chosen: list[tuple[str, float]] = field(default_factory=list)

    def budgets(self, hvp: str) -> tuple[float, float] | None:
        """The memory budgets ``[low, high)`` MB that choose each engine again (``engine_budgets``):
        at least the largest graphs kept (``cached`` where they fit), below the smallest rebuilt
        instead; ``None`` under ``hvp`` revrev, which chose none by its budget."""
        if hvp == "revrev":
            return None
        return (max((need for engine, need in self.chosen if engine == "cached"), default=-math.inf),
                min((need for engine, need in self.chosen if engine != "cached"), default=math.inf))


@contextmanager
def recorded_engines() -> Iterator[EngineChoices]:
    """The engines chosen by the operators built within it."""
    choices = EngineChoices()
    token = _ENGINES_CHOSEN.set(choices.chosen)
    try:
        yield choices
    finally:
        _ENGINES_CHOSEN.reset(token)


def spectrum_with_engines(inputs: Inputs, options: CurvatureOptions, progress,
                          ranked: "Ranking | None" = None) -> SpectrumReport:
    """:func:`spectrum`, with the memory budgets that choose each HVP engine it chose by its
    budget again (``engine_budgets``)."""
    with recorded_engines() as choices:
        rep = spectrum(inputs, options, progress, ranked)
    return replace(rep, engine_budgets=choices.budgets(options.hvp))


def _lockstep_probes(runs: int, basis_bytes: int) -> int:
    """SLQ runs to advance together when the HVP engine recomputes its graphs: up to
    ``LOCKSTEP_PROBES``, with their Lanczos bases (``basis_bytes`` each) within
    ``LOCKSTEP_BASIS_BYTES`` of host memory. A fixed rule, so the numbers do not depend on
    the machine's free memory."""
    from prunelimit.curvature.slq import LOCKSTEP_BASIS_BYTES, LOCKSTEP_PROBES

    return max(1, min(runs, LOCKSTEP_PROBES, LOCKSTEP_BASIS_BYTES // max(basis_bytes, 1)))


def _bases_held(adaptive: bool, lockstep: int, quad, trail: "tuple[Stage, ...]") -> tuple[str, int]:
    """What the Lanczos bases held at once at the most, and their rows: a fixed plan's runs go a
    lockstep group at a time; adaptive SLQ keeps every run's basis to extend it, so its most is
    the largest stage's runs × steps (a focus frees all but the first run's)."""
    if adaptive and trail:
        largest = max(trail, key=lambda stage: stage.runs * stage.steps)
        runs, rows = largest.runs, largest.runs * largest.steps
        return ("Lanczos basis" if runs == 1 else f"{runs} Lanczos bases (every run's, kept to extend it)"), rows
    runs = min(lockstep, quad.runs)
    return ("Lanczos basis" if runs == 1 else f"{runs} Lanczos bases (runs in lockstep)"), \
        runs * quad.steps


def extreme_nodes(quad) -> tuple[float, float]:
    """``(λmax, λmin)`` from SLQ runs on H: the outermost Ritz values over all runs (each
    run's extreme Ritz values bound the spectrum from inside)."""
    real = quad.weights > 0
    return float(quad.nodes[real].max()), float(quad.nodes[real].min())


# the magnitude profile of the inputs' prunable weights, sorted on the first call (:func:`ranking`)
Ranking = Callable[[], MagnitudeProfile]


def ranking(inputs: Inputs) -> Ranking:
    """The magnitude profile of ``inputs``' prunable weights as :func:`limit_target` takes it, sorted
    on the first call and handed back after, for one command to pass on: each step of a cached
    ``bounds`` sorted every weight again (five sorts in a cached gate of a fixed plan: ~35 s of a
    25M-weight model's). The weights as they stand at that first call."""
    import functools

    return functools.cache(lambda: MagnitudeProfile.from_tensors(
        [p.detach() for _, p in required_prunable(inputs.model, inputs.selection)]))


def limit_target(inputs: Inputs, options: CurvatureOptions, batch_losses: np.ndarray,
                 ranked: Ranking | None = None) -> LimitTarget:
    """ε (given, or the population std of ``batch_losses``) and the magnitude profile (``ranked``'s,
    where the caller holds it: :func:`ranking`)."""
    from prunelimit.theory.epsilon import epsilon_from_losses

    require_limit_inputs(inputs, options)  # too few batches: the fix that fits the data's size
    if options.epsilon is None:
        epsilon, source = epsilon_from_losses(batch_losses), "std of per-batch losses"
    else:
        epsilon, source = float(options.epsilon), "given"  # CurvatureOptions took it positive and finite
    named = required_prunable(inputs.model, inputs.selection)
    weights = tuple(p.detach() for _, p in named)
    profile = MagnitudeProfile.from_tensors(list(weights)) if ranked is None else ranked()
    return LimitTarget(epsilon, source, profile, weights, tuple(n for n, _ in named))


def require_limit_inputs(inputs: Inputs, options: CurvatureOptions) -> None:
    """Refuse, before any curvature work, inputs that leave ρ* undefined: no ε to derive
    (fewer than two batches and no ``epsilon``), or no prunable weights."""
    from prunelimit.data.batches import total_samples
    from prunelimit.theory.epsilon import require_batches

    if options.epsilon is None and inputs.batches is not None:  # no data at all: ``require_data`` says so
        require_batches(len(inputs.batches), total_samples(inputs.batches))
    required_prunable(inputs.model, inputs.selection)


def optional_target(inputs: Inputs, options: CurvatureOptions, batch_losses: np.ndarray,
                    ranked: Ranking | None = None) -> LimitTarget | None:
    """``limit_target``, or ``None`` where ρ* is undefined (no ε from a single batch, no
    prunable weights): the spectrum alone is still well defined, ``bounds`` then says why."""
    return target_or_reason(inputs, options, batch_losses, ranked)[0]


def target_or_reason(inputs: Inputs, options: CurvatureOptions, batch_losses: np.ndarray,
                     ranked: Ranking | None = None) -> tuple[LimitTarget | None, str | None]:
    """``(limit_target, None)``, or ``(None, why ρ* is undefined)`` (see ``optional_target``)."""
    try:
        return limit_target(inputs, options, batch_losses, ranked), None
    except (NumericalError, UsageError) as exc:
        return None, f"no ρ* (and no ± for it): {message(exc)}"


def _rule(quad) -> tuple:
    """What ρ* and its ± read of ``quad`` besides the target (its nodes and weights, those of its
    bounding and half-step rules), as a key of ``LimitTarget.solved``."""
    rules = (quad, getattr(quad, "lower", None), getattr(quad, "upper", None), getattr(quad, "half", None))
    return (quad.dim, getattr(quad, "signed", True), getattr(quad, "exact", False),
            *((r.nodes.shape, r.nodes.tobytes(), r.weights.tobytes()) if r is not None else None for r in rules))


def limit_ratio_of(target: LimitTarget, quad, options: CurvatureOptions) -> float:
    """ρ* on ``quad``'s rule, solved once a target for the same nodes and weights (its products'
    error and counts do not enter the solve)."""
    from prunelimit.theory.limit import limit_root

    rule = ("ρ*", _rule(quad), options.negative)
    if rule not in target.solved:
        target.solved[rule] = limit_root(target.profile, quad, target.epsilon, options.negative)
    return target.solved[rule]


def _clock(device) -> "Callable[[], float]":
    """Seconds for timing work on ``device``: on a CPU this process's CPU time over torch's
    threads, not wall time, so other load on a shared machine (a CI runner) does not count
    while the threads have cores; an accelerator by the wall clock after synchronising."""
    import torch

    from prunelimit.device import synchronize

    if device.type == "cpu":
        return lambda: time.process_time() / torch.get_num_threads()

    def wall() -> float:
        synchronize(device)
        return time.perf_counter()

    return wall


def _seconds_per_column(op) -> float:
    """Seconds per Hessian column: the fastest of ``TIMED_REPEATS`` products with a unit
    vector (after an untimed one that warms the engine up), on ``_clock`` with torch on one
    thread. Other load only ever slows a product, and one thread's CPU time does not count
    the spinning of threads that wait for a core (with ``--threads`` above the idle cores
    one product on two threads read 0.8 to 115 ms: docs/benchmarks.md); so one thread errs
    high by the threads' speed-up, towards SLQ. A single product, not a batch: batched
    products are faster per column on some models and slower on others (convolutions under
    vmap), and a conservative figure only errs towards SLQ. Under torchrun: the slowest
    rank's, so every rank makes the same choice from it."""
    import torch

    from prunelimit.distributed import agreed_max

    unit = torch.zeros(op.dim, dtype=torch.float64)
    unit[0] = 1.0
    clock = _clock(op.device)
    with one_thread():
        op.matvec(unit)
        seconds = []
        for _ in range(TIMED_REPEATS):
            start = clock()
            op.matvec(unit)
            seconds.append(clock() - start)
    return agreed_max(min(seconds))


def _cost_aware_choice(inputs: Inputs, options: CurvatureOptions, dim: int, choice: SolverChoice,
                       elapsed: "Callable[[], float] | None" = None):
    """``choice`` refined by timed products (``--method default`` only): ``(choice, the
    operator timed last: the float64 one when exact was chosen, else the one in the products'
    dtype, which SLQ reuses (``HessianOperator.serves``), products spent timing, predicted
    seconds of the eigenvalues, the operator in the products' dtype: SLQ's, should the exact
    columns be left for it)``. A given ``--time-budget`` is the part of it ``elapsed`` (the
    spectrum's clock) leaves after the timing and the gradient pass the exact spectrum takes
    before its columns (priced as one column): the columns and eigenvalues must fit what is left.

    Products in the model's dtype (at least float32: ``product_dtype``) come first: float64
    is never cheaper, so when even they put D columns over the time budget no float64 copy
    of the model is built (a float64 convolution on a CPU costs ~10× a float32 one). Nor
    are the eigenvalues timed
    then (a solve of 1,024 rows, twice: ~0.4 s of a small --time-budget): the columns alone
    refuse the exact spectrum, and the prediction stated is theirs, a lower bound.
    """
    import torch

    from prunelimit.curvature.exact import eigenvalue_seconds
    from prunelimit.distributed import agreed_max

    timed = timed_products(hessian_parameters(inputs.model, inputs.selection))
    if options.method != "default" or choose_solver(options, dim, 0.0, timed=timed).solver != "exact":
        return choice, None, 0, 0.0, None  # no timing decides

    def left(column: float) -> CurvatureOptions:
        """``options`` with what is left of a given time budget: the timing is spent out of
        it, and so is the exact spectrum's gradient pass, priced as one more ``column`` (a
        product costs at least a gradient pass)."""
        if options.time_budget is None or elapsed is None:
            return options
        return replace(options, time_budget=max(options.time_budget - elapsed() - column, SPENT_BUDGET_S))

    native = hessian_operator(inputs, options)
    seconds = _seconds_per_column(native)
    # The columns alone: the eigenvalues only add to them.
    choice = choose_solver(left(seconds), dim, seconds, None, options.time_budget, timed)
    if choice.solver != "exact":
        return choice, native, native.hvps, 0.0, native
    eigen = agreed_max(eigenvalue_seconds(dim))
    choice = choose_solver(left(seconds), dim, seconds, eigen, options.time_budget, timed)
    if choice.solver != "exact" or native.dtype == torch.float64:  # float64's products are no cheaper; a
        return choice, native, native.hvps, eigen, native  # float64 model's are them
    wide = hessian_operator(inputs, options, dtype=torch.float64)
    column = _seconds_per_column(wide)
    choice = choose_solver(left(column), dim, column, eigen, options.time_budget, timed)
    return choice, wide if choice.solver == "exact" else native, native.hvps + wide.hvps, eigen, native


class _ExactTooSlow(Exception):
    """The default's exact spectrum, abandoned between blocks of columns (see ``_exact_watch``)
    after ``done`` of them: the message is the warning that says why."""

    def __init__(self, message: str, done: int) -> None:
        super().__init__(message)
        self.done = done


# The default judges the exact columns' rate after this share of its time budget at the
# earliest (a few columns' times scatter).
EXACT_WATCH_AFTER = 0.05


def _exact_watch(options: CurvatureOptions, op, dim: int, eigen_seconds: float,
                 elapsed: "Callable[[], float] | None" = None):
    """``check(done)`` for ``exact_hessian`` under ``--method default``: raises
    ``_ExactTooSlow`` when the fastest block of columns so far predicts over
    ``EXACT_TIE_BAND`` × the time budget, where the prediction itself would have refused
    the exact spectrum (the few timed products can misjudge a model's columns). The
    fastest, not the mean: other load only slows a block, so a burst of it (or threads
    waiting for a core) does not turn the same command to SLQ. Under torchrun a block's rate
    and the time spent are the slowest rank's, so all ranks leave together or none does.
    ``None`` for ``--method exact``, which was asked for whatever it costs.

    A given ``--time-budget`` is a deadline on ``elapsed`` (the spectrum's wall clock, which
    the budget counts), not a CPU-time prediction: the CPU clock does not see a loaded
    machine, and the tie band would let the columns run 1.5× past it, so it is also left
    once the columns' wall rate so far has them and the eigenvalues end past it. Their mean
    rate, not the fastest block's: a deadline is met at the rate the load allows, and the
    fastest block's left the columns only once most were spent (1,342 of 1,948 under
    --time-budget 40 on a loaded machine, 29 s of its 40 s lost to SLQ)."""
    from prunelimit.distributed import agreed_max

    if options.method != "default":
        return None
    budget, clock = exact_time_budget(options), _clock(op.device)
    deadline = None if elapsed is None else options.time_budget
    start = last = clock()
    wall_start = None if deadline is None else elapsed()
    fastest = math.inf
    before = 0

    def check(done: int) -> None:
        nonlocal last, fastest, before
        now = clock()
        fastest, last = min(fastest, agreed_max((now - last) / (done - before))), now
        spent = agreed_max(now - start)
        predicted = fastest * dim + eigen_seconds
        if done < dim and spent >= EXACT_WATCH_AFTER * budget and predicted > EXACT_TIE_BAND * budget:
            raise _ExactTooSlow(
                f"the exact spectrum was left after {done:,} of {dim:,} columns ({spent:.1f} s): at their fastest "
                f"it would take ≈ {predicted:.0f} s, over {EXACT_TIE_BAND:g}× its {budget:g} s budget; adaptive SLQ "
                "instead", done)
        if deadline is not None:
            wall = elapsed()  # agreed: every rank reads the same
            ending = wall + (wall - wall_start) / done * (dim - done) + eigen_seconds
            if done < dim and wall - wall_start >= EXACT_WATCH_AFTER * deadline and ending > deadline:
                # both on the budget's clock, which counts from the start (loading included), and the
                # end shown apart from the budget it runs past ("≈ 40.0 s, past --time-budget 40 s")
                raise _ExactTooSlow(
                    f"the exact spectrum was left after {done:,} of {dim:,} columns ({wall:.1f} s into "
                    f"{option('time_budget', deadline)} s): at their rate so far it would end at "
                    f"≈ {ending:.{apart(1, ending, deadline)}f} s, past it; adaptive SLQ in the time left", done)
        before = done

    return check


# The spectrum's stages, as ``timing.stages`` names them (docs/guide.md): a given --time-budget
# and --max-hvps count them all; the Lanczos runs stop early enough to leave the data check
# and the trace's top-ups their predicted share (``adaptive.Afterwards``). A cached
# spectrum's one stage is ``cache_read``.
STAGES = ("solver_choice", "data_passes", "exact_columns", "lanczos", "eigenvalues", "data_check", "trace_top_up",
          "results")


class _Laps:
    """Seconds and products of consecutive stages on one clock: ``lap(name, hvps)`` closes
    the stage since the last lap (a name seen again adds to it), so the stages' seconds sum
    to ``total`` exactly."""

    def __init__(self, clock: "Callable[[], float]") -> None:
        self._clock, self.start = clock, clock()
        self._last, self._spent = self.start, {}

    def lap(self, name: str, hvps: int = 0) -> None:
        now = self._clock()
        seconds, products = self._spent.get(name, (0.0, 0))
        self._spent[name] = (seconds + now - self._last, products + hvps)
        self._last = now

    @property
    def total(self) -> float:
        return self._last - self.start

    def stages(self) -> tuple[tuple[str, float, int], ...]:
        """Every stage lapped, in ``STAGES`` order (which stages run depends on the plan, not the clock)."""
        return tuple((name, *self._spent[name]) for name in STAGES if name in self._spent)

    def seconds(self, name: str) -> float:
        """Seconds stage ``name`` took so far (0: not lapped)."""
        return self._spent.get(name, (0.0, 0))[0]

    def per_product(self, name: str) -> float | None:
        """Seconds a product of stage ``name`` took so far (``None``: none made)."""
        seconds, products = self._spent.get(name, (0.0, 0))
        return seconds / products if products else None


def spectrum(inputs: Inputs, options: CurvatureOptions = CurvatureOptions(),
             progress: Callable[..., object] | None = None, ranked: "Ranking | None" = None) -> SpectrumReport:
    """Hessian spectrum of the mean analysis loss as quadrature nodes and weights, computed
    the cheapest way that meets ``options.tolerance`` in ρ* (see ``CurvatureOptions``).

    ``progress(done, total=None, text=None)`` reports products (or columns) done, the
    current plan's total and, for adaptive SLQ, the current ρ* ± its uncertainty; a
    ``progress`` that takes ``left=`` gets the seconds the plan prices the work left at
    too, where it prices it (``_priced``). ``ranked``: the weights' magnitude profile ε's target
    takes, where the caller sorted them for itself too (:func:`ranking`).
    """
    import torch

    from prunelimit.curvature.adaptive import Afterwards
    from prunelimit.curvature.exact import exact_hessian, exact_quadrature
    from prunelimit.curvature.trace import TraceEstimate, with_data_part
    from prunelimit.data.batches import total_samples
    from prunelimit.device import peak_memory_mb, reset_peak_memory
    from prunelimit.distributed import agreed_clock
    from prunelimit.theory.uncertainty import EXACT

    require_data(inputs)
    progress = _priced(progress)
    laps = _Laps(time.perf_counter)
    elapsed = agreed_clock()  # what --time-budget counts: alike on every rank under torchrun
    # what the budget counted before the spectrum (start-up, loading the model and data)
    setup = None if options.time_budget is None else elapsed()
    named = hessian_parameters(inputs.model, inputs.selection)
    sizes = [p.numel() for _, p in named]
    dim = sum(sizes)
    total = total_samples(inputs.batches)
    check_exact_subset(options, total)
    reset_peak_memory(inputs.device)
    choice, timing_op, hvps, eigen_seconds, native = _cost_aware_choice(
        inputs, options, dim, choose_solver(options, dim, timed=timed_products(named)), elapsed)
    laps.lap("solver_choice", hvps)
    counted = _counted_on(progress, hvps)
    if options.time_budget is not None:
        _import_assessment()  # in the next stage, data_passes
    passes = float(hvps)
    stopped_by, stated, data = None, (), CurvatureData(total, total)
    ceilings = basis = None  # ``hvps_budgets``, ``basis_bytes``: a fixed SLQ plan's
    check: tuple[float, float] | None = None  # the data check's seconds and its price (``over_budget_note``)
    # the time budget's clock as SLQ's runs began, and the stages before them (``over_budget_note``)
    runs_began: tuple[float, tuple[str, ...]] | None = None
    measured = parts = 0  # SLQ's products measuring float32 ones against float64, the data check's parts
    notes: list[str] = []
    wide = None  # a float64 operator already built, for ``_product_error``
    if choice.solver == "exact":
        # float64: at large R²/2ε, F depends on eigenvalues below float32 HVP rounding
        op = timing_op if timing_op is not None else hessian_operator(inputs, options, dtype=torch.float64)
        # before the columns, as SLQ takes it before its runs: the exact columns' watch reads
        # the time budget left after it (after the eigenvalues it ran past the budget, unseen)
        gradient = op.gradient()
        laps.lap("data_passes")
        before = op.hvps
        cb = (lambda done: counted(done, dim)) if progress else None
        try:
            dense = exact_hessian(op, progress=cb, check=_exact_watch(options, op, dim, eigen_seconds, elapsed))
        except _ExactTooSlow as slow:
            wide = op  # float64 over the analysis data: SLQ's products are measured against it
            laps.lap("exact_columns", op.hvps - before)
            hvps += op.hvps - before
            passes += op.hvps - before
            notes.append(str(slow))
            if progress:  # the columns' count ends where they were left: SLQ's products are a stage of their own
                progress(hvps, hvps)
            timing_op = native  # SLQ's products on the operator already built over the data, not a new one
            # left on a prediction, before running over anything: the warning says which
            choice = replace(choose_solver(replace(options, method="slq"), dim),
                             reason=f"adaptive SLQ to ±{options.tolerance:g} in ρ*: the exact spectrum was left after "
                                    f"{slow.done:,} of {dim:,} columns, on course to run over its time budget",
                             predicted_exact_seconds=choice.predicted_exact_seconds)
    if choice.solver == "exact":
        stats = op
        laps.lap("exact_columns", op.hvps - before)
        if progress:  # one solver call, no count: a stage of its own (total 0), with its prediction when timed
            predicted = "" if not eigen_seconds else " (predicted < 1 s)" if eigen_seconds < 1 \
                else f" (predicted ≈ {eigen_seconds:,.0f} s)"
            counted(0, 0, f"eigenvalues of the dense Hessian{predicted}")
        quad = replace(exact_quadrature(dense, hvps=op.hvps - before), float64_products=True)  # float64 columns
        laps.lap("eigenvalues")
        hvps += quad.hvps
        passes += quad.hvps
        eig = quad.nodes[0]
        lam_max, lam_min = float(eig.max()), float(eig.min())
        trace = TraceEstimate(float(eig.sum()), 0.0, 0.0, 1)
        basis_kind, basis_bytes = "dense Hessian, float64", dim * dim * 8
        losses = native.batch_losses() if native is not None else epsilon_losses(inputs, options)
        target, no_target = target_or_reason(inputs, options, losses, ranked)
    else:
        dense = None
        subsample = curvature_data(inputs, options)
        data = CurvatureData(subsample.used, total)
        share = subsample.used / total
        planned = ADAPTIVE_PLANNED_STEPS if choice.adaptive else choice.iterations
        elements = min(planned, dim) * dim
        storage = basis_storage(options.basis_dtype, product_dtype(named[0][1].dtype), elements)
        probes = _lockstep_probes(choice.runs, elements * storage.itemsize)
        # The operator the solver choice timed, when it is the one SLQ would build: its data
        # passes and gradient graphs are not made twice
        reuse = (timing_op is not None and not subsample.subsampled
                 and timing_op.dtype == product_dtype(named[0][1].dtype) and timing_op.serves(probes))
        op = timing_op if reuse else hessian_operator(inputs, options, probes=probes, batches=subsample.batches)
        # ε, the loss and the gradient always come from the full analysis data.
        stats = op if not subsample.subsampled else hessian_operator(
            inputs, replace(options, hvp="revrev"), batches=inputs.batches)
        losses = stats.batch_losses()
        target, no_target = target_or_reason(inputs, options, losses, ranked)
        gradient = stats.gradient()  # a pass over the data: before the runs, within the budgets
        # without a ρ* there is no rounding part to state: nothing to measure
        # timed only under a time budget, the one check that prices the float64 re-run's seconds
        error, measured, over, cost = (0.0, 0, 0, 1.0) if target is None else _product_error(
            inputs, options, op, subsample.batches, dim, None if subsample.subsampled else wide,
            None if options.time_budget is None else elapsed)
        hvps += measured
        passes += measured * over / total
        laps.lap("data_passes", measured)
        before = op.hvps  # the timed products, when reused, and the measured one
        # Without a ρ* the parts have nothing to measure: no data check.
        parts = len(subsample.parts) if subsample.subsampled and target is not None else 0
        fixed = step = row = 0.0
        # A given --max-hvps holds back the data check's timing products whether or not a
        # --time-budget spends them: the runs' plan, hence a run the clock did not stop, is
        # then the same with and without the time budget.
        unspent = DATA_CHECK_TIMING if parts else 0
        if parts and options.time_budget is not None:
            fixed, step, row, timed = _data_check_seconds(inputs, options, subsample, storage, elapsed)
            hvps += timed
            unspent = 0
            passes += timed * share * _left_out_share(parts)
            laps.lap("data_check", timed)
        after = Afterwards(per_step=parts, runs_to=TRACE_PROBES, counted=options.max_hvps is not None,
                           fixed_seconds=fixed, step_seconds=step, row_seconds=row)
        budgets = _budgets_left(options, hvps, unspent, elapsed)
        runs_began = None if options.time_budget is None else (elapsed(), tuple(s[0] for s in laps.stages()))
        counted_before = hvps + unspent  # what a given --max-hvps counted before the runs
        deadline = None
        if target is None and choice.adaptive:
            from prunelimit.curvature.slq import DEFAULT_ITERATIONS, DEFAULT_RUNS

            runs = min(DEFAULT_RUNS, budgets.product_budget)  # the old fixed plan, within --max-hvps
            choice = SolverChoice("slq-h", False, min(DEFAULT_ITERATIONS, budgets.product_budget // runs), runs,
                                  f"fixed plan within {said('--max-hvps and --time-budget', 'max_hvps and time_budget')}: no ρ* to aim at")
            deadline = options.time_budget  # the adaptive plan's budget, which this plan stands in for
        counted = _counted_on(progress, hvps)
        wide_storage = basis_storage(options.basis_dtype, torch.float64, elements)
        follows = _float64_follows(options, op, error, budgets, elapsed, after, dim * wide_storage.itemsize, cost)
        measured_again = _WholeError(inputs, options, subsample.batches, cost, fixed + step) \
            if error and over < subsample.used else None
        timed_steps = StepCosts()  # the runs' steps' seconds, whose slope the data check's ETA takes
        quad, stopped_by, trail = _slq_spectrum(op, choice, budgets, target, storage, counted, elapsed, deadline,
                                                after, error, follows, measured_again, timed_steps)
        lanczos = quad.hvps - (measured_again.products if measured_again is not None else 0)
        stated = trail  # the trail the report states: every run's stages, float32 and float64 alike
        if measured_again is not None and measured_again.products:  # taken within the runs, not by op
            before -= measured_again.products
            error = error if measured_again.error is None else measured_again.error
        quad = replace(quad, product_error=error, float64_products=op.dtype == torch.float64)
        laps.lap("lanczos", quad.hvps)
        hvps += quad.hvps
        passes += quad.hvps * share
        wider = _float64_rerun(inputs, options, AdaptiveResult(quad, stopped_by, list(trail)), follows, probes,
                               subsample.batches, None if subsample.subsampled else wide)
        if wider is not None:
            notes.append(_float64_note(error, quad.hvps, _precision(inputs)))
            # the data check follows on float64 products now: timed on float32 ones, its seconds
            # fell short by the products' (and bases') cost, and it ran past the time budget
            if parts and options.time_budget is not None:
                laps.lap("lanczos")  # the float64 operator built: the runs' seconds, as without a time budget
                fixed, step, row, timed = _data_check_seconds(inputs, options, subsample, wide_storage, elapsed,
                                                              torch.float64)
                after = replace(after, fixed_seconds=fixed, step_seconds=step, row_seconds=row)
                hvps += timed
                passes += timed * share * _left_out_share(parts)
                laps.lap("data_check", timed)
            elif parts:  # held back as the float32 timing was: the same float64 runs with and without it
                unspent += DATA_CHECK_TIMING
            # the float32 answer, kept where the float64 one is wider
            narrow = (op, storage, before, quad, trail, timed_steps)
            op, storage = wider, wide_storage
            before = op.hvps
            budgets = _budgets_left(options, hvps, unspent, elapsed)
            if options.max_hvps is None:  # the default's Lanczos products count the float32 runs' too
                budgets = replace(budgets, max_hvps=options.product_budget - quad.hvps)
            counted = _counted_on(progress, hvps)
            timed_steps = StepCosts()
            quad, stopped_by, trail = _slq_spectrum(op, choice, budgets, target, storage, counted, elapsed,
                                                    deadline, after, costs=timed_steps)
            quad = replace(quad, float64_products=True)
            laps.lap("lanczos", quad.hvps)
            hvps += quad.hvps
            passes += quad.hvps * share
            # the float64 stages' products go on from the float32 runs': the last row's count is
            # the Lanczos products of both, as timing.stages.lanczos.hvps states them
            stated = stated + tuple(replace(stage, products=narrow[3].hvps + stage.products) for stage in trail)
            if stopped_by == "time-budget" and trail[-1].plus_minus > narrow[4][-1].plus_minus:
                # float64 products dearer over all the data than the slice's measured cost (a
                # convolution net on a CPU: 3.6× over 32 samples, 7.5× over 400) let the clock
                # cut the runs short of the float32 ones: their wider answer is not taken
                op, storage, before, quad, trail, timed_steps = narrow
                notes[-1] = _float64_note(error, quad.hvps, _precision(inputs), trail[-1])
                counted = _counted_on(progress, hvps - quad.hvps)  # the bar goes on from every product made
                # the last row says which answer was returned, as adaptive SLQ's own does
                stated += (replace(trail[-1], products=stated[-1].products),)
        if subsample.subsampled:
            notes.append(subsample_note(subsample.used, total))
        # the runs' ρ* ± (steps and probes), shown beside the stages that follow until the whole ± is known
        status = _status(trail[-1].estimate, trail[-1].plus_minus) if trail \
            else _runs_status(target, quad, options, op.dtype) if counted and parts else None
        # the bar's ETA prices the stages after the runs (``left``), as adaptive SLQ's does through them
        # under a time budget: each at its own cost, the top-ups at the runs' seconds a product
        top_up_seconds = laps.per_product("lanczos")
        if parts:
            # the plan's price of the check, timed only under a time budget
            check_seconds = None if options.time_budget is None or top_up_seconds is None else \
                after.seconds(quad.runs, quad.steps, top_up_seconds, quad.exact)
            prices = None if top_up_seconds is None else (check_seconds, top_up_seconds)
            # cut at a part where the time budget stopped the runs, as the top-ups are: a run it did
            # not stop keeps its parts, whatever the clock read
            timed_before = laps.seconds("data_check")  # its timing's, before the runs
            spectra, spent = _part_spectra(inputs, options, subsample, quad, storage, counted, status, op.dtype,
                                           _top_ups(quad), prices, until=_next_past(elapsed, options.time_budget)
                                           if stopped_by == "time-budget" else None, slope=timed_steps.slope())
            if len(spectra) < parts:
                notes.append(_parts_cut_note(len(spectra), parts))
            data = path_data(target, CurvatureData(subsample.used, total, parts=spectra,
                                                   drawn=parts if len(spectra) < parts else None), options)
            hvps += spent
            passes += spent * share * _left_out_share(parts)
            laps.lap("data_check", spent)
            if options.time_budget is not None:  # what it took and was priced at (top-ups apart), where priced
                check = (laps.seconds("data_check") - timed_before, after.seconds(quad.runs, quad.steps, 0.0))
        lam_max, lam_min = extreme_nodes(quad)
        # the answer and its whole ± (the data part with it) before the top-up, which changes neither:
        # the status shows it from the data check's end on, not the runs' alone
        _check_finite(quad.nodes, "Hessian spectrum")
        ratio = None if target is None else limit_ratio_of(target, quad, options)
        uncertainty = None if target is None else slq_uncertainty(target, quad, options, ratio, data, op.dtype)
        status = None if ratio is None else _status(ratio, uncertainty.plus_minus)
        if counted is not None and parts:
            counted(quad.hvps + spent, quad.hvps + spent + _top_ups(quad), status,
                    left=None if top_up_seconds is None else _top_ups(quad) * top_up_seconds)
        # the top-ups fit what a given --max-hvps leaves, and stop at the deadline only where the
        # time budget stopped the runs: a run it did not stop keeps its products, whatever the clock read
        room = None if options.max_hvps is None else max(options.max_hvps - hvps - unspent, 0)
        if fixed_plan(options):
            basis = _fixed_basis_bytes(op, choice, storage)
            ceilings = _default_ceiling_range(counted_before, lanczos, after.expected(quad.runs, quad.steps),
                                              target is not None and measured_again is not None,
                                              hvps + unspent + _top_ups(quad))
        until = _next_past(elapsed, options.time_budget) if stopped_by == "time-budget" else None
        trace = _slq_trace(op, quad, options, room, until, counted, quad.hvps + (spent if parts else 0), status,
                           top_up_seconds)
        if data.parts:  # the subset's trace, not the full data's: its scatter over the parts is in its ±
            trace = with_data_part(trace, tuple(dim * part.mean(lambda x: x) for part in data.parts), subsample.used,
                                   total, data.drawn, left_out=True)
        top_up = op.hvps - before - quad.hvps
        laps.lap("trace_top_up", top_up)
        passes += top_up * share
        hvps += top_up
        held, rows = _bases_held(choice.adaptive, op.lockstep, quad, trail)
        basis_kind = f"{held}, {str(storage).removeprefix('torch.')}"
        basis_bytes = rows * dim * storage.itemsize
    if choice.solver == "exact":
        _check_finite(quad.nodes, "Hessian spectrum")
        ratio = None if target is None else limit_ratio_of(target, quad, options)
        uncertainty = EXACT if target is None else exact_uncertainty(target, quad, ratio)
    if target is not None:
        notes.extend(_rounding_note(quad, uncertainty.rounding, target.epsilon, op.dtype, inputs, options, dim))
    negative = negative_mass_of(quad)
    peak_host, peak_device = peak_memory_mb(inputs.device)
    memory = MemoryUse(basis_kind, basis_bytes / 2**20, op.engine, op.graph_bytes() / 2**20, peak_host, peak_device)
    loss, batch_losses = stats.loss(), losses
    # elapsed() is a collective under torchrun: every rank reads it here
    over = over_budget_note(options, hvps, elapsed(), choice.solver, setup or 0.0, smallest_plan(measured, parts),
                             check, runs_began=runs_began)
    laps.lap("results")
    return SpectrumReport(
        method=options.method, solver=choice.solver, quadrature=quad, lambda_max=lam_max, lambda_min=lam_min,
        trace=trace.value, trace_stderr=trace.stderr, trace_plus_minus=trace.plus_minus, negative_mass=negative,
        iterations=dim if choice.solver == "exact" else quad.steps,
        runs=quad.runs, params_hessian=dim,
        loss=loss, batch_losses=batch_losses, gradient_norm=float(gradient.norm()),
        gradient=dict(zip([n for n, _ in named], gradient.detach().cpu().double().split(sizes))),
        hvps=hvps, seconds=laps.total, stages=laps.stages(), half=quad.half, memory=memory, choice=choice,
        stopped_by=stopped_by, trail=tuple(stated), curvature_data=data, hvp_passes=passes, limit_ratio=ratio,
        uncertainty=uncertainty, dense=dense, epsilon=None if target is None else target.epsilon,
        epsilon_source=None if target is None else target.epsilon_source,
        tolerance_note=None if uncertainty is None else tolerance_warning(
            choice.solver, stopped_by, dim, ratio, uncertainty, options, rounding_fix(inputs, options, dim, op.dtype),
            choice),
        notes=tuple(notes + ([] if op.fallback is None else [op.fallback]) + ([no_target] if no_target else [])
                    + list(samples_notes(options, total, choice.solver)) + ([over] if over else [])),
        over_budget=over, hvps_budgets=ceilings, basis_bytes=basis,
    )


def _budgets_left(options: CurvatureOptions, spent: int, held_back: int,
                  elapsed: "Callable[[], float]") -> CurvatureOptions:
    """``options`` with the budgets SLQ's runs have left: a given --max-hvps and --time-budget
    count from the start of the spectrum, so the ``spent`` products (timed products, exact
    columns left for SLQ, float32 runs before float64 ones) and the ``held_back`` ones (the
    data check's timing) come out of them; one product stays, so SLQ has an answer."""
    return replace(options, max_hvps=None if options.max_hvps is None else max(options.max_hvps - spent - held_back, 1),
                   time_budget=None if options.time_budget is None
                   else max(options.time_budget - elapsed(), SPENT_BUDGET_S))


def _status(ratio: float, plus_minus: float) -> str:
    """The progress status of ρ* = ``ratio`` ± ``plus_minus``."""
    return f"ρ* {estimate_text(ratio, plus_minus)}"


def _runs_status(target: LimitTarget, quad, options: CurvatureOptions, dtype) -> str:
    """The progress status of the ρ* ± of SLQ runs ``quad`` (products of ``dtype``) alone: no data part."""
    ratio = limit_ratio_of(target, quad, options)
    return _status(ratio, slq_uncertainty(target, quad, options, ratio, None, dtype).plus_minus)


def with_status(stage: str, status: str | None) -> str:
    """A stage's progress status, followed by the latest ρ* ± (``status``) where one is known."""
    return stage if status is None else f"{stage}, {status}"


def _data_part_to_come(status: str | None) -> str | None:
    """The runs' ρ* ± (``status``) shown during the runs over a subset and its data check, marked
    as lacking the data part the check measures: bare, the runs' "± 0 pt" (runs that spanned the
    subset's space) read as the answer's error bar, which then stated ± 4.5 pt with its data part."""
    return None if status is None else f"{status}, data part to come"


def _counted_on(progress: Callable[..., object] | None, before: int) -> Callable[..., object] | None:
    """``progress`` with its counts and totals going on from the ``before`` products made
    ahead of them (the solver choice's timing, exact columns left for SLQ, the data check's
    timing): the count ends at the HVPs the result states, not that many short of them (453
    against "464 HVPs"). A stage with no count (``total`` 0) is passed on as it is."""
    if progress is None or not before:
        return progress

    def shifted(done: int, total: int | None = None, text: str | None = None, left: float | None = None) -> None:
        if total == 0:
            progress(done, total, text, left=left)
        else:
            progress(before + done, None if total is None else before + total, text, left=left)

    return shifted


def _priced(progress: Callable[..., object] | None) -> Callable[..., object] | None:
    """``progress`` taking ``left=`` (the seconds the plan prices the work left at; adaptive
    SLQ's under a time budget), which a library caller's ``progress(done, total=None,
    text=None)`` is called without: the command line's bar prices its ETA by it, a caller's
    function that takes it may too."""
    import inspect

    if progress is None:
        return None
    try:
        inspect.signature(progress).bind(0, None, None, left=None)
        return progress
    except (TypeError, ValueError):  # takes no ``left``, or a builtin without a signature

        def plain(*args, left: float | None = None) -> None:
            progress(*args)

        return plain


ROUNDING_NOTE = "ρ* depends on curvature below the"  # how the note starts: never stored, as it depends on ε


def _rounding_note(quad, reach: float | None, epsilon: float, dtype, inputs: Inputs, options: CurvatureOptions,
                   dim: int) -> tuple[str, ...]:
    """A warning where ρ* depends on eigenvalues below the rounding of the products (of
    ``dtype``: float64 for the exact spectrum) it was solved from: ``reach``, the ±'s
    rounding part (``Uncertainty.rounding``; ``None``: below the noted level), and what this
    run of ``dim`` parameters can do about it (``remedies.float64_products``). It depends on
    ε, which a stored fixed plan is solved again for: it is not stored, but made again on a
    read (``stored_rounding_note``)."""
    from prunelimit.remedies import float64_products
    from prunelimit.theory.epsilon import larger_epsilon
    from prunelimit.theory.uncertainty import rounding_floor

    if reach is None:
        return ()
    name = str(dtype).removeprefix("torch.")
    fix = (f"it needs {float64_products(dim, _precision(inputs), given_host_bytes(options))}"
           if dtype != torch.float64 else f"ε is at the loss's rounding: {larger_epsilon()}")
    floor = rounding_floor(quad, torch.finfo(dtype).eps)
    measured = quad.product_error > torch.finfo(dtype).eps * float(np.abs(quad.nodes).max(initial=0.0))
    source = (f"the {name} products' error measured against float64 ones" if measured
              else f"{name} machine epsilon × λmax") + ", and the float64 solve's rounding"
    return (f"{ROUNDING_NOTE} {name} products' rounding: eigenvalues under {floor:.2g} ({source}) "
            f"could move it by up to {reach:.2g}, "
            f"stated in its ± as its rounding part, which more steps or probes cannot shrink "
            f"(ε = {loss_text(epsilon)}); {fix}",)


def _precision(inputs: Inputs) -> dict:
    """The float precision this run's products are computed at (its ``precision`` record)."""
    from prunelimit.baseline import precision_now

    return precision_now(inputs.device)


def rounding_fix(inputs: Inputs, options: CurvatureOptions, dim: int, dtype) -> str:
    """What narrows a ± mostly its rounding part in this run (products of ``dtype``, ``dim``
    parameters): ``remedies.rounding_remedy``, for the tolerance warning."""
    from prunelimit.remedies import rounding_remedy

    return rounding_remedy(dim, dtype == torch.float64, _precision(inputs), given_host_bytes(options))


def products_dtype(rep: "SpectrumReport", inputs: Inputs):
    """The dtype of the products spectrum ``rep`` was computed from: float64 for the exact
    spectrum and for SLQ run again on float64 products, else the model's (at least float32)."""
    if rep.quadrature.float64_products:
        return torch.float64
    return product_dtype(hessian_parameters(inputs.model, inputs.selection)[0][1].dtype)


def stored_rounding_note(rep: "SpectrumReport", inputs: Inputs, options: CurvatureOptions,
                         ranked: Ranking | None = None) -> tuple[str, ...]:
    """``_rounding_note`` of a stored spectrum, for this run's ε (its ± solved for it)."""
    if rep.limit_ratio is None or rep.uncertainty is None:
        return ()
    target, _ = target_or_reason(inputs, options, rep.batch_losses, ranked)
    if target is None:
        return ()
    return _rounding_note(rep.quadrature, rep.uncertainty.rounding, target.epsilon, products_dtype(rep, inputs), inputs,
                          options, rep.params_hessian)


# how the exact spectrum's note on an unused subset reads (``samples_notes``): read back by --from, its remedy
# (SLQ's flag) is told where it applies
UNUSED_BY_EXACT = " not used: the exact spectrum takes its curvature over all "
EXACT_SUBSET_REMEDY = "(SLQ, e.g. "


def samples_notes(options: CurvatureOptions, total: int, solver: str) -> tuple[str, ...]:
    """What a ``hessian_samples`` count did not do: the exact spectrum ignores one below the
    data's size, and one above it takes every sample. Its spelling, not the subset drawn,
    so never stored (``stored_spectrum``): the spellings of one subset share an entry."""
    asked = options.hessian_samples
    if not isinstance(asked, int):
        return ()
    if solver == "exact" and asked < total:
        return (f"{option('hessian_samples', asked)}{UNUSED_BY_EXACT}{total:,} samples {EXACT_SUBSET_REMEDY}"
                f"{option('method', 'slq')}, takes a subset)",)
    if solver != "exact" and asked > total:
        return (f"{said(f'--hessian-samples {asked:,}', f'hessian_samples={asked}')} is more than the {total:,} "
                "analysis samples: the curvature is over all of them",)
    return ()


def curvature_data(inputs: Inputs, options: CurvatureOptions) -> "Subsample":
    """SLQ's curvature data (``hessian_samples``), the spectrum's and the per-layer blocks'
    alike, drawn by class where ``drawn_by_class``."""
    from prunelimit.data.subsample import curvature_subsample

    return curvature_subsample(inputs.batches, options.hessian_samples, options.seed, by_class=drawn_by_class(inputs))


def drawn_by_class(inputs: Inputs) -> bool:
    """Whether a curvature subset of ``inputs`` is class-balanced: unless the loss's targets
    are values to fit, not classes (``data.loss.targets_are_values``: each distinct value
    would be a stratum of its own). The draw, its cache key and a baseline's comparison agree."""
    from prunelimit.data.loss import targets_are_values

    return not targets_are_values(inputs.loss_fn)


def _slq_spectrum(op, choice: SolverChoice, options: CurvatureOptions, target: LimitTarget | None, storage,
                  progress, clock: "Callable[[], float]" = time.perf_counter, deadline: float | None = None,
                  after: "Afterwards | None" = None, product_error: float = 0.0,
                  remedy: Callable[[AdaptiveResult], bool] | None = None, again: "_WholeError | None" = None,
                  costs: StepCosts | None = None):
    """SLQ on H by ``choice``: adaptive until ρ*'s ± meets the tolerance (``target`` is then
    set), leaving ``after`` its share of both budgets, or a fixed plan, cut short once
    ``clock()`` reaches ``deadline`` (``"time-budget"``). ``product_error``: the products'
    measured error (``_product_error``), which the ± each stage is assessed by counts;
    ``remedy``: whether a float64 re-run follows a "rounding" stop (``AdaptivePlan.remedy``);
    ``again``: where ``product_error`` is a slice's upper estimate, the whole curvature data's
    error, measured where the rounding part from that estimate reaches half the tolerance
    (``WHOLE_ERROR_SHARE``) and the product budget holds its products (they count as the
    runs'), by adaptive SLQ at a stage's assessment, after a fixed plan's runs (not one the
    clock cut): the estimate errs high, 5× on a 1-D conv net's 400 samples, whose runs it
    stopped by "rounding" for a float64 re-run, and whose fixed plan of 3 × 256 steps it gave a
    ± of 12.7 pt against 10.3 pt.
    Returns the quadrature, what stopped it and the adaptive trail. ``clock``: seconds, for
    the time budget (under torchrun one that reads alike on every rank). ``costs``: where
    adaptive SLQ times its steps (``adaptive_slq``), for the data check's ETA."""
    from prunelimit.curvature.adaptive import AdaptivePlan, Afterwards, Assessment, adaptive_slq
    from prunelimit.curvature.slq import slq
    from prunelimit.theory.uncertainty import one_run_half_width

    # a data check follows the runs (``after``'s products a step, one a part): their ρ* ± lacks its data part
    marked = _data_part_to_come if after is not None and after.per_step else (lambda status: status)

    budget, vector = basis_memory_bytes(options), op.shape[0] * storage.itemsize
    max_rows = math.inf if budget == math.inf else budget // vector  # Lanczos vectors the bases may hold

    def can_measure_again(quad) -> bool:
        """Whether ``again`` may measure the error over all the data after ``quad``: once, where
        the product budget holds it."""
        room = options.product_budget - quad.hvps - (after or Afterwards()).products(quad.runs, quad.steps)
        return again is not None and not again.products and room >= WHOLE_ERROR_PRODUCTS

    def measures_again(quad, rounding: float) -> bool:
        """Whether ``again`` measures the error over all the data after ``quad``, whose rounding
        part at the slice's error is ``rounding``."""
        return can_measure_again(quad) and rounding >= WHOLE_ERROR_SHARE * options.tolerance

    # bases stored at 16 bits have no narrower storage to name
    narrower = [f"a narrower {said(option_flag('basis_dtype'), 'basis_dtype')}"] if narrower_basis(storage) else []
    if not choice.adaptive:
        if (need := _fixed_basis_bytes(op, choice, storage)) > budget:
            raise UsageError(
                f"{choice.iterations} Lanczos steps a probe: the bases need {byte_size(need)} of host memory, "
                f"more than the {byte_size(budget)} they may hold; "
                + said(f"use fewer {option_flag('iterations')}, {''.join(f'{n}, ' for n in narrower)}a larger "
                       f"{option_flag('basis_memory_mb', '--basis-memory')}, or adaptive SLQ (no --iterations/--runs)",
                       f"use fewer iterations, {''.join(f'{n}, ' for n in narrower)}a larger "
                       "basis_memory_mb, or adaptive SLQ (no iterations or runs)") + ", which stops where memory ends")
        # the latest count, and the ρ* ± of the runs so far: a fixed plan's status had no estimate
        # at all. Each estimate solves over every run so far, so one is made after the first group,
        # where the runs have doubled since the last, and after the last: at most about twice the
        # answer's own solve (the last one is the answer's, solved again with the data part once known)
        shown: dict[str, Any] = {"count": (0, None), "text": None, "runs": 0}
        # what follows the runs in the bar's total, as adaptive SLQ's has it (``Afterwards.expected``)
        following = (Afterwards() if after is None else after).expected(choice.runs, min(choice.iterations, op.shape[0]))

        def callback(done: int, total: int) -> None:
            shown["count"] = (done, total + following)
            progress(*shown["count"], shown["text"])

        def grouped(quad) -> None:
            if quad.runs < min(2 * shown["runs"], choice.runs):
                return
            shown["text"], shown["runs"] = marked(_runs_status(target, quad, options, op.dtype)), quad.runs
            progress(*shown["count"], shown["text"])

        cut: list[bool] = []  # whether the deadline stopped a product
        # the next step, and the trace's top-ups a cut plan may need (the first is always made),
        # priced at the last step's seconds: a bound, whatever the runs' lockstep
        past = _next_past(clock, deadline, TRACE_PROBES - 1)

        def until() -> bool:
            cut.append(past())
            return cut[-1]

        quad = slq(op, choice.iterations, choice.runs, options.seed, "h", callback=callback if progress else None,
                   storage_dtype=storage, lockstep=op.lockstep, until=None if deadline is None else until, span=True,
                   grouped=grouped if progress and target is not None else None)
        # a slice's estimate widened a fixed plan's ± as an adaptive one's; whether it is measured
        # again is decided by ε, the negative rule and the tolerance, which the result cache keys
        # out of a fixed plan: the slice's error is kept for a read under others (``fixed_plan_error``)
        if target is not None and not any(cut) and can_measure_again(quad):
            quad = replace(quad, slice_error=product_error)
            if _measures_whole_error(target, replace(quad, product_error=product_error), options, op.dtype):
                again.measure()
                quad = replace(quad, hvps=quad.hvps + again.products)
        # a first run that spanned the space (``span``) stopped where adaptive SLQ's does: said alike
        return quad, "time-budget" if any(cut) else "converged" if quad.exact else None, ()

    def assessed(quad, error: float) -> Assessment:
        quad = replace(quad, product_error=error)
        ratio = limit_ratio_of(target, quad, options)
        u = slq_uncertainty(target, quad, options, ratio, None, op.dtype)
        alone = one_run_half_width(ratio, quad.dim, u.steps or 0.0)
        return Assessment(ratio, u.plus_minus, u.steps or 0.0, u.statistical, alone, u.rounding or 0.0)

    def assess(quad) -> Assessment:
        verdict = assessed(quad, product_error if again is None or again.error is None else again.error)
        if not measures_again(quad, verdict.fixed):
            return verdict
        found = again.measure()  # None where the float64 operator did not fit: the slice's stands
        return replace(assessed(quad, product_error if found is None else found), products=again.products)

    if max_rows < 2:
        raise UsageError(
            f"one Lanczos vector needs {byte_size(vector)} of host memory and the bases may "
            f"hold {byte_size(budget)}, room for {int(max_rows)}: too few for SLQ; free host memory, "
            + "use " + " or ".join([*narrower, f"a larger {said(option_flag('basis_memory_mb', '--basis-memory'), 'basis_memory_mb')}"]))
    plan = AdaptivePlan(options.tolerance, options.product_budget, initial_steps=choice.iterations,
                        initial_runs=choice.runs, time_budget=options.time_budget, lockstep=op.lockstep,
                        max_basis_rows=None if max_rows == math.inf else int(max_rows),
                        after=Afterwards() if after is None else after, remedy=remedy,
                        measuring=0.0 if again is None or again.products else again.seconds,
                        measuring_seconds=0.0 if again is None or again.products else again.timed_seconds)
    result = adaptive_slq(op, plan, assess, options.seed, storage, progress,
                          describe=lambda a: marked(_status(a.estimate, a.plus_minus)), clock=clock, costs=costs)
    wide = op.dtype == torch.float64
    return result.quadrature, result.stopped_by, tuple(replace(stage, float64_products=wide) for stage in result.trail)


def _fixed_basis_bytes(op, choice: SolverChoice, storage) -> int:
    """The host memory a fixed plan's Lanczos bases on ``op`` hold at once: one lockstep group's."""
    return min(op.lockstep, choice.runs) * min(choice.iterations, op.shape[0]) * op.shape[0] * storage.itemsize


def _measures_whole_error(target: LimitTarget, sliced, options: CurvatureOptions, dtype,
                          ratio: float | None = None) -> bool:
    """Whether the rounding part of ρ*'s ± at ``sliced``'s products' error, a slice's upper
    estimate, reaches ``WHOLE_ERROR_SHARE`` of the tolerance: the error over all the data is
    then measured after a fixed plan's runs (``_WholeError``). ``ratio``: ρ* on ``sliced``'s rule,
    where the caller solved it."""
    ratio = limit_ratio_of(target, sliced, options) if ratio is None else ratio
    rounding = rounding_part_of(target, sliced, ratio, dtype) or 0.0
    return rounding >= WHOLE_ERROR_SHARE * options.tolerance


def fixed_plan_error(quad, target: LimitTarget, options: CurvatureOptions, dtype, ratio: float | None = None):
    """``quad``, a stored fixed plan's, with the products' error a run with ``options`` states:
    the data's where the stored run measured it and these options would too, the slice's
    (``slice_error``) where they would not; ``None`` where they would measure it and the stored
    run did not (so ε, the negative rule or the tolerance of a read, which the key leaves out,
    never state a ± at an error this run would not have measured). ``ratio``: ρ* on ``quad``'s
    rule (:func:`limit_ratio_of`, at any products' error: the solve reads nodes and weights), where
    the caller solved it."""
    if quad.slice_error is None:  # no whole-data error could follow the runs: nothing was decided
        return quad
    sliced = replace(quad, product_error=quad.slice_error)
    if not _measures_whole_error(target, sliced, options, dtype, ratio):
        return sliced
    return quad if quad.product_error != quad.slice_error else None


# Products ``_WholeError`` takes: one float32, one float64.
WHOLE_ERROR_PRODUCTS = 2
# The share of the tolerance from which a slice's rounding part is measured again over all the
# data: at half or more it leaves the steps and probe parts less than the rest, and it errs
# high (a plainly trained 9,802-weight LeNet on the digits: 0.69 pt from the slice against
# none stated (under 0.1 pt) over all 1,437 samples, of a 1 pt tolerance: its ± 2.9 pt against 2.1 pt).
WHOLE_ERROR_SHARE = 0.5


class _WholeError:
    """The products' error over all the curvature data ``batches`` (``_whole_error``), measured
    once, on ``measure()``, by operators of its own; ``error`` and ``products``: what it found
    (``None`` before, or where the float64 operator did not fit in memory) and took (0 before).
    ``cost``: a float64 product's seconds in float32 ones (``_product_error``'s), which prices
    the measuring under a time budget (``seconds``, ``timed_seconds``); ``timed``: the seconds
    of a recomputing float32 operator's build and product over ``batches``, where the data
    check timed them (its ``fixed`` and ``step``: a part's each, times the parts), else 0."""

    def __init__(self, inputs: Inputs, options: CurvatureOptions, batches, cost: float = 1.0,
                 timed: float = 0.0) -> None:
        self.inputs, self.options, self.batches, self.cost, self.timed = inputs, options, batches, cost, timed
        self.error: float | None = None
        self.products = 0

    @property
    def seconds(self) -> float:
        """What measuring takes in the runs' float32 products' seconds over ``batches``, where
        nothing timed it: one float32 product and one float64 (the operators' builds not
        counted)."""
        return 0.0 if self.timed else 1.0 + self.cost

    @property
    def timed_seconds(self) -> float:
        """What measuring takes in seconds where ``timed``: its own two operators, a float32 one
        and a float64 one, built and a product each, the float64 at ``cost`` times the float32.
        At the runs' products' seconds, as ``seconds`` prices it, it fell 4-5× short on two
        CPU convolution nets (1,898 and 61,706 weights over 1,000 samples: priced 0.11 and
        0.42 s, took 0.5 and 1.6 s): its products recompute their graphs, where the runs'
        keep them, and the builds are a pass over the data each."""
        return (1.0 + self.cost) * self.timed

    def measure(self) -> float | None:
        own = hessian_operator(self.inputs, replace(self.options, hvp="revrev"), batches=self.batches)
        self.error, self.products, _ = _whole_error(self.inputs, self.options, own, self.batches)
        return self.error


def _float64_follows(options: CurvatureOptions, op, error: float, budgets, elapsed: "Callable[[], float]",
                     after: Afterwards, row_bytes: int, cost: float) -> Callable[[AdaptiveResult], bool]:
    """Whether adaptive SLQ on ``op``, stopped by "rounding" with a result (``AdaptiveResult``),
    runs again on float64 products (``_float64_rerun``): adaptive SLQ stops there at once only
    where this says so (``AdaptivePlan.remedy``), so that no product is left unspent where no
    re-run can follow, and the re-run asks it again of the answer.

    Never where the products were float64 already or ``error``, their error measured against
    float64 ones, is 0 (not measured). Else only where the products ``budgets`` gave the
    runs, less the ``quad.hvps`` they took, hold as many again (a float64 product counts
    one, as a float32 one) and ``after``'s counted products at their steps; where a given
    time budget's seconds left hold ``cost`` times the seconds those runs took (on
    ``elapsed`` since ``budgets`` were set, a clock that reads alike on every torchrun rank,
    so all decide alike; ``cost``: a float64 product's seconds in float32 ones, measured by
    ``_product_error``'s two products: 3-30× on a convolution net on a CPU, where the twice
    assumed before started float64 runs the budget could not hold) and ``after``'s at
    ``cost`` times their rate a product; and where the host memory the bases may hold holds
    the runs' bases in float64 (``row_bytes`` a row): float64 runs stopped by memory short of where the float32
    ones went state a wider ± for twice the work (a 147-weight MLP under 0.15 MB: ± 28 pt
    after 99 products against float32's 16 pt). ``after``: what follows the runs within the
    budgets (a subset's data check, the trace's top-ups), which the float64 runs must leave
    room for at the float32 runs' steps as those did: without it, the float64 runs over a
    48-sample subset stopped by --max-hvps at 27 steps against float32's 32, stating ± 27.5 pt
    for the float32 answer's 21.9 pt. The time left only falls as the runs go on: where it
    says no during the runs, it says no after them."""
    def follows(result: AdaptiveResult) -> bool:
        quad = result.quadrature
        if op.dtype == torch.float64 or not error:
            return False
        steps = quad.steps
        # the default's 1,600 Lanczos products too, not only a given --max-hvps
        # and the data check's timing again, on float64 products, where a given --max-hvps counts it
        retimed = DATA_CHECK_TIMING if after.counted_per_step else 0
        if budgets.product_budget - quad.hvps < quad.hvps + after.products(quad.runs, steps) + retimed:
            return False
        if options.time_budget is not None:
            now = elapsed()
            took = now - (options.time_budget - budgets.time_budget)  # the runs' seconds
            # the runs and what follows them (a data check, timed on float32 products) at float64's cost
            if options.time_budget - now < cost * (took + after.seconds(quad.runs, steps, took / max(quad.hvps, 1))):
                return False
        return basis_memory_bytes(options) >= _bases_held(True, op.lockstep, quad, result.trail)[1] * row_bytes

    return follows


def _float64_rerun(inputs: Inputs, options: CurvatureOptions, runs: AdaptiveResult,
                   follows: Callable[[AdaptiveResult], bool], probes: int, batches, wide=None):
    """A float64 operator over ``batches`` for adaptive SLQ to run again on, where the float32
    products' measured error alone kept ρ*'s ± above the tolerance (``runs`` stopped by
    "rounding": a classifier fitted near zero loss, whose float32 products keep few digits)
    and ``follows`` (``_float64_follows``) says the budgets hold float64 runs.

    ``None`` otherwise, or where the float64 operator does not fit in memory. Where even
    float64's rounding decides ρ* (a fit to zero loss, ε at the loss's rounding) the float64
    runs end by "rounding" too, closer to the exact spectrum's ρ*, their warning naming the
    fix that then applies (a larger ε); which case it is cannot be told from the float32
    nodes, whose smallest lie in their rounding. ``wide``: a float64 operator over
    ``batches`` built already (exact columns left for SLQ), used where it serves ``probes``."""
    from prunelimit.limits import out_of_memory

    if runs.stopped_by != "rounding" or not follows(runs):
        return None
    if wide is not None and wide.serves(probes):
        return wide
    try:
        return hessian_operator(inputs, options, dtype=torch.float64, probes=probes, batches=batches)
    except (MemoryError, RuntimeError) as exc:
        if out_of_memory(exc) is None:
            raise
        return None


def _float64_note(error: float, spent: int, precision: dict, kept: "Stage | None" = None) -> str:
    """Why adaptive SLQ ran again on float64 products (``_float64_rerun``); ``precision``: the
    run's record (``_precision``), whose TF32 or bfloat16 switches are named as the cause where
    it shows them (it said "a fit near zero loss" of a model fitted no nearer than the bundled
    example, whose products rounded in bfloat16); ``kept``: the float32 runs' last stage where
    the time budget cut the float64 ones to a wider ±, and that float32 answer was kept."""
    from prunelimit.remedies import reduced_float32

    reduced = reduced_float32(precision)
    cause = "a fit near zero loss" if not reduced else (
        f"rounding in {' or '.join(reduced)}: this run's precision records "
        f"{', '.join(key for keys in reduced.values() for key in keys)}")
    ran = (f"the float32 products erred by {error:.2g} against float64 ones ({cause}), a rounding "
           f"that alone kept ρ*'s ± above the tolerance after {spent:,} products: adaptive SLQ ran again on "
           "float64 products (dearer each, 3-30× a float32 one on a convolution net on a CPU; their products are "
           "counted in the HVPs)")
    if kept is None:
        return ran
    return (f"{ran}, but the time budget stopped them with a wider ± than the float32 runs' "
            f"ρ* = {estimate_text(kept.estimate, kept.plus_minus)}: the float32 answer is kept")


# Samples the products measuring float32 against float64 are over (``measured_slice``): one
# default analysis batch.
MEASURED_SAMPLES = 128


def _product_error(inputs: Inputs, options: CurvatureOptions, op, batches, dim: int,
                   wide=None, clock: "Callable[[], float] | None" = None) -> tuple[float, int, int, float]:
    """``(‖H̃z − Hz‖/‖z‖, products spent, samples they were over, cost)``: float32 products
    against float64 ones on one fixed Rademacher probe (``SpectralQuadrature.product_error``)
    over ``measured_slice`` of the curvature data ``batches``; ``(0.0, 0, 0, 1.0)`` for
    float64 products. Where the slice is all of ``batches`` it is ``op``'s own product
    against one by ``wide`` (a float64 operator over them, where one was built), else
    ``_slice_error``. Near a loss of zero their error is far above machine epsilon × λmax
    (``theory.uncertainty.rounding_floor``), which no other part of the ± holds. Where the
    float64 copy does not fit in memory, ``(0.0, products spent, samples, 1.0)``: the floor
    is then machine epsilon's, as before this was measured. ``cost``: a float64 product's
    seconds over a float32 one's, the two products timed on ``clock`` (``_cost_ratio``); 1.0
    where no ``clock`` is given (no time budget: nothing prices the float64 re-run's seconds,
    and no result may depend on the clock)."""
    from prunelimit.curvature.slq import rademacher
    from prunelimit.data.batches import total_samples

    if op.dtype == torch.float64:
        return 0.0, 0, 0, 1.0
    sliced = measured_slice(inputs, options, batches)
    probe = rademacher(dim, torch.Generator().manual_seed(0))
    samples = total_samples(sliced.batches)
    if sliced.subsampled:
        error, cost = _slice_error(inputs, options, sliced, probe, clock)
        return (0.0, 1, samples, 1.0) if error is None else (error, 2, samples, cost)
    error, spent, cost = _whole_error(inputs, options, op, batches, wide, clock)
    return 0.0 if error is None else error, spent, samples, cost


def _whole_error(inputs: Inputs, options: CurvatureOptions, op, batches, wide=None,
                 clock: "Callable[[], float] | None" = None) -> tuple[float | None, int, float]:
    """``(‖H̃z − Hz‖/‖z‖, products spent, cost)`` over all of ``batches``, ``op``'s curvature
    data: its own product on ``_product_error``'s probe against one by ``wide`` (a float64
    operator over them, built here where none is given); ``(None, 1, 1.0)`` where that float64
    operator does not fit in memory. ``cost`` as ``_product_error``'s."""
    from prunelimit.curvature.slq import rademacher
    from prunelimit.limits import out_of_memory

    probe = rademacher(op.shape[0], torch.Generator().manual_seed(0))
    narrow, narrow_s = _timed(clock, op.matvec, probe)
    try:
        if wide is None:  # recomputing: one product needs no graphs kept
            wide = hessian_operator(inputs, replace(options, hvp="revrev"), dtype=torch.float64, batches=batches)
        product, wide_s = _timed(clock, wide.matvec, probe)
    except (MemoryError, RuntimeError) as exc:
        if out_of_memory(exc) is None:
            raise
        return None, 1, 1.0
    return float((narrow.to(torch.float64) - product).norm() / probe.norm()), 2, _cost_ratio([narrow_s], [wide_s])


def _timed(clock: "Callable[[], float] | None", product: "Callable", probe) -> tuple["torch.Tensor", float]:
    """``product(probe)`` and its seconds on ``clock`` (0 where none is given)."""
    start = clock() if clock else 0.0
    out = product(probe)
    return out, (clock() - start) if clock else 0.0


def _cost_ratio(narrow: "list[float]", wide: "list[float]") -> float:
    """What a float64 product costs in float32 products, from the measuring products' seconds
    (``narrow`` float32, ``wide`` float64, over the same samples): the fastest of each, as
    a shared machine's load and a first call's warm-up only slow a product down, and at least
    1: float64 runs also hold bases of twice the bytes, and a float64 product measured faster
    (an MLP's, within the noise of a millisecond) does not make them cheaper. 1.0 where
    nothing was timed. Over a 32-sample part a small CNN's float64 product cost 3.6× its
    float32 one where over 400 samples 7.5×: the slice errs low on a convolution net, and the
    clock, which stops float64 runs at the time budget, keeps the float32 answer where they
    end wider (``spectrum``). Where the slice is all the data a cached engine's float32
    product (its graphs kept) is timed against a recomputing float64 one: there it errs high."""
    fastest = min(narrow)
    return max(min(wide) / fastest, 1.0) if fastest > 0 else 1.0


def measured_slice(inputs: Inputs, options: CurvatureOptions, batches) -> "Subsample":
    """The samples of the curvature data ``batches`` that ``_product_error`` measures on: a
    fixed, seeded, class-balanced draw of ``MEASURED_SAMPLES`` in ``DATA_PARTS`` disjoint
    parts (at least ``DATA_PARTS`` a class, as every draw: ``curvature_subsample``), or all
    of ``batches`` where they are no more. A float64 product of a convolution net on a CPU
    costs 3-30× a float32 one (no fast float64 kernels): over all the data the two
    measuring products took a quarter to most of a run's seconds. Where the run's ``precision``
    record shows TF32 or bfloat16 switches (``remedies.reduced_float32``), each part is at
    least one of the runs' batches (the first batch's size): whether a product rounds so
    depends on its shapes, and with ``torch.backends.mkldnn.matmul.fp32_precision = "bf16"`` a
    64-4-10 MLP's products over 32-sample parts erred by 1.8e-8, as IEEE float32 ones, where
    the runs' over 128-sample batches erred by 9.4e-4."""
    from prunelimit.data.batches import batch_size
    from prunelimit.data.subsample import DATA_PARTS, class_count, curvature_subsample
    from prunelimit.remedies import reduced_float32

    by_class = drawn_by_class(inputs)
    samples = max(MEASURED_SAMPLES, DATA_PARTS * class_count(batches, by_class))
    if reduced_float32(_precision(inputs)):
        samples = max(samples, DATA_PARTS * batch_size(batches[0]))
    return curvature_subsample(batches, samples, options.seed, by_class=by_class)


def _slice_error(inputs: Inputs, options: CurvatureOptions, sliced: "Subsample", probe,
                 clock: "Callable[[], float] | None" = None) -> tuple[float | None, float]:
    """An upper estimate of the whole curvature data's ``‖H̃z − Hz‖/‖z‖`` from ``sliced``: the
    error ē of the slice's product, taken part by part (its parts' products, weighted by
    their samples, are the slice's one float32 and one float64 product), plus twice its
    sampling error s = √(Σ‖e_k − ē‖² / (K(K − 1))) over the K parts. A product is the mean
    of per-sample products, so the data's error is the mean of the per-sample errors, which
    ē estimates without bias: ‖data's‖ ≤ ‖ē‖ + ‖ē − data's‖, whose last term s estimates.
    Twice s, as an error along few coordinates does not concentrate at its root mean square:
    on 32 draws (4 near-zero-loss MLPs of 600-1,200 samples) ‖ē‖ alone fell short of the
    data's error on 4 (0.48× at worst), ‖ē‖ + s on one (0.99×), ‖ē‖ + 2s on none (1.5× at
    least, 11× at most: tests/api/test_measured_slice.py). ``None`` where a float64 copy does
    not fit in memory. With it, the float64 products' cost in float32 ones: each part's two
    products timed on ``clock`` (``_cost_ratio``; 1.0 where none is given)."""
    from prunelimit.data.batches import total_samples
    from prunelimit.limits import out_of_memory

    errors, weights, narrow_s, wide_s = [], [], [], []
    recomputing = replace(options, hvp="revrev")
    try:
        for part in sliced.parts:
            narrow, seconds = _timed(clock, hessian_operator(inputs, recomputing, batches=part).matvec, probe)
            narrow_s.append(seconds)
            wide, seconds = _timed(
                clock, hessian_operator(inputs, recomputing, dtype=torch.float64, batches=part).matvec, probe)
            wide_s.append(seconds)
            errors.append(narrow.to(torch.float64) - wide)
            weights.append(total_samples(part))
    except (MemoryError, RuntimeError) as exc:
        if out_of_memory(exc) is None:
            raise
        return None, 1.0
    parts = torch.stack(errors)
    mean = (torch.tensor(weights, dtype=torch.float64)[:, None] * parts).sum(0) / sum(weights)
    spread = float(((parts - mean) ** 2).sum() / (len(errors) * (len(errors) - 1))) ** 0.5
    return (float(mean.norm()) + 2 * spread) / float(probe.norm()), _cost_ratio(narrow_s, wide_s)


def exact_uncertainty(target: LimitTarget, quad, ratio: float) -> "Uncertainty":
    """The uncertainty of ``ratio``, the ρ* of the exact spectrum ``quad``: none but its
    float64 products' rounding part (``theory.uncertainty.rounding_part``)."""
    from prunelimit.theory.uncertainty import EXACT

    return replace(EXACT, rounding=rounding_part_of(target, quad, ratio, torch.float64))


def rounding_part_of(target: LimitTarget, quad, ratio: float, dtype) -> float | None:
    """``theory.uncertainty.rounding_part`` of ``ratio`` on ``target``'s path, for products of ``dtype``."""
    from prunelimit.theory.uncertainty import rounding_part

    return rounding_part(target.profile, quad, target.epsilon, ratio, torch.finfo(dtype).eps)


def slq_uncertainty(target: LimitTarget, quad, options: CurvatureOptions, ratio: float,
                    data: CurvatureData | None, dtype):
    """The uncertainty of ``ratio``, the ρ* of ``quad`` (see ``prunelimit.theory.uncertainty``),
    with ``data``'s part where it was subsampled (``path_data`` for this ρ*'s path) and the
    rounding part of products of ``dtype``."""
    from prunelimit.theory.uncertainty import ratio_uncertainty

    # the parts of the runs alone, once a target for the same rules and ρ*: a fixed plan's progress
    # status solved its bracket's ends after the runs, and the answer again (the data part known)
    runs = ("±", _rule(quad), ratio, options.negative)
    if runs not in target.solved:
        half = None
        # The m/2-vs-m change stands in for the bracket where none is carried (deflated or H² runs)
        if quad.half is not None and quad.lower is None:
            half = limit_ratio_of(target, quad.half, options)
        target.solved[runs] = ratio_uncertainty(target.profile, quad, target.epsilon, ratio, options.negative, half)
    return replace(target.solved[runs], data=None if data is None else data.part_sd,
                   data_parts=None if data is None else data.data_parts,
                   rounding=rounding_part_of(target, quad, ratio, dtype))


def _import_assessment() -> None:
    """Import what the runs' first assessment, or the exact spectrum's ρ*, imports (SciPy's
    tridiagonal eigensolver, root finder and quantiles: 0.6 s on a 99-parameter MLP whose
    163 products take 0.3 s) before a time budget's columns or runs start: between stages
    the clock can only stop the runs after the fact, so the first stage's assessment took
    `--time-budget 2` 0.66 s past it, and nothing judges the exact spectrum after its
    eigenvalues. Lazy elsewhere: --help and info start without SciPy."""
    import scipy.linalg  # noqa: F401
    import scipy.optimize  # noqa: F401
    import scipy.special  # noqa: F401


def _left_out_share(parts: int) -> float:
    """The subset's share a data check product passes over: the subset less one of its ``parts``."""
    return (parts - 1) / parts


# Products ``_data_check_seconds`` spends: the Lanczos steps it times on a part, the first untimed.
DATA_CHECK_TIMING = 3


def _data_check_seconds(inputs: Inputs, options: CurvatureOptions, subsample: "Subsample", storage: "torch.dtype",
                        clock: "Callable[[], float]", dtype: "torch.dtype | None" = None
                        ) -> tuple[float, float, float, int]:
    """What the data check (``_part_spectra``) will take on ``clock`` beyond its steps (each
    part's operator built), per step (a Lanczos step on each part, its product of ``dtype``:
    the runs'; default the model's) and per basis vector a step
    reorthogonalises against (on each part, its basis stored as ``storage``), and the products spent
    finding out: the first set's operator (the subset less its first part) built and, after an untimed Lanczos step (the
    process's first product of a new engine pays one-off costs, ~1 s on the example), two
    steps timed, the slower: on a shared machine the example's part products ran at
    2-80 ms against 1.7 ms quiet, and the load of
    the moment is the best guess at the next seconds' (a slower guess only stops the runs
    sooner). Steps, not bare products: a step's own work beside its product (the block's
    copies, the recurrence, the DGKS test) made a 0.5 ms product on a 2,410-parameter MLP
    a 0.74 ms step, which the price left out.
    A set is (K − 1)/K of the subset, but a product's cost is not proportional to its
    samples (the parts recompute their graphs, the runs may keep theirs, and small products
    are mostly overhead), so the runs' own rate would misjudge it."""
    import torch

    from prunelimit.curvature.lanczos import LanczosRuns, reorthogonalisation_seconds
    from prunelimit.curvature.operator import Columnwise
    from prunelimit.curvature.slq import rademacher

    began = clock()
    op = hessian_operator(inputs, replace(options, hvp="revrev"), dtype=dtype, batches=left_out(subsample.parts)[0])
    built = clock()
    probe = rademacher(op.shape[0], torch.Generator().manual_seed(options.seed))
    run = LanczosRuns(Columnwise(op), probe[None], DATA_CHECK_TIMING, storage_dtype=storage)
    run.exhaust()  # past a breakdown (a Hessian of rank 1), so every timed step is one
    marks = [built]
    run.extend(DATA_CHECK_TIMING, lambda products: marks.append(clock()))
    steps = [end - start for start, end in zip(marks, marks[1:])]
    parts = len(subsample.parts)
    row = reorthogonalisation_seconds(op.shape[0], storage, clock, basis_memory_bytes(options))  # within --basis-memory
    return parts * (built - began), parts * max(steps[1:] or steps), parts * row, op.hvps


def _next_past(clock: "Callable[[], float]", deadline: float | None, after: int = 0) -> "Callable[[], bool] | None":
    """``until`` for work made a step at a time: true once the next step and ``after`` more,
    each at the last one's seconds on ``clock``, would end past ``deadline`` (``None``: no
    deadline)."""
    if deadline is None:
        return None
    last = clock()

    def until() -> bool:
        nonlocal last
        now = clock()
        took, last = now - last, now
        return now + (1 + after) * took > deadline

    return until


def path_data(target: LimitTarget, data: CurvatureData, options: CurvatureOptions) -> CurvatureData:
    """``data`` with ``part_ratios`` solved from its parts' spectra for ``target``'s
    pruning path (unchanged without parts: the full data)."""
    if data.parts is None:
        return data
    return replace(data, part_ratios=tuple(limit_ratio_of(target, part, options) for part in data.parts))


def _part_spectra(inputs: Inputs, options: CurvatureOptions, subsample: "Subsample", quad, storage,
                  progress=None, status: str | None = None, dtype=None, then: int = 0,
                  prices: tuple[float | None, float] | None = None,
                  clock: "Callable[[], float]" = time.perf_counter,
                  until: "Callable[[], bool] | None" = None,
                  slope: float | None = None) -> tuple[tuple["SpectralQuadrature", ...], int]:
    """The first probe's spectrum on the subsample less each of its parts (``left_out``), at
    the steps the main run took (common probe: the differences in ρ* are the data's, not the
    probe's). Returns them and the products spent. ``progress`` goes on from the runs'
    products: the K runs over (K − 1)/K of the subset each cost about as many passes as
    K − 1 probes', 3 single-probe runs' worth at K = 4 (the parts alone, 1/K each, cost
    one, but understated the data part: ``theory.uncertainty``). A run ends short where its
    Krylov space is smaller than the steps: the parts left are then planned at
    the most a part has taken, not at the steps (a 64-4-10 MLP over 100 of 300 samples: 59 to
    69 products a part, planned at the runs' 90 each), so the bar ends at its total.
    ``status``: the runs' ρ* ±, shown after the stage's name as lacking the data part
    (``_data_part_to_come``). ``dtype``: the runs' products'
    (default: the model's). ``then``: products that follow the check (the trace's top-ups),
    in the bar's total as the runs' count had them. ``prices``: the seconds of the check and
    those products as the plan prices them (``Afterwards.seconds``; ``None``: unpriced, no
    time budget timed the check) and of one of those products, where the bar's ETA is priced
    (``left``; ``None``: not priced): through the first part that price less the check's
    seconds so far, else the check's own readings on ``clock`` (``_CheckPace``), which only
    the bar reads. The bar's rate, over its last 30 s, took the runs' products, in lockstep,
    for the check's lone ones: 'eta 0:00:18' with 10 s left on a CNN over 1,000 of 4,000
    samples; 0.82-0.86 of the time left through a 9,610-weight MLP's first part over 400
    samples. ``slope``: the runs' fitted seconds a product grows by a step (``StepCosts``),
    which ``_CheckPace`` takes until it has its own. ``until`` (``_next_past`` over parts: the next at the last one's
    seconds) is asked after each part, and from the ``FEWEST_CHECKED_PARTS``-th on stops the
    check where it is true: the plan's price, timed on 3 products before the runs, erred by half either way
    on a loaded machine (a 1,898-weight CNN's priced 12.7 s took 19.9 s and its spectrum
    37 s of a 30 s budget), and a part's own seconds are the load of the moment. The data
    part's spread is then taken over fewer parts, its
    fewer degrees of freedom widening the ± (``CurvatureData.drawn``), and the returned
    spectra say how many ran."""
    from prunelimit.curvature.operator import Columnwise
    from prunelimit.curvature.slq import slq

    text = with_status("data check on the subset's parts", _data_part_to_come(status))
    steps = quad.steps
    spectra, spent = [], 0
    each = steps  # what a part is planned to take: the steps, until one ends short
    pace = None if progress is None or prices is None else _CheckPace(clock, prices[0], steps, slope)
    for i, part in enumerate(left_out(subsample.parts)):
        if pace is not None:
            pace.part_begins()
        op = hessian_operator(inputs, replace(options, hvp="revrev"), dtype=dtype, batches=part)
        base, later = quad.hvps + spent, len(subsample.parts) - i - 1

        def callback(done: int, total: int, base: int = base, each: int = each, later: int = later,
                     first: bool = i == 0) -> None:
            if done == total < steps:  # the part ended short (slq's closing count): the parts left planned again
                each = max(0 if first else each, done)
            # a part that goes on past what the others took is planned at what it has taken so far
            planned = base + max(done, each) + later * each
            progress(base + done, planned + then, text,
                     left=None if pace is None else pace.left(done, max(done, each), later, then * prices[1]))

        # One probe: single products (matvec), as a lone Lanczos run takes them.
        spectra.append(slq(Columnwise(op), steps, 1, options.seed, "h", storage_dtype=storage,
                           callback=None if progress is None else callback))
        spent += op.hvps
        each = max(each if i else 0, op.hvps)
        # asked after every part, so that its seconds are the last part's
        if until is not None and until() and i + 1 >= FEWEST_CHECKED_PARTS and later:
            break
    return tuple(spectra), spent


class _CheckPace:
    """Seconds the data check has left, from its own readings on ``clock``: its parts are
    alike (the steps again, over as many samples), but a step's reorthogonalisation grows
    with the steps before it, and the part's operator is built before its first product, so
    the seconds so far over the products so far priced the rest of a part low (0.84 of it
    mid-part on a 9,610-weight MLP) and its start high. Within the first part: the plan's
    price less the check's seconds (``whole``: where a time budget timed the check), else
    the part's readings fitted as set-up + a product's seconds × products, + a
    reorthogonalisation term in their square from a quarter of the part on (a curvature
    fitted on the first steps alone, extrapolated over the part, would amplify the load's
    noise), and ``None`` (the bar's rate) before two readings; from ``RECENT_STEPS`` steps
    timed on, in place of either fit, its products left each at a + b·k, the cost of step k
    (``StepCosts``, as adaptive SLQ's worst case prices the runs'): from there to a quarter
    of a 512-step part the straight line read 0.61-0.65 of the time left on a clock of
    1 + k/320 s a step, and 0.34 of a 9,610-weight MLP's first part left. Before that, from
    the first step timed, at a + b·k too where the runs' fit gives the slope (``slope``: a
    step's growth is its reorthogonalisation's, the same against as many rows of D, whatever
    data the products pass over), the level the check's own steps so far: the line read
    0.56-0.60 of the time left there on that clock, 0.32 and 0.35 of that MLP's first part
    left (replayed readings; now 1.56 and 0.85: a step's cost, convex in k, is flattest there).
    After the first part, each part at the
    last whole part's seconds (the load of the moment), this one's rest by the share of
    the first part's seconds its products from here took."""

    def __init__(self, clock: "Callable[[], float]", whole: float | None, steps: int,
                 slope: float | None = None) -> None:
        self.clock, self.whole = clock, whole
        self.began = self.part_began = clock()
        self.readings: list[tuple[int, float]] = []  # (products, seconds into the part) of this part
        self.fit = _SecondsFit(steps)  # the first part's readings
        self.steps = StepCosts(slope)  # ... and its steps' seconds, from its second on (its first built the operator)
        self.shares: list[float] = []  # the first part's share of its seconds at its 1st, 2nd, … product
        self.last = 0.0  # the last whole part's seconds, its operator's build included

    def part_begins(self) -> None:
        """A part begins (before its operator is built): the part before, if any, ended now."""
        now = self.clock()
        if self.readings:
            self.last = now - self.part_began
            if not self.shares:
                self.shares = [seconds / self.last for _, seconds in self.readings]
        self.part_began, self.readings = now, []

    def left(self, done: int, each: int, later: int, then_seconds: float) -> float | None:
        """Seconds left ``done`` of this part's ``each`` products in, with ``later`` parts and
        ``then_seconds`` of what follows the check after it."""
        now = self.clock()
        self.readings.append((done, now - self.part_began))
        if self.shares:
            shares = self.shares
            rest = shares[min(each, len(shares)) - 1] - shares[min(done, len(shares)) - 1]
            return (max(0.0, rest) + later) * self.last + then_seconds
        if self.whole is not None:
            return max(0.0, self.whole - (now - self.began))
        self.fit.add(done, now - self.part_began)
        if len(self.readings) > 1 and done > self.readings[-2][0]:  # a repeated count (a part ended short) took no step
            self.steps.add(done, self.readings[-1][1] - self.readings[-2][1], done - self.readings[-2][0])
        rest = self.steps.seconds(each - done, done + 1, each)
        if rest is not None:
            return rest + later * (self.readings[-1][1] + rest) + then_seconds
        fitted = self.fit.fitted(quadratic=4 * done >= each)
        if fitted is None:
            return None
        part = fitted(each)
        return max(0.0, part - self.readings[-1][1]) + later * part + then_seconds


class _SecondsFit:
    """Least squares of seconds on products read one at a time, by running sums (a refit of
    every reading so far at each took 0.6 s over a part of 1,500 steps): a + b·k, with c·k²
    where asked and the fit takes c ≥ 0 (a reorthogonalisation costs no less as the basis
    grows). Counts as fractions of ``steps``, so that the normal equations stay well
    conditioned."""

    def __init__(self, steps: int) -> None:
        import numpy as np

        self.scale = float(max(steps, 1))
        self.powers = np.zeros(5)  # Σ x⁰ … Σ x⁴
        self.moments = np.zeros(3)  # Σ y, Σ y·x, Σ y·x²
        self.counts: set[int] = set()

    def add(self, count: int, seconds: float) -> None:
        import numpy as np

        x = count / self.scale
        self.powers += x ** np.arange(5)
        self.moments += seconds * x ** np.arange(3)
        self.counts.add(count)

    def fitted(self, quadratic: bool) -> "Callable[[int], float] | None":
        """Seconds at a count, fitted; ``None`` before two distinct counts were read."""
        import numpy as np

        if len(self.counts) < 2:
            return None
        coefficients = None
        if quadratic and len(self.counts) > 2:
            coefficients = np.linalg.solve(self.powers[[[0, 1, 2], [1, 2, 3], [2, 3, 4]]], self.moments)
        if coefficients is None or coefficients[2] < 0:
            coefficients = np.linalg.solve(self.powers[[[0, 1], [1, 2]]], self.moments[:2])
        return lambda count: float(np.polynomial.polynomial.polyval(count / self.scale, coefficients))


# The fewest of the subset's parts a data check cut by the time budget runs: the data part's
# spread over 2 has one degree of freedom, whose 95 % Student factor (12.7, against 3.2 over
# 4 parts) took a LeNet-5's ± from 36 to 77 pt to save 1.7 s of a 30 s budget; over 3, 4.3.
FEWEST_CHECKED_PARTS = 3


def _parts_cut_note(ran: int, parts: int) -> str:
    """Why the data part of ρ*'s ± comes from ``ran`` of the subset's ``parts`` parts."""
    return (f"the data check ran on {ran} of the subset's {parts} parts: the time budget held no more, so the data "
            f"part of the ± is taken over those {ran}, with fewer degrees of freedom, wider (raise "
            f"{option('time_budget')} for all {parts})")


def _top_ups(quad, room: int | None = None) -> int:
    """Probes ``_slq_trace`` adds to the runs of ``quad`` for the trace, at most ``room``
    (``None``: no limit): none where a run found every eigenvalue."""
    if quad.exact:
        return 0
    return max(0, TRACE_PROBES - quad.runs if room is None else min(TRACE_PROBES - quad.runs, room))


def _slq_trace(op, quad, options: CurvatureOptions, room: int | None = None,
               until: "Callable[[], bool] | None" = None, progress=None, done: int = 0,
               status: str | None = None, each_seconds: float | None = None) -> "TraceEstimate":
    """Trace and its error (``prunelimit.curvature.trace``): each run's ``D·Σ τθ = zᵀHz`` is a
    Hutchinson sample and its ``D·(α₁² + β₁²) = ‖Hz‖²`` the sample's bound term, at no cost;
    fewer runs than ``TRACE_PROBES`` are topped up with probes, at most ``room`` (``None``:
    no limit) and after the first only while ``until`` is false (fewer samples widen the
    stated ±, they do not bias it). Exact (no top-up, no error) when the runs found every
    eigenvalue. ``progress`` goes on from ``done``, the products the bar has counted, with the
    latest ρ* ± (``status``) after the stage's name and, where ``each_seconds`` prices a
    top-up, the seconds of those left (``left``)."""
    from prunelimit.curvature.trace import TraceEstimate, hutchinson_samples, trace_estimate

    dim = op.shape[0]
    if quad.exact:  # a run spanned the whole space: the trace is the eigenvalues' sum, no sample to add
        return TraceEstimate(dim * quad.mean(lambda x: x), 0.0, 0.0, quad.runs)
    estimates, squares = dim * quad.expectation(lambda x: x), dim * quad.second_moments
    wanted = _top_ups(quad, room)
    if wanted > 0:
        text = with_status("trace top-up", status)
        callback = None if progress is None else \
            (lambda k: progress(done + k, done + wanted, text,
                                left=None if each_seconds is None else (wanted - k) * each_seconds))
        extra = hutchinson_samples(op, wanted, options.seed + 2, until, callback)
        if progress is not None and len(extra.estimates) < wanted:  # the time budget stopped them: the bar ends there
            progress(done + len(extra.estimates), done + len(extra.estimates), text)
        estimates, squares = np.concatenate([estimates, extra.estimates]), np.concatenate([squares, extra.squares])
    return trace_estimate(estimates, squares)


def fixed_plan(options: CurvatureOptions) -> bool:
    """Whether the options fix the plan (exact, paper, --iterations/--runs), so that ε and
    ``negative`` never reach the products, only ρ* and its ± solved afterwards."""
    return options.method in ("exact", "paper") or options.iterations is not None or options.runs is not None


def _default_ceiling_range(before: int, lanczos: int, after: int, measurable: bool,
                           through_top_ups: int) -> tuple[float, float]:
    """The --max-hvps ``[low, high)`` under which a fixed plan's run decides as one with none
    given (``hvps_budgets``): ``before`` the products a given ceiling counted before the runs
    (the data check's timing held back with them), ``lanczos`` the runs', ``after`` those of
    the data check and top-ups that follow them, ``measurable`` whether a whole-data error may
    follow the runs (``_slq_spectrum``'s ``can_measure_again``: at none given, where the
    default's ``DEFAULT_MAX_HVPS`` holds its products beside the runs'; at a given one, where
    it holds them beside all these), ``through_top_ups`` the products counted to the last
    top-up, whose number a given ceiling cuts below it. Its runs go to their end under any."""
    measures_from = before + lanczos + after + WHOLE_ERROR_PRODUCTS
    if not measurable:
        return float(through_top_ups), math.inf
    if DEFAULT_MAX_HVPS - lanczos >= WHOLE_ERROR_PRODUCTS:
        return float(max(measures_from, through_top_ups)), math.inf
    return float(through_top_ups), float(measures_from)


def basis_storage(name: str, hvp_dtype, elements: int):
    """The Lanczos basis dtype for ``--basis-dtype name``; ``auto`` is float32 for float32
    HVPs (reorthogonalisation at half the cost, no accuracy lost beyond the HVPs' own
    rounding, docs/benchmarks.md) and otherwise float64 unless that exceeds the size limit."""
    import torch

    from prunelimit.curvature.lanczos import AUTO_FLOAT64_BASIS_BYTES, BASIS_DTYPES

    if name != "auto":
        return BASIS_DTYPES[name]
    if hvp_dtype == torch.float32 or elements * 8 > AUTO_FLOAT64_BASIS_BYTES:
        return torch.float32
    return torch.float64


def negative_mass_of(quad) -> float | None:
    """Share of the spectrum's |λ| mass (Σ τ|θ|) on negative eigenvalues; ``None`` for unsigned nodes."""
    if not quad.signed:
        return None
    magnitude = quad.weights * np.abs(quad.nodes)
    total = float(magnitude.sum())
    return float(magnitude[quad.nodes < 0].sum()) / total if total > 0 else 0.0


def require_data(inputs: Inputs, use: str = "analysis") -> None:
    """A ``UsageError`` naming ``data`` where ``inputs`` hold no batches; ``use`` is what they are for
    (``"training"`` for the library's ``train``, ``hyperflux`` and ``imp``)."""
    if not inputs.batches:
        where = inputs.loaded.path or "the model"
        # a model held in memory (no file) takes tensors, not spec strings
        example = "a data spec such as digits:train" if inputs.loaded.path else "an (x, y) tensor pair or a DataLoader"
        raise UsageError.naming(f"no {use} data for {where}: pass {{0}} ({example})", "data")


def _check_finite(values, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise NumericalError(f"{what} contains NaN or Inf; check the checkpoint's weights and the data")
