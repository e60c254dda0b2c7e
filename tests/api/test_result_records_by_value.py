"""The records a notebook keeps beside a result compare by value, as the result does: a
``bounds`` result's ``prediction`` (and ``paper``, for ``method="paper"``) was unequal to its
own pickled or deep copy (``==`` was identity), and ``ImpResult.points()`` (``ErrorPoints``)
raised ``ValueError: The truth value of an array … is ambiguous`` on ``==``; the paper
prediction's repr wrote its every grid array (26,049 characters for this 888-weight model)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest

import prunelimit
from prunelimit.laws.errorlaw import ErrorPoints

REPR_MOST = 700  # characters, as tests/report/test_brief_reprs.py holds the other records to


@pytest.fixture(scope="module")
def predictions():
    """A bounds result's ``prediction`` (exact spectrum) and ``paper`` (the reference code's
    path: few Lanczos steps, enough for its grid arrays) on the tiny model."""
    import torch

    from prunelimit.data.spec import load_dataset
    from prunelimit.models.spec import build_model

    from tests.conftest import LIBRARY_SAMPLES, SPEC

    torch.manual_seed(0)
    model = build_model(SPEC)
    data = load_dataset("digits:train", max_samples=LIBRARY_SAMPLES)
    exact = prunelimit.bounds(model, (data.x, data.y), method="exact")
    paper = prunelimit.bounds(model, (data.x, data.y), method="paper", iterations=10, runs=2)
    return {"prediction": exact.prediction, "paper": paper.paper}


@pytest.mark.parametrize("name", ["prediction", "paper"])
def test_a_bounds_results_prediction_equals_its_copies_and_not_a_changed_one(predictions, name):
    record = predictions[name]
    for same in (pickle.loads(pickle.dumps(record)), copy.deepcopy(record)):
        assert record == same and not record != same
    assert record != dataclasses.replace(record, ratio=record.ratio / 2)


def test_the_paper_predictions_repr_writes_its_arrays_by_shape(predictions):
    paper = predictions["paper"]
    text = repr(paper)
    assert len(text) < REPR_MOST and "array(" not in text and "\n" not in text, text
    assert f"ratios=<ndarray {paper.ratios.size}>" in text and f"ratio={paper.ratio!r}" in text


@pytest.mark.parametrize("shape", [{}, {"width": [32.0, 32.0, 64.0], "depth": [2.0, 2.0, 2.0]}])
def test_error_points_compare_by_value(shape):
    """``sweep.points() == sweep.points()`` raised; a point changed, or the training-data
    flag, is another set of points."""
    points = ErrorPoints([1.0, 0.5, 0.25], [0.05, 0.06, 0.1], **shape)
    assert points == pickle.loads(pickle.dumps(points)) and points == copy.deepcopy(points)
    assert points != ErrorPoints([1.0, 0.5, 0.25], [0.05, 0.06, 0.2], **shape)
    assert points != dataclasses.replace(points, on_training_data=True)
    assert repr(points).startswith("ErrorPoints(density=<ndarray 3>, error=<ndarray 3>")


def test_the_points_of_an_imp_sweep_equal_themselves(model, train):
    sweep = prunelimit.imp(copy.deepcopy(model), train, levels=1, epochs_per_level=1, epochs_dense=0)
    assert sweep.points() == pickle.loads(pickle.dumps(sweep)).points()
    assert isinstance(sweep.points().density, np.ndarray)
