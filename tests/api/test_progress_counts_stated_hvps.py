"""The count a ``progress=`` caller (and the command line's bar) follows ends at the HVPs the
result states: it left out the solver choice's timing products and the exact columns left
for SLQ, so it ended at 910 where the summary said "918 HVPs"."""

from __future__ import annotations

import prunelimit
from prunelimit.api import curvature as curvature_api


def _recorded() -> tuple[list[tuple[int, int | None, str | None]], object]:
    calls: list[tuple[int, int | None, str | None]] = []

    def progress(done, total=None, text=None):
        calls.append((done, total, text))

    return calls, progress


def _counted(calls: list[tuple[int, int | None, str | None]]) -> list[tuple[int, int | None]]:
    """The counted calls (not a stage with no count, ``total`` 0: the eigenvalue solve)."""
    return [(done, total) for done, total, _ in calls if total != 0]


def test_the_exact_columns_count_ends_at_the_stated_hvps_timing_included(model, train):
    calls, progress = _recorded()
    rep = prunelimit.spectrum(model, train, progress=progress)
    assert rep.solver == "exact" and rep.hvps == rep.params_hessian + 8  # the default timed 8 products first
    assert _counted(calls)[-1] == (rep.hvps, rep.hvps)  # before: (910, 910)
    assert calls[-1] == (0, 0, calls[-1][2])  # the eigenvalue solve is still a stage with no count


def test_exact_columns_left_for_slq_stay_counted(model, train, monkeypatch):
    """The default leaves the exact columns when they are on course to run over their budget
    (``_exact_watch``): here at the first block. The SLQ count started again from 1, the
    columns and the timing lost from the count."""

    def watch(*_args, **_kwargs):
        def check(done):
            raise curvature_api._ExactTooSlow("left for the test", done)
        return check

    monkeypatch.setattr(curvature_api, "_exact_watch", watch)
    calls, progress = _recorded()
    rep = prunelimit.spectrum(model, train, progress=progress, max_hvps=1200)
    assert rep.solver != "exact" and any("left for the test" in note for note in rep.notes)
    counted = _counted(calls)
    dones = [done for done, _ in counted]
    assert dones == sorted(dones)  # the count never goes back to start SLQ's products from 1
    assert counted[-1] == (rep.hvps, rep.hvps)
    assert all(done <= total for done, total in counted)
