"""A report of an eager module read for a scripted copy of it (or the reverse) records no
TorchScript code to compare: it was read in silence, as a report of an older prunelimit is.
It is read (the export a user gates computes as the module did, and the weights and the loss
on the data are compared), saying that the code is not; a report that records no code entry
at all (older) and one of the same kind of model are read as before."""

from __future__ import annotations

import copy
import json

import torch

import prunelimit
from prunelimit.report.jsonout import document

NOT_COMPARED = "their code is not compared, so a forward that differs only in its gradient is not seen"


def _warnings(model, data, report) -> list[str]:
    gate = prunelimit.gate(model, data, min_ratio=0.0, use="predicted", prediction_from=report)
    assert gate.passed
    return gate.warnings


def test_a_report_of_the_eager_module_for_its_scripted_copy_says_the_code_is_not_compared(small_model, train, tmp_path):
    scripted = torch.jit.script(copy.deepcopy(small_model))
    eager_report, scripted_report = prunelimit.bounds(small_model, train), prunelimit.bounds(scripted, train)
    assert eager_report.to_json()["weights"]["code"] is None and scripted_report.to_json()["weights"]["code"]
    told = [w for w in _warnings(scripted, train, eager_report) if NOT_COMPARED in w]
    assert len(told) == 1 and "was computed for a model holding no TorchScript (an eager module), and this one " \
                              "holds TorchScript: taken as computed for this model" in told[0]
    told = [w for w in _warnings(small_model, train, scripted_report) if NOT_COMPARED in w]
    assert len(told) == 1 and "was computed for a model holding TorchScript, and this one holds none" in told[0]
    # the same kind of model, or a report that records no code entry (an older one): as before
    assert not [w for w in _warnings(copy.deepcopy(small_model), train, eager_report) if NOT_COMPARED in w]
    older = document("bounds", eager_report.to_json())
    del older["weights"]["code"]
    path = tmp_path / "older.json"
    path.write_text(json.dumps(older))
    assert not [w for w in _warnings(scripted, train, path) if NOT_COMPARED in w]
