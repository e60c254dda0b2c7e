"""``verify``'s console on a prediction given in hand (``prediction_from=`` a ``BoundsReport``):
the report holds the ``BoundsReport`` (``bounds``, so that it passes on), and the console read
that as a prediction computed in this run, printing its cost (``spectrum: 16 HVPs in …``)
beside ``prediction read from … (no curvature work)``; its JSON already says the run spent no
products. It now prints what it prints for a saved file: the stated solver line, no cost."""

from __future__ import annotations

import json
import re

import torch

import prunelimit
from prunelimit.report import console
from prunelimit.report.jsonout import document


def _small() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 3)), (torch.randn(64, 6), torch.randint(0, 3, (64,)))


def test_a_bounds_report_given_is_read_as_a_saved_one_is(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # each line whole, the file's name as long as the source's
    model, data = _small()
    predicted = prunelimit.bounds(model, data, batch_size=16, method="exact")
    saved = tmp_path / "bounds.json"
    saved.write_text(json.dumps(document("bounds", predicted.to_json())))
    given = prunelimit.verify(model, data, batch_size=16, prediction_from=predicted)
    read = prunelimit.verify(model, data, batch_size=16, prediction_from=str(saved))
    assert given.bounds is predicted and given.to_json()["timing"]["hvps"] == 0  # no products in this run
    console.render_verify(given)
    shown = capsys.readouterr().out
    console.render_verify(read)
    from_file = capsys.readouterr().out
    assert "\nspectrum: " not in shown and console.cost(predicted.spectrum) not in shown, shown
    assert "prediction read from the BoundsReport given as prediction_from (no curvature work)" in shown
    # the rest as for the file it would be saved to: the same lines but the one naming the source
    # (and the search's own seconds, which the clock gives)
    def lines(out: str) -> str:
        return re.sub(r"passes in [0-9.]+ s", "passes in … s", out)

    assert lines(shown.replace("the BoundsReport given as prediction_from", str(saved))) == lines(from_file)
