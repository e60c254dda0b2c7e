"""SLQ accuracy study against an exact Hessian (results: docs/accuracy.md).

Builds an MLP on sklearn's real ``load_digits`` data (float64), trains it full-batch with
Adam, forms the exact Hessian from HVPs, and compares the relative error of

    F(c) = mean_runs Σ_k τ_k / (1 + c·|θ_k|)        (c = R²/2ε)

against the exact ``(1/D) Σ_i 1/(1 + c|λ_i|)`` over ``c·λmax`` in 1e1..1e5, for SLQ on
``H`` ("h") and on ``H²`` ("h2"), at several Lanczos steps and probe counts. The Lanczos runs use the exact matrix as operator (HVP-based Lanczos equals
it to rounding, ~1e-15 in float64), which keeps the study fast.

    python benchmarks/accuracy_slq.py [--hidden 40] [--steps 150] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from prunelimit.curvature.exact import exact_hessian, exact_quadrature
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq
from prunelimit.data.batches import cross_entropy_loss

SCALES = (1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7)


def digits_mlp(hidden: int, steps: int, samples: int | None = None, seed: int = 0, lr: float = 1e-2):
    """A 64-hidden-10 float64 MLP trained full-batch with Adam on (a prefix of) the digits."""
    torch.manual_seed(seed)
    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float64)
    y = torch.tensor(data.target, dtype=torch.int64)
    if samples is not None:
        x, y = x[:samples], y[:samples]
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10)).double()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model, [(x, y)]


def f_values(quad, scales: np.ndarray, lam_max: float) -> np.ndarray:
    """F at each c·λmax in ``scales`` (mean over runs)."""
    return np.array([quad.mean(lambda t, c=s / lam_max: 1.0 / (1.0 + c * np.abs(t))) for s in scales])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=40)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()
    torch.set_num_threads(1)

    model, batches = digits_mlp(args.hidden, args.steps, lr=args.lr)
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss)
    t0 = time.perf_counter()
    h = exact_hessian(op)
    exact = exact_quadrature(h)
    lam = exact.nodes[0]
    lam_max = float(np.max(np.abs(lam)))
    scales = np.array(SCALES)
    f_exact = f_values(exact, scales, lam_max)
    print(f"D={op.dim} loss={op.loss():.4g} λmax={lam[-1]:.4g} λmin={lam[0]:.4g} "
          f"negative={int(np.sum(lam < 0))} exact Hessian {time.perf_counter() - t0:.1f}s")
    print(f"{'c·λmax':<30}" + "  ".join(f"{s:>8.0e}" for s in scales))
    print(f"{'exact F':<30}" + "  ".join(f"{v:8.4f}" for v in f_exact))

    settings = [("h", 100, 8, 0), ("h", 100, 32, 0), ("h2", 100, 8, 0), ("h", 200, 8, 0),
                ("h2", 200, 8, 0), ("h", 200, 8, 40), ("h", 400, 8, 0)]
    for method, m, runs, deflate in settings:
        errs = []
        for seed in range(args.seeds):
            quad = slq(DenseOperator(h), m, runs, seed, method, deflate=deflate)
            errs.append(f_values(quad, scales, lam_max) / f_exact - 1)
        errs = np.array(errs)
        worst = errs[np.argmax(np.abs(errs), axis=0), np.arange(len(scales))]
        print(f"{f'{method} m={m} runs={runs} deflate={deflate}':<30}" + "  ".join(f"{100 * e:+7.2f}%" for e in worst))


if __name__ == "__main__":
    main()
