"""Lanczos with a float32 basis under switches that round a CPU's float32 matmuls in
bfloat16 (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``, set by a model's module
or a library caller for its products): the basis projections of the reorthogonalisation
rounded at ~3e-3, the basis lost orthogonality and β grew ×30 a step to Inf, so that
``--method paper`` of a 64-4-10 MLP stopped at step 113 with "the Hessian-vector product
contains NaN/Inf; check the model and data". They are now at IEEE precision, and the switch
is set back after them."""

from __future__ import annotations

import pytest
import torch

from prunelimit.curvature.lanczos import _ieee_float32, lanczos
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import rademacher


def test_a_float32_basis_stays_orthogonal_under_bfloat16_switches(bfloat16_products) -> None:
    """140 steps on a 300-dim operator (float64 products, so only the basis arithmetic can
    round): before, ‖QᵀQ − I‖ grew past 1 (β to 1e30 and beyond); now it stays at float32's
    rounding. 1e-4: a float32 basis's orthogonality after full reorthogonalisation is ~1e-6,
    bfloat16's ~1e-2 at best."""
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(300, 300, generator=gen, dtype=torch.float64))
    lam = torch.cat([torch.linspace(0.01, 4.0, 60, dtype=torch.float64), torch.zeros(240, dtype=torch.float64)])
    res = lanczos(DenseOperator((q * lam) @ q.T), 140, rademacher(300, gen), storage_dtype=torch.float32,
                  keep_basis=True)
    basis = res.basis.double()
    gram = basis @ basis.T
    assert float((gram - torch.eye(len(basis), dtype=torch.float64)).abs().max()) < 1e-4
    assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"  # set back after the projections


@pytest.fixture
def switches_set_back():
    """torch's float32 precision switches as before the test: the legacy ones (torch refuses
    to read them where the two APIs were mixed), then the per-operation ones (the generic one,
    oneDNN's and cuBLAS's matmul) in that order, which the legacy setters set too."""
    backends = torch.backends
    if not hasattr(backends.cuda.matmul, "fp32_precision"):
        pytest.skip("no per-operation fp32_precision in this torch (before 2.9)")
    owners = [backends, backends.mkldnn, backends.mkldnn.matmul, backends.cuda.matmul]
    old = [owner.fp32_precision for owner in owners]
    legacy = torch.get_float32_matmul_precision(), backends.cuda.matmul.allow_tf32
    yield
    torch.set_float32_matmul_precision(legacy[0])
    backends.cuda.matmul.allow_tf32 = legacy[1]
    for owner, value in zip(owners, old):
        owner.fp32_precision = value


def _legacy_tf32() -> None:
    torch.backends.cuda.matmul.allow_tf32 = True


@pytest.mark.parametrize("setting, after", [
    (lambda: setattr(torch.backends.cuda.matmul, "fp32_precision", "tf32"), lambda: torch.backends.cuda.matmul.fp32_precision),
    (_legacy_tf32, lambda: torch.backends.cuda.matmul.allow_tf32),
    (lambda: torch.set_float32_matmul_precision("high"), torch.get_float32_matmul_precision),
    (lambda: setattr(torch.backends, "fp32_precision", "tf32"), lambda: torch.backends.fp32_precision),
], ids=["cuda-fp32-precision", "cuda-allow-tf32", "matmul-precision-high", "generic-fp32-precision"])
def test_the_guard_sets_a_gpus_tf32_switches_to_ieee_and_back(switches_set_back, setting, after) -> None:
    """A GPU's float32 matmuls round in TF32 under ``torch.backends.cuda.matmul``'s switches (a
    GPU basis's projections alike): the guard left them as set, only oneDNN's being read. Inside
    it they now read IEEE, by the per-operation API whichever API set them, and after it they
    read as set, the legacy getters included (torch refuses to read a legacy switch that mixes
    with the per-operation API: ``allow_tf32`` raises inside). Read on the CPU, no GPU needed."""
    setting()
    before = after()
    with _ieee_float32():
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.mkldnn.matmul.fp32_precision in ("ieee", "none")
    assert after() == before


def test_a_switch_that_followed_the_generic_one_follows_it_after_the_guard(switches_set_back) -> None:
    """With ``torch.backends.fp32_precision = "bf16"`` oneDNN's matmul switch reads bf16 through
    it; the guard set it back to "bf16" itself, so a caller's later
    ``torch.backends.fp32_precision = "ieee"`` left the CPU's float32 matmuls in bfloat16. It is
    now set back to follow the generic switch, and reads as it does before and after."""
    torch.backends.fp32_precision = "bf16"
    with _ieee_float32():
        assert torch.backends.mkldnn.matmul.fp32_precision == "ieee"
    assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"
    torch.backends.fp32_precision = "ieee"
    assert torch.backends.mkldnn.matmul.fp32_precision == torch.backends.cuda.matmul.fp32_precision == "ieee"
