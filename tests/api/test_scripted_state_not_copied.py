"""A TorchScript module whose own ``__getstate__``/``__setstate__`` leave out or change what it holds:
the curvature's float64 copy goes through them, and ``bounds`` ended in an internal error (exit 5,
a traceback under --debug: torch's TypeError, an IndexError over the lost parameter) or ran on another
model than the one given. It is an input error (exit 3) in one line naming the module and the fix, as
the eager module that loses an attribute so is (its copy's forward fails, naming its line)."""

import sys

import pytest
import torch

HEAD = '''import torch
from torch import nn
from typing import Tuple


class Head(nn.Module):
    def __init__(self):
        super().__init__()
INIT
        self.scale = 2.0

    @torch.jit.export
    def __getstate__(self) -> Tuple[bool, int]:
        return (self.training, 0)

    @torch.jit.export
    def __setstate__(self, state: Tuple[bool, int]) -> None:
        self.training = state[0]
SET

    def forward(self, x):
        return FORWARD * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 12)
        self.h = Head()

    def forward(self, x):
        return self.h(torch.relu(self.a(x)))


def make():
    torch.manual_seed(0)
    return torch.jit.script(Net())
'''

# what each __setstate__ sets besides `training` (the rest it leaves uninitialised)
# Head's last layer: a Linear submodule, a weight of its own, or none (the first 10 of 12 features)
LAYERS = {"submodule": ("        self.b = nn.Linear(12, 10)", "self.b(x)"),
          "parameter": ("        self.w = nn.Parameter(torch.randn(10, 12) * 0.3)", "(x @ self.w.t())"),
          "none": ("        pass", "x[:, :10]")}
# (Head's layer, what its __setstate__ sets besides `training`): TorchScript cannot build a module or
# parameter there, so each is left uninitialised in the copy
SETS = {
    "a submodule": ("submodule", "        self.scale = 2.0"),  # torch's own deepcopy fails (TypeError)
    "a parameter": ("parameter", "        self.scale = 2.0"),  # the copy holds no `w` (an IndexError after)
    "a value": ("parameter", "        pass"),  # nor `scale`
    # the copy computes 1.0 * ..., not 2.0 * ...: the curvature of another model, exit 0 before
    "another value": ("none", "        self.scale = 1.0"),
}
SAID = {"a submodule": "its copy failed in torch: TypeError", "a parameter": "its copy leaves out 'w'",
        "a value": "its copy leaves out 'scale'", "another value": "its copy holds another 'scale'"}


@pytest.mark.parametrize("lost", SETS)
def test_a_scripted_module_its_state_does_not_copy_whole_is_an_input_error(cli, tmp_path, monkeypatch, lost):
    layer, sets = SETS[lost]
    init, forward = LAYERS[layer]
    (tmp_path / "headnet.py").write_text(HEAD.replace("INIT", init).replace("FORWARD", forward).replace("SET", sets))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "headnet", raising=False)
    import headnet

    torch.save(headnet.make().state_dict(), tmp_path / "net.pt")
    result = cli("bounds", tmp_path / "net.pt", "--model", f"{tmp_path / 'headnet.py'}:make",
                 "--data", "digits:train", "--max-samples", "300", "--threads", "1", "--no-cache")
    assert result.exit_code == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert f"TorchScript module 'h' cannot be copied for the curvature's float64 products ({SAID[lost]}" in lines[0]
    assert "its __getstate__/__setstate__ must keep every parameter, submodule and value it holds" in lines[0]
    assert result.stdout == ""


def test_a_scripted_module_holding_nan_copies_whole():
    """A value the copy holds as the model does is no difference, NaN included (NaN == NaN is false):
    a float attribute and a buffer holding NaN, through torch's own copy."""
    from prunelimit.models.clone import clone_model

    class Padded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 2)
            self.fill = float("nan")
            self.register_buffer("missing", torch.tensor([1.0, float("nan")]))

        def forward(self, x):
            return self.fc(torch.nan_to_num(x, nan=0.0))

    model = torch.jit.script(Padded())
    copied = clone_model(model)
    assert torch.equal(copied.fc.weight, model.fc.weight) and copied.missing.isnan().tolist() == [False, True]
