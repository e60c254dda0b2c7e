"""A TorchScript archive holding two variants of one scripted function (``fns.scaled``, a gradient
scale compiled in, defined again between scripting two submodules, as a notebook cell run again
does: torch numbers the second ``fns.___torch_mangle_0.scaled``), each called by another module.
With the numbering left out, the archive with the two scales swapped between the modules read
alike: ``gate two.pt`` after ``bounds one.pt`` served one's ρ* from the cache (95.09 % where
``--no-cache`` gives 93.70 %), and ``gate two.pt --from one.json`` read it too. Which variant each
call names is keyed and recorded (``weights.classes``) now, by the variant's code, not its number:
the same archive made by a process that compiled the function once more between (the second
numbered 1) still hits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from prunelimit.cache import archive_fingerprint, archive_variants

# argv: the scales the two submodules' functions compile in (``1.0,0.2``), the archive; a third,
# ``between``: another ``fns.scaled`` compiled between them, so that the second is numbered 1, not 0;
# ``chain``: the submodules call ``wrap.wrapped``, compiled again after each ``fns.scaled``, the first
# ``fns.scaled`` compiled after another, so that both are numbered and ``wrapped``'s two variants read
# alike with the numbering left out, each calling another variant of ``fns.scaled``
FUNCTION_TWICE_PY = '''import sys
import types

import torch
from torch import nn

FNS = """import torch


@torch.jit.script
def scaled(h):
    return h.detach() * (1.0 - {0}) + h * {0}
"""
WRAP = """import torch

import fns


@torch.jit.script
def wrapped(h):
    return fns.scaled(h) * 1.0
"""
USERS = """from torch import nn

import {0}


class User{1}(nn.Module):
    def forward(self, h):
        return {0}.{2}(h)
"""


def define(name, text, folder=sys.argv[2] + ".src"):
    """``text`` run as module ``name`` from a file of its own (TorchScript reads a class's source)."""
    import os
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}{len(os.listdir(folder))}.py")
    with open(path, "w") as file:
        file.write(text)
    module = sys.modules.setdefault(name, types.ModuleType(name))
    exec(compile(text, path, "exec"), module.__dict__)
    return module


how = sys.argv[3] if len(sys.argv) > 3 else ""
called = ("wrap", "wrapped") if how == "chain" else ("fns", "scaled")
users = []
if how == "chain":
    define("fns", FNS.format(0.7))
for scale, name in zip(sys.argv[1].split(","), "AB"):
    if how == "between" and name == "B":
        define("fns", FNS.format(0.7))
    define("fns", FNS.format(scale))
    if how == "chain":
        define("wrap", WRAP)
    # scripted now: the function it calls is the one defined last
    users.append(torch.jit.script(getattr(define("users", USERS.format(called[0], name, called[1])), "User" + name)()))
user_a, user_b = users


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.first, self.second = user_a, user_b

    def forward(self, x):
        return self.second(self.b(self.first(torch.relu(self.a(x)))))


torch.jit.save(torch.jit.script(Net()), sys.argv[2])
'''
ARGS = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """``one.pt`` (scales 1.0 then 0.2), ``two.pt`` (swapped), ``again.pt`` (``one.pt``'s scales, by a
    process that compiled the function once more between them), and the two called through ``wrap``."""
    folder = tmp_path_factory.mktemp("function_twice")
    code = folder / "make.py"
    code.write_text(FUNCTION_TWICE_PY)
    paths = {}
    for name, args in (("one", ("1.0,0.2",)), ("two", ("0.2,1.0",)), ("again", ("1.0,0.2", "between")),
                       ("chained", ("1.0,0.2", "chain")), ("chained swapped", ("0.2,1.0", "chain"))):
        paths[name] = folder / f"{name.replace(' ', '_')}.pt"
        subprocess.run([sys.executable, code, args[0], paths[name], *args[1:]], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    return paths


def _ratio(result) -> float:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["bounds"]["prediction"]["ratio"]


def test_the_archive_with_the_functions_swapped_is_a_miss_and_another_problem(cli, archives, tmp_path):
    one, two = archives["one"], archives["two"]
    gate = ("gate", two, *ARGS, "--min-ratio", 0, "--use", "predicted", "--json")
    report = tmp_path / "one.json"
    stored = cli("bounds", one, *ARGS, "--json")
    assert stored.exit_code == 0, stored.stderr
    report.write_text(stored.stdout)
    fresh, cached = _ratio(cli(*gate, "--no-cache")), cli(*gate)
    assert json.loads(cached.stdout)["cache_hit"] is False
    # exact spectra of one small model, computed alike: the same number (0.9370 against one's 0.9509)
    assert _ratio(cached) == fresh != json.loads(stored.stdout)["prediction"]["ratio"]
    refused = cli(*gate, "--from", report)
    assert refused.exit_code == 2
    assert "which variant of a TorchScript class or function each module runs differs" in refused.stderr


def test_the_same_archive_numbered_otherwise_keeps_its_key(archives):
    assert archive_fingerprint(archives["again"]) == archive_fingerprint(archives["one"])


def test_a_function_compiled_twice_as_one_text_calling_two_variants_is_told_apart(archives):
    """``wrap.wrapped``'s two variants read alike with the numbering left out but call the two of
    ``fns.scaled``: each is named by what it calls in turn."""
    one, two = archives["chained"], archives["chained swapped"]
    assert archive_fingerprint(one) != archive_fingerprint(two)
    assert None is not archive_variants(one) != archive_variants(two)
