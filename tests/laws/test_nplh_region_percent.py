"""``--region`` given in percent (``0.5,50``) is refused naming the fractions it means."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.errors import UsageError
from prunelimit.laws.points import LawPoints


def test_a_region_in_percent_names_its_fractions(cli, tmp_path):
    """``--region 0.5,50`` (the default region as percentages) said only "must satisfy 0 < low <
    high <= 1 (fractions)"; it now names the fractions to type, in each reader's form. A region
    that is no percentage either (high below low) gets no such hint."""
    points = tmp_path / "pts.csv"
    points.write_text("density,gamma\n0.4,1\n0.2,2\n0.1,4\n0.05,8\n")
    run = cli("law", "nplh-fit", points, "--region", "0.5,50")
    assert run.exit_code == 2
    assert " ".join(run.stderr.split()) == ("prunelimit: error: --region (0.5, 50) must satisfy 0 < low < high <= 1 "
                                            "(fractions); percentages? as fractions: --region 0.005,0.5")
    with pytest.raises(UsageError, match=r"percentages\? as fractions: region=\(0\.005, 0\.5\)$"):
        prunelimit.fit_nplh(LawPoints.from_arrays([0.4, 0.2, 0.1], [1, 2, 4]), region=(0.5, 50))
    run = cli("law", "nplh-fit", points, "--region", "50,0.5")
    assert run.exit_code == 2 and "percentages" not in run.stderr
