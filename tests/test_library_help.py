"""``help(prunelimit.X)`` shows the function's docstring alone: every parameter of every
function ``import prunelimit`` offers is named there (``name``), with its meaning, units and
default, also those the module docstring describes for all (``data``, ``loss``,
``batch_size``, ``include``, ``progress``, the curvature ``options``)."""

from __future__ import annotations

import inspect
import re

import pytest

import prunelimit

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
