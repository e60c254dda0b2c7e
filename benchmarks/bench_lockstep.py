"""How many probes the recomputing HVP engine should serve per data pass (SLQ lockstep).

With ``engine="revrev"`` every product rebuilds each chunk's first-order graph;
``HessianOperator.matmat`` of k probes rebuilds it once and runs one batched second
backward. This script measures, for k = 1, 2, 4, 8 on the models of ``bench_hvp.py``:

* time per probe of ``matmat`` (k = 1: ``matvec``), interleaved rounds, median;
* host memory: the growth of the peak resident set during one product of k probes, each
  k in a fresh process, with all 2,048 samples in one chunk so the graph is large enough
  to see; printed per probe and as a multiple of the chunk's graph (the operator's own
  estimate). The accelerator chunk rule (``memory_budget_mb / (1 + probes)``) rests on
  this ratio.

    python benchmarks/bench_lockstep.py [--models mlp,cnn] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys

import torch

from bench_hvp import interleaved, problem
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.data.batches import cross_entropy_loss

WIDTHS = (1, 2, 4, 8)


def operator(name: str, chunks: int | str) -> HessianOperator:
    model, batches = problem(name, 2048, 256)
    return HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, engine="revrev",
                           chunk_samples=chunks)


def peak_growth_mb(name: str, k: int) -> tuple[float, float]:
    """(peak RSS growth of one k-probe product, graph MB), measured in this process."""
    op = operator(name, 2048)
    vs = torch.randn(k, op.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    op.matvec(vs[0])  # the peak of one single product (and every allocation before it)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    op.matvec(vs[0]) if k == 1 else op.matmat(vs.T)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (after - before) / 1024, op.graph_bytes() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-child", nargs=2, metavar=("MODEL", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        growth, graph = peak_growth_mb(args.memory_child[0], int(args.memory_child[1]))
        print(f"{growth} {graph}")
        return
    print(f"torch {torch.__version__}, {args.threads} threads, 2048 samples, engine revrev, "
          f"median of {args.repeats} interleaved rounds")
    for name in args.models.split(","):
        op = operator(name, "auto")
        gen = torch.Generator().manual_seed(1)
        rows = {k: torch.randn(k, op.dim, generator=gen, dtype=torch.float64) for k in WIDTHS}
        med = interleaved({k: (lambda r=rows[k]: op.matvec(r[0]) if len(r) == 1 else op.matmat(r.T))
                           for k in WIDTHS}, args.repeats)
        print(f"\n{name}: {op.dim:,} parameters, chunks {op.chunk_sizes()[0]}×{len(op.chunk_sizes())}")
        print("| probes k | ms per probe | vs k = 1 | peak RSS growth per extra probe, MB | ÷ graph |")
        print("|---|---|---|---|---|")
        base = None
        for k in WIDTHS:
            out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--memory-child",
                                  name, str(k)], capture_output=True, text=True, check=True)
            growth, graph = map(float, out.stdout.split())
            base = growth if k == 1 else base
            per = (growth - base) / (k - 1) if k > 1 else float("nan")
            print(f"| {k} | {1000 * med[k] / k:.1f} | {med[k] / k / med[1]:.2f} | "
                  f"{per:.0f} | {per / graph:.2f} |")


if __name__ == "__main__":
    main()
