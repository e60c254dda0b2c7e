"""``cache.one_look``: within a command, what the user's code put on installed code is looked for
once; what it found is still read by every digest, and the next command looks again."""
import sys

import torch

import prunelimit
from prunelimit import cache
from prunelimit.api import CurvatureOptions
from prunelimit.cache import input_key, one_look, split_key

_SCALE = {"value": 1.0}
_RELU = torch.relu


def _scaled_relu(x, inplace=False):
    return _RELU(x) * _SCALE["value"]


def _digest() -> str:
    torch.manual_seed(0)
    data = (torch.randn(20, 8, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 4)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4))
    return split_key(input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions()))[0]


def _counted_looks(monkeypatch) -> list[int]:
    looks = [0]
    real = cache._found_on_installed

    def counted(users):
        looks[0] += 1
        return real(users)

    monkeypatch.setattr(cache, "_found_on_installed", counted)
    return looks


def test_one_command_looks_once_and_still_reads_what_it_found(monkeypatch):
    """The value a function put on torch reads is read again by each key in the same command."""
    monkeypatch.setattr(torch.nn.functional, "relu", _scaled_relu)
    looks = _counted_looks(monkeypatch)
    with one_look():
        first = _digest()
        assert _digest() == first
        monkeypatch.setitem(_SCALE, "value", 3.0)
        assert _digest() != first
        with one_look():  # a library call within a command: the command's look
            _digest()
    assert looks[0] == 1


def test_the_next_command_finds_what_was_put_since(monkeypatch):
    """A patch of installed code between two commands is keyed by the second (the class of the
    stale verdicts this cache refuses), and outside any command every key looks."""
    looks = _counted_looks(monkeypatch)
    with one_look():
        plain = _digest()
    monkeypatch.setattr(torch.nn.functional, "relu", _scaled_relu)
    with one_look():
        patched = _digest()
    assert patched != plain
    assert _digest() == patched and looks[0] == 3


def test_a_module_reloaded_from_elsewhere_is_judged_by_its_new_file(tmp_path, monkeypatch):
    """``importlib.reload`` keeps the module object and may find its code in another place: the
    user's modules, remembered while ``sys.modules`` is unchanged, follow its ``__file__``."""
    import types

    module = types.ModuleType("plreloaded")
    module.__file__ = str(tmp_path / "plreloaded.py")
    monkeypatch.setitem(sys.modules, "plreloaded", module)
    assert "plreloaded" in cache._users_loaded()
    monkeypatch.setattr(module, "__file__", torch.__file__)  # now found among installed code
    assert "plreloaded" not in cache._users_loaded()
