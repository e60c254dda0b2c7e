"""Lanczos with a float32 basis under switches that round a CPU's float32 matmuls in
bfloat16 (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``, set by a model's module
or a library caller for its products): the basis projections of the reorthogonalisation
rounded at ~3e-3, the basis lost orthogonality and β grew ×30 a step to Inf, so that
``--method paper`` of a 64-4-10 MLP stopped at step 113 with "the Hessian-vector product
contains NaN/Inf; check the model and data". They are now at IEEE precision, and the switch
is set back after them."""

from __future__ import annotations

import torch

from prunelimit.curvature.lanczos import lanczos
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
