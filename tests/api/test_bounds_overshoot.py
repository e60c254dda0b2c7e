"""``bounds`` measures whether its prediction overshoots (``overshoot``, docs/guide.md "Gating
in CI"): the loss of the model pruned one-shot to ρ_L and to ρ* − 5 points against L + ε,
the actual limit's own criterion. The near-zero share alone (``regime``) calls a partly
l1-trained model l1-shaped, and its ρ* still overshot by 10–25 points with no warning."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import prunelimit
from prunelimit.data.spec import load_dataset
from prunelimit.pruning.actual import LARGE_GAP


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset("digits:train", max_samples=300)
    return data.x, data.y


def _trained(data, hidden: int, plain_steps: int, l1_steps: int, l1: float) -> nn.Module:
    """An MLP 64-``hidden``-10 trained by SGD for ``plain_steps``, then with an l1 penalty on
    its weights for ``l1_steps`` (seeded)."""
    x, y = data
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    draw = torch.Generator().manual_seed(1)
    for step in range(plain_steps + l1_steps):
        i = torch.randint(0, len(x), (64,), generator=draw)
        loss = F.cross_entropy(model(x[i]), y[i])
        if step >= plain_steps:
            loss = loss + l1 * sum(m.weight.abs().sum() for m in model if isinstance(m, nn.Linear))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


# (hidden, plain steps, l1 steps, λ) -> l1-shaped, ρ_L overshoots, ρ* overshoots by more than 5 points
CASES = {
    "plain": ((8, 300, 0, 0.0), False, True, True),
    "plain, then briefly l1": ((8, 300, 100, 1e-3), True, True, True),
    "l1 from the start, small": ((8, 0, 1500, 2e-3), True, False, True),
    "l1 from the start": ((16, 0, 1500, 2e-3), True, False, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_overshoot_flag_agrees_with_the_measured_limit(digits, case) -> None:
    """For each training the flags say what verify's measured limit says: ρ_L lies past it,
    ρ* lies more than 5 points past it (verify's diagnosis threshold); a warning says so
    whenever either does. The partly l1-trained model is l1-shaped, and before the check
    it got no overshoot warning at all (ρ* 76 %, ρ_L 60 %, measured 56 %)."""
    setting, l1_shaped, lower_over, predicted_over = CASES[case]
    report = prunelimit.verify(_trained(digits, *setting), digits, method="exact")
    rep, actual = report.bounds, report.actual.loss_ratio
    assert rep.regime.l1_shaped is l1_shaped
    assert (rep.lower > actual, report.delta > LARGE_GAP) == (lower_over, predicted_over)  # the case is as named
    assert any("overshoot" in w for w in rep.warnings) is (lower_over or predicted_over)
    flags = rep.to_json()["overshoot"]
    assert (flags["lower"], flags["predicted"]) == (lower_over, predicted_over)
    limit = flags["dense_loss"] + rep.epsilon
    assert flags["loss_limit"] == pytest.approx(limit)
    assert flags["checked"]["lower"]["ratio"] == pytest.approx(rep.lower)
    assert flags["checked"]["predicted"]["ratio"] == pytest.approx(rep.ratio - LARGE_GAP)
    assert (flags["checked"]["lower"]["loss"] > limit, flags["checked"]["predicted"]["loss"] > limit) \
        == (lower_over, predicted_over)


def test_the_warning_names_the_points_the_losses_and_what_to_gate_on(digits) -> None:
    rep = prunelimit.bounds(_trained(digits, 8, 300, 100, 1e-3), digits, method="exact")
    (warning,) = [w for w in rep.warnings if w.startswith("the prediction overshoots, measured")]
    check = rep.overshoot
    assert f"at ρ_L ({100 * rep.lower:.2f} %) the analysis loss is {check.lower.loss:.4g}" in warning
    assert f"at ρ* less 5 points ({100 * (rep.ratio - LARGE_GAP):.2f} %) {check.predicted.loss:.4g}" in warning
    assert f"above L + ε = {check.loss_limit:.4g}" in warning
    assert "prunelimit.gate(..., use='actual')" in warning  # a library call names the library's terms


def test_a_gate_that_passes_on_an_overshooting_lower_bound_says_so(digits) -> None:
    """The gate's verdict on ρ_L stands (its rules are unchanged), and its JSON says at the top
    level that ρ_L was measured past the one-shot limit, so a CI job can tell (``jq -e
    '.overshoot.lower'``); a gate on the measured limit alone states no prediction to check."""
    model = _trained(digits, 8, 300, 100, 1e-3)
    passed = prunelimit.gate(model, digits, min_ratio=0.5, method="exact")
    doc = passed.to_json()
    assert doc["passed"] and doc["overshoot"]["lower"] is True and doc["overshoot"]["predicted"] is True
    assert doc["overshoot"] == doc["bounds"]["overshoot"]
    assert any(w.startswith("the prediction overshoots, measured") for w in doc["warnings"])
    measured = prunelimit.gate(model, digits, min_ratio=0.5, use="actual").to_json()
    assert measured["passed"] and measured["overshoot"] is None


def _about_the_regime(warnings) -> list[str]:
    """The warnings that speak of the l1 regime or of an overshoot."""
    return [w for w in warnings if "l1-trained" in w or "overshoot" in w]


def test_a_plain_model_gets_one_warning_with_its_share_and_the_measured_overshoot(digits) -> None:
    """A plainly trained model got two warnings that said one thing twice: the regime's ("does
    not look l1-trained: ρ* and ρ_L ... overshoot ... by 14–50 points", a figure from other
    models) and the measured one. Now one, with the share and what was measured on this model."""
    rep = prunelimit.bounds(_trained(digits, 8, 300, 0, 0.0), digits, method="exact")
    assert not rep.regime.l1_shaped and rep.overshoot.lower_overshoots
    (warning,) = _about_the_regime(rep.warnings)
    assert f"does not look l1-trained (near-zero share {100 * rep.regime.near_zero_share:.1f} %" in warning
    assert f"above L + ε = {rep.overshoot.loss_limit:.4g}" in warning
    assert "14–50" not in warning and "prunelimit.gate(..., use='actual')" in warning and "l1=" in warning
    assert rep.regime.advice is not None and rep.to_json()["regime"]["advice"] == rep.regime.advice  # JSON as before


def test_a_model_that_does_not_look_l1_trained_but_does_not_overshoot_is_not_said_to(digits) -> None:
    """An underfit model (5 SGD steps) does not look l1-trained, and pruning it one-shot to
    ρ_L and ρ* − 5 points keeps the loss within L + ε (verify measures past ρ*): the regime's
    warning still said "ρ* and ρ_L ... overshoot the one-shot limit", against the measurement."""
    model = _trained(digits, 8, 5, 0, 0.0)
    report = prunelimit.verify(model, digits, method="exact")
    rep = report.bounds
    assert not rep.regime.l1_shaped and report.actual.loss_ratio > rep.ratio  # the case as named
    assert rep.overshoot.lower_overshoots is False and rep.overshoot.predicted_overshoots is False
    (warning,) = _about_the_regime(rep.warnings)
    assert "overshoot" not in warning and "does not look l1-trained" in warning
    assert f"within L + ε = {rep.overshoot.loss_limit:.4g}" in warning


def _linear_bounds(weights: int):
    """``bounds`` (exact) of a linear regression on ``weights`` inputs fitted by 300 SGD steps."""
    torch.manual_seed(0)
    model = nn.Linear(weights, 1)
    x = torch.randn(64, weights)
    y = 0.5 * x.sum(1, keepdim=True) + 0.1
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(300):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return prunelimit.bounds(model, (x, y), loss="mse", batch_size=16, method="exact")


@pytest.mark.parametrize("weights", [1, 2])
def test_a_check_that_pruned_no_weight_claims_no_measurement(weights) -> None:
    """With one or two prunable weights, ρ_L and ρ* − 5 points round to ratios where
    one-shot pruning (⌈ρN⌉ weights) removes none, and the warning said that pruning there
    "keeps the analysis loss within L + ε (measured)": the dense model's loss, no
    measurement of the limit. It now says that the check pruned no weight."""
    report = _linear_bounds(weights)
    checked = report.overshoot.to_json()["checked"]
    assert checked["predicted"]["ratio"] == checked["lower"]["ratio"] == 0.0  # ⌈0 · N⌉: no weight
    said = " ".join(report.warnings)
    assert "(measured)" not in said and "keeps the analysis loss within" not in said
    assert "removes no weight" in said


@pytest.mark.parametrize("weights", [1, 2, 3])
def test_a_point_that_pruned_no_weight_is_not_measured_in_the_json(weights) -> None:
    """Where ⌈ρN⌉ removes no weight the loss is the dense one: the JSON flagged ``false``
    there (a measurement that the point lies within the limit). It now says ``null`` (not
    measured) and carries how many weights each checked point removed."""
    flags = _linear_bounds(weights).to_json()["overshoot"]
    removed = {name: math.ceil(round(flags["checked"][name]["ratio"] * weights, 9)) for name in ("predicted", "lower")}
    assert 0 in removed.values()  # the case under test: a point pruning no weight
    assert {name: flags[name] for name in removed if removed[name] == 0} == dict.fromkeys(
        (name for name in removed if removed[name] == 0), None)
    assert {name: flags["checked"][name].get("removed") for name in removed} == removed


def test_the_checked_points_carry_the_weights_they_removed(digits) -> None:
    """A measured point says how many weights it removed: ⌈ρN⌉ of the model's non-zero
    prunable weights, and its flag is a measurement (``true`` or ``false``, never ``null``)."""
    model = _trained(digits, *CASES["plain"][0])
    flags = prunelimit.bounds(model, digits, method="exact").to_json()["overshoot"]
    n = sum(m.weight.numel() for m in model if isinstance(m, nn.Linear))
    for name in ("predicted", "lower"):
        point = flags["checked"][name]
        assert point["removed"] == math.ceil(round(point["ratio"] * n, 9)) > 0
        assert isinstance(flags[name], bool)


def _l1_check(predicted_removed: int, lower_removed: int | None):
    """The overshoot check of an l1-shaped model pruned already (80 % exact zeros, then l1
    fine-tuned, as iterative LOMP leaves it) whose ρ* lies within 5 points of its zeros:
    ρ* − 5 points falls on zeros and removes ``predicted_removed`` weights, ρ_L ``lower_removed``;
    every loss within L + ε (the dense one where nothing is removed)."""
    from prunelimit.pruning.actual import CurvePoint, OvershootCheck
    from prunelimit.theory.regime import Regime

    regime = Regime(True, 0.18, None, weights=237, zero_share=0.8)
    lower = None if lower_removed is None else CurvePoint(0.8002, 0.3469081, None)
    return regime, OvershootCheck(0.3469089, 1e-3, CurvePoint(0.7715, 0.3469089, None), lower, 0.0,
                                  predicted_removed, lower_removed)


@pytest.mark.parametrize("lower_removed", [1, 0, None])
def test_an_l1_shaped_model_is_told_a_point_that_removed_no_weight_was_not_measured(lower_removed) -> None:
    """An l1-shaped model got no warning when its check found no overshoot, also where a point
    removed no weight: silence, which reads "no overshoot", though ρ* − 5 points was not
    measured (its JSON flag null). It is now told so, and what was measured beside it."""
    from prunelimit.api.limit import regime_warnings

    regime, check = _l1_check(0, lower_removed)
    (said,) = regime_warnings(regime, check)
    unmeasured = "ρ_L and to ρ* less 5 points" if lower_removed == 0 else "ρ* less 5 points"
    assert said.startswith(f"pruning one-shot to {unmeasured} removes no weight")
    assert ("to ρ_L it keeps the analysis loss within L + ε = 0.3479" in said) is bool(lower_removed)
    assert said.endswith("`prunelimit verify` measures it")
    regime, check = _l1_check(50, 1)  # both measured, both within the limit: nothing to say
    assert regime_warnings(regime, check) == []


@pytest.mark.parametrize("lower_ratio, predicted_ratio, why", [
    (0.0, 0.33, "(ρ_L is 0)"),
    (0.0, 0.0, "(ρ_L is 0; ρ* is 5 % or less)"),
    (0.8002, 0.7715, "(the weights it reaches are exactly zero already)"),
])
def test_a_point_that_removed_no_weight_is_told_why(lower_ratio, predicted_ratio, why) -> None:
    """An l1-shaped model, none of whose weights is zero, with a ρ_L of 0 (a bound that
    prunes nothing) was told "pruning one-shot to ρ_L removes no weight (the weights it
    reaches are exactly zero already)": of weights it does not have. A ratio of 0 prunes
    nothing (⌈0·N⌉); above 0 only a model pruned already removes none."""
    from prunelimit.api.limit import regime_warnings
    from prunelimit.pruning.actual import CurvePoint, OvershootCheck
    from prunelimit.theory.regime import Regime

    regime = Regime(True, 0.18, None, weights=1184, zero_share=0.0 if lower_ratio == 0 else 0.8)
    predicted = CurvePoint(predicted_ratio, 0.3469, None)
    check = OvershootCheck(0.3469, 1e-3, predicted, CurvePoint(lower_ratio, 0.3469, None), 0.0,
                           int(predicted_ratio > 0 and lower_ratio == 0) * 391, 0)
    (said,) = regime_warnings(regime, check)
    assert f"removes no weight {why}, so the overshoot check measured nothing there" in said
