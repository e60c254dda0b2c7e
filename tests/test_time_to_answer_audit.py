"""Time-to-answer options as a user meets them: every result states ρ* ± its uncertainty
(console and JSON alike), the precision options refuse what they cannot honour, the
curvature subset is checked and stated, and the cache keys on every setting.

Tiny inputs throughout: the conftest's 910-parameter MLP on 300 digits, small budgets.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from prunelimit import api
from prunelimit.errors import OptionError
from prunelimit.gate_rules import GateRule, evaluate_gate
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from prunelimit.report.rounding import half_width_text

SMALL = ("--max-samples", "300", "--no-cache")


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _refused(result, *phrases: str) -> str:
    """Exit 2, one or two lines on stderr holding ``phrases``, nothing on stdout, no traceback."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    for phrase in phrases:
        assert phrase in result.stderr
    return result.stderr


@pytest.fixture
def regression(tmp_path):
    """A 1-output MLP and float targets (no classes): ``(checkpoint, data spec)``."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    np.savez(tmp_path / "reg.npz", x=x, y=x[:, :2].sum(axis=1, keepdims=True))
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "reg.pt", "mlp:8,16,1", build_model("mlp:8,16,1").state_dict(), meta={})
    return tmp_path / "reg.pt", f"tensors:{tmp_path / 'reg.npz'}"


# --- ρ* ± its uncertainty, stated the same way everywhere -----------------------------------

def test_exact_spectrum_states_no_sampling_error_in_both_outputs(cli, own_ckpt) -> None:
    u = _json(cli("spectrum", own_ckpt, "--method", "exact", "--json", *SMALL))["prediction"]["uncertainty"]
    assert (u["probes_kind"], u["steps_kind"], u["plus_minus"]) == ("exact", "exact", 0.0)
    console = cli("spectrum", own_ckpt, "--method", "exact", *SMALL)
    assert "no sampling error" in console.stdout and "unknown" not in console.stdout


def test_negative_flat_states_its_truncation_part(cli, own_ckpt) -> None:
    """Without the λ²-bracket the runs' Gauss rules bound ``flat``'s non-increasing terms
    (docs/methods.md), instead of leaving the ± to the probes alone."""
    u = _json(cli("bounds", own_ckpt, "--method", "slq", "--negative", "flat", "--max-hvps", "100", "--json",
                  *SMALL))["prediction"]["uncertainty"]
    assert u["steps_kind"] == "bracket" and u["steps"] is not None
    assert u["plus_minus"] >= u["steps"] > 0


def test_slq_runs_that_span_a_small_model_state_its_exact_spectrum(cli, tmp_path) -> None:
    """D = 13, below the first stage's 32 steps: one run spans the space and finds every
    eigenvalue, so ρ*, the trace and the ± are the exact spectrum's (the runs' jackknife
    stood in for the probes' noise before, and the trace took 5 noisy top-up probes), for
    the 13 products of that run (3 × 13 before: the other runs repeated it).
    ρ* within 1e-5 of ``--method exact``: SLQ's products are float32, the exact ones float64."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    np.savez(tmp_path / "r.npz", x=x, y=(x[:, :1] - 2 * x[:, 1:]) ** 2)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "r.pt", "mlp:2,3,1", build_model("mlp:2,3,1").state_dict(), meta={})
    args = (tmp_path / "r.pt", "--data", f"tensors:{tmp_path / 'r.npz'}", "--loss", "mse", "--json", "--no-cache")
    slq, exact = (_json(cli("bounds", *args, "--method", method)) for method in ("slq", "exact"))
    u = slq["prediction"]["uncertainty"]
    assert (u["probes_kind"], u["steps_kind"], u["plus_minus"]) == ("exact", "exact", 0.0)
    assert slq["prediction"]["ratio"] == pytest.approx(exact["prediction"]["ratio"], abs=1e-5)
    assert slq["spectrum"]["trace_stderr"] == 0.0 and slq["spectrum"]["trace_plus_minus"] == 0.0
    assert exact["spectrum"]["trace_stderr"] == 0.0 and exact["spectrum"]["trace_plus_minus"] == 0.0
    assert slq["spectrum"]["trace"] == pytest.approx(exact["spectrum"]["trace"], rel=1e-5)
    # and 2 measuring the float32 products against float64 ones (timing.stages.data_passes)
    assert slq["spectrum"]["stopped_by"] == "converged" and slq["timing"]["hvps"] == 13 + 2


def test_method_exact_over_the_dense_limit_is_refused_before_any_work(cli, tmp_path) -> None:
    """D = 22,510 > 16,384 (a dense float64 Hessian over 2 GiB): the one place that picks
    the solver refuses, so nothing is built or spent first; one line, exit 2, no output."""
    from prunelimit.api.options import CurvatureOptions, choose_solver
    from prunelimit.errors import UsageError

    with pytest.raises(UsageError, match="exceeds the limit of 16,384"):
        choose_solver(CurvatureOptions(method="exact"), 16_385)
    # its 4 GiB peak (the Hessian and the eigenvalue solver's copy) within a given host memory:
    # the default, half the available memory, would make the test depend on the machine
    assert choose_solver(CurvatureOptions(method="exact"), 16_384, host_bytes=4 * 2**30).solver == "exact"
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "big.pt", "mlp:64,300,10", build_model("mlp:64,300,10").state_dict(),
                    meta={"data": "digits:train"})
    result = cli("bounds", tmp_path / "big.pt", "--method", "exact", "--json", *SMALL)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "prunelimit: error: exact Hessian of dimension 22,510 exceeds the limit of 16,384 (D products, 8·D² bytes); "
        "use SLQ (--method slq, or the default)"]


def _points(text: str) -> str:
    """The ± of the console's ``ρ* = 80 % ± 15 pt`` line, in points, as printed."""
    return re.search(r"ρ\* = [\d.]+ % ± ([\d.]+) pt", text).group(1)


@pytest.mark.parametrize("command", ["gate", "verify"])
def test_gate_and_verify_print_rho_with_its_uncertainty_and_what_stopped_it(cli, own_ckpt, command) -> None:
    """The console states the JSON's ± (to its two significant digits) and the stop reason;
    the second run reads the same spectrum from the cache."""
    args = [command, own_ckpt, "--method", "slq", "--max-hvps", "60", "--max-samples", "300"]
    args += ["--min-ratio", "0.01", "--use", "predicted"] if command == "gate" else []
    doc = _json(cli(*args, "--json"))
    u = (doc["bounds"] if command == "gate" else doc)["prediction"]["uncertainty"]
    console = cli(*args)
    assert console.exit_code == 0, console.stderr
    assert _points(console.stdout) == half_width_text(100 * u["plus_minus"])
    assert float(_points(console.stdout)) == pytest.approx(100 * u["plus_minus"], rel=0.05)
    assert "stopped by --max-hvps" in console.stdout


# --- the precision options: bad values and plans that would ignore them ---------------------

@pytest.mark.parametrize("value", ["1", "5", "1e308"])
def test_tolerance_of_one_or_more_is_refused(cli, own_ckpt, no_curvature, value) -> None:
    _refused(cli("bounds", own_ckpt, "--tolerance", value), "--tolerance", "ratio units", "below 1")


def test_a_tolerance_typed_in_percent_is_told_the_fraction(cli, own_ckpt, no_curvature) -> None:
    """``--tolerance 5`` (five points?) and ``--tolerance 1%`` are refused with the fraction
    they may mean, as ``--min-ratio 80%`` is; before, only "must be below 1" and "Input
    should be a valid number"""
    _refused(cli("bounds", own_ckpt, "--tolerance", "5"), "below 1, got 5.0 (a percentage? 5 % is 0.05)")
    _refused(cli("spectrum", own_ckpt, "--tolerance", "1%"), "got '1%', not a number",
             "tolerances are fractions, not percentages: 1% is 0.01")


def test_library_refuses_a_tolerance_of_one() -> None:
    with pytest.raises(OptionError, match="tolerance"):
        api.CurvatureOptions(tolerance=1.0)


@pytest.mark.parametrize("command", ["bounds", "spectrum", "verify", "gate"])
@pytest.mark.parametrize(
    ("flags", "named", "plan"),
    [
        (["--method", "exact", "--tolerance", "0.05"], "--tolerance", "--method exact"),
        (["--method", "exact", "--max-hvps", "100"], "--max-hvps", "--method exact"),
        (["--method", "exact", "--time-budget", "5"], "--time-budget", "--method exact"),
        (["--method", "exact", "--hessian-samples", "100"], "--hessian-samples", "--method exact"),
        (["--method", "exact", "--iterations", "5"], "--iterations", "--method exact"),
        (["--runs", "2", "--time-budget", "5"], "--time-budget", "--iterations/--runs"),
        (["--iterations", "5", "--max-hvps", "50"], "--max-hvps", "--iterations/--runs"),
        (["--method", "paper", "--time-budget", "5"], "--time-budget", "--method paper"),
    ],
)
def test_a_plan_that_would_ignore_an_option_refuses_it(cli, own_ckpt, no_curvature, command, flags, named,
                                                       plan) -> None:
    extra = ["--min-ratio", "0.5"] if command == "gate" else []
    message = _refused(cli(command, own_ckpt, *flags, *extra), named, "has no effect", plan)
    assert message.startswith("prunelimit: error:")


def test_a_config_key_that_does_not_apply_to_the_plan_is_left_unused(cli, own_ckpt, tmp_path) -> None:
    """A --config file is shared by commands and plans: its budgets beside --method exact
    are not an error (typed on the command line they are)."""
    config = tmp_path / "precision.yaml"
    config.write_text("tolerance: 0.05\nmax_hvps: 40\n")
    doc = _json(cli("bounds", own_ckpt, "--config", config, "--method", "exact", "--json"))
    assert doc["spectrum"]["choice"]["solver"] == "exact"


def test_a_fixed_plan_keeps_its_tolerance_for_the_warning(cli, own_ckpt) -> None:
    """--tolerance beside --iterations/--runs sets the threshold of the tolerance warning."""
    loose = _json(cli("bounds", own_ckpt, "--runs", "2", "--iterations", "10", "--tolerance", "0.9", "--json",
                      *SMALL))
    assert not any("not within the tolerance" in w for w in loose["warnings"])


def test_a_fixed_plan_names_its_own_remedy(cli, own_ckpt) -> None:
    """A fixed plan grows by --iterations/--runs (the budgets would be refused beside them)."""
    doc = _json(cli("bounds", own_ckpt, "--runs", "2", "--iterations", "10", "--json", *SMALL))
    warning = next(w for w in doc["warnings"] if "not within the tolerance" in w)
    assert "--iterations" in warning and "--max-hvps" not in warning
    assert doc["spectrum"]["stopped_by"] is None


def test_time_budget_also_caps_the_exact_choice(cli, own_ckpt, monkeypatch) -> None:
    """A column priced at 10 ms puts D = 910 columns at 9.1 s: within the default's 60 s, not
    within --time-budget 5 (the exact solver cannot stop early), which then runs SLQ."""
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 0.01)
    free = _json(cli("spectrum", own_ckpt, "--json", *SMALL))["spectrum"]["choice"]
    assert free["solver"] == "exact"
    capped = _json(cli("spectrum", own_ckpt, "--time-budget", "5", "--max-hvps", "1000", "--json",
                       *SMALL))["spectrum"]["choice"]
    assert capped["solver"] == "slq-h" and "--time-budget" in capped["reason"]


def test_exact_columns_slower_than_timed_are_left_for_slq(cli, own_ckpt, monkeypatch) -> None:
    """The timed products say 1 µs a column (exact chosen); the columns then take 10 s
    each on the watch's clock: the default leaves them for adaptive SLQ, says so, and counts
    the columns it spent."""
    import itertools

    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1e-6)
    monkeypatch.setattr(curvature, "_clock", lambda device: itertools.count(0.0, 10.0).__next__)
    doc = _json(cli("spectrum", own_ckpt, "--tolerance", "0.5", "--json", *SMALL))
    choice = doc["spectrum"]["choice"]
    assert choice["solver"] == "slq-h" and "on course to run over its time budget" in choice["reason"]
    left = next(w for w in doc["warnings"] if "the exact spectrum was left after" in w)
    assert "of 910 columns" in left and "adaptive SLQ instead" in left
    assert doc["prediction"]["uncertainty"]["probes_kind"] in ("jackknife", "bound")  # SLQ's ±, not the exact 0


def test_max_hvps_below_d_caps_the_exact_choice(cli, own_ckpt, monkeypatch) -> None:
    """The exact spectrum takes D = 910 products and its timing 8: a --max-hvps below 918
    rules it out (910 was once taken, spending 914), at or above leaves the choice to the
    time budget, and the products reported are within it."""
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1e-6)
    capped = _json(cli("spectrum", own_ckpt, "--max-hvps", "917", "--tolerance", "0.5", "--json", *SMALL))
    assert capped["spectrum"]["choice"]["solver"] == "slq-h" and "--max-hvps 917" in capped["spectrum"]["choice"]["reason"]
    assert capped["timing"]["hvps"] <= 917 + 7  # the Lanczos products, and the trace's top-up probes
    enough = _json(cli("spectrum", own_ckpt, "--max-hvps", "918", "--json", *SMALL))
    assert enough["spectrum"]["choice"]["solver"] == "exact" and enough["timing"]["hvps"] <= 918


def test_a_given_max_hvps_counts_the_timing_and_the_columns_left_for_slq(cli, own_ckpt, monkeypatch) -> None:
    """Exact is chosen within --max-hvps 1000 (910 columns + 8 timed): its prediction, 85 s
    of eigenvalues, lies within 1.5× the 60 s budget, a tie that goes to the exact spectrum.
    The columns then take 2⁻⁷ s each on the watch's clock, so
    910 of them and the eigenvalues would take 92.1 s, over 1.5× the budget: judged once 3 s
    (5 % of it) are spent, at 384 columns, they are left for SLQ. The Lanczos runs get what
    the timing and the columns left of the 1,000, not 1,000 more (the trace's top-up probes,
    at most 7, come on top). The timed product is priced, not taken, here: the columns are
    the products spent before SLQ."""
    import itertools

    from prunelimit.api import curvature
    from prunelimit.curvature import exact

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1e-6)
    monkeypatch.setattr(exact, "eigenvalue_seconds", lambda dim: 85.0)
    monkeypatch.setattr(curvature, "_clock", lambda device: itertools.count(0.0, 2.0**-7).__next__)
    doc = _json(cli("spectrum", own_ckpt, "--max-hvps", "1000", "--tolerance", "0.001", "--json", *SMALL))
    assert "on course to run over its time budget" in doc["spectrum"]["choice"]["reason"]
    assert "left after 384 of 910 columns" in " ".join(doc["warnings"])
    assert doc["spectrum"]["stopped_by"] == "max-hvps"
    assert doc["spectrum"]["trail"][-1]["hvps"] <= 1000 - 384
    assert doc["timing"]["hvps"] <= 1000 + 7


def test_the_trace_top_up_stops_at_the_time_budget(cli, own_ckpt, monkeypatch) -> None:
    """The trace's top-up probes (8 less SLQ's runs) are products of the spectrum too: once
    --time-budget has stopped the Lanczos runs they stop after the first. The spectrum's
    clock (``distributed.agreed_clock``, what the budget counts) gains 1,000 s a reading
    here, so the budget stops the runs in their first stage."""
    import itertools
    import time
    import types

    from prunelimit import distributed

    clock = types.SimpleNamespace(perf_counter=itertools.count(0.0, 1000.0).__next__, process_time=time.process_time)
    monkeypatch.setattr(distributed, "time", clock)
    doc = _json(cli("spectrum", own_ckpt, "--method", "slq", "--time-budget", "5", "--json", *SMALL))
    lanczos = doc["spectrum"]["trail"][-1]["hvps"]
    assert doc["spectrum"]["stopped_by"] == "time-budget"
    # top-ups were due; 2 more measured the float32 products against float64 ones before the runs
    assert doc["spectrum"]["runs"] < 8 and doc["timing"]["hvps"] == lanczos + 1 + 2


def test_a_float64_model_is_timed_once_for_the_exact_choice() -> None:
    """A float64 model's own products are the exact solver's: the default times them once
    (4 products, a warm-up and the 3 timed) and forms the columns with the same operator,
    rather than building a float64 copy and timing it again (D + 8). D = 310 columns at any
    plausible speed fit the 60 s budget."""
    import prunelimit
    from prunelimit.data.spec import load_dataset

    data = load_dataset("digits:train", max_samples=200)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10)).double()
    found = prunelimit.spectrum(model, (data.x.double(), data.y))
    assert (found.solver, found.params_hessian, found.hvps) == ("exact", 310, 314)


# --- the curvature subset ----------------------------------------------------------------------

def test_too_few_hessian_samples_for_k_parts_is_refused(cli, own_ckpt) -> None:
    """Each of the 4 parts must hold every one of the ten digit classes: 39 samples cannot
    (20 were enough for two halves), 40 can."""
    for samples in ("39", "20"):
        _refused(cli("bounds", own_ckpt, "--method", "slq", "--max-hvps", "30", "--hessian-samples", samples,
                     *SMALL), f"--hessian-samples {samples}", "10 classes", "at least 40 (4 a class)")
    doc = _json(cli("bounds", own_ckpt, "--method", "slq", "--max-hvps", "30", "--hessian-samples", "40", "--json",
                    *SMALL))
    assert doc["spectrum"]["hessian_samples"]["used"] == 40
    assert doc["prediction"]["uncertainty"]["data_parts"] == 4
    assert doc["prediction"]["uncertainty"]["data"] is not None


def test_regression_targets_subsample_without_classes(cli, regression) -> None:
    ckpt, data = regression
    common = ("bounds", ckpt, "--data", data, "--loss", "mse", "--batch-size", "32", "--method", "slq",
              "--max-hvps", "30", "--no-cache")
    for few in ("1", "3"):
        _refused(cli(*common, "--hessian-samples", few), f"--hessian-samples {few}", "4 parts", "at least 4")
    doc = _json(cli(*common, "--hessian-samples", "4", "--json"))
    samples = doc["spectrum"]["hessian_samples"]
    assert (samples["used"], samples["total"], len(samples["part_ratios"])) == (4, 200, 4)
    assert doc["prediction"]["uncertainty"]["data"] >= 0


def test_more_hessian_samples_than_data_use_all(cli, own_ckpt) -> None:
    doc = _json(cli("bounds", own_ckpt, "--method", "slq", "--max-hvps", "30", "--hessian-samples", "100000",
                    "--json", *SMALL))
    assert doc["spectrum"]["hessian_samples"] == {"used": 300, "total": 300, "part_ratios": None}
    assert doc["prediction"]["uncertainty"]["data"] is None
    assert any("--hessian-samples 100,000 is more than the 300 analysis samples" in w for w in doc["warnings"])


def test_a_count_of_at_least_the_data_beside_the_exact_method_means_all(cli, own_ckpt, tmp_path) -> None:
    """``--method exact --hessian-samples 100000`` on 300 samples: the count means all, as
    under SLQ (above); it was refused as "has no effect" whatever the data's size. A typed
    count below the data's size stays refused, a --config file's is left unused."""
    doc = _json(cli("spectrum", own_ckpt, "--method", "exact", "--hessian-samples", "100000", "--json", *SMALL))
    assert doc["spectrum"]["solver"] == "exact"
    assert not any("--hessian-samples" in w for w in doc["warnings"])
    _refused(cli("spectrum", own_ckpt, "--method", "exact", "--hessian-samples", "299", *SMALL),
             "--hessian-samples 299 has no effect: --method exact computes every eigenvalue from all 300 samples",
             "--method slq")
    config = tmp_path / "ci.yaml"
    config.write_text("hessian_samples: 100\n", encoding="utf-8")
    doc = _json(cli("spectrum", own_ckpt, "--config", config, "--method", "exact", "--json", *SMALL))
    assert doc["spectrum"]["solver"] == "exact"


def test_hessian_samples_the_exact_spectrum_does_not_use_are_reported(cli, own_ckpt, monkeypatch) -> None:
    from prunelimit.api import curvature

    monkeypatch.setattr(curvature, "_seconds_per_column", lambda op: 1e-6)  # the default then takes exact
    doc = _json(cli("spectrum", own_ckpt, "--hessian-samples", "100", "--json", *SMALL))
    assert doc["spectrum"]["solver"] == "exact"
    assert any("--hessian-samples 100 not used" in w for w in doc["warnings"])


def test_a_spectrum_without_rho_says_why_and_keeps_the_budget(cli, own_ckpt) -> None:
    """One batch gives no ε, hence no ρ* to aim at: the fixed plan then stays within --max-hvps."""
    doc = _json(cli("spectrum", own_ckpt, "--method", "slq", "--max-hvps", "40", "--batch-size", "5000", "--json",
                    *SMALL))
    assert doc["prediction"] is None
    assert any(w.startswith("no ρ*") for w in doc["warnings"])
    assert doc["spectrum"]["runs"] * doc["spectrum"]["iterations"] <= 40


def test_a_spectrum_without_rho_keeps_the_time_budget(cli, own_ckpt, monkeypatch) -> None:
    """With no ρ* to aim at, the fixed plan that stands in for adaptive SLQ stops at
    --time-budget too, and says so. Before, it ran all 8 × 200 products whatever the budget,
    with no stop named. The spectrum's clock gains 1,000 s a reading here."""
    import itertools
    import time
    import types

    from prunelimit import distributed

    clock = types.SimpleNamespace(perf_counter=itertools.count(0.0, 1000.0).__next__, process_time=time.process_time)
    monkeypatch.setattr(distributed, "time", clock)
    doc = _json(cli("spectrum", own_ckpt, "--method", "slq", "--time-budget", "5", "--batch-size", "5000", "--json",
                    *SMALL))
    assert doc["prediction"] is None and doc["spectrum"]["stopped_by"] == "time-budget"
    assert doc["spectrum"]["runs"] * doc["spectrum"]["iterations"] == 1 and doc["timing"]["hvps"] == 2


# --- the gate's conservative side -------------------------------------------------------------

def _report(uncertainty) -> dict:
    return {"bounds": {"lower": 0.8}, "prediction": {"ratio": 0.9, "uncertainty": uncertainty}}


@pytest.mark.parametrize(
    "uncertainty",
    [None, {"plus_minus": 0.01, "steps": None, "steps_kind": "none"}, {"plus_minus": float("nan")}],
)
def test_gate_fails_when_no_conservative_side_is_known(uncertainty) -> None:
    result = evaluate_gate(_report(uncertainty), [GateRule("ρ* ≥ 0.5", use="predicted", min_ratio=0.5)])
    assert not result.passed and "no complete stated ±" in result.reason


def test_gate_with_a_zero_uncertainty_compares_the_value_itself() -> None:
    exact = {"plus_minus": 0.0, "steps": 0.0, "steps_kind": "exact", "probes_kind": "exact"}
    assert evaluate_gate(_report(exact), [GateRule("ρ_L ≥ 0.8", min_ratio=0.8)]).passed
    assert not evaluate_gate(_report(exact), [GateRule("ρ_L ≥ 0.81", min_ratio=0.81)]).passed


# --- the cache -------------------------------------------------------------------------------

def test_the_cache_keys_on_every_precision_setting(cli, own_ckpt) -> None:
    base = ("bounds", own_ckpt, "--method", "slq", "--max-samples", "300", "--json")

    def cached(*flags: str) -> bool:
        return _json(cli(*base, *flags))["timing"]["cached"]

    assert not cached("--max-hvps", "40")
    assert cached("--max-hvps", "40")
    # a tighter tolerance than the stored ± (cut by the budget): a looser one that it meets reads it
    # (tests/cache/test_cache_adaptive_reuse.py)
    for other in (("--max-hvps", "50"), ("--max-hvps", "40", "--tolerance", "0.005"),
                  ("--max-hvps", "40", "--time-budget", "100"), ("--max-hvps", "40", "--hessian-samples", "200")):
        assert not cached(*other), other


def test_adaptive_flat_run_warns_once_with_its_own_remedy(cli, own_ckpt) -> None:
    """--negative flat has no bracket: the m/2-vs-m change is the steps part of the ±; an
    adaptive run out of budget says so once, asking for budget, never for --iterations
    (which would fix the plan)."""
    doc = _json(cli("bounds", own_ckpt, "--method", "slq", "--negative", "flat", "--max-hvps", "60", "--json",
                    *SMALL))
    assert doc["spectrum"]["stopped_by"] == "max-hvps"
    assert [w for w in doc["warnings"] if "not within the tolerance" in w]
    assert not [w for w in doc["warnings"] if "use --iterations" in w]


@pytest.mark.parametrize(("dim", "remedy"), [(978, "--method exact"), (50_000, "--runs K --iterations 50000")])
def test_runs_that_converged_point_past_the_budget(dim, remedy) -> None:
    """Every step taken (m = D): only probe noise is left; the remedy is the exact spectrum
    where it fits, else more probes of D steps, never a larger --max-hvps (adaptive SLQ
    spends a focused run's budget on steps)."""
    from types import SimpleNamespace

    from prunelimit.api.limit import _bounds_warnings
    from prunelimit.theory.uncertainty import Uncertainty

    spec = SimpleNamespace(notes=(), solver="slq-h", stopped_by="converged", params_hessian=dim, iterations=dim,
                           lambda_max=1.0, lambda_min=0.0, negative_mass=0.0, loss=0.5, choice=None)
    u = Uncertainty(probes=0.03, steps=0.0, data=None, runs=1, probes_kind="bound")
    (warning,) = _bounds_warnings(spec, None, 0.6, 1.0, None, 0.1, api.CurvatureOptions(), None, u)
    assert "end of its Krylov space" in warning and remedy in warning and "--max-hvps" not in warning


def test_library_warnings_reach_the_cli_as_one_line(cli, own_ckpt) -> None:
    """A warning of prunelimit's own code (here: the kept graphs over a tiny budget) is one
    ``prunelimit: warning:`` line, without Python's file:line prefix and source line."""
    result = cli("spectrum", own_ckpt, "--method", "slq", "--hvp", "cached", "--memory-budget", "0.01",
                 "--max-hvps", "20", "--json", *SMALL)
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "cached HVP graphs" in line]
    assert len(lines) == 1 and lines[0].startswith("prunelimit: warning: cached HVP graphs need about")
    assert "UserWarning" not in result.stderr and ".py:" not in result.stderr


# --- one analysis batch: no ε ------------------------------------------------------------------

def test_one_batch_leaves_rho_undefined_before_any_curvature_work(cli, regression, monkeypatch) -> None:
    """ε comes from the spread of per-batch losses: with one batch `bounds` says so at once
    (no spectrum computed first), and `spectrum` still answers, a subset included."""
    from prunelimit.api import limit

    ckpt, data = regression
    common = (ckpt, "--data", data, "--loss", "mse", "--batch-size", "200", "--no-cache")

    def no_spectrum(*args, **kwargs):
        raise AssertionError("the spectrum was computed before the inputs were checked")

    with monkeypatch.context() as patch:
        patch.setattr(limit, "stored_spectrum", no_spectrum)
        _refused(cli("bounds", *common), "needs at least 2 analysis batches", "--epsilon")
    doc = _json(cli("spectrum", *common, "--method", "slq", "--max-hvps", "30", "--hessian-samples", "50", "--json"))
    assert doc["prediction"] is None and doc["spectrum"]["hessian_samples"]["used"] == 50
    assert any(w.startswith("no ρ*") for w in doc["warnings"])


def test_spectrum_says_when_its_rho_misses_the_tolerance(cli, own_ckpt) -> None:
    doc = _json(cli("spectrum", own_ckpt, "--method", "slq", "--max-hvps", "30", "--json", *SMALL))
    missed = [w for w in doc["warnings"] if "is not within the tolerance 0.01" in w]
    assert len(missed) == 1 and "--max-hvps 30" in missed[0]
    bounds = _json(cli("bounds", own_ckpt, "--method", "slq", "--max-hvps", "30", "--json", *SMALL))
    assert sum("is not within the tolerance" in w for w in bounds["warnings"]) == 1  # its own, not the spectrum's too


def test_exact_columns_left_at_the_deadline_say_where_on_the_budget_they_stood(monkeypatch) -> None:
    """The time budget's clock counts from the command's start (loading included), so the
    watch that leaves the exact columns at a deadline names its reading as a point of the
    budget, not "into the spectrum" (10 s of it were spent before the columns here), and
    shows the predicted end apart from the budget it runs past: 40.04 s read "≈ 40.0 s,
    past --time-budget 40 s"."""
    from types import SimpleNamespace

    from prunelimit.api import curvature
    from prunelimit.api.options import CurvatureOptions

    monkeypatch.setattr(curvature, "_clock", lambda device: lambda: 0.0)  # the fastest-block watch stays quiet
    readings = iter([10.0, 25.02])  # the budget's clock: when the watch began, then after 50 of 100 columns
    check = curvature._exact_watch(CurvatureOptions(time_budget=40.0), SimpleNamespace(device="cpu"), 100, 0.0,
                                   lambda: next(readings))
    with pytest.raises(curvature._ExactTooSlow) as left:
        check(50)  # 15.02 s for 50 columns: the other 50 end at 40.04 s
    message = str(left.value)
    assert "into the spectrum" not in message
    assert "(25.0 s into --time-budget 40 s)" in message and "≈ 40.04 s, past it" in message
