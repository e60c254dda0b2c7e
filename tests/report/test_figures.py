"""The figure builders: user-controlled names are drawn as typed, never as mathtext."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from prunelimit.laws.errorlaw import ErrorPoints, error_law, fit_error_law, fit_figure
from prunelimit.report.figures import figure_png, layers_figure, sparsity_figure, spectrum_figure

# Module names are the user's (a ModuleDict key may hold any character but '.'): matplotlib
# reads text between two '$' as mathtext, so these crashed the report after the work was done
# (ValueError: ParseSyntaxException) or drew "a$x$" as an italic x.
NAMES = ("cost$\\frac$.weight", "x$^$.weight", "a$x$.weight", "<script>.weight")


def _labels(fig) -> list[str]:
    ticks = [t for ax in fig.axes for t in ax.get_yticklabels()]
    assert not any(t.get_parse_math() for t in ticks)  # drawn as typed
    return [t.get_text() for t in ticks]


def _layer(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, total=10, zeros=3)


@pytest.mark.parametrize("name", NAMES)
def test_sparsity_figure_draws_any_layer_name_as_text(name):
    fig = sparsity_figure([_layer(name), _layer("0.weight")])
    assert name in _labels(fig)
    assert figure_png(fig).startswith(b"\x89PNG")


def test_layers_figure_draws_any_layer_name_as_text():
    share = dict(sparsity_at_rho=0.5, share_of_width=0.25, trace=1.0, collapsed=False)
    layers = [SimpleNamespace(name=name, **share) for name in NAMES]
    fig = layers_figure(SimpleNamespace(layers=layers))
    assert set(NAMES) <= set(_labels(fig))
    assert figure_png(fig).startswith(b"\x89PNG")


def test_the_error_law_figure_names_its_curve_and_the_errors_unit():
    """The fitted curve had no legend entry (only "measured" had one) and the error axis no
    unit: errors are fractions (1 − accuracy for `imp`'s CSV), as the CSV holds them."""
    d = np.geomspace(1e-3, 1.0, 20)
    points = ErrorPoints(d, error_law(d, 0.05, 0.9, 2.0, 0.01))
    fig = fit_figure(fit_error_law(points), points)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "measured" in labels and any(label.startswith("fitted law") for label in labels)
    assert "fraction" in ax.get_ylabel() and "fraction" in ax.get_xlabel()
    figure_png(fig)


def test_the_spectrum_figure_states_what_its_bars_measure():
    """Its y axis read "spectral mass" with no unit: each bar is the share of the D eigenvalues
    (the quadrature weights, which sum to 1) whose |λ| falls in it."""
    nodes = np.array([1e-6, 1e-3, 0.5, 2.0])
    quadrature = SimpleNamespace(nodes=nodes, weights=np.full(4, 0.25), runs=1)
    rep = SimpleNamespace(quadrature=quadrature, solver="exact", method="default", lambda_max=2.0, lambda_min=1e-6)
    fig = spectrum_figure(rep)
    (ax,) = fig.axes
    assert "fraction of the eigenvalues" in ax.get_ylabel()
    assert sum(bar.get_height() for bar in ax.patches) == pytest.approx(1.0)
    figure_png(fig)


def test_the_imp_figure_draws_each_level_s_density_error_and_loss():
    """`imp --report`'s trajectory: the levels' kept densities (log axis), errors in % and losses."""
    from prunelimit.laws.imp import ImpRow
    from prunelimit.report.figures import imp_figure

    rows = [ImpRow(level, 0.8 ** level, 0.05 + 0.01 * level, 0.2 + 0.1 * level, None, None) for level in range(4)]
    fig = imp_figure(rows)
    ax_density, ax_error, ax_loss = fig.axes
    assert ax_density.get_yscale() == "log"
    assert list(ax_density.lines[0].get_ydata()) == [r.density for r in rows]
    assert list(ax_error.lines[0].get_ydata()) == pytest.approx([100 * r.error for r in rows])
    assert list(ax_loss.lines[0].get_ydata()) == [r.loss for r in rows]
    assert figure_png(fig).startswith(b"\x89PNG")


def test_the_hyperflux_figure_draws_the_density_against_its_trajectory_and_target():
    """`hyperflux --report`'s trajectory: density per epoch beside the trajectory the pressure
    phase aims at and the requested density, the pressure and the loss; the regrowth shaded."""
    from prunelimit.laws.hyperflux import HyperfluxEpoch
    from prunelimit.report.figures import hyperflux_figure

    log = [HyperfluxEpoch(1, "prune", 0.0, 0.6, 0.5, 1.0), HyperfluxEpoch(2, "prune", 0.4, 0.3, 0.2, 0.8),
           HyperfluxEpoch(3, "regrow", 0.0, 0.22, None, 0.7)]
    fig = hyperflux_figure(log, 0.2)
    ax_density, ax_pressure, ax_loss = fig.axes
    lines = {line.get_label(): list(line.get_ydata()) for line in ax_density.lines}
    assert lines["density"] == [0.6, 0.3, 0.22] and lines["trajectory"] == [0.5, 0.2]
    assert lines["requested 20.00 %"] == [0.2, 0.2]
    assert list(ax_pressure.lines[0].get_ydata()) == [0.0, 0.4, 0.0]
    assert list(ax_loss.lines[0].get_ydata()) == [1.0, 0.8, 0.7]
    assert "regrowth" in [t.get_text() for t in ax_density.get_legend().get_texts()]
    assert figure_png(fig).startswith(b"\x89PNG")


def test_the_export_figure_draws_each_tensor_s_density_and_bytes():
    """`export --report`: kept density per tensor, and its bytes dense and exported side by side
    (log axis), each labelled with its layout; names drawn as typed."""
    from prunelimit.report.figures import export_figure

    tensors = [SimpleNamespace(name=NAMES[0], density=0.1, dense_bytes=8192, total_bytes=1200, format="csr", alias=None),
               SimpleNamespace(name="0.bias", density=1.0, dense_bytes=128, total_bytes=128, format="dense", alias=None),
               SimpleNamespace(name="tied", density=0.1, dense_bytes=8192, total_bytes=0, format="csr", alias="w")]
    fig = export_figure(tensors)
    ax_density, ax_bytes = fig.axes
    assert [p.get_width() for p in ax_density.patches] == [0.1, 1.0, 0.1]
    widths = [p.get_width() for p in ax_bytes.patches]
    assert widths == [8192, 128, 8192, 1200, 128, 1]  # dense bars, then exported (a tied tensor's 0 drawn at 1)
    assert ax_bytes.get_xscale() == "log"
    assert [t.get_text() for t in ax_bytes.texts] == ["csr", "dense", "tied to w"]
    assert _labels(fig) == [NAMES[0], "0.bias", "tied"]
    assert figure_png(fig).startswith(b"\x89PNG")
