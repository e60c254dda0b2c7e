"""The tolerance warning of a "rounding" stop said "the runs stopped there; it is the part to
narrow" whatever the other parts: adaptive SLQ now stops there at once only for a float64
re-run, and where none follows, once its steps and probe parts meet the tolerance. The
warning says which, and names the rounding part's remedy from the parts themselves."""

from __future__ import annotations

import prunelimit.api as api
from prunelimit.api.spectrum_notes import tolerance_warning
from prunelimit.theory.uncertainty import Uncertainty

OPTIONS = api.CurvatureOptions(tolerance=0.002, max_hvps=300)


def test_runs_that_narrowed_the_other_parts_say_so() -> None:
    """Steps and probes within the tolerance (0.0003 + 0.0010 at the ±'s level), rounding 0.006."""
    u = Uncertainty(probes=0.0005, steps=0.0003, data=None, runs=3, probes_kind="bound", rounding=0.006)
    warning = tolerance_warning("slq-h", "rounding", 147, 0.59, u, OPTIONS)
    assert "narrowed their steps and probe parts to it" in warning
    assert "its rounding part alone reaches it, which needs a larger" in warning
    assert "the part to narrow" not in warning and "stopped there" not in warning


def test_runs_stopped_for_a_float64_re_run_that_did_not_follow_say_so() -> None:
    """The stop before a float64 re-run whose operator then did not fit: steps 0.05 and probes
    0.10 dominate a rounding part of 0.006; the warning no longer says the runs narrowed them."""
    u = Uncertainty(probes=0.05, steps=0.05, data=None, runs=3, probes_kind="bound", rounding=0.006)
    warning = tolerance_warning("slq-h", "rounding", 147, 0.59, u, OPTIONS)
    assert "for a run on float64 products, which then did not fit" in warning
    assert "narrowed" not in warning and "the part to narrow" not in warning
