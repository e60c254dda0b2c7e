"""A prune run whose ratio the prediction set repeated bounds' advice on an overshoot,
"gate on the measured limit (`gate --use actual`) or check with `prunelimit verify`":
gating is not what a pruning does. `prune --ratio auto --scope layer` on the bundled example
(ρ_L 80.83 % and ρ* − 5 points 81.81 % measured past L + ε) now reads "prune less: to the
limit `prunelimit verify` measures …; one-shot pruning was measured past the limit at 0.8083,
…"; --ratio lower is named only where ρ_L was measured within the limit. The lowest point
past the limit is a ratio the limit lies below, not a ratio to prune just under: "a --ratio
number below 0.6476" to a plainly trained CNN whose limit verify measured at 0.432 read as
the latter."""

from __future__ import annotations

import json
from pathlib import Path

from prunelimit.api.limit import prune_less
from prunelimit.errors import library_call
from prunelimit.pruning.actual import CurvePoint, OvershootCheck

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"


def _layer_prune_warning(cli, tmp_path, words: str, saved_by: str | None = None) -> str:
    """The one warning holding ``words`` of `prune --ratio auto --scope layer` on the bundled
    example; with ``saved_by`` (bounds, verify), --from that command's report, saved as
    ``tmp_path/saved.json``."""
    source = []
    if saved_by is not None:
        saved = cli(saved_by, EXAMPLE, "--scope", "layer", "--threads", "1", "--json")
        assert saved.exit_code == 0, saved.stderr
        (tmp_path / "saved.json").write_text(saved.stdout)
        source = ["--from", tmp_path / "saved.json"]
    result = cli("prune", EXAMPLE, *source, "--ratio", "auto", "--scope", "layer", "-o", tmp_path / "p.pt",
                 "--threads", "1", "--json")
    assert result.exit_code == 0, result.stderr
    (warning,) = [w for w in json.loads(result.stdout)["warnings"] if words in w]
    return warning


def test_a_prune_past_the_measured_limit_is_told_a_ratio_not_a_gate(cli, tmp_path) -> None:
    warning = _layer_prune_warning(cli, tmp_path, "the prediction overshoots")
    assert "gate --use actual" not in warning
    assert warning.endswith("prune less: to the limit `prunelimit verify` measures (--ratio its actual.loss_ratio); "
                            "one-shot pruning was measured past the limit at 0.8083, which puts the limit below that "
                            "ratio but not how far below (a ratio just under it can break the model as well)")


def test_lower_is_offered_where_rho_l_was_measured_within_the_limit() -> None:
    # L + ε = 0.12: ρ_L's loss 0.11 within it, ρ* − 5 points' 0.15 past it
    check = OvershootCheck(0.1, 0.02, CurvePoint(0.90, 0.15, None), CurvePoint(0.85, 0.11, None), 0.0, 10, 10)
    assert prune_less(check).startswith("prune less: to ρ_L (--ratio lower, ρ_L = 85.00 %, measured within L + ε), "
                                        "or to the limit `prunelimit verify` measures (--ratio its actual.loss_ratio); "
                                        "one-shot pruning was measured past the limit at 0.9,")
    with library_call():
        assert prune_less(check).startswith("prune less: to ρ_L (ratio='lower', ρ_L = 85.00 %, measured within L + ε), "
                                            "or to the limit prunelimit.verify measures "
                                            "(ratio=report.actual.loss_ratio);")


def test_a_prune_from_a_saved_bounds_report_is_told_the_same(cli, tmp_path) -> None:
    """--from reads the overshoot the report states (its points), not only its warning's words."""
    warning = _layer_prune_warning(cli, tmp_path, "the prediction overshoots", saved_by="bounds")
    assert "gate --use actual" not in warning and "measured past the limit at 0.8083, which puts" in warning


def test_a_stated_check_out_of_shape_gives_no_advice_of_its_own() -> None:
    from prunelimit.pruning.actual import stated_check

    check = OvershootCheck(0.1, 0.02, CurvePoint(0.90, 0.15, None), CurvePoint(0.85, 0.11, None), 0.0, 10, 10)
    read = stated_check(check.to_json())
    # ε is read back as L + ε less L: equal to within a float's rounding (1e-12 of it)
    assert (read.predicted, read.lower, read.predicted_removed, read.lower_removed, read.loss_limit) == \
        (check.predicted, check.lower, 10, 10, check.loss_limit)
    assert abs(read.epsilon - check.epsilon) < 1e-12 and prune_less(read) == prune_less(check)
    assert stated_check({"lower": True, "predicted": True}) is None  # an older report's: the flags alone
    assert stated_check({**check.to_json(), "checked": {"predicted": {"ratio": "0.9"}}}) is None


def test_a_prune_from_a_verify_report_is_told_the_limit_it_measured(cli, tmp_path) -> None:
    """A verify report measured the limit: the pruning is told to prune to it (--ratio 0.8 on
    the bundled example's layer path), not that `gate --use actual` gates on it."""
    warning = _layer_prune_warning(cli, tmp_path, "the prediction overshoots", saved_by="verify")
    assert warning.endswith(f"prune to the limit {tmp_path / 'saved.json'} measured (--ratio 0.8)")


def test_the_acc_drop_advice_names_no_lower_the_check_measured_past_the_limit(cli, tmp_path) -> None:
    """The same run lost 4.44 accuracy points past --acc-drop 0.5 and was told "prune less
    (--ratio lower, ρ_L = 80.83 %, or a number)" beside the warning that measured ρ_L's loss
    above L + ε; it is now told a number, as where no ρ_L lies below ρ*."""
    warning = _layer_prune_warning(cli, tmp_path, "more than --acc-drop")
    assert "--ratio lower" not in warning and "prune less (a --ratio number below 0.8681)" in warning
