"""The advice of prune's acc-drop warning follows what the run already did: a run at
``--ratio lower`` was told "prune less (--ratio lower or a number)", one whose ``--from`` is a
verify report (which measured the limit) "check the prediction with `prunelimit verify`", and
one that fine-tuned "fine-tune (--finetune-epochs N)"."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from prunelimit.api.pruning import ReadLimit
from prunelimit.models.evaluate import Evaluation
from prunelimit.report.console import acc_drop_warning

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
VERIFY = "`prunelimit verify`"


def _rep(source: str, tuned: float | None = None, measured: ReadLimit | None = None,
         lower: float | None = None) -> SimpleNamespace:
    """A pruning to 0.6943 (ρ 0.69345) that lost 0.83 points of 96.11 %, past --acc-drop 0.5."""
    return SimpleNamespace(acc_drop_exceeded=True, accuracy_drop=0.83, acc_drop=0.5, ratio_source=source,
                           requested=0.69345, achieved=0.6943, uncertainty=None, scope="global",
                           before=Evaluation(0.13, 0.9611, 360), measured=measured, lower=lower,
                           finetune_epochs=0 if tuned is None else 3,
                           finetuned=None if tuned is None else Evaluation(0.14, tuned, 360))


def test_a_run_at_lower_is_told_a_number_below_it_not_lower_again() -> None:
    said = acc_drop_warning(_rep("lower from b.json"))
    assert "--ratio lower" not in said and "prune less (a --ratio number below 0.6934)" in said
    # at auto, lower prunes less, where the prediction has a ρ_L (not with --bound-mode none)
    assert "prune less (--ratio lower, ρ_L = 60.00 %, or a number)" in acc_drop_warning(_rep("auto (bounds)", lower=0.6))
    assert "--ratio lower" not in acc_drop_warning(_rep("auto (bounds)"))


def test_a_verify_report_names_its_measured_limit_not_verify_again() -> None:
    said = acc_drop_warning(_rep("lower from v.json", measured=ReadLimit(0.688, 0.688, 0.5, "v.json")))
    assert VERIFY not in said and "--ratio lower" not in said
    assert "prune to the accuracy limit v.json measured (--ratio 0.688, the largest ratio within 0.5" in said
    # a measured limit at or above the ratio pruned to would not prune less: not named
    above = acc_drop_warning(_rep("lower from v.json", measured=ReadLimit(0.7, 0.7, 0.5, "v.json")))
    assert VERIFY not in above and "--ratio 0.7" not in above and "a --ratio number below 0.6934" in above


def test_a_run_that_fine_tuned_is_told_longer_or_nothing_of_fine_tuning() -> None:
    short = acc_drop_warning(_rep("auto (bounds)", tuned=0.95, lower=0.6))  # still 1.1 points below: past 0.5
    assert "--finetune-epochs N" not in short and "fine-tune longer (more than this run's --finetune-epochs 3)" in short
    back = acc_drop_warning(_rep("auto (bounds)", tuned=0.96, lower=0.6))  # 0.11 points below: within it
    assert "fine-tune" not in back and back.endswith(f"or check the prediction with {VERIFY}")


def test_prune_auto_with_bound_mode_none_is_not_told_to_use_lower(cli, tmp_path) -> None:
    """`prune --ratio auto --bound-mode none` computes no ρ_L: `--ratio lower` there is refused."""
    report = tmp_path / "b.json"
    report.write_text(json.dumps({
        "schema": "prunelimit.bounds/1", "epsilon": 0.0173, "params": {"hessian": 2410}, "spectrum": {"trace": 22.0},
        "prediction": {"ratio": 0.97, "density": 0.03, "radius": 1.5, "scope": "global"},
        "bounds": {"lower": None, "mode": "none"}}))
    run = cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "p.pt", "--json")
    assert run.exit_code == 0, run.stderr
    (said,) = [w for w in json.loads(run.stdout)["warnings"] if "more than --acc-drop 0.5" in w]
    assert "--ratio lower" not in said and "prune less (a --ratio number below 0.97)" in said


def test_prune_lower_from_a_verify_report_advises_its_measured_limit(cli, tmp_path) -> None:
    """End to end: the limit travels from the --from report to the warning on stderr and in the JSON."""
    report = tmp_path / "v.json"
    report.write_text(json.dumps({
        "schema": "prunelimit.verify/1", "epsilon": 0.0173, "params": {"hessian": 2410}, "spectrum": {"trace": 22.0},
        "prediction": {"ratio": 0.98, "density": 0.02, "radius": 1.5, "scope": "global"},
        "bounds": {"lower": 0.97, "lower_density": 0.03},
        "actual": {"loss_ratio": 0.9, "accuracy_ratio": 0.888, "acc_drop_points": 0.5}}))
    run = cli("prune", EXAMPLE, "--ratio", "lower", "--from", report, "-o", tmp_path / "p.pt", "--json")
    assert run.exit_code == 0, run.stderr
    (said,) = [w for w in json.loads(run.stdout)["warnings"] if "more than --acc-drop 0.5" in w]
    assert VERIFY not in said and "--ratio lower" not in said
    assert f"prune to the accuracy limit {report} measured (--ratio 0.888," in said


def test_prune_that_fine_tuned_too_little_is_told_its_own_epochs(cli, tmp_path) -> None:
    """End to end: 1 epoch at a learning rate too small to win the accuracy back."""
    report = tmp_path / "b.json"
    report.write_text(json.dumps({
        "schema": "prunelimit.bounds/1", "epsilon": 0.0173, "params": {"hessian": 2410}, "spectrum": {"trace": 22.0},
        "prediction": {"ratio": 0.97, "density": 0.03, "radius": 1.5, "scope": "global"},
        "bounds": {"lower": 0.9, "lower_density": 0.1}}))
    run = cli("prune", EXAMPLE, "--ratio", "auto", "--from", report, "-o", tmp_path / "p.pt", "--json",
              "--finetune-epochs", "1", "--finetune-lr", "1e-6")
    assert run.exit_code == 0, run.stderr
    (said,) = [w for w in json.loads(run.stdout)["warnings"] if "more than --acc-drop 0.5" in w]
    assert "fine-tune longer (more than this run's --finetune-epochs 1)" in said and "--finetune-epochs N" not in said
