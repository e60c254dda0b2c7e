"""GPU target of docs/benchmarks.md §4: 128 Lanczos steps of a CIFAR ResNet-18 Hessian over 50,000 samples.

Synthetic CIFAR-shaped data (3×32×32, 10 teacher-labelled classes), the project's
``resnet18-cifar`` (width 64, BatchNorm in eval mode), one Rademacher probe, float32 HVPs
with TF32 off unless ``--tf32`` (its ~1e-3 error taints the products), Lanczos basis in host memory.
Prints the operator build time, each Lanczos step's time as it ends (so a run cut short
still says its rate), seconds per HVP and a pass/fail line against the 5-minute target
(projected from the steps run when fewer than 128). ``--time-limit S`` stops the steps
before one would end past S seconds of Lanczos (at least one step runs), so a
time-limited call always reaches the projection. ``--device cuda`` without CUDA says so
and exits with status 2; ``--device cpu`` runs the same code on the CPU (a smoke run at
toy sizes, e.g. ``--device cpu --samples 32 --width 8 --steps 2``; its PASS/FAIL is not the
GPU target's). ``benchmarks/gpu_checks.sh`` runs it with a few steps inside one
time-limited call.

    python benchmarks/bench_gpu_resnet18.py --device cuda [--samples 50000] [--steps 128]
                                            [--batch 1000] [--budget-mb 32768] [--tf32]
                                            [--time-limit S] [--width 64]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.lanczos import LanczosRuns, ritz
from prunelimit.curvature.operator import Columnwise
from prunelimit.curvature.slq import rademacher
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.data.spec import load_dataset, make_batches
from prunelimit.models.zoo import resnet18_cifar

TARGET_S = 300.0
TARGET_STEPS = 128


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so the clock reads finished work (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_facts(device: torch.device) -> tuple[str, str]:
    """The device's name and its peak allocated memory so far (CUDA's allocator alone counts it)."""
    if device.type != "cuda":
        return "CPU", "n/a on the CPU"
    return torch.cuda.get_device_name(device), f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (the target) or cpu (a smoke run at toy sizes)")
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--budget-mb", type=float, default=32_768,
                        help="device memory for kept graphs / one chunk's graph")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 (faster, ~1e-3 relative HVP error)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds of Lanczos steps: no step starts that would end past it (projected to 128)")
    parser.add_argument("--width", type=int, default=64, help="ResNet width (64 is the benchmark's; smaller for smoke runs)")
    args = parser.parse_args()
    if args.device != "cpu" and (not args.device.startswith("cuda") or not torch.cuda.is_available()):
        print(f"this benchmark needs a CUDA GPU (--device cuda); torch {torch.__version__} sees "
              f"{'no CUDA device' if not torch.cuda.is_available() else 'device ' + args.device}. "
              "Run it on a GPU machine.", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = resnet18_cifar(width=args.width).to(device).eval()
    data = load_dataset(f"synthetic:samples={args.samples},shape=3x32x32")
    batches = [tuple(t.to(device) for t in b) for b in make_batches(data, args.batch)]
    print(f"{device_facts(device)[0]}, torch {torch.__version__}, TF32 {args.tf32}, {args.samples} samples, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters", flush=True)

    sync(device)
    start = time.perf_counter()
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss,
                         memory_budget_mb=args.budget_mb)
    sync(device)
    build = time.perf_counter() - start
    print(f"operator: engine {op.engine}, {len(op.chunk_sizes())} chunks of {op.chunk_sizes()[0]}, "
          f"built in {build:.1f} s", flush=True)

    probe = rademacher(op.dim, torch.Generator().manual_seed(0))
    runs = LanczosRuns(Columnwise(op), probe[None], args.steps, storage_dtype=torch.float32)
    start = time.perf_counter()

    def step_done(steps: int) -> None:
        # every step's products are back on the host (the Lanczos vectors live there): the clock reads finished work
        print(f"  step {steps}: {time.perf_counter() - start:.1f} s", flush=True)

    def out_of_time() -> bool:
        elapsed = time.perf_counter() - start
        return args.time_limit is not None and elapsed + elapsed / runs.steps[0] > args.time_limit

    runs.extend(args.steps, step_done, until=out_of_time)
    sync(device)
    run = time.perf_counter() - start
    (result,) = runs.results()
    nodes, _ = ritz(result.alpha, result.beta)
    print(f"lanczos: {result.steps} steps in {run:.1f} s ({run / max(op.hvps, 1):.2f} s per HVP), "
          f"λmax {nodes[-1]:.4g}, λmin {nodes[0]:.4g}, peak device memory {device_facts(device)[1]}")
    # Fewer steps than the target's 128 (to fit a time-limited run) are projected: every
    # step is one HVP over the same data, and the reorthogonalisation is small beside it.
    total = build + run * TARGET_STEPS / max(result.steps, 1)
    label = "total" if result.steps == TARGET_STEPS else f"projected to {TARGET_STEPS} steps"
    print(f"{label} {total:.1f} s: {'PASS' if total < TARGET_S else 'FAIL'} (target < {TARGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
