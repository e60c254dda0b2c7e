"""Exact Hessian-vector products of the mean loss over the analysis data (docs/theory.md).

``HessianOperator`` is the operator ``H = ∇²L(w)`` with ``L = Σ_b |b|·L_b / n`` (every
batch weighted by its size) restricted to a chosen list of parameters. Engines:

* ``"cached"``: each batch's first-order gradient graph is built once with
  ``create_graph=True`` and kept, so an HVP is a single second backward pass (about a
  gradient pass: docs/benchmarks.md, Summary) at the cost of keeping the graphs;
* ``"revrev"``: double backward, recomputing each batch's graph on every call (no memory
  beyond one batch). ``matmat`` rebuilds each graph once for all its vectors, so SLQ
  advances ``probes`` runs in lockstep on this engine (``lockstep``): 4 probes cost
  less than 4 single products (docs/benchmarks.md, Lockstep SLQ on the recomputing engine);
* ``"auto"``: ``"cached"`` when its estimated memory fits ``memory_budget_mb``, otherwise
  ``"revrev"``. An explicit ``"cached"`` that does not fit falls back with a warning.

Chunking: the mean loss is the size-weighted mean of per-sample losses, so the HVP may
walk the data in chunks of any size (the model is in eval mode, so no sample sees
another). ``chunk_samples="auto"`` re-slices the concatenated data into chunks whose
first-order graph holds about ``CPU_CHUNK_BYTES`` on a CPU (larger chunks fall out of
cache; docs/benchmarks.md) or ``memory_budget_mb / (1 + probes)`` on an accelerator, where
bigger is faster. Construction checks that the chunked mean loss equals the batch-weighted one; a
``loss_fn`` that is not a per-sample mean fails that check and keeps the caller's batches.

Gradient graphs are built under ``CheapDoubleBackward`` (``prunelimit.curvature.rewrites``):
eval-mode batch norm and convolutions are evaluated by formulations of the same function
whose double backward is cheap (docs/benchmarks.md §1, what moved the numbers).
Scaled-dot-product attention runs on its math kernel there: the fused kernels have no
double backward; so do recurrent layers on CUDA, without cuDNN (``native_recurrence``).

Under torchrun each rank walks only its shard of whole batches (``prunelimit.distributed``)
with chunk weights over the global sample count, and products, gradient, sizes and losses
are all-reduced: every rank holds the single-process operator, to summation order. A rank
whose shard is empty (fewer batches than ranks: small data, or the parts of a curvature
subset) adds zeros, and takes every decision the others take (engine, unbatched products).
"""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from prunelimit.curvature.rewrites import CheapDoubleBackward
from prunelimit.data.batches import Batch, Batches, LossFn, batch_size, to_device
from prunelimit.data.loss import CriterionLoss, class_weighted
from prunelimit.device import ieee_float32
from prunelimit.distributed import agreed_max, all_reduce_sum, any_rank, gather_shards, shard_batches
from prunelimit.errors import InputError, NumericalError, UsageError, quoted, warn
from prunelimit.io.atomic import raise_if_signalled
from prunelimit.models.activation_checkpointing import gradient_checkpoints, reentrant_checkpoint_error
from prunelimit.models.clone import clone_model
from prunelimit.models.params import module_class
from prunelimit.specs import USER_CODE_ERRORS, user_failure

ENGINES = ("auto", "cached", "revrev")
CHUNKINGS = ("auto", "batches")
# Graph bytes per chunk on a CPU: bigger chunks mean fewer backward calls, until a chunk's
# graph outgrows the cache and every pass over it slows down. 16 MB keeps the MLP of
# docs/benchmarks.md §1 (~2 kB of graph a sample) in one chunk of 2,048 samples (11.8 ms an
# HVP there, against 15.6 ms in the user's 8 batches of 256: its "chunks auto" and "chunks =
# batches" rows, 2 threads) and gives its LeNet with BatchNorm (~70 kB a sample) chunks of ~235.
CPU_CHUNK_BYTES = 16 * 2**20
_CHUNK_RTOL = 1e-5  # chunked vs batch-weighted mean loss: summation order only (float32)


class HessianOperator:
    """The mean-loss Hessian over ``batches`` w.r.t. ``params``, applied by HVPs: a
    ``CurvatureOperator`` (``prunelimit.curvature.operator``) of ``dim`` parameters.

    The model is put in eval mode. Construction reads the data twice and refuses a loader
    whose two passes disagree (``InputError``); NaN/Inf losses or HVPs raise
    ``NumericalError``. ``matvec`` and ``matmat`` take and return flat vectors (columns)
    in the caller's dtype and device; the work happens on the parameters' device in their dtype.
    """

    def __init__(
        self,
        model: nn.Module,
        params: list[nn.Parameter],
        batches: Batches,
        loss_fn: LossFn,
        engine: str = "auto",
        memory_budget_mb: float = 1024,
        dtype: torch.dtype | None = None,
        chunk_samples: int | str = "auto",
        probes: int = 1,
    ) -> None:
        if engine not in ENGINES:
            raise UsageError(f"unknown HVP engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if not params:
            raise UsageError("no parameters selected for the Hessian; widen the parameter selection")
        if not (chunk_samples in CHUNKINGS or (type(chunk_samples) is int and chunk_samples >= 1)):
            raise UsageError(f"chunk_samples must be a positive integer, 'auto' or 'batches', got {quoted(chunk_samples)}")
        if probes < 1:
            raise UsageError(f"probes must be at least 1, got {probes}")
        model.eval()
        given_dtype = params[0].dtype
        if dtype is not None and dtype != given_dtype:
            model, params = _converted(model, params, dtype)
            if isinstance(loss_fn, CriterionLoss):  # its class weight joins the copy's type
                loss_fn = loss_fn.to(dtype)
        self.model = model
        self.params = list(params)
        self.loss_fn = loss_fn
        self.device = self.params[0].device
        self.dtype = self.params[0].dtype
        self._shapes = [p.shape for p in self.params]
        self._numels = [p.numel() for p in self.params]
        self.dim = int(sum(self._numels))
        self.hvps = 0
        self._probes = probes

        count = len(list(batches))
        if count == 0:
            raise InputError("the analysis data is empty; pass at least one batch")
        # Under torchrun this rank walks its shard of whole batches; sizes and losses are
        # gathered so the chunk weights and ε use the global data (prunelimit.distributed).
        first = _cast(to_device(shard_batches(batches), self.device), self.dtype)
        local_sizes = [batch_size(b) for b in first]
        try:
            local_losses = self._pass_losses(first)
        except RuntimeError as exc:
            _refuse_loss_of_another_type(exc, model, first, given_dtype)
            raise
        self._sizes = [int(s) for s in gather_shards(local_sizes, count)]
        self.samples = sum(self._sizes)
        self._losses = gather_shards(local_losses, count)
        # The second pass over the data is both the determinism check and the data the
        # HVPs walk, re-sliced into chunks.
        second = _cast(to_device(shard_batches(batches), self.device), self.dtype)
        if first:
            self._require_gradients(first[0])
        self._bytes_per_sample = self._graph_bytes(first[0]) / local_sizes[0] if first else 0.0
        size = self._chunk_size(chunk_samples, memory_budget_mb)
        self._chunks = self._checked_chunks(second, size, local_sizes, local_losses)
        self._weights = [batch_size(c) / self.samples for c in self._chunks]

        self._cached_grad: list[Tensor] | None = None
        self.fallback: str | None = None  # why ``matmat`` takes one product at a time, once it has to
        # MB of graphs the budget was weighed against (the largest rank's); None: revrev was asked for
        self.graph_need_mb: float | None = None
        self.engine = self._choose_engine(engine, memory_budget_mb)
        if self.engine == "cached":
            self._cached_grad = self._weighted_gradient(create_graph=True)
        _warm_autograd()

    # ----------------------------------------------------------------- public API
    @property
    def shape(self) -> tuple[int, int]:
        return (self.dim, self.dim)

    def loss(self) -> float:
        """Mean loss over the analysis data (batches weighted by size)."""
        return float(np.dot(self._sizes, self._losses) / self.samples)

    def batch_losses(self) -> np.ndarray:
        """Per-batch mean losses in data order (the input to the default ε, docs/theory.md)."""
        return self._losses.copy()

    def batch_sizes(self) -> list[int]:
        """Sizes of the caller's batches (not of the internal chunks)."""
        return list(self._sizes)

    def chunk_sizes(self) -> list[int]:
        """Sizes of the chunks the HVPs walk (see the module doc)."""
        return [batch_size(c) for c in self._chunks]

    def graph_bytes(self) -> int:
        """Estimated bytes of first-order graph this rank holds during an HVP: every chunk's
        (``cached``) or the largest chunk's (``revrev``)."""
        held = sum(self.chunk_sizes()) if self.engine == "cached" else max(self.chunk_sizes(), default=0)
        return int(self._bytes_per_sample * held)

    @property
    def lockstep(self) -> int:
        """Products per ``matmat`` call this operator serves best: the ``probes`` it was
        built for under ``revrev`` (one rebuild of each chunk's graph serves them all), 1
        under ``cached`` (a batched backward over a kept graph was slower per product:
        docs/benchmarks.md §1, the ``matmat`` rows)."""
        return self._probes if self.engine == "revrev" else 1

    def serves(self, probes: int) -> bool:
        """Whether this operator is the one the same inputs would give for ``probes`` runs in
        lockstep: ``probes`` sets only an accelerator's chunks (and so its engine) and the
        recomputing engine's ``lockstep``, none of which a CPU's cached engine has."""
        return probes == self._probes or (self.device.type == "cpu" and self.engine == "cached")

    def gradient(self) -> Tensor:
        """Flat mean gradient (for the "not at a minimum" warning), on the params' device."""
        if self._cached_grad is not None:
            return all_reduce_sum(self._flatten([g.detach() for g in self._cached_grad]))
        return all_reduce_sum(self._flatten(self._weighted_gradient(create_graph=False)))

    def matvec(self, v: Tensor) -> Tensor:
        """``H @ v`` for a flat vector ``v`` of length ``dim``; returned like ``v``."""
        raise_if_signalled()  # the products are the long work: a swallowed Ctrl-C stops it here
        if v.shape != (self.dim,):
            raise UsageError(f"HVP vector has shape {tuple(v.shape)}, expected ({self.dim},)")
        parts = self._unflatten(v.to(device=self.device, dtype=self.dtype))
        if self._cached_grad is not None:
            hv = self._second_backward(self._cached_grad, parts, retain=True)
        else:
            hv = [torch.zeros_like(p) for p in self.params]
            for w, batch in zip(self._weights, self._chunks):
                grads = self._batch_gradient(batch, create_graph=True)
                for acc, h in zip(hv, self._second_backward(grads, parts, retain=False)):
                    acc.add_(h, alpha=w)
        out = all_reduce_sum(self._flatten(hv))  # the shards' weighted sums make the global H v
        _require_finite(out)
        self.hvps += 1
        return out.to(v)

    def matmat(self, V: Tensor) -> Tensor:
        """``H @ V`` for the columns of ``V`` (dim × k) in one batched backward pass.

        Batching the products with ``is_grads_batched`` (vmap over the second backward)
        amortises the graph traversal; it is how the exact Hessian is formed quickly.
        Where the batched pass fails and a single product does not (an operation without a
        batching rule, a wrong one such as torch's for group norm's double backward, or out
        of memory for k products at once) the operator announces it once (a warning, and a
        line in ``fallback``) and from then on takes one product per column; an error of
        the single product propagates.
        """
        raise_if_signalled()
        if V.ndim != 2 or V.shape[0] != self.dim:
            raise UsageError(f"HVP block has shape {tuple(V.shape)}, expected ({self.dim}, k)")
        if V.shape[1] == 1:  # a batched pass of one column costs more than a plain product (convolutions)
            return self.matvec(V[:, 0])[:, None]
        # The products are computed a row per vector: contiguous rows are what vmap batches over.
        return self._row_products(V.T.contiguous()).T

    def _row_products(self, vs: Tensor) -> Tensor:
        """``H vᵢ`` for every row ``vᵢ`` of ``vs`` (k × dim), as rows."""
        if self.fallback is not None:
            return torch.stack([self.matvec(v) for v in vs])
        k = vs.shape[0]
        flat = vs.to(device=self.device, dtype=self.dtype)
        parts = [c.reshape(k, *s) for c, s in zip(flat.split(self._numels, dim=1), self._shapes)]
        failure = None
        try:
            if self._cached_grad is not None:
                hv = self._second_backward(self._cached_grad, parts, retain=True, batched=True)
            else:
                hv = [torch.zeros(k, *p.shape, dtype=p.dtype, device=p.device) for p in self.params]
                for w, batch in zip(self._weights, self._chunks):
                    grads = self._batch_gradient(batch, create_graph=True)
                    for acc, h in zip(hv, self._second_backward(grads, parts, retain=False, batched=True)):
                        acc.add_(h, alpha=w)
        except RuntimeError as exc:
            failure = str(exc).splitlines()[0][:120]
        # under torchrun every rank falls back when one does (a rank without data never fails),
        # or one rank's single products would meet another's batched all-reduce
        if any_rank(failure is not None):
            first = self.matvec(vs[0])  # batching is only a speed-up: a failing single product is the real error
            self.fallback = (
                f"batched Hessian-vector products failed ({failure or 'on another rank'}); "
                f"taking them one at a time, up to {k}x slower"
            )
            warn(self.fallback, stacklevel=3)
            return torch.stack([first] + [self.matvec(v) for v in vs[1:]])
        out = all_reduce_sum(torch.cat([h.reshape(k, -1) for h in hv], dim=1))
        _require_finite(out)
        self.hvps += k
        return out.to(vs)

    # ------------------------------------------------------------------ internals
    def _chunk_size(self, chunking: int | str, budget_mb: float) -> int | None:
        """Samples per chunk, or None to keep the caller's batches."""
        if chunking == "batches":
            return None
        if isinstance(chunking, int):
            return chunking
        # On an accelerator the budget is shared by one chunk's graph and the second
        # backward's temporaries, about one graph's worth a probe (a batched product's peak
        # grew by 0.70-1.07 chunk graphs per extra probe on a LeNet: docs/benchmarks.md,
        # "Lockstep SLQ on the recomputing engine").
        target = CPU_CHUNK_BYTES if self.device.type == "cpu" else budget_mb * 2**20 / (1 + self._probes)
        return max(1, int(target // max(self._bytes_per_sample, 1.0)))

    def _checked_chunks(
        self, batches: list[Batch], size: int | None, sizes: list[int], losses: np.ndarray
    ) -> list[Batch]:
        """``batches`` (with first-pass ``sizes`` and ``losses``) re-sliced into chunks of
        ``size`` samples, after checking the data.

        Refuses data whose two passes differ (``InputError``). Keeps the batches as given
        when they cannot be concatenated, or when the chunked mean loss differs from the
        batch-weighted one (a ``loss_fn`` that is not a per-sample mean).
        """
        chunks = _rechunked(batches, size) if size is not None else None
        tried = chunks is not None and [batch_size(c) for c in chunks] != sizes
        failure = None
        if tried:
            try:
                chunk_losses = self._pass_losses(chunks)
            except USER_CODE_ERRORS as exc:  # a model that fixes its batch size still runs on the batches given
                failure = user_failure(exc)
            else:
                chunk_sizes = np.array([batch_size(c) for c in chunks])
                if np.isclose(chunk_sizes @ chunk_losses, np.dot(sizes, losses), rtol=_CHUNK_RTOL, atol=1e-9):
                    return chunks
        again = self._pass_losses(batches)
        if len(again) != len(losses) or not np.allclose(losses, again, rtol=1e-6, atol=1e-9):
            raise InputError(
                "the data loader is not deterministic (two passes over the analysis data gave "
                "different losses); use a fixed order and no random augmentation"
            )
        if tried:  # the fix is the caller's code: no command takes chunk_samples, which skips this check
            weighted = class_weighted(self.loss_fn)
            why = (f"{weighted} has a class weight, so a batch's loss is its mean over its labels' weights, not over "
                   "its samples, and merging batches changes it: HVPs walk your batches as given, each weighed by "
                   "its sample count, which is torch's weighted mean over the whole data only where every batch "
                   "holds the classes alike"
                   if failure is None and weighted else
                   "the loss is not a per-sample mean (merging batches changed it), so HVPs walk your batches as "
                   "given; return the batch's mean loss (a sum weighs each batch by its size once more)"
                   if failure is None else
                   f"the model or the loss fails on a chunk of {batch_size(chunks[0])} samples ({failure}), so HVPs "
                   "walk your batches as given; let them take batches of any size to merge them")
            warn(why, stacklevel=3)
        return batches

    def _pass_losses(self, batches: list[Batch]) -> np.ndarray:
        # ε and the loss at IEEE float32, as ``theory.epsilon.batch_losses`` takes them: the
        # products alone run at the caller's TF32/bfloat16 switches (their rounding part says so)
        with torch.no_grad(), ieee_float32():
            losses = np.array([float(self.loss_fn(self.model, b)) for b in batches])
        if not np.all(np.isfinite(losses)):
            raise NumericalError("the loss is NaN/Inf on the analysis data; check the model and data")
        return losses

    def _require_gradients(self, batch: Batch) -> None:
        """Refuse, on ``batch``, a loss that no Hessian parameter reaches (there is no graph
        to differentiate) and reentrant checkpoint segments that keep gradients from some
        (``prunelimit.models.activation_checkpointing``)."""
        with torch.enable_grad(), gradient_checkpoints() as segments:
            loss = self.loss_fn(self.model, batch)
            grads = torch.autograd.grad(loss, self.params, allow_unused=True) if loss.requires_grad else None
        if "reentrant" in segments and (grads is None or None in grads):
            raise reentrant_checkpoint_error()
        if grads is None:
            raise InputError("the loss depends on none of the Hessian's parameters (forward detaches its output, or "
                             "computes it under torch.no_grad()), so it has no curvature; compute forward with "
                             "gradients")

    def _batch_gradient(self, batch: Batch, create_graph: bool) -> list[Tensor]:
        # Every graph an HVP differentiates again is built here. Fused attention kernels (flash,
        # memory-efficient, cuDNN; flash on CPU too) have no double backward, the math one has;
        # nor do cuDNN's recurrent kernels (``native_recurrence``).
        with torch.enable_grad(), CheapDoubleBackward(), sdpa_kernel(SDPBackend.MATH), \
                native_recurrence(self.model, self.device):
            loss = self.loss_fn(self.model, batch)
            grads = torch.autograd.grad(
                loss, self.params, create_graph=create_graph, allow_unused=True
            )
        return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, self.params)]

    def _weighted_gradient(self, create_graph: bool) -> list[Tensor]:
        # One summed gradient over all chunks: one backward call per HVP traverses every
        # chunk's kept graph, with no per-chunk Python loop. Each chunk's graph is built by
        # its own backward, so the second backward walks the chunks one after another (one
        # backward of the summed loss would interleave them, working on every chunk's graph at
        # once instead of one: slower as soon as the graphs together outgrow the cache).
        total = [torch.zeros_like(p) for p in self.params]
        for w, batch in zip(self._weights, self._chunks):
            for i, g in enumerate(self._batch_gradient(batch, create_graph)):
                total[i] = total[i] + w * g
        return total

    def _second_backward(
        self, grads: list[Tensor], parts: list[Tensor], retain: bool, batched: bool = False
    ) -> list[Tensor]:
        live = [i for i, g in enumerate(grads) if g.requires_grad]
        lead = (parts[0].shape[0],) if batched else ()
        hv: tuple[Tensor | None, ...] = (None,) * len(self.params)
        if live:  # otherwise the loss is linear in every parameter: H = 0
            try:
                hv = torch.autograd.grad(
                    [grads[i] for i in live],
                    self.params,
                    grad_outputs=[parts[i] for i in live],
                    retain_graph=retain,
                    allow_unused=True,
                    is_grads_batched=batched,
                )
            except RuntimeError as exc:  # NotImplementedError too
                raise _not_twice_differentiable(exc) or exc
        return [p.new_zeros(*lead, *p.shape) if h is None else h for p, h in zip(self.params, hv)]

    def _choose_engine(self, engine: str, budget_mb: float) -> str:
        if engine == "revrev":
            return "revrev"
        # Every rank must pick the same engine: SLQ's lockstep, hence its collectives, follows it
        # (the largest rank's graphs, if cached, against the budget).
        need_mb = self.graph_need_mb = agreed_max(self._bytes_per_sample * sum(self.chunk_sizes()) / 2**20)
        if need_mb <= budget_mb:
            return "cached"
        if engine == "cached":
            warn(
                f"cached HVP graphs need about {need_mb:.3g} MB, over the {budget_mb:.3g} MB "
                "budget; falling back to the recomputing engine (raise the memory budget to keep them)",
                stacklevel=3,
            )
        return "revrev"

    def _graph_bytes(self, batch: Batch) -> int:
        """Bytes of the tensors a first-order graph of ``batch`` saves for the second backward.

        Parameters (shared across batches) and the batch's own tensors (held as data, and
        often views of a whole data set) are not counted; other storages are counted once.
        """
        held = list(self.model.parameters()) + [t for t in batch if isinstance(t, Tensor)]
        param_ptrs = {t.untyped_storage().data_ptr() for t in held}
        seen: set[int] = set()
        total = 0

        def pack(t: Tensor) -> Tensor:
            nonlocal total
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr not in param_ptrs and ptr not in seen:
                seen.add(ptr)
                total += storage.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            self._batch_gradient(batch, create_graph=True)
        return total

    def _unflatten(self, v: Tensor) -> list[Tensor]:
        return [c.view(s) for c, s in zip(v.split(self._numels), self._shapes)]

    @staticmethod
    def _flatten(parts: list[Tensor]) -> Tensor:
        return torch.cat([p.reshape(-1) for p in parts])


@contextmanager
def native_recurrence(model: nn.Module, device: torch.device) -> Iterator[None]:
    """cuDNN off while it holds, where ``model`` has a recurrent layer (``nn.RNN``/``LSTM``/``GRU``)
    on a CUDA device: cuDNN's RNN kernels have no backward in eval mode ("cudnn RNN backward
    can only be called in training mode") and no double backward; torch's native recurrence
    is the same function built from differentiable ops. Only such models pay for it (their
    convolutions then run without cuDNN as well). A TorchScript model's recurrent layers
    (scripted, traced or loaded) count by the class they were compiled from (``module_class``)."""
    if device.type != "cuda" or not any(issubclass(module_class(m), nn.RNNBase) for m in model.modules()):
        yield
        return
    # only ``enabled``: ``torch.backends.cudnn.flags`` would also reset TF32 and benchmarking
    enabled = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = False
    try:
        yield
    finally:
        torch.backends.cudnn.enabled = enabled


_NO_SECOND_DERIVATIVE = re.compile(r"derivative for '?([\w:.]+?)'? is not implemented")


def _not_twice_differentiable(exc: RuntimeError) -> InputError | None:
    """The input error for a model with an operation PyTorch cannot differentiate twice
    (``nn.EmbeddingBag``, CTC loss, ...): a property of the model, not a bug
    of ours; None for any other error."""
    found = _NO_SECOND_DERIVATIVE.search(str(exc))
    if found is None:
        return None
    return InputError.naming(
        f"the model uses {found[1]}, which PyTorch cannot differentiate twice, as Hessian-vector "
        "products need; build that layer from other operations (nn.EmbeddingBag: nn.Embedding, then "
        "mean or sum), or leave its parameters out of the Hessian with {0} when it is the first layer",
        "exclude",
    )


def _require_finite(products: Tensor) -> None:
    # One reduction instead of an elementwise isfinite pass: a float64 sum is NaN/Inf iff
    # an entry is (float32 entries cannot overflow it).
    if not bool(torch.isfinite(products.sum(dtype=torch.float64))):
        raise NumericalError("the Hessian-vector product contains NaN/Inf; check the model and data")


def _converted(
    model: nn.Module, params: list[nn.Parameter], dtype: torch.dtype
) -> tuple[nn.Module, list[nn.Parameter]]:
    """A copy of ``model`` in ``dtype`` and the copies of ``params`` within it."""
    originals = list(model.parameters())
    index = {id(p): i for i, p in enumerate(originals)}
    # A TorchScript module's deepcopy clones its parameters through autograd (non-leaf copies
    # that warn in ``.to``); copied without grad they are leaves, and requires_grad is restored.
    with torch.no_grad():
        copy = clone_model(model).to(dtype)
    copied = list(copy.parameters())
    for original, c in zip(originals, copied):
        c.requires_grad_(original.requires_grad)
    return copy, [copied[index[id(p)]] for p in params]


def _refuse_loss_of_another_type(exc: RuntimeError, model: nn.Module, batches: list[Batch],
                                 given: torch.dtype) -> None:
    """An ``InputError`` saying why, when ``exc`` is the loss failing on ``model``, a copy in
    another float type than the ``given`` model's (the exact spectrum's float64), while the copy
    itself runs: a tensor the loss holds of its own (a class weight a lambda captures) stayed in
    the model's type, and torch said only ``expected scalar type Double but found Float``."""
    converted = next(model.parameters()).dtype
    if converted == given or not batches:
        return
    try:
        with torch.no_grad():
            model(batches[0][0])
    except Exception:  # noqa: BLE001 (the copy fails itself: torch's error is the one to read)
        return
    kind, held = str(converted).removeprefix("torch."), str(given).removeprefix("torch.")
    raise InputError(f"the loss fails on the {kind} copy of the model the curvature is computed on "
                     f"({user_failure(exc)}): a tensor the loss holds of its own (a class weight a lambda captures) "
                     f"is {held}; compute with it in the output's type (weight=w.to(output.dtype)), or give torch's "
                     "criterion, nn.CrossEntropyLoss(weight=w), whose tensors join the copy's type") from exc


def _cast(batches: list[Batch], dtype: torch.dtype) -> list[Batch]:
    return [tuple(t.to(dtype) if t.is_floating_point() else t for t in b) for b in batches]


def _rechunked(batches: list[Batch], size: int) -> list[Batch] | None:
    """The samples of ``batches`` in order, cut into chunks of ``size`` (the last shorter).

    None when the batches cannot be concatenated: different arity, trailing shapes or
    dtypes, or a tensor that is not per-sample (its length differs from the batch size).
    """
    if not batches:  # an empty shard
        return []
    head = batches[0]
    for b in batches:
        n = batch_size(b)
        if len(b) != len(head) or any(
            t.dim() == 0 or t.shape[0] != n or t.shape[1:] != h.shape[1:] or t.dtype != h.dtype
            for t, h in zip(b, head)
        ):
            return None
    if len(batches) == 1 and batch_size(head) <= size:
        return list(batches)
    columns = [_joined([b[i] for b in batches]).split(size) for i in range(len(head))]
    return list(zip(*columns))


def _joined(parts: list[Tensor]) -> Tensor:
    """``torch.cat(parts)``, as a view where the parts lie end to end in one storage (the
    batches of a loaded data set): a copy would double the data set in memory."""
    first = parts[0]
    offsets = itertools.accumulate((p.numel() for p in parts[:-1]), initial=first.storage_offset())
    adjacent = all(p.is_contiguous() and p.untyped_storage().data_ptr() == first.untyped_storage().data_ptr()
                   and p.storage_offset() == offset for p, offset in zip(parts, offsets))
    if not adjacent:
        return torch.cat(parts)
    rows = sum(p.shape[0] for p in parts)
    return first.new_empty(0).set_(first.untyped_storage(), first.storage_offset(), (rows, *first.shape[1:]))


def _warm_autograd() -> None:
    """Pay autograd's one-off set-up for gradients with given ``grad_outputs`` (torch 2.13
    imports ``torch.fx.experimental.symbolic_shapes`` on the first: 0.2-1.3 s against a
    0.5 ms product on a 99-parameter MLP) on a one-element graph, not on the first product:
    a time budget prices the next products at the runs' rate so far, and that first
    product's cost stopped `--method slq --time-budget 3` after one step of a run that
    takes 0.7 s in all. Costs nothing once paid."""
    x = torch.zeros(1, requires_grad=True)
    torch.autograd.grad(x * 2, x, grad_outputs=torch.ones(1))
