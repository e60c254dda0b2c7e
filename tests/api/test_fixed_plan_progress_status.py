"""A fixed plan (``method="paper"``, ``runs``/``iterations``) told ``progress=`` no ρ* ± at
all (``text`` None throughout its runs): it now states the runs' estimate after each run."""

from __future__ import annotations

import prunelimit
from prunelimit.report.rounding import estimate_text

AHEAD = 2  # the products that measure the float32 ones against float64, counted before the runs


def test_a_fixed_plan_states_the_runs_estimate_after_each_run(model, train):
    calls: list[tuple[int, int | None, str | None]] = []
    rep = prunelimit.spectrum(model, train, runs=3, iterations=30,
                              progress=lambda done, total=None, text=None: calls.append((done, total, text)))
    runs = [(done, text) for done, total, text in calls if not (text or "").startswith("trace top-up")]
    first = [text for done, text in runs if done < AHEAD + 30]
    assert set(first) == {None}  # no estimate before the first run has ended
    stated = [(done, text) for done, text in runs if text]
    assert {done for done, _ in stated} >= {AHEAD + 30, AHEAD + 60, AHEAD + 90}  # from the end of each run on
    answer = f"ρ* {estimate_text(rep.limit_ratio, rep.uncertainty.plus_minus)}"
    assert stated[-1] == (AHEAD + 90, answer)  # after the last run: the answer's (the full data: no data part)
    assert calls[-1] == (rep.hvps, rep.hvps, f"trace top-up, {answer}")



def test_a_long_fixed_plan_states_its_estimate_where_the_runs_have_doubled(model, train):
    """Each estimate solves over every run so far: stated after every run, R runs would cost
    about R²/2 runs' solves; where the runs have doubled (and after the last) they cost at
    most about twice the answer's. One run at a time here (the cached engine), 5 steps each."""
    calls: list[tuple[int, str | None]] = []
    prunelimit.spectrum(model, train, runs=7, iterations=5,
                        progress=lambda done, total=None, text=None: calls.append((done, text)))
    runs = [(done, text) for done, text in calls if not (text or "").startswith("trace top-up")]
    changed = [done for (_, before), (done, text) in zip(runs, runs[1:]) if text != before]
    assert changed == [AHEAD + 5, AHEAD + 10, AHEAD + 20, AHEAD + 35]  # after runs 1, 2, 4 and the last, 7
