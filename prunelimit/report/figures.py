"""Matplotlib figure builders (Agg backend, no display) shared by the PNG files and the HTML report.

Each builder takes a result of ``prunelimit.api`` and returns an open ``Figure``; the
caller saves it (``plots.save_figure``) or embeds it (``figure_png``) and so closes it.
"""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from prunelimit.report.notebook import estimate_item  # noqa: E402
from prunelimit.report.rounding import AT_LEAST, percent, signed  # noqa: E402

PNG_DPI = 110
# no "Software: matplotlib … https://…" tEXt chunk: the PNG carries nothing but the image
PNG_METADATA = {"Software": None}


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches="tight", metadata=PNG_METADATA)
        return buf.getvalue()
    finally:
        plt.close(fig)


def spectrum_figure(rep) -> Figure:
    """Quadrature measure of |λ| (``SpectrumReport``) on a log axis: where the spectral mass sits."""
    q = rep.quadrature
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    mags = np.abs(q.nodes[q.weights > 0])
    w = q.weights[q.weights > 0] / q.runs
    floor = max(mags.max(initial=1.0) * 1e-12, np.finfo(float).tiny)
    bins = np.logspace(np.log10(floor), np.log10(max(mags.max(initial=1.0), floor * 10)), 60)
    ax.hist(np.clip(mags, floor, None), bins=bins, weights=w, color="#3b6ea5")
    ax.set_xscale("log")
    ax.set_xlabel("|λ| (Hessian eigenvalue magnitude)")
    ax.set_ylabel("spectral mass (fraction of the eigenvalues)")
    label = "exact" if getattr(rep, "solver", "") == "exact" else "SLQ"
    # as the console's spectrum table and bounds line state them (four digits, − for a negative λmin)
    ax.set_title(f"{label} spectrum ({rep.method}): λmax {signed(rep.lambda_max, '.4g')}, "
                 f"λmin {signed(rep.lambda_min, '.4g')}")
    return fig


def bounds_figure(rep) -> Figure:
    """Theory curve ρ = F(R) against the magnitude path R(ρ) (``BoundsReport``); they cross at ρ*."""
    from prunelimit.theory.statdim import stat_dim_fraction

    q, p, profile = rep.spectrum.quadrature, rep.prediction, rep.profile
    ratios = np.linspace(0, 1, 401)
    radii = np.array([profile.radius_continuous(r) for r in ratios])
    grid = np.linspace(0, radii[-1], 400)
    f = stat_dim_fraction(q.nodes, q.weights, grid, rep.epsilon, negative=p.negative, signed=q.signed)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(grid, f, color="#c0392b", label="theory: ρ = F(R)")
    ax.plot(radii, ratios, color="#2c6fbb", label="magnitude pruning path R(ρ)")
    # ρ* with its ± and the bounds in percent, as the console's lines and table state them (they read 0.919)
    ax.axhline(rep.ratio, color="k", lw=0.8, ls="--", label=_estimate(rep.ratio, rep.uncertainty))
    if rep.lower is not None:
        ax.axhspan(rep.lower, rep.upper, color="0.85", label=f"[ρ_L, ρ_U] = [{percent(rep.lower)}, {percent(rep.upper)}]")
    ax.set_xlabel("projection distance R = ‖w − MP_ρ(w)‖₂")
    ax.set_ylabel("pruning ratio ρ (removed fraction)")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _estimate(ratio: float, uncertainty) -> str:
    """``ρ* = 91.9 % ± 1.2 pt`` as the result's repr and the console's headline state it; the
    ratio alone where no ± is stated (``uncertainty`` ``None``)."""
    return estimate_item("ρ*", ratio, None if uncertainty is None else uncertainty.plus_minus)


def verify_figure(rep) -> Figure:
    """Loss and accuracy against the ratio (``VerifyReport``), prediction and bounds as vertical lines."""
    a, b = rep.actual, rep.prediction
    points = sorted((*a.probes, *a.curve), key=lambda pt: pt.ratio)
    # the two criteria probe different ratios: plot each series where it was measured
    lossy = [pt for pt in points if pt.loss == pt.loss]
    accurate = [pt for pt in points if pt.accuracy is not None]
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(6.4, 6.0), sharex=True)
    ax_loss.plot([pt.ratio for pt in lossy], [pt.loss for pt in lossy], "o-", ms=3, color="#2c6fbb",
                 label="loss (analysis data)")
    ax_loss.axhline(a.dense_loss + b.epsilon, color="0.4", lw=0.8, ls=":", label="L(w*) + ε")
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("loss")
    if a.dense_accuracy is not None:
        ax_acc.plot([pt.ratio for pt in accurate], [100 * pt.accuracy for pt in accurate], "o-", ms=3,
                    color="#27ae60", label="accuracy (evaluation data)")
        ax_acc.axhline(100 * a.dense_accuracy - a.acc_drop, color="0.4", lw=0.8, ls=":", label="dense − δ")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_xlabel("pruning ratio ρ (removed fraction)")
    for ax in (ax_loss, ax_acc):
        ax.axvline(b.ratio, color="#c0392b", label=f"predicted {_estimate(b.ratio, b.uncertainty)}")
        if b.lower is not None:
            ax.axvspan(b.lower, b.upper, color="#c0392b", alpha=0.12, label="[ρ_L, ρ_U]")
        ax.axvline(a.loss_ratio, color="k", ls="--", lw=0.9,
                   label=f"actual (loss) = {AT_LEAST[a.loss_crossed]}{percent(a.loss_ratio)}")
        ax.legend(fontsize=7, loc="best")
    return fig


def layers_at_ratio(names: Sequence[str], profile, ratio: float) -> list:
    """Per-tensor zeros that global magnitude pruning to ``ratio`` would leave (``MagnitudeProfile``
    over the tensors ``names``, in the same order), for ``sparsity_figure`` before anything is pruned."""
    from prunelimit.pruning.masks import LayerSparsity

    masks = profile.keep_masks(ratio)
    return [LayerSparsity(name, int(m.numel()), int((~m).sum())) for name, m in zip(names, masks, strict=True)]


def sparsity_figure(layers: Sequence, collapsed: Sequence[str] = ()) -> Figure:
    """Removed fraction per prunable tensor (items with ``name``, ``total``, ``zeros``), in their
    order; the layers named in ``collapsed`` (emptied by the pruning) hatched, as in ``layers_figure``."""
    names = [layer.name for layer in layers]
    ratios = [layer.zeros / layer.total if layer.total else 0.0 for layer in layers]
    total = sum(layer.total for layer in layers)
    overall = sum(layer.zeros for layer in layers) / total if total else 0.0
    fig, ax = plt.subplots(figsize=(6.4, max(1.6, 0.32 * len(names) + 1.0)))
    y = np.arange(len(names))
    ax.barh(y, ratios, color="#3b6ea5")
    emptied = [i for i, name in enumerate(names) if name in collapsed]
    if emptied:
        ax.barh(emptied, [1.0] * len(emptied), fill=False, edgecolor="k", hatch="//", label="collapse (> 99 %)")
    ax.axvline(overall, color="#c0392b", lw=0.9, ls="--", label=f"overall {percent(overall)}")
    ax.set_yticks(y, names, fontsize=8, parse_math=False)  # a name is the user's text: "a$x$" is not math
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("pruning ratio per tensor (removed fraction)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def export_figure(tensors: Sequence) -> Figure:
    """Per tensor of an export (``TensorLayout`` items): its kept density, and its bytes dense
    and as exported, with the layout chosen (a log axis: a pruned tensor's bytes and a
    bias's differ by orders of magnitude); a tied tensor is stored once, under its twin."""
    names = [t.name for t in tensors]
    y = np.arange(len(names))
    fig, (ax_density, ax_bytes) = plt.subplots(1, 2, sharey=True, figsize=(9.6, max(1.8, 0.32 * len(names) + 1.2)))
    ax_density.barh(y, [t.density for t in tensors], color="#3b6ea5")
    ax_density.set_xlim(0, 1)
    ax_density.set_xlabel("kept density", fontsize=9)
    ax_bytes.barh(y - 0.2, [t.dense_bytes for t in tensors], height=0.4, color="0.7", label="dense")
    ax_bytes.barh(y + 0.2, [max(t.total_bytes, 1) for t in tensors], height=0.4, color="#27ae60", label="exported")
    ax_bytes.set_xscale("log")
    ax_bytes.set_xlabel("bytes (log scale)", fontsize=9)
    ax_bytes.legend(loc="lower right", fontsize=7)
    for i, t in enumerate(tensors):
        layout = t.format if t.alias is None else f"tied to {t.alias}"
        ax_bytes.annotate(layout, (max(t.total_bytes, 1), i + 0.2), xytext=(3, 0), textcoords="offset points",
                          va="center", fontsize=7, annotation_clip=False)
    ax_density.set_yticks(y, names, fontsize=8, parse_math=False)  # a name is the user's text
    ax_density.invert_yaxis()
    return fig


def imp_figure(rows: Sequence) -> Figure:
    """An IMP sweep level by level (``ImpResult.rows``, level 0 dense): the kept density on a
    log axis (each level keeps 1 − rate of the last), and the evaluation error and loss."""
    levels = [row.level for row in rows]
    fig, (ax_density, ax_error) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    ax_density.plot(levels, [row.density for row in rows], "o-", ms=3, color="#3b6ea5")
    ax_density.set_yscale("log")
    ax_density.set_ylabel("kept density (prunable weights)")
    ax_error.plot(levels, [100 * row.error for row in rows], "o-", ms=3, color="#c0392b",
                  label="error (1 − accuracy, evaluation data)")
    ax_error.set_ylabel("error (%)")
    ax_error.set_xlabel("IMP level (0 = dense)")
    ax_error.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss = ax_error.twinx()
    ax_loss.plot(levels, [row.loss for row in rows], "s--", ms=3, color="0.45", label="loss")
    ax_loss.set_ylabel("loss")
    handles = [*ax_error.get_legend_handles_labels()[0], *ax_loss.get_legend_handles_labels()[0]]
    ax_error.legend(handles=handles, loc="best", fontsize=8)
    return fig


def hyperflux_figure(log: Sequence, requested_density: float) -> Figure:
    """A Hyperflux run epoch by epoch (``HyperfluxReport.log``): the density against its
    trajectory and the requested density, the pressure Γ and the training loss; the
    regrowth phase (Γ = 0) is shaded."""
    epochs = [e.epoch for e in log]
    fig, (ax_density, ax_pressure, ax_loss) = plt.subplots(3, 1, figsize=(6.4, 7.0), sharex=True)
    regrown = [e.epoch for e in log if e.phase == "regrow"]
    for ax in (ax_density, ax_pressure, ax_loss) if regrown else ():
        ax.axvspan(min(regrown) - 0.5, max(regrown) + 0.5, color="#27ae60", alpha=0.1,
                   label="regrowth" if ax is ax_density else None)
    ax_density.plot(epochs, [e.density for e in log], "o-", ms=3, color="#3b6ea5", label="density")
    aimed = [(e.epoch, e.target) for e in log if e.target is not None]
    if aimed:
        ax_density.plot(*zip(*aimed), ":", color="0.3", label="trajectory")
    ax_density.axhline(requested_density, color="#c0392b", lw=0.9, ls="--",
                       label=f"requested {percent(requested_density)}")
    ax_density.set_yscale("log")
    ax_density.set_ylabel("kept density")
    ax_density.legend(fontsize=8, loc="best")
    ax_pressure.plot(epochs, [e.pressure for e in log], "o-", ms=3, color="#8e44ad")
    ax_pressure.set_ylabel("pressure Γ")
    ax_loss.plot(epochs, [e.loss for e in log], "o-", ms=3, color="0.35")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def layers_figure(breakdown) -> Figure:
    """Per layer (a ``LayerBreakdown``): removed fraction at ρ*, share of the width at R(ρ*) and
    trace of the diagonal block, side by side; the rest block has no sparsity."""
    layers = breakdown.layers
    names = [layer.name for layer in layers]
    y = np.arange(len(names))
    fig, axes = plt.subplots(1, 3, sharey=True, figsize=(9.6, max(1.8, 0.32 * len(names) + 1.2)))
    panels = (
        ("removed at ρ*", [layer.sparsity_at_rho for layer in layers], "#3b6ea5", (0, 1)),
        ("share of width at R(ρ*)", [layer.share_of_width for layer in layers], "#27ae60", (0, 1)),
        ("trace of the block", [layer.trace for layer in layers], "#c0392b", None),
    )
    for ax, (label, values, color, limits) in zip(axes, panels):
        ax.barh(y, [0.0 if v is None else v for v in values], color=color)
        ax.set_xlabel(label, fontsize=9)
        if limits is not None:
            ax.set_xlim(*limits)
    collapsed = [i for i, layer in enumerate(layers) if layer.collapsed]
    axes[0].barh(collapsed, [1.0] * len(collapsed), fill=False, edgecolor="k", hatch="//", label="collapse (> 99 %)")
    if collapsed:
        axes[0].legend(loc="lower right", fontsize=7)
    axes[0].set_yticks(y, names, fontsize=8, parse_math=False)
    axes[0].invert_yaxis()
    return fig


def bounds_figures(rep) -> dict[str, Figure]:
    """The figures of a ``bounds`` report: spectrum, F(R) against R(ρ), sparsity per layer at ρ*
    and, with ``--per-layer``, each layer's curvature beside it."""
    figures = {
        "Hessian spectrum": spectrum_figure(rep.spectrum),
        "F(R) against the pruning path R(ρ)": bounds_figure(rep),
        "sparsity per layer at ρ*": sparsity_figure(layers_at_ratio(rep.prunable_names, rep.profile, rep.ratio)),
    }
    if rep.layers is not None:
        figures["per-layer curvature and sparsity at ρ*"] = layers_figure(rep.layers)
    return figures


def verify_figures(rep) -> dict[str, Figure]:
    """The ``bounds`` figures (when the prediction was computed, not read from a file) plus
    loss and accuracy against the ratio."""
    shown = {} if rep.bounds is None else bounds_figures(rep.bounds)
    return {**shown, "loss and accuracy against the ratio": verify_figure(rep)}
