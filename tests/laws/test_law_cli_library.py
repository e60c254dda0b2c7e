"""The law commands and ``import prunelimit``'s law functions answer with the same numbers."""

from __future__ import annotations

import json

import numpy as np

import prunelimit
from prunelimit.laws import errorlaw, points


def test_nplh_fit_and_prunelimit_fit_nplh_agree(cli, tmp_path):
    rng = np.random.default_rng(5)
    gamma = np.geomspace(1e-3, 1, 25)
    density = np.minimum(0.01 * gamma ** -0.7 * np.exp(0.05 * rng.standard_normal(gamma.size)), 1.0)
    path = tmp_path / "points.csv"
    points.write_points(points.LawPoints.from_arrays(density, gamma), path)
    for region, args in (("auto", ["--region", "auto"]), ((0.005, 0.5), []), ((0.01, 1.0), ["--region", "0.01,1"])):
        run = cli("law", "nplh-fit", path, *args, "--seed", "3", "--json")
        assert run.exit_code == 0, run.stderr
        body = json.loads(run.stdout)
        assert body.pop("schema") == "prunelimit.law-nplh/1"
        assert body == prunelimit.fit_nplh(points.read_points(path), region=region, seed=3).to_json()


def test_error_fit_and_the_library_error_law_agree(cli, tmp_path):
    rng = np.random.default_rng(6)
    density = np.geomspace(1, 1e-3, 16)
    error = errorlaw.error_law(density, 0.05, 0.9, 2.0, 0.01) * (1 + 0.02 * rng.standard_normal(density.size))
    path = tmp_path / "errors.csv"
    path.write_text("density,error\n" + "".join(f"{d!r},{e!r}\n" for d, e in zip(density.tolist(), error.tolist())))
    run = cli("law", "error-fit", path, "--predict", "0.05", "--target-error", "0.3", "--seed", "2", "--json")
    assert run.exit_code == 0, run.stderr
    body = json.loads(run.stdout)
    fit = prunelimit.fit_error_law(errorlaw.read_points(path), seed=2)
    assert {k: body[k] for k in fit.to_json()} == fit.to_json()
    assert body["predict"] == {"density": 0.05, "error": prunelimit.predict_error(fit, 0.05)}
    assert body["target"] == {"error": 0.3, "density": prunelimit.density_for_error(fit, 0.3)}


def test_error_law_of_one_density_is_a_plain_float_as_predict_error_gives():
    """``error_law(0.5, …)`` gave a 0-d ``np.float64`` (``np.float64(0.0827)`` in a repr), where
    ``predict_error`` and the results' fields are plain floats; several densities stay an array."""
    one = prunelimit.error_law(0.5, 0.05, 0.9, 2.0, 0.1)
    assert type(one) is float
    assert one == prunelimit.error_law(np.array([0.5]), 0.05, 0.9, 2.0, 0.1)[0]
    assert type(prunelimit.error_law(np.float64(0.5), 0.05, 0.9, 2.0, 0.1)) is float
    assert isinstance(prunelimit.error_law([0.5, 0.25], 0.05, 0.9, 2.0, 0.1), np.ndarray)
