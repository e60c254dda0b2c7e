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
