"""A fixed SLQ plan of at least D steps on a Hessian with repeated eigenvalues (a rank
below D: exact zeros): a plain Lanczos run breaks down after as many steps as there are
distinct eigenvalues, one probe's estimate whose stated ± could miss the exact ρ* by 15
points; the first run now goes on past the breakdown to span the space, as adaptive SLQ's
does, and states the exact spectrum."""

from __future__ import annotations

import numpy as np
import torch

import prunelimit
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq


def test_a_run_asked_for_every_step_spans_a_rank_deficient_operator() -> None:
    dim = 12
    eigenvalues = torch.tensor([0.0] * 7 + [0.5, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    quad = slq(DenseOperator(q @ torch.diag(eigenvalues) @ q.T), iterations=20, runs=2, seed=0, method="h",
               span=True)
    assert quad.exact
    # float64 products: the Ritz values are the eigenvalues to rounding (1e-12 of λmax 4)
    np.testing.assert_allclose(np.sort(quad.nodes[0]), eigenvalues.numpy(), atol=1e-12)
    np.testing.assert_allclose(quad.weights, 1 / dim)


def _low_rank_regression() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A 33-weight linear MSE model on 16 samples: its Hessian XᵀX/n has rank 16, 17 zeros."""
    torch.manual_seed(33)
    x = torch.randn(16, 33)
    y = x @ torch.randn(33, 1) + 0.3 * torch.randn(16, 1)
    model = torch.nn.Linear(33, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y).solution.T + 0.01 * torch.randn(1, 33))
    return model, (x, y)


def test_a_fixed_plan_of_more_steps_than_d_states_the_exact_spectrum() -> None:
    model, data = _low_rank_regression()
    exact = prunelimit.bounds(model, data, loss="mse", batch_size=4, method="exact")
    fixed = prunelimit.bounds(model, data, loss="mse", batch_size=4, iterations=50, runs=2)
    # before: ρ* 0.668 ± 0.114 against the exact 0.515. Now the exact spectrum from float32
    # products (the model's dtype): ρ* within their rounding, 1e-4
    assert fixed.spectrum.quadrature.exact
    assert abs(fixed.ratio - exact.ratio) < 1e-4
    assert fixed.spectrum.hvps <= 2 * 50 + 8  # within the plan (and the trace's top-ups)
