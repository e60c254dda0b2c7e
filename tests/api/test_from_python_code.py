"""A saved prediction is refused for an eager model whose Python differs from the one it was computed
for, though its weights and its loss on the data are the same (``weights.python`` of a report): a
custom autograd Function's backward scaled by another constant moves the gradient alone, and
``gate --from`` gated a ``--model`` factory's, a pickled module's and a compiled module's new code on
the old code's ρ* in silence (83.12 % read, 89.90 % computed), where the result cache missed."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import UsageError
from prunelimit.report.jsonout import document
from tests.conftest import report_read_back

# an eager model whose custom autograd Function scales the gradient alone by SCALE (the forward is h)
GRADIENT_PY = '''import torch
from torch import nn

SCALE = {scale}


class Twist(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h):
        return h.clone()

    @staticmethod
    def backward(ctx, g):
        return g * SCALE


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

    def forward(self, x):
        return self.b(Twist.apply(torch.relu(self.a(x))))


def build():
    return Net()
'''
DIFFERS = "the model's Python code differs"


def test_a_factory_of_other_gradient_code_is_refused_and_the_cache_misses(cli, tmp_path):
    factory = tmp_path / "grad.py"
    factory.write_text(GRADIENT_PY.format(scale="1.0"))
    torch.manual_seed(0)
    weights = tmp_path / "weights.pt"
    torch.save(nn.ModuleDict({"a": nn.Linear(64, 4), "b": nn.Linear(4, 10)}).state_dict(), weights)  # the factory's
    args = (weights, "--model", f"{factory}:build", "--data", "digits:train", "--max-samples", 200)
    made, report = report_read_back(cli, tmp_path, *args)
    assert made["weights"]["python"]
    factory.write_text(GRADIENT_PY.format(scale="0.1"))
    for command in (("gate", "--min-ratio", 0), ("verify",)):
        refused = cli(command[0], *args, "--from", report, *command[1:])
        assert refused.exit_code == 2, refused.stdout
        assert DIFFERS in refused.stderr and "drop --from" in refused.stderr
    # the cache keys the same code (the bounds above stored the old code's spectrum): a miss, the new ρ*
    # (89.90 % against 83.12 %, as --no-cache computes it)
    ratio = json.loads(cli("bounds", *args, "--json").stdout)["prediction"]["ratio"]
    assert ratio != json.loads(report.read_text())["prediction"]["ratio"]


def _net(folder, monkeypatch, scale: str) -> torch.nn.Module:
    """A fresh ``Net`` of :data:`GRADIENT_PY`, its source imported as ``plgradient`` whatever it holds (a
    notebook's cell run again, a module pickled with its class by name), seeded: one state dict."""
    path = folder / f"plgradient_{len(list(folder.glob('*.py')))}.py"
    path.write_text(GRADIENT_PY.format(scale=scale))
    spec = importlib.util.spec_from_file_location("plgradient", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "plgradient", module)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return module.build()


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "torch.compile"])
def test_an_eager_or_compiled_module_of_other_gradient_code_is_refused(train, tmp_path, monkeypatch, compiled):
    """The model in hand, or ``torch.compile`` of it (read as the module it wraps): the same code, or a
    copy built again, reads its report; the code that scales the backward otherwise is refused."""
    wrap = torch.compile if compiled else (lambda net: net)
    report = prunelimit.bounds(wrap(_net(tmp_path, monkeypatch, "1.0")), train)
    again = wrap(_net(tmp_path, monkeypatch, "1.0"))
    assert prunelimit.gate(again, train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    other = wrap(_net(tmp_path, monkeypatch, "0.1"))
    with pytest.raises(UsageError, match=DIFFERS) as refused:
        prunelimit.gate(other, train, min_ratio=0.0, use="predicted", prediction_from=report)
    assert "prediction_from" in str(refused.value)


def test_a_report_without_python_code_is_read_with_a_warning(train, tmp_path, monkeypatch):
    """A report of an older prunelimit, which records no ``weights.python``, is taken as computed for
    the model, saying so, as for the other entries an older report lacks."""
    older = document("bounds", prunelimit.bounds(_net(tmp_path, monkeypatch, "1.0"), train).to_json())
    del older["weights"]["python"]
    path = tmp_path / "older.json"
    path.write_text(json.dumps(older))
    gate = prunelimit.gate(_net(tmp_path, monkeypatch, "0.1"), train, min_ratio=0.0, use="predicted",
                           prediction_from=path)
    assert any("does not record its model's Python code (an older report)" in w for w in gate.warnings)


class _Unreadable:
    """A value whose attributes cannot be read (its ``__dict__`` raises), as a proxy's or a lazy config's can."""

    @property
    def __dict__(self):
        raise RuntimeError("not loaded")


def test_a_model_or_loss_whose_code_cannot_be_read_is_not_read_from_a_report(train, small_model):
    """What cannot be read cannot be compared: a model holding such a value, or a loss function reading
    one, is refused a report, as a report of either is for any model; the same model and loss without it
    read their own."""
    report = prunelimit.bounds(small_model, train)
    assert prunelimit.gate(small_model, train, min_ratio=0.0, use="predicted", prediction_from=report).passed
    small_model.settings = _Unreadable()
    with pytest.raises(UsageError, match="cannot be compared with this model: this model's code cannot be read"):
        prunelimit.gate(small_model, train, min_ratio=0.0, use="predicted", prediction_from=report)
    del small_model.settings
    settings = _Unreadable()

    def loss(out, target):
        assert settings is not None
        return torch.nn.functional.cross_entropy(out, target)

    unread = prunelimit.bounds(small_model, train, loss=loss)
    assert unread.to_json()["data"]["loss"].endswith("(code=?)")
    for saved, fn in ((unread, loss), (unread, "ce"), (report, loss)):  # the first read in silence before
        with pytest.raises(UsageError, match="cannot be compared with this model: (this loss's code cannot be read|"
                                             "the code of the loss it was computed for could not be read)"):
            prunelimit.gate(small_model, train, loss=fn, min_ratio=0.0, use="predicted", prediction_from=saved)


# a factory whose forward calls a function of a helper module by a name its module holds as a value, the factory's
# argument (a registry's getattr): the function's gradient scale G lies in the helper's code, which no name in the
# code reaches
GETATTR_PY = '''import torch
from torch import nn

import plgetattrhelpers


class Net(nn.Module):
    def __init__(self, activation):
        super().__init__()
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.activation = {held}

    def forward(self, x):
        return self.b(getattr(plgetattrhelpers, {name})(torch.relu(self.a(x))))


def build(activation="scaled"):
    return Net(activation)
'''
HELPERS_PY = "G = {g}\n\n\ndef scaled(h):\n    return h * G + (h * (1 - G)).detach()\n"


@pytest.mark.parametrize("held, name", [("activation", "self.activation"),
                                        ("{activation}", "next(iter(self.activation))")], ids=["string", "set"])
def test_a_helpers_function_the_forward_reaches_by_a_name_it_holds_is_its_python_too(cli, tmp_path, monkeypatch,
                                                                                     held, name):
    """A string a module holds names what the code reads of the user's modules, as a string in the code does
    (``getattr(helpers, "scaled")``): the helper's ``scaled`` edited to scale the gradient by 0.2 was read as the
    same Python, and ``gate --from`` gated on the old ρ* (83.12 %, where the new code's is 53.11 %); the result
    cache, which keys the helper's file, missed. A name in a set the module holds alike."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "nets.py").write_text(GETATTR_PY.replace("{held}", held).replace("{name}", name))
    (tmp_path / "plgetattrhelpers.py").write_text(HELPERS_PY.format(g="1.0"))
    torch.manual_seed(0)
    weights = tmp_path / "weights.pt"
    torch.save(nn.ModuleDict({"a": nn.Linear(64, 4), "b": nn.Linear(4, 10)}).state_dict(), weights)
    args = (weights, "--model", f"{tmp_path / 'nets.py'}:build", "--data", "digits:train", "--max-samples", 200)
    _, report = report_read_back(cli, tmp_path, *args)
    (tmp_path / "plgetattrhelpers.py").write_text(HELPERS_PY.format(g="0.2"))
    monkeypatch.delitem(sys.modules, "plgetattrhelpers", raising=False)
    refused = cli("gate", *args, "--from", report, "--min-ratio", 0)
    assert refused.exit_code == 2, refused.stdout
    assert DIFFERS in refused.stderr
