"""The regime check reads what a ``prunelimit train`` checkpoint records of its training
(``meta.train_state``: l1 and epochs), not only the weights' shape: a model trained with
``--l1 0.001 --epochs 3`` looks plain (2.8 % near zero on the digits) and was told to train
with l1, what it did; one recorded with ``--l1 0`` whose weights look l1-shaped was taken as
l1-trained. A file without a record is read by its shape alone, as before."""

from __future__ import annotations

import pytest
import torch

from prunelimit.errors import library_call
from prunelimit.gate_rules import GateRule, evaluate_gate
from prunelimit.theory.regime import WEIGHT_DECAY_SHARE, TrainingRecord, assess_regime

GENERIC = "train with l1 (`prunelimit train --l1 ...`)"
SHORT = TrainingRecord(l1=0.001, epochs=3, planned_epochs=3)
PLAIN = TrainingRecord(l1=0.0, epochs=30, planned_epochs=30)


def _weights(near_zero: float) -> list[torch.Tensor]:
    """Two Gaussian weight matrices (a plainly trained shape), a ``near_zero`` share of their
    entries set to 1e-6 of their size (an l1 shape): 0.5 is l1-shaped, 0 is not."""
    g = torch.Generator().manual_seed(0)
    weights = [torch.randn(32, 64, generator=g, dtype=torch.float64), torch.randn(10, 32, generator=g,
                                                                                  dtype=torch.float64)]
    for w in weights:
        w[torch.rand(w.shape, generator=g, dtype=torch.float64) < near_zero] *= 1e-6
    return weights


def _meta(l1: object = 0.001, done: object = 3, planned: object = 3) -> dict:
    """A checkpoint's meta as `prunelimit train` writes it (``pruning.lomp._state``'s layout, trimmed)."""
    return {"trained_by": "prunelimit train (LOMP)",
            "train_state": {"epoch": done, "config": {"l1": l1, "epochs": planned, "lr": 0.05}, "history": []}}


def test_a_checkpoint_that_records_l1_is_told_to_train_longer_or_with_a_larger_l1_not_to_train_with_l1() -> None:
    regime = assess_regime(_weights(0.0), SHORT)
    assert not regime.l1_shaped and regime.train_with_l1 and regime.l1_trained
    assert regime.advice.startswith("the model does not look l1-trained (near-zero share 0.3 % < 10 %): ")
    assert regime.advice.endswith(
        "or train longer with l1 or with a larger l1 (its checkpoint records l1 0.001 for 3 epochs: "
        "`prunelimit train --l1 0.001 --epochs N` with N above 3, or a larger --l1)")
    assert GENERIC not in regime.advice
    assert regime.to_json()["training"] == {"l1": 0.001, "epochs": 3, "planned_epochs": 3}


def test_an_l1_shaped_checkpoint_that_records_no_l1_is_not_taken_as_l1_trained() -> None:
    regime = assess_regime(_weights(0.5), PLAIN)
    assert regime.l1_shaped and not regime.l1_trained and regime.train_with_l1  # the statistic as it was
    assert regime.finding.startswith("the model looks l1-shaped (near-zero share ")
    assert regime.finding.endswith("yet its checkpoint records l1 0 for 30 epochs, so it was not trained with l1")
    assert regime.advice.endswith(f"or {GENERIC}")
    assert "to convergence" not in regime.l1_fix()


def test_a_plain_record_on_a_plain_shape_says_so_and_keeps_the_advice() -> None:
    regime = assess_regime(_weights(0.0), PLAIN)
    assert regime.finding == ("the model does not look l1-trained (near-zero share 0.3 % < 10 %; its checkpoint "
                              "records l1 0 for 30 epochs)")
    assert regime.advice.endswith(f"or {GENERIC}")


def test_without_a_record_the_shape_alone_decides_as_before() -> None:
    for share, fix in ((0.0, GENERIC), (0.5, "train with l1 to convergence (`prunelimit train --l1 ...`), or with l1 "
                                             f"in place of weight decay if it was trained with that ({WEIGHT_DECAY_SHARE})")):
        regime = assess_regime(_weights(share))
        assert regime.training is None and regime.to_json()["training"] is None and regime.l1_fix() == fix


def test_the_record_is_read_from_a_train_checkpoints_meta_and_an_odd_one_is_left_unread() -> None:
    assert TrainingRecord.from_meta(_meta()) == SHORT
    stopped = TrainingRecord.from_meta(_meta(done=2))  # a run stopped after 2 of its 3 epochs, not resumed
    assert stopped.longer_or_larger() == (
        "train longer with l1 or with a larger l1 (its checkpoint records l1 0.001 for 2 of its 3 epochs: "
        "`prunelimit train --l1 0.001 --epochs N` with N above 2, or a larger --l1)")
    for meta in ({}, {"train_state": None}, {"train_state": {"epoch": 3}}, _meta(l1="0.001"), _meta(l1=True),
                 _meta(l1=-1.0), _meta(l1=float("nan")), _meta(done=4), _meta(done=0), _meta(planned=3.0)):
        assert TrainingRecord.from_meta(meta) is None, meta


@pytest.mark.parametrize("l1_shaped", [True, False])
def test_a_gate_fix_reads_the_record_of_its_report_in_its_readers_words(l1_shaped: bool) -> None:
    """A gate reads the regime from the report it stands on (``--from`` a saved one alike)."""
    report = {"bounds": {"lower": 0.69}, "prediction": {"ratio": 0.85, "uncertainty": {"plus_minus": 0.0}},
              "regime": {"l1_shaped": l1_shaped, "training": SHORT.to_json()}}

    def fix() -> str:
        (outcome,) = evaluate_gate(report, [GateRule("floor", use="lower", min_ratio=0.8)]).outcomes
        return outcome.fix

    assert fix().endswith("e.g. train longer with l1 or with a larger l1 (its checkpoint records l1 0.001 for 3 "
                          "epochs: `prunelimit train --l1 0.001 --epochs N` with N above 3, or a larger --l1)")
    with library_call():
        assert fix().endswith("(its checkpoint records l1 0.001 for 3 epochs: prunelimit.train(model, data, "
                              "l1=0.001, epochs=N) with N above 3, or a larger l1)")
