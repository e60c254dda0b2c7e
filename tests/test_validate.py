"""Single-value checks (``prunelimit.validate``) as the options' users see them."""

from __future__ import annotations

import math
import re
import sys

import pytest

from prunelimit import validate
from prunelimit.api.options import CurvatureOptions
from prunelimit.errors import OptionError


@pytest.mark.parametrize("value", [1e308, sys.float_info.max])
def test_a_positive_finite_number_too_large_to_double_is_refused_as_too_large(value: float) -> None:
    """1e308 is positive and finite: the refusal names the largest value taken (twice it
    must stay finite), not a property the value has (--time-budget 1e308 read "must be a
    positive finite number, got 1e+308")."""
    largest = sys.float_info.max / 2
    said = f"time_budget must be a positive finite number, got {value!r}: too large (at most {largest:.4g})"
    with pytest.raises(OptionError, match=f"^{re.escape(said)}$"):
        validate.positive("time_budget", value)
    validate.positive("time_budget", largest)  # the largest itself is taken
    assert math.isfinite(2.0 * largest)


def test_curvature_options_refuse_a_huge_time_budget_as_too_large() -> None:
    with pytest.raises(OptionError, match="too large"):
        CurvatureOptions(time_budget=1e308)


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf])
def test_values_that_are_not_positive_finite_are_not_called_too_large(value: float) -> None:
    with pytest.raises(OptionError) as error:
        validate.positive("tolerance", value)
    assert "too large" not in str(error.value)
