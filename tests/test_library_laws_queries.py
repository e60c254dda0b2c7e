"""``prunelimit.predict_error`` and ``density_for_error`` refuse, naming the keyword, what is
not a fit, a number or a bool: a dict or a path as ``fit`` was an AttributeError, a density
as text or a missing target a bare TypeError, and ``extrapolate="no"`` extrapolated."""

from __future__ import annotations

import pydoc

import numpy as np
import pytest

import prunelimit
from prunelimit.errors import CallError, OptionError, UsageError
from prunelimit.laws.errorlaw import ErrorPoints


@pytest.fixture(scope="module")
def fit():
    density = np.geomspace(1, 1e-3, 20)
    return prunelimit.fit_error_law(ErrorPoints(density, prunelimit.error_law(density, 0.05, 0.9, 2.0, 0.01)))


QUERIES = {"predict_error": prunelimit.predict_error, "density_for_error": prunelimit.density_for_error}


@pytest.mark.parametrize("name", QUERIES)
@pytest.mark.parametrize("given", [None, {"eps_up": 0.9}, "fit.json"])
def test_a_fit_of_another_kind_is_refused_naming_fit(name, given):
    with pytest.raises(UsageError, match=rf"^fit must be an ErrorLawFit, as prunelimit\.fit_error_law returns it, "
                                         rf"got {type(given).__name__}$"):
        QUERIES[name](given, 0.3)


@pytest.mark.parametrize("name, value", [("predict_error", "density"), ("density_for_error", "target_error")])
def test_a_value_that_is_no_number_is_refused_naming_it(fit, name, value):
    with pytest.raises(OptionError, match=rf"^{value} must be a number, got '0\.3', a str, not a number: write 0\.3, "
                                          "without quotes$"):
        QUERIES[name](fit, "0.3")
    with pytest.raises(OptionError, match=rf"^{value} must be a number, got None, a NoneType, not a number$"):
        QUERIES[name](fit, None)
    with pytest.raises(OptionError, match=r"^eps_np must be a number, got '0\.1'"):
        QUERIES[name](fit, 0.3, eps_np="0.1")


@pytest.mark.parametrize("name", QUERIES)
def test_extrapolate_takes_a_bool(fit, name):
    with pytest.raises(OptionError, match=r"^extrapolate must be True or False, got 'no'$"):
        QUERIES[name](fit, 0.3, extrapolate="no")
    assert QUERIES[name](fit, 0.3) == QUERIES[name](fit, 0.3, extrapolate=False)


def test_a_law_fit_given_as_points_is_told_to_give_its_points():
    """``fit_nplh(law)`` with ``law`` a fit in hand (``prunelimit.nplh``'s result) said
    "build it with LawPoints.from_arrays(density, gamma)", though the fit holds its points:
    it names them, and refitting them gives the same law."""
    from prunelimit.laws.points import LawPoints

    gamma = np.geomspace(1e-2, 1, 30)
    law = prunelimit.fit_nplh(LawPoints(tuple(0.01 * gamma ** -0.7), tuple(gamma)))
    with pytest.raises(UsageError, match=r"^points must be a prunelimit\.laws\.points\.LawPoints, got NplhFit; give its "
                                         r"points, points=fit\.points$"):
        prunelimit.fit_nplh(law)
    assert prunelimit.fit_nplh(points=law.points).alpha0 == law.alpha0


def test_predict_error_names_itself_in_a_call_it_refuses():
    """``predict_error`` wraps ``errorlaw.predict`` and took its name: a call left short told
    the caller to call ``prunelimit.predict(fit, density)``, which ``import prunelimit`` lacks."""
    with pytest.raises(CallError, match=r"^predict_error\(\) needs density: prunelimit\.predict_error\(fit, density\)$"):
        prunelimit.predict_error(0.3)
    assert prunelimit.predict_error.__name__ == prunelimit.predict_error.__qualname__ == "predict_error"
    assert pydoc.render_doc(prunelimit.predict_error, renderer=pydoc.plaintext).startswith(
        "Python Library Documentation: function predict_error")
