"""``cache.InputKeys``: the keys of one set of inputs under several kinds and options, the inputs
read once for all of them, each key what :func:`cache.input_key` gives alone."""
import pytest
import torch

import prunelimit
from prunelimit.api import CurvatureOptions
from prunelimit.cache import InputKeys, input_key

_DATA = (torch.randn(20, 8, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 4)


def _inputs(model=None):
    torch.manual_seed(0)
    model = model or torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4))
    return prunelimit.inputs_from(model, _DATA)


_ASKED = [("spectrum", CurvatureOptions()), ("spectrum", CurvatureOptions(method="slq", seed=3)),
          ("adaptive", CurvatureOptions()), ("blocks", CurvatureOptions(method="exact"))]


def test_each_key_is_the_one_input_key_gives_and_the_inputs_are_read_once(monkeypatch):
    from prunelimit import cache

    inputs, witnesses, real = _inputs(), [], cache.loss_witness
    monkeypatch.setattr(cache, "loss_witness", lambda held: witnesses.append(1) or real(held))
    keys = InputKeys(inputs)
    together = [keys(kind, options) for kind, options in _ASKED]
    assert len(witnesses) == 1  # the loss witness, a forward pass, once
    assert together == [input_key(inputs, kind, options) for kind, options in _ASKED]
    assert len(set(together)) == len(together)


def test_inputs_changed_since_are_other_keys_for_other_input_keys():
    """A command that prunes the model keys the pruned one anew (a new ``InputKeys``)."""
    inputs = _inputs()
    before = InputKeys(inputs)("spectrum", CurvatureOptions())
    with torch.no_grad():
        inputs.model[0].weight[0, 0] = 0.0
    assert InputKeys(inputs)("spectrum", CurvatureOptions()) != before


class _Opaque(torch.nn.Module):
    """A module whose attribute runs code that fails when the key reads it."""

    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Linear(8, 4)
        self.settings = _Failing()

    def forward(self, x):
        return self.inner(x)


class _Failing:
    def __getattribute__(self, name):
        if name == "__dict__":
            raise RuntimeError("no settings here")
        return object.__getattribute__(self, name)


def test_inputs_that_cannot_be_read_refuse_every_key_alike():
    keys = InputKeys(_inputs(_Opaque()))
    refusals = []
    for kind, options in _ASKED[:2]:
        with pytest.raises(TypeError) as caught:
            keys(kind, options)
        refusals.append(str(caught.value))
    assert refusals[0] == refusals[1] and "cannot be read for the cache key" in refusals[0]
