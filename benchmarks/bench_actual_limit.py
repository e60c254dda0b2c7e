"""Actual-limit search vs the reference code's 1,000-level sweep, side by side.

For MLPs on sklearn's digits (64-dim, 10 classes), trained briefly with and without l1 over
several seeds, both methods measure the loss criterion (ε = std of per-batch losses) and the
accuracy criterion (δ = 0.5 points). Printed per model: ratio found by each, passes, wall
time; then agreement (|Δ| ≤ 0.002 against the sweep's first crossing) and the speed-up.

    python benchmarks/bench_actual_limit.py [--seeds 4] [--hidden 32] [--max-evaluations 25] [--branching 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.evaluate import evaluate
from prunelimit.models.zoo import mlp
from prunelimit.pruning.actual import actual_limit, prune_curve
from prunelimit.pruning.lomp import LompConfig, train

LEVELS = 1000


def digits(batch: int = 512):
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(y), batch)]


def sweep_limits(model, batches, eps: float) -> tuple[float, float, int]:
    """Brute force: first failing grid index of each criterion, reported one step below."""
    dense = evaluate(model, batches, cross_entropy_loss)
    curve = prune_curve(model, batches, cross_entropy_loss, [i / LEVELS for i in range(LEVELS)])
    loss_fail = np.array([p.loss > dense.loss + eps for p in curve])
    acc_fail = np.array([p.accuracy < dense.accuracy - 0.005 for p in curve])
    first = lambda f: (int(np.argmax(f)) - 1) / LEVELS if f.any() else (LEVELS - 1) / LEVELS  # noqa: E731
    crossings = int(np.count_nonzero(np.diff(loss_fail.astype(int))))
    return first(loss_fail), first(acc_fail), crossings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--max-evaluations", type=int, default=25)
    parser.add_argument("--branching", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batches = digits()
    rows, t_search, t_sweep, passes = [], 0.0, 0.0, []
    print(f"MLP 64-{args.hidden}-10 on digits (1,797 samples), {LEVELS} levels, budget {args.max_evaluations} "
          f"passes per criterion, branching {args.branching}; ratios = removed fraction")
    print(f"{'seed':>4} {'l1':>7} | {'loss: search':>12} {'sweep':>6} | {'acc: search':>11} {'sweep':>6} "
          f"| {'passes L/A/all':>14} | {'search s':>8} {'sweep s':>8} | loss crossings")
    for seed in range(args.seeds):
        for l1 in (0.0, 3e-4, 1e-3):
            torch.manual_seed(seed)
            model = mlp([64, args.hidden, 10])
            train(model, batches, cross_entropy_loss,
                  LompConfig(epochs=args.epochs, lr=0.1, l1=l1, batch_size=64, seed=seed))
            with torch.no_grad():
                eps = float(np.std([float(cross_entropy_loss(model, b)) for b in batches]))
            t0 = time.perf_counter()
            found = actual_limit(model, batches, cross_entropy_loss, eps, max_evaluations=args.max_evaluations,
                                 branching=args.branching)
            t1 = time.perf_counter()
            sweep_loss, sweep_acc, crossings = sweep_limits(model, batches, eps)
            t2 = time.perf_counter()
            t_search += t1 - t0
            t_sweep += t2 - t1
            passes.append(found.evaluations)
            rows.append((found.loss_ratio - sweep_loss, found.accuracy_ratio - sweep_acc))
            print(f"{seed:>4} {l1:>7.0e} | {found.loss_ratio:>12.3f} {sweep_loss:>6.3f} | "
                  f"{found.accuracy_ratio:>11.3f} {sweep_acc:>6.3f} | "
                  f"{found.loss_evaluations:>4}/{found.accuracy_evaluations:>2}/{found.evaluations:>2}"
                  f"{'':>4} | {t1 - t0:>8.3f} {t2 - t1:>8.3f} | {crossings}")
    diffs = np.abs(np.array(rows))
    print(f"agreement |Δ| <= 0.002: loss {np.mean(diffs[:, 0] <= 0.002):.0%}, "
          f"accuracy {np.mean(diffs[:, 1] <= 0.002):.0%}; max |Δ| {diffs.max():.3f}")
    print(f"passes per model (both criteria, dense included): max {max(passes)}, mean {np.mean(passes):.1f} "
          f"vs {LEVELS} sweep evaluations")
    print(f"wall time: search {t_search:.2f} s, sweep {t_sweep:.2f} s, speed-up {t_sweep / t_search:.0f}x")


if __name__ == "__main__":
    main()
