"""Model zoo and reference ρ* of the time-to-answer benchmark (bench_time_to_answer.py).

Five real-data classifiers, trained here with prunelimit's own LOMP training (so each
file records its model and data specs), and for each a reference ρ* that any faster
estimator is judged against:

* ``digits-cnn``: a 9,930-parameter CNN with BatchNorm on the bundled digits (1,437
  samples, 1×8×8), LOMP λ = 1e-3: the size where the exact spectrum was the default.
  Reference: the exact float64 spectrum (``api.bounds(method="exact")``, the very call the
  old default made for D ≤ 10,000, so its wall time and HVPs are also that arm's cost);
  its float64 HVPs (convolutions without oneDNN kernels) make that hours on 2 CPU cores.
* ``digits-cnn-small``: a 4,794-parameter CNN with BatchNorm, same data and training, whose
  exact reference fits in ~25 minutes on a shared CPU core.
* ``mnist1d-mlp``: MLP 40-200-200-10 (50,410 parameters) on mnist1d (1,600 training
  samples generated offline by the ``mnist1d`` package), plain SGD (no l1).
* ``digits-mlp-wide``: MLP 64-300-300-10 (112,810 parameters) on the digits, LOMP λ = 2e-3.
* ``digits-mlp-xl``: MLP 64-700-700-10 (543,210 parameters), same data and training: past
  the size (D ≥ 153,700 at tolerance 0.01) where adaptive SLQ starts from one probe.

SLQ references run each model's ``probes`` Rademacher probes × ``steps`` Lanczos steps on
float64 full-data HVPs with a float64 basis and full reorthogonalisation, enough for the
Gauss/Gauss–Radau bracket of the saved runs (``reference_bracket``, in ``summary``) to
certify the reference's truncation: mnist1d-mlp, whose ρ* was still moving by ±0.05 at
400 steps, needs 3,000. The raw tridiagonals
(α, β per probe), the probe seed, the per-batch losses (ε), the prunable weights (the
magnitude profile), D and N go to ``benchmarks/.cache/NAME-reference.npz``, rewritten
after every group of probes, so any estimator can be applied later without new HVPs
(``reference_ratio``) and an interrupted run keeps its finished probes (``--resume``).

Run from the repository root, one step at a time (each is deterministic: seeded, one
torch thread):

    python benchmarks/time_to_answer_models.py data          # mnist1d tensors (offline)
    python benchmarks/time_to_answer_models.py train         # the five checkpoints
    python benchmarks/time_to_answer_models.py reference digits-cnn-small
    python benchmarks/time_to_answer_models.py reference mnist1d-mlp   # 4 × 3,000: ~40 min
    python benchmarks/time_to_answer_models.py arms          # old default and paper, via the CLI
    python benchmarks/time_to_answer_models.py exact-estimate digits-cnn   # projected exact cost
    python benchmarks/time_to_answer_models.py summary       # ρ*(m), jackknife s.e., cost

Needs the ``bench`` extra (``pip install 'prunelimit[bench]'``) for ``data`` only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from prunelimit import api
from prunelimit.pruning.lomp import LompConfig

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("benchmarks/.cache")  # relative: the data specs recorded in the checkpoints use it
SEED = 0
CONVERGENCE_STEPS = (100, 200, 300, 400, 800, 1600, 3000)
GROUP = 4  # probes whose Lanczos bases (float64, steps × D each) are held at once
BATCH_SIZE = 128  # the analysis batches of `prunelimit bounds` (its default), which set ε
# 1,600 train / 400 test (the package's default is 5,000): float64 HVPs over more samples
# did not fit the reference's time budget on a shared 2-core machine.
MNIST1D_SAMPLES = 2_000


@dataclass(frozen=True)
class ModelCase:
    """One benchmark model: how it is built, trained and analysed."""

    name: str
    model: str
    data: str
    eval_data: str
    config: LompConfig
    reference: str  # "exact" or "slq"
    probes: int = 8  # an SLQ reference's plan
    steps: int = 400

    @property
    def checkpoint(self) -> Path:
        return CACHE / f"{self.name}.pt"

    @property
    def reference_file(self) -> Path:
        return CACHE / f"{self.name}-reference.npz"


def _mnist1d(split: str) -> str:
    return f"tensors:{CACHE}/mnist1d-{split}.pt"


MODELS = {
    case.name: case
    for case in (
        ModelCase(
            "digits-cnn", "benchmarks/time_to_answer_nets.py:digits_cnn", "digits:train:image=1",
            "digits:test:image=1",
            LompConfig(epochs=60, lr=0.05, l1=1e-3, schedule="cosine", batch_size=64, seed=0), "exact",
        ),
        ModelCase(
            "digits-cnn-small", "benchmarks/time_to_answer_nets.py:digits_cnn_small", "digits:train:image=1",
            "digits:test:image=1",
            LompConfig(epochs=60, lr=0.05, l1=1e-3, schedule="cosine", batch_size=64, seed=0), "exact",
        ),
        ModelCase(
            "mnist1d-mlp", "mlp:40,200,200,10", _mnist1d("train"), _mnist1d("test"),
            LompConfig(epochs=60, lr=0.05, l1=0.0, schedule="cosine", batch_size=64, seed=0), "slq", 4, 3_000,
        ),
        ModelCase(
            "digits-mlp-wide", "mlp:64,300,300,10", "digits:train", "digits:test",
            LompConfig(epochs=60, lr=0.05, l1=2e-3, schedule="cosine", batch_size=64, seed=0), "slq",
        ),
        ModelCase(
            "digits-mlp-xl", "mlp:64,700,700,10", "digits:train", "digits:test",
            LompConfig(epochs=60, lr=0.05, l1=2e-3, schedule="cosine", batch_size=64, seed=0), "slq", 4,
        ),
    )
}


def make_mnist1d(samples: int = MNIST1D_SAMPLES, name: str = "mnist1d") -> None:
    """``samples`` mnist1d samples generated locally (``make_dataset``; its ``get_dataset``
    would download), 80 % of them for training, as ``CACHE/{name}-{train,test}.pt``."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = samples
    data = make_dataset(args)
    CACHE.mkdir(parents=True, exist_ok=True)
    for split, x, y in (("train", data["x"], data["y"]), ("test", data["x_test"], data["y_test"])):
        path = CACHE / f"{name}-{split}.pt"
        torch.save({"x": torch.as_tensor(x, dtype=torch.float32), "y": torch.as_tensor(y, dtype=torch.int64)}, path)
        print(f"wrote {path}: x {tuple(x.shape)}, {len(set(y.tolist()))} classes")


def train_case(case: ModelCase) -> dict:
    """Train one model; returns its train/test accuracy and the command that does the same."""
    from prunelimit.inputs import load_batches
    from prunelimit.models.evaluate import evaluate
    from prunelimit.models.load import load_model
    from prunelimit.data.loss import resolve_loss

    CACHE.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = api.train(case.model, case.data, case.checkpoint, case.config, eval_data=case.eval_data,
                       device="cpu", force=True)
    seconds = time.perf_counter() - start
    net = load_model(case.checkpoint, case.model).model
    loss = resolve_loss("ce")
    train_eval = evaluate(net, load_batches(case.data, BATCH_SIZE), loss)
    test_eval = evaluate(net, load_batches(case.eval_data, BATCH_SIZE), loss)
    return {
        "name": case.name, "checkpoint": str(case.checkpoint), "seconds": seconds,
        "train_accuracy": train_eval.accuracy, "test_accuracy": test_eval.accuracy,
        "train_loss": train_eval.loss, "test_loss": test_eval.loss,
        "last_epoch": asdict(result.history[-1]), "command": train_command(case),
    }


def train_command(case: ModelCase) -> str:
    c = case.config
    return (f"prunelimit train --model {case.model} --data {case.data} --eval-data {case.eval_data} "
            f"--l1 {c.l1:g} --epochs {c.epochs} --lr {c.lr:g} --schedule {c.schedule} "
            f"--batch-size {c.batch_size} --seed {c.seed} -o {case.checkpoint} --force")


# --------------------------------------------------------------------------- references


def _inputs(case: ModelCase):
    from prunelimit.inputs import load_inputs

    return load_inputs(case.checkpoint, case.model, case.data, batch_size=BATCH_SIZE, device="cpu")


def _analysis_fields(inputs, op) -> dict:
    """ε's inputs, the magnitude profile's inputs, D and N, as arrays for the .npz."""
    from prunelimit.models.params import prunable_parameters

    weights = [p.detach() for _, p in prunable_parameters(inputs.model, inputs.selection)]
    return {
        "batch_losses": op.batch_losses(),
        "batch_sizes": np.asarray(op.batch_sizes()),
        "prunable_weights": np.concatenate([w.double().reshape(-1).numpy() for w in weights]),
        "prunable_sizes": np.asarray([w.numel() for w in weights]),
        "dim": np.int64(op.dim),
        "samples": np.int64(op.samples),
        "loss": np.float64(op.loss()),
    }


def _save(path: Path, fields: dict) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **fields)
    os.replace(tmp, path)


def exact_reference(case: ModelCase) -> dict:
    """The exact float64 spectrum through ``api.bounds(method="exact")``: the reference and
    the old default's cost for D ≤ 10,000 in one computation."""
    inputs = _inputs(case)
    rep = api.bounds(inputs, api.CurvatureOptions(method="exact"))
    spec = rep.spectrum
    fields = {
        "kind": np.str_("exact"),
        "eigenvalues": spec.quadrature.nodes[0],
        "epsilon": np.float64(rep.epsilon),
        "ratio": np.float64(rep.prediction.ratio),
        "seconds": np.float64(spec.seconds),
        "hvps": np.int64(spec.hvps),
        "batch_losses": spec.batch_losses,
        "prunable_weights": _weights(inputs),
        "dim": np.int64(spec.params_hessian),
        "samples": np.int64(sum(len(b[0]) for b in inputs.batches)),
        "loss": np.float64(spec.loss),
        "threads": np.int64(torch.get_num_threads()),
    }
    _save(case.reference_file, fields)
    return {k: (v.item() if np.ndim(v) == 0 else None) for k, v in fields.items() if np.ndim(v) == 0}


def _weights(inputs) -> np.ndarray:
    from prunelimit.models.params import prunable_parameters

    return np.concatenate(
        [p.detach().double().reshape(-1).numpy() for _, p in prunable_parameters(inputs.model, inputs.selection)]
    )


def slq_reference(case: ModelCase, probes: int, steps: int, seed: int, resume: bool) -> dict:
    """High-budget SLQ on float64 HVPs; the tridiagonals are saved after every probe group."""
    from prunelimit.curvature.hvp import HessianOperator
    from prunelimit.curvature.lanczos import lanczos_lockstep
    from prunelimit.curvature.operator import Columnwise
    from prunelimit.curvature.slq import rademacher
    from prunelimit.models.params import hessian_parameters
    from prunelimit.theory.epsilon import epsilon_from_losses

    inputs = _inputs(case)
    params = [p for _, p in hessian_parameters(inputs.model, inputs.selection)]
    start = time.perf_counter()
    op = HessianOperator(inputs.model, params, inputs.batches, inputs.loss_fn, dtype=torch.float64,
                         memory_budget_mb=api.CPU_MEMORY_BUDGET_MB, probes=GROUP)
    setup = time.perf_counter() - start
    dim = op.dim
    generator = torch.Generator().manual_seed(seed)
    starts = torch.stack([rademacher(dim, generator) for _ in range(probes)])  # the probes of slq(seed=seed)
    alpha = np.full((probes, steps), np.nan)
    beta = np.full((probes, steps - 1), np.nan)
    residual = np.full(probes, np.nan)
    done, seconds, hvps = 0, setup, 0
    if resume and case.reference_file.is_file():
        old = np.load(case.reference_file)
        if int(old["seed"]) == seed and old["alpha"].shape[1] == steps:
            done = int(old["probes_done"])
            alpha[:done], beta[:done], residual[:done] = old["alpha"][:done], old["beta"][:done], old["residual"][:done]
            seconds, hvps = float(old["seconds"]), int(old["hvps"])
    block = op if op.lockstep > 1 else Columnwise(op)
    fields = {"kind": np.str_("slq"), "seed": np.int64(seed), "epsilon": np.float64(epsilon_from_losses(op.batch_losses())),
              "engine": np.str_(op.engine), "threads": np.int64(torch.get_num_threads()), **_analysis_fields(inputs, op)}
    for first in range(done, probes, GROUP):
        group = range(first, min(first + GROUP, probes))
        t0 = time.perf_counter()
        results = lanczos_lockstep(block, steps, starts[list(group)], storage_dtype=torch.float64)
        seconds += time.perf_counter() - t0
        for r, res in zip(group, results):
            k = len(res.alpha)
            alpha[r, :k], beta[r, : k - 1], residual[r] = res.alpha, res.beta, res.residual
            hvps += k
        done = group[-1] + 1
        _save(case.reference_file, {**fields, "alpha": alpha, "beta": beta, "residual": residual,
                                    "probes_done": np.int64(done), "seconds": np.float64(seconds),
                                    "hvps": np.int64(hvps), "setup_seconds": np.float64(setup)})
        print(f"{case.name}: {done}/{probes} probes, {seconds:.0f} s, {hvps} HVPs", flush=True)
    return {"name": case.name, "probes": done, "seconds": seconds, "hvps": hvps, "engine": op.engine}


# --------------------------------------------------------------------------- the old arms, timed


# The two pre-adaptive configurations, as `prunelimit bounds` flags. "old-default" is SLQ
# 8 × 200 on float32 HVPs above D = 10,000; at or below it the old default was the exact
# spectrum, which is the exact reference run itself (same call, same cost).
ARMS = {
    "old-default": ("--method", "default", "--runs", "8", "--iterations", "200"),
    "paper": ("--method", "paper"),
    "new-default": ("--no-cache",),
}


def arm_command(case: ModelCase, arm: str) -> list[str]:
    return ["prunelimit", "bounds", str(case.checkpoint), "--model", case.model, "--data", case.data,
            *ARMS[arm], "--json"]


def run_arm(case: ModelCase, arm: str) -> dict:
    """Run one arm through the CLI on one torch thread; its JSON goes to the cache."""
    import subprocess

    cmd = [sys.executable, "-m", *arm_command(case, arm)]  # python -m prunelimit: this checkout's code
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-500:]}")
    out = {"command": " ".join(arm_command(case, arm)), "wall_seconds": wall, "report": json.loads(proc.stdout)}
    (CACHE / f"{case.name}-{arm}.json").write_text(json.dumps(out, indent=1))
    rep = out["report"]
    return {"name": case.name, "arm": arm, "ratio": rep["prediction"]["ratio"], "seconds": rep["timing"]["seconds"],
            "hvps": rep["timing"]["hvps"], "wall_seconds": wall}


def exact_cost_estimate(case: ModelCase, blocks: int = 1) -> dict:
    """Seconds per HVP of the exact solver's float64 column blocks, measured on ``blocks``
    blocks, and the HVP part of ``--method exact`` projected to all D columns (the
    eigensolve and the setup are not included)."""
    from prunelimit.curvature.exact import columns_per_product
    from prunelimit.curvature.hvp import HessianOperator
    from prunelimit.models.params import hessian_parameters

    inputs = _inputs(case)
    params = [p for _, p in hessian_parameters(inputs.model, inputs.selection)]
    op = HessianOperator(inputs.model, params, inputs.batches, inputs.loss_fn, dtype=torch.float64,
                         memory_budget_mb=api.CPU_MEMORY_BUDGET_MB)
    eye, block = torch.eye(op.dim, dtype=torch.float64), columns_per_product(op)  # as the exact solver forms them
    start = time.perf_counter()
    for b in range(blocks):
        op.matmat(eye[:, b * block : (b + 1) * block])
    per_hvp = (time.perf_counter() - start) / (blocks * block)
    out = {"name": case.name, "dim": op.dim, "seconds_per_hvp": per_hvp, "hvps": op.dim,
           "projected_hvp_seconds": per_hvp * op.dim, "engine": op.engine}
    (CACHE / f"{case.name}-exact-estimate.json").write_text(json.dumps(out, indent=1))
    return out


# --------------------------------------------------------------------------- estimators on saved runs


def load_reference(path: Path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def profile_of(ref: dict):
    from prunelimit.theory.profile import MagnitudeProfile

    return MagnitudeProfile.from_tensors([torch.from_numpy(ref["prunable_weights"])])


def quadrature(ref: dict, steps: int | None = None, probes: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature (nodes, weights) per probe from the first ``steps`` Lanczos steps
    (all when ``None``) of the saved runs ``probes`` (all finished ones when ``None``)."""
    from prunelimit.curvature.lanczos import ritz

    if ref["kind"] == "exact":
        eig = ref["eigenvalues"]
        return eig[None, :], np.full((1, len(eig)), 1.0 / len(eig))
    return _padded([ritz(*_tridiagonal(ref, r, steps)) for r in
                    (range(int(ref["probes_done"])) if probes is None else probes)])


def _tridiagonal(ref: dict, run: int, steps: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(α, β)`` of saved run ``run`` after ``steps`` steps (all when ``None``); a run
    that broke down or was saved shorter has NaN past its end."""
    a = ref["alpha"][run, : ref["alpha"].shape[1] if steps is None else steps]
    k = int(np.sum(~np.isnan(a)))
    return a[:k], ref["beta"][run, : k - 1]


def _padded(rules: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(n) for n, _ in rules)
    nodes, weights = np.zeros((len(rules), width)), np.zeros((len(rules), width))
    for i, (n, w) in enumerate(rules):
        nodes[i, : len(n)], weights[i, : len(w)] = n, w
    return nodes, weights


def reference_bracket(ref: dict, steps: int | None = None) -> tuple[float, float]:
    """``(ρ_lo, ρ_hi)`` holding the probes' exact ρ*, from each saved run's Gauss and
    Gauss–Radau rules in λ² (``prunelimit.curvature.bracket``): what certifies an SLQ
    reference's truncation, independently of how ρ* moved with the steps."""
    from prunelimit.curvature.bracket import abs_bracket
    from prunelimit.theory.limit import predict_limit

    if ref["kind"] == "exact":
        ratio = reference_ratio(ref)
        return ratio, ratio
    runs = [abs_bracket(*_tridiagonal(ref, r, steps)) for r in range(int(ref["probes_done"]))]
    lower, upper = [run.lower for run in runs], [run.upper for run in runs]
    profile, dim, epsilon = profile_of(ref), int(ref["dim"]), float(ref["epsilon"])
    return tuple(predict_limit(profile, *_padded(side), dim, epsilon, bound_mode="none").ratio
                 for side in (lower, upper))


def reference_ratio(ref: dict, steps: int | None = None, probes: list[int] | None = None) -> float:
    """ρ* (the default's continuous fixed point, negative eigenvalues as |λ|) of the saved runs."""
    from prunelimit.theory.limit import predict_limit

    nodes, weights = quadrature(ref, steps, probes)
    return predict_limit(profile_of(ref), nodes, weights, int(ref["dim"]), float(ref["epsilon"]),
                         bound_mode="none").ratio


def jackknife_stderr(ref: dict, steps: int | None = None) -> float:
    """Leave-one-probe-out jackknife standard error of ρ* over the saved probes."""
    n = int(ref["probes_done"])
    loo = np.array([reference_ratio(ref, steps, [j for j in range(n) if j != i]) for i in range(n)])
    return float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))


def subset_errors(ref: dict, reference: float) -> dict:
    """|ρ* − reference| of cheaper budgets replayed from the saved float64 runs: each probe
    alone at 128 steps (the paper's budget) and disjoint groups of 8 probes at 200 steps
    (the old default's), as mean and max over the subsets."""
    n = int(ref["probes_done"])
    out = {}
    for label, size, steps in (("1x128", 1, 128), ("8x200", 8, 200)):
        if steps > ref["alpha"].shape[1] or n < size:
            continue
        errors = [abs(reference_ratio(ref, steps, list(range(g, g + size))) - reference)
                  for g in range(0, n - size + 1, size)]
        out[label] = {"subsets": len(errors), "mean_abs_error": float(np.mean(errors)), "max_abs_error": float(np.max(errors))}
    return out


def summary(names: list[str]) -> list[dict]:
    from prunelimit.theory.uncertainty import hutchinson_bound

    rows = []
    for name in names:
        case = MODELS[name]
        if not case.reference_file.is_file():
            continue
        ref = load_reference(case.reference_file)
        row = {"name": name, "kind": str(ref["kind"]), "dim": int(ref["dim"]), "samples": int(ref["samples"]),
               "epsilon": float(ref["epsilon"]), "seconds": float(ref["seconds"]), "hvps": int(ref["hvps"]),
               "ratio": reference_ratio(ref)}
        if row["kind"] == "slq":
            row["probes"] = int(ref["probes_done"])
            steps = [m for m in CONVERGENCE_STEPS if m <= ref["alpha"].shape[1]] + [ref["alpha"].shape[1]]
            steps = sorted(set(steps))
            row["ratio_at_steps"] = {m: reference_ratio(ref, m) for m in steps}
            row["jackknife_stderr"] = {m: jackknife_stderr(ref, m) for m in steps}
            row["bracket_at_steps"] = {m: reference_bracket(ref, m) for m in steps}
            row["bracket"] = row["bracket_at_steps"][steps[-1]]
            row["probe_bound"] = hutchinson_bound(row["ratio"], row["dim"], row["probes"])
            row["subsets"] = subset_errors(ref, row["ratio"])
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("data", "train", "reference", "arms", "exact-estimate", "summary"))
    parser.add_argument("names", nargs="*", help=f"models (default all): {', '.join(MODELS)}")
    parser.add_argument("--probes", type=int, help="an SLQ reference's probes (default: the model's)")
    parser.add_argument("--steps", type=int, help="an SLQ reference's steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="keep the probes an earlier run saved")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.chdir(ROOT)  # the specs recorded in the checkpoints are relative to the repository root
    names = args.names or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    if args.step == "data":
        make_mnist1d()
    elif args.step == "train":
        for name in names:
            print(json.dumps(train_case(MODELS[name]), default=float), flush=True)
    elif args.step == "reference":
        for name in names:
            case = MODELS[name]
            out = exact_reference(case) if case.reference == "exact" else slq_reference(
                case, args.probes or case.probes, args.steps or case.steps, args.seed, args.resume)
            print(json.dumps(out, default=float), flush=True)
    elif args.step == "arms":
        for name in names:
            for arm in ARMS:
                if arm == "old-default" and MODELS[name].reference == "exact":
                    continue  # the old default was the exact spectrum: see exact-estimate / the reference
                print(json.dumps(run_arm(MODELS[name], arm)), flush=True)
    elif args.step == "exact-estimate":
        for name in names:
            print(json.dumps(exact_cost_estimate(MODELS[name])), flush=True)
    else:
        for row in summary(names):
            print(json.dumps(row, default=float))


if __name__ == "__main__":
    main()
