"""SLQ wall time against its floor: the same number of plain gradient passes (docs/benchmarks.md §2).

For each model, in one process and interleaved rounds (order rotating), times

* ``slq``: ``slq(Columnwise(op), iterations=m, runs=k, method="h")`` (one product at a
  time) on a ``HessianOperator`` built beforehand (its construction is timed separately);
* ``slq float32 basis``: the same with the Lanczos basis stored in float32 (the HVPs are
  float32 anyway), which halves the reorthogonalisation's memory traffic;
* ``slq float32 basis, j runs in lockstep``: with an engine that recomputes its graphs
  (``--engine revrev``), runs advanced ``j`` at a time through ``op.matmat``, as
  ``spectrum`` does (``HessianOperator.lockstep``);
* ``floor``: ``m·k`` plain gradient passes over the same batches;
* ``lanczos only``: the same SLQ with a free diagonal operator, i.e. the Lanczos
  bookkeeping (full reorthogonalisation, host copies) on its own;

and prints the medians and ``slq / floor`` (target ≤ 1.5).

    python benchmarks/bench_slq.py [--models mlp,cnn] [--steps 50] [--probes 2]
                                   [--samples 2048] [--batch 256] [--repeats 3] [--threads 2]
                                   [--engine auto|cached|revrev]
"""

from __future__ import annotations

import argparse
import time

import torch

from bench_hvp import gradient_pass, interleaved, problem
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.operator import Columnwise
from prunelimit.curvature.slq import LOCKSTEP_PROBES, slq
from prunelimit.data.batches import cross_entropy_loss



class _Diagonal:
    """A free operator (elementwise product with ``d``): Lanczos's bookkeeping alone."""

    def __init__(self, d: torch.Tensor) -> None:
        self.d, self.shape, self.dtype, self.device = d, (len(d), len(d)), d.dtype, d.device

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.d * v

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        return self.d[:, None] * V

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--probes", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    m, k = args.steps, args.probes
    print(f"torch {torch.__version__}, {args.threads} threads, {args.samples} samples, batches of {args.batch}, "
          f"SLQ {m} steps × {k} probes, median of {args.repeats} interleaved rounds")
    for name in args.models.split(","):
        model, batches = problem(name, args.samples, args.batch)
        params = list(model.parameters())
        start = time.perf_counter()
        op = HessianOperator(model, params, batches, cross_entropy_loss, engine=args.engine,
                             probes=min(k, LOCKSTEP_PROBES))
        build = time.perf_counter() - start
        grad = gradient_pass(model, batches)
        diag = _Diagonal(torch.linspace(-1.0, 10.0, op.dim, dtype=torch.float64))

        def floor() -> None:
            for _ in range(m * k):
                grad()

        methods = {
            "slq": lambda: slq(Columnwise(op), iterations=m, runs=k, method="h"),
            "slq float32 basis": lambda: slq(Columnwise(op), iterations=m, runs=k, method="h",
                                             storage_dtype=torch.float32),
            "floor": floor,
            "lanczos only": lambda: slq(diag, iterations=m, runs=k, method="h"),
            "lanczos only float32 basis": lambda: slq(diag, iterations=m, runs=k, method="h",
                                                      storage_dtype=torch.float32),
        }
        if op.lockstep > 1:
            methods[f"slq float32 basis, {op.lockstep} runs in lockstep"] = lambda: slq(
                op, iterations=m, runs=k, method="h", storage_dtype=torch.float32, lockstep=op.lockstep)
        med = interleaved(methods, args.repeats)
        print(f"\n{name}: {op.dim:,} parameters, engine {op.engine}, chunks {op.chunk_sizes()[0]}×"
              f"{len(op.chunk_sizes())}, operator built in {build:.2f} s")
        print("| what | median s | / floor |\n|---|---|---|")
        for label, t in med.items():
            print(f"| {label} | {t:.2f} | {t / med['floor']:.2f} |")
        print(f"| slq + operator build | {med['slq'] + build:.2f} | {(med['slq'] + build) / med['floor']:.2f} |")


if __name__ == "__main__":
    main()
