"""``error_law`` with an unpruned error ``eps_np`` above the high-error plateau ``eps_up``: the
formula's error then fell as the network was pruned (0.5 at density 1, 0.1 towards 0), the
opposite of the law its docstring states, and it was returned as one; ``predict_error`` refuses
such an ``eps_np``. Equal errors are the flat law (a fit of errors that do not rise gives them)."""

from __future__ import annotations

import numpy as np
import pytest

import prunelimit
from prunelimit.errors import OptionError
from prunelimit.laws.errorlaw import error_law


def test_an_eps_np_above_eps_up_is_refused():
    with pytest.raises(OptionError, match=r"^eps_np 0.5 is above the high-error plateau eps_up 0.1: the law's error "
                                          r"would fall, not rise, as the network is pruned"):
        error_law(np.array([1.0, 1e-6]), eps_np=0.5, eps_up=0.1, gamma=2.0, p=0.01)
    with pytest.raises(ValueError, match="^eps_np 0.5 is above"):  # the library's, naming the keyword
        prunelimit.error_law(0.5, eps_np=0.5, eps_up=0.1, gamma=2.0, p=0.01)


def test_equal_errors_are_the_flat_law():
    # ε_np = ε↑: q = p and the two logs cancel, so every density has the one error (to round-off)
    assert error_law(np.geomspace(1, 1e-9, 7), 0.2, 0.2, 2.0, 0.01) == pytest.approx(np.full(7, 0.2), rel=1e-12)
