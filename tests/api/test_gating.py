"""``gate``'s JSON ``timing``: the spectrum's, as ``bounds``' (docs/guide.md), and the gate's own seconds beside it."""

from __future__ import annotations

import json

import pytest

SMALL = ("--max-samples", "300", "--no-cache")
FIXED = ("--method", "paper", "--iterations", "12", "--runs", "2")


@pytest.mark.parametrize("use", ["lower", "predicted"])
def test_the_gates_timing_is_its_spectrums(cli, own_ckpt, use) -> None:
    """``timing.seconds`` is the spectrum's wall time and ``timing.hvps`` its products
    (docs/guide.md); the gate's top-level ``timing.seconds`` was its whole evaluation, the
    baseline check, the search and the rules included, with no ``hvps``: it now is the
    spectrum's block of the document it stands on, and ``timing.gate.seconds`` the gate's."""
    result = cli("gate", own_ckpt, *SMALL, *FIXED, "--min-ratio", "0", "--use", use, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # the search's and the overshoot check's passes come after the spectrum, each with its own seconds
    spectrum = {key: value for key, value in doc["bounds"]["timing"].items() if key not in ("search", "overshoot")}
    assert {key: doc["timing"][key] for key in spectrum} == spectrum
    assert doc["timing"]["hvps"] == sum(stage["hvps"] for stage in doc["timing"]["stages"].values()) > 0
    assert doc["timing"]["gate"]["seconds"] >= doc["timing"]["seconds"]


def test_a_gate_on_the_measured_limit_alone_states_no_spectrum_work(cli, own_ckpt) -> None:
    """``--use actual`` alone computes no spectrum: ``timing`` says none was computed
    (0 products, no stages, not cached), as ``verify --from`` does; the gate's seconds stay."""
    result = cli("gate", own_ckpt, "--max-samples", "300", "--no-cache", "--min-ratio", "0", "--use", "actual",
                 "--json")
    assert result.exit_code == 0, result.stderr
    timing = json.loads(result.stdout)["timing"]
    assert (timing["seconds"], timing["stages"], timing["hvps"], timing["cached"]) == (0.0, {}, 0, False)
    assert timing["gate"]["seconds"] > 0


def test_gate_from_a_saved_bounds_report_computes_no_spectrum_and_gives_its_verdict(cli, own_ckpt, tmp_path) -> None:
    """A pipeline ``bounds --json > b.json; prune --from b.json; verify --from b.json; gate
    --from b.json`` computes the spectrum once with the cache off: the gate reads the saved
    prediction (0 products, said on the console), and its verdict, values and overshoot flag
    are the ones a gate computing the spectrum gives."""
    saved = tmp_path / "b.json"
    saved.write_text(cli("bounds", own_ckpt, *SMALL, *FIXED, "--json").stdout)
    rule = ("--min-ratio", "0.3", "--baseline", saved, "--max-drop", "0.01")
    computed = json.loads(cli("gate", own_ckpt, *SMALL, *FIXED, *rule, "--json").stdout)
    read = cli("gate", own_ckpt, *SMALL, "--from", saved, *rule, "--json")
    assert read.exit_code == (0 if computed["passed"] else 1), read.stderr
    doc = json.loads(read.stdout)
    assert doc["timing"]["hvps"] == 0 and doc["bounds"]["prediction_from"] == str(saved)
    assert [(r["passed"], r["measured"], r["compared"]) for r in doc["rules"]] \
        == [(r["passed"], r["measured"], r["compared"]) for r in computed["rules"]]
    assert doc["overshoot"] == computed["overshoot"] and "lower" in doc["overshoot"]
    console = cli("gate", own_ckpt, *SMALL, "--from", saved, *rule)
    assert "prediction read from" in console.stdout and "(no curvature work)" in console.stdout  # the path may wrap


@pytest.mark.parametrize("other, reason", [
    (("--max-samples", "200"), "data fingerprint"),  # other data
    (("--exclude", "2"), "N (prunable weights)"),  # other tensors
])
def test_gate_from_a_report_of_another_problem_is_refused(cli, own_ckpt, tmp_path, other, reason) -> None:
    saved = tmp_path / "b.json"
    saved.write_text(cli("bounds", own_ckpt, *SMALL, *FIXED, "--json").stdout)
    result = cli("gate", own_ckpt, "--no-cache", *other, "--from", saved, "--min-ratio", "0.3")
    assert result.exit_code == 2 and "computed for another problem" in result.stderr and reason in result.stderr


@pytest.mark.parametrize("flags, refused", [
    (("--method", "exact"), "--method has no effect"),  # the saved report's method stands
    (("--use", "actual"), "--from has no effect"),  # the measured limit alone reads no prediction
])
def test_gate_from_refuses_what_it_would_ignore(cli, own_ckpt, tmp_path, flags, refused) -> None:
    saved = tmp_path / "b.json"
    saved.write_text(cli("bounds", own_ckpt, *SMALL, *FIXED, "--json").stdout)
    result = cli("gate", own_ckpt, *SMALL, "--from", saved, "--min-ratio", "0.3", *flags)
    assert result.exit_code == 2 and refused in result.stderr
