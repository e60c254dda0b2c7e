"""``hessian_samples`` takes ``'auto'``, ``'all'`` or a sample count: a word it does not know
was refused as "must be an integer", hiding the two words it takes."""

from __future__ import annotations

import pytest

from prunelimit.api import CurvatureOptions
from prunelimit.errors import OptionError


@pytest.mark.parametrize("value", ["bogus", "All", True, 2.5])
def test_a_value_it_does_not_take_is_refused_naming_all_three_forms(value):
    with pytest.raises(OptionError, match=r"^hessian_samples must be 'auto', 'all' or a sample count \(an integer of "
                                          r"at least 4\), got "):
        CurvatureOptions(hessian_samples=value)


def test_the_forms_it_takes_are_taken():
    assert [CurvatureOptions(hessian_samples=v).hessian_samples for v in (None, "auto", "all", 64)] == \
        [None, "auto", "all", 64]
    # 4, not 1: the subset is split into 4 parts (prunelimit.data.subsample.DATA_PARTS); 1 to 3 were
    # refused only once the data was loaded, and 0 was told "at least 1"
    for value in (0, 3):
        with pytest.raises(OptionError, match=rf"^hessian_samples {value} is too few to split into 4 parts \(the data "
                                              r"part of ρ\*'s ±\): use at least 4 \(4 a class, where the targets are "
                                              r"classes\), or all$"):
            CurvatureOptions(hessian_samples=value)
    assert CurvatureOptions(hessian_samples=4).hessian_samples == 4
