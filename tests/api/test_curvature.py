"""``prunelimit.api.curvature``: what the spectrum spends against --time-budget and --max-hvps,
and how it accounts for it."""

from __future__ import annotations

import pytest

from prunelimit import api
from prunelimit.api import curvature


@pytest.fixture
def inputs(own_ckpt):
    from prunelimit.inputs import load_inputs

    return load_inputs(str(own_ckpt), data="digits:train", batch_size=64, max_samples=300, device="cpu")


@pytest.mark.parametrize(("column_seconds", "budget", "timed"), [
    (1.0, None, False),  # 910 columns at 1 s: far over the 60 s budget on their own
    (0.01, 1.0, False),  # 9.1 s of columns: within 60 s, far over a --time-budget of 1 s
    (1e-6, None, True),  # the columns fit: the eigenvalues decide, and are timed
])
def test_the_eigenvalues_are_timed_only_where_the_columns_leave_exact_open(inputs, monkeypatch, column_seconds,
                                                                          budget, timed) -> None:
    """Timing the eigenvalues solves 1,024 rows twice (~0.4 s): the default spent that even
    where the timed columns alone already refused the exact spectrum, a cost a small
    --time-budget could not afford. The choice, its reason and a lower-bound prediction come
    from the columns then."""
    from prunelimit.curvature import exact

    calls = []
    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: column_seconds)
    monkeypatch.setattr(exact, "eigenvalue_seconds", lambda dim: calls.append(dim) or 0.5)
    options = api.CurvatureOptions(time_budget=budget)
    choice, _, _, _ = curvature._cost_aware_choice(inputs, options, 910, api.choose_solver(options, 910))
    assert len(calls) == int(timed) and choice.eigenvalues_timed == timed
    if not timed:
        assert choice.solver == "slq-h" and "> " in choice.reason
        assert choice.predicted_exact_seconds == pytest.approx(910 * column_seconds)


def _ticking(monkeypatch) -> None:
    """The spectrum's wall clock gains 1 s a reading: each stage it laps takes 1 s."""
    import itertools
    import time
    import types

    fake = types.SimpleNamespace(perf_counter=itertools.count(0.0, 1.0).__next__, process_time=time.process_time)
    monkeypatch.setattr(curvature, "time", fake)


@pytest.mark.parametrize(("options", "stages"), [
    (api.CurvatureOptions(method="exact"), ["solver_choice", "data_passes", "exact_columns", "eigenvalues", "results"]),
    (api.CurvatureOptions(method="slq", tolerance=0.2, hessian_samples=100),
     ["solver_choice", "data_passes", "lanczos", "data_check", "trace_top_up", "results"]),
])
def test_timing_splits_the_spectrum_into_stages_that_sum_to_it(inputs, monkeypatch, options, stages) -> None:
    """``timing.seconds`` alone did not say what the time went to, nor which of it a
    --time-budget counted: now ``timing.stages`` names every stage once, in order, and
    they sum to the total (one clock reading closes a stage and opens the next)."""
    _ticking(monkeypatch)
    rep = api.spectrum(inputs, options)
    timing = rep.timing_json()
    assert list(timing["stages"]) == stages and set(stages) <= set(curvature.STAGES)
    assert timing["stages"] == dict.fromkeys(stages, 1.0) and timing["seconds"] == len(stages)


def test_a_cached_spectrum_times_its_cache_read_alone(inputs, tmp_path) -> None:
    """The stored run's stages are not this run's: a spectrum read back says it took its read."""
    from prunelimit.cache import open_store

    store = open_store(tmp_path / "cache", True)
    options = api.CurvatureOptions(method="slq", tolerance=0.2)
    first = api.stored_spectrum(inputs, options, store=store)
    assert sum(s for _, s in first.stages) == pytest.approx(first.seconds) and not first.cached
    again = api.stored_spectrum(inputs, options, store=store).timing_json()
    assert again["cached"] and list(again["stages"]) == ["cache_read"]
    assert again["stages"]["cache_read"] == again["seconds"]
