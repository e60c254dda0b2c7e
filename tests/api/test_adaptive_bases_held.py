"""The ``memory:`` line (JSON ``memory.basis_kind``/``basis_mb``) of adaptive SLQ states the
bases it holds at once: every run keeps its basis to be extended, so the most is the largest
stage's runs × steps. Before, it stated one lockstep group's, as for a fixed plan: on the
bundled example 0.7 MB ("Lanczos basis") where its 6 runs of 80 steps held 4.4 MB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"


def test_adaptive_slq_states_every_runs_basis(cli) -> None:
    """The bundled example ends with 6 runs of 80 steps (no focus, no run carried to D)."""
    result = cli("bounds", EXAMPLE, "--method", "slq", "--json", "--no-cache")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    trail, dim = doc["spectrum"]["trail"], doc["params"]["hessian"]
    largest = max(trail, key=lambda stage: stage["runs"] * stage["iterations"])
    assert largest["runs"] > 1  # the case this is about: more runs than one lockstep group (1, cached)
    assert doc["memory"]["hvp_engine"] == "cached"
    assert doc["memory"]["basis_kind"] == f"{largest['runs']} Lanczos bases (every run's, kept to extend it), float32"
    # float32 rows of D values; the MiB conversion is exact arithmetic up to float rounding
    assert doc["memory"]["basis_mb"] == pytest.approx(largest["runs"] * largest["iterations"] * dim * 4 / 2**20,
                                                      rel=1e-12)
