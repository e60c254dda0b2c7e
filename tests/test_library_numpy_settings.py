"""Settings that are sequences of numbers (``milestones``, ``pressures``, ``region``) as a
notebook holds them: a list of NumPy scalars is read as the Python numbers it holds, as one
NumPy scalar is, and an array or tensor is refused naming the tuple to give. A list of
``np.int64`` milestones was kept as it was in the result's ``LompConfig``
(``milestones=[np.int64(1), np.int64(2)]``); an array raised NumPy's 'The truth value of an
array with more than one element is ambiguous' (``milestones``, ``region``) or 'operands could
not be broadcast together' (``pressures``, set beside the default ladder)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.errors import OptionError
from prunelimit.laws.nplh import NplhConfig
from prunelimit.pruning.lomp import LompConfig


def test_numpy_milestones_are_recorded_as_python_ints(model, train):
    result = prunelimit.train(model, train, epochs=3, schedule="step", milestones=[np.int64(1), np.int64(2)])
    assert result.config.milestones == [1, 2]
    assert all(type(m) is int for m in result.config.milestones)
    json.dumps(result.to_json())


@pytest.mark.parametrize("array", [np.array([1, 2]), torch.tensor([1, 2])])
def test_milestones_as_an_array_are_refused_naming_the_tuple(array):
    with pytest.raises(OptionError, match=r"^milestones must be a tuple of epochs such as \(10, 20\), got "
                                          r"(ndarray|Tensor) \(int64, shape \(2,\)\); give tuple\(milestones.tolist\(\)\)$"):
        LompConfig(epochs=3, lr=0.05, schedule="step", milestones=array)


def test_region_as_an_array_is_refused_when_the_config_is_built():
    with pytest.raises(OptionError, match=r"^region=ndarray .*: use 'auto' or a \(low, high\) pair of densities; "
                                          r"give tuple\(region.tolist\(\)\)$"):
        NplhConfig(region=np.array([0.005, 0.5]))


def test_pressures_as_an_array_are_refused_when_the_config_is_built():
    with pytest.raises(OptionError, match=r"^pressures must be a tuple of pressures .*; give tuple\(pressures.tolist\(\)\)$"):
        NplhConfig(mode="pressure", pressures=np.array([1e-4, 1e-3, 1e-2]))
