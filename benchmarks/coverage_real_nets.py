"""How often ρ*'s stated ± holds the exact ρ* on small real networks (results:
docs/accuracy.md, "Coverage on real networks").

Each model (an ``mlp:`` spec or a name of ``ARCHITECTURES``: CNNs plain, with BatchNorm or
GroupNorm, MLPs with LayerNorm, GELU or tanh, a tiny self-attention model, an MLP fitting
one-hot targets by ``--loss mse``; at D 4,192–4,810, where adaptive SLQ's focus fires, a
CNN with BatchNorm and a hidden linear layer, a LayerNorm–GELU MLP, an MSE MLP regressing a digit's
bottom half on its top half, an MLP memorising 400 random labels; a GRU over the digit's rows
and a self-attention model of width 32, D 4,362 and 4,842) is trained on the bundled
digits (``prunelimit.train``, 30 epochs, 400 for the memoriser, plainly with ``l1=0`` or
with ``--l1``), small enough for its exact float64 spectrum
(``method="exact"``, the reference). Every plan then runs ``prunelimit.bounds(...,
method="slq", seed=s)`` for ``--seeds`` probe seeds, as ``bounds --method slq --seed s``
does, and counts whether ``|ρ̂ − ρ*_exact| ≤ ± + 1e-6`` (``COVER_SLACK``); a Wilson 95 % interval goes with each
rate, the runs that focused (``focused``) and a row per way the run stopped (``stopped_by``,
probe part, runs). A plan is
``tol=T`` (adaptive SLQ to ``--tolerance T``), ``RxM`` (the fixed plan ``--runs R
--iterations M``), ``hs=N`` (adaptive SLQ with ``--hessian-samples N``, compared with
the full data's exact ρ*: the data part covers the scatter between subsets only,
docs/accuracy.md) or several joined by ``+``, e.g. ``3x40+eps=1e-5`` (``eps=E``: a given
``--epsilon``, the reference's too; ``max=N``: ``--max-hvps N``); ``PLAN:N`` runs it for N
seeds. One torch thread; each line of ``--out`` is one run (JSON).

    PYTHONPATH=. python benchmarks/coverage_real_nets.py --models mlp:64,32,10 \\
        --plans tol=0.01,tol=0.03,3x40 --seeds 20
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import torch
from coverage_spectra import wilson
from torch import nn

import prunelimit
from prunelimit.data.spec import load_dataset
from prunelimit.models.spec import build_model

# A run carried to D steps states ± 0 from float32 products: its rounding part, ~1e-8 here, is
# below what the ± states (theory.uncertainty.ROUNDING_REACH_NOTED), so a hit allows this much
COVER_SLACK = 1e-6


def tiny_cnn(norm: str = "") -> nn.Module:
    """8 3×3 channels, a 2×2 pool and a linear head on the 1×8×8 digits: 1,370 parameters
    (``norm``: ``bn`` a BatchNorm after the convolution, analysed in eval mode; ``gn`` a
    GroupNorm of 2 groups; 16 more either way)."""
    norms = {"": [], "bn": [nn.BatchNorm2d(8)], "gn": [nn.GroupNorm(2, 8)]}[norm]
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), *norms, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))


class TinyAttention(nn.Module):
    """The 8×8 digit as 8 tokens (its rows) of 8 features, embedded to 16, one single-head
    self-attention layer with a residual, mean-pooled into a linear head: 1,402 parameters
    (4,842 at ``width`` 32); ``tokens`` 5 reads an mnist1d sequence of 40 as 5 tokens."""

    def __init__(self, width: int = 16, tokens: int = 8) -> None:
        super().__init__()
        self.embed, self.qkv, self.out = nn.Linear(8, width), nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.head, self.tokens = nn.Linear(width, 10), tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x.reshape(-1, self.tokens, 8))
        q, k, v = self.qkv(tokens).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1)
        return self.head((tokens + self.out(weights @ v)).mean(dim=1))


class GRURows(nn.Module):
    """The 8×8 digit as a sequence of its 8 rows through a GRU of ``hidden`` units, its last
    hidden state into a linear head: 4,362 parameters at 32, in the Hessian either way; its
    3,840 recurrent weights, which the default prunable set leaves out, are pruned by
    ``include`` (``INCLUDE``); ``tokens`` 5 reads an mnist1d sequence of 40 as 5 steps of 8."""

    def __init__(self, hidden: int = 32, tokens: int = 8) -> None:
        super().__init__()
        self.rnn, self.head = nn.GRU(8, hidden, batch_first=True), nn.Linear(hidden, 10)
        self.tokens = tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x.reshape(-1, self.tokens, 8))[1][-1])


def cnn_bn_hidden() -> nn.Module:
    """16 3×3 channels with a BatchNorm (eval mode), a ReLU and a 2×2 pool, then a hidden
    linear layer of 16 and a linear head on the 1×8×8 digits: 4,442 parameters (32 more in
    the norm)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 10))


def digits_data(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled digits as a family trains on them: ``flat`` (64 features) or ``image``
    (1×8×8) with their classes, ``one-hot`` their classes as MSE targets, ``halves`` the top
    four rows as inputs and the bottom four as regression targets, ``random-labels`` the
    first 400 with seeded random classes (to be memorised)."""
    data = load_dataset("digits:train:image=1" if kind == "image" else "digits:train")
    if kind == "one-hot":
        return data.x, nn.functional.one_hot(data.y, 10).float()
    if kind == "halves":
        return data.x[:, :32].contiguous(), data.x[:, 32:].contiguous()
    if kind == "random-labels":
        return data.x[:400], torch.randint(0, 10, (400,), generator=torch.Generator().manual_seed(0))
    return data.x, data.y


# named models beside mlp specs: (factory, digits_data kind, loss, epochs). The first eight,
# D ≤ 2,474, take seconds for the exact reference; the last four (D 4,192–4,810: 1½ min for
# the LayerNorm–GELU MLP's on one thread) are where adaptive SLQ's focus fires, plainly trained
ARCHITECTURES = {
    "cnn": (tiny_cnn, "image", "ce", 30),
    "cnn-bn": (lambda: tiny_cnn("bn"), "image", "ce", 30),
    "cnn-gn": (lambda: tiny_cnn("gn"), "image", "ce", 30),
    "mlp-ln": (lambda: nn.Sequential(nn.Linear(64, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 10)), "flat", "ce", 30),
    "mlp-gelu": (lambda: nn.Sequential(nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 10)), "flat", "ce", 30),
    "mlp-tanh": (lambda: nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10)), "flat", "ce", 30),
    "attn": (TinyAttention, "flat", "ce", 30),
    "mlp-mse": (lambda: build_model("mlp:64,16,10"), "one-hot", "mse", 30),
    "cnn-bn-hidden": (cnn_bn_hidden, "image", "ce", 30),
    "mlp-ln-gelu": (lambda: nn.Sequential(nn.Linear(64, 64), nn.LayerNorm(64), nn.GELU(), nn.Linear(64, 10)),
                    "flat", "ce", 30),
    "mlp-halves": (lambda: build_model("mlp:32,64,32"), "halves", "mse", 30),
    "mlp-memo": (lambda: build_model("mlp:64,64,10"), "random-labels", "ce", 400),
    "gru": (GRURows, "flat", "ce", 30),
    "attn-32": (lambda: TinyAttention(32), "flat", "ce", 30),
}

# ``include`` patterns of the families whose weights the default prunable set leaves out in
# part (the GRU's recurrent ones: N and ρ* would count the rest), for the reference and every run alike
INCLUDE = {"gru": ("rnn", "head")}


def trained(spec: str, l1: float, seed: int) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor], str]:
    """The model of ``spec`` (an mlp spec or a name of ARCHITECTURES) trained on the digits,
    its data and its loss."""
    factory, kind, loss, epochs = ARCHITECTURES.get(spec, (lambda: build_model(spec), "flat", "ce", 30))
    data = digits_data(kind)
    torch.manual_seed(seed)
    model = factory()
    prunelimit.train(model, data, loss=loss, epochs=epochs, l1=l1, seed=seed)
    return model, data, loss


def model_specs(text: str) -> list[str]:
    """``--models``' specs: a number continues the mlp spec before it."""
    specs: list[str] = []
    for part in text.split(","):
        if part.isdigit() and specs and specs[-1].startswith("mlp:"):
            specs[-1] += "," + part
        else:
            specs.append(part)
    return specs


def plan_options(plan: str) -> dict:
    """``bounds`` options of a plan: ``+``-joined parts ``tol=T``, ``hs=N``, ``eps=E`` (a given
    ``--epsilon``), ``max=N`` (``--max-hvps``) or ``RxM`` (``--runs R --iterations M``)."""
    options: dict = {}
    for part in plan.split("+"):
        if part.startswith("tol="):
            options["tolerance"] = float(part[4:])
        elif part.startswith("hs="):
            options["hessian_samples"] = int(part[3:])
        elif part.startswith("eps="):
            options["epsilon"] = float(part[4:])
        elif part.startswith("max="):
            options["max_hvps"] = int(part[4:])
        else:
            runs, steps = part.split("x")
            options.update(runs=int(runs), iterations=int(steps))
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mlp:64,4,10,mlp:64,16,10,mlp:64,32,10,cnn",
                        help="comma-separated mlp specs or names of ARCHITECTURES (an mlp spec's own commas are kept)")
    parser.add_argument("--l1", default="0,1e-3", help="comma-separated training λ (0: plainly trained)")
    parser.add_argument("--train-seeds", default="0")
    parser.add_argument("--plans", default="tol=0.01,tol=0.03,1x40,3x40,8x30",
                        help="comma-separated plans (module doc), each PLAN or PLAN:SEEDS")
    parser.add_argument("--seeds", type=int, default=20, help="probe seeds a plan, unless it says PLAN:SEEDS")
    parser.add_argument("--out", default="coverage_real_nets.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = [(spec, l1, train_seed, *trained(spec, l1, train_seed))
              for spec in model_specs(args.models) for l1 in map(float, args.l1.split(","))
              for train_seed in map(int, args.train_seeds.split(","))]
    plans = [(plan.split(":")[0], int(plan.split(":")[1]) if ":" in plan else args.seeds)
             for plan in args.plans.split(",")]
    exact: dict[tuple, object] = {}  # the reference of each model and given ε
    with open(args.out, "a") as out:
        for plan, seeds in plans:  # plan by plan: the cheap fixed plans of every model come first
            epsilon = plan_options(plan).get("epsilon")
            for index, (spec, l1, train_seed, model, data, loss) in enumerate(models):
                if (index, epsilon) not in exact:
                    exact[index, epsilon] = prunelimit.bounds(model, data, loss=loss, method="exact",
                                                                epsilon=epsilon, include=INCLUDE.get(spec, ()))
                reference = exact[index, epsilon]
                rows = []
                for seed in range(seeds):
                    start = time.perf_counter()
                    got = prunelimit.bounds(model, data, loss=loss, method="slq", seed=seed,
                                            include=INCLUDE.get(spec, ()), **plan_options(plan))
                    u = got.uncertainty
                    rows.append({"model": spec, "l1": l1, "train_seed": train_seed,
                                 "dim": reference.spectrum.params_hessian, "plan": plan, "seed": seed,
                                 "exact": reference.ratio, "ratio": got.ratio, "plus_minus": u.plus_minus,
                                 "uncertainty": u.to_json(), "stopped_by": got.spectrum.stopped_by,
                                 "hvps": got.spectrum.hvps, "focused": focused(got.spectrum.trail, reference.spectrum.params_hessian),
                                 "covered": abs(got.ratio - reference.ratio) <= u.plus_minus + COVER_SLACK,
                                 "seconds": time.perf_counter() - start})
                    out.write(json.dumps(rows[-1]) + "\n")
                    out.flush()
                print(summary(rows), flush=True)


def focused(trail, dim: int) -> bool:
    """Whether adaptive SLQ carried the first run on alone short of D steps (a focus; carried
    to D it is an exhaustion) after a stage of several runs."""
    return any(before.runs > 1 and stage.runs == 1 and stage.steps < dim for before, stage in zip(trail, trail[1:]))


def summary(rows: list[dict]) -> str:
    """One cell: coverage with its Wilson interval, the median ± and |error|, mean HVPs, the
    runs that focused, and coverage by how the runs stopped (stopped_by, probe part, runs)."""
    hits = sum(r["covered"] for r in rows)
    lo, hi = wilson(hits, len(rows))
    kinds: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        kind = kinds[(r["stopped_by"], r["uncertainty"]["probes_kind"], r["uncertainty"]["runs"])]
        kind[0] += r["covered"]
        kind[1] += 1
    first = rows[0]
    return (f"{first['model']} l1={first['l1']:g} seed={first['train_seed']} D={first['dim']} "
            f"ρ*={first['exact']:.4f} {first['plan']}: {hits}/{len(rows)} [{100 * lo:.1f}, {100 * hi:.1f}] "
            f"median ± {sorted(r['plus_minus'] for r in rows)[len(rows) // 2]:.4f}, "
            f"median |error| {sorted(abs(r['ratio'] - r['exact']) for r in rows)[len(rows) // 2]:.4f}, "
            f"mean HVPs {sum(r['hvps'] for r in rows) / len(rows):.0f}, focused {sum(r['focused'] for r in rows)}; "
            + "; ".join(f"{k}: {c}/{n}" for k, (c, n) in sorted(kinds.items(), key=str)))


if __name__ == "__main__":
    main()
