"""``prunelimit export``: a pruned checkpoint → a smaller safetensors file, with measured sizes
and, on request, dense vs sparse latency."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from prunelimit.errors import UsageError, warn
from prunelimit.inputs import Inputs
from prunelimit.io.checkpoint import RawCheckpoint, read_checkpoint, state_and_masks, training_notes
from prunelimit.models.load import checkpoint_meta, recorded_spec, relocated_meta
from prunelimit.report.notebook import export_summary, shown
from prunelimit.sparse.bench import BenchReport
from prunelimit.sparse.sparse_file import TensorLayout, encode_sparse


@dataclass(frozen=True)
class PrunedCheckpoint:
    """The exact tensors of a pruned checkpoint, its keep-masks, model spec and meta."""

    path: Path
    state_dict: dict[str, Tensor]
    masks: dict[str, Tensor]
    model_spec: str | None
    meta: dict
    notes: tuple[str, ...] = ()  # what reading the file passed over (``training_notes``), for the warnings


@shown("export", export_summary)
@dataclass(frozen=True)
class ExportReport:
    """Sizes of the dense state dict and of the exported file, per tensor and in total."""

    checkpoint: str | None  # None: a model or state dict in memory
    output: str
    tensors: list[TensorLayout]
    file_bytes: int
    bench: "BenchReport | None" = None
    warnings: tuple[str, ...] = ()  # what reading the checkpoint (and, with --bench, its inputs) passed over

    @property
    def dense_bytes(self) -> int:
        return sum(t.dense_bytes for t in self.tensors)

    @property
    def data_bytes(self) -> int:
        return sum(t.total_bytes for t in self.tensors)

    @property
    def ratio(self) -> float:
        """File size over the dense tensors' bytes (the header included, so the honest figure)."""
        return self.file_bytes / max(self.dense_bytes, 1)

    def to_json(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "output": self.output,
            "size": {"dense_bytes": self.dense_bytes, "data_bytes": self.data_bytes,
                     "header_bytes": self.file_bytes - self.data_bytes, "file_bytes": self.file_bytes,
                     "ratio": self.ratio},
            "tensors": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "density": t.density,
                         "format": t.format, "dense_bytes": t.dense_bytes, "bytes": t.total_bytes,
                         "negzero": t.negzero, "mask": t.mask, "alias": t.alias} for t in self.tensors],
            "bench": None if self.bench is None else self.bench.to_json(),
            "warnings": list(self.warnings),
        }


def read_pruned(checkpoint: str | Path, model_spec: str | None = None, trust_pickle: bool = False) -> PrunedCheckpoint:
    """The tensors of ``checkpoint`` exactly as stored (no dtype changes), under the names of
    the model's own state dict (a wrapper's prefix, such as a LightningModule's ``model.``,
    removed as the loader removes it); ``UsageError`` when it holds no pruning masks."""
    raw = read_checkpoint(checkpoint, trust_pickle=trust_pickle)
    state, masks = state_and_masks(raw)
    trusted = model_spec is not None or trust_pickle
    # an untrusted recorded factory is never built here, only passed on: its file need not be found
    spec = model_spec or recorded_spec(raw.model_spec, "model", raw.path, missing_ok=not trusted)
    require_masks(masks, _no_masks(raw, model_spec, trust_pickle))
    state, masks = model_names(state, masks, spec, trusted=trusted,
                               recorded_in=raw.path if model_spec is None else None, source=str(raw.path))
    # the specs as read from here, as the model spec is: the copy may be written to another folder
    # a whole module keeps what Pruning.apply recorded, as every other command reads it
    meta = relocated_meta(checkpoint_meta(raw, model_spec), raw.path)
    return PrunedCheckpoint(raw.path, state, masks, spec, meta, training_notes(raw))


def _no_masks(raw: RawCheckpoint, model_spec: str | None, trust_pickle: bool) -> str:
    """Why a checkpoint without masks cannot be exported, and the ``prune`` that gives it
    masks: a file whose meta records a pruning kept its zeros but not its masks (``prune
    --format safetensors``), and pruning it again at its ratio and scope finds them."""
    pruned = raw.meta.get("pruned")
    ratio = pruned.get("ratio") if isinstance(pruned, dict) else None
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
        scope = pruned.get("scope")
        beside = (" (prune --format safetensors writes none); export the checkpoint prune wrote beside it, or"
                  if raw.kind == "safetensors" else ";")
        return (f"checkpoint {raw.path} records a pruning (ratio {ratio:g}) but holds no pruning masks{beside} "
                "derive the masks again: " + _prune_command(raw, model_spec, trust_pickle, f"{ratio:g}",
                                                           scope if isinstance(scope, str) else "global"))
    return (f"checkpoint {raw.path} is not a pruned checkpoint (it holds no pruning masks); prune it first, e.g. "
            + _prune_command(raw, model_spec, trust_pickle, "auto"))


def _prune_command(raw: RawCheckpoint, model_spec: str | None, trust_pickle: bool, ratio: str,
                   scope: str = "global") -> str:
    """The ``prunelimit prune`` of ``raw`` with the options it needs and no others: the
    --trust-pickle this export needed, --model where the file records no architecture (the
    spec typed, else a placeholder; a TorchScript archive or a whole module is its own),
    --data where ``--ratio auto`` has none recorded, and a recorded scope other than global."""
    words = ["prunelimit", "prune", str(raw.path), *(["--trust-pickle"] if trust_pickle else [])]
    if model_spec is not None or (raw.model_spec is None and raw.kind not in ("torchscript", "module")):
        words += ["--model", model_spec or "SPEC"]
    if ratio == "auto" and not raw.meta.get("data"):
        words += ["--data", "SPEC"]
    words += ["--ratio", ratio, *(["--scope", scope] if scope != "global" else []), "-o", "pruned.pt"]
    return shlex.join(words)


def model_names(state: dict[str, Tensor], masks: dict[str, Tensor], spec: str | None,
                trusted: bool, recorded_in: Path | None = None,
                source: str = "") -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``state`` and ``masks`` without the one prefix every key carries when the rest are the
    keys of ``spec``'s model (:func:`prunelimit.models.load.unwrapped`): the exported file
    then loads into the model itself. The model is built only to learn its keys and shapes,
    on the meta device; a factory spec (code) only when ``trusted`` (typed, or --trust-pickle),
    as the loader does. A model the tensors do not fit is refused (an ``InputError`` naming
    the checkpoint ``source``), as the loader refuses it: the file records ``spec``, and every
    command would fail to read it. ``recorded_in``: the file ``spec`` was read from (``None``: typed)."""
    from prunelimit.models.load import build_spec, check_fits, model_fix, unwrapped, with_ties
    from prunelimit.models.spec import imports_code

    if spec is None or (imports_code(spec) and not trusted):
        return state, masks
    # factory code may not run on meta
    expected = build_spec(spec, recorded_in, device=None if imports_code(spec) else "meta").state_dict(keep_vars=True)
    state, masks = unwrapped(expected, state, masks)
    check_fits(expected, with_ties(expected, state, source), source,
               model_fix(state, spec, Path(source) if source else None))
    return state, masks


def require_masks(masks: dict[str, Tensor], refusal: str) -> None:
    """A sparse export stores what is pruned: without masks there is nothing to say so."""
    if not masks:
        raise UsageError(refusal)


def check_output(output: str | Path, option: str = "-o") -> None:
    """An output readers recognise: prunelimit knows a sparse file by its extension."""
    if Path(output).suffix != ".safetensors":
        raise UsageError(f"{option} {output}: end the name in .safetensors (how prunelimit recognises the file)")


def check_options(output: str | Path, bench: bool, pattern: str, device: str) -> None:
    """Refuse, before any work, an output that readers would not recognise and bench options
    that cannot run here."""
    from prunelimit.device import resolve_device
    from prunelimit.sparse.bench import check_pattern

    check_output(output)
    if bench:
        check_pattern(pattern, resolve_device(device))
    elif pattern != "csr":
        raise UsageError(f"--pattern {pattern} chooses the kernel of --bench; add --bench")


def export(checkpoint: str | Path, output: str | Path, model_spec: str | None = None, trust_pickle: bool = False,
           force: bool = False, inputs: "Inputs | None" = None, batch_size: int = 128,
           pattern: str = "csr") -> ExportReport:
    """Write the pruned ``checkpoint`` to ``output`` in the smallest layout per tensor
    (docs/export.md). With ``inputs`` (the same checkpoint loaded as a model, with data),
    first time dense vs sparse inference at batch 1 and ``batch_size`` on its device, the
    prunable set in use (``inputs.selection``) sparse."""
    from prunelimit.sparse.bench import bench

    from prunelimit.io.outputs import Output, preflight
    from prunelimit.models.load import recorded_data

    pruned = read_pruned(checkpoint, model_spec, trust_pickle)
    read = () if inputs is None else inputs.load_warnings  # --bench's loading warned these already
    for note in pruned.notes:  # as every command reading the file says so, once
        if note not in read:
            warn(note, stacklevel=2)
    preflight([Output("-o", Path(output), "safetensors")], [pruned.path, *recorded_data(pruned.meta, pruned.path)],
              force)  # also the data files the checkpoint records, known once it is read
    measured = None
    if inputs is not None:
        if not inputs.batches:
            raise UsageError(f"--bench runs the model on real inputs, and {checkpoint} records no data; "
                             "pass --data SPEC")
        measured = bench(inputs.model, inputs.batches[0][0], tuple(sorted({1, batch_size})), pattern,
                         inputs.selection)
    return write_export(output, pruned.state_dict, pruned.masks, pruned.model_spec, pruned.meta, force,
                        str(pruned.path), measured,
                        pruned.notes if inputs is None else inputs.qualified(pruned.notes))


def write_export(output: str | Path, state_dict: dict[str, Tensor], masks: dict[str, Tensor],
                 model_spec: str | None, meta: dict, force: bool, source: str | None,
                 measured: "BenchReport | None" = None, notes: tuple[str, ...] = ()) -> ExportReport:
    """Write the sparse file and measure it: the one writer of ``prunelimit export`` and of
    the library's ``export`` (``source``: the checkpoint read, ``None`` for a model in memory).
    The size is the content's, not the file's on disk: a staged write puts it there later."""
    encoded = encode_sparse(state_dict, masks, model_spec, meta)
    encoded.write(output, force)
    return ExportReport(source, str(output), encoded.layouts, encoded.size, measured, notes)
