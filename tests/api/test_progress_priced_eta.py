"""Under a time budget the spectrum passes a ``progress`` that takes ``left=`` the seconds
adaptive SLQ prices the work left at (each stage's products at their own cost, within the
budget), the command line's bar's ETA; a caller's ``progress(done, total=None, text=None)``
is called as before, without it."""

from __future__ import annotations

import prunelimit

BUDGET = 3600.0  # seconds: never reached by 100 samples of a 64-4-10 MLP, so the plan is the one without it


def test_a_progress_taking_left_gets_the_priced_seconds_within_the_budget(small_model, train):
    calls: list[tuple[int, int | None, str | None, float | None]] = []
    rep = prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, time_budget=BUDGET,
                              progress=lambda done, total=None, text=None, left=None:
                              calls.append((done, total, text, left)))
    priced = [left for *_, left in calls if left is not None]
    assert priced and all(0.0 <= left <= BUDGET for left in priced)
    assert calls[-1][:2] == (rep.hvps, rep.hvps)  # the count ends at the HVPs the result states


def test_a_progress_without_left_is_called_as_before(small_model, train):
    calls: list[tuple] = []
    rep = prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, time_budget=BUDGET,
                              progress=lambda done, total=None, text=None: calls.append((done, total, text)))
    assert calls[-1][:2] == (rep.hvps, rep.hvps)
