"""``verify --refit``'s diagnosis of an overshoot told the user to "fine-tune after pruning
(`prunelimit prune --finetune-epochs N`)", the very thing its refit search had just measured
(a plain digits MLP: ρ* 82.97 %, 76.70 % after 1 fine-tuning epoch). The fix now says what the
refit measured: fine-tune longer where its epochs fall short of ρ* by more than 5 points (6
epochs then reached 78.50 %), the same epochs where they reach within 5 points."""

from __future__ import annotations

from prunelimit.api.verification import PredictedLimit, _diagnose
from prunelimit.errors import library_call
from prunelimit.pruning.refit import RefitLimit
from prunelimit.theory.regime import Regime

SHARES = "0.3 % below 0.001, 5.3 % below 0.01, 51.3 % below 0.1"
PLAIN = Regime(False, 0.001, None, weights=1184, finding="the model does not look l1-trained", train_with_l1=True)


def _prediction() -> PredictedLimit:
    return PredictedLimit(ratio=0.8297, lower=0.6935, upper=0.95, epsilon=0.03, radius=4.0, trace=20.0,
                          params_hessian=1000, scope="global", warnings=(), cached=False)


def _refit(ratio: float, epochs: int) -> RefitLimit:
    return RefitLimit(loss_ratio=ratio, accuracy_ratio=ratio, evaluations=25, finetune_epochs=epochs, points=())


def test_a_refit_that_falls_short_is_told_to_fine_tune_longer_not_to_fine_tune() -> None:
    *_, fix = _diagnose(_prediction(), 0.142, SHARES, PLAIN, _refit(0.767, 1))
    assert "--finetune-epochs N)" not in fix
    assert fix.endswith("fine-tune longer after pruning (--refit measured the limit at 76.70 % after 1 fine-tuning "
                        "epoch, still 6.3 points below ρ*; `prunelimit prune --finetune-epochs N`, N above 1).")
    with library_call():
        *_, fix = _diagnose(_prediction(), 0.142, SHARES, PLAIN, _refit(0.767, 1))
    assert "refit=True measured the limit at 76.70 %" in fix
    assert fix.endswith("prunelimit.train(pruning.apply(model), data, epochs=...) above 1).")


def test_a_refit_that_reaches_within_5_points_names_its_epochs() -> None:
    *_, fix = _diagnose(_prediction(), 0.142, SHARES, PLAIN, _refit(0.785, 6))
    assert fix.endswith("fine-tune after pruning (`prunelimit prune --finetune-epochs 6`: --refit measured the limit "
                        "at 78.50 % after 6 fine-tuning epochs).")
    # without a refit search, fine-tuning is untried: named as before
    *_, untried = _diagnose(_prediction(), 0.142, SHARES, PLAIN)
    assert untried.endswith("fine-tune after pruning (`prunelimit prune --finetune-epochs N`).")


def test_verify_with_refit_states_its_measured_fine_tuning_in_the_fix(train) -> None:
    """End to end: a plainly fitted MLP (ρ* 35 points past its one-shot limit) verified with one
    refit epoch, whose limit stays far below ρ*: the fix is to fine-tune longer than that epoch."""
    import torch

    import prunelimit
    from prunelimit.models.spec import build_model
    from tests.conftest import SPEC, adam_fit

    torch.manual_seed(0)
    model = adam_fit(build_model(SPEC), *train)
    verified = prunelimit.verify(model, train, method="exact", refit=True, finetune_epochs=1)
    fix = verified.diagnosis[-1]
    assert "fine-tune longer after pruning (refit=True measured the limit at " in fix, fix
    assert f"{100 * verified.refit.loss_ratio:.2f} % after 1 fine-tuning epoch" in fix
