"""A gate rule's ``min_ratio`` written as text YAML keeps as a string is told what it may
mean, as the same value after ``--min-ratio`` is (``validate.number_fix``): ``0,8`` (a decimal
comma) said only "a str, not a number"."""

from __future__ import annotations

import pytest

from prunelimit.errors import OptionError
from prunelimit.gate_rules import ratio_value


@pytest.mark.parametrize("text, fix", [
    ("0,8", "got '0,8', a str, not a number (a comma is no decimal point here, nor a thousands separator: write 0.8)"),
    ("80%", "got '80%', a str, not a number (ratios are fractions, not percentages: 80% is 0.8)"),
    ("0.8", "got '0.8', a str, not a number: write 0.8, without quotes"),
])
def test_a_rule_ratio_given_as_text_names_the_number_to_write(text, fix):
    with pytest.raises(OptionError) as refused:
        ratio_value("min_ratio", text)
    assert str(refused.value) == f"min_ratio must be a ratio in [0, 1], {fix}"
