"""How often ρ*'s stated ± holds the exact ρ*, by spectrum family (results: docs/accuracy.md,
"Coverage by spectrum family").

Each family is a spectrum λ of D eigenvalues, put in a random orthonormal basis (``Q diag(λ)
Qᵀ``: on a diagonal matrix Rademacher probes have no variance; ``--diagonal`` keeps it
diagonal) with a Laplace weight profile; ε is bisected so that the exact ρ*, solved from λ
itself, is ``--ratio``. Every seed runs SLQ as the library states it (a fixed plan, or
adaptive SLQ to ``--tolerance`` as ``bounds`` runs it) and counts whether ``|ρ̂ − ρ*| ≤ ±``;
a Wilson 95 % interval goes with each rate.

    python benchmarks/coverage_spectra.py --family power-law --plans 1x40,3x40 --seeds 200
    python benchmarks/coverage_spectra.py --family negative-1/c --negative flat --plans 3x12
    python benchmarks/coverage_spectra.py --family two-clusters --dim 600 --adaptive --seeds 100
    python benchmarks/coverage_spectra.py --family far-cluster-top --float32 --plans 3x40
    python benchmarks/coverage_spectra.py --family cauchy --dim 3000 --dct-basis --adaptive --max-hvps 800 --seeds 40
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter

import numpy as np
import torch
from scipy.fft import dct, idct

from prunelimit.api.curvature import LimitTarget, _slq_spectrum, slq_uncertainty
from prunelimit.api.options import CurvatureOptions, SolverChoice
from prunelimit.curvature.operator import DenseOperator
from prunelimit.curvature.slq import slq
from prunelimit.theory.limit import predict_from_quadrature, predict_limit
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.uncertainty import initial_runs


def spectrum(family: str, dim: int, rng: np.random.Generator) -> np.ndarray:
    """The family's eigenvalues (``negative-1/c`` is finished by ``problem``, which knows c)."""
    if family == "power-law":
        return 10.0 * np.arange(1, dim + 1) ** -2.0
    if family == "pareto":
        return rng.pareto(0.8, dim) * 1e-3
    if family == "two-clusters":
        return np.concatenate([rng.normal(1e-3, 1e-5, dim // 2), rng.normal(10, 0.1, dim - dim // 2)])
    if family == "outlier-flat":
        return np.concatenate([[1e4], np.full(dim - 1, 1e-2)])
    if family == "repeated":
        return np.resize(np.repeat([1e-4, 1e-2, 0.1, 1.0, 10.0], math.ceil(dim / 5)), dim)
    if family == "all-equal":
        return np.ones(dim)
    if family == "rank-deficient":  # 95 % exactly 0: ρ* ≥ 0.95 whatever ε
        lam = np.zeros(dim)
        lam[: max(1, dim // 20)] = rng.lognormal(0, 1, max(1, dim // 20))
        return lam
    if family == "negative-1/c":
        return rng.lognormal(-3, 2, dim)
    if family == "saddle":  # a model not at a minimum: half the spectrum negative, of the same sizes
        return rng.lognormal(-3, 2, dim) * np.where(rng.random(dim) < 0.5, -1.0, 1.0)
    if family == "far-cluster-top":  # 60 % in a tight cluster far below the rest, one huge top (ghosts)
        cluster = int(0.6 * dim)
        rest = np.exp(rng.uniform(0.0, np.log(3.0), dim - cluster - 1))
        return np.concatenate([rng.normal(1e-2, 1e-5, cluster), rest, [1e3]])
    if family == "cauchy":  # heavy-tailed: |Cauchy|, tail index 1
        return np.abs(rng.standard_cauchy(dim)) * 1e-2
    if family == "null-edge":  # 70 % exactly 0 under a fine indefinite bulk, a tail to 1.37 (mnist1d's shape)
        zeros, bulk = int(0.7 * dim), int(0.25 * dim)
        signs = np.where(rng.random(bulk) < 0.4, -1.0, 1.0)
        stiff = np.exp(rng.uniform(np.log(2e-3), np.log(1.37), dim - zeros - bulk))
        return np.concatenate([np.zeros(zeros), rng.uniform(0, 1.6e-3, bulk) * signs, stiff])
    raise SystemExit(f"unknown family {family!r}")


FAMILIES = ("power-law", "pareto", "two-clusters", "outlier-flat", "repeated", "all-equal", "rank-deficient",
            "negative-1/c", "saddle", "far-cluster-top", "cauchy", "null-edge")


def exact_ratio(profile: MagnitudeProfile, lam: np.ndarray, epsilon: float, negative: str) -> float:
    dim = len(lam)
    return predict_limit(profile, lam[None], np.full((1, dim), 1 / dim), dim, epsilon, bound_mode="none",
                         negative=negative).ratio


def epsilon_for(profile: MagnitudeProfile, lam: np.ndarray, ratio: float, negative: str) -> float:
    """ε whose exact ρ* is ``ratio`` (bisected in log ε; ρ* rises with ε), or the end nearest."""
    low, high = -20.0, 10.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if exact_ratio(profile, lam, 10**mid, negative) < ratio else (low, mid)
    return 10**high


class DctBasisOperator:
    """``Q diag(λ) Qᵀ`` with ``Q = S₂ Cᵀ P S₁ Cᵀ`` (C the orthonormal DCT-II, S random signs, P a
    random permutation): a delocalised orthonormal basis whose products cost O(D log D), for D
    where a dense random basis would not fit or would take minutes a product."""

    def __init__(self, lam: np.ndarray, rng: np.random.Generator) -> None:
        dim = len(lam)
        self.signs, self.perm, self.signs2 = rng.choice([-1.0, 1.0], dim), rng.permutation(dim), rng.choice([-1.0, 1.0], dim)
        self.lam, self.inverse = lam, np.argsort(self.perm)
        self.shape, self.dtype, self.device, self.lockstep = (dim, dim), torch.float64, torch.device("cpu"), 1

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        x = dct(self.signs2[:, None] * V.numpy(), norm="ortho", axis=0)  # Qᵀ V ...
        x = dct((self.signs[:, None] * x)[self.perm], norm="ortho", axis=0)
        x = idct(self.lam[:, None] * x, norm="ortho", axis=0)  # ... scaled, then Q
        return torch.from_numpy(self.signs2[:, None] * idct(self.signs[:, None] * x[self.inverse], norm="ortho", axis=0)).to(V)

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.matmat(v[:, None])[:, 0]


def problem(family: str, dim: int, ratio: float, negative: str, diagonal: bool, dtype: torch.dtype = torch.float64,
            dct_basis: bool = False):
    """``(operator, limit target, exact ρ*)``; ``negative-1/c`` sets 40 % of a log-normal
    spectrum to −(0.3 … 3)/c, c = R(ρ*)²/2ε at the ε that puts the rest's ρ* at ``ratio``."""
    rng = np.random.default_rng(0)
    lam = spectrum(family, dim, rng)
    if dct_basis:
        fast = DctBasisOperator(lam, rng)
    else:
        basis = np.eye(dim) if diagonal else np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    profile = MagnitudeProfile.from_tensors([torch.tensor(rng.laplace(0, 0.05, dim))])
    epsilon = epsilon_for(profile, lam, ratio, negative)
    if family == "negative-1/c":
        c = profile.radius_continuous(exact_ratio(profile, lam, epsilon, negative)) ** 2 / (2 * epsilon)
        count = int(0.4 * dim)
        lam[:count] = -rng.uniform(0.3, 3.0, count) / c
    if dct_basis:
        op = fast
    else:
        op = DenseOperator(torch.tensor((basis * lam) @ basis.T).to(dtype))
        op.lockstep = 1
    return op, LimitTarget(epsilon, "given", profile, (), ()), exact_ratio(profile, lam, epsilon, negative)


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p, d = hits / n, 1 + z * z / n
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (p + z * z / (2 * n) - half) / d, (p + z * z / (2 * n) + half) / d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=FAMILIES, required=True)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--ratio", type=float, default=0.5, help="the exact ρ* ε is chosen for")
    parser.add_argument("--negative", choices=("abs", "flat"), default="abs")
    parser.add_argument("--diagonal", action="store_true", help="no random basis: probes aligned with eigenvectors")
    parser.add_argument("--plans", default="1x40,3x40", help="fixed plans, RUNSxSTEPS, comma-separated")
    parser.add_argument("--adaptive", action="store_true", help="adaptive SLQ instead of the fixed plans")
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--max-hvps", type=int, help="adaptive SLQ's product budget (default: the library's)")
    parser.add_argument("--dct-basis", action="store_true",
                        help="a DCT-built random basis, O(D log D) products (float64), for D of 10⁴ and more")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--float32", action="store_true", help="float32 products (the ± then holds their rounding)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dtype = torch.float32 if args.float32 else torch.float64
    if args.dct_basis and (args.diagonal or args.float32):
        raise SystemExit("--dct-basis takes float64 products in its own basis")
    op, target, exact = problem(args.family, args.dim, args.ratio, args.negative, args.diagonal, dtype, args.dct_basis)
    print(f"{args.family} D={args.dim} negative={args.negative} {dtype} ε={target.epsilon:.3g} exact ρ*={exact:.4f}")
    plans = [None] if args.adaptive else [tuple(map(int, p.split("x"))) for p in args.plans.split(",")]
    for plan in plans:
        start, hits, widths, errors, focused, stops = time.perf_counter(), 0, [], [], 0, Counter()
        for seed in range(args.seeds):
            if plan is None:
                options = CurvatureOptions(negative=args.negative, seed=seed, tolerance=args.tolerance,
                                           max_hvps=args.max_hvps)
                choice = SolverChoice("slq-h", True, 32, initial_runs(args.dim, args.tolerance, 3), "adaptive")
                quad, stopped, trail = _slq_spectrum(op, choice, options, target, dtype, None)
                focused += trail[0].runs > 1 and any(stage.runs == 1 for stage in trail)  # the first run went on alone
            else:
                options = CurvatureOptions(negative=args.negative, runs=plan[0], iterations=plan[1])
                quad, stopped = slq(op, plan[1], plan[0], seed, "h"), "fixed"
            ratio = predict_from_quadrature(target.profile, quad, target.epsilon, bound_mode="none",
                                            negative=args.negative).ratio
            u = slq_uncertainty(target, quad, options, ratio, None, op.dtype)
            covered = abs(ratio - exact) <= u.plus_minus + 1e-12  # an exact ± 0, to rounding
            hits += covered
            widths.append(u.plus_minus)
            errors.append(abs(ratio - exact))
            stops[(stopped, quad.runs, u.probes_kind, covered)] += 1
        low, high = wilson(hits, args.seeds)
        name = f"adaptive ±{args.tolerance:g}" if plan is None else f"{plan[0]}x{plan[1]}"
        print(f"  {name}: {hits}/{args.seeds} covered [{low:.3f}, {high:.3f}], median ± {np.median(widths):.4f}, "
              f"median |error| {np.median(errors):.4f}" + (f", {focused} focused" if plan is None else "")
              + f" ({time.perf_counter() - start:.0f} s)")
        for key in sorted({k[:3] for k in stops}, key=str):
            print(f"    {key[0]}, {key[1]} runs, {key[2]}: {stops[(*key, True)]}/{stops[(*key, True)] + stops[(*key, False)]}")


if __name__ == "__main__":
    main()
