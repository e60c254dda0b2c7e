"""A report's JSON document given in hand where a saved report is read (``prediction_from=``,
``gate``'s ``baseline=``, a rule's ``baseline``): a result's ``to_json()``, or the dict
``json.load`` gives of a saved file. Each was refused as 'must be a file name, got {'method':
'exact', …}', the document's first characters, with no word of what to give. The refusal now
says what the dict is and what to give: the file it was read from, or the result saved to one
(and ``prediction_from``'s ``BoundsReport`` itself)."""

from __future__ import annotations

import json

import pytest

import prunelimit
from prunelimit.errors import OptionError, UsageError
from prunelimit.report.jsonout import document


@pytest.fixture
def predicted(model, train):
    return prunelimit.bounds(model, train, method="exact")


CALLS = {
    "verify": lambda model, data, doc: prunelimit.verify(model, data, prediction_from=doc),
    "gate": lambda model, data, doc: prunelimit.gate(model, data, min_ratio=0.1, prediction_from=doc),
    "prune": lambda model, data, doc: prunelimit.prune(model, "auto", data, prediction_from=doc),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_a_prediction_document_in_hand_is_told_what_to_give(model, train, predicted, call, no_curvature):
    with pytest.raises(OptionError) as error:
        CALLS[call](model, train, predicted.to_json())
    assert str(error.value) == (
        "prediction_from takes a BoundsReport or the file name of a saved report, got a dict, a result's to_json(); "
        "save the result to a file with its schema key, json.dump(prunelimit.report.jsonout.document('bounds', "
        "report.to_json()), file), and give the file's name, or the BoundsReport itself")
    loaded = json.loads(json.dumps(document("bounds", predicted.to_json())))
    with pytest.raises(OptionError, match=r"got a dict, a saved report's json.load; give the name of the file it "
                                          r"was read from, or the BoundsReport itself$"):
        CALLS[call](model, train, loaded)


def test_a_baseline_document_in_hand_is_told_what_to_give(model, train, predicted, no_curvature):
    loaded = json.loads(json.dumps(document("bounds", predicted.to_json())))
    told = "baseline takes the file name of a saved report, got a dict, a saved report's json.load; give the name " \
           "of the file it was read from"
    with pytest.raises(OptionError) as error:
        prunelimit.gate(model, train, baseline=loaded, max_drop=0.05)
    assert str(error.value) == told
    with pytest.raises(UsageError) as error:
        prunelimit.gate(model, train, rules=[{"baseline": loaded, "max_drop": 0.05}])
    assert str(error.value) == f"gate rule 'rule 1': {told}"
