"""Correctness defects from the code review: invalid options, consistent pipelines per
method and scope, announced fallbacks, library-worded errors, shared verify passes."""

from __future__ import annotations

import pytest

from prunelimit import api
from prunelimit.errors import OptionError, UsageError
from prunelimit.pruning.finetune import FinetuneConfig

EXAMPLE = "examples/digits-mlp.pt"

# --------------------------------------------------------------------------- option checks

BAD_CURVATURE = [
    ("method", "Exact"), ("method", None), ("iterations", 0), ("iterations", 2.5), ("runs", -1),
    ("epsilon", 0.0), ("epsilon", float("nan")), ("epsilon", float("inf")), ("epsilon", 1e308),
    ("eta", 1.0), ("eta", 0.0), ("bound_mode", "AKF"), ("negative", "clip"), ("hvp", "fast"),
    ("seed", -1), ("seed", 10**23), ("seed", 1.5), ("seed", True), ("basis_dtype", "int8"),
    ("memory_budget_mb", -5.0), ("memory_budget_mb", float("nan")),
]


@pytest.mark.parametrize("field,value", BAD_CURVATURE, ids=[f"{f}={v!r}" for f, v in BAD_CURVATURE])
def test_curvature_options_refuse_invalid_values(field, value):
    with pytest.raises(ValueError, match=field) as info:
        api.CurvatureOptions(**{field: value})
    assert isinstance(info.value, OptionError) and info.value.option == field
    assert info.value.exit_code == 2


def test_curvature_options_accept_every_documented_value():
    for method in ("default", "paper", "exact"):
        for bound_mode in ("akf", "geom", "none"):
            for negative in ("abs", "flat"):
                api.CurvatureOptions(method=method, bound_mode=bound_mode, negative=negative)
    api.CurvatureOptions(iterations=1, runs=1, epsilon=1e-4, eta=0.5, hvp="revrev", seed=2**62,
                         basis_dtype="bfloat16", memory_budget_mb=0.5)


def test_usage_errors_are_value_errors():
    assert issubclass(UsageError, ValueError)


@pytest.mark.parametrize("field,value", [("lr", 0.0), ("epochs", -1), ("schedule", "zigzag"), ("batch_size", 0)])
def test_finetune_config_refuses_invalid_values(field, value):
    with pytest.raises(ValueError, match=field):
        FinetuneConfig(**{field: value})


@pytest.mark.parametrize("args,flag", [
    (("--method", "Exact"), "--method"),
    (("--negative", "clip"), "--negative"),
    (("--bound-mode", "AKF"), "--bound-mode"),
    (("--seed", "-1"), "--seed"),
    (("--memory-budget", "nan"), "--memory-budget"),
    (("--basis-dtype", "int8"), "--basis-dtype"),
])
def test_cli_names_the_flag_of_an_invalid_option(cli, args, flag):
    result = cli("bounds", EXAMPLE, *args)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    # a library check names the flag first (one line); a choice the parser refuses adds a `--help` pointer
    named = (f"prunelimit: error: {flag} ", f"prunelimit: error: Invalid value for '{flag}'")
    assert lines[0].startswith(named) and len(lines) <= 2, lines


def test_cli_names_the_finetune_flags(cli, tmp_path):
    result = cli("prune", EXAMPLE, "--ratio", "0.5", "--finetune-epochs", "1", "--finetune-lr", "-1",
                 "-o", tmp_path / "p.pt")
    assert result.exit_code == 2 and "--finetune-lr" in result.stderr, result.stderr
    assert not (tmp_path / "p.pt").exists()


# --------------------------------------------------------------------------- one pipeline per method


def _bounds_json(cli, checkpoint, *args) -> dict:
    import json

    result = cli("bounds", checkpoint, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_paper_method_reports_its_own_bounds_on_its_grid(cli):
    doc = _bounds_json(cli, EXAMPLE, "--method", "paper", "--iterations", "40")
    p, b = doc["prediction"], doc["bounds"]
    assert b["lower"] <= p["ratio"] <= b["upper"]
    for value in (p["ratio"], b["lower"], b["upper"]):  # the reference grid i/1000
        assert value * 1000 == pytest.approx(round(value * 1000), abs=1e-9)


def test_negative_flat_moves_paper_ratio_and_bounds_consistently(cli, own_ckpt):
    """An untrained net: about half the spectrum's |λ| mass is negative. Counting it flat
    raises F, so ρ* and both bounds move up together (the reference arithmetic for all three)."""
    common = ("--method", "paper", "--iterations", "40", "--max-samples", "300")
    absolute = _bounds_json(cli, own_ckpt, *common)
    flat = _bounds_json(cli, own_ckpt, *common, "--negative", "flat")
    assert absolute["spectrum"]["negative_mass"] > 0.2
    assert flat["prediction"]["ratio"] > absolute["prediction"]["ratio"]
    assert flat["bounds"]["lower"] > absolute["bounds"]["lower"]
    assert flat["bounds"]["upper"] >= absolute["bounds"]["upper"]
    for doc in (absolute, flat):
        assert doc["bounds"]["lower"] <= doc["prediction"]["ratio"] <= doc["bounds"]["upper"]


# --------------------------------------------------------------------------- the pruning path of --scope


def test_verify_scope_layer_predicts_for_the_layer_wise_path(cli, own_ckpt):
    import json

    import torch

    from prunelimit.models.load import load_model
    from prunelimit.models.params import prunable_parameters
    from prunelimit.theory.profile import LayerwiseProfile

    result = cli("verify", own_ckpt, "--scope", "layer", "--max-samples", "300", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    p = doc["prediction"]
    assert p["scope"] == "layer"
    model = load_model(own_ckpt, None, device=torch.device("cpu")).model
    profile = LayerwiseProfile.from_tensors([w for _, w in prunable_parameters(model)])
    # R(ρ*) is the layer-wise path's distance at ρ* (float64 arithmetic on the same weights)
    assert p["radius"] == pytest.approx(profile.radius_continuous(p["ratio"]), rel=1e-9)
    assert doc["bounds"]["lower"] <= p["ratio"] <= doc["bounds"]["upper"]


def test_paper_method_with_layer_scope_is_refused(cli):
    result = cli("verify", EXAMPLE, "--scope", "layer", "--method", "paper")
    assert result.exit_code == 2 and "global pruning path" in result.stderr, result.stderr


def test_prune_from_a_global_report_refuses_layer_scope(cli, tmp_path):
    report = tmp_path / "b.json"
    report.write_text('{"prediction": {"ratio": 0.9}, "bounds": {"lower": 0.85}}')
    result = cli("prune", EXAMPLE, "--from", report, "--scope", "layer", "-o", tmp_path / "p.pt")
    assert result.exit_code == 2 and "--scope global" in result.stderr, result.stderr
    assert not (tmp_path / "p.pt").exists()


# --------------------------------------------------------------------------- library wording


@pytest.mark.parametrize("call", [
    lambda: __import__("prunelimit.theory.statdim", fromlist=["x"]).check_epsilon(-1.0),
    lambda: __import__("prunelimit.theory.epsilon", fromlist=["x"]).epsilon_from_losses([0.3]),
    lambda: __import__("prunelimit.theory.epsilon", fromlist=["x"]).epsilon_from_losses([0.3, 0.3]),
], ids=["check-epsilon", "one-batch", "equal-losses"])
def test_numerical_modules_name_the_parameter_not_a_flag(call):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "epsilon" in message and "--" not in message, message


def test_cli_puts_the_flag_into_library_errors(cli):
    result = cli("bounds", EXAMPLE, "--max-samples", "100")
    assert result.exit_code == 2, result.stderr
    assert "at least 2 analysis batches" in result.stderr and "give --epsilon explicitly" in result.stderr


# --------------------------------------------------------------------------- reference density aliasing


def test_paper_diagnostics_show_kernel_aliasing_on_a_wide_spectrum(cli, tmp_path):
    """Inputs scaled up to 30×: the MSE Hessian's range is hundreds, the kernel std
    (1e-5·√range) far below the grid step (range/99,999), and the warning says so."""
    import json

    import numpy as np
    import torch

    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(256, 8)) * np.geomspace(0.1, 30, 8)).astype(np.float32)
    np.savez(tmp_path / "wide.npz", x=x, y=rng.normal(size=(256, 1)).astype(np.float32))
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "wide.pt", "mlp:8,6,1", build_model("mlp:8,6,1").state_dict())
    args = ("bounds", tmp_path / "wide.pt", "--data", f"tensors:{tmp_path / 'wide.npz'}", "--loss", "mse",
            "--batch-size", "32", "--method", "paper", "--iterations", "40")
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    density = doc["prediction"]["reference_density"]
    assert density["aliased"] and density["kernel_std"] < density["grid_step"] / 10
    assert density["weight_moved"] > 0.1
    assert any("alias onto grid points" in w for w in doc["warnings"])
    shown = cli(*args).stdout
    assert "reference density: kernel std" in shown and "aliased" in shown



def test_refit_without_finetune_epochs_is_refused(cli):
    result = cli("verify", EXAMPLE, "--refit", "--finetune-epochs", "0")
    assert result.exit_code == 2 and "--refit needs --finetune-epochs" in result.stderr, result.stderr
