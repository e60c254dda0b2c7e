"""A time budget that start-up and loading left only partly spent, and that the spectrum's
work before the Lanczos runs (the default's timed products, the data passes) then spent: the
runs made their smallest plan past it, and the overrun note blamed "the work that must follow
the Lanczos runs took longer than predicted", which ran as priced (``--time-budget 5`` on a
depthwise-separable CNN: 4.5 s of loading, 0.6 s of timing, 0.5 s over). The note now names
what spent the budget before the runs.

A simulated clock: the budget's clock gains 10 ms a reading, loading takes 40 s of a 50 s
budget and timing the solver choice's products 15 s more, so what is said is arithmetic, not
a timing."""

from __future__ import annotations

import re
import types

import prunelimit
import prunelimit.api.curvature as curvature
import prunelimit.api.spectrum_notes as spectrum_notes
from prunelimit import distributed, library


def test_budget_spent_before_the_runs_is_named(monkeypatch, model, train):
    now = [0.0]

    def reading() -> float:
        now[0] += 0.01
        return now[0]

    monkeypatch.setattr(distributed, "time", types.SimpleNamespace(perf_counter=reading))
    load, timing = library.settled_inputs, curvature._seconds_per_column

    def slow_load(*args, **kwargs):
        now[0] += 40.0
        return load(*args, **kwargs)

    def slow_timing(op):
        now[0] += 15.0
        return timing(op)

    monkeypatch.setattr(library, "settled_inputs", slow_load)
    monkeypatch.setattr(curvature, "_seconds_per_column", slow_timing)
    found = prunelimit.spectrum(model, train, tolerance=0.05, time_budget=50)
    assert found.stopped_by == "time-budget" and found.quadrature.runs * found.iterations == 1
    assert found.choice.reason.startswith("adaptive SLQ to ±0.05 in ρ*: nothing was left of the 50 s budget")
    over = next(note for note in found.notes if note.startswith("the spectrum went"))
    assert re.search(r"s over time_budget=50 s \(55\.\d+ s, 40\.\d+ s of it before the spectrum\)", over)
    # 15 s and the clock's 10 ms readings
    assert re.search(r"loading the model and data took 40\.0 s of it and the spectrum's work before the Lanczos "
                     r"runs \(timing the solver choice, the passes over the data\) 15\.\d s more, and the smallest "
                     r"plan the rest: this command needs about 56 s here", over), over
    assert "must follow the Lanczos runs" not in over  # they ran as priced: nothing was left for them


def test_the_note_names_the_stages_that_ran_before_the_runs():
    """Exact columns the watch left for SLQ after the budget had run out are named among them."""
    options = prunelimit.api.CurvatureOptions(time_budget=10.0)
    note = spectrum_notes.over_budget_note(options, 500, 12.0, setup=3.0,
                                       runs_began=(11.5, ("solver_choice", "data_passes", "exact_columns")))
    assert ("the spectrum's work before the Lanczos runs (timing the solver choice, the passes over the data, "
            "the exact columns left for SLQ) 8.5 s more") in note, note
    within = spectrum_notes.over_budget_note(options, 500, 12.0, setup=3.0, runs_began=(9.0, ("solver_choice",)))
    assert "the work that must follow the Lanczos runs took longer than predicted" in within  # time was left
