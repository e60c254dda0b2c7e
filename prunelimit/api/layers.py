"""``--per-layer``: each layer's curvature and its part in the limit, beside a spectrum or a
bound (``prunelimit.curvature.layers`` computes the blocks, ``prunelimit.theory.layers``
the shares)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from prunelimit.api.curvature import (
    LimitTarget,
    Ranking,
    SpectrumReport,
    basis_storage,
    curvature_data,
    drawn_by_class,
    hessian_operator,
    optional_target,
    product_dtype,
    ranking,
    recorded_engines,
)
from prunelimit.api.options import EXACT_IGNORES, CurvatureOptions, basis_memory_bytes
from prunelimit.api.stored import (
    check_stored_rules,
    default_engines,
    if_same_engines,
    result_keys,
    store_result,
    stored_result,
    stored_spectrum,
)
from prunelimit.cache import Store
from prunelimit.curvature.layers import LAYER_PROBES, LAYER_STEPS, Block, BlockCost, BlockCurvature, SubsetParts
from prunelimit.data.subsample import Subsample
from prunelimit.errors import option, said
from prunelimit.inputs import Inputs
from prunelimit.models.params import hessian_parameters, prunable_parameters
from prunelimit.theory.layers import LayerBreakdown
from prunelimit.theory.profile import PruningPath

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class StoredBlocks:
    """Per-layer blocks as the result cache keeps them: ``method`` says how they were
    computed (``exact``, ``formed``, ``lanczos``), as ``layer_curvature.method`` states it."""

    method: str
    blocks: "list[BlockCurvature]"
    # the memory budgets that choose the HVP engines they were computed with (the spectrum's
    # ``engine_budgets``), where a run under another budget reads them
    engine_budgets: tuple[float, float] | None = field(default=None, compare=False)


def _check_blocks(stored: StoredBlocks, blocks: "tuple[Block, ...]") -> None:
    """``ValueError`` when blocks read from the cache are not this Hessian's (``stored_result``'s
    ``check``): another model's, or rules that are not a measure."""
    if [(b.name, b.params, b.quadrature.dim) for b in stored.blocks] != [(b.name, b.size, b.size) for b in blocks]:
        raise ValueError("its blocks are not this Hessian's layers")
    check_stored_rules(q for b in stored.blocks for q in (b.quadrature, *b.part_quadratures))


def with_layers(layers: "LayerBreakdown | None", body: dict) -> dict:
    """``body`` with ``layers`` (one item a block) and ``layer_curvature`` (how, at which ρ*)
    when the per-layer curvature was asked for."""
    if layers is None:
        return body
    return {**body, "layers": [layer.to_json() for layer in layers.layers], "layer_curvature": layers.to_json()}


def spectrum_report(inputs: Inputs, options: CurvatureOptions, progress=None, store: "Store | None" = None,
                    per_layer: bool = False) -> SpectrumReport:
    """``prunelimit spectrum`` and ``prunelimit.spectrum``: the spectrum (from ``store`` when it
    holds it), each layer's curvature with ``per_layer``, and in its warnings what qualifies
    the prunable set in use (added here, never stored: they belong to this run's set)."""
    from prunelimit.api.limit import outside_hessian_warnings

    ranked = ranking(inputs)  # the weights sorted once for both (as bounds sorts them)
    spec = stored_spectrum(inputs, options, progress, store, ranked)
    if per_layer:
        spec = spectrum_layers(inputs, options, spec, progress, store, ranked)
    # its ρ*, as bounds', counts no curvature for frozen prunable weights: the same warning
    prunable = [] if spec.limit_ratio is None else prunable_parameters(inputs.model, inputs.selection)
    outside = outside_hessian_warnings([n for n, _ in prunable], [p for _, p in prunable], spec.gradient,
                                       inputs.selection)
    return replace(spec, notes=inputs.qualified(spec.notes) + tuple(outside))


def spectrum_layers(inputs: Inputs, options: CurvatureOptions, spec: SpectrumReport, progress=None,
                    store: "Store | None" = None, ranked: Ranking | None = None) -> SpectrumReport:
    """``spec`` with each layer's curvature and, where ρ* is defined, its part in F at the
    ρ* the spectrum was refined for (global path; ``ranked``: the weights' profile, ``curvature.ranking``)."""
    target = optional_target(inputs, options, spec.batch_losses, ranked)
    path = None if target is None else target.profile
    layers = layer_breakdown(inputs, options, spec, target, path, spec.limit_ratio, "global", progress, store)
    return replace(spec, dense=None, layers=layers)


# What stops the spectrum, or solves ρ* and the shares after it, never the blocks: they are a fixed
# plan after the spectrum, outside its --max-hvps and --time-budget (``outside_budgets``), and their
# shares are solved for ε and the negative-curvature rule once read. Keyed at their defaults: `bounds
# --per-layer`, then the same with --tolerance 0.05, read the exact spectrum and formed D columns again.
# Nor the spectrum's plan (method, iterations, runs): blocks are formed, or LAYER_STEPS × LAYER_PROBES
# Lanczos ones, whatever it was; only the solver it took and its products' type reach them (the kind).
_NOT_THE_BLOCKS = {name: getattr(CurvatureOptions, name)
                   for name in ("tolerance", "max_hvps", "time_budget", "epsilon", "negative", "method", "iterations",
                                "runs")}
# ... and formed (or exact) blocks are the full data's Hessian's own columns in float64: SLQ's seed,
# subset and bases never reach them (`bounds --per-layer`, then the same with --seed 1, read the exact
# spectrum and formed its 2,410 columns again)
_NOT_FORMED_BLOCKS = {name: getattr(CurvatureOptions, name) for name in EXACT_IGNORES}


def _blocks_keyed(inputs: Inputs, options: CurvatureOptions, blocks: "tuple[Block, ...]", formed: bool,
                  dtype: "torch.dtype | None") -> tuple[CurvatureOptions, str]:
    """The options and kind ``layer_breakdown``'s blocks are keyed by: what reaches their numbers.
    Lanczos ones (on products in ``dtype``) read the seed where it draws their probes (a block larger
    than its runs' products: smaller ones are formed from their unit columns) or the curvature
    subset, and the basis storage and memory only where a block runs Lanczos; their kind says the
    products' type, and a storage other than ``auto``'s (not the option's name, which the spectrum's
    key may take as ``auto`` where its D × D basis would be narrowed too)."""
    import torch

    from prunelimit.data.batches import total_samples
    from prunelimit.data.subsample import subset_size

    if formed:
        return replace(options, **{**_NOT_THE_BLOCKS, **_NOT_FORMED_BLOCKS}), "layers-formed"
    kind = f"layers-lanczos{'-float64' if dtype == torch.float64 else ''}"
    lanczos = any(b.size > LAYER_PROBES * LAYER_STEPS for b in blocks)
    subsampled = subset_size(inputs.batches, options.hessian_samples, drawn_by_class(inputs)) \
        < total_samples(inputs.batches)
    elements = LAYER_STEPS * max(b.size for b in blocks)  # as ``layer_breakdown`` sizes the bases
    if lanczos and basis_storage(options.basis_dtype, dtype, elements) != basis_storage("auto", dtype, elements):
        kind += f"-basis-{options.basis_dtype}"
    return replace(options, **_NOT_THE_BLOCKS, basis_dtype=CurvatureOptions.basis_dtype,
                   seed=options.seed if lanczos or subsampled else CurvatureOptions.seed,
                   basis_memory_mb=options.basis_memory_mb if lanczos else CurvatureOptions.basis_memory_mb), kind


def layer_breakdown(inputs: Inputs, options: CurvatureOptions, spec: SpectrumReport, target: LimitTarget | None,
                    path: PruningPath | None, ratio: float | None, scope: str, progress=None,
                    store: "Store | None" = None) -> "LayerBreakdown":
    """Per-layer curvature and each layer's part in the limit at ``ratio`` = ρ* on ``path``.

    The diagonal blocks are exact when ``spec`` carries the dense Hessian (the exact solver
    formed it in this run), and formed block by block (D columns) when the spectrum is exact
    without it (read from the cache: the same command must give the same blocks whether or
    not its spectrum was cached) or ``--method exact`` is asked for; otherwise Lanczos on
    every block in lockstep over the spectrum's curvature data. Blocks come from ``store``
    when it holds them for these inputs (keyed as the spectrum, but only by what reaches them,
    ``_blocks_keyed``: 0 HVPs then); a dense
    Hessian's exact blocks are stored too, where a later command on the cached exact
    spectrum reads them rather than forming D columns.
    """
    import torch

    from prunelimit.curvature.layers import (BlockCost, exact_block_curvature, formed_block_curvature,
                                             lanczos_block_curvature, lanczos_block_products, parameter_blocks)
    from prunelimit.theory.layers import layer_shares

    start = time.perf_counter()
    named = hessian_parameters(inputs.model, inputs.selection)
    prunable = prunable_parameters(inputs.model, inputs.selection)
    blocks = parameter_blocks([n for n, _ in named], [p.numel() for _, p in named], [n for n, _ in prunable])

    def callback(total: int):  # the stage's own plan: the spectrum's total would be stale here
        return None if progress is None else (lambda done: progress(done, total, "per-layer curvature"))

    steps = probes = subsample = None
    formed = options.method == "exact" or spec.solver == "exact"
    # Lanczos blocks take the spectrum's products' type: where float32 products' rounding sent its runs
    # to float64 ones, the blocks need them as much (a block formed from float32 columns of an MLP fitted
    # near zero loss stated its own ρ* 47.7 % ± 0 against 62.0 % exact). The tolerance and plan keyed at
    # their defaults (``_NOT_THE_BLOCKS``) may have moved it: the kind says it.
    dtype = None if formed else \
        torch.float64 if spec.quadrature.float64_products else product_dtype(named[0][1].dtype)
    keyed, kind = _blocks_keyed(inputs, options, blocks, formed, dtype)
    keys = result_keys(inputs, store)
    key = keys(keyed, kind)

    def check(found: StoredBlocks) -> None:
        _check_blocks(found, blocks)

    # with the dense Hessian at hand the exact blocks cost nothing: computed, never read
    stored = stored_result(store, None if spec.dense is not None else key, kind, StoredBlocks, check=check)
    # On a CPU the memory budget and --hvp only choose the engines: blocks a run at the defaults
    # computed with the engines these options choose are the same products (`bounds --per-layer`,
    # then the same with --memory-budget 2048, read the spectrum and formed its 2,410 columns again)
    shared = default_engines(inputs, keyed)
    if stored is None and spec.dense is None and shared is not None:
        stored = stored_result(store, keys(shared, kind), kind, StoredBlocks,
                               lambda found: if_same_engines(found, inputs, options), check)
    with recorded_engines() as engines:
        if spec.dense is not None:
            method, hvps, curvature = "exact", 0, exact_block_curvature(spec.dense, blocks)
        elif stored is not None:
            method, hvps, curvature = stored.method, 0, stored.blocks
            steps, probes = (LAYER_STEPS, LAYER_PROBES) if method == "lanczos" else (None, None)
        elif formed:
            op = hessian_operator(inputs, options, dtype=torch.float64)
            method, curvature = "formed", formed_block_curvature(op, blocks, callback(sum(b.size for b in blocks)))
            hvps = op.hvps
        else:
            steps, probes = LAYER_STEPS, LAYER_PROBES
            subsample = curvature_data(inputs, options)
            op = hessian_operator(inputs, options, dtype, probes=len(blocks) * probes, batches=subsample.batches)
            storage = basis_storage(options.basis_dtype, dtype, steps * max(b.size for b in blocks))
            parts = subset_parts(inputs, options, subsample, len(blocks), dtype)
            planned = lanczos_block_products(blocks, steps, probes, 0 if parts is None else len(parts.operators))
            curvature = lanczos_block_curvature(op, blocks, steps, probes, options.seed, storage, callback(planned),
                                                basis_memory_bytes(options), parts)
            method, hvps = "lanczos", op.hvps + (0 if parts is None else sum(p.hvps for p in parts.operators))
            # the probes on the parts after the runs (which the runs' callback does not count), or a
            # run broke down: the products made are the total
            if progress is not None and (parts is not None or hvps < planned):
                progress(hvps, hvps, "per-layer curvature")
    if stored is None:
        # the dense Hessian's blocks are of the spectrum's products
        kept = StoredBlocks(method, curvature,
                            spec.engine_budgets if spec.dense is not None else engines.budgets(options.hvp))
        store_result(store, key, kind, kept)
        if shared is not None and if_same_engines(kept, inputs, shared) is not None:  # where the defaults look
            store_result(store, keys(shared, kind), kind, kept)
    curvature = _with_products(curvature, method, spec)
    cost = BlockCost(method, steps, probes, hvps, time.perf_counter() - start, stored is not None)
    shares = layer_shares(curvature, [n for n, _ in prunable], [p.detach() for _, p in prunable], path,
                          None if target is None else target.epsilon, ratio, cost, options.negative, scope)
    # exact and formed blocks take all samples; Lanczos ones (computed or read back) the curvature subset's,
    # where a layer's block without its parts' (a Lanczos block's) states no data part in its own ρ*'s ±
    # (the subset the blocks were computed over, drawn again only where they were read back)
    names = {n for n, _ in prunable}
    subset = method == "lanczos" and any(not b.part_quadratures for b in curvature if b.name in names) \
        and (curvature_data(inputs, options) if subsample is None else subsample).subsampled
    return replace(shares, notes=outside_budgets(options, cost) + ((subset_alone_note(options),) if subset else ()))


def _with_products(curvature: "list[BlockCurvature]", method: str, spec: SpectrumReport) -> "list[BlockCurvature]":
    """``curvature`` with each block's quadrature saying what products it came from, for the
    rounding part of its own ρ*'s ± (``theory.layers``): float64 for exact and formed blocks,
    the spectrum's for Lanczos ones (``layer_breakdown`` takes its products' type), with the
    error its float32 products measured against float64 ones."""
    wide = method != "lanczos" or spec.quadrature.float64_products
    error = 0.0 if wide else spec.quadrature.product_error
    return [replace(b, quadrature=replace(b.quadrature, float64_products=wide, product_error=error))
            for b in curvature]


def subset_parts(inputs: Inputs, options: CurvatureOptions, subsample: Subsample, blocks: int,
                 dtype: "torch.dtype | None" = None) -> SubsetParts | None:
    """The Hessians of ``subsample``'s parts in ``dtype`` (default: the model's products'), behind
    the data part of each block's trace ± (``curvature.layers.SubsetParts``); ``None`` on the full data."""
    from prunelimit.data.batches import total_samples

    if not subsample.subsampled:
        return None
    return SubsetParts(tuple(hessian_operator(inputs, options, dtype, probes=blocks, batches=part)
                             for part in subsample.parts),
                       tuple(total_samples(part) for part in subsample.parts), subsample.total)


def subset_alone_note(options: CurvatureOptions) -> str:
    """What a Lanczos block's own ρ* ± (``LayerShare.limit_alone_plus_minus``) leaves out over a
    curvature subset: the subsampling's scatter, which each block's trace ± holds and a block
    formed exactly over the subset states from its parts (``curvature.layers``)."""
    return (f"{said('--per-layer', 'per_layer=True')}: a Lanczos block's alone ρ* ± holds its steps and probes only, "
            f"not the scatter of the {option('hessian_samples', options.hessian_samples)} subset, which the trace ± "
            "and a small block's alone ρ* ± hold: on all the data such a layer's own ρ* may lie outside it")


BLOCKS_OUTSIDE = "'s blocks took "  # what ``outside_budgets`` says: read back by --from, the storing run's


def outside_budgets(options: CurvatureOptions, cost: "BlockCost") -> tuple[str, ...]:
    """The line that says a given ``--max-hvps``/``--time-budget`` did not bound the blocks
    (``cost``): they are a fixed plan after the spectrum, which a budget the spectrum spent
    would leave one step; none where they took no products (exact, or read back)."""
    given = [option(name) for name in ("max_hvps", "time_budget") if getattr(options, name) is not None]
    if not given or cost.hvps == 0:
        return ()
    verb = "bounds" if len(given) == 1 else "bound"
    return (f"{said('--per-layer', 'per_layer=True')}{BLOCKS_OUTSIDE}{cost.hvps:,} products and {cost.seconds:.2f} s "
            "after the spectrum, outside "
            f"{' and '.join(given)}, which {verb} the spectrum alone (layer_curvature; timing counts the spectrum)",)
