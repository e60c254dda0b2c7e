"""The tolerance warning's "largest part" compared the probe and data parts as 1σ standard
errors with the steps bound, which the ± adds whole: after a float64 re-run on a 483-weight
classifier fitted near zero loss (seed 1, --tolerance 0.002, --max-hvps 700) the runs stopped
at 3 probes × 128 steps, steps 0.034 and probes 0.026 s.e., which adds 0.058 to the ± of
0.092; adaptive SLQ had weighed them so and wanted another probe, yet the warning said 'the
largest part is steps, which needs more Lanczos steps'. Parts now compare as they enter the ±."""

from __future__ import annotations

import prunelimit.api as api
from prunelimit.api.spectrum_notes import tolerance_warning
from prunelimit.theory.uncertainty import Uncertainty


def test_the_largest_part_is_the_one_that_adds_most_to_the_plus_minus() -> None:
    u = Uncertainty(probes=0.02585, steps=0.03372, data=None, runs=3, probes_kind="bound")
    # the probe part at the ±'s level is more than the steps bound (0.058 against 0.034), its 1σ less
    assert u.statistical > u.steps + 0.01 and u.probes < u.steps
    warning = tolerance_warning("slq-h", "max-hvps", 483, 0.6076, u, api.CurvatureOptions(tolerance=0.002,
                                                                                          max_hvps=700))
    assert "the largest part is probes, which needs more probes" in warning


def test_a_steps_bound_above_the_probe_part_at_its_level_is_still_the_largest() -> None:
    u = Uncertainty(probes=0.02585, steps=0.08, data=None, runs=3, probes_kind="bound")
    assert u.steps > u.statistical
    warning = tolerance_warning("slq-h", "max-hvps", 483, 0.6076, u, api.CurvatureOptions(tolerance=0.002,
                                                                                          max_hvps=700))
    assert "the largest part is steps, which needs more Lanczos steps" in warning


def test_the_data_part_compares_at_the_level_of_the_plus_minus_too() -> None:
    """A data part (1σ 0.02, 4 parts) below a steps bound of 0.03 adds more than it to the ±."""
    u = Uncertainty(probes=0.001, steps=0.03, data=0.02, runs=3, data_parts=4)
    warning = tolerance_warning("slq-h", "max-hvps", 483, 0.6, u, api.CurvatureOptions(tolerance=0.002,
                                                                                       max_hvps=700))
    assert "the largest part is data, which needs more curvature samples" in warning


def test_a_grid_part_that_alone_reaches_the_tolerance_is_named_before_a_larger_probe_part() -> None:
    """--method paper on the example: grid 1.05 pt, its one probe's part 1.8 pt at the ±'s
    level, tolerance 1 pt. More probes cannot meet it while the grid part stands: the warning
    names the grid and the continuous root, not the probes."""
    u = Uncertainty(probes=0.00916, steps=0.00188, data=None, runs=1, probes_kind="bound", grid=0.0105)
    assert u.statistical > u.grid
    warning = tolerance_warning("slq-h", None, 2410, 0.918, u, api.CurvatureOptions(method="paper", tolerance=0.01))
    assert "its grid part alone reaches it, which needs the continuous root (--method default)" in warning
