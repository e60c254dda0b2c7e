"""The products' error is measured on a 128-sample slice of the curvature data, an upper
estimate 1.5-20× the data's own. Where the float32 runs' rounding part at the slice's error
alone reached the tolerance, a float64 re-run followed, though at the data's error the float32
runs met the tolerance: on an 8-12-3 MLP fitted near zero loss (600 samples, tolerance 0.02)
the slice's 2.3e-8 started float64 runs (373 products); a float64 re-run takes as many
products again as the float32 runs, each 3-30× a float32 one's seconds on a convolution net
on a CPU. Where the slice's rounding part alone reaches the tolerance, the error is now
measured once over all the curvature data (2 products, the runs' own: ``_WholeError``); where
the rounding part at it is below the tolerance the float32 runs go on instead of a re-run.
The float32 cases run at tolerance 0.05: at 0.02 the rounding part of the first stage's 3 runs,
its share below the floor taken at the probes' 97.5 % upper side, reaches it, and the float64
re-run follows (375 HVPs, ± 0)."""

from __future__ import annotations

import prunelimit
import prunelimit.api.curvature as curvature
from tests.api.test_measured_slice import _fitted


def _stages(result) -> dict:
    return result.to_json()["timing"]["stages"]


def test_the_whole_datas_error_lets_the_float32_runs_meet_the_tolerance(monkeypatch) -> None:
    """Before (seen): float64 products, 373 HVPs. Now the float32 runs go on to D = 147 (275
    Lanczos products, "converged") and state ± 0.64 pt, its rounding part at the data's error
    (the one a slice as large as the data measures), and that ± covers the exact ρ*. Exact
    counts (same seed and plan); coverage is the claim, no tolerance added."""
    model, data = _fitted(600, 12)
    exact = prunelimit.bounds(model, data, method="exact", batch_size=64).ratio
    result = prunelimit.bounds(model, data, method="slq", seed=0, batch_size=64, tolerance=0.05)
    assert not result.spectrum.quadrature.float64_products
    assert result.spectrum.stopped_by == "converged" and result.uncertainty.plus_minus <= 0.05
    assert abs(result.ratio - exact) <= result.uncertainty.plus_minus
    inputs = prunelimit.inputs_from(model, data, batch_size=64)
    options = curvature.CurvatureOptions()
    op = curvature.hessian_operator(inputs, options)
    monkeypatch.setattr(curvature, "MEASURED_SAMPLES", 600)
    whole = curvature._product_error(inputs, options, op, inputs.batches, op.dim)[0]
    assert result.spectrum.quadrature.product_error == whole
    stages = _stages(result)
    assert stages["data_passes"]["hvps"] == 2 and stages["lanczos"]["hvps"] == 277  # the slice's 2; the data's 2
    assert sum(s["hvps"] for s in stages.values()) == result.spectrum.hvps == 279


def test_a_float64_rerun_the_whole_datas_error_still_needs_follows() -> None:
    """At the default tolerance the rounding part at the data's error (7.8e-9) still reaches
    it: the float64 runs follow as before, 2 products more (375 HVPs against 373), counted
    with the float32 runs (each over all 600 samples: 1 pass each)."""
    model, data = _fitted(600, 12)
    result = prunelimit.bounds(model, data, method="slq", seed=0, batch_size=64)
    assert result.spectrum.quadrature.float64_products
    stages = _stages(result)
    assert stages["data_passes"]["hvps"] == 2
    assert sum(s["hvps"] for s in stages.values()) == result.spectrum.hvps == 375


def test_under_a_given_max_hvps_the_datas_error_is_measured_within_it() -> None:
    """A --max-hvps with room for them takes the 2 products from the runs' budget: the same
    answer as without it (279 HVPs, the float32 runs), no float64 re-run. Exact counts."""
    model, data = _fitted(600, 12)
    free = prunelimit.bounds(model, data, method="slq", seed=0, batch_size=64, tolerance=0.05)
    result = prunelimit.bounds(model, data, method="slq", seed=0, batch_size=64, tolerance=0.05, max_hvps=2000)
    assert not result.spectrum.quadrature.float64_products
    assert (result.ratio, result.uncertainty.plus_minus, result.spectrum.hvps) == \
        (free.ratio, free.uncertainty.plus_minus, free.spectrum.hvps) == (free.ratio, free.uncertainty.plus_minus, 279)
