"""One row of points: ``law nplh-fit`` and ``law error-fit`` name it as one point."""

from __future__ import annotations


def test_a_single_point_is_refused_as_one_point(cli, tmp_path):
    """One row said "all 1 points have the same density" (``law nplh-fit``) and "got 1 in 1
    rows" (``law error-fit``); each now speaks of the one point, exit 2 with its fix."""
    nplh_csv, error_csv = tmp_path / "one.csv", tmp_path / "one_error.csv"
    nplh_csv.write_text("density,gamma\n0.1,2\n")
    error_csv.write_text("density,error\n0.1,0.2\n")
    run = cli("law", "nplh-fit", nplh_csv)
    assert run.exit_code == 2
    assert " ".join(run.stderr.split()) == ("prunelimit: error: the only point has density 0.1: one density cannot fit "
                                            "the law, whose slope is how the density falls as gamma rises; record "
                                            "points at several densities")
    run = cli("law", "error-fit", error_csv)
    assert run.exit_code == 2
    assert " ".join(run.stderr.split()) == ("prunelimit: error: error-law fit needs points at more than 4 distinct "
                                            "densities, got 1 in 1 row; prune to more levels")
