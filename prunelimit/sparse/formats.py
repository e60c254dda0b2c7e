"""The layouts of an exported tensor and their exact size model (docs/export.md).

A tensor is seen as a matrix ``rows × cols`` (``rows`` its first dimension, ``cols`` the
product of the others; a scalar is 1 × 1, a vector 1 × n) with ``k`` stored entries, ``b``
bytes per element. Its layout is the smallest of, by exact byte count:

* ``dense``: every element, ``rows · cols · b`` bytes;
* ``bitmap``: one bit per element, packed (``⌈rows · cols / 8⌉`` bytes), and the ``k`` values;
* ``csr``: compressed sparse rows: the ``k`` values, ``k`` column indices of the smallest
  integer type holding ``cols − 1`` and ``rows + 1`` row pointers of the smallest type
  holding ``k`` (types from :data:`INDEX_DTYPES`).

A *pattern* (a set of positions without values: a keep-mask, the negative zeros) is stored
the same way with ``b = 0``, as a bitmap or as CSR indices, whichever is smaller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

# Smallest first; safetensors stores all four, and uint8 halves the CSR index cost of
# matrices up to 256 columns (every layer of a small MLP).
INDEX_DTYPES = (torch.uint8, torch.int16, torch.int32, torch.int64)
TENSOR_FORMATS = ("dense", "bitmap", "csr")  # ties go to the earlier, simpler layout
PATTERN_FORMATS = ("bitmap", "csr")
PARTS = {"dense": ("dense",), "bitmap": ("bitmap", "values"), "csr": ("crow_indices", "col_indices", "values")}


def index_dtype(largest: int) -> torch.dtype:
    """The smallest of :data:`INDEX_DTYPES` that holds ``largest`` (≥ 0)."""
    return next(d for d in INDEX_DTYPES if largest <= torch.iinfo(d).max)


def matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(rows, cols)`` of the matrix a tensor of ``shape`` is stored as."""
    if len(shape) < 2:
        return 1, math.prod(shape)
    return shape[0], math.prod(shape[1:])


@dataclass(frozen=True)
class Counts:
    """What the size of a layout depends on: the matrix, the stored entries, bytes per value
    (0 for a pattern)."""

    rows: int
    cols: int
    stored: int
    itemsize: int

    def bytes(self, fmt: str) -> int:
        """Exact bytes of ``fmt`` (``dense``, ``bitmap`` or ``csr``): the size model."""
        values = self.stored * self.itemsize
        if fmt == "dense":
            return self.rows * self.cols * self.itemsize
        if fmt == "bitmap":
            return math.ceil(self.rows * self.cols / 8) + values
        if fmt == "csr":
            col = _itemsize(index_dtype(max(self.cols - 1, 0)))
            return values + self.stored * col + (self.rows + 1) * _itemsize(index_dtype(self.stored))
        raise ValueError(f"unknown layout {fmt!r}")

    def smallest(self, formats: tuple[str, ...]) -> str:
        return min(formats, key=self.bytes)


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def stored_pattern(tensor: Tensor) -> Tensor:
    """The entries a sparse layout stores: all but zeros (NaN is stored; −0.0 is a zero,
    kept apart by :func:`negative_zeros`)."""
    return tensor != 0


def negative_zeros(tensor: Tensor) -> Tensor:
    """Where ``tensor`` holds −0.0 (``p * mask`` writes one for every pruned negative weight)."""
    if not tensor.is_floating_point():
        return torch.zeros_like(tensor, dtype=torch.bool)
    return (tensor == 0) & (float_bits(tensor) < 0)


_SIGNED = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}  # by bytes per element


def float_bits(tensor: Tensor) -> Tensor:
    """A float tensor's bits as signed integers of its width (a view): the sign bit is the
    integer's, in every float format; ``torch.signbit`` has no float8 kernel."""
    return tensor.view(_SIGNED[tensor.element_size()])


def zeroed(tensor: Tensor, drop: Tensor) -> Tensor:
    """A copy of ``tensor`` with all bits zero (+0.0, 0 or False) where ``drop`` is True, in every
    dtype: through a signed integer of its width, since torch has no masked_fill for float8 or
    uint16/32/64; a complex128 has no such integer, and a masked_fill of its own."""
    drop = drop.to(tensor.device, torch.bool)
    signed = _SIGNED.get(tensor.element_size())
    if signed is None:
        return tensor.masked_fill(drop, 0)
    return tensor.view(signed).masked_fill(drop, 0).view(tensor.dtype)


def storage_key(tensor: Tensor) -> tuple:
    """What makes two tensors the same tensor (tied weights): one storage, offset, shape,
    strides and dtype; a tensor that only overlaps another has another key."""
    return (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
            tensor.stride(), tensor.dtype)


def encode(fmt: str, tensor: Tensor | None, pattern: Tensor, with_values: bool = True) -> dict[str, Tensor]:
    """The parts of ``tensor`` in layout ``fmt``; ``pattern`` is its stored entries as a 2-D
    matrix (:func:`matrix_shape`). A pattern alone: ``tensor=None, with_values=False``."""
    if fmt == "dense":
        return {"dense": tensor.contiguous().clone()}  # a copy: safetensors refuses tensors sharing memory
    parts: dict[str, Tensor] = {"values": tensor.reshape(pattern.shape)[pattern].contiguous()} if with_values else {}
    if fmt == "bitmap":
        parts["bitmap"] = torch.from_numpy(np.packbits(pattern.flatten().numpy()))
        return parts
    rows, cols = pattern.shape
    stored = int(pattern.sum())
    crow = torch.zeros(rows + 1, dtype=torch.int64)
    torch.cumsum(pattern.sum(dim=1), dim=0, out=crow[1:])
    parts["crow_indices"] = crow.to(index_dtype(stored))
    parts["col_indices"] = pattern.nonzero()[:, 1].to(index_dtype(max(cols - 1, 0)))
    return parts


def part_names(fmt: str, with_values: bool = True) -> tuple[str, ...]:
    return tuple(p for p in PARTS[fmt] if with_values or p != "values")


def decode_pattern(fmt: str, parts: dict[str, Tensor], rows: int, cols: int) -> Tensor:
    """The boolean ``rows × cols`` pattern of a bitmap or CSR layout; ``ValueError`` if damaged."""
    if fmt == "bitmap":
        bitmap = _part(parts, "bitmap", (math.ceil(rows * cols / 8),), (torch.uint8,))
        bits = np.unpackbits(bitmap.numpy())
        if bits[rows * cols:].any():
            raise ValueError("bitmap has bits set past the end of the tensor")
        return torch.from_numpy(bits[: rows * cols].astype(bool)).view(rows, cols)
    crow = _part(parts, "crow_indices", (rows + 1,), INDEX_DTYPES).long()
    steps = crow.diff()
    if int(crow[0]) != 0 or bool((steps < 0).any()):
        raise ValueError("CSR row pointers do not start at 0 and rise")
    col = _part(parts, "col_indices", (int(crow[-1]),), INDEX_DTYPES).long()
    stored = col.numel()
    if stored and (int(col.min()) < 0 or int(col.max()) >= cols):
        raise ValueError(f"CSR column index outside 0..{cols - 1}")
    row = torch.repeat_interleave(torch.arange(rows), steps)
    if stored > 1 and not bool(((col.diff() > 0) | (row.diff() > 0)).all()):
        raise ValueError("CSR column indices are not strictly increasing within a row")
    pattern = torch.zeros(rows, cols, dtype=torch.bool)
    pattern[row, col] = True
    return pattern


def decode(fmt: str, parts: dict[str, Tensor], shape: tuple[int, ...]) -> Tensor:
    """The dense tensor of ``shape`` a layout stores; ``ValueError`` if the parts are damaged."""
    if fmt == "dense":
        return _part(parts, "dense", shape, None)
    rows, cols = matrix_shape(shape)
    pattern = decode_pattern(fmt, parts, rows, cols)
    values = parts.get("values")
    if values is None or values.dim() != 1 or values.numel() != int(pattern.sum()):
        raise ValueError("the number of stored values does not match the pattern")
    # through the bits: torch's index_put has no kernel for float8 or uint16/32/64 (masked_fill,
    # which a one-value put runs, none for float8); a signed integer of the width has every kernel
    stored = values.view(_SIGNED[values.element_size()]) if values.element_size() in _SIGNED else values
    dense = torch.zeros(rows, cols, dtype=stored.dtype)
    dense[pattern] = stored
    return dense.view(values.dtype).view(shape)


def _part(parts: dict[str, Tensor], name: str, shape: tuple[int, ...], dtypes) -> Tensor:
    tensor = parts.get(name)
    if tensor is None:
        raise ValueError(f"part {name!r} is missing")
    if tuple(tensor.shape) != tuple(shape):
        raise ValueError(f"part {name!r} has shape {tuple(tensor.shape)}, expected {tuple(shape)}")
    if dtypes is not None and tensor.dtype not in dtypes:
        raise ValueError(f"part {name!r} has dtype {str(tensor.dtype).removeprefix('torch.')}")
    return tensor
