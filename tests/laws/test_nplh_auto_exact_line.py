"""``--region auto`` on points that lie exactly on the law: one straight segment, all points.

BIC compared the log of residual sums that were round-off (1e-28 for the line, 1e-30 for a
split moved freely), so the automatic region was a part of the line: 17 of 23 points,
3.35 %–84.14 % where the points span 1.00 %–84.14 %."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prunelimit.laws.nplh import fit_nplh
from prunelimit.laws.points import LawPoints, write_points


def _line(alpha0: float, c: float) -> LawPoints:
    gamma = np.geomspace(1e-3, 1, 25)
    density = c * gamma ** -alpha0
    keep = density <= 1
    return LawPoints.from_arrays(density[keep], gamma[keep])


@pytest.mark.parametrize("alpha0, c", [(0.7, 0.01), (1.3, 1e-3), (0.2, 0.3)])
def test_auto_region_of_an_exact_law_is_every_point(alpha0, c):
    points = _line(alpha0, c)
    fit = fit_nplh(points, region="auto")
    assert fit.n_region == len(points)
    assert (fit.region_low, fit.region_high) == (min(points.density), max(points.density))
    # the law itself, to round-off (1e-9: sums of logs of 20-odd points)
    assert fit.alpha0 == pytest.approx(alpha0, rel=1e-9) and fit.c == pytest.approx(c, rel=1e-9)


def test_auto_region_of_two_exact_stretches_is_the_one_in_the_region(tmp_path, cli):
    """Two exact lines meeting at γ = 0.1: the fit still splits them (the floor of round-off
    does not hide a real corner), and the command says all of it in the JSON."""
    gamma = np.geomspace(1e-3, 1, 30)
    ln_s = np.where(gamma < 0.1, np.log(0.4) - 0.1 * np.log(gamma / 0.1), np.log(0.4) - 1.5 * np.log(gamma / 0.1))
    path = write_points(LawPoints.from_arrays(np.exp(ln_s), gamma), tmp_path / "points.csv")
    body = json.loads(cli("law", "nplh-fit", path, "--region", "auto", "--json").stdout)
    assert body["alpha0"] == pytest.approx(1.5, rel=1e-6)
    assert body["region"]["points"] == int(np.sum(gamma >= 0.1))


# draws of 23 points on s = 0.01·γ^-0.7 with 5 % noise (seeds of the measurement in docs/guide.md) that BIC
# with a break point counted as two parameters split: into 9 of 23 points for seed 6 (α0 0.752), 12 for seed 22
@pytest.mark.parametrize("seed", [6, 15, 20, 22, 25])
def test_auto_region_keeps_a_noisy_straight_law_whole(seed):
    gamma = np.geomspace(1e-3, 1, 25)
    density = 0.01 * gamma ** -0.7 * np.exp(0.05 * np.random.default_rng(seed).standard_normal(25))
    keep = density <= 1
    fit = fit_nplh(LawPoints.from_arrays(density[keep], gamma[keep]), region="auto", n_boot=50)
    assert fit.n_region == keep.sum()
    # 5 % noise on ~23 points over 3 decades of γ: the OLS slope's standard error is about 0.005, and 4 % is 5 of them
    assert fit.alpha0 == pytest.approx(0.7, rel=0.04)
