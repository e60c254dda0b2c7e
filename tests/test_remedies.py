"""The remedies a report names for its ± apply to the run at hand (``prunelimit.remedies``).
Before: a CIFAR ResNet-18's warnings (D = 11,164,362) told it to "run --method exact (float64
columns, D ≤ 16,384)", which refuses that D, and a gate's fix said the same; and none named
that its float32 convolutions had run in TF32 (its ``precision`` recorded ``cudnn_tf32:
true``, torch's default on a GPU), whose off switch is the remedy that applies there."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunelimit
import prunelimit.api as api
import prunelimit.api.curvature as curvature
from prunelimit.api.spectrum_notes import tolerance_warning
from prunelimit.curvature.exact import MAX_DIM
from prunelimit.errors import UsageError, library_call, options_named
from prunelimit.gate_rules import GateRule, evaluate_gate, resolution_notes
from prunelimit.remedies import float64_products, reduced_float32, rounding_remedy
from prunelimit.theory.uncertainty import Uncertainty

from tests.conftest import adam_fit

RESNET18 = 11_164_362  # the CIFAR ResNet-18 of the first GPU run
# its ``precision`` record (bounds --device cuda, torch's defaults): TF32 convolutions
CUDA_TF32 = {"device": "cuda", "default_dtype": "torch.float32", "matmul": "highest", "cuda_matmul_tf32": False,
             "cudnn_tf32": True, "fp32_precision_cuda_matmul": "ieee", "fp32_precision_cudnn_conv": "tf32",
             "fp32_precision_cudnn_rnn": "tf32", "fp32_precision_mkldnn_matmul": "ieee",
             "fp32_precision_mkldnn_conv": "ieee", "fp32_precision_mkldnn_rnn": "ieee", "tf32_override": None}
# the rounding part alone reaches a 1 pt tolerance, as the ResNet-18's 0.32 did
ROUNDING_ALONE = Uncertainty(probes=0.0003, steps=0.004, data=None, runs=1, probes_kind="bound", rounding=0.32)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _interpolating_mlp(hidden: int) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """An 8-``hidden``-3 tanh MLP fitted by Adam near zero loss (2.5e-9 at 1,366 hidden
    units, D = 16,395) on 96 separable samples: ρ* rests on eigenvalues below float32's
    rounding (--method paper states a rounding part of 0.58)."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=g) * 3
    y = torch.arange(96) % 3
    x = centres[y] + torch.randn(96, 8, generator=g)
    torch.manual_seed(0)
    return adam_fit(nn.Sequential(nn.Linear(8, hidden), nn.Tanh(), nn.Linear(hidden, 3)), x, y, 300), (x, y)


def test_a_model_past_the_exact_limit_is_not_told_to_run_the_exact_method(monkeypatch) -> None:
    """D = 16,395, 11 past MAX_DIM: its rounding note and tolerance warning (--method paper's
    1 × 128, rounding part 0.58 against a 0.2 pt tolerance) named method='exact', which
    refuses that D; now they name the float64 model and data, and why not the exact method.
    On the GPU run's precision record (driven here: this CPU records no TF32) they name TF32 off."""
    model, data = _interpolating_mlp(1366)
    assert sum(p.numel() for p in model.parameters()) == MAX_DIM + 11
    monkeypatch.setattr(curvature, "_precision", lambda inputs: CUDA_TF32)
    result = prunelimit.bounds(model, data, method="paper", batch_size=32, tolerance=0.002)
    assert result.uncertainty.rounding is not None and result.uncertainty.rounding >= 0.002
    told = [w for w in result.warnings if "products' rounding:" in w or "is not within the tolerance" in w]
    assert len(told) == 2
    for warning in told:
        assert "method='exact' takes D ≤ 16,384, not 16,395" in warning and "(method='exact'" not in warning
        assert "the model and its data in float64" in warning
        assert "TF32 off (torch.backends.cudnn.allow_tf32 = False)" in warning and "cudnn_tf32 true" in warning
    with pytest.raises(UsageError, match="exceeds the limit"):  # what the old remedy led to
        prunelimit.bounds(model, data, method="exact", batch_size=32)


def test_the_tolerance_warning_names_the_exact_method_only_where_it_fits() -> None:
    options = api.CurvatureOptions(tolerance=0.01, time_budget=150.0)
    with options_named(_flag):
        big = tolerance_warning("slq-h", "time-budget", RESNET18, 0.72, ROUNDING_ALONE, options)
        small = tolerance_warning("slq-h", "time-budget", 2_410, 0.72, ROUNDING_ALONE, options)
        tf32 = tolerance_warning("slq-h", "time-budget", RESNET18, 0.72, ROUNDING_ALONE, options,
                                 rounding_remedy(RESNET18, False, CUDA_TF32))
    assert "--method exact" not in big.replace("--method exact takes D ≤ 16,384, not 11,164,362", "")
    assert "(--method exact's float64 columns, D ≤ 16,384, or the model and its data in float64)" in small
    assert "TF32 off (NVIDIA_TF32_OVERRIDE=0 in the environment): this run's precision records cudnn_tf32 true, " \
           "fp32_precision_cudnn_conv tf32, fp32_precision_cudnn_rnn tf32" in tf32


def test_the_exact_method_is_not_named_where_its_dense_hessian_exceeds_the_memory_the_solver_may_hold() -> None:
    """D = 4,000 fits MAX_DIM, but its exact spectrum holds 256 MB: past a 100 MB allowance
    (``--basis-memory``), which refuses it, as ``choose_solver`` does."""
    with options_named(_flag):
        fix = float64_products(4_000, None, host_bytes=100e6)
        with pytest.raises(UsageError, match="host memory"):
            api.options.choose_solver(api.CurvatureOptions(method="exact"), 4_000, host_bytes=100e6)
    assert fix.startswith("float64 products (the model and its data in float64; --method exact at D = 4,000 holds")
    assert fix.endswith("more than the 100.0 MB of host memory the solver may hold, --basis-memory)")


def test_tf32_is_named_only_where_the_precision_record_shows_it_on() -> None:
    """A CPU run records cudnn_tf32 true too (torch's default), which its products never use;
    NVIDIA_TF32_OVERRIDE=0 turns TF32 off beneath it; a CPU's bfloat16 products are named."""
    assert reduced_float32(CUDA_TF32) == {"TF32": ["cudnn_tf32 true", "fp32_precision_cudnn_conv tf32",
                                                   "fp32_precision_cudnn_rnn tf32"]}
    assert reduced_float32({**CUDA_TF32, "device": "cpu"}) == {}
    assert reduced_float32({**CUDA_TF32, "tf32_override": "0"}) == {}
    assert reduced_float32(None) == {}  # an older report records none
    bf16 = {**CUDA_TF32, "device": "cpu", "fp32_precision_mkldnn_matmul": "bf16"}
    assert reduced_float32(bf16) == {"bfloat16": ["fp32_precision_mkldnn_matmul bf16"]}
    with options_named(_flag):
        assert 'bfloat16 off (torch.backends.mkldnn.matmul.fp32_precision = "ieee" in the model\'s module)' in float64_products(2_410, bf16)
    with library_call():
        assert 'bfloat16 off (torch.backends.mkldnn.matmul.fp32_precision = "ieee")' in float64_products(2_410, bf16)
        # set by torch's per-operation API, whose legacy getter then reads none: its own setter, not
        # allow_tf32 (torch refuses "a mix of the legacy and new APIs")
        conv = {**CUDA_TF32, "cudnn_tf32": None, "fp32_precision_cudnn_rnn": "ieee"}
        assert float64_products(2_410, conv).startswith(
            'TF32 off (torch.backends.cudnn.conv.fp32_precision = "ieee"): this run\'s precision records '
            "fp32_precision_cudnn_conv tf32, so")


def _report(dim: int, rounding: float, float64: bool = False) -> dict:
    """A saved ``bounds`` report whose ρ* 0.72 ± 0.05 (``rounding`` of it) misses --min-ratio 0.70."""
    u = {"plus_minus": 0.05, "probes": 0.001, "steps": 0.01, "steps_kind": "bracket", "rounding": rounding,
         "data": None, "grid": None, "runs": 3, "level": 0.95}
    return {"params": {"hessian": dim, "prunable": dim}, "precision": CUDA_TF32, "bounds": {"lower": 0.6},
            "prediction": {"ratio": 0.72, "uncertainty": u},
            "spectrum": {"solver": "slq-h", "float64_products": float64, "stopped_by": "time-budget",
                         "hessian_samples": {"used": 50_000, "total": 50_000}}}


def test_the_gates_fix_for_a_short_conservative_side_names_what_the_report_can_take() -> None:
    rule = [GateRule("r", use="predicted", min_ratio=0.70)]
    with options_named(_flag):
        mostly_rounding = evaluate_gate(_report(RESNET18, 0.04), rule).outcomes[0].fix
        budget = evaluate_gate(_report(RESNET18, None), rule).outcomes[0].fix
        small = evaluate_gate(_report(2_410, None), rule).outcomes[0].fix
        float64 = evaluate_gate(_report(RESNET18, 0.04, float64=True), rule).outcomes[0].fix
    assert "(--method exact" not in mostly_rounding and "not 11,164,362" in mostly_rounding
    assert "TF32 off (NVIDIA_TF32_OVERRIDE=0 in the environment)" in mostly_rounding
    assert budget.endswith("narrow it (a larger --time-budget)")
    assert small.endswith("narrow it (a larger --time-budget, or --method exact)")
    assert float64.endswith("narrow it (a larger --epsilon)")  # float64 products already


def test_a_drop_inside_the_noise_names_the_exact_method_only_where_both_reports_fit_it() -> None:
    rule = [GateRule("d", use="predicted", max_drop=0.001, baseline="base.json")]
    with options_named(_flag):
        big = resolution_notes(_report(RESNET18, None), [("base.json", _report(RESNET18, None))], rule)
        small = resolution_notes(_report(2_410, None), [("base.json", _report(2_410, None))], rule)
    # both reports were stopped by their --time-budget: a larger one narrows them, not a smaller --tolerance
    assert big[0].endswith("(a larger --time-budget)")
    assert small[0].endswith("(a larger --time-budget, or --method exact)")


def test_runs_stopped_by_memory_at_the_narrowest_basis_are_not_told_to_narrow_it() -> None:
    """--basis-dtype bfloat16 --basis-memory 0.1 (MB) stops 3 probes at 7 steps: the warning
    said "a narrower --basis-dtype", which bfloat16 has none of; float32 bases have."""
    model, data = _interpolating_mlp(200)

    def missed(basis_dtype: str) -> str:
        result = prunelimit.bounds(model, data, method="slq", batch_size=32, tolerance=0.001,
                                   basis_dtype=basis_dtype, basis_memory_mb=0.1)
        assert result.spectrum.stopped_by == "memory"
        (warning,) = [w for w in result.warnings if "is not within the tolerance" in w]
        return warning

    assert "(a larger basis_memory_mb= or more host memory)" in missed("bfloat16")
    assert "(a narrower basis_dtype=, a larger basis_memory_mb= or more host memory)" in missed("float32")


@pytest.mark.parametrize("kwargs", [{"iterations": 200, "basis_memory_mb": 0.5},  # a fixed plan's bases
                                    {"basis_memory_mb": 0.007},  # room for 1 Lanczos vector
                                    {"per_layer": True, "basis_memory_mb": 0.02}])  # a layer's block
def test_a_refusal_for_memory_names_a_narrower_basis_only_where_there_is_one(kwargs) -> None:
    """Refused at --basis-dtype bfloat16, the errors said "use … a narrower --basis-dtype"."""
    model, data = _interpolating_mlp(200)
    for basis_dtype, narrower in (("bfloat16", False), ("float32", True)):
        with pytest.raises(UsageError, match="host memory") as refused:
            prunelimit.bounds(model, data, method="slq", batch_size=32, basis_dtype=basis_dtype, **kwargs)
        assert ("a narrower basis_dtype" in str(refused.value)) is narrower


def test_the_paper_grids_fix_names_the_exact_method_only_where_the_report_fits_it() -> None:
    """A --method paper report whose reference density aliases onto the grid: its min_ratio
    fix said "use --method slq or exact" at any D."""
    def fix(dim: int) -> str:
        report = _report(dim, None)
        report["prediction"]["reference_density"] = {"aliased": True, "weight_moved": 1.0}
        with options_named(_flag):
            return evaluate_gate(report, [GateRule("r", use="predicted", min_ratio=0.70)]).outcomes[0].fix

    assert fix(RESNET18) == "use --method slq"
    assert fix(2_410) == "use --method slq or exact"


def test_runs_that_took_every_step_name_the_exact_method_only_where_it_fits_memory() -> None:
    """Krylov space exhausted, the probe part largest: "more probes (--method exact, which
    computes every eigenvalue)" was said at D = 4,000 under --basis-memory 100, which refuses
    the exact spectrum's 256 MB; now more runs of D steps, as past MAX_DIM."""
    u = Uncertainty(probes=0.05, steps=0.0, data=None, runs=3, probes_kind="bound")

    def remedy(basis_memory_mb: float) -> str:
        options = api.CurvatureOptions(tolerance=0.01, basis_memory_mb=basis_memory_mb)
        with options_named(_flag):
            return tolerance_warning("slq-h", "converged", 4_000, 0.5, u, options).rpartition("which needs ")[2]

    assert remedy(100) == "more probes (--runs K --iterations 4000)"
    assert remedy(1_000) == "more probes (--method exact, which computes every eigenvalue)"
