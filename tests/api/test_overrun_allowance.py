"""An overshoot of --time-budget within the clock's noise (1 % of the budget, at least
20 ms: ``options.overrun_allowance``) is no warning: 0.2 ms over 3 s said "the spectrum went
0.0002 s over --time-budget 3 s …; raise --time-budget". Past it the warning stands.
Simulated seconds: no test here measures time."""

from __future__ import annotations

import pytest

from prunelimit import api
from prunelimit.api import spectrum_notes
from prunelimit.api.options import overrun_allowance


@pytest.mark.parametrize(("budget", "seconds"), [(3.0, 3.0002), (3.0, 3.03), (0.5, 0.52), (600.0, 605.0)])
def test_an_overshoot_within_the_allowance_is_no_warning(budget, seconds) -> None:
    assert spectrum_notes.over_budget_note(api.CurvatureOptions(time_budget=budget), 10, seconds) is None


@pytest.mark.parametrize(("budget", "seconds"), [(3.0, 3.031), (0.5, 0.521), (600.0, 606.5)])
def test_an_overshoot_past_the_allowance_is_said(budget, seconds) -> None:
    note = spectrum_notes.over_budget_note(api.CurvatureOptions(time_budget=budget), 10, seconds)
    assert note is not None and f"over --time-budget {budget:g} s" in note


def test_the_allowance_is_a_share_of_the_budget_with_a_floor() -> None:
    """Exact for binary-exact arguments: 1 % of 64 s is 0.64 s; of 1 s, the 20 ms floor."""
    assert overrun_allowance(64.0) == 0.64 and overrun_allowance(1.0) == 0.02


def test_products_over_max_hvps_are_said_whatever_the_clock() -> None:
    """The allowance is the clock's: a product over --max-hvps is counted, never noise (and
    one product is said in the singular)."""
    note = spectrum_notes.over_budget_note(api.CurvatureOptions(time_budget=3.0, max_hvps=9), 10, 3.0002)
    assert note is not None and note.startswith("the spectrum went 1 product over --max-hvps 9 (10): ")
    assert "over --time-budget" not in note
