"""docs/theory.md's companion-law section: its examples print what the code returns, and the
formulas it states are the ones the code evaluates."""

from __future__ import annotations

import cmath
import doctest
import math
import re
from pathlib import Path

import numpy as np
import pytest

from prunelimit import error_law, fit_error_law
from prunelimit.laws.errorlaw import ErrorPoints, density_for_error

THEORY = Path(__file__).resolve().parents[1] / "docs" / "theory.md"


def test_the_theory_examples_print_what_the_code_returns():
    blocks = re.findall(r"```python\n(.*?)```", THEORY.read_text(encoding="utf-8"), flags=re.S)
    examples = [b for b in blocks if ">>>" in b]
    assert len(examples) >= 2  # the NPLH fit and the error law
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for i, block in enumerate(examples):
        runner.run(doctest.DocTestParser().get_doctest(block, {}, f"theory.md example {i}", str(THEORY), 0))
    assert runner.failures == 0 and runner.tries >= 8


# The law of docs/theory.md, written out independently of the code's log-space form.
def _complex_form(d: float, eps_np: float, eps_up: float, gamma: float, p: float) -> float:
    q = p * (eps_up / eps_np) ** (1 / gamma)
    return eps_np * abs((d - 1j * q) / (d - 1j * p)) ** gamma


def _inverse(target: float, eps_np: float, eps_up: float, gamma: float, p: float) -> float:
    q = p * (eps_up / eps_np) ** (1 / gamma)
    r = (target / eps_np) ** (2 / gamma)
    return math.sqrt((q * q - r * p * p) / (r - 1))


LAWS = [(0.05, 0.9, 2.0, 0.01), (0.08, 0.7, 0.6, 1e-3), (0.2, 0.95, 5.0, 0.3)]


@pytest.mark.parametrize("law", LAWS)
def test_the_error_law_is_the_stated_complex_modulus_form(law):
    d = np.geomspace(1e-5, 1.0, 41)
    assert np.allclose(error_law(d, *law), [_complex_form(x, *law) for x in d], rtol=1e-12)
    eps_np, eps_up, gamma, p = law
    assert cmath.isclose(error_law([1e-12], *law)[0], eps_up, rel_tol=1e-6)  # the high-error plateau
    assert cmath.isclose(error_law([1e9], *law)[0], eps_np, rel_tol=1e-9)  # the low-error plateau


@pytest.mark.parametrize("law", LAWS)
def test_target_error_solves_the_stated_inverse(law):
    """`--target-error E` (a root search in ln d) lands on d(E) = sqrt((q² − R p²)/(R − 1))."""
    eps_np, eps_up, gamma, p = law
    d = np.geomspace(1e-4, 1.0, 30)
    fit = fit_error_law(ErrorPoints(d, error_law(d, *law)))
    assert np.allclose([fit.eps_up, fit.gamma, fit.p, fit.configs[0].eps_np], [eps_up, gamma, p, eps_np], rtol=1e-6)
    for target in np.geomspace(eps_np * 1.2, eps_up * 0.9, 5):
        closed = _inverse(target, fit.configs[0].eps_np, fit.eps_up, fit.gamma, fit.p)
        assert density_for_error(fit, target, extrapolate=True) == pytest.approx(closed, rel=1e-8)
