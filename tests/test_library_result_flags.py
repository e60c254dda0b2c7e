"""The flags docs/library.md names on a ``BoundsReport`` are the JSON's: the overshoot flags
(``overshoot.lower_overshoots``, not ``overshoot.lower``, a measured point), the solver
choice, the stop reason and the float64 re-run flag."""

from __future__ import annotations

import prunelimit


def test_a_bounds_results_flags_are_its_jsons(model, train):
    """A short SLQ plan (``max_hvps=60``: stopped by it), deterministic by its seed."""
    result = prunelimit.bounds(model, train, method="slq", max_hvps=60)
    doc = result.to_json()
    assert (result.overshoot.lower_overshoots, result.overshoot.predicted_overshoots) == \
        (doc["overshoot"]["lower"], doc["overshoot"]["predicted"])
    assert result.overshoot.lower_overshoots in (True, False, None)
    spectrum = doc["spectrum"]
    assert result.spectrum.stopped_by == spectrum["stopped_by"] == "max-hvps"
    assert result.spectrum.choice.to_json() == spectrum["choice"]
    assert result.spectrum.quadrature.float64_products == spectrum["float64_products"]
    assert (result.uncertainty.plus_minus, result.uncertainty.stderr) == \
        (doc["prediction"]["uncertainty"]["plus_minus"], doc["prediction"]["stderr"])
