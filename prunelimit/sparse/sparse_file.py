"""The sparse checkpoint file: safetensors (no pickle) with its layout in the metadata header.

The header's metadata holds ``format`` (:data:`FORMAT`), ``tensors`` (a JSON list, one
entry per state-dict tensor: ``name``, ``shape``, ``format`` and, when present,
``negzero`` and ``mask``), ``model`` (the model spec, if known), ``meta`` (JSON: the
data specs and pruning record of the checkpoint it came from) and, when the state dict
holds tied weights, ``aliases`` (a JSON list of ``{"name", "of", "at"}``: the state-dict
key ``name`` at position ``at`` is the tensor stored as ``of``, stored once, and shares its
keep-mask unless ``"mask": false`` says the key had none; a reader that ignores the entry
still reads every stored tensor). Tensor ``i`` is stored as
the parts of its layout (:mod:`prunelimit.sparse.formats`) under ``"{i}/{part}"``; its
negative zeros under ``"{i}/negzero/{part}"``; its keep-mask, when it is not exactly the
stored pattern (``"mask": "values"``), under ``"{i}/mask/{part}"``.

:func:`load_sparse` returns the dense state dict bit for bit as it was exported, a tied
tensor as one tensor under each of its names.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from prunelimit.errors import InputError
from prunelimit.sparse.formats import (PATTERN_FORMATS, TENSOR_FORMATS, Counts, decode, decode_pattern, encode,
                                       float_bits, matrix_shape, negative_zeros, part_names, storage_key,
                                       stored_pattern)
from prunelimit.io.atomic import write_atomic
from prunelimit.limits import check_complete, check_expansion, check_loaded, expands_too_far, require_file

FORMAT = "prunelimit.sparse/1"
MASK_IS_PATTERN = "values"  # the keep-mask is exactly the set of stored values


@dataclass(frozen=True)
class TensorLayout:
    """How one tensor is stored: its layout, the layouts of its extras, and the bytes of each.

    ``stored``: entries the layout keeps (nonzero, NaN included); ``negzero``/``mask``:
    the layout of the −0.0 positions and of a keep-mask that differs from the stored
    pattern (``None``: nothing stored; ``mask`` ``"values"``: the mask is the pattern);
    ``alias``: the name of the tensor this one is tied to (stored there: no bytes here).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    format: str
    stored: int
    dense_bytes: int
    bytes: int
    negzero: str | None = None
    negzero_bytes: int = 0
    mask: str | None = None
    mask_bytes: int = 0
    alias: str | None = None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def density(self) -> float:
        return self.stored / self.numel if self.numel else 1.0

    @property
    def total_bytes(self) -> int:
        return self.bytes + self.negzero_bytes + self.mask_bytes

    def header_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "format": self.format}
        if self.negzero is not None:
            entry["negzero"] = self.negzero
        if self.mask is not None:
            entry["mask"] = self.mask
        return entry


@dataclass
class SparseContents:
    """A sparse file read back: the dense state dict, masks, model spec, meta and layouts."""

    state_dict: dict[str, Tensor]
    masks: dict[str, Tensor] = field(default_factory=dict)
    model_spec: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def plan_tensor(index: int, name: str, tensor: Tensor, mask: Tensor | None) -> tuple[TensorLayout, dict[str, Tensor]]:
    """The smallest layout of ``tensor`` (with its negative zeros and mask) and its named parts."""
    tensor = tensor.detach().cpu()
    rows, cols = matrix_shape(tuple(tensor.shape))
    pattern = stored_pattern(tensor).reshape(rows, cols)
    counts = Counts(rows, cols, int(pattern.sum()), tensor.element_size())
    # a large layer pruned to (almost) nothing: its CSR would be refused by the reader as a size bomb
    readable = tuple(f for f in TENSOR_FORMATS if not expands_too_far(counts.bytes("dense"), counts.bytes(f)))
    fmt = counts.smallest(readable)
    parts = {f"{index}/{k}": v for k, v in encode(fmt, tensor, pattern).items()}
    layout = dict(format=fmt, bytes=counts.bytes(fmt))
    negzero = negative_zeros(tensor).reshape(rows, cols) if fmt != "dense" else None
    if negzero is not None and bool(negzero.any()):
        layout.update(_pattern_parts(parts, f"{index}/negzero", negzero, "negzero"))
    if mask is not None:
        keep = mask.detach().cpu().bool().reshape(rows, cols)
        if torch.equal(keep, pattern):
            layout["mask"] = MASK_IS_PATTERN
        else:
            layout.update(_pattern_parts(parts, f"{index}/mask", keep, "mask"))
    dtype = str(tensor.dtype).removeprefix("torch.")
    return TensorLayout(name, tuple(tensor.shape), dtype, stored=counts.stored,
                        dense_bytes=tensor.numel() * tensor.element_size(), **layout), parts


def _pattern_parts(parts: dict[str, Tensor], prefix: str, pattern: Tensor, what: str) -> dict[str, Any]:
    counts = Counts(*pattern.shape, int(pattern.sum()), 0)
    fmt = counts.smallest(PATTERN_FORMATS)
    parts.update({f"{prefix}/{k}": v for k, v in encode(fmt, None, pattern, with_values=False).items()})
    return {what: fmt, f"{what}_bytes": counts.bytes(fmt)}


@dataclass(frozen=True)
class SparseBytes:
    """A sparse file's content before it is written: the layout of each tensor and the
    file's parts, in order (its size is known without the file, which a staged write
    renames into place only later)."""

    layouts: list[TensorLayout]
    parts: tuple[bytes | memoryview, ...]

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    def write(self, path: str | Path, force: bool = False) -> None:
        """Write the file atomically."""
        def writer(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                for part in self.parts:
                    handle.write(part)

        write_atomic(path, writer, force)


def write_sparse(path: str | Path, state_dict: Mapping[str, Tensor], masks: Mapping[str, Tensor],
                 model_spec: str | None = None, meta: Mapping[str, Any] | None = None,
                 force: bool = False) -> list[TensorLayout]:
    """Write ``state_dict`` in its smallest layouts, atomically; return the layout of each tensor
    (a tied one's, with no bytes, names the tensor it is stored as)."""
    encoded = encode_sparse(state_dict, masks, model_spec, meta)
    encoded.write(path, force)
    return encoded.layouts


def encode_sparse(state_dict: Mapping[str, Tensor], masks: Mapping[str, Tensor], model_spec: str | None = None,
                  meta: Mapping[str, Any] | None = None) -> SparseBytes:
    """The sparse file of ``state_dict`` (see :func:`write_sparse`), not yet written."""
    from safetensors.torch import save

    ties = tied(state_dict, masks)
    layouts, tensors, stored = [], {}, {}
    for name, tensor in state_dict.items():
        if name in ties:
            layouts.append(replace(stored[ties[name]], name=name, alias=ties[name], dense_bytes=0, bytes=0,
                                   negzero_bytes=0, mask_bytes=0,
                                   mask=stored[ties[name]].mask if name in masks else None))
            continue
        stored[name], parts = plan_tensor(len(stored), name, tensor, masks.get(name))
        layouts.append(stored[name])
        tensors.update(parts)
    compact = {"separators": (",", ":")}
    header = {"format": FORMAT, "tensors": json.dumps([l.header_entry() for l in stored.values()], **compact),
              "meta": json.dumps(_json_meta(meta or {}), **compact)}
    if ties:
        header["aliases"] = json.dumps([_alias_entry(l, at, masks) for at, l in enumerate(layouts)
                                        if l.alias is not None], **compact)
    if model_spec is not None:
        header["model"] = model_spec
    return SparseBytes(layouts, _ordered(save(tensors, metadata=header)))


def _ordered(data: bytes) -> tuple[bytes, bytes, memoryview]:
    """Safetensors ``data`` with its metadata in sorted key order, as the file's parts.
    safetensors writes the metadata from a Rust ``HashMap``, whose order changes from call
    to call: the same export gave other bytes on each run. The header is JSON whose data
    offsets count from the end of the header, so it may be rewritten at another length
    (padded with spaces to 8 bytes, as safetensors pads it)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little"), text, memoryview(data)[8 + size:]


def _alias_entry(layout: TensorLayout, at: int, masks: Mapping[str, Tensor]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": layout.name, "of": layout.alias, "at": at}
    if layout.name not in masks and layout.alias in masks:
        entry["mask"] = False  # read back, the key has no mask of its own, as in the checkpoint
    return entry


def tied(state_dict: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> dict[str, str]:
    """Name → the earlier name of the same tensor (tied weights: one storage, offset, shape,
    strides and dtype) whose keep-mask is the same, or which has none of its own (``prune``
    masks each Parameter once, under its first key); a tensor that only overlaps another,
    or is masked otherwise, is stored on its own."""
    first: dict[tuple, str] = {}
    ties = {}
    for name, tensor in state_dict.items():
        if tensor.numel() == 0:  # an empty storage has no address to share: nothing to save
            continue
        target = first.setdefault(storage_key(tensor), name)
        mask, target_mask = masks.get(name), masks.get(target)
        if target != name and (mask is None or (
                target_mask is not None and torch.equal(mask.bool(), target_mask.bool()))):
            ties[name] = target
    return ties


def _json_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``meta`` JSON can hold (data specs, the pruning record); others are dropped."""
    kept = {}
    for key, value in meta.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        kept[str(key)] = value
    return kept


def read_sparse(path: str | Path) -> SparseContents:
    """Read an exported file back; ``InputError`` naming the damage when it is not a valid one."""
    from safetensors import SafetensorError

    from prunelimit.io.safetensors_bytes import read_safetensors

    path = Path(path)
    try:
        tensors, header = read_safetensors(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable safetensors file ({type(exc).__name__}: {exc})") from None
    if header.get("format") != FORMAT:
        raise InputError(f"{path} is not a prunelimit sparse file (no {FORMAT} header); "
                         "write one with `prunelimit export`")
    return decode_sparse(path, header, tensors)


def decode_sparse(path: Path, header: Mapping[str, str], tensors: dict[str, Tensor]) -> SparseContents:
    """The contents of the sparse export ``path`` from its safetensors metadata and tensors."""
    try:
        contents = _decode_file(header, tensors)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"sparse file {path} is damaged ({exc}); export it again") from None
    except RecursionError:
        raise InputError(f"sparse file {path}: its header nests JSON too deeply to read; it is corrupt or "
                         "hostile") from None
    # the meta a torch checkpoint may hold, no more: it is copied into every file written from this one
    check_loaded(contents.meta, f"sparse file {path}")
    return contents


def _decode_file(header: Mapping[str, str], tensors: dict[str, Tensor]) -> SparseContents:
    entries = json.loads(header.get("tensors", "null"))
    meta = json.loads(header.get("meta", "{}"))
    if not isinstance(entries, list) or not isinstance(meta, dict):
        raise ValueError("its tensors or meta entry is not a JSON list/object")
    contents = SparseContents({}, meta=meta, model_spec=header.get("model"))
    aliases = json.loads(header.get("aliases", "[]"))
    expected: set[str] = set()
    for index, entry in enumerate(entries):
        name, shape, fmt = _entry(entry)
        prefix = f"{index}/"
        expected |= _expected_names(prefix, entry)
        try:
            contents.state_dict[name], mask = _decode_tensor(prefix, entry, fmt, shape, tensors)
        except ValueError as exc:
            raise ValueError(f"tensor {name!r}: {exc}") from None
        if mask is not None:
            contents.masks[name] = mask
    if len(contents.state_dict) != len(entries):
        raise ValueError("a tensor name appears twice")
    extra = sorted(set(tensors) - expected)
    if extra:
        raise ValueError(f"stored tensor {extra[0]!r} belongs to no layout")
    return _with_aliases(contents, aliases)


def _with_aliases(contents: SparseContents, aliases: Any) -> SparseContents:
    """``contents`` with each tied name back at its place in the state dict, as the very
    tensor (and mask) of the name it is stored as."""
    if not isinstance(aliases, list):
        raise ValueError("its aliases entry is not a JSON list")
    names = list(contents.state_dict)
    for alias in aliases:
        name, of, at, masked = ((alias.get("name"), alias.get("of"), alias.get("at"), alias.get("mask", True))
                                if isinstance(alias, dict) else (None,) * 4)
        if not isinstance(name, str) or name in names or of not in contents.state_dict or not isinstance(at, int) \
                or isinstance(at, bool) or not 0 <= at <= len(names) or not isinstance(masked, bool):
            raise ValueError(f"alias {alias!r} names no new key, stored tensor and place")
        names.insert(at, name)
        if of in contents.masks and masked:
            contents.masks[name] = contents.masks[of]
    ties = {alias["name"]: alias["of"] for alias in aliases}
    contents.state_dict = {name: contents.state_dict[ties.get(name, name)] for name in names}
    return contents


def _entry(entry: Any) -> tuple[str, tuple[int, ...], str]:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ValueError("a layout entry has no name")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ValueError(f"tensor {entry['name']!r} has no valid shape")
    if entry.get("format") not in TENSOR_FORMATS:
        raise ValueError(f"tensor {entry['name']!r} has unknown layout {entry.get('format')!r}")
    for extra, allowed in (("negzero", PATTERN_FORMATS), ("mask", (MASK_IS_PATTERN, *PATTERN_FORMATS))):
        if extra in entry and entry[extra] not in allowed:
            raise ValueError(f"tensor {entry['name']!r} has unknown {extra} layout {entry[extra]!r}")
    return entry["name"], tuple(shape), entry["format"]


def _expected_names(prefix: str, entry: dict) -> set[str]:
    names = {prefix + p for p in part_names(entry["format"])}
    if "negzero" in entry:
        names |= {f"{prefix}negzero/{p}" for p in part_names(entry["negzero"], with_values=False)}
    if entry.get("mask", MASK_IS_PATTERN) != MASK_IS_PATTERN:
        names |= {f"{prefix}mask/{p}" for p in part_names(entry["mask"], with_values=False)}
    return names


def _parts(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix) and "/" not in k[len(prefix):]}


def _decode_tensor(prefix: str, entry: dict, fmt: str, shape: tuple[int, ...],
                   tensors: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
    parts = _parts(tensors, prefix)
    values = parts.get("dense" if fmt == "dense" else "values")
    itemsize = values.element_size() if values is not None else 1
    check_expansion(math.prod(shape) * itemsize, sum(t.numel() * t.element_size() for t in parts.values()),
                    f"tensor of shape {shape}")
    dense = decode(fmt, parts, shape)
    rows, cols = matrix_shape(shape)
    if "negzero" in entry:
        if not dense.is_floating_point():
            raise ValueError("negative zeros recorded for a tensor that is not floating point")
        negzero = decode_pattern(entry["negzero"], _parts(tensors, prefix + "negzero/"), rows, cols)
        if bool((dense.view(rows, cols)[negzero] != 0).any()):
            raise ValueError("a negative zero lies on a stored value")
        bits = float_bits(dense).view(rows, cols)  # masked_fill has no float8 kernel
        bits[negzero] = torch.iinfo(bits.dtype).min  # the sign bit alone: −0.0 in every float format
    mask = entry.get("mask")
    if mask is None:
        return dense, None
    if mask == MASK_IS_PATTERN:
        return dense, stored_pattern(dense)
    return dense, decode_pattern(mask, _parts(tensors, prefix + "mask/"), rows, cols).view(shape)


def load_sparse(path: str | Path) -> dict[str, Tensor]:
    """The dense state dict (name → tensor) of the file at ``path`` (a ``str`` or ``Path``)
    written by ``prunelimit export``, bit for
    bit as exported (tied weights as one tensor under each name, as ``state_dict()`` gives
    them); ``InputError`` when the file is missing, not a sparse export, or damaged.

    >>> import tempfile
    >>> weight = torch.tensor([[0.0, 1.5, 0.0, 0.0], [0.0, 0.0, -2.0, 0.0]])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "model.safetensors"
    ...     layouts = write_sparse(path, {"fc.weight": weight}, {"fc.weight": weight != 0})
    ...     torch.equal(load_sparse(path)["fc.weight"], weight)
    True
    """
    from prunelimit.io.checkpoint import file_format

    path = Path(path)
    require_file(path, "sparse file")
    if path.stat().st_size == 0:
        raise InputError(f"sparse file {path} is empty; export it again")
    check_complete(path, "sparse file")
    # named for what it is: the safetensors parser would speak of a header too large
    kind = file_format(path)
    if kind == "torch":
        raise InputError(f"{path} is a PyTorch file (torch.save's format), not a sparse export; read it with "
                         f"torch.load, or export it first: prunelimit export {path} -o {path.stem}.safetensors")
    if kind in ("npz", "npy"):
        raise InputError(f"{path} is a NumPy file, not a sparse export; read it with numpy.load")
    return read_sparse(path).state_dict
