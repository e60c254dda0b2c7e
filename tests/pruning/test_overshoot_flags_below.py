"""A checked point past L + ε puts the one-shot limit below it, so below every checked point
at or above its ratio too. An undertrained MLP (64-12-10, 10 SGD steps on 300 digits) failed
at ρ_L (62.6 %) and passed again at ρ* − 5 points (78.1 %): ``predicted`` read false beside
``lower`` true, and ``verify`` measured the limit at 51.8 %, ρ* 31 points past it."""

from __future__ import annotations

from prunelimit.api.limit import overshoot_warning
from prunelimit.pruning.actual import CurvePoint, OvershootCheck

DENSE, EPSILON = 2.2432, 0.0137  # L + ε = 2.2569, the MLP's


def _check(lower: tuple[float, float], predicted: tuple[float, float]) -> OvershootCheck:
    """The check with ``(ratio, loss)`` at ρ_L and at ρ* − 5 points, each removing weights."""
    return OvershootCheck(DENSE, EPSILON, CurvePoint(predicted[0], predicted[1], None),
                          CurvePoint(lower[0], lower[1], None), 0.0, 694, 557)


def test_a_failure_at_rho_l_puts_rho_star_past_the_limit() -> None:
    check = _check(lower=(0.6264, 2.2628), predicted=(0.7810, 2.2566))  # ρ_L fails, ρ* − 5 points passes
    assert check.lower_overshoots is True
    assert check.predicted_overshoots is True  # was False: its own loss passes, the limit lies below ρ_L
    said = overshoot_warning(check)
    # the loss stated is the one that failed; ρ* − 5 points' own loss is within L + ε and not called above it
    assert "at ρ_L (62.64 %) the analysis loss is 2.263, above L + ε = 2.257" in said
    assert "ρ_L and ρ* (by more than 5 points) lie past the limit" in said
    assert "78.10 %" not in said


def test_a_failure_below_rho_l_puts_rho_l_past_the_limit() -> None:
    # ρ_L above ρ* − 5 points (a narrow bound): ρ* − 5 points fails, ρ_L's loss passes again
    check = _check(lower=(0.80, 2.2500), predicted=(0.76, 2.2700))
    assert (check.lower_overshoots, check.predicted_overshoots) == (True, True)


def test_a_pass_stays_a_pass_where_no_failure_lies_below() -> None:
    check = _check(lower=(0.6264, 2.2500), predicted=(0.7810, 2.2700))  # monotone: ρ_L passes, ρ* − 5 fails
    assert (check.lower_overshoots, check.predicted_overshoots) == (False, True)
    unmeasured = OvershootCheck(DENSE, EPSILON, CurvePoint(0.78, 2.27, None), CurvePoint(0.0, DENSE, None), 0.0, 694, 0)
    assert (unmeasured.lower_overshoots, unmeasured.predicted_overshoots) == (None, True)  # not measured stays null
