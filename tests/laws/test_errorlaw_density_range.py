"""``law error-fit``'s ``density_range`` is the measured densities' span, to the last bit:
it was e^(ln d), so an ``imp`` sweep's last density 9/2368 = 0.003800675675675676 read
0.0038006756756756746 in the JSON, a density no row holds."""

from __future__ import annotations

import json

import numpy as np

from prunelimit.laws.errorlaw import ErrorPoints, error_law, fit_error_law


def _sweep() -> tuple[np.ndarray, np.ndarray]:
    """An imp-like sweep of 2,368 weights halved each level, on the law (seeded 2 % noise)."""
    kept = np.array([2368, 1184, 592, 296, 148, 74, 37, 18, 9])
    density = kept / 2368
    error = error_law(density, 0.02, 0.9, 2.0, 0.02) * np.exp(0.02 * np.random.default_rng(0).standard_normal(9))
    return density, np.minimum(error, 1.0)


def test_density_range_is_the_measured_densities():
    density, error = _sweep()
    assert float(np.exp(np.log(density.min()))) != density.min()  # the case: e^(ln d) is a bit off
    fit = fit_error_law(ErrorPoints(density, error), leave_one_out=False)
    assert fit.density_range == (density.min(), density.max())


def test_error_fit_json_states_the_csv_densities(tmp_path, cli):
    density, error = _sweep()
    path = tmp_path / "imp.csv"
    path.write_text("density,error\n" + "".join(f"{d!r},{e!r}\n" for d, e in zip(density.tolist(), error.tolist())))
    body = json.loads(cli("law", "error-fit", path, "--predict", repr(float(density.min())), "--json").stdout)
    assert body["density_range"] == [9 / 2368, 1.0]
    assert body["predict"]["density"] == 9 / 2368 and not any("extrapolated" in w for w in body["warnings"])
