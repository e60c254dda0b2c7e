"""A value and its ± as text (``prunelimit.report.rounding``): two significant digits of
the ±, the value to the same decimal."""

from __future__ import annotations

import pytest

from prunelimit.report.console import estimate_line
from prunelimit.report.rounding import SIGNIFICANT, half_width_text, value_text


@pytest.mark.parametrize(("half_width", "text"), [
    (0.4, "0.40"), (0.0996, "0.10"), (0.996, "1.0"), (0.9996, "1.0"), (9.97, "10"), (99.6, "100"), (0.123, "0.12"),
])
def test_a_half_width_that_rounds_up_to_a_power_of_ten_keeps_two_significant_digits(half_width, text) -> None:
    """0.996 rounded at two significant digits' decimal is 1.00: three digits, and the value
    beside it one decimal too many. The carry takes a decimal away."""
    assert half_width_text(half_width) == text
    digits = text.replace(".", "").lstrip("0")
    assert len(digits) == max(SIGNIFICANT, len(text.split(".")[0]))


def test_the_value_takes_the_decimals_of_its_rounded_half_width() -> None:
    assert value_text(91.8412, 0.996) == "91.8"
    assert value_text(91.8412, 0.0996) == "91.84"
    assert value_text(91.8412, 9.97) == "92"


def test_an_adaptive_stop_just_under_the_tolerance_reads_one_point() -> None:
    """Adaptive SLQ stops at the first ± at most --tolerance (0.01): ± 0.00997 is shown as
    1.0 pt beside ρ* to one decimal, not 1.00 pt beside two."""
    u = dict(plus_minus=0.00997, steps=0.005, probes=0.001, steps_kind="bracket", probes_kind="jackknife", level=0.95)
    assert estimate_line(0.918412, u).startswith("ρ* = 91.8 % ± 1.0 pt (95 %;")
