"""``prune --ratio auto`` states ρ* with its ± beside the ratio it pruned to, and calls each
number by what it is: the predicted ρ* (± as bounds states it) and the ratio actually
pruned to (whole weights, ceil(ρ·N) of N, so at or above ρ*)."""

from __future__ import annotations

import json

import pytest
import torch

from prunelimit.api.pruning import PruneReport

# a fixed short SLQ plan on the tiny model: a ± well above 0 (steps), in a second
SLQ = ("--method", "slq", "--iterations", "8", "--runs", "3", "--no-cache", "--threads", "1")
SMALL = ("--max-samples", "300", *SLQ)


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_prune_auto_carries_the_bounds_plus_minus_everywhere(cli, own_ckpt, tmp_path) -> None:
    """The ± of ρ* that ``bounds`` states for the same options is in prune's JSON, its
    saved checkpoint's ``meta.pruned``, its HTML report and its console line."""
    bounds = _json(cli("bounds", own_ckpt, *SMALL, "--json"))
    stated = bounds["prediction"]["uncertainty"]
    assert stated["plus_minus"] > 0  # an SLQ ρ*: a ± that is not the exact spectrum's 0
    doc = _json(cli("prune", own_ckpt, "--ratio", "auto", *SMALL, "-o", tmp_path / "p.pt", "--json",
                    "--report", tmp_path / "rep"))
    assert doc["ratio"]["requested"] == pytest.approx(bounds["prediction"]["ratio"])
    assert doc["ratio"]["plus_minus"] == pytest.approx(stated["plus_minus"])
    assert doc["ratio"]["uncertainty"] == pytest.approx(stated)
    meta = torch.load(tmp_path / "p.pt", weights_only=False)["meta"]["pruned"]
    assert meta["plus_minus"] == pytest.approx(stated["plus_minus"]) and meta["uncertainty"] == pytest.approx(stated)
    assert "plus_minus" in (tmp_path / "rep" / "report.html").read_text()
    shown = cli("prune", own_ckpt, "--ratio", "auto", *SMALL, "-o", tmp_path / "q.pt")
    assert shown.exit_code == 0, shown.stderr
    assert "predicted ρ* = " in shown.stdout and " ± " in shown.stdout.split("predicted ρ* = ")[1].splitlines()[0]


def test_prune_auto_from_a_report_carries_its_plus_minus(cli, own_ckpt, tmp_path) -> None:
    """``--from bounds.json`` carries the ± the report states; a report whose ± its parts do
    not give states none, and the pruning says so rather than inventing one."""
    bounds = _json(cli("bounds", own_ckpt, *SMALL, "--json"))
    (tmp_path / "b.json").write_text(json.dumps(bounds))
    doc = _json(cli("prune", own_ckpt, "--ratio", "auto", "--from", tmp_path / "b.json", "--max-samples", "300",
                    "-o", tmp_path / "p.pt", "--json"))
    assert doc["ratio"]["plus_minus"] == pytest.approx(bounds["prediction"]["uncertainty"]["plus_minus"])
    bounds["prediction"]["uncertainty"]["plus_minus"] += 0.1
    (tmp_path / "c.json").write_text(json.dumps(bounds))
    broken = cli("prune", own_ckpt, "--ratio", "auto", "--from", tmp_path / "c.json", "--max-samples", "300",
                 "-o", tmp_path / "q.pt")
    assert broken.exit_code == 0 and "(no ± stated)" in broken.stdout


def test_prune_lower_states_the_plus_minus_gate_subtracts_from_rho_L(cli, own_ckpt, tmp_path) -> None:
    """ρ_L comes from the same estimated spectrum as ρ*, and ``gate --use lower`` subtracts
    ρ*'s stated ± from it; ``prune --ratio lower`` stated none (``plus_minus: null``, a bare
    ``ρ_L = 72.69 %``). It now states that ±, from a computed spectrum and from a report."""
    bounds = _json(cli("bounds", own_ckpt, *SMALL, "--json"))
    stated = bounds["prediction"]["uncertainty"]
    doc = _json(cli("prune", own_ckpt, "--ratio", "lower", *SMALL, "-o", tmp_path / "p.pt", "--json"))
    assert doc["ratio"]["requested"] == pytest.approx(bounds["bounds"]["lower"])
    assert stated["plus_minus"] > 0 and doc["ratio"]["plus_minus"] == pytest.approx(stated["plus_minus"])
    assert doc["ratio"]["uncertainty"] == pytest.approx(stated)
    assert torch.load(tmp_path / "p.pt", weights_only=False)["meta"]["pruned"]["plus_minus"] == \
        pytest.approx(stated["plus_minus"])
    (tmp_path / "b.json").write_text(json.dumps(bounds))
    saved = _json(cli("prune", own_ckpt, "--ratio", "lower", "--from", tmp_path / "b.json", "--max-samples", "300",
                      "-o", tmp_path / "q.pt", "--json"))
    assert saved["ratio"]["plus_minus"] == pytest.approx(stated["plus_minus"])
    shown = cli("prune", own_ckpt, "--ratio", "lower", *SMALL, "-o", tmp_path / "r.pt")
    assert shown.exit_code == 0, shown.stderr
    assert " ± " in shown.stdout.split("predicted ρ_L = ")[1].splitlines()[0]


def test_a_given_ratio_states_no_plus_minus(cli, own_ckpt, tmp_path) -> None:
    doc = _json(cli("prune", own_ckpt, "--ratio", "0.5", "-o", tmp_path / "p.pt", "--json"))
    assert doc["ratio"]["plus_minus"] is None and doc["ratio"]["uncertainty"] is None
    assert "plus_minus" not in torch.load(tmp_path / "p.pt", weights_only=False)["meta"]["pruned"]


def _report(requested: float, achieved: float, source: str, uncertainty: dict | None) -> PruneReport:
    return PruneReport(requested, achieved, source, "global", [], None, None, None, "p.pt", ("p.pt",),
                       uncertainty=uncertainty)


def test_the_prediction_and_the_pruned_ratio_are_each_named() -> None:
    """ρ* = 91.834 % rounds up to 91.85 % of whole weights: the text names 91.83 % as ρ* with
    its ±, 91.85 % as the ratio pruned to and why they differ, never 91.85 % as "predicted"."""
    from prunelimit.report.console import prediction_behind

    u = {"probes": 0.001, "probes_kind": "jackknife", "steps": 0.002, "data": None, "steps_kind": "bracket",
         "grid": None, "data_parts": None, "runs": 3, "level": 0.95, "plus_minus": 0.004}
    text = prediction_behind(_report(0.91834, 0.9185, "auto (bounds)", u))
    assert text.startswith("ρ* = 91.8") and "± 0.40 pt" in text
    assert "pruned to 91.85 %: whole weights" in text and "ρ* = 91.85" not in text
    assert prediction_behind(_report(0.91834, 0.9185, "auto (bounds)", None)).startswith("ρ* = 91.83 % (no ± stated)")
    assert prediction_behind(_report(0.8, 0.8003, "lower (bounds)", None)).startswith(
        "ρ_L = 80.00 % (no ± stated); pruned to 80.03 %")
    assert prediction_behind(_report(0.8, 0.8003, "lower (bounds)", u)).startswith("ρ_L = 80.0")
    assert "± 0.40 pt" in prediction_behind(_report(0.8, 0.8003, "lower (bounds)", u))
    subset = prediction_behind(_report(0.91834, 0.9185, "auto (bounds)", {**u, "data": 0.0004, "data_parts": 4}))
    assert "incomplete: not the shift of ρ* a Hessian over a subset gives" in subset
    assert "incomplete" not in text
    layer = PruneReport(0.8, 0.81, "lower (bounds)", "layer", [], None, None, None, "p.pt", ("p.pt",))
    assert "ceil(ρ·n) of each layer's n" in prediction_behind(layer)
    assert prediction_behind(_report(0.5, 0.5, "given", None)) is None


def test_library_prune_auto_records_the_plus_minus() -> None:
    import prunelimit
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    model = build_model("mlp:64,8,10")
    x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))
    auto = prunelimit.prune(model, "auto", (x, y), batch_size=16, method="exact")
    assert auto.recorded["plus_minus"] == 0.0 and auto.recorded["uncertainty"]["steps_kind"] == "exact"
    assert "plus_minus" not in prunelimit.prune(model, 0.5).recorded
