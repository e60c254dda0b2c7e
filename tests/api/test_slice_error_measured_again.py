"""A slice's upper estimate of the products' error that alone would stop the runs is
measured again over all the curvature data.

SLQ measures its float32 products against float64 ones over a 128-sample slice
(``measured_slice``), and takes that slice's error plus twice its sampling error: an upper
estimate that errs high, 5× on a 1-D conv net over 400 samples whose rounding is noise-like
(1.0e-4 against the data's 2.0e-5). Its rounding part then reached the tolerance after 768
products, the runs stopped by "rounding" and ran again on float64 products from scratch:
``bounds --method slq`` stated ρ* = 48.54 % ± 8.6 pt, stopped by --max-hvps at 1,606
products, where measuring over all the data (before the slice) converged to 48.32 % ± 0.54 pt
in 1,468. Where the estimate's rounding part alone reaches the tolerance the error is now
measured over all the data (2 products, the runs' own), and the runs go on by that.
"""

from __future__ import annotations

import pytest
import torch

import prunelimit
import prunelimit.api.curvature as curvature
from tests.conftest import SMALL_SPEC


@pytest.fixture
def small_fit(train, fitted):
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    return fitted(build_model(SMALL_SPEC), *train), train


def _bounds(model, data, **options):
    return prunelimit.bounds(model, data, method="slq", seed=0, **options)


def _whole_and_again(model, data, monkeypatch, **options):
    """The run measured over all the data from the start (MEASURED_SAMPLES past the 300
    samples: no slice), and the run whose slice estimate stands in at 1e-2, far above any
    float32 product's error here."""
    with monkeypatch.context() as m:
        m.setattr(curvature, "MEASURED_SAMPLES", 10_000)
        whole = _bounds(model, data, **options)
    monkeypatch.setattr(curvature, "_slice_error", lambda *args: (1e-2, 1.0))
    return whole, _bounds(model, data, **options)


def test_a_slice_estimate_that_alone_reaches_the_tolerance_is_measured_over_all_the_data(
        small_fit, monkeypatch) -> None:
    """Before, the estimate's rounding part stopped the runs and the answer was a float64
    re-run's. Now it is the one measured over all the data from the start, ρ* and ± to the
    bit (the same products in the same order), with the 2 measuring products counted as the
    runs' (the lanczos stage's)."""
    whole, again = _whole_and_again(*small_fit, monkeypatch)
    assert not again.spectrum.quadrature.float64_products
    assert (again.ratio, again.uncertainty.plus_minus) == (whole.ratio, whole.uncertainty.plus_minus)
    assert again.spectrum.quadrature.product_error == whole.spectrum.quadrature.product_error
    assert again.spectrum.stopped_by == whole.spectrum.stopped_by
    stages = again.to_json()["timing"]["stages"]
    assert stages["lanczos"]["hvps"] == whole.to_json()["timing"]["stages"]["lanczos"]["hvps"] + 2
    assert sum(s["hvps"] for s in stages.values()) == again.spectrum.hvps


def test_the_products_measured_again_count_against_max_hvps(small_fit, monkeypatch) -> None:
    """Under --max-hvps 400 the 2 products come out of the runs' budget: 6 runs × 65 steps
    against 66 measured over all the data from the start, nothing past the budget, and a ±
    within 0.001 of that run's (one step fewer: 3.2888 pt either way)."""
    whole, again = _whole_and_again(*small_fit, monkeypatch, max_hvps=400)
    assert not again.spectrum.quadrature.float64_products
    assert again.spectrum.stopped_by == whole.spectrum.stopped_by == "max-hvps"
    assert again.spectrum.hvps <= 400
    assert abs(again.uncertainty.plus_minus - whole.uncertainty.plus_minus) <= 1e-3


def test_a_slice_estimate_below_the_tolerance_is_kept(small_fit, monkeypatch) -> None:
    """Where the slice's rounding part leaves room for the tolerance, nothing is measured
    again: the 2 slice products alone, in data_passes, and the estimate is the one stated."""
    model, data = small_fit
    monkeypatch.setattr(curvature, "_slice_error", lambda *args: (1e-9, 1.0))
    result = _bounds(model, data)
    assert result.spectrum.quadrature.product_error == 1e-9
    stages = result.to_json()["timing"]["stages"]
    assert stages["data_passes"]["hvps"] == 2
    assert sum(s["hvps"] for s in stages.values()) == result.spectrum.hvps


def test_a_slice_estimate_of_half_the_tolerance_is_measured_over_all_the_data(small_fit, monkeypatch) -> None:
    """A slice estimate of 1e-4 states a rounding part of about 0.034 on this model, below the
    tolerance of 0.05 but more than half of it: the steps and probe parts were left the rest,
    and the runs went on until the exact float32 spectrum (438 Lanczos products), whose ± was
    that rounding part alone (0.031). Now the error is measured over all the data there (7e-9:
    no rounding part to state) and the runs meet the tolerance (386). The whole data's error
    is compared exactly: the same two products on the same probe."""
    model, data = small_fit
    with monkeypatch.context() as m:
        m.setattr(curvature, "MEASURED_SAMPLES", 10_000)
        whole = _bounds(model, data, tolerance=0.05).spectrum.quadrature.product_error
    monkeypatch.setattr(curvature, "_slice_error", lambda *args: (1e-4, 1.0))
    result = _bounds(model, data, tolerance=0.05)
    assert result.spectrum.quadrature.product_error == whole < 1e-4
    assert result.spectrum.stopped_by == "tolerance" and result.uncertainty.plus_minus <= 0.05


def test_a_fixed_plans_slice_estimate_is_measured_over_all_the_data_as_an_adaptive_ones(
        small_fit, monkeypatch) -> None:
    """A fixed plan (3 × 64 steps) stated the slice's estimate (1e-4: a rounding part of
    about 0.03, over half the tolerance of 0.05) whatever it cost its ±; now, as adaptive SLQ
    does, the error is measured over all the data after its runs, 2 products counted as the
    runs' own. Compared exactly with the error measured over all the data from the start."""
    model, data = small_fit
    with monkeypatch.context() as m:
        m.setattr(curvature, "MEASURED_SAMPLES", 10_000)
        whole = _bounds(model, data, tolerance=0.05, iterations=64, runs=3)
    monkeypatch.setattr(curvature, "_slice_error", lambda *args: (1e-4, 1.0))
    result = _bounds(model, data, tolerance=0.05, iterations=64, runs=3)
    assert result.spectrum.quadrature.product_error == whole.spectrum.quadrature.product_error < 1e-4
    assert (result.ratio, result.uncertainty.plus_minus) == (whole.ratio, whole.uncertainty.plus_minus)
    stages = result.to_json()["timing"]["stages"]
    assert stages["lanczos"]["hvps"] == whole.to_json()["timing"]["stages"]["lanczos"]["hvps"] + 2
    assert sum(s["hvps"] for s in stages.values()) == result.spectrum.hvps
