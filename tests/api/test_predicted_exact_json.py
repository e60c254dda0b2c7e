"""``timing.predicted_exact_seconds`` is the whole prediction (columns and eigenvalues) where
the eigenvalues were timed, else the columns' alone, a lower bound: the console says which
(``exact predicted ≥ … s, its columns alone``), and ``--json`` stated the same number with
nothing to tell the two apart. ``timing.predicted_exact_columns_only`` now says it."""

from __future__ import annotations

import json

import pytest

SMALL = ("--max-samples", "300", "--no-cache", "--threads", "1")


@pytest.mark.parametrize(("column_seconds", "columns_only", "solver"), [
    (1.0, True, "slq-h"),  # 910 columns at 1 s: over the budget on their own, the eigenvalues untimed
    (1e-6, False, "exact"),  # the columns fit: the eigenvalues are timed and counted in
])
def test_json_says_whether_the_exact_prediction_is_the_columns_alone(cli, own_ckpt, monkeypatch, column_seconds,
                                                                     columns_only, solver) -> None:
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: column_seconds)
    result = cli("bounds", own_ckpt, "--tolerance", "0.5", "--json", *SMALL)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["spectrum"]["choice"]["solver"] == solver
    timing = doc["timing"]
    assert timing["predicted_exact_columns_only"] is columns_only
    if columns_only:
        assert timing["predicted_exact_seconds"] == pytest.approx(910 * column_seconds)


def test_no_prediction_states_neither(cli, own_ckpt) -> None:
    """--method slq times nothing: both are null."""
    result = cli("bounds", own_ckpt, "--method", "slq", "--tolerance", "0.5", "--json", *SMALL)
    assert result.exit_code == 0, result.stderr
    timing = json.loads(result.stdout)["timing"]
    assert timing["predicted_exact_seconds"] is None and timing["predicted_exact_columns_only"] is None
