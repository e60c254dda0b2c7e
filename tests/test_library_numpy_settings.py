"""Settings that are sequences of numbers (``milestones``, ``pressures``, ``region``) as a
notebook holds them: a list of NumPy scalars is read as the Python numbers it holds, as one
NumPy scalar is, and an array or tensor is refused naming the tuple to give. A list of
``np.int64`` milestones was kept as it was in the result's ``LompConfig``
(``milestones=[np.int64(1), np.int64(2)]``); an array raised NumPy's 'The truth value of an
array with more than one element is ambiguous' (``milestones``, ``region``) or 'operands could
not be broadcast together' (``pressures``, set beside the default ladder). A config dataclass
built directly holds the Python numbers too, as the keyword arguments give them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import prunelimit
from prunelimit.api.options import CurvatureOptions
from prunelimit.errors import OptionError
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.laws.nplh import NplhConfig
from prunelimit.pruning.finetune import FinetuneConfig
from prunelimit.pruning.lomp import LompConfig
from tests.conftest import LIBRARY_SAMPLES, SPEC


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


# Each config dataclass a notebook builds directly, with NumPy scalars (as read from a sweep's
# arrays) and a 0-d tensor where numbers belong; the kwargs path read them as numbers already.
_NUMPY_BUILT = [
    (LompConfig, dict(epochs=np.int64(3), lr=np.float32(0.05), seed=np.int64(1), schedule="step",
                      milestones=(np.int64(1), np.int64(2)), gamma=torch.tensor(0.5))),
    (NplhConfig, dict(mode="iterative", rate=np.float32(0.2), finetune_steps=np.int64(2), seed=np.int64(3))),
    (NplhConfig, dict(mode="pressure", pressures=(np.float64(0.5), np.float64(1.0), np.float64(2.0),
                                                   np.float64(4.0), np.float64(8.0)))),
    (HyperfluxConfig, dict(pruning_epochs=np.int64(2), gate_lr=np.float32(0.02), seed=np.int64(1))),
    (ImpConfig, dict(rate=np.float64(0.3), levels=np.int64(2), seed=np.int64(1))),
    (FinetuneConfig, dict(epochs=np.int64(2), lr=np.float32(0.01), seed=np.int64(4))),
    (CurvatureOptions, dict(method="exact", eta=np.float32(0.02), seed=np.int64(1))),
]


def _python_value(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(map(_python_value, value))
    return value is None or type(value) in (bool, int, float, str)


@pytest.mark.parametrize("kind, settings", _NUMPY_BUILT, ids=[f"{k.__name__}-{i}" for i, (k, _) in enumerate(_NUMPY_BUILT)])
def test_a_config_built_with_numpy_scalars_holds_the_python_numbers(kind, settings):
    config = kind(**settings)
    plain = kind(**{name: _plain_value(value) for name, value in settings.items()})
    assert all(_python_value(getattr(config, f.name)) for f in dataclasses.fields(config)), config
    assert repr(config) == repr(plain) and "np." not in repr(config)


def _plain_value(value):
    if isinstance(value, tuple):
        return tuple(map(_plain_value, value))
    return value.item() if isinstance(value, (np.generic, torch.Tensor)) else value


def test_the_default_pressure_ladder_is_python_floats():
    assert all(type(p) is float for p in NplhConfig().pressures)


def test_nplh_of_a_numpy_built_config_gives_the_keyword_arguments_result_and_its_json(model, train):
    law = prunelimit.nplh(model, train, config=NplhConfig(mode="iterative", rate=np.float64(0.25),
                                                          finetune_steps=np.int64(2), seed=np.int64(3)))
    keywords = prunelimit.nplh(model, train, mode="iterative", rate=0.25, finetune_steps=2, seed=3)
    assert json.dumps(law.to_json()) == json.dumps(keywords.to_json())


def test_api_train_with_a_numpy_seed_trains_as_with_its_int(tmp_path):
    """``seed * 1_000_003 + epoch`` of an ``np.int64`` seed overflowed in the epoch's shuffle
    (``OverflowError: Python int too large to convert to C long``)."""
    from prunelimit import api

    runs = [api.train(SPEC, "digits:train", tmp_path / f"{i}.pt", LompConfig(epochs=1, lr=0.05, seed=seed),
                      max_samples=LIBRARY_SAMPLES)
            for i, seed in enumerate((np.int64(1), 1))]
    assert runs[0].history == runs[1].history
    json.dumps(runs[0].to_json())


def test_law_points_built_from_an_arrays_items_fit_as_from_arrays():
    """``LawPoints(tuple(density), tuple(gamma))`` of float32 arrays kept ``np.float32`` items:
    ``json.dumps(prunelimit.fit_nplh(points).to_json())`` failed ('float32 is not JSON serializable')."""
    from prunelimit.laws.points import LawPoints

    gamma = np.geomspace(1e-2, 1, 30).astype(np.float32)
    density = (0.01 * gamma ** -0.7).astype(np.float32)
    points = LawPoints(tuple(density), tuple(gamma))
    assert json.dumps(prunelimit.fit_nplh(points).to_json()) == \
        json.dumps(prunelimit.fit_nplh(LawPoints.from_arrays(density, gamma)).to_json())
    assert all(type(v) is float for v in (*points.density, *points.gamma))


def test_a_zero_dimensional_array_is_read_as_its_number_as_a_zero_dimensional_tensor_is(model):
    """``seed=np.array(3)`` (``np.asarray`` of a number) was refused as 'a ndarray, not a number',
    where ``seed=torch.tensor(3)`` was read as 3."""
    assert prunelimit.prune(model, np.array(0.5)) == prunelimit.prune(model, torch.tensor(0.5)) \
        == prunelimit.prune(model, 0.5)
    config = LompConfig(epochs=np.array(3), lr=0.05, seed=np.array(1))
    assert (config.epochs, config.seed) == (3, 1) and type(config.seed) is int
