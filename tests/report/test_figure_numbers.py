"""The spectrum figure's title states λmax and λmin as the console does (``λmin −0.007099``):
it wrote ``λmin -0.0071``, three digits and an ASCII minus, in the HTML report and ``--plot``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from prunelimit.report.console import fmt
from prunelimit.report.figures import figure_png, spectrum_figure


def test_the_spectrum_title_states_lambda_as_the_console() -> None:
    quadrature = SimpleNamespace(nodes=np.array([-0.007099123, 0.5, 3.96212]), weights=np.array([0.2, 0.3, 0.5]), runs=1)
    rep = SimpleNamespace(quadrature=quadrature, solver="exact", method="default", lambda_max=3.96212,
                          lambda_min=-0.007099123)
    fig = spectrum_figure(rep)
    title = fig.axes[0].get_title()
    figure_png(fig)  # closes it
    assert title == f"exact spectrum (default): λmax {fmt(3.96212)}, λmin {fmt(-0.007099123)}"
    assert "λmin −0.007099" in title


def test_the_law_figures_state_their_parameters_as_the_fit_tables() -> None:
    """The NPLH legend wrote ``c`` to three digits and α0 and R² to three decimals, the error-law
    title its parameters to three digits, where the fit tables write four."""
    from prunelimit.laws.errorlaw import ErrorPoints, error_law, fit_error_law, fit_figure
    from prunelimit.laws.nplh import fit_nplh, nplh_figure
    from prunelimit.laws.points import LawPoints

    gamma = np.geomspace(1.0, 1e4, 30)
    fit = fit_nplh(LawPoints(0.4 * gamma ** -0.3 * (1 + 0.01 * np.sin(gamma)), gamma))  # not exactly a line
    fig = nplh_figure(fit)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    figure_png(fig)
    assert f"s = {fit.c:.4g}·γ^-{fit.alpha0:.4f} (R² {fit.r2:.4f})" in labels
    d = np.geomspace(0.005, 1.0, 16)
    points = ErrorPoints(d, error_law(d, 0.04, 0.8, 2.0, 0.015) * (1 + 0.02 * np.sin(7 * d)))
    law = fit_error_law(points)
    fig = fit_figure(law, points)
    title = fig.axes[0].get_title()
    figure_png(fig)
    assert title == f"error law: γ={fmt(law.gamma)}, ε↑={fmt(law.eps_up)}, p={fmt(law.p)}"
