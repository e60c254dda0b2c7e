"""The commands as Python functions: each returns a dataclass report a notebook can use.

``prunelimit.cli`` only parses options, calls these and prints the result.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, get_args

import numpy as np

from prunelimit.curvature.exact import EXACT_MEMORY_BYTES
from prunelimit.errors import NumericalError, UsageError
from prunelimit.inputs import Inputs
from prunelimit.models.evaluate import evaluate
from prunelimit.models.params import hessian_parameters, prunable_parameters
from prunelimit.specs import SEED_LIMIT
from prunelimit.theory.profile import MagnitudeProfile, PruningPath, path_profile

if TYPE_CHECKING:
    from torch import nn

    from prunelimit.baseline import Provenance
    from prunelimit.cache import Store
    from prunelimit.curvature.quadrature import SpectralQuadrature
    from prunelimit.gate import GateResult
    from prunelimit.io.outputs import Output
    from prunelimit.models.evaluate import Evaluation
    from prunelimit.pruning.actual import ActualLimit
    from prunelimit.pruning.lomp import LompConfig
    from prunelimit.pruning.refit import RefitLimit
    from prunelimit.theory.limit import LimitPrediction
    from prunelimit.theory.paper import PaperPrediction
    from prunelimit.theory.regime import Regime
    from prunelimit.theory.uncertainty import Uncertainty


@dataclass(frozen=True)
class LayerInfo:
    name: str
    shape: tuple[int, ...]
    count: int
    zeros: int


@dataclass(frozen=True)
class InfoReport:
    """Architecture summary: parameter counts, prunable layers and, with data, loss/accuracy."""

    checkpoint: str
    model: str | None
    source: str
    params_total: int
    params_prunable: int
    params_hessian: int
    layers: list[LayerInfo]
    masks: int
    loss: float | None = None
    accuracy: float | None = None
    data: str | None = None

    def to_json(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "model": self.model,
            "format": self.source,
            "params": {"total": self.params_total, "prunable": self.params_prunable, "hessian": self.params_hessian},
            "layers": [{"name": l.name, "shape": list(l.shape), "count": l.count, "zeros": l.zeros} for l in self.layers],
            "masks": self.masks,
            "data": self.data,
            "loss": self.loss,
            "accuracy": self.accuracy,
        }


def info(inputs: Inputs) -> InfoReport:
    """Parameter counts (SPEC §2), per-layer sizes and zeros, and loss/accuracy with data."""
    model = inputs.model
    prunable = prunable_parameters(model, inputs.selection)
    layers = [
        LayerInfo(name, tuple(p.shape), p.numel(), int((p == 0).sum())) for name, p in prunable
    ]
    ev = evaluate(model, inputs.batches, inputs.loss_fn) if inputs.batches else None
    return InfoReport(
        checkpoint=str(inputs.loaded.path),
        model=inputs.loaded.spec,
        source=inputs.loaded.source,
        params_total=sum(p.numel() for p in model.parameters()),
        params_prunable=sum(l.count for l in layers),
        params_hessian=sum(p.numel() for _, p in hessian_parameters(model, inputs.selection)),
        layers=layers,
        masks=len(inputs.loaded.masks),
        loss=ev.loss if ev else None,
        accuracy=ev.accuracy if ev else None,
        data=inputs.data_spec,
    )


# --------------------------------------------------------------------------- curvature


METHODS = ("default", "slq", "paper", "exact")


@dataclass(frozen=True)
class CurvatureOptions:
    """Settings that change the numbers of ``spectrum`` and ``bounds`` (all part of the cache key).

    ``method``: ``default`` (exact or adaptive SLQ, whichever answers first; see below),
    ``slq`` (adaptive SLQ), ``paper`` (the reference pipeline: SLQ on H, smoothed density,
    integer R, 1/1000 grid) or ``exact`` (full Hessian, small models only). ``iterations``/``runs`` ``None`` pick the method's
    defaults. ``epsilon`` ``None`` is the population std of per-batch losses (SPEC §2).
    ``basis_dtype``: storage of the Lanczos basis in host memory, ``auto`` (float32 for
    float32 HVPs, else float64) or a name in ``prunelimit.curvature.lanczos.BASIS_DTYPES``.
    ``memory_budget_mb``: what the HVP graphs may hold on the model's device (decides
    ``hvp="auto"`` and the chunk size on an accelerator); ``None``: ``CPU_MEMORY_BUDGET_MB``
    on a CPU, ``ACCELERATOR_BUDGET_SHARE`` of the device's free memory on a GPU.

    Time to answer (docs/methods.md): ``default`` takes the exact spectrum when D × t_HVP
    fits ``EXACT_TIME_BUDGET_S`` and the dense Hessian fits ``EXACT_MEMORY_BYTES``, else
    adaptive SLQ (``slq`` asks for it directly); adaptive SLQ grows until ρ*'s stated ±
    is at most ``tolerance``, or ``max_hvps`` products or ``time_budget`` seconds are spent.
    Giving ``iterations`` or ``runs`` fixes the plan instead. ``hessian_samples``: curvature
    on a class-balanced seeded subset of that many samples (``"auto"``/``None``: all up to
    ``prunelimit.data.subsample.AUTO_HESSIAN_SAMPLES``; ``"all"``); ε, the loss and the
    gradient always use the full analysis data.
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
    max_hvps: int = 1600
    time_budget: float | None = None
    hessian_samples: int | str | None = None

    def __post_init__(self) -> None:
        """Refuse invalid values (``OptionError``, a ``ValueError``, naming the field), one field a block."""
        from prunelimit import validate
        from prunelimit.curvature.hvp import ENGINES
        from prunelimit.curvature.lanczos import BASIS_DTYPES
        from prunelimit.theory.limit import BOUND_MODES
        from prunelimit.theory.statdim import Negative

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
        validate.choice("basis_dtype", self.basis_dtype, ("auto", *BASIS_DTYPES))
        if self.memory_budget_mb is not None:
            validate.positive("memory_budget_mb", self.memory_budget_mb)
        validate.positive("tolerance", self.tolerance)
        validate.integer("max_hvps", self.max_hvps, 1)
        if self.time_budget is not None:
            validate.positive("time_budget", self.time_budget)
        if self.hessian_samples not in (None, "auto", "all"):
            validate.integer("hessian_samples", self.hessian_samples, 1)




# The HVP graphs' memory budget when none is given: on a CPU a fixed 1 GiB (graphs share
# host memory with everything else, and a fixed rule keeps the engine, hence the numbers,
# the same on every machine); on a GPU 3/4 of what is free when the operator is built.
CPU_MEMORY_BUDGET_MB = 1024.0
ACCELERATOR_BUDGET_SHARE = 0.75


@dataclass(frozen=True)
class MemoryUse:
    """Where a spectrum computation keeps its data, in MiB (SPEC §7 memory).

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


PAPER_ITERATIONS, PAPER_RUNS = 128, 1  # the reference configs (research/limit-paper.md §3.2)
# Cost-aware default: the exact spectrum when its D products are predicted to take at most
# this long and the dense float64 Hessian fits ``EXACT_MEMORY_BYTES`` (the limit
# ``curvature.exact.exact_hessian`` enforces).
EXACT_TIME_BUDGET_S = 60.0
ADAPTIVE_INITIAL_STEPS = 32  # adaptive SLQ's first stage: this many steps ...
LOCKSTEP_PROBES_DEFAULT = 4  # ... of one lockstep group of probes
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
    predicted_exact_seconds: float | None = None  # D × t_HVP, where it was measured (a timing: not in ``reason``)

    def to_json(self) -> dict:
        return {"solver": self.solver, "adaptive": self.adaptive, "reason": self.reason}


@dataclass(frozen=True)
class CurvatureData:
    """Samples the Hessian was taken over (``used`` of ``total``) and, when subsampled,
    ρ* from the same probe on each half (``split_ratios``) behind the data uncertainty."""

    used: int
    total: int
    split_ratios: tuple[float, float] | None = None

    def to_json(self) -> dict:
        return {"used": self.used, "total": self.total,
                "split_ratios": None if self.split_ratios is None else list(self.split_ratios)}


@dataclass(frozen=True)
class SpectrumReport:
    """SLQ (or exact) spectrum: quadrature per probe, extremes, trace, cost, and the
    ρ* it was refined for (``limit_ratio``, ``None`` where ρ* is undefined) with its uncertainty."""

    method: str
    solver: str
    quadrature: "SpectralQuadrature"
    lambda_max: float
    lambda_min: float
    trace: float
    trace_stderr: float | None
    negative_mass: float | None
    iterations: int
    runs: int
    params_hessian: int
    loss: float
    batch_losses: np.ndarray
    gradient_norm: float
    hvps: int
    seconds: float
    half: "SpectralQuadrature | None" = None
    gradient: dict = field(default_factory=dict, repr=False)  # mean gradient per Hessian parameter name
    memory: MemoryUse | None = None
    choice: SolverChoice | None = None
    stopped_by: str | None = None
    trail: tuple = ()
    curvature_data: CurvatureData | None = None
    hvp_passes: float = 0.0
    limit_ratio: float | None = None
    uncertainty: "Uncertainty | None" = None
    cached: bool = False  # read from the result cache: ``hvps`` and ``seconds`` are this run's (0 HVPs)
    notes: tuple[str, ...] = ()  # how the computation departed from its plan (e.g. unbatched products)

    def to_json(self) -> dict:
        q = self.quadrature
        return {
            "method": self.method,
            "params": {"hessian": self.params_hessian},
            "loss": self.loss,
            "spectrum": self._summary(),
            "probes": [
                {"nodes": q.nodes[r][q.weights[r] > 0], "weights": q.weights[r][q.weights[r] > 0]}
                for r in range(q.runs)
            ],
            "prediction": None if self.limit_ratio is None or self.uncertainty is None else {
                "ratio": self.limit_ratio, "stderr": self.uncertainty.stderr,
                "uncertainty": self.uncertainty.to_json()},
            "timing": self._timing(),
            "memory": None if self.memory is None else self.memory.to_json(),
            "warnings": list(self.notes),
        }

    def _timing(self) -> dict:
        return {"seconds": self.seconds, "hvps": self.hvps, "hvp_passes": 0.0 if self.cached else self.hvp_passes,
                "cached": self.cached,
                "predicted_exact_seconds": None if self.choice is None else self.choice.predicted_exact_seconds}

    def _summary(self) -> dict:
        return {
            "lambda_max": self.lambda_max,
            "lambda_min": self.lambda_min,
            "trace": self.trace,
            "trace_stderr": self.trace_stderr,
            "negative_mass": self.negative_mass,
            "runs": self.runs,
            "iterations": self.iterations,
            "solver": self.solver,
            "signed_nodes": bool(self.quadrature.signed),
            "choice": None if self.choice is None else self.choice.to_json(),
            "stopped_by": self.stopped_by,
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


def _hessian_operator(inputs: Inputs, options: CurvatureOptions, dtype=None, probes: int = 1, batches=None):
    from prunelimit.curvature.hvp import HessianOperator

    params = [p for _, p in hessian_parameters(inputs.model, inputs.selection)]
    return HessianOperator(inputs.model, params, inputs.batches if batches is None else batches, inputs.loss_fn,
                           engine=options.hvp, dtype=dtype, probes=probes,
                           memory_budget_mb=memory_budget_mb(options, inputs.device))


def memory_budget_mb(options: CurvatureOptions, device) -> float:
    """The HVP graphs' budget on ``device`` (see ``CurvatureOptions.memory_budget_mb``)."""
    from prunelimit.device import free_memory_mb

    if options.memory_budget_mb is not None:
        return options.memory_budget_mb
    free = free_memory_mb(device)
    return CPU_MEMORY_BUDGET_MB if free is None else ACCELERATOR_BUDGET_SHARE * free


def _lockstep_probes(runs: int, basis_bytes: int) -> int:
    """SLQ runs to advance together when the HVP engine recomputes its graphs: up to
    ``LOCKSTEP_PROBES``, with their Lanczos bases (``basis_bytes`` each) within
    ``LOCKSTEP_BASIS_BYTES`` of host memory. A fixed rule, so the numbers do not depend on
    the machine's free memory."""
    from prunelimit.curvature.slq import LOCKSTEP_BASIS_BYTES, LOCKSTEP_PROBES

    return max(1, min(runs, LOCKSTEP_PROBES, LOCKSTEP_BASIS_BYTES // max(basis_bytes, 1)))


def _extreme_nodes(quad) -> tuple[float, float]:
    """``(λmax, λmin)`` from SLQ runs on H: the outermost Ritz values over all runs (each
    run's extreme Ritz values bound the spectrum from inside)."""
    real = quad.weights > 0
    return float(quad.nodes[real].max()), float(quad.nodes[real].min())


def choose_solver(options: CurvatureOptions, dim: int, seconds_per_column: float | None = None) -> SolverChoice:
    """The one place that decides exact vs SLQ and the SLQ plan (see ``CurvatureOptions``).

    ``seconds_per_column``: the measured cost of one Hessian column (one float64 HVP);
    ``default`` is exact only when it is known and D of them fit the time budget. ``paper`` is the reference code's fixed 1 × 128 SLQ.
    """
    from prunelimit.curvature.slq import DEFAULT_ITERATIONS, DEFAULT_RUNS

    if options.method == "exact":
        return SolverChoice("exact", False, dim, 1, "asked for (--method exact)")
    if options.method == "paper":
        return SolverChoice("slq-h", False, options.iterations or PAPER_ITERATIONS, options.runs or PAPER_RUNS,
                            "the reference pipeline's fixed plan (--method paper)")
    if options.iterations is not None or options.runs is not None:
        return SolverChoice("slq-h", False, options.iterations or DEFAULT_ITERATIONS, options.runs or DEFAULT_RUNS,
                            "fixed plan (--iterations/--runs given)")
    adaptive = SolverChoice("slq-h", True, ADAPTIVE_INITIAL_STEPS, LOCKSTEP_PROBES_DEFAULT,
                            f"adaptive SLQ to ±{options.tolerance:g} in ρ*")
    if options.method == "slq":
        return SolverChoice("slq-h", True, adaptive.iterations, adaptive.runs, adaptive.reason + " (--method slq)")
    dense = 8.0 * dim * dim
    if dense > EXACT_MEMORY_BYTES:
        return SolverChoice("slq-h", True, adaptive.iterations, adaptive.runs,
                            f"{adaptive.reason}: a dense Hessian would need {dense / 2**30:.1f} GiB")
    if seconds_per_column is None:
        return adaptive
    predicted = dim * seconds_per_column
    if predicted <= EXACT_TIME_BUDGET_S:
        return SolverChoice("exact", False, dim, 1, f"exact spectrum: D × t_HVP ≤ {EXACT_TIME_BUDGET_S:g} s",
                            predicted)
    return SolverChoice("slq-h", True, adaptive.iterations, adaptive.runs,
                        f"{adaptive.reason}: exact would take D × t_HVP > {EXACT_TIME_BUDGET_S:g} s", predicted)


def curvature_steps(inputs: Inputs, options: CurvatureOptions) -> int:
    """Units of work the progress bar starts with (it is re-planned as the work goes):
    Hessian columns, or Lanczos products of all probes."""
    dim = sum(p.numel() for _, p in hessian_parameters(inputs.model, inputs.selection))
    choice = choose_solver(options, dim)
    return dim if choice.solver == "exact" else choice.runs * min(choice.iterations, dim)


def limit_target(inputs: Inputs, options: CurvatureOptions, batch_losses: np.ndarray) -> LimitTarget:
    """ε (given, or the population std of ``batch_losses``) and the magnitude profile."""
    from prunelimit.theory.epsilon import epsilon_from_losses

    if options.epsilon is None:
        epsilon, source = epsilon_from_losses(batch_losses), "std of per-batch losses"
    else:
        epsilon, source = float(options.epsilon), "given"
    if not epsilon > 0:
        raise NumericalError(
            f"ε = {epsilon:g}: the per-batch losses do not vary (one batch, or identical batches); "
            "pass --epsilon FLOAT or a smaller --batch-size"
        )
    named = prunable_parameters(inputs.model, inputs.selection)
    if not named:
        raise UsageError("no prunable weights selected; check --include/--exclude")
    weights = tuple(p.detach() for _, p in named)
    return LimitTarget(epsilon, source, MagnitudeProfile.from_tensors(list(weights)), weights,
                       tuple(n for n, _ in named))


def _optional_target(inputs: Inputs, options: CurvatureOptions, batch_losses: np.ndarray) -> LimitTarget | None:
    """``limit_target``, or ``None`` where ρ* is undefined (no ε from a single batch, no
    prunable weights): the spectrum alone is still well defined, ``bounds`` then says why."""
    try:
        return limit_target(inputs, options, batch_losses)
    except (NumericalError, UsageError):
        return None


def _limit_ratio(target: LimitTarget, quad, options: CurvatureOptions) -> float:
    from prunelimit.theory.limit import predict_from_quadrature

    return predict_from_quadrature(target.profile, quad, target.epsilon, eta=options.eta, bound_mode="none",
                                   negative=options.negative).ratio


def _seconds_per_column(op) -> float:
    """Seconds per Hessian column, from one timed product (after an untimed one that warms
    the engine up). A single product, not a batch: batched products are faster per column
    on some models and slower on others (convolutions under vmap), and a conservative
    figure only errs towards SLQ.

    On a CPU it is this process's CPU time over its threads, not wall time: other load on a
    shared machine (a CI runner) then does not flip the choice, so the same model gets the
    same solver, hence the same numbers, on a busy and on a quiet machine. An accelerator
    is timed by the wall clock after synchronising.
    """
    import torch

    from prunelimit.device import synchronize

    unit = torch.zeros(op.dim, dtype=torch.float64)
    unit[0] = 1.0
    op.matvec(unit)
    cpu = op.device.type == "cpu"
    synchronize(op.device)
    start = time.process_time() if cpu else time.perf_counter()
    op.matvec(unit)
    synchronize(op.device)
    if cpu:
        return (time.process_time() - start) / torch.get_num_threads()
    return time.perf_counter() - start


def _cost_aware_choice(inputs: Inputs, options: CurvatureOptions, dim: int, choice: SolverChoice):
    """``choice`` refined by timed products (``--method default`` only): ``(choice, the
    float64 operator when exact was chosen, products spent timing)``.

    Products in the model's own dtype come first: float64 is never cheaper, so when even
    they put D columns over the time budget no float64 copy of the model is built (a
    float64 convolution on a CPU costs ~10× a float32 one).
    """
    import torch

    if not (options.method == "default" and choice.adaptive and 8.0 * dim * dim <= EXACT_MEMORY_BYTES):
        return choice, None, 0
    native = _hessian_operator(inputs, options)
    seconds = _seconds_per_column(native)
    if dim * seconds > EXACT_TIME_BUDGET_S:
        return choose_solver(options, dim, seconds), None, native.hvps
    wide = _hessian_operator(inputs, options, dtype=torch.float64)
    choice = choose_solver(options, dim, _seconds_per_column(wide))
    return choice, wide if choice.solver == "exact" else None, native.hvps + wide.hvps


def spectrum(inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), progress=None) -> SpectrumReport:
    """Hessian spectrum of the mean analysis loss as quadrature nodes and weights, computed
    the cheapest way that meets ``options.tolerance`` in ρ* (see ``CurvatureOptions``).

    ``progress(done, total=None, text=None)`` reports products (or columns) done, the
    current plan's total and, for adaptive SLQ, the current ρ* ± its uncertainty.
    """
    import torch

    from prunelimit.curvature.exact import exact_hessian, exact_quadrature
    from prunelimit.data.batches import total_samples
    from prunelimit.data.subsample import curvature_subsample, resolve_hessian_samples
    from prunelimit.device import peak_memory_mb, reset_peak_memory
    from prunelimit.theory.uncertainty import EXACT, split_half_sd

    _require_data(inputs)
    start = time.perf_counter()
    named = hessian_parameters(inputs.model, inputs.selection)
    sizes = [p.numel() for _, p in named]
    dim = sum(sizes)
    reset_peak_memory(inputs.device)
    total = total_samples(inputs.batches)
    choice, timing_op, hvps = _cost_aware_choice(inputs, options, dim, choose_solver(options, dim))
    passes = float(hvps)
    stopped_by, trail, data, data_sd = None, (), CurvatureData(total, total), None
    if choice.solver == "exact":
        # float64: at large R²/2ε, F depends on eigenvalues below float32 HVP rounding
        op = timing_op if timing_op is not None else _hessian_operator(inputs, options, dtype=torch.float64)
        stats = op
        before = op.hvps
        cb = (lambda done: progress(done, dim)) if progress else None
        quad = exact_quadrature(exact_hessian(op, progress=cb), hvps=op.hvps - before)
        hvps += quad.hvps
        passes += quad.hvps
        eig = quad.nodes[0]
        lam_max, lam_min, trace, trace_err = float(eig.max()), float(eig.min()), float(eig.sum()), 0.0
        basis_kind, basis_bytes = "dense Hessian, float64", dim * dim * 8
        target = _optional_target(inputs, options, stats.batch_losses())
    else:
        subsample = curvature_subsample(inputs.batches, resolve_hessian_samples(options.hessian_samples, total),
                                        options.seed)
        data = CurvatureData(subsample.used, total)
        share = subsample.used / total
        planned = ADAPTIVE_PLANNED_STEPS if choice.adaptive else choice.iterations
        elements = min(planned, dim) * dim
        storage = _basis_storage(options.basis_dtype, named[0][1].dtype, elements)
        op = _hessian_operator(inputs, options, probes=_lockstep_probes(choice.runs, elements * storage.itemsize),
                               batches=subsample.batches)
        # ε, the loss and the gradient always come from the full analysis data.
        stats = op if not subsample.subsampled else _hessian_operator(
            inputs, replace(options, hvp="revrev"), batches=inputs.batches)
        target = _optional_target(inputs, options, stats.batch_losses())
        if target is None and choice.adaptive:
            from prunelimit.curvature.slq import DEFAULT_ITERATIONS, DEFAULT_RUNS

            choice = SolverChoice("slq-h", False, DEFAULT_ITERATIONS, DEFAULT_RUNS, "fixed plan: no ρ* to aim at")
        quad, stopped_by, trail = _slq_spectrum(op, choice, options, target, storage, progress)
        hvps += quad.hvps
        passes += quad.hvps * share
        if subsample.subsampled:
            ratios, spent = _split_half_ratios(inputs, options, subsample, target, quad, storage)
            data = CurvatureData(subsample.used, total, ratios)
            data_sd = split_half_sd(*ratios, subsample.used, total)
            hvps += spent
            passes += spent * share / 2
        lam_max, lam_min = _extreme_nodes(quad)
        trace, trace_err = _slq_trace(op, quad, options)
        passes += (op.hvps - quad.hvps) * share
        hvps += op.hvps - quad.hvps
        held = "Lanczos basis" if op.lockstep == 1 else f"{op.lockstep} Lanczos bases (runs in lockstep)"
        basis_kind = f"{held}, {str(storage).removeprefix('torch.')}"
        basis_bytes = min(op.lockstep, quad.runs) * max(len(r) for r in quad.nodes) * dim * storage.itemsize
    _check_finite(quad.nodes, "Hessian spectrum")
    ratio = None if target is None else _limit_ratio(target, quad, options)
    if choice.solver == "exact":
        uncertainty = EXACT
    else:
        uncertainty = None if target is None else _slq_uncertainty(target, quad, options, ratio, data_sd)
    gradient = stats.gradient()
    negative = _negative_mass(quad)
    peak_host, peak_device = peak_memory_mb(inputs.device)
    memory = MemoryUse(basis_kind, basis_bytes / 2**20, op.engine, op.graph_bytes() / 2**20, peak_host, peak_device)
    return SpectrumReport(
        method=options.method, solver=choice.solver, quadrature=quad, lambda_max=lam_max, lambda_min=lam_min,
        trace=trace, trace_stderr=trace_err, negative_mass=negative,
        iterations=dim if choice.solver == "exact" else int(max(len(r) for r in quad.nodes)),
        runs=quad.runs, params_hessian=dim,
        loss=stats.loss(), batch_losses=stats.batch_losses(), gradient_norm=float(gradient.norm()),
        gradient=dict(zip([n for n, _ in named], gradient.detach().cpu().double().split(sizes))),
        hvps=hvps, seconds=time.perf_counter() - start, half=quad.half, memory=memory, choice=choice,
        stopped_by=stopped_by, trail=tuple(trail), curvature_data=data, hvp_passes=passes, limit_ratio=ratio,
        uncertainty=uncertainty, notes=() if op.fallback is None else (op.fallback,),
    )


def _slq_spectrum(op, choice: SolverChoice, options: CurvatureOptions, target: LimitTarget | None, storage,
                  progress):
    """SLQ on H by ``choice``: adaptive until ρ*'s ± meets the tolerance (``target`` is then
    set), or a fixed plan. Returns the quadrature, what stopped it and the adaptive trail."""
    from prunelimit.curvature.adaptive import AdaptivePlan, Assessment, adaptive_slq
    from prunelimit.curvature.slq import slq
    from prunelimit.theory.uncertainty import coverage_factor

    if not choice.adaptive:
        callback = (lambda done, total: progress(done, total)) if progress else None
        quad = slq(op, choice.iterations, choice.runs, options.seed, "h", callback=callback,
                   storage_dtype=storage, lockstep=op.lockstep)
        return quad, None, ()

    def assess(quad) -> Assessment:
        ratio = _limit_ratio(target, quad, options)
        u = _slq_uncertainty(target, quad, options, ratio, None)
        return Assessment(ratio, u.plus_minus, u.steps or 0.0, coverage_factor(u.runs) * u.stderr)

    plan = AdaptivePlan(options.tolerance, options.max_hvps, options.time_budget, choice.iterations, choice.runs,
                        op.lockstep)
    result = adaptive_slq(op, plan, assess, options.seed, storage, progress,
                          describe=lambda a: f"ρ* {100 * a.estimate:.1f} % ± {100 * a.plus_minus:.1f} pt")
    return result.quadrature, result.stopped_by, result.trail


def _slq_uncertainty(target: LimitTarget, quad, options: CurvatureOptions, ratio: float, data_sd: float | None):
    """The uncertainty of ``ratio``, the ρ* of ``quad`` (see ``prunelimit.theory.uncertainty``)."""
    from prunelimit.theory.limit import predict_from_quadrature
    from prunelimit.theory.uncertainty import ratio_uncertainty

    half = None
    if quad.half is not None and quad.lower is None:
        half = predict_from_quadrature(target.profile, quad.half, target.epsilon, bound_mode="none",
                                       negative=options.negative).ratio
    return ratio_uncertainty(target.profile, quad, target.epsilon, ratio, options.negative, half, data_sd)


def _split_half_ratios(inputs: Inputs, options: CurvatureOptions, subsample, target: LimitTarget,
                       quad, storage) -> tuple[tuple[float, float], int]:
    """ρ* of the first probe on each half of the subsample, at the steps the main run took
    (common probe: the difference is the data's, not the probe's). Returns the two ratios
    and the products spent."""
    from prunelimit.curvature.operator import Columnwise
    from prunelimit.curvature.slq import slq

    steps = int(max(len(r) for r in quad.nodes))
    ratios, spent = [], 0
    for half in (subsample.half_a, subsample.half_b):
        op = _hessian_operator(inputs, replace(options, hvp="revrev"), batches=half)
        # One probe: single products (matvec), as a lone Lanczos run takes them.
        half_quad = slq(Columnwise(op), steps, 1, options.seed, "h", storage_dtype=storage)
        ratios.append(_limit_ratio(target, half_quad, options))
        spent += op.hvps
    return (ratios[0], ratios[1]), spent


def _slq_trace(op, quad, options: CurvatureOptions) -> tuple[float, float]:
    """Trace and its standard error: each run's ``D·Σ τθ = zᵀHz`` is a Hutchinson sample
    at no cost; fewer runs than ``TRACE_PROBES`` are topped up with probes."""
    from prunelimit.curvature.trace import hutchinson_samples, trace_estimate

    runs = quad.runs
    extra = hutchinson_samples(op, TRACE_PROBES - runs, options.seed + 2) if runs < TRACE_PROBES else []
    est = trace_estimate(np.concatenate([op.dim * quad.expectation(lambda x: x), extra]))
    return est.value, est.stderr


def stored_spectrum(inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), progress=None,
                    store: "Store | None" = None) -> SpectrumReport:
    """:func:`spectrum`, read from ``store`` when it holds one for these inputs and options
    (``prunelimit.cache.input_key``), else computed and stored; ``store`` ``None`` computes."""
    import dataclasses

    from prunelimit.cache import from_entry, input_key, to_entry

    if store is None:
        return spectrum(inputs, options, progress)
    _require_data(inputs)
    start = time.perf_counter()
    key = input_key(inputs, "spectrum", options)
    entry = store.load(key, "spectrum")
    if entry is not None:
        try:
            found = from_entry(entry, SpectrumReport)
            return dataclasses.replace(found, hvps=0, seconds=time.perf_counter() - start, cached=True)
        except ValueError as exc:
            store.warn(f"ignoring cache entry {store.entry_path(key)} ({exc}); recomputing and replacing it")
    rep = spectrum(inputs, options, progress)
    try:
        store.save(key, "spectrum", to_entry(rep))
    except TypeError as exc:  # a result field the store cannot hold: run uncached
        store.warn(f"spectrum not cached ({exc})")
    return rep


def _basis_storage(name: str, hvp_dtype, elements: int):
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


def _negative_mass(quad) -> float | None:
    """Share of the spectrum's |λ| mass (Σ τ|θ|) on negative eigenvalues; ``None`` for unsigned nodes."""
    if not quad.signed:
        return None
    magnitude = quad.weights * np.abs(quad.nodes)
    total = float(magnitude.sum())
    return float(magnitude[quad.nodes < 0].sum()) / total if total > 0 else 0.0


def _require_data(inputs: Inputs) -> None:
    if not inputs.batches:
        raise UsageError(
            f"no analysis data for {inputs.loaded.path}: pass --data SPEC (e.g. --data digits:train)"
        )


def _check_finite(values, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise NumericalError(f"{what} contains NaN or Inf; check the checkpoint's weights and the data")


@dataclass(frozen=True)
class BoundsReport:
    """ε, the predicted limit ρ*, its bounds [ρ_L, ρ_U], R(ρ*), and how far to trust them."""

    spectrum: SpectrumReport
    params_prunable: int
    epsilon: float
    epsilon_source: str
    prediction: "LimitPrediction"
    ratio: float
    radius: float
    paper: "PaperPrediction | None"
    half_ratio: float | None
    warnings: tuple[str, ...]
    profile: PruningPath
    first_order: float | None = None
    prunable_names: tuple[str, ...] = ()
    scope: str = "global"
    uncertainty: "Uncertainty | None" = None  # ρ*'s, by source (prunelimit.theory.uncertainty)
    provenance: "Provenance | None" = None  # method, D, N, data fingerprint, options (prunelimit.baseline)
    regime: "Regime | None" = None  # whether the weights look l1-trained (prunelimit.theory.regime)

    @property
    def lower(self) -> float | None:
        """ρ_L by the method's own pipeline (the reference arithmetic with ``--method paper``)."""
        return self.prediction.lower if self.paper is None else self.paper.lower

    @property
    def upper(self) -> float | None:
        """ρ_U by the method's own pipeline, like :attr:`lower`."""
        return self.prediction.upper if self.paper is None else self.paper.upper

    def to_json(self) -> dict:
        s, p = self.spectrum, self.prediction
        return {
            "method": s.method,
            "params": {"hessian": s.params_hessian, "prunable": self.params_prunable},
            "data": {"fingerprint": None if self.provenance is None else self.provenance.fingerprint},
            "options": None if self.provenance is None else self.provenance.options,
            "loss": s.loss,
            "epsilon": self.epsilon,
            "epsilon_source": self.epsilon_source,
            "spectrum": s._summary(),
            "prediction": {
                "ratio": self.ratio,
                "density": 1.0 - self.ratio,
                "radius": self.radius,
                "continuous_ratio": p.ratio,
                "spread": p.spread,
                "per_run": p.per_run_ratios,
                "half_iterations_ratio": self.half_ratio,
                "stderr": self.uncertainty.stderr,
                "uncertainty": self.uncertainty.to_json(),
                "scope": self.scope,
                "reference_density": None if self.paper is None else _aliasing_json(self.paper.aliasing),
            },
            "bounds": {
                "lower": self.lower,
                "upper": self.upper,
                "lower_density": None if self.lower is None else 1.0 - self.lower,
                "upper_density": None if self.upper is None else 1.0 - self.upper,
                "eta": p.eta,
                "mode": p.bound_mode,
            },
            "gradient_norm": s.gradient_norm,
            "first_order_change": self.first_order,
            "regime": None if self.regime is None else self.regime.to_json(),
            "warnings": list(self.warnings),
            "timing": s._timing(),
            "memory": None if s.memory is None else s.memory.to_json(),
        }


def _aliasing_json(a) -> dict:
    # Shares and masses to 1e-9: below that they follow the nodes' last bits (float32
    # products summed in another order move a node by ~1e-7 of itself), not the aliasing.
    return {"kernel_std": a.kernel_std, "grid_step": a.grid_step, "aliased": a.aliased,
            "node_mass_min": round(a.mass_min, 9), "node_mass_max": round(a.mass_max, 9),
            "weight_moved": round(a.moved, 9)}


def bounds(inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), progress=None,
           scope: str = "global", store: "Store | None" = None) -> BoundsReport:
    """The predicted pruning limit ρ* and its bounds for a trained model (Zhang et al., NeurIPS 2024).

    ``scope`` is the pruning path R(ρ) follows: ``global`` (one ranking over all tensors)
    or ``layer`` (the same ratio in every tensor, as ``prune``/``verify --scope layer``).
    The spectrum comes from ``store`` when it holds one for these inputs (:func:`stored_spectrum`).
    """
    from prunelimit.theory.limit import predict_from_quadrature
    from prunelimit.theory.paper import paper_limit
    from prunelimit.baseline import provenance
    from prunelimit.theory.consistency import consistency_warnings
    from prunelimit.theory.regime import assess_regime

    if scope == "layer" and options.method == "paper":  # before the spectrum's work
        raise UsageError("the reference arithmetic (method paper) follows the global pruning path only; "
                         "use scope global or method default")
    spec = stored_spectrum(inputs, options, progress, store)
    target = limit_target(inputs, options, spec.batch_losses)
    epsilon, source, weights = target.epsilon, target.epsilon_source, list(target.weights)
    profile = path_profile(weights, scope)
    kw = dict(eta=options.eta, bound_mode=options.bound_mode, negative=options.negative)
    prediction = predict_from_quadrature(profile, spec.quadrature, epsilon, **kw)
    paper = None
    ratio, radius = prediction.ratio, prediction.radius
    half = spec.half
    half_ratio = predict_from_quadrature(profile, half, epsilon, **kw).ratio if half is not None else None
    if options.method == "paper":  # ρ*, the bounds and the m/2 check all by the reference arithmetic
        q = spec.quadrature
        paper = paper_limit(weights, q.nodes, q.weights, epsilon, dim=q.dim, **kw)
        ratio, radius = paper.ratio, paper.radius
        if half is not None:
            half_ratio = paper_limit(weights, half.nodes, half.weights, epsilon, negative=options.negative).ratio
    uncertainty = spec.uncertainty
    if scope != "global" and spec.solver != "exact":  # the same spectrum, the layer-wise path's ρ*
        uncertainty = _slq_uncertainty(replace(target, profile=profile), spec.quadrature, options,
                                       prediction.ratio, spec.uncertainty.data)
    first_order = first_order_change(profile, target.names, weights, spec.gradient, ratio)
    regime = assess_regime(weights)
    warns = _bounds_warnings(spec, prediction, ratio, radius, half_ratio, epsilon, options, first_order, uncertainty,
                             regime.l1_shaped)
    if paper is not None and paper.aliasing.aliased and paper.aliasing.moved > ALIASING_TOLERANCE:
        warns.append(_aliasing_warning(paper.aliasing))
    lower, upper = (prediction.lower, prediction.upper) if paper is None else (paper.lower, paper.upper)
    warns += consistency_warnings(ratio, lower, upper, prediction.ratio, uncertainty.plus_minus)
    warns += [regime.advice] if regime.advice else []
    return BoundsReport(spec, profile.n, epsilon, source, prediction, ratio, radius, paper, half_ratio,
                        tuple(warns), profile, first_order, target.names, scope, uncertainty,
                        provenance(inputs, options, scope), regime)


def first_order_change(profile: PruningPath, names, weights, gradient: dict, ratio: float) -> float | None:
    """``∇L · (MP_ρ(w) − w)``: the loss change to first order at ρ, which the quadratic model drops.

    ``None`` when a prunable weight is outside the Hessian set (no gradient for it).
    """
    if any(n not in gradient for n in names):
        return None
    total = 0.0
    for name, w, keep in zip(names, weights, profile.keep_masks(ratio)):
        removed = w.detach().cpu().double().reshape(-1) * (~keep.reshape(-1))
        total -= float(gradient[name] @ removed)
    return total


def _bounds_warnings(
    spec: SpectrumReport, pred, ratio: float, radius: float, half_ratio, epsilon: float, options: CurvatureOptions,
    first_order: float | None, u: "Uncertainty", l1_shaped: bool = True,
) -> list[str]:
    warns = list(spec.notes)
    if spec.solver != "exact" and u.plus_minus > options.tolerance:
        cause = {"max-hvps": f"the product budget (--max-hvps {options.max_hvps}) ran out",
                 "time-budget": f"the time budget (--time-budget {options.time_budget:g} s) ran out"
                 if options.time_budget else "the time budget ran out",
                 None: "the plan was fixed (--iterations/--runs)"}.get(spec.stopped_by, "no remedy was left")
        largest = max(("steps", u.steps or 0.0), ("probes", u.probes or 0.0), ("data", u.data or 0.0),
                      key=lambda item: item[1])[0]
        remedy = {"steps": "more Lanczos steps (a larger --max-hvps or --time-budget)",
                  "probes": "more probes (a larger --max-hvps)",
                  "data": "more curvature samples (--hessian-samples)"}[largest]
        warns.append(
            f"ρ* = {ratio:.4f} ± {u.plus_minus:.4f} is not within the tolerance {options.tolerance:g}: {cause}; "
            f"the largest part is {largest}, which needs {remedy}"
        )
    if half_ratio is not None and u.steps_kind != "bracket" and spec.solver != "exact" \
            and abs(ratio - half_ratio) > SPREAD_TOLERANCE:
        warns.append(
            f"ρ* moved by {abs(ratio - half_ratio):.3f} between {spec.iterations // 2} and "
            f"{spec.iterations} Lanczos steps; use --iterations {2 * spec.iterations}"
        )
    stiffness = radius**2 * max(abs(spec.lambda_max), abs(spec.lambda_min)) / (2 * epsilon)
    if spec.solver != "exact" and u.steps_kind != "bracket" and stiffness > SLQ_VALIDATED_STIFFNESS:
        warns.append(
            f"ρ* sits where R²·|λ|max/2ε = {stiffness:.2g}, beyond the 1e5 up to which SLQ was validated against "
            "exact spectra (docs/accuracy.md); F may be underestimated there: compare with --iterations "
            f"{2 * spec.iterations}"
        )
    if first_order is not None and abs(first_order) > epsilon:
        warns.append(
            f"the model is not at a minimum of the analysis loss (‖∇L‖ = {spec.gradient_norm:.3g}): pruning to ρ* "
            f"changes the loss by {first_order:+.3g} to first order, more than ε = {epsilon:.3g}, and the quadratic "
            "model behind ρ* ignores that term "
            + ("(train longer; l1 training leaves such a gradient by design)" if l1_shaped else "(train longer)")
        )
    if spec.negative_mass is not None and spec.negative_mass > 0.05:
        warns.append(
            f"{100 * spec.negative_mass:.1f} % of the spectrum's |λ| mass is negative curvature "
            f"(handled as --negative {options.negative})"
        )
    return warns


ALIASING_TOLERANCE = 0.01  # share of the quadrature weight moved between nodes that gets a warning


def _aliasing_warning(a) -> str:
    return (
        f"the reference density's kernel (std {a.kernel_std:.2g}) is narrower than its grid step ({a.grid_step:.2g}): "
        f"node weights alias onto grid points ({100 * a.moved:.1f} % of the weight moves between nodes), which "
        "moves the paper's ρ*; the continuous ρ* row is free of this (docs/methods.md)"
    )


# --------------------------------------------------------------------------- laws

DEFAULT_PRESSURES = tuple(2.0**k for k in np.arange(-4.0, 6.0, 0.5))  # Γ ladder for --mode pressure


def parse_region(text: str) -> tuple[float, float] | str:
    """``auto`` or ``LOW,HIGH`` density fractions for the pruning-law fit."""
    if text == "auto":
        return "auto"
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--region {text!r}: use auto or LOW,HIGH densities, e.g. 0.005,0.5") from None
    if not 0 < low < high <= 1:
        raise UsageError(f"--region {text!r}: need 0 < LOW < HIGH <= 1 (fractions, not percent)")
    return (low, high)


def nplh(
    inputs: Inputs, metric: str = "magnitude", mode: str = "static", region: tuple[float, float] | str = (0.005, 0.5),
    rate: float = 0.1, finetune_steps: int = 20, pressures: tuple[float, ...] = DEFAULT_PRESSURES,
    epochs_per_level: int = 3, seed: int = 0,
):
    """Record (density, γ) points for a saliency and fit the Neural Pruning Law (laws.md Part A)."""
    from prunelimit.laws.nplh import fit_nplh, iterative_points, pressure_points, static_points
    from prunelimit.laws.saliency import compute_saliency

    _require_data(inputs)
    if mode == "static":
        scores = compute_saliency(inputs.model, inputs.batches, inputs.loss_fn, metric, selection=inputs.selection,
                                  seed=seed).scores
        points = static_points(scores)
    elif mode == "iterative":
        points = iterative_points(inputs.model, inputs.batches, inputs.loss_fn, metric, rate=rate,
                                  finetune_steps=finetune_steps, seed=seed, selection=inputs.selection).points
    elif mode == "pressure":
        points = pressure_points(inputs.model, inputs.batches, inputs.loss_fn, pressures, epochs_per_level, seed)
    else:
        raise UsageError(f"--mode {mode!r}: use static, iterative or pressure")
    return fit_nplh(points, region=region, seed=seed)


def imp(
    source: str, output, data: str | None, eval_data: str | None, rate: float = 0.2, levels: int = 10,
    rewind: str = "init", rewind_steps: int = 10, epochs: int = 5, epochs_dense: int | None = None,
    lr: float = 0.05, model: str | None = None, loss: str = "ce", batch_size: int = 128,
    max_samples: int | None = None, trust_pickle: bool = False, download: bool = False, device: str = "auto",
    seed: int = 0,
):
    """IMP from a checkpoint (``source`` is a file) or from a fresh model (``source`` is a spec)."""
    from pathlib import Path

    from prunelimit.io.outputs import preflight
    from prunelimit.laws.imp import iterative_magnitude_pruning, output_folder

    preflight([output_folder(output)], [source, model, data, eval_data, loss])
    from_file = Path(source).is_file()
    start = starting_point(source if from_file else None, source if not from_file else model, data, eval_data,
                           loss, batch_size, max_samples, trust_pickle, download, device, seed)
    net, train, evaluation, loss_fn = start.model, start.train, start.evaluation, start.loss_fn
    if epochs_dense is None:  # a checkpoint is taken as trained; a fresh model trains like every level
        epochs_dense = 0 if from_file else epochs
    return iterative_magnitude_pruning(net, train, evaluation, loss_fn, rate=rate, levels=levels, rewind=rewind,
                                       rewind_steps=rewind_steps, epochs_per_level=epochs, epochs_dense=epochs_dense,
                                       lr=lr, seed=seed, out_dir=output)


@dataclass(frozen=True)
class StartingPoint:
    """A model to train or prune further, with its training and evaluation batches."""

    model: "nn.Module"
    spec: str | None
    train: list
    evaluation: list
    loss_fn: object
    data: str | None
    eval_data: str | None


def starting_point(
    checkpoint, model: str | None, data: str | None, eval_data: str | None, loss: str = "ce",
    batch_size: int = 128, max_samples: int | None = None, trust_pickle: bool = False, download: bool = False,
    device: str = "auto", seed: int = 0,
) -> StartingPoint:
    """Weights from ``checkpoint`` (data defaults from its file), else a fresh ``model`` seeded by ``seed``.

    Evaluation data defaults to the training data; both are checked against the model.
    """
    import torch

    from prunelimit.data.loss import resolve_loss
    from prunelimit.device import resolve_device
    from prunelimit.inputs import load_batches, load_inputs
    from prunelimit.models.spec import build_model

    if checkpoint is not None:
        inputs = load_inputs(checkpoint, model, data, loss, batch_size, max_samples, device, trust_pickle, download,
                             data_from_checkpoint=True)
        net, train, loss_fn, dev, spec = inputs.model, inputs.batches, inputs.loss_fn, inputs.device, inputs.loaded.spec
        recorded_eval = eval_data is None
        data, eval_data = inputs.data_spec, eval_data or inputs.loaded.recorded_spec("eval_data")
    else:
        recorded_eval = False
        if model is None:
            raise UsageError("give a checkpoint, or --model SPEC to start from a fresh model")
        if data is None:
            raise UsageError(f"{model!r} is a fresh model: pass --data SPEC to train it")
        dev = resolve_device(device)
        torch.manual_seed(seed)
        net, spec = build_model(model).to(dev), model
        train, loss_fn = load_batches(data, batch_size, max_samples, dev, download), resolve_loss(loss)
    if not train:
        raise UsageError(f"no training data for {checkpoint or model}: pass --data SPEC")
    evaluation = load_batches(eval_data, batch_size, None, dev, download, recorded_eval) if eval_data else train
    _check_fits(net, spec, checkpoint, loss_fn, (data or "the training data", train), (eval_data, evaluation))
    return StartingPoint(net, spec, train, evaluation, loss_fn, data, eval_data)


# --------------------------------------------------------------------------- LOMP, prune, verify


def train(
    model_spec: str, data: str, output, config: "LompConfig", eval_data: str | None = None,
    batch_size: int = 128, max_samples: int | None = None, loss: str = "ce", device: str = "auto",
    resume: bool = False, force: bool = False, download: bool = False, progress=None,
):
    """LOMP training (SGD on loss + λ‖w‖₁) of a fresh ``model_spec``, checkpointed every epoch.

    With ``resume`` an existing ``output`` written by this command continues from its last
    completed epoch (the same settings are required).
    """
    from pathlib import Path

    import torch

    from prunelimit.data.loss import resolve_loss
    from prunelimit.device import resolve_device
    from prunelimit.inputs import load_batches
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.io.outputs import Output, preflight
    from prunelimit.models.load import load_model
    from prunelimit.pruning.lomp import train as lomp_train

    output = Path(output)
    preflight([Output("-o", output, "checkpoint", overwrite=resume)],
              [model_spec, data, eval_data, loss], force)
    dev = resolve_device(device)
    resume_state = None
    if resume and output.is_file():
        loaded = load_model(output, model_spec, device=dev)  # the typed --model: a factory spec may run
        state = loaded.meta.get("train_state")
        if state is None:
            raise UsageError(f"{output} holds no training state to resume; drop --resume or use another -o")
        model_spec, net = loaded.spec, loaded.model
        resume_state = {**state, "model": net.state_dict()}
    else:
        torch.manual_seed(config.seed)
        from prunelimit.models.spec import build_model

        net = build_model(model_spec).to(dev)
    train_batches = load_batches(data, batch_size, max_samples, dev, download)
    eval_batches = load_batches(eval_data, batch_size, None, dev, download) if eval_data else None
    loss_fn = resolve_loss(loss)
    _check_fits(net, model_spec, output, loss_fn, (data, train_batches), (eval_data, eval_batches))
    meta = {"data": data, "eval_data": eval_data, "loss": loss, "trained_by": "prunelimit train (LOMP)"}

    def save(state: dict) -> None:
        kept = {k: v for k, v in state.items() if k != "model"}
        save_checkpoint(output, model_spec, net.state_dict(), meta={**meta, "train_state": kept}, force=True)

    return lomp_train(net, train_batches, loss_fn, config, eval_batches=eval_batches, progress=progress,
                      checkpoint=save, resume_state=resume_state)


def _check_fits(net, spec: str | None, path, loss_fn, *named_batches) -> None:
    """Labels in range, shapes that fit, a finite loss: an input error before any training starts."""
    from prunelimit.inputs import check_compatible
    from prunelimit.models.load import LoadedModel

    net.eval()  # no BatchNorm statistics move during the check
    for text, batches in named_batches:
        if batches:
            check_compatible(LoadedModel(net, spec, path=path), batches, loss_fn, text)


@dataclass(frozen=True)
class PruneReport:
    requested: float
    achieved: float
    ratio_source: str
    scope: str
    layers: list
    before: "Evaluation | None"
    after: "Evaluation | None"
    finetuned: "Evaluation | None"
    output: str
    formats: tuple[str, ...]
    acc_drop: float | None = None  # the allowed accuracy drop (points) a predicted ratio is checked against

    @property
    def accuracy_drop(self) -> float | None:
        """Accuracy lost by the one-shot pruning, in percentage points (before fine-tuning)."""
        if self.before is None or self.after is None or None in (self.before.accuracy, self.after.accuracy):
            return None
        return 100.0 * (self.before.accuracy - self.after.accuracy)

    @property
    def acc_drop_exceeded(self) -> bool | None:
        """Whether a predicted ratio (``--ratio auto|lower``) lost more than ``acc_drop``;
        ``None`` when it was not checked (a given ratio, or no accuracy)."""
        drop = self.accuracy_drop
        return None if self.acc_drop is None or drop is None else drop > self.acc_drop

    def to_json(self) -> dict:
        def ev(e):
            return None if e is None else {"loss": e.loss, "accuracy": e.accuracy}

        return {
            "ratio": {"requested": self.requested, "achieved": self.achieved, "source": self.ratio_source,
                      "scope": self.scope, "density": 1.0 - self.achieved},
            "layers": [{"name": l.name, "total": l.total, "zeros": l.zeros} for l in self.layers],
            "before": {"loss": None, "accuracy": None} if self.before is None else ev(self.before),
            "after": {**({"loss": None, "accuracy": None} if self.after is None else ev(self.after)),
                      "accuracy_drop": self.accuracy_drop},
            "acc_drop": self.acc_drop,
            "acc_drop_exceeded": self.acc_drop_exceeded,
            "finetuned": ev(self.finetuned),
            "output": self.output,
            "formats": list(self.formats),
        }


def resolve_ratio(ratio: str, inputs: Inputs, options: "CurvatureOptions", from_report: str | None,
                  progress=None, scope: str = "global", store: "Store | None" = None) -> tuple[float, str]:
    """``auto`` → ρ*, ``lower`` → ρ_L (from ``bounds`` or a saved bounds JSON), or a number.

    The prediction follows the pruning path of ``scope``; a saved report must have been
    computed for that path (reports without a recorded scope are global).
    """
    if ratio in ("auto", "lower"):
        if from_report is not None:
            from prunelimit.gate import measured_value, read_report

            report = read_report(from_report)
            recorded = _recorded_scope(report)
            if recorded != scope:
                raise UsageError(f"{from_report} predicts the limit of {recorded} pruning, not {scope}: "
                                 f"use --scope {recorded}, or drop --from to predict for {scope} pruning")
            value = measured_value(report, "predicted" if ratio == "auto" else "lower", str(from_report))
            return value, f"{ratio} from {from_report}"
        if ratio == "lower" and options.bound_mode == "none":
            raise UsageError("--ratio lower needs the bound ρ_L: drop --bound-mode none, or use --ratio auto")
        rep = bounds(inputs, options, progress, scope, store)
        value = rep.ratio if ratio == "auto" else rep.lower
        if value is None:
            raise NumericalError(f"no {ratio} ratio could be computed for {inputs.loaded.path}; use --ratio auto or a number")
        return value, f"{ratio} (bounds)"
    try:
        value = float(ratio)
    except ValueError:
        raise UsageError(f"--ratio {ratio!r}: use auto, lower or a removed fraction in [0, 1)") from None
    return value, "given"


def _recorded_scope(report: dict) -> str:
    prediction = report.get("prediction")
    scope = prediction.get("scope", "global") if isinstance(prediction, dict) else "global"
    return scope if scope in ("global", "layer") else "global"


def prune(
    inputs: Inputs, ratio: float, output, ratio_source: str = "given", scope: str = "global",
    finetune_epochs: int = 0, finetune_lr: float = 0.01, eval_batches=None, formats: tuple[str, ...] = ("prunelimit",),
    force: bool = False, seed: int = 0, progress=None, acc_drop: float | None = None,
) -> PruneReport:
    """One-shot magnitude pruning to ``ratio`` (removed fraction), optional masked fine-tuning, saved.

    ``acc_drop`` (percentage points): the report says whether the one-shot accuracy drop exceeded it."""
    from prunelimit.io.atomic import write_atomic
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.io.outputs import preflight
    from prunelimit.pruning.finetune import FinetuneConfig, finetune
    from prunelimit.pruning.magnitude import check_ratio, prune_model
    from prunelimit.pruning.masks import sparsity_table, to_prune_state_dict

    check_ratio(ratio)
    planned = prune_outputs(output, formats)
    preflight(planned.values(), [inputs.loaded.path, inputs.data_spec], force)
    outputs = {name: out.path for name, out in planned.items()}
    evaluation_data = eval_batches or inputs.batches
    before = evaluate(inputs.model, evaluation_data, inputs.loss_fn) if evaluation_data else None
    result = prune_model(inputs.model, ratio, scope, inputs.selection)
    after = evaluate(inputs.model, evaluation_data, inputs.loss_fn) if evaluation_data else None
    tuned = None
    if finetune_epochs > 0:
        _require_data(inputs)
        finetune(inputs.model, result.masks, inputs.batches, inputs.loss_fn,
                 FinetuneConfig(epochs=finetune_epochs, lr=finetune_lr, seed=seed), progress=progress)
        tuned = evaluate(inputs.model, evaluation_data, inputs.loss_fn)
    state = inputs.model.state_dict()
    meta = {**inputs.loaded.meta, "pruned": {"ratio": ratio, "source": ratio_source, "scope": scope,
                                               "finetune_epochs": finetune_epochs}}
    meta.pop("train_state", None)
    if "prunelimit" in formats:
        save_checkpoint(outputs["prunelimit"], inputs.loaded.spec, state, result.masks, meta, force)
    if "torch-prune" in formats:
        import torch

        pruned_sd = to_prune_state_dict(state, result.masks)
        write_atomic(outputs["torch-prune"], lambda tmp: torch.save(pruned_sd, tmp), force)
    if "safetensors" in formats:
        from safetensors.torch import save_file

        tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        write_atomic(outputs["safetensors"], lambda tmp: save_file(tensors, str(tmp)), force)
    layers = sparsity_table(inputs.model, inputs.selection)
    return PruneReport(ratio, result.achieved, ratio_source, scope, layers, before, after, tuned,
                       str(outputs[formats[0]]), tuple(str(outputs[f]) for f in formats), acc_drop)


PRUNE_FORMATS = {"prunelimit": ("", "checkpoint"), "torch-prune": (".prune.pt", "checkpoint"),
                 "safetensors": (".safetensors", "safetensors")}  # --format: (suffix beside -o, file format)


def prune_outputs(output, formats: tuple[str, ...] = ("prunelimit",)) -> "dict[str, Output]":
    """The file each ``--format`` writes: ``-o`` itself, the others beside it with their suffix."""
    from pathlib import Path

    from prunelimit.io.outputs import Output

    unknown = sorted(set(formats) - set(PRUNE_FORMATS))
    if unknown:
        raise UsageError(f"--format {unknown[0]!r}: use {', '.join(PRUNE_FORMATS)}")
    output = Path(output)
    planned = {}
    for name in formats:
        suffix, kind = PRUNE_FORMATS[name]
        path, option = (output.with_suffix(suffix), f"--format {name}") if suffix else (output, "-o")
        planned[name] = Output(option, path, kind)
    return planned


LARGE_GAP = 0.05  # |Δ| above 5 percentage points gets a diagnosis in words


@dataclass(frozen=True)
class VerifyReport:
    """Prediction (``bounds``) beside the measured actual limit, Δ and, when large, why."""

    bounds: BoundsReport
    actual: "ActualLimit"
    delta: float
    diagnosis: tuple[str, ...]
    near_zero: dict[str, float]
    refit: "RefitLimit | None" = None

    def to_json(self) -> dict:
        a = self.actual
        body = self.bounds.to_json()
        body["actual"] = {
            "loss_ratio": a.loss_ratio,
            "accuracy_ratio": a.accuracy_ratio,
            "loss_crossed": a.loss_crossed,
            "accuracy_crossed": a.accuracy_crossed,
            "dense_loss": a.dense_loss,
            "dense_accuracy": a.dense_accuracy,
            "acc_drop_points": a.acc_drop,
            "evaluations": a.evaluations,
            "probes": [{"ratio": p.ratio, "loss": p.loss, "accuracy": p.accuracy} for p in a.probes],
            "curve": [{"ratio": p.ratio, "loss": p.loss, "accuracy": p.accuracy} for p in a.curve],
        }
        body["delta"] = self.delta
        body["delta_points"] = 100 * self.delta
        body["weights_below"] = self.near_zero
        body["diagnosis"] = list(self.diagnosis)
        if self.refit is not None:
            r = self.refit
            body["refit"] = {"loss_ratio": r.loss_ratio, "accuracy_ratio": r.accuracy_ratio,
                             "evaluations": r.evaluations, "finetune_epochs": r.finetune_epochs,
                             "delta": self.bounds.ratio - r.loss_ratio}
        return body


def verify(
    inputs: Inputs, options: CurvatureOptions = CurvatureOptions(), eval_batches=None, acc_drop: float = 0.5,
    sweep: int = 0, scope: str = "global", progress=None, refit_epochs: int = 0, refit_lr: float = 0.01,
    store: "Store | None" = None,
) -> VerifyReport:
    """Run ``bounds``, then measure the actual limit (SPEC §2) and set them side by side.

    ``refit_epochs > 0`` also measures the limit after masked fine-tuning (``--refit``).
    """
    from prunelimit.pruning.actual import actual_limit
    from prunelimit.pruning.finetune import FinetuneConfig
    from prunelimit.pruning.refit import refit_limit

    rep = bounds(inputs, options, progress, scope, store)
    actual = actual_limit(inputs.model, inputs.batches, inputs.loss_fn, rep.epsilon, eval_batches=eval_batches,
                          acc_drop=acc_drop, scope=scope, selection=inputs.selection, sweep_points=sweep)
    delta = rep.ratio - actual.loss_ratio
    weights = np.abs(np.concatenate([p.detach().cpu().reshape(-1).numpy()
                                     for _, p in prunable_parameters(inputs.model, inputs.selection)]))
    near_zero = {f"{t:g}": float(np.mean(weights < t)) for t in (1e-3, 1e-2, 1e-1)}
    refit = None
    if refit_epochs > 0:
        refit = refit_limit(inputs.model, inputs.batches, inputs.loss_fn, rep.epsilon,
                            FinetuneConfig(epochs=refit_epochs, lr=refit_lr, seed=options.seed),
                            eval_batches=eval_batches, acc_drop=acc_drop, scope=scope, selection=inputs.selection)
    return VerifyReport(rep, actual, delta, tuple(_diagnose(rep, delta, near_zero)), near_zero, refit)


def _diagnose(rep: BoundsReport, delta: float, near_zero: dict[str, float]) -> list[str]:
    if abs(delta) <= LARGE_GAP:
        return []
    s = rep.spectrum
    scale = float(np.sqrt(2 * rep.epsilon * s.params_hessian / max(abs(s.trace), 1e-300)))
    shares = ", ".join(f"{100 * v:.1f} % below {k}" for k, v in near_zero.items())
    if delta > 0:
        return [
            f"the prediction overshoots by {100 * delta:.1f} points: one-shot pruning breaks the loss earlier "
            "than the quadratic model expects.",
            f"Likely cause: the weights are not concentrated near zero ({shares}); R(ρ*) = {rep.radius:.3g} "
            f"against an ellipsoid semi-axis of about {scale:.3g} (sqrt(2εD/Tr H)).",
            "Fix: train with l1 (LOMP: `prunelimit train --l1 ...`), or fine-tune after pruning "
            "(`prunelimit prune --finetune-epochs N`).",
        ]
    return [
        f"the prediction is {100 * -delta:.1f} points below what one-shot pruning achieves: the bound is "
        "conservative here (the quadratic model overstates how fast the loss grows).",
        "Check ε (--epsilon) and the spectrum's convergence warnings above.",
    ]


# --------------------------------------------------------------------------- gate


@dataclass(frozen=True)
class GateReport:
    result: "GateResult"
    bounds: dict
    cache_hit: bool
    seconds: float
    notes: tuple[str, ...] = ()  # the gate's own warnings (baselines), before the bounds' warnings

    @property
    def warnings(self) -> list[str]:
        return [*self.notes, *self.bounds.get("warnings", [])]

    def to_json(self) -> dict:
        r = self.result
        first = r.outcomes[0]
        return {
            "passed": r.passed,
            "measured": first.measured,
            "threshold": first.threshold,
            "baseline": first.baseline,
            "reason": r.reason,
            "rules": [{"name": o.rule.name, "use": o.rule.use, "passed": o.passed, "measured": o.measured,
                       "threshold": o.threshold, "baseline": o.baseline, "reason": o.reason} for o in r.outcomes],
            "cache_hit": self.cache_hit,
            "warnings": self.warnings,
            "bounds": self.bounds,
            "timing": {"seconds": self.seconds},
        }


def gate(inputs: Inputs, rules, options: CurvatureOptions = CurvatureOptions(), store: "Store | None" = None,
         progress=None, allow_incompatible: bool = False) -> GateReport:
    """Evaluate gate ``rules`` on the ``bounds`` result, or on the ``verify`` result when a rule
    uses the measured limit (``use: actual``); the spectrum comes from ``store`` when it holds
    one for these inputs and options (``prunelimit.cache.input_key``).

    A baseline computed another way or on another problem is refused before any curvature
    work unless ``allow_incompatible`` (``prunelimit.baseline``)."""
    from prunelimit.baseline import check_baselines, provenance
    from prunelimit.gate import baseline_reports, evaluate_gate
    from prunelimit.report.jsonout import document

    start = time.perf_counter()
    baselines = baseline_reports(rules)
    notes = check_baselines(baselines, provenance(inputs, options), allow_incompatible) if baselines else []
    if any(rule.use == "actual" for rule in rules):  # the measured one-shot limit: verify's search
        measured = verify(inputs, options, progress=progress, store=store)
        report, cached = document("verify", measured.to_json()), measured.bounds.spectrum.cached
    else:
        rep = bounds(inputs, options, progress, store=store)
        report, cached = document("bounds", rep.to_json()), rep.spectrum.cached
    return GateReport(evaluate_gate(report, rules), report, cached, time.perf_counter() - start, tuple(notes))


def hyperflux(
    checkpoint, model: str | None, data: str | None, eval_data: str | None, target_density: float, output,
    pruning_epochs: int = 40, regrowth_epochs: int = 10, weight_lr: float = 0.01, gate_lr: float = 1e-2,
    log=None, loss: str = "ce", batch_size: int = 128, max_samples: int | None = None, trust_pickle: bool = False,
    download: bool = False, device: str = "auto", seed: int = 0, force: bool = False,
) -> dict:
    """Hyperflux L0 pruning (laws.md Part A) of a checkpoint or a fresh model; saves the pruned file."""
    import csv
    import io

    from prunelimit.io.atomic import write_text_atomic
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.io.outputs import Output, optional, preflight
    from prunelimit.laws.hyperflux import hyperflux_prune

    preflight([Output("-o", output, "checkpoint"), optional("--log", log, "csv")],
              [checkpoint, model, data, eval_data, loss], force)
    start = starting_point(checkpoint, model, data, eval_data, loss, batch_size, max_samples, trust_pickle,
                           download, device, seed)
    net, batches, evaluation, loss_fn, spec = start.model, start.train, start.evaluation, start.loss_fn, start.spec
    data, eval_data = start.data, start.eval_data
    dense = evaluate(net, evaluation, loss_fn)
    result = hyperflux_prune(net, batches, loss_fn, target_density, pruning_epochs, regrowth_epochs, seed,
                             weight_lr=weight_lr, gate_lr=gate_lr)
    after = evaluate(net, evaluation, loss_fn)
    masks = dict(zip(result.names, result.masks))
    save_checkpoint(output, spec, net.state_dict(), masks, {"data": data, "eval_data": eval_data,
                                                            "pruned": {"method": "hyperflux", "density": result.density}},
                    force)
    if log is not None:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["epoch", "phase", "pressure", "density", "target", "loss"])
        for e in result.log:
            writer.writerow([e.epoch, e.phase, e.pressure, e.density, e.target, e.loss])
        write_text_atomic(log, buf.getvalue(), force)
    return {
        "output": str(output), "requested_density": target_density, "density": result.density,
        "before": {"loss": dense.loss, "accuracy": dense.accuracy},
        "after": {"loss": after.loss, "accuracy": after.accuracy},
        "log": [{"epoch": e.epoch, "phase": e.phase, "pressure": e.pressure, "density": e.density} for e in result.log],
    }
