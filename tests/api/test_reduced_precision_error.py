"""SLQ's products measuring float32 against float64 (``api.curvature._product_error``) must
measure the arithmetic the runs' products do. Where torch's switches let float32 products
round in bfloat16 (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``, this CPU's
stand-in for a GPU's TF32), whether a product rounds so depends on its shapes: a 64-4-10
MLP's products over the slice's 32-sample parts erred as IEEE float32 ones (1.8e-8) while
the runs' over 128-sample batches erred by 9.4e-4, and a ``--method paper`` run stated no
rounding part: the slice's parts are now one of the runs' batches each. The switches are restored after each test; the tests skip where this CPU
has no bfloat16 products."""

from __future__ import annotations

import torch

import prunelimit
import prunelimit.api.curvature as curvature
from prunelimit.api.options import CurvatureOptions


def _runs_error(inputs, op) -> float:
    """The runs' own products' ``‖H̃z − Hz‖/‖z‖`` over all the data, on ``_product_error``'s probe."""
    from prunelimit.curvature.slq import rademacher

    probe = rademacher(op.dim, torch.Generator().manual_seed(0))
    wide = curvature.hessian_operator(inputs, CurvatureOptions(hvp="revrev"), dtype=torch.float64)
    return float((op.matvec(probe).double() - wide.matvec(probe)).norm() / probe.norm())


def test_the_measured_error_is_the_runs_under_bfloat16_switches(small_model, fitted, bfloat16_products) -> None:
    """600 digits in batches of 128: before, the slice's 32-sample parts measured ~1e-8 where
    the runs' products erred by ~1e-3; now each of its 4 parts is one 128-sample batch, as the
    runs' are. The claim: the measurement is at least the runs' error over all the data (half
    of it, as margin: the slice estimates the data's error from 512 of its 600 samples)."""
    from prunelimit.data.spec import load_dataset

    data = load_dataset("digits:train", max_samples=600)
    model = fitted(small_model, data.x, data.y)
    inputs = prunelimit.inputs_from(model, (data.x, data.y))
    options = CurvatureOptions()
    op = curvature.hessian_operator(inputs, options)
    runs = _runs_error(inputs, op)
    assert runs > 1e-5  # the runs' products round in bfloat16: the case this is about
    error, spent, samples, _ = curvature._product_error(inputs, options, op, inputs.batches, op.dim)
    assert (spent, samples) == (2, 4 * 128)
    assert error >= runs / 2, (error, runs)


def test_a_paper_run_under_bfloat16_switches_states_a_rounding_part_that_covers(small_model, train, fitted,
                                                                                bfloat16_products) -> None:
    """``--method paper`` (1 probe × 128 steps) of the 64-4-10 MLP: before, no rounding part;
    now the bfloat16 products' error gives one, and the whole ± still covers the exact float64
    ρ* (the same switches, so the same ε). Coverage is the claim: no tolerance added."""
    model = fitted(small_model, *train)
    paper = prunelimit.bounds(model, train, method="paper", seed=0)
    exact = prunelimit.bounds(model, train, method="exact")
    u = paper.uncertainty
    assert u.rounding is not None and u.rounding > 0
    assert abs(paper.ratio - exact.ratio) <= u.plus_minus, (paper.ratio, exact.ratio, u)


def test_a_float64_rerun_under_bfloat16_switches_names_them_as_the_cause(small_model, train, fitted,
                                                                         bfloat16_products) -> None:
    """Adaptive SLQ whose float32 products' bfloat16 rounding alone kept its ± above the
    tolerance runs again on float64 products; its note said the error came from "a fit near
    zero loss", of a model whose loss is nowhere near zero, and now names the switch."""
    model = fitted(small_model, *train)
    result = prunelimit.bounds(model, train, method="slq", seed=0)
    note = next(w for w in result.warnings if "adaptive SLQ ran again on float64 products" in w)
    assert "(rounding in bfloat16: this run's precision records fp32_precision_mkldnn_matmul bf16" in note, note
    assert "a fit near zero loss" not in note
