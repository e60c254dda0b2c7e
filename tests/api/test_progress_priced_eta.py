"""Under a time budget the spectrum passes a ``progress`` that takes ``left=`` the seconds
adaptive SLQ prices the work left at (each stage's products at their own cost, within the
budget), the command line's bar's ETA; a caller's ``progress(done, total=None, text=None)``
is called as before, without it."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("budget", [BUDGET, None], ids=["time-budget", "none"])
def test_the_data_check_and_the_top_ups_are_priced_at_their_own_cost(monkeypatch, small_model, train, budget):
    """The data check's ETA was the bar's rate over its last 30 s, the runs' dearer products
    mostly ('eta 0:00:18' with 10 s left on a CNN over 1,000 of 4,000 samples), and the
    top-ups after it were priced at the check's cheaper ones. On a clock read once a count,
    a second each: through the first part the plan's price counts down a second a count (to
    none: this clock is slower than the plan's; without a time budget nothing timed the check
    before it, and the bar keeps its rate there); from the second part on, the products left
    at the check's own seconds a product, 1 s to within the closing counts' readings (one a
    part where it ends short of the runs' steps, 4 over at least 59 products: 10 %), and the top-ups at the runs' seconds a product
    (``each``), exactly (1e-12: float arithmetic)."""
    from prunelimit.api import curvature

    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    part_spectra = curvature._part_spectra
    monkeypatch.setattr(curvature, "_part_spectra", lambda *args, **kwargs: part_spectra(*args, **kwargs, clock=clock))
    calls: list[tuple[int, int, str, float | None]] = []
    rep = prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, time_budget=budget,
                              progress=lambda done, total=None, text=None, left=None:
                              calls.append((done, total, text, left)))
    check = [c for c in calls if (c[2] or "").startswith("data check")]
    top_ups = [c for c in calls if (c[2] or "").startswith("trace top-up")]
    taken = rep.curvature_data.parts[0].hvps
    first = taken + (taken < rep.iterations)  # its products and its closing count, where it ended short
    then = len(top_ups)  # a count a top-up
    assert first < len(check) and then > 0
    if budget is None:
        assert all(left is None for *_, left in check[:first])
    else:
        assert all(b[3] == max(0.0, a[3] - 1.0) for a, b in zip(check[:first - 1], check[1:first]))
    later = check[first:]
    each = later[-1][3] / then  # the check's last product: the top-ups' price alone
    assert each > 0
    assert all(abs(left - then * each - (total - then - done)) <= 0.1 * (total - then - done)
               for done, total, _, left in later)
    assert all(abs(left - (total - done) * each) <= 1e-12 for done, total, _, left in top_ups)
