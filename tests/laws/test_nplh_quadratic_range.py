"""The quadratic diagnostic of an NPLH fit whose constant is no float: the law is still fitted."""

from __future__ import annotations

import json
import math

import numpy as np

from prunelimit.laws.nplh import fit_nplh, plot_nplh
from prunelimit.laws.points import LawPoints, write_points

# What `law nplh --mode iterative --rate 0.3 --finetune-steps 4 --region auto --seed 2` recorded on
# an 8-16-3 MLP: γ crowds towards 0.344 as the last weights go, and the automatic region is that
# collapse, γ 0.33–0.344 (densities 0.57 %–5.1 %)
DENSITY = [0.70454545, 0.49431818, 0.34659091, 0.24431818, 0.17613636, 0.125, 0.09090909, 0.06818182,
           0.05113636, 0.03977273, 0.02840909, 0.02272727, 0.01704545, 0.01136364, 0.00568182]
GAMMA = [0.10136816, 0.17124525, 0.21068072, 0.2324965, 0.26260084, 0.29247135, 0.31028658, 0.32125711,
         0.32961953, 0.33252487, 0.33575213, 0.33609557, 0.33888486, 0.34254378, 0.34396112]


def test_a_quadratic_constant_outside_the_float_range_leaves_the_fit(tmp_path, cli):
    """Over a γ range this narrow and this far from 1 the quadratic's ln c is about −722
    (its ln γ² term is fitted about the middle, then written about γ = 1): the whole fit was
    refused, exit 2, "the quadratic law's constant c = e^-721.7 is outside the floating-point
    range; divide the gamma column by one constant", for a diagnostic. Now the law is fitted,
    the quadratic's c is null (its ln c kept for the plot) and its F-test stands."""
    points = LawPoints.from_arrays(DENSITY, GAMMA)
    fit = fit_nplh(points, region="auto")
    q = fit.quadratic
    assert q.c is None and q.log_c < -708 and math.isfinite(q.alpha0) and 0 <= q.p_value <= 1
    # the quadratic itself, ln s = ln c − α0 ln γ − α1 ln² γ, still fits the region's points (R² of the fit)
    x, y = np.log(GAMMA), np.log(DENSITY)
    inside = np.argsort(DENSITY)[:fit.n_region]  # the region is the lowest densities (its bounds are exp(ln d))
    resid = y[inside] - (q.log_c - q.alpha0 * x[inside] - q.alpha1 * x[inside] ** 2)
    # R² recomputed from ln c: the uncentred form loses ~1e-13·722 to round-off, far below 1e-6
    assert abs(1 - resid @ resid / ((y[inside] - y[inside].mean()) ** 2).sum() - q.r2) < 1e-6
    assert fit.alpha0 > 0 and math.isfinite(fit.c)
    plot_nplh(fit, tmp_path / "law.png")  # the plot draws the quadratic from ln c
    write_points(points, tmp_path / "pts.csv")
    run = cli("law", "nplh-fit", tmp_path / "pts.csv", "--region", "auto", "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["quadratic"]["c"] is None
