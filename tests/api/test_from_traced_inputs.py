"""A trace's recorded example inputs (``traced_inputs.pkl``: their shapes) are no part of what
it computes: torch reads them only to restore shapes on request. A report of a module traced on
a batch of 2 was refused for the same module traced on a batch of 5 with 'the model's
TorchScript code differs', and the cache missed for the archive saved from it; both now read
each other. A report of an older prunelimit, whose ``weights.code`` holds the inputs, is read
for a trace on the inputs it recorded and refused, saying so, for one on others."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError
from prunelimit.report.jsonout import document


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(64, 16), nn.Linear(16, 10)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def _traced(batch: int) -> torch.jit.ScriptModule:
    torch.manual_seed(0)
    return torch.jit.trace(_Net(), torch.zeros(batch, 64))


def _gated(model, data, report) -> float:
    """ρ* as the gate read it from ``report`` (to the last bit: nothing is computed again)."""
    return prunelimit.gate(model, data, min_ratio=0.0, use="predicted", prediction_from=report).estimate.ratio


def test_a_report_reads_for_the_module_traced_on_another_batch(train, tmp_path):
    report = prunelimit.bounds(_traced(2), train)
    assert _gated(_traced(5), train, report) == report.ratio
    # what an older prunelimit recorded as the code: the example inputs in it
    from prunelimit.baseline import _code

    older = document("bounds", report.to_json())
    older["weights"]["code"] = _code(_traced(2).eval())["code_as_traced"]  # as the run reads it: in eval mode
    assert older["weights"]["code"] not in (None, report.to_json()["weights"]["code"])
    path = tmp_path / "older.json"
    path.write_text(json.dumps(older))
    assert _gated(_traced(2), train, path) == report.ratio
    with pytest.raises(UsageError) as refused:
        _gated(_traced(5), train, path)
    assert "the model's TorchScript differs (its code, a constant compiled into it or a value its modules hold " \
           "besides tensors, or, as an older report recorded it, the example inputs it was traced on)" \
           in str(refused.value)


def test_an_archive_traced_on_another_batch_is_a_cache_hit(cli, tmp_path):
    args = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300, "--min-ratio", 0, "--use",
            "predicted", "--json")
    for batch in (2, 5):
        torch.jit.save(_traced(batch), tmp_path / f"b{batch}.pt")
    first = json.loads(cli("gate", tmp_path / "b2.pt", *args, "--cache-dir", tmp_path / "cache").stdout)
    second = json.loads(cli("gate", tmp_path / "b5.pt", *args, "--cache-dir", tmp_path / "cache").stdout)
    fresh = json.loads(cli("gate", tmp_path / "b5.pt", *args, "--no-cache").stdout)
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    assert second["bounds"]["prediction"] == fresh["bounds"]["prediction"]
