"""``equal_values``: results holding arrays and tensors compare by value, as ``==`` answers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from prunelimit.equality import compared_by_value, equal_values


@compared_by_value
@dataclass(frozen=True)
class _Held:
    values: np.ndarray
    masks: dict
    ratio: float


def _held(ratio: float = 0.5, entry: float = 1.0) -> _Held:
    return _Held(np.array([0.0, entry]), {"w": torch.tensor([True, False])}, ratio)


def test_results_with_arrays_compare_by_their_values():
    assert _held() == _held() and not _held() != _held()
    assert _held() != _held(entry=2.0) and _held() != _held(ratio=0.6)
    assert _held(math.nan) == _held(math.nan)  # a NaN read back from a pickle is another NaN object


def test_arrays_of_another_shape_dtype_or_kind_differ():
    assert not equal_values(np.zeros(2), np.zeros(3))
    assert not equal_values(np.zeros(2), np.zeros(2, dtype=np.float32))
    assert not equal_values(torch.zeros(2), np.zeros(2))
    assert not equal_values(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    assert equal_values(torch.tensor([math.nan, 1.0]), torch.tensor([math.nan, 1.0]))
    assert not equal_values((1, 2), [1, 2])
