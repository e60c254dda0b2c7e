"""The ``solver:`` line's "the first of N carried on alone" counts the answer's runs: the
trail now keeps the float32 stages that float64 runs replaced (a float32 plan grown to 6
probes, its float64 re-run of 3 focused on 1), which must not make it "the first of 6"."""

from __future__ import annotations

from types import SimpleNamespace

from prunelimit.curvature.adaptive import Stage
from prunelimit.report.console import solver_text, stated_solver_text

TRAIL = (Stage(96, 3, 32, 0.1, 0.6, 0.3), Stage(288, 6, 48, 0.2, 0.6, 0.2),
         Stage(384, 3, 32, 0.3, 0.6, 0.3, True), Stage(467, 1, 147, 0.4, 0.59, 0.0, True))


def test_the_solver_line_counts_the_answers_runs_alone() -> None:
    choice = SimpleNamespace(reason="adaptive SLQ", predicted_exact_seconds=None, eigenvalues_timed=True)
    s = SimpleNamespace(choice=choice, stopped_by="converged", curvature_data=None, trail=TRAIL, solver="slq-h",
                        runs=1, iterations=147, fewest_iterations=147)
    expected = "solver: adaptive SLQ · 1 probe × 147 steps (the first of 3 carried on alone to every eigenvalue), "
    expected += "no steps left (Krylov space exhausted: the exact spectrum)"
    assert solver_text(s) == expected
    doc = {"spectrum": {"choice": {"reason": "adaptive SLQ"}, "solver": "slq-h", "runs": 1, "iterations": 147,
                        "stopped_by": "converged", "trail": [stage.to_json() for stage in TRAIL]}}
    assert stated_solver_text(doc) == expected
