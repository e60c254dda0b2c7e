"""``help(prunelimit.X)`` shows the function's docstring alone: every parameter of every
function ``import prunelimit`` offers is named there (``name``), with its meaning, units and
default, also those the module docstring describes for all (``data``, ``loss``,
``batch_size``, ``include``, ``progress``, the curvature ``options``)."""

from __future__ import annotations

import inspect
import re
import typing

import pytest

import prunelimit
from prunelimit import api

FUNCTIONS = [name for name in prunelimit.__all__ if inspect.isfunction(getattr(prunelimit, name))]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_help_names_every_parameter(name):
    function = getattr(prunelimit, name)
    text = inspect.getdoc(function) or ""
    unnamed = [p for p in inspect.signature(function).parameters if not re.search(rf"``{p}\b", text)]
    assert not unnamed, f"help(prunelimit.{name}) does not name {unnamed}"


def test_help_states_the_shared_defaults():
    text = inspect.getdoc(prunelimit.bounds)
    assert "default ``None``: 128" in text and "``tolerance`` (0.01" in text and "``'ce'`` (default" in text


def _hinted(value: object) -> list:
    """The function, or the class and each function it defines (methods, ``__init__``)."""
    if inspect.isclass(value):
        return [value, *(v for v in vars(value).values() if inspect.isfunction(v))]
    return [value] if inspect.isfunction(value) else []


@pytest.mark.parametrize("name", prunelimit.__all__[1:])
def test_type_hints_resolve_on_every_public_name(name):
    """``typing.get_type_hints`` (what IDEs, ``pydantic`` and ``typer`` read) raised
    ``NameError`` on ``inputs_from``, ``nplh``, ``train``, ``hyperflux``, ``imp``, ``export`` and
    ``Pruning``: their annotations named classes imported only for type checkers."""
    for target in _hinted(getattr(prunelimit, name)):
        typing.get_type_hints(target)


@pytest.mark.parametrize("name", api.__all__)
def test_type_hints_resolve_on_every_name_of_the_api(name):
    """The same for ``prunelimit.api`` (it raised ``NameError`` on 24 of its names, among
    them ``BoundsReport``, ``bounds``, ``verify`` and ``gate``; ``PredictionSource`` named
    ``os`` in a string that modules without ``import os`` could not resolve)."""
    for target in _hinted(getattr(api, name)):
        typing.get_type_hints(target)


def test_the_package_says_it_is_typed():
    """PEP 561: without ``py.typed`` in the package, mypy and pyright ignore its annotations."""
    import tomllib
    from pathlib import Path

    root = Path(prunelimit.__file__).parent
    assert (root / "py.typed").is_file()
    shipped = tomllib.loads((root.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in shipped["prunelimit"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_argument_and_result_has_its_type_in_the_signature(name):
    """``help()`` and an IDE show ``inspect.signature``: ``progress`` of ``spectrum``, ``bounds``,
    ``verify``, ``gate`` and ``prune``, ``error_law``'s ``density`` and ``nplh``'s result had no
    type, and the results' types, quoted in annotations already postponed, read twice quoted
    (``-> "'api.BoundsReport'"``). ``data``-like arguments take many forms: ``Any``, but stated."""
    signature = inspect.signature(getattr(prunelimit, name))
    untyped = [p.name for p in signature.parameters.values() if p.annotation is inspect.Parameter.empty]
    assert not untyped and signature.return_annotation is not inspect.Signature.empty, untyped
    assert "\"'" not in str(signature) and "'\"" not in str(signature), str(signature)


@pytest.mark.parametrize("name", ["spectrum", "bounds", "verify", "gate", "prune", "nplh"])
def test_the_apis_progress_and_result_are_typed(name):
    """The same on ``prunelimit.api``'s commands: ``progress`` had no type, ``nplh`` no result type."""
    signature = inspect.signature(getattr(api, name))
    progress = signature.parameters.get("progress")
    assert progress is None or typing.get_type_hints(getattr(api, name))["progress"] == \
        typing.Optional[typing.Callable[..., object]]
    assert signature.return_annotation is not inspect.Signature.empty


@pytest.mark.parametrize("name", [name for name in api.__all__ if name.endswith("Report")])
def test_help_on_a_result_class_says_what_it_holds(name):
    """``help(prunelimit.api.GateReport)`` (and ``PruneReport``) showed only the signature a
    dataclass writes in place of a docstring: every field with its type, on one line."""
    cls = getattr(api, name)
    assert cls.__doc__ and not cls.__doc__.startswith(f"{name}("), cls.__doc__[:80]
