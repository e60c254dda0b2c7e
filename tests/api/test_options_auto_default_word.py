"""The command line writes the default of ``--epsilon``, ``--memory-budget`` and
``--basis-memory`` as ``auto``, the library as ``None``: ``'auto'`` given as the keyword is
that default, as ``hessian_samples='auto'`` is."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.api import CurvatureOptions


@pytest.mark.parametrize("name", ["epsilon", "memory_budget_mb", "basis_memory_mb"])
def test_auto_is_the_default_of_an_option_the_command_line_writes_auto(name):
    """``epsilon='auto'`` was refused ("epsilon must be a positive finite number, got 'auto', a
    str, not a number", no fix), while ``hessian_samples='auto'`` was taken."""
    assert CurvatureOptions(**{name: "auto"}) == CurvatureOptions()


def test_a_call_given_auto_computes_what_the_default_computes(model, train):
    """Exact spectrum on the tiny model: deterministic, so the two are equal to the bit."""
    given = prunelimit.bounds(model, train, method="exact", epsilon="auto", basis_memory_mb="auto").to_json()
    default = prunelimit.bounds(model, train, method="exact").to_json()
    assert given["options"] == default["options"] and given["options"]["epsilon"] is None
    assert (given["prediction"], given["epsilon"]) == (default["prediction"], default["epsilon"])
