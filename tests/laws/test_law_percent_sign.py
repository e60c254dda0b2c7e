"""The laws' fraction flags given with a percent sign (``--predict 5%``, as ``prune --ratio 70%``
and ``gate --min-ratio 80%`` are refused): the bare number parser said only "Input should be a
valid number", for the flag and for its ``--config`` key. They name the fraction meant, exit 2."""

from __future__ import annotations

import pytest

from tests.conftest import SPEC


@pytest.mark.parametrize("args, message", [
    (("law", "error-fit", "{tmp}/e.csv", "--predict", "5%"),
     "Invalid value for '--predict': got '5%', not a number (densities are fractions, not percentages: 5% is 0.05)"),
    (("law", "error-fit", "{tmp}/e.csv", "--target-error", "30%"),
     "Invalid value for '--target-error': got '30%', not a number (errors are fractions, not percentages: 30% is 0.3)"),
    (("law", "error-fit", "{tmp}/e.csv", "--predict", "0.05", "--eps-np", "2%"),
     "Invalid value for '--eps-np': got '2%', not a number (errors are fractions, not percentages: 2% is 0.02)"),
    (("hyperflux", "--model", SPEC, "--data", "digits:train", "--target-density", "10%", "-o", "{tmp}/h.pt"),
     "Invalid value for '--target-density': got '10%', not a number (densities are fractions, not percentages: "
     "10% is 0.1)"),
    (("imp", SPEC, "--data", "digits:train", "--rate", "20%", "-o", "{tmp}/imp"),
     "Invalid value for '--rate': got '20%', not a number (rates are fractions, not percentages: 20% is 0.2)"),
    (("law", "nplh", "--model", SPEC, "--data", "digits:train", "--mode", "iterative", "--rate", "10%"),
     "Invalid value for '--rate': got '10%', not a number (rates are fractions, not percentages: 10% is 0.1)"),
    (("law", "error-fit", "{tmp}/e.csv", "--config", "{tmp}/c.yaml"),
     "Invalid value for target_error in {tmp}/c.yaml: got '30%', not a number (errors are fractions, not "
     "percentages: 30% is 0.3)"),
])
def test_a_percent_sign_names_the_fraction(cli, tmp_path, args, message):
    (tmp_path / "e.csv").write_text("density,error\n" + "".join(f"{0.5 ** k},{0.05 + 0.1 * k}\n" for k in range(6)))
    (tmp_path / "c.yaml").write_text("target_error: 30%\n")
    run = cli(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert run.exit_code == 2
    assert " ".join(run.stderr.split()).startswith(f"prunelimit: error: {message.replace('{tmp}', str(tmp_path))}")
    assert not (tmp_path / "h.pt").exists() and not (tmp_path / "imp").exists()


@pytest.mark.parametrize("region, fractions", [("1%,50%", "0.01,0.5"), ("[0.5%, 50%]", "0.005,0.5")])
def test_a_region_in_percent_names_the_fractions(cli, tmp_path, region, fractions):
    """``--region 1%,50%`` was told to give "auto or the LOW and HIGH densities separated by commas",
    which it had done, in percent."""
    path = tmp_path / "points.csv"
    path.write_text("density,gamma\n" + "".join(f"{0.5 ** k},{2.0 ** k}\n" for k in range(8)))
    run = cli("law", "nplh-fit", path, "--region", region)
    assert run.exit_code == 2
    assert " ".join(run.stderr.split()) == (f"prunelimit: error: --region {region!r}: densities are fractions, not "
                                            f"percentages: use --region {fractions}")
