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
    spectrum = {key: value for key, value in doc["bounds"]["timing"].items() if key != "search"}
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
