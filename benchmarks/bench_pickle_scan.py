"""The untrusted-file scans a checkpoint passes before it is loaded, beside the load itself.

A training record (``{"model_state_dict", "optimizer_state_dict", "epoch"}`` of an MLP with
``--layers`` linear layers, Adam's two moments per tensor: 2,000 optimizer entries at 200
layers) is written once; then, ``--rounds`` times in turn, the two scans prunelimit runs
before torch reads the file, ``limits.check_torch_file`` (storage sizes the pickle declares)
and ``io.checkpoint.refuse_unsafe_numpy`` (numpy dtypes that hold objects), and the peer,
``torch.load(weights_only=True)``. Printed: the median seconds of each and the scans' share
of the load.

    python benchmarks/bench_pickle_scan.py [--layers 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from prunelimit.io.checkpoint import refuse_unsafe_numpy
from prunelimit.limits import check_torch_file


def training_record(path: Path, layers: int) -> None:
    model = nn.Sequential(*(nn.Linear(16, 16) for _ in range(layers)))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 16)).sum().backward()
    optimizer.step()  # fills exp_avg and exp_avg_sq for every tensor
    torch.save({"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict(),
                "epoch": 3}, path)


def median_seconds(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "record.pt"
        training_record(path, args.layers)
        claims = median_seconds(lambda: check_torch_file(path, "checkpoint"), args.rounds)
        numpy = median_seconds(lambda: refuse_unsafe_numpy(path), args.rounds)
        load = median_seconds(lambda: torch.load(path, weights_only=True), args.rounds)
        print(f"{args.layers} layers, {path.stat().st_size:,} bytes, median of {args.rounds}:")
        print(f"  check_torch_file     {claims:.3f} s")
        print(f"  refuse_unsafe_numpy  {numpy:.3f} s")
        print(f"  torch.load (peer)    {load:.3f} s")
        print(f"  scans / load         {(claims + numpy) / load:.2f}×")


if __name__ == "__main__":
    main()
