"""A model trained by ``prunelimit train --l1 0.001 --epochs 3`` on the digits looks plain to the
regime check (2.8 % near zero), and its ρ* overshoots the one-shot limit by about 20 points;
``bounds`` (its warning and ``regime.advice``), ``verify``'s diagnosis and the gate's fix all
told it to "train with l1 (`prunelimit train --l1 ...`)", what it did. The checkpoint records
its training: they now say so and advise more epochs at that l1 or a larger one (30 epochs at
0.001 overshot by 9 points, docs/accuracy.md), and a ``verify``/``gate`` reading the bounds
report (``--from``) says the same. Its first-order warning names l1 training as a cause of
its gradient, as of a model that looks l1-trained ("(train longer)" alone before)."""

from __future__ import annotations

import json

SPEC = "mlp:64,16,10"
# the analysis on 300 samples keeps the test to seconds; the exact spectrum (D = 1,210) is no sample
DATA = ("--max-samples", "300", "--threads", "1")
FAST = (*DATA, "--method", "exact", "--no-cache")
GENERIC = "train with l1 (`prunelimit train --l1 ...`)"
RECORDED = ("train longer with l1 or with a larger l1 (its checkpoint records l1 0.001 for 3 epochs: "
            "`prunelimit train --l1 0.001 --epochs N` with N above 3, or a larger --l1)")


def test_a_briefly_l1_trained_checkpoint_is_told_what_it_records_and_to_go_further(cli, tmp_path) -> None:
    ckpt = tmp_path / "l1short.pt"
    trained = cli("train", "--model", SPEC, "--data", "digits:train", "--l1", "0.001", "--epochs", "3", "-o", ckpt,
                  "--threads", "1")
    assert trained.exit_code == 0, trained.output
    bounds = cli("bounds", ckpt, *FAST, "--json")
    assert bounds.exit_code == 0, bounds.output
    report = tmp_path / "bounds.json"
    report.write_text(bounds.stdout)
    doc = json.loads(bounds.stdout)
    assert not doc["regime"]["l1_shaped"] and doc["overshoot"]["predicted"]  # the case as named
    (warning,) = [w for w in doc["warnings"] if "does not look l1-trained" in w]
    for said in (warning, doc["regime"]["advice"]):
        assert said.endswith(f", or {RECORDED}") and GENERIC not in said
    assert doc["regime"]["training"] == {"l1": 0.001, "epochs": 3, "planned_epochs": 3}
    # the first-order warning names l1 training as a cause of the gradient of a model that records it, as of an l1-shaped one
    (gradient,) = [w for w in doc["warnings"] if "not at a minimum" in w]
    assert gradient.endswith("(train longer if it has not converged; l1 training or weight decay leaves such a "
                             "gradient by design)")

    for args in (FAST, (*DATA, "--from", report)):  # computed here, or read from the bounds report
        verified = cli("verify", ckpt, *args, "--json")
        assert verified.exit_code == 0, verified.output
        *_, fix = json.loads(verified.stdout)["diagnosis"]
        assert fix.startswith(f"Fix: {RECORDED}, or fine-tune after pruning")

        gated = cli("gate", ckpt, *args, "--min-ratio", "0.95", "--json")
        assert gated.exit_code == 1, gated.output
        assert json.loads(gated.stdout)["fix"].endswith(f"more prunable, e.g. {RECORDED}")


def test_an_l1_shaped_checkpoint_that_records_no_l1_is_not_diagnosed_as_partly_l1_trained() -> None:
    """Recorded ``--l1 0`` with weights that look l1-shaped (a share of 74.5 %): the diagnosis
    said it "looks l1-trained", as models l1-trained only in part, and to train with l1 to
    convergence; it states the record and advises training with l1."""
    from prunelimit.api.verification import PredictedLimit, _diagnose
    from prunelimit.theory.regime import Regime, TrainingRecord

    finding = "the model looks l1-shaped (near-zero share 74.5 % ≥ 10 %), yet its checkpoint records l1 0 for 30 " \
              "epochs, so it was not trained with l1"
    regime = Regime(True, 0.745, "advice", weights=2368, finding=finding, train_with_l1=True,
                    training=TrainingRecord(0.0, 30, 30))
    prediction = PredictedLimit(ratio=0.9, lower=0.8, upper=0.95, epsilon=0.05, radius=2.0, trace=20.0,
                                params_hessian=1000, scope="global", warnings=(), cached=False)
    _, cause, fix = _diagnose(prediction, 0.113, "74.5 % below 0.001", regime)
    assert cause.startswith(f"Likely cause: {finding} (74.5 % below 0.001)") and "only in part" not in cause
    assert fix.startswith(f"Fix: {GENERIC.replace('(', '(LOMP: ')}, or fine-tune after pruning")
