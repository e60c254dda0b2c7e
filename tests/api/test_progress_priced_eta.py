"""Under a time budget the spectrum passes a ``progress`` that takes ``left=`` the seconds
adaptive SLQ prices the work left at (each stage's products at their own cost, within the
budget), the command line's bar's ETA; a caller's ``progress(done, total=None, text=None)``
is called as before, without it."""

from __future__ import annotations

import pytest
import torch

import prunelimit

from prunelimit.curvature.adaptive import RECENT_STEPS
from tests.conftest import ClockedOperator

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
    """The data check's ETA was the bar's rate over its last 30 s, the runs' products
    mostly ('eta 0:00:18' with 10 s left on a CNN over 1,000 of 4,000 samples), and the
    top-ups after it were priced at the check's cheaper ones. On a clock read once a count
    and once as a part begins, a second each: through the first part the plan's price counts
    down a second a count (to none: this clock is slower than the plan's); without a time
    budget the part's own readings from its second count on (before: none, the bar's rate,
    0.82-0.86 of the time left on a 9,610-weight MLP); from the second part on the first
    part's readings and its seconds. Each within 10 % of the clock's seconds left beside the
    top-ups' (the parts end short of the runs' steps at 59 to 69 products: the one-count
    differences), and the top-ups at the runs' seconds a product (``each``), exactly (1e-12:
    float arithmetic)."""
    from prunelimit.api import curvature

    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    part_spectra = curvature._part_spectra
    monkeypatch.setattr(curvature, "_part_spectra", lambda *args, **kwargs: part_spectra(*args, **kwargs, clock=clock))
    calls: list[tuple[int, int, str, float | None, float]] = []
    rep = prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100, time_budget=budget,
                              progress=lambda done, total=None, text=None, left=None:
                              calls.append((done, total, text, left, now[0])))
    check = [c for c in calls if (c[2] or "").startswith("data check")]
    top_ups = [c for c in calls if (c[2] or "").startswith("trace top-up")]
    taken = rep.curvature_data.parts[0].hvps
    first = taken + (taken < rep.iterations)  # its products and its closing count, where it ended short
    then = len(top_ups)  # a count a top-up
    assert first < len(check) and then > 0
    each = check[-1][3] / then  # the check's last product: the top-ups' price alone
    assert each > 0
    end = check[-1][4]  # the clock at the check's last count

    def near(call) -> bool:
        return abs(call[3] - then * each - (end - call[4])) <= 0.1 * (end - call[4])

    if budget is None:
        assert all(near(call) for call in check[1:-1])
    else:
        assert all(b[3] == max(0.0, a[3] - 1.0) for a, b in zip(check[:first - 1], check[1:first]))
        assert all(near(call) for call in check[first:-1])
    assert all(abs(left - (total - done) * each) <= 1e-12 for done, total, _, left, _ in top_ups)


class GrowingSteps(ClockedOperator):
    """``ClockedOperator`` of ``dim`` whose j-th product advances the clock by
    1 + j/``per`` s: a Lanczos step's reorthogonalisation projects against the j basis vectors
    before it."""

    def __init__(self, now: list[float], dim: int, per: float) -> None:
        super().__init__(now)
        self.shape, self.dim, self.per = (dim, dim), dim, per

    def matvec(self, v):
        self._now[0] += 1.0 + self.hvps / self.per
        self.hvps += 1
        return v * torch.arange(1.0, self.dim + 1, dtype=torch.float64)


GROWING_DIM, BUILD_S = 48, 5.0


def test_the_data_checks_eta_is_its_parts_own_seconds_as_their_steps_grow(monkeypatch) -> None:
    """Four parts of 48 products, each part's operator built in 5 s and its j-th product
    1 + j/8 s (the check's steps growing as their reorthogonalisation does): unpriced (no
    time budget timed the check) the ETA was none through the first part, the bar's rate
    (the runs' products, cheaper), then the products left at the check's seconds a product
    so far, low by the growth: 0.83 of the seconds left halfway through the second part on
    this clock, 0.70 halfway through the last. Now from a quarter of the first part on it is the clock's seconds left
    (1e-9 of them: float arithmetic; the fitted part is exactly quadratic in its products),
    and a price from the part's second count on."""
    calls = _check_calls(monkeypatch, GROWING_DIM, 8.0)
    end = calls[-1][2]
    assert all(left is not None for _, left, _ in calls[1:])
    priced = calls[GROWING_DIM // 4:]
    assert all(abs(left - (end - at)) <= 1e-9 * max(end - at, 1.0) for _, left, at in priced)


LONG_PART = 512  # steps a part: its quarter (128) well past the 64 steps the step fit waits for


def _check_calls(monkeypatch, dim: int, per: float,
                 slope: float | None = None) -> list[tuple[int, float | None, float]]:
    """Every progress call of a data check over 4 parts of a ``GrowingSteps(dim, per)``, each
    built in ``BUILD_S``: (products, ``left``, the clock), unpriced (no time budget); ``slope``:
    the runs' fitted growth a step."""
    import types

    from prunelimit import api
    from prunelimit.api import curvature

    now = [0.0]

    def built(*args, **kwargs) -> GrowingSteps:
        now[0] += BUILD_S
        return GrowingSteps(now, dim, per)

    monkeypatch.setattr(curvature, "hessian_operator", built)
    calls: list[tuple[int, float | None, float]] = []
    spectra, spent = curvature._part_spectra(
        None, api.CurvatureOptions(method="slq"), types.SimpleNamespace(parts=[[]] * 4),
        types.SimpleNamespace(steps=dim, hvps=0), torch.float64,
        progress=lambda done, total, text, left: calls.append((done, left, now[0])),
        prices=(None, 0.0), clock=lambda: now[0], slope=slope)
    assert (len(spectra), spent, len(calls)) == (4, 4 * dim, 4 * dim)
    return calls


def test_the_data_checks_eta_early_in_a_long_first_part_prices_each_step_as_its_basis_grows(monkeypatch) -> None:
    """Parts of 512 steps, the k-th 1 + k/320 s (a reorthogonalisation's cost grows with the
    basis: 2.6 s at the last step, as a 9,610-weight MLP's blocks of 32 steps went from 0.20 s
    to 0.53 s through a part): between 64 steps timed and a quarter of the first part the
    ETA was the part's readings fitted as a straight line, which read 0.61-0.65 of the
    check's seconds left on this clock. Now each product left is priced at a + b·k fitted on
    the steps timed (``StepCosts``): the clock's seconds left, to 1e-9 of them (float
    arithmetic; the fit is exact on a clock linear in k). Before 64 steps it is still the
    line (0.56-0.60 here): a slope over fewer, extrapolated, follows the load's noise."""
    calls = _check_calls(monkeypatch, LONG_PART, 320.0)
    end = calls[-1][2]
    early = calls[RECENT_STEPS:LONG_PART // 4 - 1]  # 65 to 127 products in: before the quadratic fit
    assert early and [done for done, _, _ in early] == list(range(RECENT_STEPS + 1, LONG_PART // 4))
    assert all(abs(left - (end - at)) <= 1e-9 * (end - at) for _, left, at in early)


def test_the_data_checks_eta_takes_the_runs_slope_from_its_first_step(monkeypatch) -> None:
    """The same 512-step parts, and the runs' fit of the same steps' growth, 1/320 s a step
    (their reorthogonalisation is the check's: as many rows of D): from the part's second
    count (its first step timed; the first built the operator) to its 64th the ETA was the
    straight line through its readings, 0.56-0.60 of the check's seconds left on this clock.
    Now it is each product left at a + b·k, b the runs' and a the level of the check's own
    steps: the clock's seconds left, to 1e-9 of them (float arithmetic; exact on a clock
    linear in k). Without the runs' slope (a fixed plan's runs are not timed) it stays the
    line."""
    calls = _check_calls(monkeypatch, LONG_PART, 320.0, slope=1 / 320)
    end = calls[-1][2]
    early = calls[1:RECENT_STEPS]
    assert [done for done, _, _ in early] == list(range(2, RECENT_STEPS + 1))
    assert all(abs(left - (end - at)) <= 1e-9 * (end - at) for _, left, at in early)
    unsloped = _check_calls(monkeypatch, LONG_PART, 320.0)[1:RECENT_STEPS]
    assert all(left < 0.61 * (end - at) for _, left, at in unsloped)


def test_the_spectrum_gives_the_data_check_the_runs_slope(monkeypatch, small_model, train) -> None:
    """The slope the data check's ETA takes is the one fitted on the spectrum's own runs:
    their steps timed (``StepCosts``, here answering a marked slope) reach ``_part_spectra``."""
    from prunelimit.api import curvature
    from prunelimit.curvature.adaptive import StepCosts

    made: list[StepCosts] = []

    class Marked(StepCosts):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

        def slope(self) -> float | None:
            return 0.125 if self is made[0] and self.recent else super().slope()

    given: list[float | None] = []
    part_spectra = curvature._part_spectra

    def spy(*args, **kwargs):
        given.append(kwargs.get("slope"))
        return part_spectra(*args, **kwargs)

    monkeypatch.setattr(curvature, "StepCosts", Marked)
    monkeypatch.setattr(curvature, "_part_spectra", spy)
    prunelimit.spectrum(small_model, train, method="slq", hessian_samples=100,
                        progress=lambda done, total=None, text=None, left=None: None)
    assert made and made[0].recent and given == [0.125]
