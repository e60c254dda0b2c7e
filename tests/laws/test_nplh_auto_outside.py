"""``--region auto`` when no straight segment of the points overlaps the authors' region
(0.5 %–50 %): it fits the segment nearest to that region and says so."""

from __future__ import annotations

import json

import numpy as np
import pytest

import prunelimit

from prunelimit.laws.nplh import fit_nplh
from prunelimit.laws.points import LawPoints, write_points
from prunelimit.report.console import pct


def _bent(top: float) -> LawPoints:
    """40 points on two exact straight stretches in log-log, α0 0.03 for γ < 1 and 0.12 above
    (a corner at γ = 1), the largest density ``top``: they span a factor 1.35 in density."""
    u = np.linspace(-2.0, 2.0, 40)
    ln_s = np.where(u < 0, -0.03 * u, -0.12 * u)
    return LawPoints.from_arrays(top * np.exp(ln_s - ln_s.max()), np.exp(u))


# all points above 50 % (74 %–100 %): the nearest stretch is the steeper one at the lower densities;
# all below 0.5 % (0.30 %–0.40 %): the gentler one at the higher densities
@pytest.mark.parametrize("top, alpha0", [(1.0, 0.12), (0.004, 0.03)])
def test_auto_region_outside_the_default_fits_the_nearest_segment_and_says_so(top, alpha0):
    """All points above 50 % had the fit take the stretch farthest from 50 % (94 %–100 %, α0 0.03)
    because it came first, and neither case said that no stretch lay in 0.5 %–50 %."""
    fit = prunelimit.fit_nplh(_bent(top), region="auto")
    # the points are exact, so the fitted slope is the stretch's to round-off
    assert fit.alpha0 == pytest.approx(alpha0, rel=1e-6) and fit.n_region == 20
    outside = [w for w in fit.warnings if "automatic region" in w]
    # every density in percent, as the fit's "region (density)" line states them (they were fractions here)
    assert outside == [f"no straight segment of the points overlaps the density region 0.5 % – 50 % the law is "
                       f"fitted on (they span {pct(fit.points.density[-1])} – {pct(fit.points.density[0])}); "
                       f"the automatic region took the one nearest to it, {pct(fit.region_low)} – {pct(fit.region_high)} "
                       f"(20 of 40 points); give region=(LOW, HIGH) to fit another stretch"]


def test_auto_region_inside_the_default_says_nothing_of_it():
    """The same bend moved to 2 %–2.7 %: both segments lie in 0.5 %–50 %, and the one that
    overlaps it most (the steep one, spanning more density) is taken, without that warning."""
    fit = fit_nplh(_bent(0.027), region="auto")
    assert fit.alpha0 == pytest.approx(0.12, rel=1e-6)
    assert not [w for w in fit.warnings if "automatic region" in w]


def test_auto_region_outside_is_named_on_the_command_line(cli, tmp_path):
    """``law nplh-fit --region auto`` prints it, naming the flag, and puts it in ``--json``."""
    path = tmp_path / "high.csv"
    write_points(_bent(1.0), path)
    run = cli("law", "nplh-fit", path, "--region", "auto", "--json")
    assert run.exit_code == 0, run.stderr
    warnings = json.loads(run.stdout)["warnings"]
    assert [w for w in warnings if "automatic region" in w][0].endswith("give --region LOW,HIGH to fit another stretch")
    shown = cli("law", "nplh-fit", path, "--region", "auto")
    # the console wraps the warning at the terminal's width: read it as one line
    assert shown.exit_code == 0 and "warning: no straight segment of the points overlaps the density region 0.5 % – 50 %" \
        in " ".join((shown.stdout + shown.stderr).split())

