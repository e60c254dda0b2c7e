"""The default's exact-vs-SLQ prediction against the exact spectrum's measured cost.

For MLPs of growing D on the bundled digits, prints what the default predicts for the exact
spectrum (D timed float64 columns plus the eigenvalues of a 1,024-row matrix scaled by
(D/1024)³) beside what ``--method exact`` then takes (columns and eigenvalues, CPU time over
threads, and wall time), and their ratio. The prediction is one thread's CPU time, so at
``--threads 1`` the two count alike. Untrained seeded models: the cost does not depend on
the weights.

    python benchmarks/bench_exact_choice.py --threads 1 --hidden 32,64,80 --samples 200
"""

from __future__ import annotations

import argparse
import time

import torch

from prunelimit.api import CurvatureOptions
from prunelimit.api.curvature import _cost_aware_choice, hessian_operator
from prunelimit.api.options import choose_solver
from prunelimit.curvature.exact import exact_hessian, exact_quadrature
from prunelimit.data.spec import load_dataset
from prunelimit.library import inputs_from
from prunelimit.models.spec import build_model


def measure(hidden: int, samples: int) -> dict:
    torch.manual_seed(0)
    model = build_model(f"mlp:64,{hidden},10")
    data = load_dataset("digits:train", max_samples=samples)
    given = inputs_from(model, (data.x, data.y), batch_size=32)
    options = CurvatureOptions(time_budget=10_000.0)  # a budget nothing exceeds: the prediction is always made
    dim = sum(p.numel() for p in model.parameters())
    choice, _, _, eigen = _cost_aware_choice(given, options, dim, choose_solver(options, dim))
    op = hessian_operator(given, options, dtype=torch.float64)
    threads = torch.get_num_threads()
    cpu, wall = time.process_time(), time.perf_counter()
    dense = exact_hessian(op)
    cpu_columns, wall_columns = (time.process_time() - cpu) / threads, time.perf_counter() - wall
    cpu, wall = time.process_time(), time.perf_counter()
    exact_quadrature(dense)
    cpu_eigen, wall_eigen = (time.process_time() - cpu) / threads, time.perf_counter() - wall
    return {"hidden": hidden, "D": dim, "predicted": choice.predicted_exact_seconds, "predicted_eigen": eigen,
            "cpu": cpu_columns + cpu_eigen, "cpu_eigen": cpu_eigen, "wall": wall_columns + wall_eigen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hidden", default="32,64,80", help="hidden widths of mlp:64,H,10 (D = 75·H + 10)")
    parser.add_argument("--samples", type=int, default=200, help="digits training samples (columns cost ∝ samples)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, {args.samples} digits samples, torch {torch.__version__}")
    print(f"{'D':>6} {'predicted s':>12} {'(eigen)':>8} {'measured CPU s':>15} {'(eigen)':>8} {'wall s':>8} "
          f"{'measured/predicted':>19}")
    for hidden in map(int, args.hidden.split(",")):
        r = measure(hidden, args.samples)
        print(f"{r['D']:>6,} {r['predicted']:>12.1f} {r['predicted_eigen']:>8.1f} {r['cpu']:>15.1f} "
              f"{r['cpu_eigen']:>8.1f} {r['wall']:>8.1f} {r['cpu'] / r['predicted']:>19.2f}")


if __name__ == "__main__":
    main()
