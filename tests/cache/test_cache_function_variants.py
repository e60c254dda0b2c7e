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
from dataclasses import replace

import pytest

from prunelimit.api import CurvatureOptions
from prunelimit.baseline import check_same_problem, provenance
from prunelimit.cache import archive_fingerprint, archive_variants
from prunelimit.errors import UsageError
from tests.conftest import SCALE_MODULE_PY, archive_inputs, provenance_report

# argv: the scales the two submodules' functions compile in (``1.0,0.2``), the archive; a third,
# ``between``: another ``fns.scaled`` compiled between them, so that the second is numbered 1, not 0;
# ``chain``: the submodules call ``wrap.wrapped``, compiled again after each ``fns.scaled``, the first
# ``fns.scaled`` compiled after another, so that both are numbered and ``wrapped``'s two variants read
# alike with the numbering left out, each calling another variant of ``fns.scaled``; ``reversed``: the
# second submodule scripted first, so that the first calls the numbered variant; ``classes``: the model
# holds two variants of one class too (two ``Scale`` modules, scales 1.0 and 0.5 compiled in)
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
users = {}
if how == "chain":
    define("fns", FNS.format(0.7))
for scale, name in sorted(zip(sys.argv[1].split(","), "AB"), key=lambda pair: pair[1], reverse=how == "reversed"):
    if how == "between" and name == "B":
        define("fns", FNS.format(0.7))
    define("fns", FNS.format(scale))
    if how == "chain":
        define("wrap", WRAP)
    # scripted now: the function it calls is the one defined last
    users[name] = torch.jit.script(getattr(define("users", USERS.format(called[0], name, called[1])), "User" + name)())
user_a, user_b = users["A"], users["B"]


''' + SCALE_MODULE_PY + '''

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.first, self.second = user_a, user_b
        self.scales = nn.ModuleList([Scale(1.0), Scale(0.5)] if how == "classes" else [])

    def forward(self, x):
        h = self.first(torch.relu(self.a(x)))
        for scale in self.scales:
            h = scale(h)
        return self.second(self.b(h))


torch.jit.save(torch.jit.script(Net()), sys.argv[2])
'''
ARGS = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """``one.pt`` (scales 1.0 then 0.2), ``two.pt`` (swapped), ``again.pt`` (``one.pt``'s scales, by a
    process that compiled the function once more between them), ``one.pt`` and ``two.pt`` again by a process that
    scripted the second submodule first, the two holding two variants of a class too, and the two called
    through ``wrap``."""
    folder = tmp_path_factory.mktemp("function_twice")
    code = folder / "make.py"
    code.write_text(FUNCTION_TWICE_PY)
    paths = {}
    for name, args in (("one", ("1.0,0.2",)), ("two", ("0.2,1.0",)), ("again", ("1.0,0.2", "between")),
                       ("reversed", ("1.0,0.2", "reversed")), ("two reversed", ("0.2,1.0", "reversed")),
                       ("classes", ("1.0,0.2", "classes")), ("classes swapped", ("0.2,1.0", "classes")),
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


def test_the_same_archive_compiled_in_the_other_order_is_a_hit_and_the_same_problem(cli, archives, tmp_path):
    """torch binds a numbered function to a temporary for its length (``_0 = __torch__.fns.___torch_mangle_0.scaled``
    then ``return _0(h, )``), which it prints inline unnumbered (``return __torch__.fns.scaled(h, )``): the same
    archive by a process that scripted the second submodule first had UserA's code read otherwise, missed the
    cache and was refused by ``--from`` ('the model's TorchScript differs'). The swapped archive, made either
    way, is still another key and problem."""
    one, again = archives["one"], archives["reversed"]
    assert archive_fingerprint(again) == archive_fingerprint(one)
    assert archive_fingerprint(archives["two reversed"]) == archive_fingerprint(archives["two"]) \
        != archive_fingerprint(one)
    stored = cli("bounds", one, *ARGS, "--json")
    assert stored.exit_code == 0, stored.stderr
    report = tmp_path / "one.json"
    report.write_text(stored.stdout)
    gate = ("gate", again, *ARGS, "--min-ratio", 0, "--use", "predicted", "--json")
    cached = cli(*gate)
    assert json.loads(cached.stdout)["cache_hit"] is True
    assert _ratio(cached) == json.loads(stored.stdout)["prediction"]["ratio"]
    assert _ratio(cli(*gate, "--from", report)) == json.loads(stored.stdout)["prediction"]["ratio"]
    refused = cli("gate", archives["two reversed"], *ARGS, "--min-ratio", 0, "--use", "predicted", "--from", report)
    assert refused.exit_code == 2
    assert "which variant of a TorchScript class or function each module runs differs" in refused.stderr


def test_a_report_that_read_the_code_as_torch_printed_it_still_compares(archives):
    """A report saved before the numbered names were put back recorded ``weights.code`` and ``classes`` of
    the code as torch printed it: read for its own archive, refused for the swapped one."""
    one, two = (provenance(archive_inputs(archives[name]), CurvatureOptions()) for name in ("one", "two"))
    assert one.code_printed != one.code  # UserB calls the numbered variant through a temporary
    older = provenance_report(replace(one, code=one.code_printed, classes=one.classes_printed))
    assert check_same_problem("older.json", older, one) == []
    with pytest.raises(UsageError, match="which variant of a TorchScript class or function each module runs differs"):
        check_same_problem("older.json", older, two)


def test_an_older_report_of_an_archive_of_class_and_function_variants_is_refused_saying_why(archives):
    """A report of an older prunelimit, which did not record which variant of a function each call names,
    records for an archive holding two variants of a class and of a function which class each module runs
    alone (``classes_uncalled``: the digest such a report of ``classes.pt`` recorded, seen from one the older
    prunelimit wrote), alike for the archive with the functions swapped, whose ρ* differs (0.9630 and
    0.9485, seen): it was refused as of another problem, 'which variant … differs', for its own archive too.
    It cannot tell them apart and is refused saying so; a report of this prunelimit reads for its own."""
    one, two = (provenance(archive_inputs(archives[name]), CurvatureOptions())
                for name in ("classes", "classes swapped"))
    assert None is not one.classes_uncalled == two.classes_uncalled != one.classes
    older = provenance_report(replace(one, classes=one.classes_uncalled))
    for current in (one, two):
        with pytest.raises(UsageError, match="cannot be compared with this model: it records which variant of a "
                                             "TorchScript class each module runs, not which variant of a function"):
            check_same_problem("older.json", older, current)
    assert check_same_problem("one.json", provenance_report(one), one) == []
    with pytest.raises(UsageError, match="which variant of a TorchScript class or function each module runs differs"):
        check_same_problem("one.json", provenance_report(one), two)


def test_only_a_numbered_name_torch_prints_inline_unnumbered_is_put_back():
    """``cache._unhoisted`` puts back a numbered name bound to a temporary used once, where the name
    unnumbered and the line's indent stay under 40 characters (torch prints it inline then); a name
    torch binds unnumbered too, one used twice and a call (putting it in its use can move when it runs)
    stay as torch wrote them."""
    from prunelimit.cache import _unhoisted

    bound = b"def f(h: Tensor) -> Tensor:\n  _0 = __torch__.fns.___torch_mangle_0.scaled\n  return _0(h, )\n"
    assert _unhoisted(bound) == b"def f(h: Tensor) -> Tensor:\n  return __torch__.fns.___torch_mangle_0.scaled(h, )\n"
    for kept in (b"  _0 = __torch__.fns.scaled\n  return _0(h, )\n",
                 b"  _0 = __torch__.gradient_scales_of_mine.___torch_mangle_0.scaled\n  return _0(h, )\n",
                 b"  _0 = __torch__.fns.___torch_mangle_0.scaled\n  _1 = _0(h, )\n  return _0(_1, )\n",
                 b"  _0 = __torch__.fns.___torch_mangle_0.scaled(h, )\n  return _0\n"):
        assert _unhoisted(kept) == kept, kept
