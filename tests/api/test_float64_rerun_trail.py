"""After adaptive SLQ ran again on float64 products, JSON ``spectrum.trail`` listed the
float64 runs' stages alone: on the 147-weight classifier fitted near zero loss (tolerance
0.002) it read 96, 192, 275 HVPs while ``timing.stages.lanczos.hvps`` counted 467, the float32
runs' 192 gone from it. The trail now keeps the float32 runs' stages, each row saying which
products it took (``float64_products``), the float64 rows' counts going on from the float32
runs', so its last row states the Lanczos products of both."""

from __future__ import annotations



import prunelimit
from tests.curvature.test_product_error_rounding import (_classifier_near_zero_loss, float32_runs_alone,
                                                           float64_runs_cut_after_one_stage)


def _rows(result) -> list[tuple[int, bool]]:
    return [(row["hvps"], row.get("float64_products")) for row in result.to_json()["spectrum"]["trail"]]


def test_the_trail_keeps_the_float32_stages_the_float64_runs_replaced(monkeypatch) -> None:
    """Counts of products: exact (same seed, same plan)."""
    model, data = _classifier_near_zero_loss()
    float32 = float32_runs_alone(monkeypatch, model, data, method="slq", seed=0, batch_size=16, tolerance=0.002)
    result = prunelimit.bounds(model, data, method="slq", seed=0, batch_size=16, tolerance=0.002)
    assert result.spectrum.quadrature.float64_products
    rows, narrow = _rows(result), _rows(float32)
    assert rows[:len(narrow)] == narrow and not any(wide for _, wide in narrow)
    float64 = rows[len(narrow):]
    assert float64 and all(wide for _, wide in float64)
    assert [hvps for hvps, _ in rows] == sorted(hvps for hvps, _ in rows)  # one count over both runs
    assert rows[-1][0] == result.to_json()["timing"]["stages"]["lanczos"]["hvps"]
    assert rows[-1][0] - narrow[-1][0] == result.spectrum.quadrature.hvps  # the float64 runs' own


def test_a_kept_float32_answer_is_the_last_row_after_the_float64_stages(monkeypatch) -> None:
    """The float64 runs cut after their first stage (as in test_float64_rerun_data_check_timing):
    their stage is in the trail, and a last row repeats the float32 answer returned, with every
    Lanczos product counted (exact: same seed, same plan)."""
    float32 = float32_runs_alone(monkeypatch, *_classifier_near_zero_loss(), method="slq", seed=0, batch_size=16,
                                 tolerance=0.002)
    float64_runs_cut_after_one_stage(monkeypatch)
    result = prunelimit.bounds(*_classifier_near_zero_loss(), method="slq", seed=0, batch_size=16, tolerance=0.002,
                               time_budget=1e6)
    rows, narrow = _rows(result), _rows(float32)
    spent = narrow[-1][0] + 96
    assert rows == [*narrow, (spent, True), (spent, False)]
    assert rows[-1][0] == result.to_json()["timing"]["stages"]["lanczos"]["hvps"]
    last = result.spectrum.trail[-1]
    assert (last.estimate, last.plus_minus) == (float32.ratio, float32.uncertainty.plus_minus)
