"""A prediction of another model that holds the same weights (another activation) is refused
by ``prediction_from=`` and ``--from``: its weights, data, tensor layout and loss name are
this model's, its Python code (``weights.python``) and its loss on the data are not; the loss
tells them apart where a report of an older prunelimit records no code."""

from __future__ import annotations

import json

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError
from prunelimit.report.jsonout import document

from tests.conftest import LIBRARY_SAMPLES


def _twins():
    """A ReLU and a Tanh MLP of one state dict."""
    torch.manual_seed(0)
    relu = torch.nn.Sequential(torch.nn.Linear(64, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10))
    tanh = torch.nn.Sequential(torch.nn.Linear(64, 12), torch.nn.Tanh(), torch.nn.Linear(12, 10))
    tanh.load_state_dict(relu.state_dict())
    return relu, tanh


def test_a_prediction_of_another_model_with_the_same_weights_is_refused(train, tmp_path):
    """``verify(tanh, data, prediction_from=bounds(relu, data))`` read the ReLU model's ρ*
    (0.804, where the Tanh model's own is 0.744) without a word; verify, gate and prune
    now refuse it, by its code, or by its loss where the report records no code, and the
    model's own prediction is still read."""
    relu, tanh = _twins()
    computed = prunelimit.bounds(relu, train, method="exact")
    older = document("bounds", computed.to_json())
    del older["weights"]["python"]
    (tmp_path / "older.json").write_text(json.dumps(older))
    for saved, refused in ((computed, "computed for another problem than this model: the model's Python code differs"),
                           (tmp_path / "older.json", "computed for another model than this one: its loss on these data")):
        for call in (lambda: prunelimit.verify(tanh, train, prediction_from=saved),
                     lambda: prunelimit.gate(tanh, train, min_ratio=0.0, prediction_from=saved),
                     lambda: prunelimit.prune(tanh, "auto", train, prediction_from=saved)):
            with pytest.raises(UsageError, match=refused):
                call()
    assert prunelimit.prune(relu, "auto", train, prediction_from=computed).requested == computed.ratio


def test_the_command_lines_from_refuses_it_too(cli, train, tmp_path):
    """The same check behind ``--from``: a checkpoint given another ``--model`` spec's forward."""
    relu, tanh = _twins()
    report = tmp_path / "relu.json"
    report.write_text(json.dumps(document("bounds", prunelimit.bounds(relu, train, method="exact").to_json())))
    torch.save(tanh, tmp_path / "tanh.pt")
    refused = cli("verify", tmp_path / "tanh.pt", "--trust-pickle", "--data", "digits:train", "--max-samples",
                  LIBRARY_SAMPLES, "--from", report)
    assert refused.exit_code == 2 and "the model's Python code differs" in refused.stderr, refused.stderr


def test_a_loss_moved_by_less_than_a_tenth_of_epsilon_is_the_same_model(cli, train, tmp_path):
    """Devices round a fit near zero loss by percents of it (TF32 logits), where a tenth of ε
    leaves the sublevel set as it was: such a report is read; one moved by more is refused.
    (ε = 0.5 given, so a tenth of it, 0.05, is far above 0.1 % of the loss, 2.3e-3.)"""
    relu, _ = _twins()
    saved = document("bounds", prunelimit.bounds(relu, train, method="exact", epsilon=0.5).to_json())
    torch.save(relu, tmp_path / "relu.pt")
    for moved, code in ((0.04, 0), (0.06, 2)):
        report = tmp_path / f"moved-{moved}.json"
        report.write_text(json.dumps({**saved, "loss": saved["loss"] + moved}))
        read = cli("gate", tmp_path / "relu.pt", "--trust-pickle", "--data", "digits:train", "--max-samples",
                   LIBRARY_SAMPLES, "--min-ratio", "0", "--from", report)
        assert read.exit_code == code, (moved, read.stderr)
