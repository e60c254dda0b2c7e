"""``==`` on results that hold arrays or tensors: a dataclass's own ``__eq__`` compares its
fields as tuples, and an array among them answers element-wise, which ``bool`` refuses
(``The truth value of an array … is ambiguous``), so comparing two results raised."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T", bound=type)


def equal_values(a: Any, b: Any) -> bool:
    """``a`` and ``b`` hold the same values: arrays and tensors of one type, shape, dtype
    (and device) and entries, dataclasses of one class field by field, containers item by
    item; a NaN equals a NaN, as a result read back from a pickle or JSON holds another NaN."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return type(a) is type(b) and a.device == b.device and a.dtype == b.dtype and a.shape == b.shape \
            and bool(torch.equal(a, b) or (a.is_floating_point() and ((a == b) | (a.isnan() & b.isnan())).all()))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape \
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(equal_values(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a) if f.compare)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal_values(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(equal_values, a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def compared_by_value(cls: T) -> T:
    """``cls`` (a dataclass) with an ``__eq__`` of :func:`equal_values`: put above
    ``@dataclass``, which would otherwise write its own."""
    def __eq__(self: Any, other: Any) -> bool:
        return equal_values(self, other) if other.__class__ is self.__class__ else NotImplemented

    cls.__eq__ = __eq__  # type: ignore[method-assign]
    return cls
