"""Full-data HVP speed: prunelimit's engines against PyHessian and a plain gradient pass.

One process, one model, one data set, one machine (docs/benchmarks.md §1). For each model every method
computes one Hessian-vector product of the mean loss over all samples (or, for the
floor, one gradient); the methods are timed in interleaved rounds (the order rotates
every round) and the median per method is reported with two ratios:

* ``vs PyHessian``: PyHessian's data-loader HVP time / the method's time (> 1 = faster);
* ``× grad``: the method's time / one plain gradient pass over the same batches.

Methods:
* ``grad``: one gradient pass over the user's batches (the floor);
* ``pyhessian loader``: ``hessian(model, criterion, dataloader=batches, cuda=False)
  .dataloader_hv_product(v)``, fed a plain list of batches (a ``DataLoader`` draws from the global RNG on every pass,
  which would make PyHessian's later probes depend on it);
* ``pyhessian data=all``: PyHessian's single-batch mode on all samples at once (its
  ``gradsH`` graph kept, ``hessian_vector_product`` per HVP, as ``eigenvalues``/``trace``
  call it);
* ``ours <engine> chunks=<c>``: ``HessianOperator.matvec`` with engine and chunking;
* ``ours cached matmat k=2``: ``matmat`` of two probes in one batched backward, per probe;
* ``ours cached, plain graphs``: the cached engine with PyTorch's own double backward
  (``prunelimit.curvature.rewrites`` switched off): what the rewrites save;
* ``ours revrev matmat k=4``: the recomputing engine's batched product of four probes
  (per probe), which lockstep SLQ uses when the graphs exceed the memory budget;
* ``torch.func fwdrev`` / ``torch.func fwdrev vmap k=4``: forward-over-reverse,
  ``jvp(grad(loss))`` per chunk, for one probe and for four probes in lockstep under
  ``vmap`` (per probe): the strategy the issue proposed besides the cached graph;
* ``torch.compile fwdrev`` (with ``--compile``): the same per-chunk ``jvp(grad(loss))``
  compiled by ``torch.compile`` (default inductor backend, without the layer rewrites;
  the compile time is printed, not timed).

    python benchmarks/bench_hvp.py [--models mlp,cnn] [--samples 2048] [--batch 256]
                                   [--repeats 5] [--threads 2] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings
from typing import Callable
from unittest import mock

import torch
from torch import nn

from prunelimit.curvature.hvp import HessianOperator
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.data.spec import load_dataset, make_batches
from prunelimit.models.zoo import lenet300, resnet18_cifar

Timed = dict[str, Callable[[], object]]


def lenet_bn() -> nn.Module:
    """LeNet-5 (6/16 channels) with BatchNorm after each convolution, 1×28×28 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def problem(name: str, samples: int, batch: int) -> tuple[nn.Module, list]:
    """A seeded model in eval mode and its batches of synthetic, teacher-labelled data.

    Timing does not depend on the weights, so the models are not trained; BatchNorm
    running statistics are set by a few training-mode forward passes so that they are
    not the identity.
    """
    torch.manual_seed(0)
    if name == "mlp":  # 784-300-100-10, 266,610 parameters
        model, spec = lenet300(), f"synthetic:samples={samples},features=784"
    elif name == "cnn":
        model, spec = lenet_bn(), f"synthetic:samples={samples},shape=1x28x28"
    elif name == "resnet":
        model, spec = resnet18_cifar(width=8), f"synthetic:samples={samples},shape=3x32x32"
    else:
        raise SystemExit(f"unknown model {name!r}; choose mlp, cnn or resnet")
    batches = make_batches(load_dataset(spec), batch)
    with torch.no_grad():
        model.train()
        for x, _ in batches[:4]:
            model(x)
    return model.eval(), batches


def gradient_pass(model: nn.Module, batches: list) -> Callable[[], object]:
    """One plain size-weighted gradient over all batches: the floor an HVP is measured by."""
    params = list(model.parameters())
    n = sum(len(b[0]) for b in batches)

    def run() -> list[torch.Tensor]:
        total = [torch.zeros_like(p) for p in params]
        for b in batches:
            grads = torch.autograd.grad(cross_entropy_loss(model, b), params)
            for t, g in zip(total, grads):
                t.add_(g, alpha=len(b[0]) / n)
        return total

    return run


def pyhessian_methods(model: nn.Module, batches: list, v: torch.Tensor) -> Timed:
    """PyHessian's two HVPs, with ``v`` split into its per-parameter list."""
    from pyhessian import hessian
    from pyhessian.utils import hessian_vector_product

    params = list(model.parameters())
    parts = [c.view_as(p) for c, p in zip(v.split([p.numel() for p in params]), params)]
    criterion = nn.CrossEntropyLoss()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_graph=True reference-cycle warning
        loader = hessian(model, criterion, dataloader=batches, cuda=False)
        x = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
        single = hessian(model, criterion, data=(x, y), cuda=False)
    return {
        "pyhessian loader": lambda: loader.dataloader_hv_product(parts),
        "pyhessian data=all": lambda: hessian_vector_product(single.gradsH, single.params, parts),
    }


def ours(model: nn.Module, batches: list, v: torch.Tensor) -> tuple[Timed, dict[str, str]]:
    """prunelimit's engines at the automatic chunking and at the user's batches."""
    params = list(model.parameters())
    methods: Timed = {}
    notes: dict[str, str] = {}
    pair = torch.stack([v, v.flip(0)], dim=1)  # columns: the operator's block layout
    four = torch.stack([v, v.flip(0), -v, v.roll(1)], dim=1)
    for engine in ("cached", "revrev"):
        for chunking in ("auto", "batches"):
            op = HessianOperator(model, params, batches, cross_entropy_loss, engine=engine,
                                 chunk_samples=chunking, memory_budget_mb=4096)
            label = f"ours {engine} chunks={chunking}"
            methods[label] = lambda op=op: op.matvec(v)
            notes[label] = f"chunks of {op.chunk_sizes()[0]}, {len(op.chunk_sizes())} chunks"
            if engine == "cached" and chunking == "auto":
                methods["ours cached matmat k=2"] = lambda op=op: op.matmat(pair)
            if engine == "revrev" and chunking == "auto":
                methods["ours revrev matmat k=4"] = lambda op=op: op.matmat(four)
    with mock.patch("prunelimit.curvature.hvp.CheapDoubleBackward", contextlib.nullcontext):
        plain = HessianOperator(model, params, batches, cross_entropy_loss, engine="cached", memory_budget_mb=4096)
    methods["ours cached, plain graphs"] = lambda: plain.matvec(v)
    return methods, notes


def func_fwdrev(model: nn.Module, batches: list, v: torch.Tensor, compile: bool = False) -> Timed:
    """Forward-over-reverse HVPs with torch.func over the chunks: 1 and 4 probes, and
    optionally compiled."""
    from torch.func import functional_call, grad, jvp, vmap

    from prunelimit.curvature.rewrites import CheapDoubleBackward

    primal = {k: p.detach() for k, p in model.named_parameters()}
    n = sum(len(b[0]) for b in batches)
    shapes = [(k, p.shape, p.numel()) for k, p in primal.items()]

    def tangent(flat: torch.Tensor) -> dict:
        return {k: c.view(s) for (k, s, _), c in zip(shapes, flat.split([m for *_, m in shapes]))}

    def chunk_hvp(flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, rewrites: bool = True) -> torch.Tensor:
        def loss(p):
            with CheapDoubleBackward() if rewrites else contextlib.nullcontext():
                return nn.functional.cross_entropy(functional_call(model, p, (x,)), y, reduction="sum") / n
        _, t = jvp(grad(loss), (primal,), (tangent(flat),))
        return torch.cat([t[k].reshape(-1) for k, *_ in shapes])

    def hvp(flat: torch.Tensor) -> torch.Tensor:
        return sum(chunk_hvp(flat, x, y) for x, y in batches)

    four = torch.stack([v, v.flip(0), -v, v.roll(1)])
    methods = {"torch.func fwdrev": lambda: hvp(v), "torch.func fwdrev vmap k=4": lambda: vmap(hvp)(four)}
    if compile:
        compiled = torch.compile(lambda flat, x, y: chunk_hvp(flat, x, y, rewrites=False))
        start = time.perf_counter()
        reference = hvp(v)
        result = sum(compiled(v, x, y) for x, y in batches)
        print(f"torch.compile: first call {time.perf_counter() - start:.1f} s, relative difference "
              f"{float((result - reference).norm() / reference.norm()):.1e}")
        methods["torch.compile fwdrev"] = lambda: sum(compiled(v, x, y) for x, y in batches)
    return methods


def interleaved(methods: Timed, repeats: int) -> dict[str, float]:
    """Median seconds per method over ``repeats`` rounds, the order rotating each round."""
    names = list(methods)
    for f in methods.values():  # warm-up: allocator, lazy init
        f()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            start = time.perf_counter()
            methods[name]()
            times[name].append(time.perf_counter() - start)
    return {n: statistics.median(ts) for n, ts in times.items()}


def agreement(model: nn.Module, batches: list, v: torch.Tensor) -> float:
    """Relative difference between our HVP and PyHessian's (float32 noise expected)."""
    from pyhessian import hessian

    params = list(model.parameters())
    parts = [c.view_as(p) for c, p in zip(v.split([p.numel() for p in params]), params)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, theirs = hessian(model, nn.CrossEntropyLoss(), dataloader=batches, cuda=False).dataloader_hv_product(parts)
    mine = HessianOperator(model, params, batches, cross_entropy_loss).matvec(v)
    theirs_flat = torch.cat([t.reshape(-1) for t in theirs])
    return float((mine - theirs_flat).norm() / theirs_flat.norm())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd forward-over-reverse")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.samples} samples, batches of {args.batch}, "
          f"median of {args.repeats} interleaved rounds")
    for name in args.models.split(","):
        model, batches = problem(name, args.samples, args.batch)
        dim = sum(p.numel() for p in model.parameters())
        v = torch.randn(dim, generator=torch.Generator().manual_seed(1))
        methods: Timed = {"grad": gradient_pass(model, batches)}
        methods.update(pyhessian_methods(model, batches, v))
        mine, notes = ours(model, batches, v)
        methods.update(mine)
        methods.update(func_fwdrev(model, batches, v, args.compile))
        med = interleaved(methods, args.repeats)
        med["ours cached matmat k=2"] /= 2  # per probe
        med["torch.func fwdrev vmap k=4"] /= 4
        med["ours revrev matmat k=4"] /= 4
        print(f"\n{name}: {dim:,} parameters; ours vs PyHessian HVP relative difference "
              f"{agreement(model, batches, v):.1e}")
        print("| method | median ms | vs PyHessian loader | × grad | note |\n|---|---|---|---|---|")
        for label, t in med.items():
            print(f"| {label} | {1000 * t:.1f} | {med['pyhessian loader'] / t:.2f} | "
                  f"{t / med['grad']:.2f} | {notes.get(label, 'per probe' if 'matmat' in label or 'k=4' in label else '')} |")


if __name__ == "__main__":
    main()
