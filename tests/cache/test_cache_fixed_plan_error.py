"""A fixed SLQ plan's spectrum is keyed without ε, ``negative`` and ``tolerance`` and solved
again for them on a read; but where its float32 products' error came from a 128-sample slice,
those three decide whether the error is measured again over all the data (2 products,
``_WholeError``), and the rounding part of ρ*'s ± is taken at that error. A stored answer is
read only where this run would have measured the same error: on an 8-12-3 MLP fitted near
zero loss (600 samples, 60 steps × 3 runs), ``--tolerance 0.001`` after ``--tolerance 0.5``
was served ± 17.6 pt (the slice's error, 2.3e-8) where computing it states ± 15.8 pt (the
data's, 7.7e-9)."""

from __future__ import annotations

import pytest

import prunelimit
from prunelimit.api.limit import bounds
from prunelimit.api.options import CurvatureOptions
from prunelimit.cache import open_store
from tests.api.test_measured_slice import _fitted

PLAN = {"iterations": 60, "runs": 3}


@pytest.fixture(scope="module")
def fitted_inputs():
    model, data = _fitted(600, 12)
    return prunelimit.inputs_from(model, data, batch_size=64)


# (the first call's options, the second's, whether the second reads the first's spectrum): the
# slice's error stored where the data's would be measured is computed again; the data's,
# measured by the first, answers a second that would take the slice's (stored beside it)
CASES = [({"tolerance": 0.5}, {"tolerance": 0.001}, False),
         ({"tolerance": 0.001}, {"tolerance": 0.5}, True),
         ({"epsilon": 1.0}, {}, False)]  # ε 1 leaves the rounding part under the tolerance; auto's 7.8e-7 does not


@pytest.mark.parametrize(("first", "then", "read_back"), CASES)
def test_a_stored_fixed_plan_states_the_error_this_run_would_measure(fitted_inputs, tmp_path, first, then,
                                                                     read_back) -> None:
    """The second call's ρ* and ± equal its own uncached ones (same seed and plan: the same
    runs; rel 1e-9 for the solve's summation, far below the 2.5 pt the slice's error moved
    the ±), read from the store where the stored error is the one it would measure (the
    data's stands in for the slice's only where the slice's is stored beside it)."""
    store = open_store(tmp_path / "cache", True)
    stored = bounds(fitted_inputs, CurvatureOptions(**PLAN, **first), store=store)
    read = bounds(fitted_inputs, CurvatureOptions(**PLAN, **then), store=store)
    fresh = bounds(fitted_inputs, CurvatureOptions(**PLAN, **then))
    assert stored.uncertainty.rounding != fresh.uncertainty.rounding  # the two measured other errors
    assert read.ratio == pytest.approx(fresh.ratio, rel=1e-9)
    assert read.uncertainty.plus_minus == pytest.approx(fresh.uncertainty.plus_minus, rel=1e-9)
    assert read.uncertainty.rounding == pytest.approx(fresh.uncertainty.rounding, rel=1e-9)
    assert read.spectrum.cached == read_back


def test_a_gate_on_the_conservative_side_gives_the_uncached_verdict(fitted_inputs, tmp_path) -> None:
    """``--use predicted --min-ratio 0.41`` holds ρ* less its ±: after a ``--tolerance 0.5`` run
    stored the slice's error, a ``--tolerance 0.001`` gate failed from the cache (57.9 % less
    17.6 pt = 40.3 % < 41 %, ``cache_hit`` true) where computing it passes (less 15.8 pt = 42.0 %)."""
    from prunelimit.api.gating import gate
    from prunelimit.gate_rules import GateRule

    store = open_store(tmp_path / "cache", True)
    bounds(fitted_inputs, CurvatureOptions(**PLAN, tolerance=0.5), store=store)
    rules = [GateRule("conservative", use="predicted", min_ratio=0.41)]
    options = CurvatureOptions(**PLAN, tolerance=0.001)
    read, fresh = (gate(fitted_inputs, rules, options, store=s).to_json() for s in (store, None))
    # abs 2e-3: the float32 products' summation order follows the thread count (5e-4 apart on 1
    # and 2 threads); the stale read's 0.403 lies 0.017 below
    assert fresh["passed"] and fresh["rules"][0]["compared"] == pytest.approx(0.4203, abs=2e-3)
    assert (read["passed"], read["cache_hit"]) == (True, False)
    assert read["rules"][0]["compared"] == pytest.approx(fresh["rules"][0]["compared"], rel=1e-9)
