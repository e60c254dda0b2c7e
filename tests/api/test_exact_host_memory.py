"""The exact spectrum's host memory in the solver choice: its peak is the dense float64
Hessian and the eigenvalue solver's copy (16·D² bytes), set against the host memory the
solver may hold (``--basis-memory``; default half the available). The default takes SLQ
where it does not fit and says so; ``--method exact`` is refused before any work, naming
the option. Before, the rule was the dense matrix alone against a fixed 2 GiB (4 GiB held
at D = 16,384, whatever the machine had), and ``--method exact --basis-memory`` was refused
as having no effect."""

from __future__ import annotations

import pytest

from prunelimit import api
from prunelimit.api.options import choose_solver
from prunelimit.curvature.exact import exact_host_bytes
from prunelimit.errors import UsageError

DIM = 2_000
FAST = 1e-6  # seconds a column: the time budget never decides here


def test_the_exact_spectrum_needs_the_hessian_and_the_solvers_copy() -> None:
    assert exact_host_bytes(DIM) == 2 * 8 * DIM * DIM  # exact integer arithmetic: no tolerance


def test_the_default_takes_the_exact_spectrum_only_where_its_peak_fits_and_says_why_not() -> None:
    need = exact_host_bytes(DIM)
    assert choose_solver(api.CurvatureOptions(), DIM, FAST, host_bytes=need).solver == "exact"
    assert choose_solver(api.CurvatureOptions(), DIM, FAST, host_bytes=need - 1).solver == "slq-h"
    choice = choose_solver(api.CurvatureOptions(), DIM, FAST, host_bytes=need // 2)
    assert choice.solver == "slq-h" and choice.adaptive
    assert "would hold 64.0 MB of host memory" in choice.reason
    assert "more than the 32.0 MB the solver may hold (--basis-memory)" in choice.reason


def test_basis_memory_steers_the_default_away_from_the_exact_spectrum() -> None:
    small = api.CurvatureOptions(basis_memory_mb=exact_host_bytes(DIM) / 2**20 / 2)
    assert choose_solver(small, DIM, FAST).solver == "slq-h"
    assert choose_solver(api.CurvatureOptions(basis_memory_mb=exact_host_bytes(DIM) / 2**20), DIM, FAST).solver \
        == "exact"


def test_method_exact_over_the_basis_memory_is_refused_naming_it() -> None:
    with pytest.raises(UsageError, match=r"needs 64\.0 MB of host memory .* larger basis_memory_mb"):
        choose_solver(api.CurvatureOptions(method="exact", basis_memory_mb=10), DIM)


@pytest.mark.parametrize("command", ["bounds", "spectrum", "verify", "gate", "prune"])
def test_every_command_refuses_method_exact_over_the_basis_memory(cli, own_ckpt, tmp_path, command) -> None:
    """The conftest's 910-parameter MLP holds 13.2 MB at its peak: ``--basis-memory 5`` is too
    little. Exit 2, one line naming the option and the fix, nothing written."""
    extra = {"gate": ["--min-ratio", "0.5"], "prune": ["-o", tmp_path / "pruned.pt"]}.get(command, [])
    result = cli(command, own_ckpt, "--method", "exact", "--basis-memory", "5", "--max-samples", "300",
                 "--no-cache", *extra)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "prunelimit: error: --method exact at D = 910 needs 13.2 MB of host memory (the dense float64 Hessian and "
        "the eigenvalue solver's copy, 16·D² bytes), more than the 5.2 MB the solver may hold; use a larger "
        "--basis-memory, free host memory, or SLQ (the default, or --method slq)"]
    assert not (tmp_path / "pruned.pt").exists()


def test_method_exact_within_a_given_basis_memory_runs(cli, own_ckpt) -> None:
    result = cli("bounds", own_ckpt, "--method", "exact", "--basis-memory", "14", "--max-samples", "300",
                 "--no-cache", "--json")
    assert result.exit_code == 0, result.stderr
