"""A prediction read from a ``verify`` report by a command that measures no limit (``prune
--ratio auto|lower``, a gate on the prediction) is not told to go and measure it: the overshoot
warning of a plainly trained model read "gate on the measured limit (`gate --use actual`) or
check with `prunelimit verify`" (library: "… or check with prunelimit.verify") there, though
that report had measured the limit. It names the report's measured limit now; a ``bounds``
report's warning is left as it was."""

from __future__ import annotations

import json

import torch

import prunelimit
from prunelimit.api.limit import measured_in_report, verify_measures
from prunelimit.errors import library_call
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from prunelimit.report.jsonout import document
from prunelimit.theory.regime import measured_advice

from tests.conftest import SAVED_DATA, SPEC, adam_fit

FAST = ("--max-samples", "300", "--threads", "1", "--method", "exact")


def _plain(train) -> torch.nn.Module:
    """An MLP fitted plainly (100 Adam steps, no l1): ρ_L and ρ* overshoot its one-shot limit."""
    torch.manual_seed(0)
    return adam_fit(build_model(SPEC), *train)


def _overshoot(warnings) -> str:
    (warning,) = [w for w in warnings if "the prediction overshoots" in w]
    return warning


def test_prune_and_gate_from_a_verify_report_name_its_measured_limit(cli, train, tmp_path) -> None:
    ckpt = save_checkpoint(tmp_path / "plain.pt", SPEC, _plain(train).state_dict(), meta={"data": "digits:train"})
    report = tmp_path / "v.json"
    report.write_text(cli("verify", ckpt, *FAST, "--json").stdout)
    # a gate is told to gate on it, a pruning to prune to it (tests/api/test_prune_overshoot_advice.py)
    go_by = f"go by the actual limit {report} measured (`gate --use actual` gates on it)"
    prune_to = f"prune to the limit {report} measured (--ratio "
    for command, told in (
            (("prune", ckpt, "--ratio", "lower", "--from", report, "-o", tmp_path / "p.pt", "--json", *SAVED_DATA),
             prune_to),
            (("gate", ckpt, "--from", report, "--min-ratio", "0.1", "--json", *SAVED_DATA), go_by)):
        run = cli(*command)
        assert run.exit_code == 0, run.stderr
        said = _overshoot(json.loads(run.stdout)["warnings"])
        assert "`prunelimit verify`" not in said and told in said, said


def test_the_library_names_it_in_its_own_words(train, tmp_path) -> None:
    model = _plain(train)
    report = tmp_path / "v.json"
    report.write_text(json.dumps(document("verify", prunelimit.verify(model, train, method="exact").to_json())))
    go_by = f"go by the actual limit {report} measured (prunelimit.gate(..., use='actual') gates on it)"
    for result, told in ((prunelimit.prune(model, "lower", train, prediction_from=str(report)),
                          f"prune to the limit {report} measured (ratio="),
                         (prunelimit.gate(model, train, min_ratio=0.1, prediction_from=str(report)), go_by)):
        said = _overshoot(result.warnings)
        assert "prunelimit.verify" not in said and told in said, said


def test_where_nothing_overshot_the_report_s_limit_is_named_and_a_bounds_report_is_left_alone() -> None:
    told = [f"…past the limit one-shot pruning reaches; {verify_measures()}", f"…reaches; {measured_advice()}"]
    verified = {"actual": {"loss_ratio": 0.6}}
    assert measured_in_report(told, verified, "v.json")[0].endswith("; the actual limit v.json measured is it")
    assert measured_in_report(told, {"bounds": {"lower": 0.5}}, "b.json") == told
    with library_call():  # a library caller's words, as the saved report's are for it
        said = measured_in_report([f"…; {verify_measures()}"], verified, "v.json")
    assert said == ["…; the actual limit v.json measured is it"]
