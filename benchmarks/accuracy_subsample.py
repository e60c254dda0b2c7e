"""What curvature on a subset does to ρ*, measured with exact spectra (results: docs/accuracy.md).

For a checkpoint and its analysis data, the exact float64 Hessian spectrum over all the
data gives the reference ρ*; the same over ``--hessian-samples``' class-balanced subsets
(``prunelimit.data.subsample``, several seeds) and over each subset's parts gives

* the shift ``ρ*(subset) − ρ*(all)``, free of any SLQ error;
* the data part that ``bounds`` states for that subset (the parts' spread,
  ``prunelimit.theory.uncertainty.part_sd``), here from exact spectra.

Every spectrum costs D Hessian columns over its samples: on 2 cores the bundled example
(D = 2,410, 1,437 samples) takes 22 s over all its samples and ~5 min for the table below;
the mnist1d MLP (D = 4,810, 20,000 samples) ~15 min over all, ~1 h with the parts
(``--no-parts``: ~40 min; the parts together cost what the subset does).

    python benchmarks/accuracy_subsample.py examples/digits-mlp.pt --sizes 100,200,400,800 --seeds 2
    python benchmarks/accuracy_subsample.py mnist1d-20k     # writes the data, trains both models
    python benchmarks/accuracy_subsample.py benchmarks/.cache/m1d20k-plain.pt \\
        --data tensors:benchmarks/.cache/m1d20k-train.pt --sizes 2048,8192 --seeds 2
    python benchmarks/accuracy_subsample.py m16.pt --coverage 200 --seeds 30 --threads 1

``--coverage N`` measures instead how often the data part that ``bounds`` states over a
subset of N held the mean ρ* of ``--seeds`` such subsets, and how often the parts' own
spread (the data part before) did; and how often it held all the data's ρ*, beside the
subsets' shift from it and the delete-a-group jackknife's estimate of that shift
(``(K − 1)·(mean ρ* less a part − ρ*)·(1 − n/N)``, a bias ∝ 1/n), which no ``±`` states.

``mnist1d-20k`` generates 25,000 mnist1d samples offline (20,000 training) with the
``mnist1d`` package and trains ``mlp:40,48,48,10`` on them twice, plainly and with l1
(the ``prunelimit train`` commands are printed; each at the thread count the measured
model was trained with, as SGD's result depends on it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

from prunelimit.api.curvature import hessian_operator, limit_target
from prunelimit.api.options import CurvatureOptions
from prunelimit.curvature.exact import exact_hessian, exact_quadrature
from prunelimit.data.batches import total_samples
from prunelimit.data.subsample import DATA_PARTS, curvature_subsample
from prunelimit.inputs import load_inputs
from prunelimit.theory.limit import predict_from_quadrature
from prunelimit.theory.uncertainty import left_out_sd, part_sd, student_factor
from time_to_answer_models import CACHE, make_mnist1d

MNIST1D_TRAIN = CACHE / "m1d20k-train.pt"


def exact_ratio(inputs, batches, target) -> float:
    """ρ* of the exact float64 spectrum of the Hessian over ``batches``."""
    op = hessian_operator(inputs, CurvatureOptions(), dtype=torch.float64, batches=batches)
    quad = exact_quadrature(exact_hessian(op))
    return predict_from_quadrature(target.profile, quad, target.epsilon, bound_mode="none").ratio


def measure(checkpoint: str, model: str | None, data: str | None, sizes: list[int], seeds: int,
            parts: bool) -> None:
    inputs = load_inputs(checkpoint, model, data, device="cpu", data_from_checkpoint=True)
    total = total_samples(inputs.batches)
    op = hessian_operator(inputs, CurvatureOptions())
    target = limit_target(inputs, CurvatureOptions(), op.batch_losses())  # ε from all the data, as bounds does
    start = time.perf_counter()
    full = exact_ratio(inputs, inputs.batches, target)
    print(f"{checkpoint}: D = {op.dim:,}, {total:,} samples, exact ρ* over all = {full:.5f} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    print("| samples | seed | ρ* on the subset | shift | parts | data part (1σ) |")
    print("|---:|---:|---:|---:|---|---:|")
    for size in sizes:
        for seed in range(seeds):
            sub = curvature_subsample(inputs.batches, size, seed)
            ratio = exact_ratio(inputs, sub.batches, target)
            shown, sd = "—", "—"
            if parts:
                ratios = tuple(exact_ratio(inputs, p, target) for p in sub.parts)
                shown, sd = ", ".join(f"{r:.5f}" for r in ratios), f"{part_sd(ratios, sub.used, total):.5f}"
            print(f"| {sub.used:,} | {seed} | {ratio:.5f} | {ratio - full:+.5f} | {shown} | {sd} |", flush=True)


def coverage(checkpoint: str, model: str | None, data: str | None, size: int, seeds: int) -> None:
    """How often the data part's stated ± holds the subsets' mean ρ* (the scatter it claims),
    from the subset less each part (``left_out_sd``, as ``bounds`` states it) and from the
    parts' own spread (``part_sd``, as it stated before): exact float64 spectra, so no probe
    or step error enters; the subset's Hessian is its parts' sample-weighted mean."""
    inputs = load_inputs(checkpoint, model, data, device="cpu", data_from_checkpoint=True)
    total = total_samples(inputs.batches)
    target = limit_target(inputs, CurvatureOptions(), hessian_operator(inputs, CurvatureOptions()).batch_losses())

    def hessian(batches) -> torch.Tensor:
        return exact_hessian(hessian_operator(inputs, CurvatureOptions(), dtype=torch.float64, batches=batches))

    def ratio(h: torch.Tensor) -> float:
        return predict_from_quadrature(target.profile, exact_quadrature(h), target.epsilon, bound_mode="none").ratio

    full = ratio(hessian(inputs.batches))
    rows = []
    for seed in range(seeds):
        sub = curvature_subsample(inputs.batches, size, seed)
        counts = [total_samples(part) for part in sub.parts]
        blocks = [hessian(part) for part in sub.parts]
        whole = sum(k * h for k, h in zip(counts, blocks)) / sub.used
        less = tuple(ratio((sub.used * whole - k * h) / (sub.used - k)) for k, h in zip(counts, blocks))
        # the jackknife's estimate of the subset's shift from all the data: a bias b/n at n samples
        # (b/N at N) moves ρ* by b/((K − 1)n) from the subset to the subset less a part
        shift = (DATA_PARTS - 1) * (sum(less) / len(less) - ratio(whole)) * (1 - sub.used / total)
        rows.append((ratio(whole), left_out_sd(less, sub.used, total),
                     part_sd(tuple(ratio(h) for h in blocks), sub.used, total), shift))
        print(f"seed {seed}: ρ* {rows[-1][0]:.5f}, data part {rows[-1][1]:.5f} (parts' {rows[-1][2]:.5f}), "
              f"shift estimate {shift:+.5f}", flush=True)
    mean = sum(r[0] for r in rows) / seeds
    factor = student_factor(DATA_PARTS - 1)
    for name, column in (("the subset less each part", 1), ("the parts", 2)):
        held = sum(abs(r[0] - mean) <= factor * r[column] for r in rows)
        print(f"data part from {name}: held the subsets' mean ρ* {mean:.5f} in {held} of {seeds}")
    held = sum(abs(r[0] - full) <= factor * r[1] for r in rows)
    print(f"all the data's ρ* {full:.5f}: the subsets' mean lies {mean - full:+.5f} from it (the jackknife's "
          f"shift estimate: {sum(r[3] for r in rows) / seeds:+.5f} on average); the data part held it in "
          f"{held} of {seeds}, and {sum(abs(r[0] - r[3] - full) <= factor * r[1] for r in rows)} about ρ* less "
          f"that estimate")


def make_mnist1d_models() -> None:
    """25,000 mnist1d samples (offline) and the plain and l1 MLPs trained on them."""
    make_mnist1d(25_000, "m1d20k")
    # The thread counts the measured models were trained with: SGD's result depends on them.
    for name, l1, threads in (("plain", "0", "1"), ("l1", "1e-3", "2")):
        command = ["prunelimit", "train", "--model", "mlp:40,48,48,10", "--data", f"tensors:{MNIST1D_TRAIN}",
                   "--eval-data", f"tensors:{CACHE / 'm1d20k-test.pt'}", "--l1", l1, "--epochs", "30",
                   "--lr", "0.05", "--schedule", "cosine", "--batch-size", "64", "--seed", "0",
                   "--threads", threads, "-o", str(CACHE / f"m1d20k-{name}.pt"), "--force"]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint, or mnist1d-20k to make the mnist1d data and models")
    parser.add_argument("--model", default=None)
    parser.add_argument("--data", default=None, help="default: the data the checkpoint records")
    parser.add_argument("--sizes", default="2048,8192", help="subset sizes, comma-separated")
    parser.add_argument("--seeds", type=int, default=2, help="subsets of each size (seeds 0, 1, ...)")
    parser.add_argument("--no-parts", action="store_true", help="skip the parts' spectra (half the time)")
    parser.add_argument("--coverage", type=int, default=None, metavar="N",
                        help="instead: how often the data part over subsets of N held their mean ρ* (--seeds of them)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.checkpoint == "mnist1d-20k":
        make_mnist1d_models()
        return
    if args.coverage is not None:
        coverage(args.checkpoint, args.model, args.data, args.coverage, args.seeds)
        return
    measure(args.checkpoint, args.model, args.data, [int(s) for s in args.sizes.split(",")], args.seeds,
            not args.no_parts)


if __name__ == "__main__":
    sys.exit(main())
