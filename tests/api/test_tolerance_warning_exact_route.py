"""A tolerance warning whose runs a budget or a fixed plan stopped offered only more of the
same: under --max-hvps 20 on the bundled example (D = 2,410) "more Lanczos steps (a larger
--max-hvps)", where the exact spectrum takes ~3 s and meets any tolerance (± 0), and the
gate's fix for the same report already named --method exact. The warning now names the
exact spectrum where it can run, with the options it refuses beside it, its D products and
the solver choice's predicted seconds where timed; not past its size or memory."""

from __future__ import annotations

import json
from pathlib import Path

from prunelimit import api
from prunelimit.api.spectrum_notes import tolerance_warning
from prunelimit.api.options import SolverChoice
from prunelimit.errors import library_call
from prunelimit.theory.uncertainty import Uncertainty

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
STEPS_WIDE = Uncertainty(probes=0.001, steps=0.08, data=None, runs=3)  # steps 8 pt against a 1 pt tolerance


def test_a_product_budget_too_small_for_the_exact_spectrum_names_it(cli) -> None:
    result = cli("bounds", EXAMPLE, "--max-hvps", "20", "--threads", "1", "--no-cache", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["spectrum"]["stopped_by"] == "max-hvps"
    (warning,) = [w for w in doc["warnings"] if "not within the tolerance" in w]
    assert warning.endswith("which needs more Lanczos steps (a larger --max-hvps), or the exact spectrum, ± 0 "
                            "(--method exact in place of --max-hvps: D = 2,410 products)")


def test_the_library_is_told_its_own_keywords() -> None:
    with library_call():
        warning = tolerance_warning("slq-h", "max-hvps", 2_410, 0.915, STEPS_WIDE, api.CurvatureOptions(max_hvps=20))
    assert warning.endswith("(method='exact' in place of max_hvps=: D = 2,410 products)")


def test_a_timed_prediction_is_stated_and_a_fixed_plans_options_are_named() -> None:
    timed = SolverChoice("slq-h", True, 32, 3, "adaptive", predicted_exact_seconds=2.34)
    clocked = tolerance_warning("slq-h", "time-budget", 2_410, 0.915, STEPS_WIDE,
                                api.CurvatureOptions(time_budget=2.0), choice=timed)
    assert clocked.endswith("(--method exact in place of --time-budget: D = 2,410 products, predicted ≈ 2.34 s)")
    fixed = tolerance_warning("slq-h", None, 2_410, 0.915, STEPS_WIDE, api.CurvatureOptions(iterations=20, runs=2))
    assert fixed.endswith("(--method exact in place of --iterations, --runs: D = 2,410 products)")


def test_no_exact_route_where_it_cannot_run_or_nothing_budgeted_stopped_the_runs() -> None:
    big = tolerance_warning("slq-h", "max-hvps", 20_000, 0.915, STEPS_WIDE, api.CurvatureOptions(max_hvps=200))
    small_memory = tolerance_warning("slq-h", "max-hvps", 2_410, 0.915, STEPS_WIDE,
                                     api.CurvatureOptions(max_hvps=200, basis_memory_mb=1))
    # bases that filled half the available memory say nothing of whether the dense Hessian fits it
    filled = tolerance_warning("slq-h", "memory", 2_410, 0.915, STEPS_WIDE, api.CurvatureOptions())
    refined = tolerance_warning("slq-h", "tolerance", 2_410, 0.915, STEPS_WIDE, api.CurvatureOptions())
    for warning in (big, small_memory, filled, refined):
        assert "exact spectrum" not in warning


def test_a_data_part_names_the_runs_own_count_and_the_exact_spectrum_over_every_sample() -> None:
    """--method slq --hessian-samples 200 on the bundled example: the data part took the ± over
    1 pt after the runs met it; the remedy said only "(--hessian-samples)", no count, and
    nothing of the exact spectrum, which holds every sample (the count is named to drop:
    --method exact refuses one below the data's size)."""
    u = Uncertainty(probes=0.0008, steps=0.0045, data=0.02, runs=3, data_parts=4)
    options = api.CurvatureOptions(method="slq", hessian_samples=200)
    warning = tolerance_warning("slq-h", "tolerance", 2_410, 0.913, u, options)
    assert warning.endswith("which needs more curvature samples (a larger --hessian-samples than 200, or "
                            "--hessian-samples all), or the exact spectrum, ± 0 (--method exact in place of "
                            "--hessian-samples: D = 2,410 products)")
    budget = tolerance_warning("slq-h", "max-hvps", 2_410, 0.913, STEPS_WIDE, api.CurvatureOptions(
        max_hvps=300, hessian_samples=100))
    assert budget.endswith("(--method exact in place of --max-hvps, --hessian-samples: D = 2,410 products)")
