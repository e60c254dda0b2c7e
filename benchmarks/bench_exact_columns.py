"""Exact Hessian columns: one float64 product a column against blocks of 128 under vmap.

The default's solver choice prices the exact spectrum from single products with a unit
vector (``api.curvature._seconds_per_column``); this times, on one thread and this
process's CPU time as that choice does, a single column (fastest of three after a warm-up)
and a block of ``--block`` columns per column, for each HVP engine (docs/benchmarks.md,
"Exact columns as timed").

    python benchmarks/bench_exact_columns.py CHECKPOINT --model FILE.py:FACTORY --data SPEC
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch


def _per_column(op, width: int, repeats: int) -> float:
    """Fastest seconds per column over ``repeats`` products of ``width`` unit columns."""
    units = torch.zeros(op.dim, width, dtype=torch.float64)
    units[:width].fill_diagonal_(1.0)
    seconds = []
    for _ in range(repeats):
        start = time.process_time()
        op.matmat(units) if width > 1 else op.matvec(units[:, 0])
        seconds.append((time.process_time() - start) / width)
    return min(seconds)


def main() -> None:
    from prunelimit import api
    from prunelimit.api import curvature
    from prunelimit.inputs import load_inputs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--model")
    parser.add_argument("--data", required=True)
    parser.add_argument("--max-samples", type=int)
    parser.add_argument("--block", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)
    inputs = load_inputs(args.checkpoint, model=args.model, data=args.data, max_samples=args.max_samples,
                         device="cpu")
    for engine in ("cached", "revrev"):
        op = curvature.hessian_operator(inputs, replace(api.CurvatureOptions(), hvp=engine), dtype=torch.float64)
        _per_column(op, 1, 1)  # warm-up
        single, block = _per_column(op, 1, 3), _per_column(op, args.block, 1)
        print(f"D={op.dim:,} {engine}: {1e3 * single:.1f} ms a column alone, {1e3 * block:.1f} ms a column in "
              f"blocks of {args.block} ({block / single:.2f}×)", flush=True)


if __name__ == "__main__":
    main()
