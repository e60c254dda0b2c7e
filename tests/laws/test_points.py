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


def test_law_nplh_records_what_measured_its_points_and_nplh_fit_reads_it_back(cli, own_ckpt, tmp_path):
    """The CSV and JSON of ``law nplh`` held the points alone: a reader could not tell a taylor
    from a magnitude measurement, nor the mode. Now both record them and ``nplh-fit`` carries them on."""
    import json

    out = tmp_path / "points.csv"
    run = cli("law", "nplh", own_ckpt, "--mode", "iterative", "--metric", "taylor", "--rate", "0.3",
              "--finetune-steps", "2", "--region", "0.001,1", "-o", out, "--json")
    assert run.exit_code == 0, run.stderr
    measured = {"metric": "taylor", "mode": "iterative", "seed": 0, "rate": 0.3, "finetune_steps": 2}
    assert json.loads(run.stdout)["measured"] == measured
    assert out.read_text().splitlines()[0] == "density,gamma,metric,mode,seed,rate,finetune_steps"
    assert dict(points.read_points(out).measured) == measured
    fit = cli("law", "nplh-fit", out, "--region", "0.001,1", "--json")
    assert fit.exit_code == 0, fit.stderr
    assert json.loads(fit.stdout)["measured"] == measured


def test_points_of_two_measurements_in_one_csv_are_refused_naming_the_rows(tmp_path):
    path = tmp_path / "joined.csv"
    path.write_text("density,gamma,metric,mode\n0.5,0.001,magnitude,static\n0.25,0.01,magnitude,static\n"
                    "0.5,0.002,taylor,static\n")
    with pytest.raises(InputError, match=r"metric is 'magnitude' on line 2 but 'taylor' on line 4: the rows hold "
                                         r"points of two measurements"):
        points.read_points(path)


def test_points_round_trip_with_their_settings_and_without(tmp_path):
    measured = (("metric", "flux"), ("mode", "pressure"), ("seed", 3), ("epochs_per_level", 2))
    pts = points.LawPoints.from_arrays([0.5, 0.25], [0.125, 1.0], measured)
    assert points.read_points(points.write_points(pts, tmp_path / "a.csv")) == pts
    plain = points.LawPoints.from_arrays([0.5, 0.25], [0.125, 1.0])
    assert (tmp_path / "b.csv").exists() is False
    assert points.read_points(points.write_points(plain, tmp_path / "b.csv")) == plain
    assert (tmp_path / "b.csv").read_text().splitlines()[0] == "density,gamma"


def test_law_nplh_records_the_prunable_set_and_nplh_fit_refuses_two_sets(cli, own_ckpt, model, train, tmp_path):
    """``--exclude '0'`` ranks other weights, so other points: ``measured`` (CSV, JSON, the
    library's result) recorded the metric and mode but not the set, and the points of two sets
    joined in one CSV were fitted as one law. The set is recorded unless it is the default, and
    ``nplh-fit`` refuses rows of two sets as it refuses two measurements."""
    import json

    import prunelimit

    out = tmp_path / "points.csv"
    run = cli("law", "nplh", own_ckpt, "--exclude", "0", "--region", "0.001,1", "-o", out, "--json")
    assert run.exit_code == 0, run.stderr
    measured = {"metric": "magnitude", "mode": "static", "seed": 0, "exclude": ["0"]}
    assert json.loads(run.stdout)["measured"] == measured
    lines = out.read_text().splitlines()
    assert lines[0] == "density,gamma,metric,mode,seed,exclude" and lines[1].endswith(',"[""0""]"')
    assert dict(points.read_points(out).measured)["exclude"] == ("0",)
    fit = cli("law", "nplh-fit", out, "--region", "0.001,1", "--json")
    assert fit.exit_code == 0 and json.loads(fit.stdout)["measured"] == measured, fit.stderr
    library = prunelimit.nplh(model, train, exclude=("0",), region=(0.001, 1.0))
    assert json.loads(json.dumps(library.to_json()))["measured"] == measured
    assert library.points == points.read_points(out)  # magnitude: the data set does not matter
    default = cli("law", "nplh", own_ckpt, "--region", "0.001,1", "--json")  # the default set: as before
    assert json.loads(default.stdout)["measured"] == {"metric": "magnitude", "mode": "static", "seed": 0}
    joined = tmp_path / "joined.csv"
    joined.write_text("\n".join([*lines, lines[1].replace('""0""', '""2""')]) + "\n")
    with pytest.raises(InputError, match=r"exclude is '\[\"0\"\]' on line 2 but '\[\"2\"\]' on line .*two "
                                         r"measurements"):
        points.read_points(joined)
    assert cli("law", "nplh-fit", joined).exit_code == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("density,gamma,include\n0.5,0.1,rnn\n")
    with pytest.raises(InputError, match=r"line 2: include 'rnn' is not a JSON list of module-name patterns"):
        points.read_points(bad)


@pytest.mark.parametrize("reader, columns", [(points.read_points, ("density", "gamma")),
                                             (errorlaw.read_points, ("density", "error"))])
@pytest.mark.parametrize("separator, says", [(";", "separated by semicolons"), ("\t", "separated by tabs")])
def test_a_csv_with_another_separator_is_told_to_use_commas(tmp_path, reader, columns, separator, says):
    """A spreadsheet saved with ';' (or tabs) had its header read as one column, and the message
    said the columns were missing though they are there; decimal commas made the error-law reader
    complain of a row's field count first. Both name the separator and the fix."""
    path = tmp_path / "p.csv"
    path.write_text(separator.join(columns) + "\n" + "\n".join(separator.join(r) for r in (("0,5", "0,1"),
                                                                                          ("0,25", "0,2"))) + "\n")
    with pytest.raises(InputError, match=f"{says}; save the file with commas") as info:
        reader(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("reader, header", [(points.read_points, "Density,Gamma"),
                                            (errorlaw.read_points, "DENSITY,Error")])
def test_a_capitalised_header_is_told_the_lower_case_names(tmp_path, reader, header):
    path = tmp_path / "p.csv"
    path.write_text(header + "\n0.5,0.1\n0.25,0.2\n")
    first, second = header.split(",")
    with pytest.raises(InputError, match=f"rename {first!r} to {first.lower()!r} and {second!r} to "
                                         f"{second.lower()!r}"):
        reader(path)


@pytest.mark.parametrize("reader, text, says", [
    (points.read_points, "density,gamma\n50%,0.1\n", "density '50%' is a percentage: write it as the fraction 0.5"),
    (points.read_points, "density,gamma\n 10 %,0.5\n", "density '10 %' is a percentage: write it as the fraction 0.1"),
    (errorlaw.read_points, "density,error\n1,4.2%\n", "error '4.2%' is a percentage: write it as the fraction 0.042"),
])
def test_a_value_written_with_a_percent_sign_is_told_its_fraction(tmp_path, reader, text, says):
    """``50%`` (as a spreadsheet exports a percentage cell) was "not a number"; the readers now
    name the fraction to write, as they do for a density of 50."""
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=says):
        reader(path)


@pytest.mark.parametrize("gamma", [0.0, -1e-3])
def test_prunelimit_fit_nplh_refuses_a_gamma_the_csv_reader_refuses(gamma):
    """``law nplh-fit`` refuses a row with gamma <= 0 (exit 3); ``prunelimit.fit_nplh`` dropped the point
    in silence and fitted the rest, so the same points gave a law in one and an error in the other."""
    import prunelimit
    from prunelimit.errors import UsageError

    density, gammas = [0.4, 0.2, 0.1, 0.05], [0.01, 0.02, gamma, 0.08]
    with pytest.raises(UsageError, match=f"point 2: gamma {gamma} is not a positive number; the log-log law needs "
                                         "gamma > 0, drop the point"):
        prunelimit.fit_nplh(points.LawPoints.from_arrays(density, gammas))
