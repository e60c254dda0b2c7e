"""α0 is written as the fit's table writes it (``α0 0.1775 [0.1522, 0.2076]``: four decimals,
− U+2212 for a negative number): the slope warning said "interval of alpha0 [-0.65, 2.97]" and
the refusal of a rising density "(alpha0 = -1 <= 0)", another name, another rounding and an
ASCII minus beside the table's."""

from __future__ import annotations

import numpy as np
import pytest

from prunelimit.errors import UsageError
from prunelimit.laws.nplh import _slope_warnings, fit_nplh
from prunelimit.laws.points import LawPoints
from prunelimit.report.rounding import signed


def test_the_slope_warning_states_the_interval_as_the_table() -> None:
    [warning] = _slope_warnings((-0.6543, 2.9712), 3, 0.95)
    assert f"the 95 % interval of α0 [{signed(-0.6543, '.4f')}, 2.9712] reaches 0" in warning
    assert "−0.6543" in warning and "-" not in warning.split("reaches")[0]


def test_the_rising_density_refusal_names_alpha0_as_the_table() -> None:
    with pytest.raises(UsageError) as refused:
        fit_nplh(LawPoints(np.array([0.1, 0.2, 0.3, 0.4]), np.array([1.0, 2.0, 3.0, 4.0])))
    assert "(α0 = −1.0000 <= 0)" in str(refused.value)  # ln s = ln γ exactly: α0 = −1
