"""A "tolerance" stop never claims a tolerance the final ± misses. Adaptive SLQ's runs stop
where their steps and probe parts meet --tolerance; a subset's data part, measured after
them, can take the whole ± over it. Before, JSON ``spectrum.stopped_by: "tolerance"`` stood
alone and the ``solver:`` line said "reached the tolerance" beside a warning that it was
not (the bundled example on 60 curvature samples: the runs' ± 0.87 pt, the final 1.8 pt
against 1 pt). Now JSON ``spectrum.tolerance_met`` states whether the whole ± meets it, and
the line says the runs' parts reached it, not the whole ±."""

from __future__ import annotations

import json

from tests.test_time_to_answer import EXAMPLE

SUBSET = ("--method", "slq", "--hessian-samples", "60", "--no-cache", "--threads", "1")


def test_a_data_part_over_the_tolerance_is_not_reported_as_reaching_it(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    doc = json.loads(cli("spectrum", EXAMPLE, *SUBSET, "--json").stdout)
    s, u = doc["spectrum"], doc["prediction"]["uncertainty"]
    # the case itself: the runs met 1 pt, the data part (4 parts of 15 samples) took the ± over it
    assert s["stopped_by"] == "tolerance" and s["trail"][-1]["plus_minus"] <= 0.01 < u["plus_minus"]
    assert s["tolerance_met"] is False
    console = cli("spectrum", EXAMPLE, *SUBSET).stdout
    solver = next(line for line in console.splitlines() if line.startswith("solver:"))
    assert "reached the tolerance in the runs' steps and probe parts, not in the stated ±" in solver


def test_tolerance_met_is_stated_where_the_whole_plus_minus_meets_it(cli) -> None:
    # the same runs against a tolerance their whole ± meets (2.5 pt); an exact spectrum aims at none
    met = json.loads(cli("spectrum", EXAMPLE, *SUBSET, "--tolerance", "0.025", "--json").stdout)
    assert met["prediction"]["uncertainty"]["plus_minus"] <= 0.025 and met["spectrum"]["tolerance_met"] is True
    exact = json.loads(cli("spectrum", EXAMPLE, "--method", "exact", "--no-cache", "--threads", "1", "--json").stdout)
    assert exact["spectrum"]["tolerance_met"] is None


def test_a_layer_path_over_the_tolerance_is_not_reported_as_reaching_it(cli, monkeypatch) -> None:
    """The runs aim at the global path's ρ* (here ± 0.62 pt); ``bounds --scope layer`` states
    the layer path's, ± 1.8 pt against 1 pt, which its spectrum block called met."""
    monkeypatch.setenv("COLUMNS", "200")
    args = ("bounds", EXAMPLE, "--method", "slq", "--scope", "layer", "--no-cache", "--threads", "1")
    doc = json.loads(cli(*args, "--json").stdout)
    s, u = doc["spectrum"], doc["prediction"]["uncertainty"]
    assert s["stopped_by"] == "tolerance" and s["trail"][-1]["plus_minus"] <= 0.01 < u["plus_minus"]
    assert s["tolerance_met"] is False
    solver = next(line for line in cli(*args).stdout.splitlines() if line.startswith("solver:"))
    assert solver.endswith("not in the stated ± (see the warning)")
