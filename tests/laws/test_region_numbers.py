"""``--region``'s numbers are read as every number option reads them (validate.read_number),
its percentages too."""

from __future__ import annotations

import pytest

from prunelimit.api import parse_region
from prunelimit.errors import OptionError


def test_a_region_percentage_is_read_as_a_number_option_reads_it():
    """``1_0%`` was read as 10 % by float(), which no other number reader takes."""
    with pytest.raises(OptionError) as refused:
        parse_region("1_0%,50%")
    assert "0.1" not in str(refused.value)
    assert str(refused.value).startswith("region '1_0%,50%': give auto or the LOW and HIGH densities separated by "
                                         "commas")


@pytest.mark.parametrize(("text", "region"), [("5e-3,0.5", (0.005, 0.5)), ("[0.005, 5e-1]", (0.005, 0.5))])
def test_a_region_takes_numbers_in_any_notation(text, region):
    assert parse_region(text) == region
