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

from prunelimit.curvature.lanczos import lanczos, ritz_vectors
from prunelimit.device import ieee_float32
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import _Deflated, rademacher


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


def _diagonal_ritz_pairs() -> tuple[torch.Tensor, torch.Tensor]:
    """The 300-dim diagonal 10, 9, 8, 7, 6 then 0.01..1, and the Ritz vectors of its 5 largest
    eigenvalues from 80 Lanczos steps on a float32 basis (converged to float32's rounding)."""
    lam = torch.cat([torch.tensor([10.0, 9.0, 8.0, 7.0, 6.0], dtype=torch.float64),
                     torch.linspace(0.01, 1.0, 295, dtype=torch.float64)])
    res = lanczos(DenseOperator(torch.diag(lam)), 80, rademacher(300, torch.Generator().manual_seed(0)),
                  storage_dtype=torch.float32, keep_basis=True)
    _, vectors, _ = ritz_vectors(res)
    return lam, vectors[-5:]


def test_ritz_vectors_of_a_float32_basis_are_exact_under_bfloat16_switches(bfloat16_products) -> None:
    """``ritz_vectors`` (SLQ's deflation) combines a float32 basis by a matmul: under the switches
    it rounded in bfloat16, and the 5 top Ritz vectors of a known diagonal were orthonormal to
    5.5e-3 only, with residuals ‖Hy − (yᵀHy)y‖ up to 0.06 (float32: 1e-7 and 3e-7), and the
    deflated operator PHP's spectrum was off the known one by 4e-4. 1e-5: float32's rounding
    is 1e-7 over 80 rows, bfloat16's 1e-3 at best."""
    lam, top = _diagonal_ritz_pairs()
    assert float((top @ top.T - torch.eye(5, dtype=torch.float64)).abs().max()) < 1e-5
    assert float((top * lam - (top * lam * top).sum(1, keepdim=True) * top).norm(dim=1).max()) < 1e-5
    # the deflated operator's spectrum: the 5 largest eigenvalues are now zeros, the others stay
    dense = _Deflated(DenseOperator(torch.diag(lam)), top).matmat(torch.eye(300, dtype=torch.float64))
    expected = torch.sort(torch.cat([torch.zeros(5, dtype=torch.float64), lam[5:]])).values
    assert float((torch.linalg.eigvalsh((dense + dense.T) / 2) - expected).abs().max()) < 1e-5
    assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"  # set back after the combinations


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
    with ieee_float32():
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.mkldnn.matmul.fp32_precision in ("ieee", "none")
    assert after() == before


def test_a_switch_that_followed_the_generic_one_follows_it_after_the_guard(switches_set_back) -> None:
    """With ``torch.backends.fp32_precision = "bf16"`` oneDNN's matmul switch reads bf16 through
    it; the guard set it back to "bf16" itself, so a caller's later
    ``torch.backends.fp32_precision = "ieee"`` left the CPU's float32 matmuls in bfloat16. It is
    now set back to follow the generic switch, and reads as it does before and after. Both
    matmul switches follow it first, as by default: torch's legacy setter leaves them at
    "ieee" of their own (``torch.set_float32_matmul_precision("highest")``, which an earlier
    test's restore calls), and then neither reads the generic switch at all."""
    torch.backends.mkldnn.matmul.fp32_precision = torch.backends.cuda.matmul.fp32_precision = "none"
    torch.backends.fp32_precision = "bf16"
    with ieee_float32():
        assert torch.backends.mkldnn.matmul.fp32_precision == "ieee"
    assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"
    torch.backends.fp32_precision = "ieee"
    assert torch.backends.mkldnn.matmul.fp32_precision == torch.backends.cuda.matmul.fp32_precision == "ieee"
