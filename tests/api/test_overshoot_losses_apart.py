"""The overshoot warning sets the losses measured past the one-shot limit against L + ε: at four
significant digits a small ε read "the analysis loss is 0.1098 and ... 0.1098, above L + ε =
0.1098" (``bounds examples/digits-mlp.pt --epsilon 1e-06``), a loss past a limit it equals."""

from __future__ import annotations

import re

from prunelimit.api.limit import overshoot_warning
from prunelimit.pruning.actual import CurvePoint, OvershootCheck
from prunelimit.report.rounding import loss_digits, loss_text


def _numbers(warning: str) -> tuple[list[float], float]:
    """The losses the warning states and its L + ε, as the reader reads them."""
    losses = re.findall(r"\(\d+\.\d+ %\) (?:the analysis loss is )?([0-9.]+)", warning)
    limit = re.search(r"above L \+ ε = ([0-9.]+)", warning).group(1)
    return [float(x) for x in losses], float(limit)


def test_a_loss_just_past_l_plus_epsilon_reads_above_it() -> None:
    # the bundled example's check at --epsilon 1e-06 (bounds --json, one torch thread)
    dense, epsilon = 0.10976392545568171, 1e-6
    predicted, lower = CurvePoint(0.8183, 0.10976501713424569, None), CurvePoint(0.8537, 0.10977987121731023, None)
    check = OvershootCheck(dense, epsilon, predicted, lower, 0.0, 1938, 2022)
    assert check.lower_overshoots and check.predicted_overshoots
    losses, limit = _numbers(overshoot_warning(check))
    assert len(losses) == 2
    assert all(loss > limit for loss in losses)  # as printed: each loss reads above L + ε


def test_a_loss_far_past_keeps_four_digits() -> None:
    check = OvershootCheck(0.319, 0.0457, CurvePoint(0.785, 0.4550010430812836, None), None, 0.0, 930, None)
    assert "the analysis loss is 0.455, above L + ε = 0.3647" in overshoot_warning(check)


def test_loss_digits_tells_values_apart_from_the_threshold() -> None:
    assert loss_digits(0.3647, 0.455) == 4
    threshold, value = 0.10976492545568171, 0.10976501713424569
    digits = loss_digits(threshold, value)
    assert (loss_text(value, digits=digits), loss_text(threshold, digits=digits)) == ("0.10977", "0.10976")
    assert loss_text(value) == loss_text(threshold)  # what the four digits read: 0.1098 both
    assert loss_digits(0.5, 0.5, float("nan")) == 4  # equal to it, or NaN: nothing to tell apart


def test_a_nan_loss_is_told_as_nan_not_above_l_plus_epsilon() -> None:
    """A model whose loss turns NaN when pruned (a logit divided by the smallest |w| of a layer
    pruning zeroes) lies past the limit, as the search counts it; the warning read "the
    analysis loss is nan and ... nan, above L + ε = 2.348", a comparison NaN does not make."""
    nan, dense = float("nan"), 2.298475399017334
    check = OvershootCheck(dense, 0.05, CurvePoint(0.7934, nan, None), CurvePoint(0.6491, nan, None), 0.0, 705, 577)
    assert ("at ρ_L (64.91 %) the analysis loss is NaN and at ρ* less 5 points (79.34 %) NaN, not within L + ε = 2.348"
            in overshoot_warning(check))
    one = OvershootCheck(dense, 0.05, CurvePoint(0.7934, nan, None), CurvePoint(0.6491, 2.5, None), 0.0, 705, 577)
    assert "the analysis loss is 2.5 and at ρ* less 5 points (79.34 %) NaN, not within L + ε" in overshoot_warning(one)
