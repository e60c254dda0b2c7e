"""``prune``'s named ratios written otherwise (``'AUTO'``, ``' lower'``) are refused with the
choice to write."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.errors import OptionError


@pytest.mark.parametrize(("typed", "meant"), [("AUTO", "auto"), ("Lower", "lower"), (" auto", "auto")])
def test_a_named_ratio_in_other_case_says_which_to_write(model, typed, meant):
    """It said "got 'AUTO', a str, not a number", as if a number were wanted; nothing is read."""
    with pytest.raises(OptionError, match=rf"^ratio must be a removed fraction in \[0, 1\), 'auto' or 'lower', got "
                                          rf"'{typed}'; write '{meant}'$"):
        prunelimit.prune(model, typed)
