"""Feeding one law's CSV to the other law's fit: the message names the command that fits it."""

from __future__ import annotations

import pytest

from prunelimit.errors import InputError
from prunelimit.laws import errorlaw, points

IMP_CSV = "level,density,error,loss,width,depth\n0,1.0,0.04,0.2,32,2\n1,0.8,0.05,0.21,32,2\n"
NPLH_CSV = "density,gamma\n0.5,0.001\n0.25,0.01\n"


def test_an_imp_csv_given_to_nplh_fit_names_law_error_fit(tmp_path):
    path = tmp_path / "imp.csv"
    path.write_text(IMP_CSV)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['gamma'\].*prunelimit law error-fit"):
        points.read_points(path)


def test_nplh_points_given_to_error_fit_name_law_nplh_fit(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text(NPLH_CSV)
    with pytest.raises(InputError, match=r"header lacks error.*prunelimit law nplh-fit"):
        errorlaw.read_points(path)


@pytest.mark.parametrize("text, reader", [("dens,gamma\n0.5,1\n", points.read_points),
                                          ("dens,error\n0.5,0.1\n", errorlaw.read_points)])
def test_a_mistyped_header_gets_no_other_command(tmp_path, text, reader):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        reader(path)
    assert "law " not in str(info.value)
