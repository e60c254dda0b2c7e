"""``verify --from`` (and ``gate --from`` on an ``actual`` rule) starts its search from the
dense point the saved report's overshoot check measured (``overshoot.dense_loss`` and
``dense_accuracy``), as ``verify`` starts from the one its own ``bounds`` measured: it measured
the model as given again, one pass of the search's ~25, because the report held no dense
accuracy. A report that states none (an older prunelimit's), or was measured at another device
or float precision, has the point measured here, as before."""

from __future__ import annotations

import json

import pytest

import prunelimit
from prunelimit.pruning import actual
from prunelimit.report.jsonout import document


@pytest.fixture
def saved(small_model, train, tmp_path):
    """A small model's exact ``bounds`` report, saved: its overshoot check measured the dense point."""
    report = document("bounds", prunelimit.bounds(small_model, train, method="exact").to_json())
    return report, tmp_path / "bounds.json"


@pytest.fixture
def dense_given(monkeypatch):
    """The dense point each search was given (``measured_dense``), in call order."""
    given, search = [], actual.actual_limit

    def recorded(*args, measured_dense=None, **kwargs):
        given.append(measured_dense)
        return search(*args, measured_dense=measured_dense, **kwargs)

    monkeypatch.setattr(actual, "actual_limit", recorded)
    return given


def _verified(model, data, report: dict, path) -> dict:
    path.write_text(json.dumps(report))
    return prunelimit.verify(model, data, prediction_from=path).to_json()


def test_the_search_starts_from_the_dense_point_the_report_measured(small_model, train, saved, dense_given,
                                                                    no_curvature):
    """Measured before: the search was given no dense point and measured it again."""
    report, path = saved
    stated = report["overshoot"]
    assert stated["dense_accuracy"] is not None  # digits: the labels are classes
    doc = _verified(small_model, train, report, path)
    assert dense_given == [actual.CurvePoint(0.0, stated["dense_loss"], stated["dense_accuracy"])]
    assert (doc["actual"]["dense_loss"], doc["actual"]["dense_accuracy"]) == \
        (stated["dense_loss"], stated["dense_accuracy"])


@pytest.mark.parametrize("older", ["no accuracy", "other device", "no precision"])
def test_a_report_that_cannot_say_has_the_point_measured_to_the_same_answer(small_model, train, saved, dense_given,
                                                                              no_curvature, older):
    """An older report (no ``dense_accuracy``, no ``precision``) or one made on a GPU: measured
    here, and the search answers as from the stated point (the same weights and data, the
    same device and float settings: the same loss, to the last bit)."""
    report, path = saved
    read = _verified(small_model, train, report, path)["actual"]
    if older == "no accuracy":
        edited = {**report, "overshoot": {k: v for k, v in report["overshoot"].items() if k != "dense_accuracy"}}
    elif older == "other device":
        edited = {**report, "precision": {**report["precision"], "device": "cuda"}}
    else:
        edited = {k: v for k, v in report.items() if k != "precision"}
    measured = _verified(small_model, train, edited, path)["actual"]
    assert dense_given[1] is None and measured["evaluations"] == read["evaluations"] + 1  # the dense pass
    same = ("seconds", "evaluations")
    assert {k: v for k, v in measured.items() if k not in same} == {k: v for k, v in read.items() if k not in same}


def test_a_gate_on_the_measured_limit_starts_from_it_too(small_model, train, saved, dense_given, no_curvature):
    """``gate --from`` with a rule on ``actual`` beside one on ``lower`` runs ``verify --from``'s search."""
    report, path = saved
    path.write_text(json.dumps(report))
    prunelimit.gate(small_model, train, rules=[{"min_ratio": 0.0}, {"min_ratio": 0.0, "use": "actual"}], prediction_from=path)
    stated = report["overshoot"]
    assert dense_given == [actual.CurvePoint(0.0, stated["dense_loss"], stated["dense_accuracy"])]
