"""Exported size and dense vs sparse (CSR) inference latency of a wide MLP, side by side.

An MLP 4096 → 4096 → 4096 → 10 with seeded random weights is magnitude-pruned (global) to
each density; per density the script prints the bytes of the dense tensors and of the
exported file (``prunelimit export``'s writer), then the median forward time of the dense
and the CSR model (``prunelimit.sparse.bench``: ``torch.sparse_csr`` weights through
``F.linear``) at batch 1 and batch 64, and their ratio.

    OMP_NUM_THREADS=2 python benchmarks/bench_export.py [--densities 0.5,0.2,0.1,0.05] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from prunelimit.sparse.bench import bench
from prunelimit.sparse.sparse_file import write_sparse
from prunelimit.models.zoo import mlp
from prunelimit.pruning.magnitude import prune_model

WIDTHS = [4096, 4096, 4096, 10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--densities", default="0.5,0.2,0.1,0.05")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__} · threads {torch.get_num_threads()} · device {device} · "
          f"load average {Path('/proc/loadavg').read_text().split()[:3] if os.path.exists('/proc/loadavg') else '?'}")
    print(f"{'density':>7} {'format':>7} {'dense MB':>8} {'file MB':>8} {'size':>6} "
          f"{'b1 dense ms':>11} {'b1 csr ms':>9} {'b1 ×':>6} {'b64 dense ms':>12} {'b64 csr ms':>10} {'b64 ×':>6}")
    for density in (float(d) for d in args.densities.split(",")):
        torch.manual_seed(0)
        model = mlp(WIDTHS)
        prune_model(model, 1.0 - density)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "m.safetensors"
            layouts = write_sparse(path, model.state_dict(), {})
            file_bytes = path.stat().st_size
        dense_bytes = sum(l.dense_bytes for l in layouts)
        formats = "/".join(sorted({l.format for l in layouts if l.name.endswith("weight")}))
        example = torch.randn(args.batch_size, WIDTHS[0], device=device)
        rep = bench(model.to(device), example, (1, args.batch_size))
        one, big = rep.rows
        print(f"{density:>7.2f} {formats:>7} {dense_bytes / 1e6:>8.1f} {file_bytes / 1e6:>8.1f} "
              f"{file_bytes / dense_bytes:>5.3f}× {one.dense_ms:>11.3f} {one.sparse_ms:>9.3f} {one.speedup:>5.2f}× "
              f"{big.dense_ms:>12.3f} {big.sparse_ms:>10.3f} {big.speedup:>5.2f}×")


if __name__ == "__main__":
    main()
