"""Dense vs sparse inference latency of one model, measured side by side on its device.

The sparse model is a copy whose ``nn.Linear`` layers with pruned weights in the prunable
set compute with a kernel torch ships: CSR (``torch.sparse_csr`` weights through ``F.linear``, any device), or
on a CUDA GPU semi-structured 2:4 (``torch.sparse.to_sparse_semi_structured``, half
precision, both models then run in float16). Other layers (convolutions, norms) stay dense
in both. Each latency is the median of forward passes after a warm-up, the dense and sparse
passes alternating so that both meet the same load, with its interquartile range.
"""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import Tensor, nn

from prunelimit.errors import OptionError, UsageError, option
from prunelimit.models.clone import clone_model
from prunelimit.models.params import ParamSelection, is_attention_projection, prunable_parameters, weight_matrices
from prunelimit.validate import choice

PATTERNS = ("csr", "2:4")
WARMUP = 3
MIN_REPEATS = 5
MAX_REPEATS = 200
BUDGET_S = 0.5  # per timing: enough repeats for a stable median, short enough for a CLI run
SAME = 0.1  # speedups within ±10 % are "no gain": below the run-to-run spread of a shared machine


@dataclass(frozen=True)
class Timing:
    """The median and quartiles of one function's timed passes, in seconds, and their count."""

    median_s: float
    q1_s: float
    q3_s: float
    passes: int

    @property
    def iqr_ms(self) -> float:
        return 1e3 * (self.q3_s - self.q1_s)


@dataclass(frozen=True)
class Latency:
    """Median forward-pass time of the dense and the sparse model at one batch size, the
    interquartile range of each (the spread), and the timed passes behind each median."""

    batch: int
    dense_ms: float
    sparse_ms: float
    repeats: int
    dense_iqr_ms: float
    sparse_iqr_ms: float

    @property
    def speedup(self) -> float:
        return self.dense_ms / self.sparse_ms

    @property
    def verdict(self) -> str:
        if self.speedup >= 1 + SAME:
            return "faster"
        return "slower" if self.speedup <= 1 - SAME else "no gain"


@dataclass(frozen=True)
class BenchReport:
    """Where and how it was measured, which layers ran sparse, the latencies, and the largest
    output difference between the two models (rounding of another summation order)."""

    device: str
    pattern: str
    dtype: str
    threads: int
    sparse_layers: list[str]
    dense_layers: list[str]
    rows: list[Latency]
    max_abs_diff: float

    def to_json(self) -> dict:
        return {"device": self.device, "pattern": self.pattern, "dtype": self.dtype, "threads": self.threads,
                "warmup": WARMUP, "sparse_layers": self.sparse_layers, "dense_layers": self.dense_layers,
                "max_abs_diff": self.max_abs_diff,
                "latency": [{"batch": r.batch, "dense_ms": r.dense_ms, "sparse_ms": r.sparse_ms,
                             "dense_iqr_ms": r.dense_iqr_ms, "sparse_iqr_ms": r.sparse_iqr_ms,
                             "speedup": r.speedup, "verdict": r.verdict, "repeats": r.repeats} for r in self.rows]}


class SparseLinear(nn.Module):
    """``nn.Linear`` with its weight in a sparse torch layout (CSR or semi-structured 2:4)."""

    def __init__(self, linear: nn.Linear, weight: Tensor):
        super().__init__()
        self.weight = weight
        self.bias = None if linear.bias is None else linear.bias.detach()
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, self.in_features)  # sparse kernels take matrices only
        return nn.functional.linear(flat, self.weight, self.bias).reshape(*x.shape[:-1], self.out_features)


def check_pattern(pattern: str, device: torch.device) -> None:
    """Refuse an unknown pattern, and 2:4 off a CUDA GPU (torch has no such kernel there):
    an ``OptionError`` naming ``pattern``, the value to change."""
    choice("pattern", pattern, PATTERNS)
    if pattern == "2:4" and device.type != "cuda":
        raise OptionError("pattern", f"{option('pattern', '2:4')} needs a CUDA GPU (torch's semi-structured kernels "
                                     f"run only there), and the device is {device.type}; use {option('pattern', 'csr')}")


def is_two_four(weight: Tensor) -> bool:
    """At most 2 nonzeros in every group of 4 consecutive weights along the input dimension."""
    if weight.shape[-1] % 4:
        return False
    return bool(((weight != 0).reshape(-1, 4).sum(dim=1) <= 2).all())


def called_linears(model: nn.Module, example: Tensor) -> set[str]:
    """Names of the ``nn.Linear`` modules whose own forward runs on ``example``. A parent such
    as ``nn.MultiheadAttention`` or a fast-path ``nn.TransformerEncoderLayer`` reads its
    child's weight directly: swapping that child would leave it dense, or hand a sparse
    tensor to a fused kernel that has no sparse version. The hook is global because a hook
    on a module turns those fast paths off, so the pass would not be the timed one."""
    names = {id(module): name for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    called: set[str] = set()
    hook = nn.modules.module.register_module_forward_pre_hook(
        lambda module, _: called.add(names[id(module)]) if id(module) in names else None)
    try:
        model(example)
    finally:
        hook.remove()
    return called


def sparse_copy(model: nn.Module, pattern: str, called: set[str], selection: ParamSelection = ParamSelection(),
                dense: Mapping[str, str] | None = None) -> tuple[nn.Module, list[str], list[str]]:
    """A copy of ``model`` with every pruned ``nn.Linear`` in ``called`` whose weight is in the
    prunable set of ``selection`` (what was pruned) sparse; the names converted and the
    pruned weights left dense, with the reason (outside the set, given in ``dense``, not
    called through its own forward, a weight the kernel cannot take, no Linear layer's)."""
    if isinstance(model, torch.jit.ScriptModule):  # compiled: no nn.Linear to swap for a sparse layer
        return clone_model(model), [], ["(model) (a TorchScript model: its compiled layers cannot be swapped for "
                                          "sparse ones; add --model SPEC to bench the eager model with the archive's weights)"]
    sparse = clone_model(model)
    # by identity: a weight tied to an earlier layer's is counted (and named) as that layer's
    prunable = {id(weight) for _, weight in prunable_parameters(sparse, selection)}
    converted, kept = [], []
    for name, module in list(sparse.named_modules()):
        if not isinstance(module, nn.Linear):  # a convolution's, attention's or included module's: no sparse swap
            kept += [f"{name}.{pname} ({_held_by(module, pname)}: only Linear layers run sparse)"
                     for pname, weight in weight_matrices(module)
                     if id(weight) in prunable and not bool((weight != 0).all())]
        if not isinstance(module, nn.Linear) or bool((module.weight != 0).all()):
            continue
        if id(module.weight) not in prunable:
            kept.append(f"{name or '(model)'} (outside the prunable set: {selection.described()})")
            continue
        if dense and name in dense:
            kept.append(f"{name or '(model)'} ({dense[name]})")
            continue
        own = _own_behaviour(module)
        if own is not None:
            kept.append(f"{name or '(model)'} ({own})")
            continue
        if name not in called:
            kept.append(f"{name or '(model)'} (its parent module reads the weight, not the layer's forward)")
            continue
        weight = module.weight.detach()
        if pattern == "2:4":
            if weight.shape[-1] % 4:  # prune --scope 2:4 leaves a last group of fewer than 4: no kernel for it
                kept.append(f"{name or '(model)'} ({weight.shape[-1]} inputs are not whole groups of 4)")
                continue
            if not is_two_four(weight):
                raise UsageError(f"layer {name} is not 2:4 sparse; prune with `prunelimit prune --scope 2:4 "
                                 "--ratio 0.5` first, or use --pattern csr")
            try:
                sparse_weight = torch.sparse.to_sparse_semi_structured(weight)
            except (RuntimeError, ValueError) as exc:  # shapes or dtype the kernel does not support
                kept.append(f"{name} ({str(exc).splitlines()[0][:80]})")
                continue
        else:
            with warnings.catch_warnings():  # torch calls CSR "beta" on every conversion; stderr stays ours
                warnings.simplefilter("ignore", UserWarning)
                sparse_weight = weight.to_sparse_csr()
        layer = SparseLinear(module, sparse_weight)
        missing = _missing_kernel(layer, weight, pattern)
        if missing is not None:
            kept.append(f"{name or '(model)'} ({missing})")
            continue
        sparse = _replace(sparse, name, layer)
        converted.append(name or "(model)")
    return sparse, converted, kept


def _own_behaviour(module: nn.Linear) -> str | None:
    """Why :class:`SparseLinear` in place of ``module`` would compute something else: a
    subclass's own forward or the module's own hooks go with the module it replaces."""
    if type(module).forward is not nn.Linear.forward:
        return f"{type(module).__name__} has its own forward, which a sparse Linear would drop"
    if module._forward_pre_hooks or module._forward_hooks:
        return "it has forward hooks of its own, which a sparse Linear would drop"
    return None


def runnable_sparse_copy(model: nn.Module, pattern: str, probe: Tensor,
                         selection: ParamSelection = ParamSelection()) -> tuple[nn.Module, list[str], list[str]]:
    """:func:`sparse_copy` of the Linear layers called on ``probe``, less those whose sparse
    weight the model also reads outside the layer in a way torch has no sparse kernel for
    (``fc.weight.norm()`` in a forward): each is found by converting it alone, and kept
    dense with the reason. ``UsageError`` when the copy still fails."""
    called = called_linears(model, probe)
    sparse, converted, kept = sparse_copy(model, pattern, called, selection)
    if _run_error(sparse, probe) is None:
        return sparse, converted, kept
    broken = {name: f"the model reads its weight outside the layer: {why}" for name in sorted(called)
              if (why := _run_error(sparse_copy(model, pattern, {name}, selection)[0], probe)) is not None}
    sparse, converted, kept = sparse_copy(model, pattern, called, selection, broken)
    why = _run_error(sparse, probe)
    if why is not None:
        raise UsageError(f"the sparse copy of the model does not run ({why}); time it with --pattern csr, "
                         "or export without --bench")
    return sparse, converted, kept


def _run_error(model: nn.Module, x: Tensor) -> str | None:
    """The first line of the error ``model(x)`` raises, ``None`` when it runs."""
    try:
        model(x)
    except (RuntimeError, NotImplementedError) as exc:
        return str(exc).splitlines()[0][:80]
    return None


def _held_by(module: nn.Module, pname: str) -> str:
    """What holds a weight matrix that is no Linear layer's, for the dense-layer reasons."""
    held = type(module).__name__
    return f"{held}'s Q/K/V projection" if is_attention_projection(pname) else f"{held}'s weight"


def _missing_kernel(layer: SparseLinear, weight: Tensor, pattern: str) -> str | None:
    """Why torch cannot run ``layer`` on this dtype and device (e.g. no CSR matmul for float16
    on a CPU), from one row of zeros; ``None`` when it runs."""
    why = _run_error(layer, torch.zeros(1, layer.in_features, dtype=weight.dtype, device=weight.device))
    return None if why is None else f"torch has no {pattern} kernel for it here: {why}"


def _replace(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """``model`` with its submodule ``name`` replaced by ``new``; ``new`` itself when ``name``
    is ``""`` (the model is the layer: setting an attribute would leave it dense)."""
    if not name:
        return new
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, new)
    return model


def largest_difference(dense: object, sparse: object) -> float:
    """The largest absolute difference between two outputs of one model's code, over every
    tensor in them: an output may be a tuple or dict (a user's loss picks what it needs). NaN
    when either holds a NaN the other does not (Python's ``max`` would drop it)."""
    def wide(t: Tensor) -> Tensor:  # integer and bool outputs subtract too; half precision rounds less
        return t if t.is_complex() else t.double()

    pairs = zip(_tensors(dense), _tensors(sparse))
    return nan_max([float(_nan_equal_difference(wide(a), wide(b)).max()) for a, b in pairs if a.numel()])


def _nan_equal_difference(a: Tensor, b: Tensor) -> Tensor:
    """``|a - b|``, 0 where both are equal or NaN (an inf less itself is NaN too), NaN where
    only one is."""
    return torch.where((a == b) | (a.isnan() & b.isnan()), 0, (a - b).abs())


def nan_max(values: list[float]) -> float:
    """The largest of ``values`` (0 for none), NaN if one is NaN."""
    return float(torch.tensor(values, dtype=torch.float64).max()) if values else 0.0


def _tensors(out: object) -> list[Tensor]:
    """The tensors of a model output, in order: the output itself, or those in its tuples,
    lists and dict values (nested); anything else holds none."""
    if isinstance(out, Tensor):
        return [out]
    items = list(out.values()) if isinstance(out, Mapping) else out if isinstance(out, (tuple, list)) else []
    return [t for item in items for t in _tensors(item)]


def paired_timings(fns: tuple[Callable[[], object], ...], device: torch.device) -> list[Timing]:
    """The timings of each of ``fns``, after ``WARMUP`` calls of each: timed passes alternate
    between them (one of each per round), so a change in the machine's load meets all alike;
    at least ``MIN_REPEATS`` rounds, more until ``BUDGET_S`` per function is spent (at most
    ``MAX_REPEATS``)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for fn in fns:
        for _ in range(WARMUP):
            fn()
    sync()
    times: list[list[float]] = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < MIN_REPEATS or (time.perf_counter() - start < BUDGET_S * len(fns)
                                          and len(times[0]) < MAX_REPEATS):
        for fn, timed in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            sync()
            timed.append(time.perf_counter() - t0)
    return [Timing(statistics.median(t), *_quartiles(t), len(t)) for t in times]


def _quartiles(times: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(times, n=4)
    return q1, q3


@torch.no_grad()
def bench(model: nn.Module, example: Tensor, batch_sizes: tuple[int, ...], pattern: str = "csr",
          selection: ParamSelection = ParamSelection()) -> BenchReport:
    """Latency of ``model`` dense and sparse at each batch size, the prunable set of
    ``selection`` sparse; inputs repeat the rows of ``example`` (one real batch) up to the size."""
    device = example.device
    check_pattern(pattern, device)
    model = model.eval()
    if pattern == "2:4":
        # the kernels take float16 weights; integer inputs (token ids) stay integers
        model = clone_model(model).half()
        example = example.half() if example.is_floating_point() else example
    sparse, converted, kept = runnable_sparse_copy(model, pattern, example[:1], selection)
    rows, diffs = [], []
    for size in batch_sizes:
        x = example[torch.arange(size, device=device) % example.shape[0]]
        diffs.append(largest_difference(model(x), sparse(x)))
        # no layer sparse: the sparse model is the dense one, and timing it again would report
        # the run-to-run noise as a speedup (or a slowdown) on a busy machine
        fns = (lambda: model(x), lambda: sparse(x)) if converted else (lambda: model(x),)
        timings = paired_timings(fns, device)
        dense_t, sparse_t = timings[0], timings[-1]
        rows.append(Latency(size, 1e3 * dense_t.median_s, 1e3 * sparse_t.median_s,
                            min(dense_t.passes, sparse_t.passes), dense_t.iqr_ms, sparse_t.iqr_ms))
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return BenchReport(str(device), pattern, dtype, torch.get_num_threads(), converted, kept, rows, nan_max(diffs))
