"""The user's code a forward runs that no walk of the model reaches counts by its code: a helper file the
forward executes by a path built at run time (``importlib.util.spec_from_file_location``: in no
``sys.modules``, and its read is an import's, which the opened files leave out), or a module it imports
by a name built at run time (``importlib.import_module(PREFIX + self.kind)``: the cache keys it among the
loaded modules, a report's ``weights.python`` did not), or whose source it reads and ``exec``s (``open(path).read()``:
a ``.py`` file, which the opened files left out as code, its code compiled from ``<string>``). Each helper here scales the gradient alone, so
the weights, the model's own code and the loss on the data are the same: the cache read the old
helper's spectrum (64.58 % where ``--no-cache`` computes 73.95 %) and ``gate --from`` a report of it."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import nets_arguments, report_read_back

# the forward is the same for any G; the gradient through the hidden layer is scaled by it
HELPER_PY = '''G = {g}


def act(h):
    return h * G + (h * (1 - G)).detach()
'''
NETS_PY = '''import importlib
import importlib.util
import os
import types
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "pl_test_ran_"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)

    def forward(self, x):
        return self.b(self.helper().act(torch.relu(self.a(x))))


class Filed(Net):
    def helper(self):
        name = "".join(map(chr, (104, 101, 108, 112, 101, 114, 46, 112, 121)))  # a name no string holds
        spec = importlib.util.spec_from_file_location("helper", os.path.join(HERE, name))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


class Executed(Net):
    def helper(self):
        name = "".join(map(chr, (104, 101, 108, 112, 101, 114, 46, 112, 121)))
        namespace = {}
        with open(os.path.join(HERE, name)) as file:  # code compiled from "<string>": the file alone names it
            exec(file.read(), namespace)
        return types.SimpleNamespace(**namespace)


class Imported(Net):
    kind = "imported"

    def helper(self):
        return importlib.import_module(PREFIX + self.kind)
'''
DIFFERS = "the model's Python code differs"
READS_DIFFER = "what the model reads besides its state dict and code differs"  # a file it opens


def _arguments(tmp_path, factory: str) -> tuple:
    """The arguments of a command on :data:`NETS_PY`'s class ``factory``, its weights saved and its helpers' G 1.0."""
    helper = HELPER_PY.format(g=1.0)
    return nets_arguments(tmp_path, NETS_PY, factory, **{"helper.py": helper, "pl_test_ran_imported.py": helper})


@pytest.mark.parametrize("factory, differs, relative", [("Filed", DIFFERS, False), ("Executed", READS_DIFFER, False),
                                                       ("Executed", READS_DIFFER, True)])
def test_a_helper_file_the_forward_executes_by_a_built_name_is_keyed_and_compared(cli, tmp_path, monkeypatch, factory,
                                                                                  differs, relative):
    """``relative``: ``--model nets.py:…`` typed in its folder, whose code's file name is relative."""
    args = _arguments(tmp_path, factory)
    if relative:
        monkeypatch.chdir(tmp_path)
        args = tuple(f"nets.py:{factory}" if arg == f"{tmp_path / 'nets.py'}:{factory}" else arg for arg in args)
    made, report = report_read_back(cli, tmp_path, *args)
    assert json.loads(cli("gate", *args, "--min-ratio", 0, "--json").stdout)["cache_hit"]  # unchanged: a hit
    (tmp_path / "helper.py").write_text(HELPER_PY.format(g=0.2))
    refused = cli("gate", *args, "--from", report, "--min-ratio", 0, "--use", "predicted")
    assert refused.exit_code == 2, refused.stdout
    assert differs in refused.stderr and "drop --from" in refused.stderr
    fresh = json.loads(cli("gate", *args, "--min-ratio", 0, "--json").stdout)
    assert not fresh["cache_hit"]
    # the gradient scale moves ρ* by points (tolerance: far above the 1e-6 a recomputation of one model moves it)
    assert abs(fresh["rules"][0]["measured"] - made["prediction"]["ratio"]) > 0.01
    assert json.loads(cli("gate", *args, "--min-ratio", 0, "--json").stdout)["cache_hit"]  # and kept again


def test_a_module_the_forward_imports_by_a_built_name_is_compared_with_a_report(cli, tmp_path, monkeypatch):
    args = _arguments(tmp_path, "Imported")
    monkeypatch.syspath_prepend(str(tmp_path))  # a new process imports it from beside nets.py alike
    monkeypatch.delitem(sys.modules, "pl_test_ran_imported", raising=False)  # none left behind
    _, report = report_read_back(cli, tmp_path, *args)
    (tmp_path / "pl_test_ran_imported.py").write_text(HELPER_PY.format(g=0.2))
    del sys.modules["pl_test_ran_imported"]  # as a new process: imported again, the new code
    refused = cli("gate", *args, "--from", report, "--min-ratio", 0, "--use", "predicted")
    assert refused.exit_code == 2, refused.stdout
    assert DIFFERS in refused.stderr


def test_a_code_file_is_recorded_where_the_users_code_opens_it_not_where_installed_code_reads_it(tmp_path):
    """``linecache`` (``inspect.getsource``, torch.jit reading a module's source) reads a file once a process, as
    an import does: not recorded; the user's own ``open`` of it (to ``exec`` it) is."""
    import linecache

    from prunelimit.cache_opened import recording_opens

    source = tmp_path / "m.py"
    source.write_text("A = 1\n")
    with recording_opens() as opened:
        linecache.getlines(str(source))
    assert str(source) not in opened
    with recording_opens() as opened, open(source) as file:
        file.read()
    assert str(source) in opened
