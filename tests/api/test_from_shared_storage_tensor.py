"""A scripted module's plain tensor attribute sliced from the storage a parameter views (one flat
storage: the weight its first 256 floats, the attribute the last 4) is stored in that storage, so
the archive holds no more storages than the state dict views and reports recorded no
``weights.tensors``: two archives differing in it alone (a gradient scale of 1.0 or 0.2; the loss
on the data the same) had one ``weights.fingerprint`` and ``weights.code``, and ``gate --from`` read
one's ρ* for the other (76.90 % for 85.57 % on a trained copy, seen). The bytes of a storage no
state-dict tensor views count as a tensor held outside it now."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError
from prunelimit.report.jsonout import document


class _FlatScaled(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        flat = torch.empty(64 * 4 + 4)
        flat[:256] = self.a.weight.detach().reshape(-1)
        flat[256:] = scale
        self.a.weight = nn.Parameter(flat[:256].view(4, 64))
        self.scale = flat[256:]  # the identity in value, its gradient scaled

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.b(h.detach() * (1.0 - self.scale) + h * self.scale)


def _gate(model, data, report):
    return prunelimit.gate(model, data, min_ratio=0.0, use="predicted", prediction_from=report)


def test_a_report_of_another_tensor_in_a_parameters_storage_is_refused(train, tmp_path):
    one, other = torch.jit.script(_FlatScaled(1.0)), torch.jit.script(_FlatScaled(0.2))
    assert other.scale.untyped_storage().data_ptr() == other.a.weight.untyped_storage().data_ptr()
    report, own = prunelimit.bounds(one, train), prunelimit.bounds(other, train)
    assert report.ratio != own.ratio
    with pytest.raises(UsageError, match="was computed for another problem than this model: a tensor the model's "
                                         "TorchScript holds outside its state dict differs"):
        _gate(other, train, report)
    weights, theirs = report.to_json()["weights"], own.to_json()["weights"]
    assert (weights["fingerprint"], weights["code"]) == (theirs["fingerprint"], theirs["code"])  # what read them alike
    assert None is not weights["tensors"] != theirs["tensors"]
    assert _gate(one, train, report).estimate.ratio == report.ratio
    # a report that recorded none for this code (before such a tensor was told apart) is read, saying so
    older = document("bounds", report.to_json())
    older["weights"]["tensors"] = None
    path = tmp_path / "older.json"
    path.write_text(json.dumps(older))
    told = [w for w in _gate(other, train, path).warnings if "does not record the tensors" in w]
    assert len(told) == 1


@pytest.mark.parametrize("views", ["whole", "two halves", "transposed", "a slice", "every other", "empty"])
def test_a_storage_counts_as_held_where_the_state_dict_views_each_of_its_bytes(views):
    from prunelimit.baseline import _viewed_whole

    flat = torch.arange(12.0)
    held = {"whole": [flat], "two halves": [flat[6:], flat[:6]], "transposed": [flat.view(3, 4).t()],
            "a slice": [flat[:8]], "every other": [flat[::2]], "empty": [torch.empty(0)]}[views]
    assert _viewed_whole(held) is (views not in ("a slice", "every other"))
