"""A time budget that cuts a stage of new runs (they run one after the other) leaves them
unequal: 4 runs at 8, 8, 2 and 2 steps. The ``solver:`` line, the HTML report's plan (read
from the JSON) and ``spectrum``'s table stated the longest run's steps alone, ``4 probes × 8
steps``, 32 products where 20 were made (seen: ``bounds`` on a 17,226-parameter MLP under
``--time-budget 1.85`` said ``2 probes × 32 steps`` at 46 HVPs, its runs at 32 and 6 steps);
they now state ``2–8 steps``, and the JSON ``spectrum.fewest_iterations`` beside ``iterations``."""

from __future__ import annotations

from dataclasses import replace

import prunelimit
from prunelimit.curvature.adaptive import AdaptivePlan, adaptive_slq
from prunelimit.report.console import render_spectrum, solver_text, stated_solver_text
from tests.curvature.test_adaptive import _assess_by_steps, _operator, _Timed


def _cut_quadrature():
    """The runs of tests/curvature/test_adaptive.py's first stage cut at 20 s, 1 s a product."""
    timed = _Timed(_operator())
    plan = AdaptivePlan(tolerance=1e-9, max_products=10_000, time_budget=20.0, initial_steps=8, initial_runs=4,
                        lockstep=2)
    return adaptive_slq(timed, plan, _assess_by_steps(1000), seed=0, clock=lambda: timed.seconds).quadrature


def test_the_runs_steps_are_recorded_each() -> None:
    quad = _cut_quadrature()
    assert quad.run_steps == (8, 8, 2, 2) and quad.steps == 8 and quad.fewest_steps == 2


def test_the_solver_line_states_the_shortest_runs_steps_too(mlp17, monkeypatch, capsys) -> None:
    model, data = mlp17
    spectrum = prunelimit.spectrum(model, data, method="slq", iterations=8, runs=2)
    assert spectrum.fewest_iterations == spectrum.iterations == 8  # equal runs: one number, as before
    assert "2 probes × 8 steps" in solver_text(spectrum)
    quad = _cut_quadrature()
    cut = replace(spectrum, quadrature=quad, runs=quad.runs, iterations=quad.steps, stopped_by="time-budget")
    assert "4 probes × 2–8 steps, stopped by" in solver_text(cut)
    assert cut.to_json()["spectrum"]["fewest_iterations"] == 2
    assert stated_solver_text(cut.to_json()) == solver_text(cut)  # the HTML report's and --from's words
    monkeypatch.setenv("COLUMNS", "200")
    render_spectrum(cut)
    assert "4 × 2–8" in capsys.readouterr().out


def test_the_exact_spectrums_table_states_no_probes_or_steps(mlp17, monkeypatch, capsys) -> None:
    """``spectrum``'s table read ``probes × steps  1 × 17`` for the exact spectrum, which has
    neither (``1 × 2410`` on the bundled example); the ``solver:`` line and the HTML report
    state no plan for it, and the table now leaves the row out too."""
    model, data = mlp17
    exact = prunelimit.spectrum(model, data, method="exact")
    monkeypatch.setenv("COLUMNS", "200")
    render_spectrum(exact)
    assert "probes × steps" not in capsys.readouterr().out
