"""A library ``prunelimit.gate(baseline=...)`` refusing its baseline file said how to write one
with the command line ('write it with `prunelimit bounds --json`'), and a baseline of another
problem told to ``json.dump`` a bare ``to_json()``, a file that is refused again (no schema
key): each now names the library's way, the result's document with its schema key, which
the gate then reads. The command line's words are tests/test_bad_input.py's."""

from __future__ import annotations

import json

import pytest

import prunelimit
from prunelimit.errors import InputError, UsageError
from prunelimit.report.jsonout import document

LIBRARY_WAY = "json.dump(prunelimit.report.jsonout.document('bounds', prunelimit.bounds(model, data).to_json()), file)"

DAMAGED = {
    "empty": "",
    "cut short": '{"schema": "prunelimit.bounds/1", "pred',
    "no object": "[1, 2]",
    "no prediction": json.dumps({"schema": "prunelimit.bounds/1"}),
    "another command's": json.dumps({"schema": "prunelimit.spectrum/1"}),
    "a gate report standing on nothing": json.dumps({"schema": "prunelimit.gate/1", "rules": []}),
    "a damaged ±": json.dumps({"schema": "prunelimit.bounds/1", "bounds": {"lower": 0.4, "upper": 0.9},
                               "prediction": {"ratio": 0.5, "uncertainty": {"plus_minus": -1}}}),
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_a_library_gate_refusing_its_baseline_says_how_python_writes_one(kind, model, train, tmp_path,
                                                                         no_curvature):
    _says_the_library_way(tmp_path, DAMAGED[kind],
                          lambda path: prunelimit.gate(model, train, baseline=path, max_drop=0.1, use="predicted"))


def _says_the_library_way(tmp_path, text: str, call) -> None:
    """``call`` on a file holding ``text`` is refused with the library's way to write one."""
    path = tmp_path / "b.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        call(str(path))
    message = str(caught.value)
    assert LIBRARY_WAY in message, message
    assert "--json" not in message, message  # the command line's way is not a library caller's


def test_the_library_way_writes_a_baseline_the_gate_reads_and_one_of_other_data_says_it(model, train, tmp_path):
    """Following the advice gives a file the gate compares; the same model over other data is
    refused, and its fix was a bare to_json() dumped, which the gate refuses."""
    path = tmp_path / "b.json"
    x, y = train
    with path.open("w", encoding="utf-8") as file:  # the advice, as written
        json.dump(document("bounds", prunelimit.bounds(model, (x, y), method="exact").to_json()), file)
    assert prunelimit.gate(model, (x, y), baseline=str(path), max_drop=0.1, use="predicted",
                           method="exact").passed
    with pytest.raises(UsageError) as caught:
        prunelimit.gate(model, (x[:-8], y[:-8]), baseline=str(path), max_drop=0.1, use="predicted", method="exact")
    assert LIBRARY_WAY in str(caught.value) and "--json" not in str(caught.value), caught.value


FROM_DAMAGED = {
    "empty": "",
    "no object": "[1, 2]",
    "another command's": json.dumps({"schema": "prunelimit.spectrum/1"}),
    "bounds out of order": json.dumps({"schema": "prunelimit.bounds/1", "bounds": {"lower": 0.9, "upper": 0.95},
                                       "prediction": {"ratio": 0.5}}),
}


@pytest.mark.parametrize("kind", sorted(FROM_DAMAGED))
def test_a_library_verify_refusing_its_prediction_file_says_how_python_writes_one(kind, model, train, tmp_path,
                                                                                  no_curvature):
    """verify's prediction_from= reads a file as gate's baseline is read, with the same advice."""
    _says_the_library_way(tmp_path, FROM_DAMAGED[kind],
                          lambda path: prunelimit.verify(model, train, prediction_from=path))
