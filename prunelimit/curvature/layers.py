"""Curvature of each parameter block: the diagonal blocks ``H_ll`` of the Hessian.

A block is one prunable weight tensor, or "the rest" (every other Hessian parameter,
biases for instance, taken together). For each block this module gives ``tr H_ll``,
``λmax(H_ll)`` and the spectral measure of ``H_ll`` as a quadrature (dimension ``n_l``,
the block's size), from which ``prunelimit.theory.layers`` evaluates the block's own
``F_l(R)``.

Two ways:

* :func:`exact_block_curvature`: the diagonal blocks of a dense Hessian (all eigenvalues
  of each block, float64), and :func:`formed_block_curvature`, which forms each block
  from products with unit vectors of that block alone (``n_l`` columns a block, ``D`` in
  all) when no dense Hessian is at hand;
* :func:`lanczos_block_curvature`: Lanczos on each ``H_ll``, restricted products: a
  block's vector is embedded into the full parameter vector (zeros elsewhere), multiplied
  by the full Hessian and the product cut back to the block. All blocks and probes
  advance in lockstep, so one step is one batched ``matmat`` of ``blocks × probes``
  columns on the recomputing engine: K blocks cost one data pass a step, not K (on a kept
  graph, ``HessianOperator.lockstep`` 1, one product a column). The block's trace is Hutchinson's
  estimate ``zᵀH_ll z`` on the same products (the first Lanczos coefficient times
  ``‖z‖² = n_l``), λmax the largest Ritz value (a lower bound that converges first).

Blocks no larger than their Lanczos runs' products (probes × steps) are formed exactly from
their unit columns instead, as many a product as ``exact_hessian`` takes (``columns_per_product``):
exact for no more products.

Over a curvature subset (``--hessian-samples``) a block's trace is the subset's, not the full
data's: a block formed exactly stated ``± 0`` and missed the full data's by 5.9 % (bag-of-words
net, 200 of 400 samples). Given the subset's K disjoint parts (:class:`SubsetParts`), each
block's ± holds the subsampling's error as the whole trace's does (``trace.with_data_part``):
the spread of the block's trace over the parts. A small block is formed on every part (the
same data passes as on the subset at once), the subset's block their mean weighted by their
samples, so its part traces ``tr H_k,ll`` are exact (and its blocks on the subset less each
part, kept as ``part_quadratures``, give its own ρ*'s data part: ``theory.layers``); a Lanczos block takes one Rademacher
``z_l`` on each part after its runs, ``z_lᵀH_k,ll z_l`` (one batched product of every such
block's probe a part), whose spread errs high as the whole trace's one probe does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from prunelimit.curvature.exact import columns_per_product, exact_hessian, exact_quadrature
from prunelimit.curvature.lanczos import LanczosRuns
from prunelimit.curvature.operator import CurvatureOperator
from prunelimit.curvature.quadrature import SpectralQuadrature
from prunelimit.curvature.slq import rademacher, runs_quadrature
from prunelimit.curvature.trace import data_part_added, trace_estimate
from prunelimit.errors import UsageError
from prunelimit.limits import byte_size

REST = "(rest)"  # the block of every Hessian parameter that is not a prunable weight
LAYER_STEPS = 32  # Lanczos steps per block: λmax and the trace converge long before
LAYER_PROBES = 2  # probes per block


@dataclass(frozen=True)
class Block:
    """Positions of one block in the flat Hessian vector: ``[start, stop)`` spans in order."""

    name: str
    spans: tuple[tuple[int, int], ...]

    @property
    def size(self) -> int:
        return sum(stop - start for start, stop in self.spans)

    def take(self, columns: Tensor) -> Tensor:
        """The block's entries of each column (D × k → size × k)."""
        return torch.cat([columns[start:stop] for start, stop in self.spans])

    def embed(self, columns: Tensor, dim: int) -> Tensor:
        """Columns of block entries (≥ size × k, the first ``size`` rows used) as full
        D-vectors, zeros elsewhere."""
        out = torch.zeros(dim, columns.shape[1], dtype=columns.dtype, device=columns.device)
        at = 0
        for start, stop in self.spans:
            out[start:stop] = columns[at : at + stop - start]
            at += stop - start
        return out


@dataclass(frozen=True)
class BlockCurvature:
    """``tr H_ll``, ``λmax(H_ll)`` and the spectral measure of ``H_ll`` (``quadrature``,
    ``dim`` = the block's size). ``trace_stderr``: 0 when exact, else the bound of
    ``prunelimit.curvature.trace.hutchinson_bound`` on Hutchinson's standard error, and
    ``trace_plus_minus`` its 95 % half-width (``TraceEstimate``); over a curvature subset both
    hold the subsampling's error too (module doc), so ``exact`` says only that the block is
    exact for the Hessian of the samples it was computed over. ``part_quadratures``: a block
    formed over a subset, its block on the subset less each of its parts, solved exactly, and
    ``sampled`` the subset's and the full data's samples: the data part of its own ρ*
    (``theory.layers``); empty and ``None`` otherwise."""

    name: str
    params: int
    trace: float
    trace_stderr: float | None
    trace_plus_minus: float | None
    lambda_max: float
    quadrature: SpectralQuadrature
    exact: bool
    part_quadratures: tuple[SpectralQuadrature, ...] = ()
    sampled: tuple[int, int] | None = None


@dataclass(frozen=True)
class SubsetParts:
    """The Hessians of a curvature subset's K disjoint parts (``operators``), the samples of
    each (``samples``, their sum the subset's) and of the full data (``population``)."""

    operators: tuple[CurvatureOperator, ...]
    samples: tuple[int, ...]
    population: int


@dataclass(frozen=True)
class BlockCost:
    """How the blocks were computed: ``method`` ``exact`` (a dense Hessian's diagonal
    blocks), ``formed`` (:func:`formed_block_curvature`) or ``lanczos`` (``steps`` ×
    ``probes`` a block), the products it took and its wall time; ``cached``: read from the
    result cache (0 products), as a spectrum's ``timing.cached`` says."""

    method: str
    steps: int | None
    probes: int | None
    hvps: int
    seconds: float
    cached: bool = False

    def to_json(self) -> dict:
        return {"method": self.method, "steps": self.steps, "probes": self.probes, "hvps": self.hvps,
                "seconds": self.seconds, "cached": self.cached}


def parameter_blocks(names: Sequence[str], sizes: Sequence[int], prunable: Sequence[str]) -> tuple[Block, ...]:
    """One block per Hessian tensor named in ``prunable`` (in Hessian order), then :data:`REST`
    for all the other tensors together (left out when there are none). An empty tensor
    (``nn.Linear(n, 0)``) has no curvature, so no block: its spectrum would have no nodes."""
    if len(names) != len(sizes):
        raise UsageError(f"{len(names)} parameter names for {len(sizes)} sizes")
    wanted = set(prunable)
    blocks, rest, start = [], [], 0
    for name, size in zip(names, sizes):
        span = (start, start + int(size))
        start = span[1]
        if not size:
            continue
        if name in wanted:
            blocks.append(Block(name, (span,)))
        else:
            rest.append(span)
    if rest:
        blocks.append(Block(REST, tuple(rest)))
    return tuple(blocks)


def exact_block_curvature(hessian: Tensor | np.ndarray, blocks: Sequence[Block]) -> list[BlockCurvature]:
    """The diagonal blocks of a dense symmetric Hessian, each solved exactly (float64)."""
    h = torch.as_tensor(np.asarray(hessian, dtype=np.float64))
    index = [torch.cat([torch.arange(a, b) for a, b in block.spans]) for block in blocks]
    return [_exact(block, h[i][:, i]) for block, i in zip(blocks, index)]


def formed_block_curvature(op: CurvatureOperator, blocks: Sequence[Block], progress=None) -> list[BlockCurvature]:
    """Each block formed from products with its own unit vectors (``n_l`` columns, cut to the
    block), then solved exactly: D columns in all, the off-diagonal blocks never formed.
    ``progress(done)`` reports columns over all blocks."""
    out, done = [], 0
    for block in blocks:
        cb = None if progress is None else (lambda cols, base=done: progress(base + cols))
        out.append(_exact(block, exact_hessian(_Restricted(op, block), progress=cb)))
        done += block.size
    return out


def lanczos_block_curvature(
    op: CurvatureOperator,
    blocks: Sequence[Block],
    steps: int = LAYER_STEPS,
    probes: int = LAYER_PROBES,
    seed: int = 0,
    storage_dtype: torch.dtype | None = None,
    callback: Callable[[int], None] | None = None,
    basis_bytes: float = math.inf,
    parts: SubsetParts | None = None,
) -> list[BlockCurvature]:
    """Block curvature by Lanczos on every ``H_ll`` in lockstep (see the module doc).

    Runs live in block coordinates padded to the largest Lanczos block of their group, so
    one ``LanczosRuns`` holds a group; the padding stays exactly zero (the restricted
    products never reach it). A group is every block when their padded bases fit
    ``basis_bytes``, else as many blocks, largest first, as fit (``steps`` data passes a
    group); ``UsageError`` when one block's bases alone do not. ``callback(products)``
    reports the columns multiplied so far. ``parts``: ``op`` is the Hessian over a curvature
    subset of these parts, whose spread each block's trace ± then holds (see the module doc;
    ``callback`` counts the small blocks' products on them, not the probes' after the runs).
    """
    if steps < 1 or probes < 1:
        raise UsageError(f"block Lanczos needs at least 1 step and 1 probe, got {steps} and {probes}")
    small = [b for b in blocks if b.size <= probes * steps]
    large = [b for b in blocks if b.size > probes * steps]
    formed, traces = _small_blocks(op, small) if parts is None else _small_blocks_over(parts, small)
    found = dict(zip([b.name for b in small], formed))
    spent = sum(b.size for b in small) * (1 if parts is None else len(parts.operators))
    if callback is not None and spent:
        callback(spent)
    if large:
        found.update(zip([b.name for b in large],
                         _lanczos_blocks(op, large, steps, probes, seed, storage_dtype, callback, spent,
                                         basis_bytes)))
    if parts is None:
        return [found[b.name] for b in blocks]
    traces = {**dict(zip([b.name for b in small], traces)), **_probe_part_traces(parts, large, seed)}
    return [_with_data_part(found[b.name], traces[b.name], parts) for b in blocks]


def lanczos_block_products(blocks: Sequence[Block], steps: int = LAYER_STEPS, probes: int = LAYER_PROBES,
                           parts: int = 0) -> int:
    """Columns :func:`lanczos_block_curvature` multiplies at most: a small block's size, a
    larger one's ``probes × steps`` (fewer when a run breaks down early); over a subset of
    ``parts`` parts, a small block's size on each part and a larger one's probe on each."""
    return sum(b.size * max(parts, 1) if b.size <= probes * steps else probes * steps + parts for b in blocks)


def _with_data_part(block: BlockCurvature, part_traces: Sequence[float], parts: SubsetParts) -> BlockCurvature:
    """``block``, over the subset of ``parts``, with the spread of its ``part_traces`` in its ±."""
    stderr, plus_minus = data_part_added(block.trace_stderr, block.trace_plus_minus, tuple(part_traces),
                                         sum(parts.samples), parts.population)
    return replace(block, trace_stderr=stderr, trace_plus_minus=plus_minus)


def _probe_part_traces(parts: SubsetParts, blocks: Sequence[Block], seed: int) -> dict[str, tuple[float, ...]]:
    """``z_lᵀH_k,ll z_l`` of one seeded Rademacher ``z_l`` a block on each part ``k``, by block
    name: one batched product of every block's probe a part."""
    if not blocks:
        return {}
    generator = torch.Generator().manual_seed(seed)
    draws = [rademacher(b.size, generator) for b in blocks]
    dim = parts.operators[0].shape[0]
    columns = torch.cat([b.embed(z[:, None], dim) for b, z in zip(blocks, draws)], dim=1)
    found = []
    for op in parts.operators:
        products = _in_blocks(op, columns, getattr(op, "lockstep", columns.shape[1])).to("cpu", torch.float64)
        found.append([float(z @ b.take(products[:, j : j + 1])[:, 0]) for j, (b, z) in enumerate(zip(blocks, draws))])
    return dict(zip([b.name for b in blocks], zip(*found)))


def _lanczos_blocks(op, blocks, steps, probes, seed, storage_dtype, callback, spent,
                    basis_bytes) -> list[BlockCurvature]:
    generator = torch.Generator().manual_seed(seed)
    # drawn in block order, so the probes do not depend on how the blocks are grouped
    draws = {b.name: [rademacher(b.size, generator) for _ in range(probes)] for b in blocks}
    run_bytes = steps * torch.empty(0, dtype=storage_dtype or torch.float64).element_size()  # a weight's share
    found = {}
    for group in _lockstep_groups(blocks, probes * run_bytes, basis_bytes, storage_dtype or torch.float64):
        results, products = _lanczos_group(op, group, draws, steps, probes, storage_dtype, callback, spent)
        found.update(results)
        spent += products
    return [found[b.name] for b in blocks]


def _lockstep_groups(blocks: Sequence[Block], block_bytes: int, budget: float,
                     storage: torch.dtype = torch.float64) -> list[list[Block]]:
    """Blocks that run together, their bases padded to the group's widest block within
    ``budget`` (``block_bytes``: a block's bases per weight of width, stored in ``storage``):
    all in block order when they fit, else largest first, as many a group as fit."""
    from prunelimit.remedies import narrower_basis

    def need(group: Sequence[Block]) -> int:
        return len(group) * block_bytes * max(b.size for b in group)

    if need(blocks) <= budget:
        return [list(blocks)]
    groups: list[list[Block]] = []
    for block in sorted(blocks, key=lambda b: -b.size):
        if need([block]) > budget:
            raise UsageError.naming(
                f"per-layer curvature of {block.name} ({block.size:,} weights): its Lanczos bases need "
                f"{byte_size(need([block]))} of host memory, more than the {byte_size(budget)} they may hold; "
                "use a larger {0}" + (" or a narrower {1}" if narrower_basis(storage) else ""),
                "basis_memory_mb", "basis_dtype")
        if groups and need([*groups[-1], block]) <= budget:
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def _lanczos_group(op, blocks, draws, steps, probes, storage_dtype, callback,
                   spent) -> tuple[dict[str, BlockCurvature], int]:
    """One lockstep group's block curvature, by name, and the columns it multiplied."""
    width = max(b.size for b in blocks)
    owner = [b for b in blocks for _ in range(probes)]  # run i belongs to block owner[i]
    starts = torch.zeros(len(owner), width, dtype=torch.float64)
    for i, block in enumerate(owner):
        starts[i, : block.size] = draws[block.name][i % probes]
    # LanczosRuns.extend multiplies the vectors of the runs still going, in run order.
    lockstep = _Lockstep(op, width, lambda: [owner[i] for i, (s, broken)
                                             in enumerate(zip(runs.steps, runs.broken_down))
                                             if not broken and s < steps])
    runs = LanczosRuns(lockstep, starts, steps, storage_dtype=storage_dtype)
    products = runs.extend(steps, None if callback is None else (lambda done: callback(spent + done)))
    results, broken = runs.results(), runs.broken_down
    out = {}
    for k, block in enumerate(blocks):
        mine = slice(k * probes, (k + 1) * probes)
        quad = runs_quadrature(results[mine], broken[mine], block.size, "h", iterations=steps)
        # zᵀ H_ll z and ‖H_ll z‖² with ‖z‖² = n_l
        est = trace_estimate(block.size * quad.expectation(lambda x: x), block.size * quad.second_moments)
        real = quad.weights > 0
        out[block.name] = BlockCurvature(block.name, block.size, est.value, est.stderr, est.plus_minus,
                                         float(quad.nodes[real].max()), quad, exact=False)
    return out, products


def _small_blocks(op: CurvatureOperator, blocks: Sequence[Block]) -> tuple[list[BlockCurvature],
                                                                           list[tuple[float, ...]]]:
    """Blocks formed exactly from all their unit columns, ``columns_per_product(op)`` a
    product as ``exact_hessian`` takes them: one batched product of them all held every
    column's activations at once on a CPU's kept graph. No part traces (the full data)."""
    return _formed(blocks, _unit_products(op, blocks)), [() for _ in blocks]


def _small_blocks_over(parts: SubsetParts, blocks: Sequence[Block]) -> tuple[list[BlockCurvature],
                                                                            list[tuple[float, ...]]]:
    """:func:`_small_blocks` over a subset, formed on each of its ``parts``: the subset's
    blocks (the parts' mean weighted by their samples, as the subset's mean loss weighs them),
    each with its block on the subset less each part solved exactly (``part_quadratures``:
    the delete-a-group jackknife of its own ρ*, ``theory.uncertainty.left_out_sd``; a part
    alone, a quarter of the subset, understates its scatter where a few samples carry the
    curvature), and each block's exact trace on every part."""
    each = [_unit_products(op, blocks) for op in parts.operators]
    total = sum(parts.samples)
    mean = sum(n / total * products for n, products in zip(parts.samples, each))
    traces = [tuple(float(torch.trace(h)) for h in _taken(blocks, products)) for products in each]
    left_out = [(total * mean - n * products) / (total - n) for n, products in zip(parts.samples, each)]
    on_parts = zip(*([b.quadrature for b in _formed(blocks, products)] for products in left_out))
    formed = [replace(b, part_quadratures=tuple(quads), sampled=(total, parts.population))
              for b, quads in zip(_formed(blocks, mean), on_parts)]
    return formed, list(zip(*traces))


def _unit_products(op: CurvatureOperator, blocks: Sequence[Block]) -> Tensor:
    """``op``'s products with every block's unit vectors, in block order (D × Σ n_l, float64)."""
    if not blocks:
        return torch.zeros(op.shape[0], 0, dtype=torch.float64)
    units = torch.cat([b.embed(torch.eye(b.size, dtype=torch.float64), op.shape[0]) for b in blocks], dim=1)
    return _in_blocks(op, units, columns_per_product(op)).to("cpu", torch.float64)


def _taken(blocks: Sequence[Block], products: Tensor) -> list[Tensor]:
    """Each block's own rows of its columns of ``products`` (:func:`_unit_products`)."""
    out, at = [], 0
    for block in blocks:
        out.append(block.take(products[:, at : at + block.size]))
        at += block.size
    return out


def _formed(blocks: Sequence[Block], products: Tensor) -> list[BlockCurvature]:
    """The blocks, symmetrised, each solved exactly."""
    return [_exact(block, (h + h.T) / 2) for block, h in zip(blocks, _taken(blocks, products))]


def _exact(block: Block, h: Tensor) -> BlockCurvature:
    quad = exact_quadrature(h)
    eig = quad.nodes[0]
    return BlockCurvature(block.name, block.size, float(torch.trace(h)), 0.0, 0.0, float(eig.max()), quad, exact=True)


def _in_blocks(op: CurvatureOperator, columns: Tensor, width: int) -> Tensor:
    """``op.matmat(columns)``, ``width`` columns a product."""
    return torch.cat([op.matmat(columns[:, at : at + width]) for at in range(0, columns.shape[1], width)], dim=1)


class _Restricted:
    """``H_ll`` as a ``CurvatureOperator`` of dimension ``n_l``: embed, multiply, cut back."""

    def __init__(self, op: CurvatureOperator, block: Block) -> None:
        self._op, self._block = op, block
        self.shape, self.dtype, self.device = (block.size, block.size), op.dtype, op.device
        # its products are ``op``'s: ``columns_per_product`` sizes their blocks by its engine
        self.engine = getattr(op, "engine", None)

    def matmat(self, V: Tensor) -> Tensor:
        return self._block.take(self._op.matmat(self._block.embed(V, self._op.shape[0])))

    def matvec(self, v: Tensor) -> Tensor:
        return self.matmat(v[:, None])[:, 0]


class _Lockstep:
    """Every block's ``H_ll`` at once, in block coordinates padded to ``width``: column j of
    a product is that of the block ``owners()[j]`` (embed, one batched product, cut back)."""

    def __init__(self, op: CurvatureOperator, width: int, owners: Callable[[], list[Block]]) -> None:
        self._op, self._owners = op, owners
        self.shape, self.dtype, self.device = (width, width), op.dtype, op.device
        self.engine = getattr(op, "engine", None)  # as ``_Restricted``'s

    def matmat(self, V: Tensor) -> Tensor:
        dim, owners = self._op.shape[0], self._owners()
        full = torch.cat([b.embed(V[:, j : j + 1], dim) for j, b in enumerate(owners)], dim=1)
        # the products one ``matmat`` of the operator serves best (``HessianOperator.lockstep``):
        # all of them on the recomputing engine, one on a kept graph, where a batched backward
        # was slower per product and held every column's activations at once
        products = _in_blocks(self._op, full, getattr(self._op, "lockstep", full.shape[1]))
        out = torch.zeros_like(V)
        for j, b in enumerate(owners):
            out[: b.size, j] = b.take(products[:, j : j + 1])[:, 0]
        return out

    def matvec(self, v: Tensor) -> Tensor:
        return self.matmat(v[:, None])[:, 0]
