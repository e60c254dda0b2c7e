"""The laws' fraction options given as percentages (``--target-density 10``, ``--predict 5``)
are refused naming the fraction they may mean."""

from __future__ import annotations

import pytest

from tests.conftest import SPEC


@pytest.mark.parametrize("args, message", [
    (("hyperflux", "--model", SPEC, "--data", "digits:train", "--target-density", "10", "-o", "{tmp}/h.pt"),
     "--target-density must lie in (0, 1), got 10.0 (a percentage? 10 % is 0.1)"),
    (("imp", SPEC, "--data", "digits:train", "--rate", "20", "-o", "{tmp}/imp"),
     "--rate must lie in (0, 1), got 20.0 (a percentage? 20 % is 0.2)"),
    (("law", "error-fit", "{tmp}/e.csv", "--predict", "5"),
     "--predict 5.0 outside (0, 1]; densities are fractions (a percentage? 5 % is 0.05)"),
    (("law", "error-fit", "{tmp}/e.csv", "--target-error", "30"),
     "--target-error 30.0 outside (0, 1); errors are fractions (1 − accuracy) (a percentage? 30 % is 0.3)"),
    # 1 is no percentage one would type for a fraction: no hint
    (("law", "error-fit", "{tmp}/e.csv", "--target-error", "1"),
     "--target-error 1.0 outside (0, 1); errors are fractions (1 − accuracy)"),
])
def test_a_percentage_for_a_fraction_names_the_fraction(cli, tmp_path, args, message):
    """Each said only that the value must lie in (0, 1), exit 2, before any work."""
    (tmp_path / "e.csv").write_text("density,error\n" + "".join(f"{0.5 ** k},{0.05 + 0.1 * k}\n" for k in range(6)))
    run = cli(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert run.exit_code == 2
    assert " ".join(run.stderr.split()) == f"prunelimit: error: {message}"
    assert not (tmp_path / "h.pt").exists() and not (tmp_path / "imp").exists()
