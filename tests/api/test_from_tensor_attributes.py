"""A scripted module's plain tensor attribute (``self.scale = torch.tensor(0.2)``, no parameter
or buffer) is stored with its tensors but left out of its state dict: two archives that differ
in it alone had one ``weights.fingerprint`` and one ``weights.code``, and ``gate --from`` read
one's ρ* (81.29 %) for the other (87.16 % computed there; the scale moves only the gradient, so
the loss on the data is the same). Reports record ``weights.tensors`` where such a tensor is held.

The same attribute sliced from the storage a parameter views (one flat storage: the weight its
first 256 floats, the attribute the last 4) leaves the archive no more storages than the state
dict views, and reports recorded no ``weights.tensors`` for it (76.90 % read for 85.57 % on a
trained copy, seen): the bytes of a storage no state-dict tensor views count as such a tensor."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError
from prunelimit.report.jsonout import document


class _Scaled(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 16), nn.Linear(16, 10)
        self.scale = torch.tensor(scale)  # the identity in value, its gradient scaled

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.b(h.detach() * (1.0 - self.scale) + h * self.scale)


class _FlatScaled(_Scaled):
    def __init__(self, scale: float) -> None:
        super().__init__(scale)
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        flat = torch.empty(64 * 4 + 4)
        flat[:256] = self.a.weight.detach().reshape(-1)
        flat[256:] = scale
        self.a.weight = nn.Parameter(flat[:256].view(4, 64))
        self.scale = flat[256:]


def _gate(model, data, report):
    return prunelimit.gate(model, data, min_ratio=0.0, use="predicted", prediction_from=report)


@pytest.mark.parametrize("module", [_Scaled, _FlatScaled], ids=["own-storage", "a-parameters-storage"])
def test_a_report_of_another_tensor_attribute_is_refused(module, train, tmp_path):
    one, other = torch.jit.script(module(1.0)), torch.jit.script(module(0.2))
    report, own = prunelimit.bounds(one, train), prunelimit.bounds(other, train)
    assert report.ratio != own.ratio
    with pytest.raises(UsageError, match="was computed for another problem than this model: a tensor the model's "
                                         "TorchScript holds outside its state dict differs"):
        _gate(other, train, report)
    weights, theirs = report.to_json()["weights"], own.to_json()["weights"]
    assert (weights["fingerprint"], weights["code"]) == (theirs["fingerprint"], theirs["code"])  # what read them alike
    assert None is not weights["tensors"] != theirs["tensors"]
    assert _gate(one, train, report).estimate.ratio == report.ratio
    # an older report (no weights.tensors), or one that recorded none for this code (before a
    # tensor in a parameter's storage was told apart), is read, saying that it cannot tell
    for older_kind in ("older", "none"):
        older = document("bounds", report.to_json())
        if older_kind == "older":
            del older["weights"]["tensors"]
        else:
            older["weights"]["tensors"] = None
        path = tmp_path / f"{older_kind}.json"
        path.write_text(json.dumps(older))
        told = [w for w in _gate(other, train, path).warnings if "does not record the tensors" in w]
        assert len(told) == 1
        if older_kind == "older":
            assert "(an older report), and it holds some (a plain tensor attribute of a module)" in told[0]


def test_tensors_are_recorded_only_where_a_module_holds_one_outside_its_state_dict(small_model):
    from prunelimit.baseline import _code

    class _Buffered(nn.Module):  # buffers, persistent or not, are in a scripted module's state dict
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 2)
            self.register_buffer("kept", torch.ones(2))
            self.register_buffer("scale", torch.ones(2), persistent=False)
            for name in ("empty", "void"):  # two storages at one address (0), as every empty one
                self.register_buffer(name, torch.empty(0))

        def forward(self, x):
            return self.lin(x) * self.kept * self.scale

    for model in (torch.jit.script(small_model), torch.jit.script(_Buffered()), small_model):
        assert _code(model)["tensors"] is None
    assert _code(torch.jit.script(_Scaled(1.0)))["tensors"] is not None
