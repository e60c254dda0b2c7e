"""A ``verify`` result passes on the prediction it was given, as docs/library.md shows
(``prediction_from=report.bounds``). Given a ``BoundsReport`` in hand, ``verify`` returned
``bounds=None``: the next call took that ``None`` as no prediction and computed one anew with its
own options, in silence (an exact ρ* = 80.39 % ± 0 pt passed on as ``gate(…,
prediction_from=report.bounds, max_hvps=60)`` gated ρ* = 78 % ± 22 pt)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

import prunelimit
from prunelimit.errors import UsageError


@pytest.fixture
def computed(model, train):
    return prunelimit.bounds(model, train, method="exact")


def test_a_verify_result_passes_the_bounds_it_was_given_on(model, train, computed, no_curvature):
    report = prunelimit.verify(model, train, prediction_from=computed)
    assert report.bounds == computed
    passed = pickle.loads(pickle.dumps(report)).bounds  # and so does its copy
    assert prunelimit.gate(model, train, min_ratio=0.1, prediction_from=passed).estimate.ratio == computed.ratio
    assert prunelimit.prune(model, "auto", train, prediction_from=passed).requested == computed.ratio
    with pytest.raises(UsageError, match="max_hvps has no effect"):  # a prediction, whose options are its own
        prunelimit.gate(model, train, min_ratio=0.1, prediction_from=passed, max_hvps=60)


def test_its_json_states_the_prediction_as_read(model, train, computed, tmp_path, no_curvature):
    """The report's JSON is as before: the prediction read (``prediction_from`` names it, no
    products of this run), not computed here; a saved file's report is still not rebuilt."""
    import json

    from prunelimit.api.limit import GIVEN_BOUNDS
    from prunelimit.report.jsonout import document

    report = prunelimit.verify(model, train, prediction_from=computed)
    body = report.to_json()
    assert body == dataclasses.replace(report, bounds=None).to_json()
    assert body["prediction_from"] == GIVEN_BOUNDS and body["timing"]["hvps"] == 0
    path = tmp_path / "bounds.json"
    path.write_text(json.dumps(document("bounds", computed.to_json())))
    assert prunelimit.verify(model, train, prediction_from=path).bounds is None
