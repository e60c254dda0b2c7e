"""verify states the gap Δ = ρ* − actual with ρ*'s ±, so a reader can tell a gap inside the
prediction's own error from one outside it (the ± was on another line, Δ had none)."""

from __future__ import annotations

import json

import pytest

from prunelimit.report.console import delta_text

FAST = ("--max-samples", 300, "--no-cache", "--threads", "1")


@pytest.mark.parametrize("plan", [("--method", "exact"), ("--iterations", 12, "--runs", 2)], ids=["exact", "slq"])
def test_the_gap_carries_the_prediction_s_plus_minus(cli, own_ckpt, plan):
    doc = json.loads(cli("verify", own_ckpt, *FAST, *plan, "--json").stdout)
    stated = doc["prediction"]["uncertainty"]["plus_minus"]
    assert doc["delta_plus_minus"] == stated
    if plan[1] == "exact":
        assert stated == 0.0
    else:
        assert stated > 0
    text = cli("verify", own_ckpt, *FAST, *plan).stdout
    row = next(line for line in text.splitlines() if "Δ = ρ* − actual (loss)" in line)
    # written by the rounding rule of every ± (tests/report/test_rounding.py checks that rule)
    assert delta_text(doc["delta"], stated) in row and " ± " in delta_text(doc["delta"], stated)


def test_a_saved_prediction_without_a_plus_minus_says_so(cli, own_ckpt, tmp_path):
    saved = json.loads(cli("bounds", own_ckpt, *FAST, "--method", "exact", "--json").stdout)
    saved["prediction"]["uncertainty"] = None
    (tmp_path / "b.json").write_text(json.dumps(saved))
    doc = json.loads(cli("verify", own_ckpt, *FAST[:2], "--threads", "1", "--from", tmp_path / "b.json",
                         "--json").stdout)
    assert doc["delta_plus_minus"] is None
    text = cli("verify", own_ckpt, *FAST[:2], "--threads", "1", "--from", tmp_path / "b.json").stdout
    assert "(no ± stated)" in next(line for line in text.splitlines() if "Δ = ρ* − actual (loss)" in line)


def test_on_a_pruned_checkpoint_the_limit_is_at_or_above_its_sparsity(cli, own_ckpt, tmp_path):
    """Ratios up to the checkpoint's sparsity remove only its zeros: every probe there has the
    checkpoint's own ("dense") loss, and the limit found is at or above the sparsity."""
    pruned = json.loads(cli("prune", own_ckpt, "--ratio", "0.8", "-o", tmp_path / "p.pt", "--threads", "1",
                            "--json").stdout)
    sparsity = pruned["ratio"]["achieved"]
    doc = json.loads(cli("verify", tmp_path / "p.pt", *FAST, "--method", "exact", "--json").stdout)
    actual = doc["actual"]
    assert actual["loss_ratio"] >= sparsity - 1e-3  # the grid point at or below it
    below = [p for p in actual["probes"] if p["ratio"] <= sparsity]
    assert below and all(p["loss"] == actual["dense_loss"] for p in below)
