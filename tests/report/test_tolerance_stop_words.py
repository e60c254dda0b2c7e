"""A saved report's "tolerance" stop is worded by what its whole ± met: by
``spectrum.tolerance_met``, or, in a report from before it, by ``prediction.uncertainty``'s
``plus_minus`` against ``options.tolerance`` (``verify --from``, ``gate``, the HTML report and
a result's ``_repr_html_`` said "reached the tolerance" of a 1.13 pt ± against 1 pt)."""

from __future__ import annotations

import pytest

from prunelimit.report.console import stated_solver_text, stop_text
from prunelimit.report.html import summary_html
from tests.conftest import summary_rows


def _doc(plus_minus: float, met: bool | None = None) -> dict:
    spectrum = {"stopped_by": "tolerance", "solver": "slq-h", "runs": 3, "iterations": 256,
                "choice": {"solver": "slq-h", "adaptive": True, "reason": "adaptive SLQ to ±0.01 in ρ* (--method slq)"}}
    if met is not None:
        spectrum["tolerance_met"] = met
    return {"options": {"tolerance": 0.01}, "spectrum": spectrum,
            "prediction": {"ratio": 0.396, "uncertainty": {"plus_minus": plus_minus}}}


MISSED = "reached the tolerance in the runs' steps and probe parts, not in the stated ± (see the warning)"


@pytest.mark.parametrize("doc, words", [
    (_doc(0.0113), MISSED),  # a report from before tolerance_met: its ± against its tolerance
    (_doc(0.0113, met=False), MISSED),
    (_doc(0.0085), "reached the tolerance"),
    (_doc(0.0085, met=True), "reached the tolerance"),
])
def test_a_saved_tolerance_stop_says_whether_its_whole_plus_minus_met_it(doc, words) -> None:
    assert stated_solver_text(doc).endswith(f"3 probes × 256 steps, {words}")
    assert summary_rows(summary_html("bounds", doc))["what stopped the spectrum"] == words


def test_only_a_missed_tolerance_changes_the_words() -> None:
    assert stop_text("tolerance") == stop_text("tolerance", True) == "reached the tolerance"
    assert stop_text("max-hvps", False) == stop_text("max-hvps")  # a budget's stop names the budget, met or not


@pytest.mark.parametrize("stopped_by, met, shown", [
    ("tolerance", False, ["tolerance_met=False"]), ("tolerance", True, []), ("max-hvps", False, []),
])
def test_a_result_repr_says_a_tolerance_stop_missed_its_tolerance(stopped_by, met, shown) -> None:
    from types import SimpleNamespace

    from prunelimit.report.notebook import _solver

    s = SimpleNamespace(solver="slq-h", stopped_by=stopped_by, tolerance_met=met)
    assert _solver(s) == ["solver='slq-h'", f"stopped_by={stopped_by!r}", *shown]
