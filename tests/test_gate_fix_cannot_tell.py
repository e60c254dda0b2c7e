"""A failing gate rule's fix told every model that its regime check does not find l1-shaped to
"train with l1", also the two whose weights cannot tell (docs/guide.md, "Gating in CI"): an MLP
trained with l1 (λ 2·10⁻³), pruned to 80 % and fine-tuned with its zeros held (ρ_L 0.8469) under
``gate --min-ratio 0.85`` was told "make the model more prunable, e.g. train with l1", the advice
its own ``bounds`` warning and ``verify``'s diagnosis leave out there. It is now told to train
with l1 only if it was not, which its weights cannot tell; other models keep their fix."""

from __future__ import annotations

import pytest
import torch

from prunelimit.gate_rules import GateRule
from prunelimit.theory.regime import assess_regime, shape_cannot_tell
from tests.test_gate_rules import failing_fix as _fix

# that model's bounds report (state dict: no training record), as `bounds --json` wrote it
PRUNED = {"value": 0.006342494714587738, "threshold": 0.1, "weights": 473, "minimum_weights": 50,
          "zero_share": 0.8002533783783784}
CANNOT_TELL = "train with l1 (`prunelimit train --l1 ...`) if it was not l1-trained, which its weights cannot tell"


def _report(statistic: dict, training: dict | None = None, overshoot: dict | None = None) -> dict:
    return {"bounds": {"lower": 0.8469}, "prediction": {"ratio": 0.9170, "uncertainty": {"plus_minus": 0.0}},
            "regime": {"l1_shaped": False, "statistic": statistic, "training": training},
            "overshoot": overshoot or {"lower": False, "predicted": False}}


def test_a_pruned_model_is_told_to_train_with_l1_only_if_it_was_not() -> None:
    fix = _fix(_report(PRUNED), GateRule("r", use="lower", min_ratio=0.85))
    assert fix == ("ρ_L less its ± is only 0.8469: require at most that (--min-ratio 0.8469), or make the model "
                   f"more prunable, e.g. {CANNOT_TELL}")
    # a measured limit's rule, and a rule whose prediction the overshoot check measured past the limit, alike
    report = {**_report(PRUNED), "actual": {"loss_ratio": 0.887, "loss_crossed": True}}
    assert _fix(report, GateRule("r", use="actual", min_ratio=0.9)).endswith(CANNOT_TELL)
    overshot = _report(PRUNED, overshoot={"lower": True, "predicted": True})
    assert _fix(overshot, GateRule("r", use="lower", min_ratio=0.85)).endswith(CANNOT_TELL)


def test_too_few_weights_cannot_tell_either() -> None:
    few = {**PRUNED, "weights": 30, "zero_share": 0.0}
    assert _fix(_report(few), GateRule("r", use="lower", min_ratio=0.85)).endswith(CANNOT_TELL)


@pytest.mark.parametrize("statistic, training, fix", [
    ({**PRUNED, "zero_share": 0.0}, None, "train with l1 (`prunelimit train --l1 ...`)"),  # plainly shaped, dense
    ({**PRUNED, "zero_share": 0.05}, None, "train with l1 (`prunelimit train --l1 ...`)"),  # zeros short of the share
    (PRUNED, {"l1": 0.002, "epochs": 30, "planned_epochs": 30}, "train longer with l1 or with a larger l1"),
    (PRUNED, {"l1": 0.0, "epochs": 30, "planned_epochs": 30}, "train with l1 (`prunelimit train --l1 ...`)"),
    ({"value": 0.006}, None, "train with l1 (`prunelimit train --l1 ...`)"),  # a report stating no counts
])
def test_models_whose_shape_or_record_tells_keep_their_fix(statistic, training, fix) -> None:
    told = _fix(_report(statistic, training), GateRule("r", use="lower", min_ratio=0.85))
    assert fix in told and "cannot tell" not in told


def test_the_counts_read_back_from_the_json_judge_as_the_regime_check_did() -> None:
    # the shares at the boundary too: 100 of 1,000 entries zero or near zero reach the 10 % share exactly
    draw = torch.Generator().manual_seed(0)
    told = set()
    for zeros, near in ((0, 0), (0, 200), (800, 150), (50, 50), (60, 40), (90, 9), (100, 0), (99, 0), (800, 5),
                        (960, 5), (985, 0)):
        w = 1 + torch.rand(1000, generator=draw)
        spots = torch.randperm(1000, generator=draw)  # scattered: a row of them all would be balanced away
        w[spots[:near]] = 1e-6
        w[spots[near:near + zeros]] = 0
        regime = assess_regime([w.reshape(40, 25)])
        cannot_tell = regime.finding is not None and not regime.train_with_l1
        assert shape_cannot_tell(regime.to_json()["statistic"]) == cannot_tell, (zeros, near)
        told.add((regime.l1_shaped, cannot_tell))
    assert told == {(True, False), (False, False), (False, True)}  # l1-shaped, plainly shaped, cannot tell
