"""What a type checker (mypy, pyright) reads of ``import prunelimit``, a package shipping
``py.typed``: each function's own signature and result. Before, mypy read every name
``import prunelimit`` offers as ``Any`` (the module's lazy ``__getattr__``), and each function,
imported from its module, as ``def (*Any, **Any) -> Any`` (the wrappers every function passes
through were typed ``Callable -> Callable``): ``x: str = prunelimit.bounds(...).ratio`` passed,
a misspelt keyword passed. The arguments are typed as the calls take them: ``include`` and
``exclude`` as a tuple or a list, ``progress`` as a function whose result is not read."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest

import prunelimit
from prunelimit import library, library_laws, library_training

ROOT = Path(prunelimit.__file__).parents[1]


def _imported_when_type_checking() -> dict[str, str]:
    """The names ``prunelimit/__init__.py`` imports under ``if TYPE_CHECKING:``, each by its module,
    re-exported as a type checker reads it (``from m import name as name``)."""
    tree = ast.parse((ROOT / "prunelimit" / "__init__.py").read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module is not None
                for alias in statement.names:
                    assert alias.asname == alias.name, f"{alias.name} is not re-exported as itself"
                    found[alias.name] = statement.module
    return found


def test_a_type_checker_reads_every_name_from_the_module_that_defines_it():
    assert _imported_when_type_checking() == prunelimit._EXPORTS


@pytest.mark.parametrize("wrapper", [library.library_call, library.keeps_caller_state, library.with_arguments,
                                     library_laws._checked_query, library_laws._warned])
def test_the_wrappers_of_the_functions_keep_their_type(wrapper):
    """Each returns the type of the function it takes (a ``TypeVar``), not a bare ``Callable``."""
    hints = typing.get_type_hints(wrapper)
    taken = hints[next(iter(hints))]
    assert isinstance(taken, typing.TypeVar) and hints["return"] is taken, hints


PATTERNED = [library.info, library.spectrum, library.bounds, library.verify, library.gate, library.prune,
             library.nplh, library.inputs_from, library_training.hyperflux, library_training.imp]


@pytest.mark.parametrize("function", PATTERNED, ids=lambda function: function.__name__)
def test_include_and_exclude_are_typed_as_a_tuple_or_a_list(function):
    """The calls take a list of patterns as a tuple (``validate.patterns``); typed a tuple alone,
    mypy refused ``exclude=["classifier"]``."""
    hints = typing.get_type_hints(function)
    for name in ("include", "exclude"):
        assert set(typing.get_args(hints[name])) == {tuple[str, ...], list[str]}, hints[name]


@pytest.mark.parametrize("function", [library.spectrum, library.bounds, library.verify, library.gate, library.prune,
                                      library_training.train, library_training.hyperflux, library_training.imp],
                         ids=lambda function: function.__name__)
def test_progress_may_return_anything(function):
    """Its result is not read: ``progress=lambda done, total=None, text=None: bar.update(1)`` (tqdm's
    ``update`` returns a bool) was refused by mypy against ``Callable[..., None]``."""
    callback = next(arg for arg in typing.get_args(typing.get_type_hints(function)["progress"]) if arg is not type(None))
    assert typing.get_args(callback)[-1] is object, callback


def test_a_bounds_results_uncertainty_is_typed_as_always_there():
    """Every ρ* states its ± (``to_json`` reads it unguarded); typed ``Uncertainty | None``, mypy
    refused docs/library.md's first example, ``result.uncertainty.plus_minus``."""
    from prunelimit.api import BoundsReport
    from prunelimit.theory.uncertainty import Uncertainty

    assert typing.get_type_hints(BoundsReport)["uncertainty"] is Uncertainty


USER_SCRIPT = '''
import torch
import prunelimit
from prunelimit.data.spec import load_dataset

train = load_dataset("digits:train")
model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
result = prunelimit.bounds(model, (train.x, train.y), exclude=["2"], method="exact",
                           progress=lambda done, total=None, text=None: True)
reveal_type(result)
print(f"{result.uncertainty.plus_minus:.3f}")  # as docs/library.md's first example
reveal_type(prunelimit.prune(model, result.ratio))
reveal_type(prunelimit.verify(model, (train.x, train.y), prediction_from=result))
reveal_type(prunelimit.train(model, (train.x, train.y), epochs=1, progress=lambda step, steps: None))
prunelimit.predict_error("fit", 0.5)
ratio_text: str = result.ratio
'''


def test_mypy_reads_a_users_calls(tmp_path, monkeypatch, request):
    """The script's results have their classes, its calls as typed pass, and a misuse of a result
    is found; before, every revealed type was ``Any`` and nothing was found. mypy's cache is kept
    between runs (a cold run reads torch's annotations, ~25 s)."""
    run = pytest.importorskip("mypy.api").run
    script = tmp_path / "user.py"
    script.write_text(USER_SCRIPT)
    monkeypatch.setenv("MYPYPATH", str(ROOT))  # this checkout's prunelimit, whatever is installed
    out, err, _ = run([str(script), "--cache-dir", str(request.config.cache.mkdir("mypy")), "--no-error-summary"])
    # by the script's name: a run read from the cache names the folder of the run that filled it
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if re.match(r".*user\.py:\d+: ", line)]
    assert lines[:4] == [
        'note: Revealed type is "prunelimit.api.limit.BoundsReport"',
        'note: Revealed type is "prunelimit.library.Pruning"',
        'note: Revealed type is "prunelimit.api.verification.VerifyReport"',
        'note: Revealed type is "prunelimit.pruning.lomp.TrainResult"',
    ], out + err
    assert len(lines) == 6 and 'expected "ErrorLawFit"' in lines[4], out + err  # predict_error("fit", …)
    assert lines[5].startswith('error: Incompatible types in assignment (expression has type "float", '
                               'variable has type "str")'), out + err
