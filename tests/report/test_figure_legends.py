"""The figures state ρ*, its bounds, the measured limit and the overall sparsity as the console
does, in percent with ρ*'s ±: their legends wrote fractions to three decimals (``ρ* = 0.760``,
``[ρ_L, ρ_U] = [0.591, 0.926]``, ``actual (loss) = 0.819``, ``overall 0.760``), a number no
other form states, and ρ* without its ±."""

from __future__ import annotations

import prunelimit
from prunelimit.report.figures import bounds_figure, figure_png, sparsity_figure, verify_figure
from prunelimit.report.rounding import AT_LEAST, estimate_text, percent


def _legend(fig) -> list[str]:
    labels = [label for ax in fig.axes for label in ax.get_legend_handles_labels()[1]]
    figure_png(fig)  # closes it
    return labels


def test_the_legends_state_the_limits_as_the_console(tiny_model, train) -> None:
    result = prunelimit.verify(tiny_model, train, method="slq", max_hvps=40)
    b, a = result.bounds, result.actual
    estimate = f"ρ* = {estimate_text(b.ratio, b.uncertainty.plus_minus)}"  # as the repr and the headline line
    assert b.uncertainty.plus_minus > 0  # a stated ±, shown beside ρ*
    labels = _legend(bounds_figure(b))
    assert estimate in labels and f"[ρ_L, ρ_U] = [{percent(b.lower)}, {percent(b.upper)}]" in labels
    labels = _legend(verify_figure(result))
    assert f"predicted {estimate}" in labels
    assert f"actual (loss) = {AT_LEAST[a.loss_crossed]}{percent(a.loss_ratio)}" in labels
    pruned = prunelimit.prune(tiny_model, 0.5)
    assert f"overall {percent(pruned.achieved)}" in _legend(sparsity_figure(pruned.layers))
