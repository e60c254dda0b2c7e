"""A bounds result's spectrum block states its path's tolerance note (stop34) with the rounding
remedy of this run (advice34's ``rounding_fix``), word for word the bounds' own tolerance
warning: merged together, the block's note was made without the run's remedy and named the
generic one (float64 products, --method exact) where the warning named what applies."""

from __future__ import annotations

import prunelimit
import prunelimit.api.spectrum_notes as spectrum_notes
import prunelimit.api.limit as limit_api

RUN_REMEDY = "the remedy this run's products and memory allow"


def test_the_spectrum_blocks_note_is_the_bounds_warning(monkeypatch, model, train) -> None:
    # the rounding part taken as the one that alone reaches the tolerance, and this run's remedy
    # for it a marker, so that the note names it only where it is given this run's remedy
    monkeypatch.setattr(spectrum_notes, "_fixed_part_alone", lambda u, tolerance: "rounding")
    monkeypatch.setattr(limit_api, "rounding_fix", lambda *args: RUN_REMEDY)
    rep = prunelimit.bounds(model, train, method="slq", max_hvps=120)
    assert rep.spectrum.tolerance_met is False
    assert RUN_REMEDY in rep.spectrum.tolerance_note
    assert rep.spectrum.tolerance_note in rep.warnings
