"""PNG files of the figures in ``prunelimit.report.figures``, written atomically."""

from __future__ import annotations

from pathlib import Path

from prunelimit.io.atomic import write_bytes_atomic
from prunelimit.report.figures import bounds_figure, figure_png, spectrum_figure, verify_figure


def save_figure(fig, path: str | Path, force: bool = False) -> Path:
    """Write ``fig`` as PNG to ``path`` (refusing to overwrite without ``force``); the figure is closed."""
    return write_bytes_atomic(path, figure_png(fig), force)


def plot_spectrum(rep, path: str | Path, force: bool = False) -> Path:
    """Quadrature measure of |λ| on a log axis: where the spectral mass sits."""
    return save_figure(spectrum_figure(rep), path, force)


def plot_bounds(rep, path: str | Path, force: bool = False) -> Path:
    """Theory curve ρ = F(R) against the magnitude path R(ρ); they cross at ρ*."""
    return save_figure(bounds_figure(rep), path, force)


def plot_verify(rep, path: str | Path, force: bool = False) -> Path:
    """Loss and accuracy against the ratio, the prediction and bounds as vertical lines."""
    return save_figure(verify_figure(rep), path, force)
