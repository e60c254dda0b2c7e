"""A library result's one-line ``repr`` names the solver that ran and what stopped it, and a
predicted pruning ratio carries ρ*'s ±, as the console and the JSON state them: ``bounds``
named only the method, ``spectrum`` not the stop, and ``prune(…, "auto")`` printed the
ratio alone (``requested = 91.60 %``) however wide its ± was."""

from __future__ import annotations

import prunelimit
from prunelimit.report.rounding import estimate_text


def test_bounds_and_spectrum_name_the_solver_and_its_stop(tiny_model, train) -> None:
    for result in (prunelimit.bounds(tiny_model, train, method="slq", max_hvps=40),
                   prunelimit.spectrum(tiny_model, train, method="slq", max_hvps=40)):
        assert "solver='slq-h'" in repr(result) and "stopped_by='max-hvps'" in repr(result)


def test_an_exact_spectrum_states_no_stop(tiny_model, train) -> None:
    text = repr(prunelimit.bounds(tiny_model, train, method="exact"))
    assert "solver='exact'" in text and "stopped_by" not in text


def test_a_predicted_pruning_ratio_carries_its_plus_minus(tiny_model, train) -> None:
    found = prunelimit.prune(tiny_model, "auto", train, method="slq", max_hvps=40)
    plus_minus = found.uncertainty["plus_minus"]
    assert plus_minus > 0 and f"requested = {estimate_text(found.requested, plus_minus)}" in repr(found)
    assert "requested = 50.00 %" in repr(prunelimit.prune(tiny_model, 0.5))  # a given ratio: no ±
