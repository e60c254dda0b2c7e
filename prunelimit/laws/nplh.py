"""The Neural Pruning Law Hypothesis: record (density, γ) points and fit ``ln s = ln c − α0 ln γ``.

Barbulescu, Alexoaie & Busoniu, "The Neural Pruning Law Hypothesis" (arXiv 2504.05349).

Recording, γ = the minimum saliency among kept weights:

* :func:`static_points` — one sort of a saliency vector; a geometric density grid.
* :func:`iterative_points` — prune ``rate`` of the active weights by a saliency, record,
  fine-tune a few steps, repeat (the paper's protocol, shortened).
* :func:`pressure_points` — Hyperflux at a ladder of constant pressures, γ := Γ.

Fitting: OLS of ln s on ln γ inside a density region (default
0.5 % ≤ s ≤ 50 %, or the middle segment of a piecewise-linear fit), R², seeded percentile-bootstrap
intervals for α0 and c, leave-one-out RMSE, the quadratic variant with an
F-test on its coefficient, and a held-out extrapolation error. Densities are fractions.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence, get_args

import numpy as np
import torch
from torch import nn

from prunelimit import validate
from prunelimit.data.batches import Batches, LossFn
from prunelimit.errors import OptionError, UsageError, fields_named, option, said
from prunelimit.laws.hyperflux import HyperfluxConfig, check_pressures, pressure_ladder
from prunelimit.laws.points import LawPoints, Measured, repeated_rows
from prunelimit.laws.saliency import METRICS, check_masks, compute_saliency, default_masks
from prunelimit.models.evaluate import evaluate
from prunelimit.models.params import ParamSelection, prunable_parameters
from prunelimit.pruning.masks import Masks
from prunelimit.pruning.training import sgd, train_masked
from prunelimit.report.notebook import nplh_summary, shown
from prunelimit.report.rounding import percent, signed
from prunelimit.theory.profile import removed_count

DEFAULT_REGION = (0.005, 0.5)  # the power-law "region 2" of the authors' code, as fractions
MIN_FIT_POINTS = 3  # a line and a residual: fewer leave no interval (distinct gammas, in the region)
AUTO_MIN_SEGMENT = 4  # points per segment of the automatic piecewise-linear fit
AUTO_MAX_SEGMENTS = 4  # plateau, law and a collapse that curves (two segments)
AUTO_BREAK_CANDIDATES = 40  # break points tried at most, before each is moved freely
AUTO_ROUNDOFF = 1e-9  # residuals of ln s below this part of its spread count as none
DEFAULT_PRESSURES = tuple(float(2.0**k) for k in np.arange(-4.0, 6.0, 0.5))  # Γ ladder of ``mode="pressure"``
# the settings only one mode reads
MODE_SETTINGS = {"static": (), "iterative": ("rate", "finetune_steps"), "pressure": ("pressures", "epochs_per_level")}
SALIENCY_MODES = ("static", "iterative")  # the modes that rank by ``metric``: a pressure point's gamma is its Γ
Mode = Literal["static", "iterative", "pressure"]


def check_region(region: object) -> None:
    """``region`` must be ``"auto"`` or a ``(low, high)`` pair of densities, 0 < low < high ≤ 1."""
    if isinstance(region, str) and region == "auto":  # an array's == gave an array, whose truth raised
        return
    try:
        if not isinstance(region, (tuple, list)):  # an array's truth raised as its == did
            raise ValueError(region)
        low, high = (float(v) for v in region)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise OptionError("region", f"{option('region', region, '{0}', repr(region))}: use 'auto' or a (low, high) pair of densities"
                          f"{validate.as_tuple_fix('region', region)}") from None
    if not 0.0 < low < high <= 1.0:
        # percentages (0.5,50) are the likeliest slip: name the fractions they mean
        fractions = (low / 100, high / 100)
        hint = (f"; percentages? as fractions: {option('region', fractions, shown='{:g},{:g}'.format(*fractions))}"
                if 0.0 < low < high <= 100.0 and high > 1.0 else "")
        raise OptionError("region", f"{{0}} ({low:g}, {high:g}) must satisfy 0 < low < high <= 1 (fractions){hint}")


@dataclass(frozen=True)
class NplhConfig:
    """Settings of ``prunelimit law nplh`` (the command line's defaults come from here).

    ``metric``: the saliency (one of ``METRICS``). ``mode``: ``"static"`` (one sort of the
    scores), ``"iterative"`` (prune ``rate`` of the active weights, fine-tune
    ``finetune_steps`` SGD steps, repeat) or ``"pressure"`` (Hyperflux at each of the
    increasing ``pressures``, ``epochs_per_level`` epochs each; 3 is the command line's
    long-standing default, short enough for a CPU). ``region``: the densities of the fit.
    """

    metric: str = "magnitude"
    mode: Mode = "static"
    region: tuple[float, float] | Literal["auto"] = DEFAULT_REGION
    rate: float = 0.1
    finetune_steps: int = 20
    pressures: tuple[float, ...] = DEFAULT_PRESSURES
    epochs_per_level: int = 3
    seed: int = 0

    @fields_named
    def __post_init__(self) -> None:
        """Refuse invalid values (``OptionError``, a ``ValueError``, naming the field)."""
        validate.plain_fields(self)  # NumPy scalars and 0-d tensors as the numbers they hold
        validate.choice("metric", self.metric, METRICS)
        validate.choice("mode", self.mode, get_args(Mode))
        check_region(self.region)
        validate.open_unit("rate", self.rate)
        validate.integer("finetune_steps", self.finetune_steps, 0)
        check_pressures(self.pressures)
        needed, fit = (AUTO_MIN_SEGMENT, "the automatic region") if self.region == "auto" else (MIN_FIT_POINTS, "the fit")
        if self.mode == "pressure" and len(self.pressures) < needed:  # it trained, then found too few
            given = option("pressures", self.pressures, "{0}", ",".join(f"{v:g}" for v in self.pressures))
            raise OptionError("pressures", f"{given} gives {len(self.pressures)} pressure"
                              f"{'s' * (len(self.pressures) > 1)}, and each level is one point of the law (its "
                              f"gamma the pressure): {fit} needs {needed} or more; give at least {needed} pressures")
        validate.integer("epochs_per_level", self.epochs_per_level, 1)
        validate.integer("seed", self.seed, 0)
        # a setting the mode never reads, set away from its default, is refused as the command
        # line refuses its flag (--metric taylor --mode pressure): it was ignored in silence
        check_mode_settings(list(validate.changed_fields(self)), self.mode)

    def measured(self, selection: ParamSelection = ParamSelection()) -> Measured:
        """What sets the points' values, as ``law nplh`` records it beside them (its CSV's columns
        after ``density,gamma``, its JSON's ``measured``): the metric, the mode, the seed, the
        prunable set ``selection`` unless the default (it decides which weights the points rank) and
        the mode's own settings (the ladder is in the points: a pressure point's gamma is its Γ)."""
        own = [name for name in MODE_SETTINGS[self.mode] if name != "pressures"]
        given = tuple((name, patterns) for name, patterns in (("include", selection.include),
                                                              ("exclude", selection.exclude)) if patterns)
        read = ("metric", "mode", "seed") if self.mode in SALIENCY_MODES else ("mode", "seed")
        return (*((name, getattr(self, name)) for name in read), *given,
                *((name, getattr(self, name)) for name in own))


def check_mode_settings(given: Iterable[str], mode: str) -> None:
    """Settings given (field names) that ``mode`` does not read: ignored, they would leave
    points other than the ones asked for, so they are refused naming the mode they apply to."""
    for name in given:
        if name == "metric" and mode not in SALIENCY_MODES:
            raise OptionError(name, f"{{0}} applies to {option('mode', 'static', in_file=False)} or iterative, not "
                              f"{mode}, whose points' gamma is the pressure whatever the saliency; drop it or use "
                              f"another {{1}}", "mode")
        other = next((m for m, names in MODE_SETTINGS.items() if name in names), mode)
        if other != mode:
            raise OptionError(name, f"{{0}} applies to {option('mode', other, in_file=False)}, not {mode}; add "
                              f"{option('mode', other)} or drop it")


# --------------------------------------------------------------------------- recording


def static_points(scores: np.ndarray, q: float = 0.9, min_density: float = 0.0005) -> LawPoints:
    """γ at densities s_k = q^k (k = 0, 1, … while s_k ≥ ``min_density``) from one sort.

    At density s, ``N − ceil((1−s)·N)`` weights are kept (the count of docs/theory.md) and γ is the
    smallest kept score; the recorded density is that exact kept fraction. Duplicate
    densities and points with γ ≤ 0 are dropped. This is the inverse tail of the score
    distribution (the authors' "static" control), not the iterative claim of the paper.
    """
    if not 0.0 < q < 1.0 or not 0.0 < min_density <= 1.0:
        raise UsageError("static grid needs 0 < q < 1 and 0 < min_density <= 1")
    ordered = np.sort(np.asarray(scores, dtype=float).reshape(-1))
    n = ordered.size
    if n == 0:
        raise UsageError("no saliency scores to sort")
    levels = q ** np.arange(int(math.floor(math.log(min_density) / math.log(q))) + 1)
    kept = sorted({n - removed_count(1.0 - s, n) for s in levels} - {0}, reverse=True)
    gamma = np.array([ordered[n - k] for k in kept])
    good = np.isfinite(gamma) & (gamma > 0)
    return LawPoints.from_arrays(np.array(kept, dtype=float)[good] / n, gamma[good])


@dataclass(frozen=True)
class IterativeRecord:
    """Points of an iterative run, final keep-masks by parameter name, accuracy and mean
    kept score per step."""

    points: LawPoints
    masks: Masks
    accuracy: tuple[float | None, ...]
    mean_kept: tuple[float, ...]


def round_prune_count(rate: float, active: int) -> int | None:
    """Weights one iterative round removes from ``active`` kept ones: max(1, ⌊rate·active⌋),
    or ``None`` when that would remove them all (the rounds stop)."""
    k = max(1, int(math.floor(rate * active)))
    return None if k >= active else k


def iterative_densities(n: int, active: int, rate: float, min_density: float = 0.005,
                        max_rounds: int = 200) -> list[float]:
    """The densities :func:`iterative_points` records, in order, for ``n`` prunable weights
    of which ``active`` are kept at the start: the counts follow from ``rate`` alone, so the
    fit's region can be checked against them before any training."""
    densities: list[float] = []
    for _ in range(max_rounds):
        k = round_prune_count(rate, active) if active / n > min_density else None
        if k is None:
            break
        active -= k
        densities.append(active / n)
    return densities


def check_iterative_region(config: "NplhConfig", n: int, active: int) -> None:
    """Refuse (``OptionError`` naming ``rate``) before training an iterative run whose rounds
    record fewer densities in the fit's region than the fit needs: it trained every round,
    then said ``only 2 point(s)``. Necessary, not sufficient (a point of γ ≤ 0 is dropped)."""
    needed = AUTO_MIN_SEGMENT if config.region == "auto" else MIN_FIT_POINTS

    def in_region(rate: float) -> int:
        densities = iterative_densities(n, active, rate)
        if config.region == "auto":
            return len(densities)
        low, high = config.region
        return sum(low * (1 - 1e-12) <= d <= high * (1 + 1e-12) for d in densities)

    found = in_region(config.rate)
    if found >= needed:
        return
    where = "in all" if config.region == "auto" else f"with density in [{config.region[0]:g}, {config.region[1]:g}]"
    fits = [r / 100 for r in range(int(config.rate * 100), 0, -1) if in_region(r / 100) >= needed]
    fix = f"use {option('rate', fits[0])} or lower" if fits else "widen the region"
    raise OptionError("rate", f"{{0}} {config.rate:g} prunes {n:,} weights in rounds that record {found} point(s) "
                              f"{where}, and the fit needs {needed}; {fix}")


def iterative_points(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    metric: str = "magnitude",
    rate: float = 0.1,
    min_density: float = 0.005,
    finetune_steps: int = 20,
    lr: float = 0.01,
    momentum: float = 0.9,
    eval_batches: Batches | None = None,
    max_rounds: int = 200,
    seed: int = 0,
    selection: ParamSelection = ParamSelection(),
    masks: Sequence[torch.Tensor] | None = None,
    held: Mapping[str, torch.Tensor] | None = None,
) -> IterativeRecord:
    """Prune ``rate`` of the active weights (lowest ``metric`` first), record, fine-tune, repeat.

    ``masks``: one keep-mask per prunable tensor of an already-pruned model (default: all
    kept); its pruned weights are never active, so fine-tuning cannot revive them.
    ``held``: keep-masks by name of other tensors (a pruned bias), held through fine-tuning.

    Each round: scores on the masked network; k = max(1, ⌊rate·|A|⌋) lowest removed
    globally (ties by flat index); the point is (density after the prune, smallest kept
    score); then ``finetune_steps`` SGD steps over ``batches`` with the masks re-applied.
    Stops at ``min_density``. The model is left pruned (masked) and fine-tuned in place.
    """
    if not 0.0 < rate < 1.0:
        raise UsageError(f"pruning rate {rate} must lie in (0, 1)")
    validate.momentum("momentum", momentum)
    torch.manual_seed(seed)
    names, params = zip(*prunable_parameters(model, selection))
    masks = check_masks(params, masks) if masks is not None else default_masks(params)
    n = sum(p.numel() for p in params)
    opt = sgd(model, lr, momentum)  # one optimiser: its momentum carries over between rounds
    densities, gammas, accuracy, mean_kept = [], [], [], []
    for round_ in range(max_rounds):
        flat_mask = torch.cat([m.reshape(-1) for m in masks]).cpu().numpy()
        if flat_mask.sum() / n <= min_density:
            break
        scores = compute_saliency(
            model, batches, loss_fn, metric, masks=masks, selection=selection, seed=seed + round_
        ).scores
        active = np.flatnonzero(flat_mask)
        k = round_prune_count(rate, active.size)
        if k is None:
            break
        order = active[np.argsort(scores[active], kind="stable")]
        flat_mask[order[:k]] = False
        survivors = scores[order[k:]]
        masks = [
            torch.from_numpy(part.copy()).reshape(p.shape).to(p.device)
            for part, p in zip(np.split(flat_mask, np.cumsum([p.numel() for p in params])[:-1]), params)
        ]
        train_masked(model, opt, loss_fn, batches, epochs=math.ceil(finetune_steps / len(batches)),
                     max_steps=finetune_steps, masks={**(held or {}), **dict(zip(names, masks))})
        densities.append(flat_mask.sum() / n)
        gammas.append(float(survivors[0]))
        mean_kept.append(float(survivors.mean()))
        accuracy.append(evaluate(model, eval_batches, loss_fn).accuracy if eval_batches else None)
    g = np.array(gammas)
    good = np.isfinite(g) & (g > 0)
    return IterativeRecord(
        points=LawPoints.from_arrays(np.array(densities)[good], g[good]),
        masks=dict(zip(names, masks)),
        accuracy=tuple(accuracy),
        mean_kept=tuple(mean_kept),
    )


def pressure_points(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    pressures: Sequence[float],
    epochs_per_level: int,
    config: HyperfluxConfig | None = None,
    **options: Any,
) -> LawPoints:
    """(density, γ := Γ) at the end of each level of a constant-pressure Hyperflux ladder;
    ``config`` and ``options`` as in :func:`~prunelimit.laws.hyperflux.pressure_ladder`."""
    ladder = pressure_ladder(model, batches, loss_fn, pressures, epochs_per_level, config, **options)
    d = np.array(ladder.densities)
    return LawPoints.from_arrays(d[d > 0], np.array(ladder.pressures)[d > 0])


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class QuadraticFit:
    """ln s = ln c − α0 ln γ − α1 (ln γ)² on the region (the authors' code); F-test of α1 ≠ 0."""

    alpha0: float
    alpha1: float
    c: float | None  # None where e^(ln c) is no float: a narrow γ range far from 1 (ln c about −722)
    log_c: float
    r2: float
    f_stat: float
    p_value: float
    needed: bool  # p_value < the test level


@dataclass(frozen=True)
class HeldOutError:
    """Fit on region points with s ≥ ``split``, predict s at the γ of those below it."""

    split: float
    n_fit: int
    n_test: int
    median_rel_error: float  # median |ŝ/s − 1|
    max_rel_error: float


@shown("law-nplh", nplh_summary)
@dataclass(frozen=True)
class NplhFit:
    """Pure-law fit on ``region_low ≤ s ≤ region_high`` (fractions) and its diagnostics."""

    alpha0: float
    c: float
    r2: float
    region_low: float
    region_high: float
    region_auto: bool
    n_region: int
    alpha0_ci: tuple[float, float]
    c_ci: tuple[float, float]
    confidence: float
    residual_sd: float  # of ln s
    loo_rmse: float  # leave-one-out RMSE of ln s
    points: LawPoints  # all points given (region and outside)
    quadratic: QuadraticFit | None  # None with fewer than 4 distinct gammas in the region
    heldout_error: HeldOutError | None  # None when either side has too few points
    warnings: tuple[str, ...] = ()  # points the fit counts but should not be trusted on

    def to_json(self) -> dict:
        """JSON-ready dict with the documented keys (docs/guide.md: (``alpha0``, ``c``, ``r2``, ``region.low``,
        ``region.high``, ``alpha0_ci``, ``points``) plus the diagnostics and ``warnings``."""
        q, h = self.quadratic, self.heldout_error
        return {
            "alpha0": self.alpha0,
            "c": self.c,
            "r2": self.r2,
            "region": {"low": self.region_low, "high": self.region_high, "auto": self.region_auto,
                       "points": self.n_region},
            "alpha0_ci": list(self.alpha0_ci),
            "c_ci": list(self.c_ci),
            "confidence": self.confidence,
            "residual_sd": self.residual_sd,
            "loo_rmse": self.loo_rmse,
            "points": [{"density": d, "gamma": g} for d, g in zip(self.points.density, self.points.gamma)],
            "measured": dict(self.points.measured) or None,
            "quadratic": None if q is None else {
                "alpha0": q.alpha0, "alpha1": q.alpha1, "c": q.c, "r2": q.r2,
                "f_stat": q.f_stat if math.isfinite(q.f_stat) else None, "p_value": q.p_value, "needed": q.needed,
            },
            "heldout": None if h is None else {
                "split": h.split, "n_fit": h.n_fit, "n_test": h.n_test,
                "median_rel_error": h.median_rel_error, "max_rel_error": h.max_rel_error,
            },
            "warnings": list(self.warnings),
        }

    def predict_density(self, gamma: float | np.ndarray) -> float | np.ndarray:
        return self.c * np.power(gamma, -self.alpha0)

    def gamma_for_density(self, density: float | np.ndarray) -> float | np.ndarray:
        """Inverse of the pure law: γ = (c/s)^(1/α0)."""
        return np.power(self.c / np.asarray(density, dtype=float), 1.0 / self.alpha0)


def _law_constant(log_c: float, x: np.ndarray, name: str = "the law's constant c") -> float:
    """c = e^(ln c), refused where a float cannot hold it: γ near 1e300 (or 1e-300) with α0 ≈ 2
    put ln c past ±709, and c overflowed (an internal error) or became 0 (a useless law)."""
    if not -708.0 < log_c < 709.0:
        raise UsageError(
            f"{name} = e^{log_c:.4g} is outside the floating-point range for gamma "
            f"{math.exp(x.min()):.3g}..{math.exp(x.max()):.3g}; divide the gamma column by one constant K "
            "(alpha0 stays, c becomes c*K^-alpha0)"
        )
    return math.exp(log_c)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """slope, intercept, R², residuals."""
    from scipy import stats  # here, not at the top: the command line imports this module to start

    res = stats.linregress(x, y)
    resid = y - (res.intercept + res.slope * x)
    return float(res.slope), float(res.intercept), float(res.rvalue**2), resid


def _hinge_rss(x: np.ndarray, y: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """RSS of the continuous piecewise-linear fits of y on x, one per row of break points
    ``knots`` (shape (fits, breaks)), by batched least squares."""
    hinges = np.maximum(x[None, :, None] - knots[:, None, :], 0.0)
    base = np.broadcast_to(np.column_stack([np.ones_like(x), x]), (knots.shape[0], x.size, 2))
    design = np.concatenate([base, hinges], axis=2)
    gram = design.transpose(0, 2, 1) @ design
    # pinv, not solve: repeated gammas leave a segment's hinge column constant (a singular system)
    coef = (np.linalg.pinv(gram) @ (design.transpose(0, 2, 1) @ y)[..., None])[..., 0]
    resid = y[None, :] - np.einsum("fnk,fk->fn", design, coef)
    return np.einsum("fn,fn->f", resid, resid)


def _auto_region(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the power-law segment of a 1- to ``AUTO_MAX_SEGMENTS``-segment fit chosen by BIC.

    Continuous piecewise-linear fits of ln s on ln γ (each segment ≥ ``AUTO_MIN_SEGMENT``
    distinct γ): the best break points at data points, then moved freely. Of several segments, the law's is the one
    overlapping the default region most in log density, or, when none does, the one nearest
    to it (``fit_nplh`` warns); one segment: all points. Four
    segments, not three: the collapse below the law curves in log-log, and three straight
    segments spent two break points on it, so "the middle one" was a piece of the collapse
    (alpha0 12 for a law of 0.7). (Maximising a window's R² instead prefers the steep
    collapse region too, where the same noise is small against a larger spread.)
    """
    order = np.argsort(x, kind="stable")
    xs, ys, n = x[order], y[order], x.size
    m = AUTO_MIN_SEGMENT
    if n < m:
        raise UsageError(
            f"automatic region needs >= {m} points with gamma > 0; "
            "record more points or give a fixed region"
        )

    # residuals under a 1e-9 part of the densities' spread are round-off: on points exactly on a
    # line every split "fitted" better by 1e-28 against 1e-30, and BIC, a log of the RSS, took a part of it
    floor = n * (AUTO_ROUNDOFF * np.ptp(ys)) ** 2

    def bic(rss: np.ndarray, k: int) -> np.ndarray:
        return n * np.log(np.maximum(rss, floor) / n) + k * math.log(n)

    def refined(knots: np.ndarray) -> np.ndarray:
        """The best break points near ``knots``, anywhere between the points: a corner that lies
        between two points, fitted at one, left residuals that an extra segment took up."""
        from scipy import optimize

        def too_short(k: np.ndarray) -> bool:
            return bool(np.diff([0, *np.searchsorted(distinct, np.sort(k), side="right"), distinct.size]).min() < m)

        res = optimize.minimize(lambda k: math.inf if too_short(k) else _hinge_rss(xs, ys, np.sort(k)[None])[0],
                                knots, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-14})
        return knots if too_short(res.x) else np.sort(res.x)

    # break after the i-th distinct γ: segments of at least m distinct γ each (repeated points
    # pin no line); on many points every few (the refinement moves them), so three breaks stay ~10^4 fits
    distinct, nd = np.unique(xs), np.unique(xs).size
    after = np.unique(np.linspace(m - 1, nd - m - 1, max(0, min(nd - 2 * m + 1, AUTO_BREAK_CANDIDATES))).round()).astype(int)
    best_bic, best_knots = float(bic(_hinge_rss(xs, ys, np.empty((1, 0))), 2)[0]), np.empty(0)
    for breaks in range(1, AUTO_MAX_SEGMENTS):
        cuts = np.array([c for c in itertools.combinations(after.tolist(), breaks)
                         if all(b - a >= m for a, b in zip(c, c[1:]))], dtype=int).reshape(-1, breaks)
        if not cuts.size:
            break
        chunks = -(-len(cuts) * n * (2 + breaks) // 2**22)  # designs of at most 32 MB
        rss = np.concatenate([_hinge_rss(xs, ys, distinct[chunk]) for chunk in np.array_split(cuts, chunks)])
        knots = refined(distinct[cuts[int(np.argmin(rss))]])
        # a break costs three parameters, not two: its place is searched among many, which fits noise
        # (as two, 8 of 30 noisy draws of one straight line were split, as three 3)
        score = float(bic(_hinge_rss(xs, ys, knots[None]), 2 + 3 * breaks)[0])
        if score < best_bic:
            best_bic, best_knots = score, knots
    bounds = [0, *np.searchsorted(xs, best_knots, side="right").tolist(), n]
    segments = [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    lo, hi = (math.log(v) for v in DEFAULT_REGION)
    overlap = [min(hi, y[s].max()) - max(lo, y[s].min()) for s in segments]  # < 0: the gap to the region
    return segments[int(np.argmax(overlap))]


def _bootstrap(
    x: np.ndarray, y: np.ndarray, slope0: float, icpt0: float, n_boot: int, seed: int, confidence: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile intervals of α0 and c from resampling the points (vectorised OLS), about
    the fit's ``slope0`` and ``icpt0``."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    bx, by = x[idx], y[idx]
    dx = bx - bx.mean(axis=1, keepdims=True)
    sxx = (dx * dx).sum(axis=1)
    ok = sxx > 0  # a resample of one repeated γ has no slope
    slope = (dx * (by - by.mean(axis=1, keepdims=True))).sum(axis=1)[ok] / sxx[ok]
    icpt = by.mean(axis=1)[ok] - slope * bx.mean(axis=1)[ok]
    q = 100 * np.array([(1 - confidence) / 2, (1 + confidence) / 2])
    # The percentile interval is as wide as the resampled spread, which on n points is that of
    # residuals shrunk by (n − 2)/n, read with normal quantiles: a 95 % interval covered the true
    # α0 in 84–86 % of noisy draws of 6–10 points. Each side is widened about the estimate by
    # sqrt(n/(n − 2))·t(n − 2)/z, the classical small-sample factors (→ 1 for many points).
    from scipy import stats

    n = x.size
    widen = math.sqrt(n / (n - 2)) * stats.t.ppf((1 + confidence) / 2, n - 2) / stats.norm.ppf((1 + confidence) / 2)
    a_lo, a_hi = (-slope0 + widen * (v + slope0) for v in np.percentile(-slope, q))
    c_lo, c_hi = (_law_constant(icpt0 + widen * (v - icpt0), x, "an end of the interval of c")
                  for v in np.percentile(icpt, q))
    return (float(a_lo), float(a_hi)), (float(c_lo), float(c_hi))


def _quadratic(x: np.ndarray, y: np.ndarray, level: float) -> QuadraticFit | None:
    """Centred quadratic least squares (the authors' code) and the nested-model F-test."""
    n = x.size
    if np.unique(x).size < 4:  # a parabola through three gammas is exact: nothing to test
        return None
    xbar = x.mean()
    d2, b2, a2 = np.polyfit(x - xbar, y, 2)
    resid2 = y - np.polyval([d2, b2, a2], x - xbar)
    resid1 = _ols(x, y)[3]
    rss1, rss2 = float(resid1 @ resid1), float(resid2 @ resid2)
    tss = float(((y - y.mean()) ** 2).sum())
    if rss2 > 0:
        f_stat = max(0.0, (rss1 - rss2) / (rss2 / (n - 3)))
        from scipy import stats

        p_value = float(stats.f.sf(f_stat, 1, n - 3))
    else:  # exact quadratic: the term is needed iff the line leaves residuals
        f_stat, p_value = (math.inf, 0.0) if rss1 > 0 else (0.0, 1.0)
    b = b2 - 2 * d2 * xbar
    a = a2 - b2 * xbar + d2 * xbar**2
    return QuadraticFit(
        alpha0=float(-b),
        alpha1=float(-d2),
        # a diagnostic: a constant no float holds leaves the law's fit, and the plot draws from ln c
        c=float(math.exp(a)) if -708.0 < a < 709.0 else None,
        log_c=float(a),
        r2=1.0 - rss2 / tss if tss > 0 else 1.0,
        f_stat=float(f_stat),
        p_value=p_value,
        needed=p_value < level,
    )


def _heldout(x: np.ndarray, y: np.ndarray, split: float) -> HeldOutError | None:
    fit, test = y >= math.log(split), y < math.log(split)
    if fit.sum() < 3 or test.sum() < 1 or np.ptp(x[fit]) == 0:
        return None
    slope, icpt, _, _ = _ols(x[fit], y[fit])
    rel = np.abs(np.exp(icpt + slope * x[test] - y[test]) - 1.0)
    return HeldOutError(
        split=split,
        n_fit=int(fit.sum()),
        n_test=int(test.sum()),
        median_rel_error=float(np.median(rel)),
        max_rel_error=float(rel.max()),
    )


def fit_nplh(
    points: LawPoints,
    region: tuple[float, float] | str = DEFAULT_REGION,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    quadratic_level: float = 0.01,
) -> NplhFit:
    """Fit ``ln s = ln c − α0 ln γ`` by OLS on the points whose density lies in ``region``.

    ``region`` is ``(low, high)`` (inclusive, fractions) or ``"auto"``: the power-law
    segment of a BIC-selected piecewise-linear fit (see ``_auto_region``). The authors'
    region is (0.5 %, 50 %]; inclusive bounds differ only for a point exactly at 0.5 %.
    The held-out check fits the region points at or above
    the geometric middle of the region and predicts those below it (for the default
    region: fit 5–50 %, predict 0.5–5 %). The quadratic
    variant is ``needed`` when its F-test p-value is below ``quadratic_level``.

    Points on a known law give its parameters back:

    >>> import numpy as np
    >>> from prunelimit.laws.points import LawPoints
    >>> gamma = np.geomspace(1e-2, 1, 30)
    >>> law = fit_nplh(LawPoints(tuple(0.01 * gamma ** -0.7), tuple(gamma)))
    >>> round(law.alpha0, 6), round(law.c, 6), law.n_region
    (0.7, 0.01, 30)
    """
    if not isinstance(points, LawPoints):  # a list or an array pair had no .arrays(): an AttributeError
        # a fit in hand (prunelimit.nplh's result) holds the points it was fitted on
        held = "give its points, points=fit.points" if isinstance(points, NplhFit) else \
            "build it with LawPoints.from_arrays(density, gamma)"
        raise UsageError(f"points must be a prunelimit.laws.points.LawPoints, got {type(points).__name__}; {held}")
    validate.integer("n_boot", n_boot, 1)
    validate.integer("seed", seed, 0)
    validate.open_unit("confidence", confidence)
    validate.open_unit("quadratic_level", quadratic_level)
    dens, gam = points.arrays()
    x_all, y_all = np.log(gam), np.log(dens)  # LawPoints holds densities in (0, 1] and positive finite gammas
    order = np.lexsort((y_all, x_all))  # one order, whatever the rows': the bootstrap draws by position
    x_all, y_all = x_all[order], y_all[order]
    if np.ptp(y_all) == 0:  # before the region: the automatic one split a flat line and named a part of it
        which = f"all {x_all.size} points have the same density" if x_all.size > 1 else "the only point has density"
        raise UsageError(f"{which} {math.exp(y_all[0]):g}: one density cannot "
                         "fit the law, whose slope is how the density falls as gamma rises; record points at "
                         "several densities")
    if region == "auto":
        sel = _auto_region(x_all, y_all)
        # the densities themselves: e^(ln s) is off by a last bit, and a bound above the lowest point
        # left it out of the figure's fitted stretch
        low, high = float(dens[order][sel].min()), float(dens[order][sel].max())
    else:
        check_region(region)
        low, high = (float(v) for v in region)
        # A relative tolerance so that a point recorded at exactly the bound is kept.
        sel = np.flatnonzero(
            (y_all >= math.log(low) - 1e-12) & (y_all <= math.log(high) + 1e-12)
        )
    x, y = x_all[sel], y_all[sel]
    if x.size < MIN_FIT_POINTS:
        raise UsageError(
            f"only {x.size} point(s) with density in [{low:g}, {high:g}]; "
            f"widen the region or record more points (>= {MIN_FIT_POINTS} needed)"
        )
    if np.ptp(x) == 0:  # a slope needs two gammas; "only N points" would contradict ">= 3"
        raise UsageError(f"all {x.size} points with density in [{low:g}, {high:g}] have the same gamma, so the "
                         "law's slope is undefined; widen the region or record points at other densities")
    distinct = np.unique(x).size
    if distinct < MIN_FIT_POINTS:  # repeated points: a line through two gammas fits exactly, with R² 1 and no interval
        raise UsageError(f"only {distinct} distinct gamma values among the {x.size} points with density in "
                         f"[{low:g}, {high:g}]; widen the region or record more points (>= {MIN_FIT_POINTS} needed)")
    if np.ptp(y) == 0:  # α0 would be 0 with an undefined R²: no law was measured
        raise UsageError(f"all {x.size} points with density in [{low:g}, {high:g}] (of {x_all.size}) have the same "
                         f"density {math.exp(y[0]):g}, so the law's slope is undefined; widen the region or record "
                         "points at other densities")
    slope, icpt, r2, resid = _ols(x, y)
    if slope >= 0:  # a higher threshold cannot keep more weights
        raise UsageError(f"the density rises with gamma among the {x.size} points in [{low:g}, {high:g}] "
                         f"(α0 = {signed(-slope, '.4f')} <= 0), which no minimum kept saliency does; check that the "
                         "columns are the kept fraction and its smallest kept saliency")
    lev = 1.0 / x.size + (x - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum()
    c = _law_constant(icpt, x)
    alpha0_ci, c_ci = _bootstrap(x, y, slope, icpt, n_boot, seed, confidence)
    return NplhFit(
        alpha0=-slope,
        c=c,
        r2=r2,
        region_low=low,
        region_high=high,
        region_auto=region == "auto",
        n_region=int(x.size),
        alpha0_ci=alpha0_ci,
        c_ci=c_ci,
        confidence=confidence,
        residual_sd=float(np.sqrt(resid @ resid / max(1, x.size - 2))),
        loo_rmse=float(np.sqrt(np.mean((resid / (1.0 - lev)) ** 2))),
        points=points,
        quadratic=_quadratic(x, y, quadratic_level),
        heldout_error=_heldout(x, y, math.sqrt(low * high)),
        warnings=(_point_warnings(x, y) + _slope_warnings(alpha0_ci, x.size, confidence)
                  + (_outside_warnings(y_all, low, high, x.size) if region == "auto" else ())),
    )


def _outside_warnings(y_all: np.ndarray, low: float, high: float, n: int) -> tuple[str, ...]:
    """An automatic region [``low``, ``high``] of ``n`` of the points (ln densities ``y_all``)
    outside the default region: no segment of them overlaps it, and the fit took the nearest."""
    if n == y_all.size or DEFAULT_REGION[0] <= high and low <= DEFAULT_REGION[1]:
        return ()
    # densities in percent with a spaced dash, as the fit's "region (density)" line prints them
    span = f"{percent(math.exp(y_all.min()))} – {percent(math.exp(y_all.max()))}"
    return (f"no straight segment of the points overlaps the density region {percent(DEFAULT_REGION[0], 1)} – "
            f"{percent(DEFAULT_REGION[1], 0)} the law is fitted on (they span {span}); the automatic region "
            f"took the one nearest to it, {percent(low)} – {percent(high)} ({n} of {y_all.size} points); give "
            f"{said('--region LOW,HIGH', 'region=(LOW, HIGH)')} to fit another stretch",)


def _slope_warnings(alpha0_ci: tuple[float, float], n: int, confidence: float) -> tuple[str, ...]:
    """An interval of α0 that reaches 0: the points do not tell the law from a flat line, and
    the fitted α0 and c, printed as a law, are not one (3 points on a line gave [-0.65, 2.97])."""
    if alpha0_ci[0] > 0:
        return ()
    # α0 and its interval as the fit's table states them (four decimals, − for a negative end)
    return (f"the {percent(confidence, 0)} interval of α0 [{signed(alpha0_ci[0], '.4f')}, {signed(alpha0_ci[1], '.4f')}] "
            f"reaches 0: the {n} "
            "points in the fit region are too few or too noisy to pin the law's slope; record more points there",)


def _point_warnings(x: np.ndarray, y: np.ndarray) -> tuple[str, ...]:
    """Fitted points (sorted by ln γ, then ln s) that repeat or break the law's order."""
    out = []
    repeated = int(np.sum((np.diff(x) == 0) & (np.diff(y) == 0)))
    if repeated:
        out.append(repeated_rows(f"{repeated} point(s) in the fit region repeat an earlier (density, gamma)"))
    rising = int(np.sum((np.diff(x) > 0) & (np.diff(y) > 0)))
    if rising:
        out.append(f"{rising} of {x.size - 1} steps to a larger gamma in the fit region raise the density, where the "
                   "law lowers it: the saliencies moved between points (fine-tuning between rounds, noise) or the "
                   "points come from several runs")
    return tuple(out)


# --------------------------------------------------------------------------- plot


def plot_nplh(fit: NplhFit, path: str | os.PathLike[str], title: str | None = None, force: bool = False) -> Path:
    """Write :func:`nplh_figure` as a PNG, atomically (an existing file only with ``force``)."""
    from prunelimit.report.plots import save_figure

    return save_figure(nplh_figure(fit, title), path, force)


def nplh_figure(fit: NplhFit, title: str | None = None):
    """Log–log plot of density against γ, fitted region shaded, line (and quadratic if
    needed) over it: an open matplotlib ``Figure``."""
    from prunelimit.report.figures import plt

    dens, gam = fit.points.arrays()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    try:
        ax.axhspan(fit.region_low, fit.region_high, color="tab:blue", alpha=0.1, label="fitted region")
        ax.loglog(gam, dens, "o", ms=4, color="k", label="points")
        in_region = (dens >= fit.region_low) & (dens <= fit.region_high)
        g = np.geomspace(gam[in_region].min(), gam[in_region].max(), 100)
        ax.loglog(
            g,
            fit.predict_density(g),
            "-",
            color="tab:red",
            # c, α0 and R² as the fit's table states them
            label=f"s = {fit.c:.4g}·γ^-{signed(fit.alpha0, '.4f')} (R² {signed(fit.r2, '.4f')})",
        )
        if fit.quadratic is not None and fit.quadratic.needed:
            q, u = fit.quadratic, np.log(g)
            ax.loglog(
                g,
                np.exp(q.log_c - q.alpha0 * u - q.alpha1 * u * u),
                "--",
                color="tab:green",
                label=f"quadratic (p = {q.p_value:.2g})",
            )
        ax.set_xlabel("γ (minimum kept saliency)")
        ax.set_ylabel("density (kept fraction)")
        if title:
            ax.set_title(title)
        ax.legend(fontsize=8)
    except BaseException:
        plt.close(fig)
        raise
    return fig
