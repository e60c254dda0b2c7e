"""The pruning-across-scales error law (Rosenfeld et al., "On the Predictability
of Pruning Across Scales", ICML 2021).

(Over 500 lines for a reason: the fit, its identifiability warnings, intervals,
leave-one-out check and inversions all work on one private least-squares problem
(``_Problem``); splitting them would make that representation public.)

Single network, with ``q = p·(ε↑/ε_np)^(1/γ)``::

    ln ε̂(d) = ln ε_np + γ/2 · [ln(d² + q²) − ln(d² + p²)]

Joint law: the same form in the invariant ``m = l^φ · w^ψ · d`` (l = depth,
w = width) with a global transition constant ``p′`` and ``ε_np`` per (width, depth).

Everything is evaluated in log space with ``logaddexp`` so that no power overflows,
fitted by bounded multi-start ``scipy.optimize.least_squares`` on the relative deviation
``δ = ε̂/ε − 1``, and inverted with ``brentq``. ``ε_np`` of each configuration is fitted with the other
parameters, started at its measured error at density 1 (mean over rows): that row is
measured with the same noise as the rest, and held fixed its error moved γ and p (under
2 % noise on every point, 7 of 40 fits missed the true γ or p by more than 5 %, 1 of 40
fitted).

Parameter intervals are 95 % Gauss–Newton intervals from the Jacobian at the optimum
(``cov = s²(JᵀJ)⁻¹``, Student-t quantile), computed for the internal parameters
(ln γ, ln p, ln ε↑, φ, ψ) and mapped back, so γ and p intervals stay positive (ε↑'s is
``ε↑ ± ε↑·h`` for the half-width h of ln ε↑, within [0, 1]); a side the points leave free,
or one past the largest float once mapped back, is ``inf`` (unbounded). Every parameter is
a log or an exponent so that no Jacobian column depends on the errors' scale: ε↑ fitted as
itself got finite-difference steps of 1.5e-8 (scipy's ``max(1, |x|)`` rule), wider than
an ε↑ of 1e-9, and at such errors γ and p read as unbounded.
"""

from __future__ import annotations

import csv
import itertools
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import optimize, stats

from prunelimit import validate
from prunelimit.equality import compared_by_value
from prunelimit.errors import InputError, NumericalError, OptionError, UsageError, fields_named, option, quoted, said
from prunelimit.laws.points import check_header, check_row_fields, header_fix, percent_fix, repeated_rows
from prunelimit.limits import MAX_CSV_BYTES, MAX_CSV_ROWS, check_csv_rows, check_file_size
from prunelimit.report.notebook import brief, error_fit_summary, shown
from prunelimit.report.rounding import signed

GAMMA_BOUNDS = (1e-3, 20.0)  # γ ≤ 20: past it the curve is a step (Rosenfeld et al. 2021)
LOG_P_BOUNDS = (-40.0, 40.0)
EXPONENT_BOUNDS = (-10.0, 10.0)  # φ, ψ
_GRID_GAMMA = (0.5, 1.0, 2.0, 4.0)
_GRID_P = (1e-4, 1e-3, 1e-2, 1e-1)
_REL_TOL = 1e-9  # "at density 1" and range checks tolerate float round-off
_RANK_TOL = 1e-8  # Jacobian singular values below this (relative) are directions the points leave free
_LOG_FLOAT_MAX = math.log(sys.float_info.max)  # ≈ 709.78: exp of more overflows


@brief
@compared_by_value
@dataclass(frozen=True)
class ErrorPoints:
    """Measured (density, error) points; width and depth are both present or both absent.
    ``on_training_data``: the errors are measured on the training data (an ``imp`` sweep
    without eval data), which the fit's ``warnings`` then say."""

    density: np.ndarray
    error: np.ndarray
    width: np.ndarray | None = None
    depth: np.ndarray | None = None
    on_training_data: bool = False

    @fields_named
    def __post_init__(self) -> None:
        """Refuse what the CSV reader refuses, so the library fits only what the command would
        (an error of 0 or NaN was scipy's "Residuals are not finite", a density of 1.5 a fit)."""
        for name in ("density", "error", "width", "depth"):  # sequences become float arrays
            if getattr(self, name) is not None:
                object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        columns = [c for c in (self.density, self.error, self.width, self.depth) if c is not None]
        if len({c.shape for c in columns}) > 1 or columns[0].ndim != 1:
            raise UsageError(f"density, error, width and depth must be 1-D and of one length, got shapes "
                             f"{[c.shape for c in columns]}")
        if (self.width is None) != (self.depth is None):
            raise UsageError("width given without depth (or depth without width); give both or neither")
        for i, (d, e) in enumerate(zip(columns[0].tolist(), columns[1].tolist())):
            problem = _point_problem(d, e)
            if problem:
                raise UsageError(f"point {i}: {problem}")
        if self.has_shape and not all(np.all(np.isfinite(c) & (c > 0)) for c in columns[2:]):
            raise UsageError("width and depth must be positive finite numbers")

    @property
    def has_shape(self) -> bool:
        return self.width is not None and self.depth is not None


@dataclass(frozen=True)
class Config:
    """One network configuration of a fit: its (width, depth) and fitted unpruned error ε_np;
    ``eps_np_measured``: whether a row at density 1 measured it."""

    width: float | None
    depth: float | None
    eps_np: float
    eps_np_measured: bool


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@shown("law-error-fit", error_fit_summary)
@dataclass(frozen=True)
class ErrorLawFit:
    """A fitted error law. ``p`` is p′ of the joint law when ``joint``.

    ``mean_rel_error``/``std_rel_error``: mean and SD of δ over the fitted points;
    ``loo_*``: |δ| of each point predicted by a fit without it (None if skipped).
    """

    joint: bool
    eps_up: float
    gamma: float
    p: float
    phi: float | None
    psi: float | None
    configs: tuple[Config, ...]
    intervals: dict[str, Interval]
    mean_rel_error: float
    std_rel_error: float
    loo_mean_abs_rel_error: float | None
    loo_max_abs_rel_error: float | None
    density_range: tuple[float, float]
    points: int
    warnings: tuple[str, ...]

    @property
    def q(self) -> float:
        """Low-error knee of the single law: density below which the error starts rising."""
        return math.exp(_log_q(math.log(self.p), self.eps_up, self.configs[0].eps_np, self.gamma))

    def to_json(self) -> dict:
        """The documented ``law error-fit`` JSON keys (docs/guide.md; ``params.eps_np`` per
        configuration if joint)."""
        params: dict = {"eps_up": self.eps_up, "gamma": self.gamma, "p": self.p}
        if self.joint:
            params["phi"], params["psi"] = self.phi, self.psi
            params["eps_np"] = [
                {"width": c.width, "depth": c.depth, "eps_np": c.eps_np} for c in self.configs
            ]
        else:
            params["eps_np"] = self.configs[0].eps_np
        return {
            "params": params,
            "intervals": {k: [v.low, v.high] for k, v in self.intervals.items()},
            "fit": {
                "mean_rel_error": self.mean_rel_error,
                "std_rel_error": self.std_rel_error,
                "loo_mean_abs_rel_error": self.loo_mean_abs_rel_error,
                "loo_max_abs_rel_error": self.loo_max_abs_rel_error,
                "points": self.points,
            },
            "density_range": list(self.density_range),
            "warnings": list(self.warnings),
        }


# ------------------------------------------------------------------ the law itself


def _log_q(log_p: float, eps_up: float, eps_np, gamma: float):
    return log_p + (np.log(eps_up) - np.log(eps_np)) / gamma


def log_error(log_m, eps_np, eps_up: float, gamma: float, log_p: float) -> np.ndarray:
    """ln ε̂ at ``log_m`` = ln d (single law) or ln(l^φ w^ψ d) (joint law), overflow-free."""
    log_m = np.asarray(log_m, dtype=float)
    lq = _log_q(log_p, eps_up, eps_np, gamma)
    return np.log(eps_np) + 0.5 * gamma * (
        np.logaddexp(2 * log_m, 2 * lq) - np.logaddexp(2 * log_m, 2 * log_p)
    )


def check_error(name: str, value: object) -> None:
    """An error the law is given (``eps_np``, ``eps_up``): a fraction in (0, 1]."""
    if not validate.real(value) or not 0 < value <= 1:
        raise OptionError(name, f"{{0}} must lie in (0, 1] (errors are fractions), got {quoted(value)}")


def error_law(density: float | Sequence[float] | np.ndarray, eps_np: float, eps_up: float, gamma: float,
              p: float) -> float | np.ndarray:
    """ε̂(d) of the single-network law: ``eps_np`` where the network is dense enough, rising
    as a power law of slope ``gamma`` below the knee ``q = p·(eps_up/eps_np)^(1/gamma)``, and
    flattening below density ``p`` at ``eps_up`` (no better than chance). A plain ``float`` for
    one density, as ``predict`` gives it, an array for several.

    >>> import numpy as np
    >>> np.round(error_law(np.array([1.0, 0.01, 1e-4]), eps_np=0.05, eps_up=0.9, gamma=2.0, p=0.01), 3).tolist()
    [0.05, 0.475, 0.9]
    """
    # outside these the logs give NaN or a math domain error (the law is defined for every
    # density d > 0, its plateaus beyond 1 and towards 0; p may exceed 1, as fits give it)
    values = np.asarray(density, dtype=float) if validate.real_array(density) else None
    if values is None or not np.all((values > 0) & np.isfinite(values)):
        raise UsageError(f"density must be positive finite numbers (kept fractions), got {quoted(density)}")
    check_error("eps_np", eps_np)
    check_error("eps_up", eps_up)
    if eps_np > eps_up:  # the knee q falls below p and the law's error falls as the network is pruned
        raise OptionError("eps_np", f"{{0}} {eps_np:g} is above the high-error plateau eps_up {eps_up:g}: the law's "
                                    "error would fall, not rise, as the network is pruned; give the unpruned "
                                    "network's error, at most eps_up")
    validate.positive("gamma", gamma)
    validate.positive("p", p)
    error = np.exp(log_error(np.log(values), eps_np, eps_up, gamma, math.log(p)))
    # one density gave a numpy scalar, np.float64(0.0827) in a repr, where predict_error gives a float
    return float(error) if error.ndim == 0 else error


# ------------------------------------------------------------------ CSV input


def _point_problem(density: float, error: float) -> str | None:
    """Why a (density, error) point cannot be fitted, or ``None``."""
    for name, value in (("density", density), ("error", error)):
        if not math.isfinite(value):  # a failed measurement: neither a percentage nor a 0 to fix
            return f"{name} {value} is not a finite number; drop that point"
    if density == 0.0:
        return f"density {density} outside (0, 1]: no weight is left, so no error to fit; drop that point"
    if not 0.0 < density <= 1.0:
        return f"density {density} outside (0, 1]; densities are fractions, not %"
    if error > 1.0:
        return f"error {error} outside (0, 1]; errors are fractions (1 − accuracy), not %: divide them by 100"
    if not 0.0 < error <= 1.0:
        return (f"error {error} outside (0, 1]; errors are fractions (1 − accuracy), and the fit uses relative "
                "error, so 0 cannot be fitted (evaluate on more data)")
    return None


def read_points(path: str | Path) -> ErrorPoints:
    """Read ``density,error[,width,depth]`` (extra columns ignored); errors name file and row.

    Width/depth columns that are empty in every row count as absent (``imp`` writes them
    empty for non-MLP models). A row whose ``evaluated_on`` (``imp``'s column) is
    ``training_data`` marks the points ``on_training_data``; rows that name two kinds (sweeps
    with and without eval data joined) are refused: a law through both is neither's.
    """
    path = Path(path)
    check_file_size(path, MAX_CSV_BYTES, "points file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a BOM (as Excel saves CSVs) is no header text
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            check_header(path, header)
            # the header first: a file with another separator has decimal commas, and its rows' field count
            # said nothing of the separator
            missing = [c for c in ("density", "error") if c not in header]
            if missing:
                raise InputError(f"{path}: header lacks {', '.join(missing)}; expected 'density,error[,width,depth]'"
                                 + header_fix(header, missing))
            rows = []
            for r in itertools.islice(reader, MAX_CSV_ROWS + 1):
                check_row_fields(path, reader.line_num, r)
                rows.append((reader.line_num, {k.strip(): v.strip() for k, v in r.items()}))
            check_csv_rows(rows, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a CSV file ({exc})") from exc
    if not rows:
        raise InputError(f"{path}: no data rows below the header")
    shape_cols = [c for c in ("width", "depth") if c in header and any(r.get(c) for _, r in rows)]
    if len(shape_cols) == 1:
        raise InputError(
            f"{path}: '{shape_cols[0]}' given without its partner; give both width and depth "
            "or neither"
        )
    cols = ["density", "error", *shape_cols]
    values = np.empty((len(rows), len(cols)))
    for i, (line, row) in enumerate(rows):
        for j, col in enumerate(cols):
            try:
                values[i, j] = float(row.get(col) or "")
            except ValueError:
                raise InputError(f"{path}, line {line}: "
                                 + (percent_fix(col, row.get(col)) or f"{col} {row.get(col) or ''!r} is not a number")
                                 ) from None
            if not math.isfinite(values[i, j]):
                raise InputError(f"{path}, line {line}: {col} is {row[col]}, must be finite")
        problem = _point_problem(values[i, 0], values[i, 1])
        if problem:
            raise InputError(f"{path}, line {line}: {problem}")
        if shape_cols and (values[i, 2] <= 0 or values[i, 3] <= 0):
            raise InputError(f"{path}, line {line}: width and depth must be positive")
    kinds = {row["evaluated_on"]: line for line, row in reversed(rows) if row.get("evaluated_on")}
    if len(kinds) > 1:
        (first, at), (other, then) = sorted(kinds.items(), key=lambda kind: kind[1])[:2]
        raise InputError(f"{path}: evaluated_on is {first!r} on line {at} but {other!r} on line {then}: the rows hold "
                         "errors measured on two kinds of data (sweeps with and without held-out eval data joined); fit each "
                         "kind's rows alone")
    on_training = "training_data" in kinds
    if shape_cols:
        return ErrorPoints(values[:, 0], values[:, 1], values[:, 2], values[:, 3], on_training_data=on_training)
    return ErrorPoints(values[:, 0], values[:, 1], on_training_data=on_training)


# ------------------------------------------------------------------ fitting


@dataclass(frozen=True)
class _Problem:
    """Fixed data of a fit: log densities, config index per point, ε_np layout."""

    log_d: np.ndarray
    log_err: np.ndarray
    cfg: np.ndarray  # config index of every point
    log_l: np.ndarray  # per config (zeros for the single law)
    log_w: np.ndarray
    shapes: tuple[tuple[float | None, float | None], ...]
    eps_np_measured: np.ndarray  # per config: mean error at density 1, NaN without such a row
    joint: bool
    # The multi-start search holds each measured ε_np (a joint fit of 12 networks ran 5× longer
    # with them free); the final fit, started at the search's best, frees them.
    pinned: bool = False

    @property
    def fitted_np(self) -> np.ndarray:
        """Configurations whose ln ε_np is a parameter: all, or when pinned the unmeasured."""
        if self.pinned:
            return np.flatnonzero(np.isnan(self.eps_np_measured))
        return np.arange(self.eps_np_measured.size)

    @property
    def n_params(self) -> int:
        return 3 + 2 * self.joint + self.fitted_np.size

    def unpack(self, x: np.ndarray):
        """x = [ln γ, ln p, ln ε↑, (φ, ψ), ln ε_np of each fitted config]."""
        log_g, log_p, eps_up = x[0], x[1], math.exp(x[2])
        phi, psi = (x[3], x[4]) if self.joint else (0.0, 0.0)
        eps_np = self.eps_np_measured.copy()
        eps_np[self.fitted_np] = np.exp(x[3 + 2 * self.joint :])
        return math.exp(log_g), log_p, eps_up, phi, psi, eps_np

    def eps_np_starts(self) -> list[float]:
        """ln ε_np of the fitted configs to start from: the measured dense error, else the
        configuration's smallest."""
        return [math.log(self.eps_np_measured[k]) if not np.isnan(self.eps_np_measured[k])
                else self.log_err[self.cfg == k].min() for k in self.fitted_np]

    def log_pred(self, x: np.ndarray) -> np.ndarray:
        gamma, log_p, eps_up, phi, psi, eps_np = self.unpack(x)
        log_m = self.log_d + phi * self.log_l[self.cfg] + psi * self.log_w[self.cfg]
        return log_error(log_m, eps_np[self.cfg], eps_up, gamma, log_p)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return np.expm1(self.log_pred(x) - self.log_err)  # δ = ε̂/ε − 1

    @property
    def error_floor(self) -> float:
        """Lower bound of ε↑ and of a fitted ε_np: 1e-6, or a decade under the smallest error
        measured (a fixed 1e-6 pinned ε↑ of errors ~1e-6 at the bound, without a warning)."""
        return min(1e-6, 0.1 * math.exp(self.log_err.min()))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        # ln p reaches 20 below the smallest density, so densities under e^-40 keep their knee
        lo = [math.log(GAMMA_BOUNDS[0]), min(LOG_P_BOUNDS[0], self.log_d.min() - 20.0), math.log(self.error_floor)]
        hi = [math.log(GAMMA_BOUNDS[1]), LOG_P_BOUNDS[1], 0.0]
        if self.joint:
            lo += [EXPONENT_BOUNDS[0]] * 2
            hi += [EXPONENT_BOUNDS[1]] * 2
        lo += [math.log(self.error_floor)] * self.fitted_np.size
        hi += [0.0] * self.fitted_np.size
        return np.array(lo), np.array(hi)


def _make_problem(points: ErrorPoints, joint: bool) -> _Problem:
    d, e = np.asarray(points.density, float), np.asarray(points.error, float)
    if joint and not points.has_shape:
        raise UsageError("joint error-law fit needs " + said("width and depth columns in the CSV",
                                                             "points with width and depth (ErrorPoints(..., width, depth))"))
    pairs = [(None, None)] * d.size
    if points.has_shape:
        shaped = list(zip(points.width.tolist(), points.depth.tolist()))
        if not joint and len(set(shaped)) > 1:
            raise UsageError(
                "the points come from several (width, depth) networks: fit them jointly "
                f"({said('--joint', 'joint=True')}) or keep one network's rows"
            )
        pairs = shaped if joint else pairs
    shapes = tuple(dict.fromkeys(pairs))
    cfg = np.array([shapes.index(s) for s in pairs])
    eps_np = np.full(len(shapes), np.nan)
    for k in range(len(shapes)):
        at_one = (cfg == k) & (d >= 1.0 - _REL_TOL)
        if at_one.any():
            eps_np[k] = e[at_one].mean()
    log_l = np.array([math.log(s[1]) if joint else 0.0 for s in shapes])
    log_w = np.array([math.log(s[0]) if joint else 0.0 for s in shapes])
    if joint and (np.unique(log_l).size < 2 or np.unique(log_w).size < 2):
        raise UsageError(
            "joint error-law fit needs at least 2 distinct depths and 2 distinct widths; "
            f"fit each network alone without {said('--joint', 'joint=True')}"
        )
    return _Problem(np.log(d), np.log(e), cfg, log_l, log_w, shapes, eps_np, joint)


def _distinct_densities(problem: _Problem) -> int:
    """Distinct (network, density) pairs: repeated measurements at one density (seeds) pin
    no more of the curve than one, so the parameters need as many of these, not rows."""
    return int(np.unique(np.column_stack([problem.cfg, np.round(problem.log_d, 9)]), axis=0).shape[0])


def _clip_start(problem: _Problem, x0: np.ndarray) -> np.ndarray:
    lo, hi = problem.bounds()
    margin = 1e-6 * (hi - lo)
    return np.clip(x0, lo + margin, hi - margin)


def _solve(problem: _Problem, starts: Sequence[np.ndarray]) -> optimize.OptimizeResult:
    lo, hi = problem.bounds()
    best = None
    for x0 in starts:
        res = optimize.least_squares(
            problem.residuals, _clip_start(problem, x0), bounds=(lo, hi),
            method="trf", x_scale="jac",
        )
        if np.isfinite(res.cost) and (best is None or res.cost < best.cost):
            best = res
    if best is None:
        raise NumericalError("error-law fit: every start gave a non-finite cost; check the data")
    return best


def _grid_starts(problem: _Problem, joint_init: np.ndarray | None, rng, n_random: int):
    """Grid of (γ, p) starts, ε↑ at the largest observed error; seeded random extras."""
    err = np.exp(problem.log_err)
    measured = problem.eps_np_measured[~np.isnan(problem.eps_np_measured)]
    floor = measured.max() if measured.size else err.min()
    eps_up0 = min(1.0, max(err.max(), floor * 1.01))
    np_free0 = problem.eps_np_starts()
    shape0 = list(joint_init[3:5]) if joint_init is not None else []
    lo, hi = problem.bounds()
    starts = [] if joint_init is None else [np.concatenate([joint_init, np_free0])]
    # the fixed knees suit densities of 1e-4..1; the measured range's own span any other scale
    log_d_lo, log_d_hi = problem.log_d.min(), problem.log_d.max()
    grid_p = sorted({*map(math.log, _GRID_P), *np.linspace(log_d_lo, log_d_hi, 4).tolist()})
    starts += [
        np.array([math.log(g), log_p, math.log(eps_up0), *shape0, *np_free0])
        for g in _GRID_GAMMA
        for log_p in grid_p
    ]
    for _ in range(n_random):
        x = np.array([rng.uniform(math.log(0.2), math.log(8.0)), rng.uniform(min(math.log(1e-5), log_d_lo), 0.0),
                      math.log(rng.uniform(floor, 1.0)), *shape0, *np_free0])
        starts.append(np.clip(x, lo, hi))
    return starts


def _joint_init(points: ErrorPoints, problem: _Problem, seed: int) -> np.ndarray:
    """Joint start from per-configuration fits: median γ and ε↑, and φ, ψ, p′ from
    the regression ln p_c = ln p′ − φ ln l_c − ψ ln w_c. Returns [ln γ, ln p′, ε↑, φ, ψ]."""
    fits = []
    for k, (w, l) in enumerate(problem.shapes):
        sel = problem.cfg == k
        single = _make_problem(ErrorPoints(points.density[sel], points.error[sel]), joint=False)
        distinct = _distinct_densities(single)
        if distinct <= single.n_params:
            raise UsageError(
                f"configuration width={w:g}, depth={l:g} has points at {distinct} distinct densities; "
                f"the joint fit needs more than {single.n_params} per configuration"
            )
        search = replace(single, pinned=True)
        fits.append(_solve(search, _grid_starts(search, None, np.random.default_rng(seed), 0)).x)
    fits = np.array(fits)
    design = np.column_stack([np.ones(len(fits)), -problem.log_l, -problem.log_w])
    coef, *_ = np.linalg.lstsq(design, fits[:, 1], rcond=None)
    lo, hi = problem.bounds()
    x0 = [np.median(fits[:, 0]), coef[0], math.log(np.median(np.exp(fits[:, 2]))), coef[1], coef[2]]
    return np.clip(np.array(x0), lo[:5], hi[:5])


def _intervals(problem: _Problem, res) -> dict[str, Interval]:
    """95 % Gauss–Newton intervals from the Jacobian (see module docstring)."""
    n, k = res.fun.size, res.x.size
    names = ["gamma", "p", "eps_up"] + ["phi", "psi"] * problem.joint
    if n <= k:
        return {}
    s2 = 2 * res.cost / (n - k)
    cov = s2 * np.linalg.pinv(res.jac.T @ res.jac)
    half = stats.t.ppf(0.975, n - k) * np.sqrt(np.clip(np.diag(cov), 0, None))
    # pinv gives a direction the points do not move (flat errors leave γ and p free) zero
    # variance, so an unpinned parameter got a zero-width interval: it is unbounded instead
    _, sv, vt = np.linalg.svd(res.jac, full_matrices=False)
    flat = vt[sv <= _RANK_TOL * sv.max()] if sv.max() > 0 else vt
    half[np.any(np.abs(flat) > _RANK_TOL, axis=0)] = np.inf
    out = {}
    for i, name in enumerate(names):
        lo, hi = res.x[i] - half[i], res.x[i] + half[i]
        if name in ("gamma", "p"):  # internal parameter is the log; a side past the largest float is
            # unbounded (inf), not capped at a number the points never bounded (it said 1.01e304)
            lo, hi = (math.inf if v > _LOG_FLOAT_MAX else math.exp(v) for v in (lo, hi))
        elif name == "eps_up":  # ε↑ ± ε↑·h (to first order in h, the half-width of ln ε↑)
            eps_up = math.exp(res.x[i])
            lo, hi = max(eps_up * (1 - half[i]), 0.0), min(eps_up * (1 + half[i]), 1.0)
        out[name] = Interval(float(lo), float(hi))
    return out


def _warnings(
    problem: _Problem, res, eps_up: float, intervals: dict[str, Interval]
) -> tuple[str, ...]:
    """Identifiability checks of the fit of Rosenfeld et al. 2021 (fits that must not be trusted)."""
    out = []
    _, hi = problem.bounds()
    at_bound = math.isclose(res.x[0], hi[0], rel_tol=1e-3)
    if at_bound:
        out.append(f"gamma hit its bound {GAMMA_BOUNDS[1]:g}: the curve is a step, not a power law")
    _, log_p, _, phi, psi, eps_np = problem.unpack(res.x)
    err = np.exp(problem.log_err)
    if eps_up <= eps_np.max() * (1 + _REL_TOL):  # the law's error rises with pruning: ε↑ > ε_np
        out.append(
            f"the fitted high-error plateau eps_up {eps_up:.4g} is not above the dense error eps_np "
            f"{eps_np.max():.4g}: the points show no rise of the error with pruning, so this is not the pruning "
            "law; prune further, or check that the column is the error (1 − accuracy), not the accuracy"
        )
    elif not np.any(err > np.sqrt(eps_np[problem.cfg] * eps_up)):
        out.append(
            "no point lies above sqrt(eps_np*eps_up): the high-error plateau is unseen, so "
            "eps_up and p are not identifiable (prune further)"
        )
    log_m = problem.log_d + phi * problem.log_l[problem.cfg] + psi * problem.log_w[problem.cfg]
    if log_p < log_m.min():
        out.append(
            "the high-error knee p lies below every measured density: eps_up and p are "
            "extrapolated, not identifiable from these points (prune further)"
        )
    p_iv, up_iv = intervals.get("p"), intervals.get("eps_up")
    if p_iv and up_iv and (p_iv.high > 10 * p_iv.low or up_iv.high - up_iv.low > 0.5 * eps_up):
        out.append(
            "p or eps_up is not identifiable from these points (95 % interval spans a decade "
            "or ±25 %): prune further to reach the high-error plateau"
        )
    g_iv = intervals.get("gamma")
    if g_iv and g_iv.high > 10 * g_iv.low and not at_bound:  # at the bound it was said above
        out.append(
            f"gamma is not identifiable from these points (95 % interval [{g_iv.low:.3g}, {g_iv.high:.3g}] spans "
            "a decade): the power-law stretch between the plateaus is too short or too noisy; measure more "
            "densities there"
        )
    rows = np.column_stack([problem.cfg, problem.log_d, problem.log_err])
    repeated = rows.shape[0] - np.unique(rows, axis=0).shape[0]
    if repeated:
        out.append(repeated_rows(f"{repeated} row(s) repeat an earlier (density, error)"))
    if np.isnan(problem.eps_np_measured).any():
        out.append("no row at density 1 for some configuration: its eps_np (the dense error) is extrapolated "
                   "from pruned rows; measure the unpruned network")
    return tuple(out)


def fit_error_law(
    points: ErrorPoints,
    joint: bool = False,
    seed: int = 0,
    random_starts: int = 8,
    leave_one_out: bool = True,
) -> ErrorLawFit:
    """Fit the single-network law or, with ``joint``, the joint law.

    Multi-start bounded least squares on δ; ``leave_one_out`` refits once per point
    (warm-started at the full fit) and reports the |δ| of the held-out prediction.

    Points on a known law give its parameters back:

    >>> import numpy as np
    >>> density = np.geomspace(1, 1e-3, 20)
    >>> fit = fit_error_law(ErrorPoints(density, error_law(density, 0.05, 0.9, 2.0, 0.01)))
    >>> round(fit.eps_up, 2), round(fit.gamma, 1), round(fit.p, 3)
    (0.9, 2.0, 0.01)
    """
    if not isinstance(points, ErrorPoints):  # a list had no .error: an AttributeError
        raise UsageError(f"points must be a prunelimit.laws.errorlaw.ErrorPoints, got {type(points).__name__}; "
                         "build it with ErrorPoints(density, error), or take ImpResult.points()")
    validate.boolean("joint", joint)
    validate.integer("seed", seed, 0)
    validate.integer("random_starts", random_starts, 0)
    validate.boolean("leave_one_out", leave_one_out)
    points = _canonical(points)
    problem = _make_problem(points, joint)
    distinct = _distinct_densities(problem)
    if distinct <= problem.n_params:
        raise UsageError(
            f"error-law fit needs points at more than {problem.n_params} distinct densities"
            f"{' (network, density pairs)' if joint else ''}, got {distinct} in {problem.log_d.size} row{'s' * (problem.log_d.size > 1)}; "
            "prune to more levels"
        )
    rng = np.random.default_rng(seed)
    init = _joint_init(points, problem, seed) if joint else None
    search = replace(problem, pinned=True)
    best = _solve(search, _grid_starts(search, init, rng, random_starts)).x
    res = _solve(problem, [np.concatenate([best[: 3 + 2 * joint], np.log(search.unpack(best)[5])])])
    gamma, log_p, eps_up, phi, psi, eps_np = problem.unpack(res.x)
    delta = res.fun
    loo = _leave_one_out(points, joint, res.x, problem) if leave_one_out else None
    intervals = _intervals(problem, res)
    configs = tuple(
        Config(w, l, float(eps_np[k]), bool(not np.isnan(problem.eps_np_measured[k])))
        for k, (w, l) in enumerate(problem.shapes)
    )
    d = points.density  # not e^(ln d), a last bit off the measured densities the range states
    return ErrorLawFit(
        joint=joint,
        eps_up=float(eps_up),
        gamma=gamma,
        p=math.exp(log_p),
        phi=float(phi) if joint else None,
        psi=float(psi) if joint else None,
        configs=configs,
        intervals=intervals,
        mean_rel_error=float(delta.mean()),
        std_rel_error=float(delta.std(ddof=1)),
        loo_mean_abs_rel_error=None if loo is None else float(loo.mean()),
        loo_max_abs_rel_error=None if loo is None else float(loo.max()),
        density_range=(float(d.min()), float(d.max())),
        points=int(d.size),
        warnings=_warnings(problem, res, eps_up, intervals) + _training_errors(points.on_training_data),
    )


def _training_errors(on_training_data: bool) -> tuple[str, ...]:
    """The warning of points whose errors are training errors (``imp`` without eval data)."""
    if not on_training_data:
        return ()
    return (f"the errors are 1 − accuracy on the training data the IMP sweep trained on (evaluated_on "
            f"training_data), not on held-out data as the law's are; run imp with {option('eval_data')}",)


def _canonical(points: ErrorPoints) -> ErrorPoints:
    """The points in one order, whatever the rows': by network, then density (falling) and
    error, so the residuals, the networks' order and the fit itself do not depend on it."""
    keys = [points.error, -points.density] + ([points.depth, points.width] if points.has_shape else [])
    order = np.lexsort(keys)
    return ErrorPoints(points.density[order], points.error[order],
                       None if points.width is None else points.width[order],
                       None if points.depth is None else points.depth[order], points.on_training_data)


def _leave_one_out(points: ErrorPoints, joint: bool, x_full, problem: _Problem) -> np.ndarray:
    """|δ| of each point predicted from a fit of the others (same ε_np rule, warm start)."""
    out = np.empty(problem.log_d.size)
    for i in range(out.size):
        keep = np.arange(out.size) != i
        sub = ErrorPoints(
            points.density[keep], points.error[keep],
            None if points.width is None else points.width[keep],
            None if points.depth is None else points.depth[keep],
        )
        sub_problem = _make_problem(sub, joint)
        shape = problem.shapes[problem.cfg[i]]
        if shape not in sub_problem.shapes:  # its configuration's only row: nothing to predict from
            out[i] = np.nan
            continue
        res = _solve(sub_problem, [np.concatenate([x_full[: 3 + 2 * joint], sub_problem.eps_np_starts()])])
        gamma, log_p, eps_up, phi, psi, eps_np = sub_problem.unpack(res.x)
        k = sub_problem.shapes.index(shape)
        log_m = problem.log_d[i] + phi * sub_problem.log_l[k] + psi * sub_problem.log_w[k]
        pred = float(log_error(log_m, eps_np[k], eps_up, gamma, log_p))
        out[i] = abs(math.expm1(pred - problem.log_err[i]))
    return out[~np.isnan(out)]


# ------------------------------------------------------------------ the users' questions


def check_query_shape(joint: bool, width, depth) -> None:
    """A width or depth names a network of a joint fit; a single-network fit would ignore it."""
    if not joint and (width is not None or depth is not None):
        raise UsageError("width and depth select a network of a joint fit; "
                         + said("add --joint (CSV with width,depth columns), or drop --width/--depth",
                                "fit with joint=True (points with width and depth), or drop width= and depth="))


def _config_for(fit: ErrorLawFit, width, depth, eps_np) -> tuple[float, float]:
    """(ε_np, ln of the invariant's shape factor l^φ w^ψ) for a query."""
    check_query_shape(fit.joint, width, depth)
    if eps_np is not None:
        check_error("eps_np", eps_np)
        if eps_np >= fit.eps_up:  # the knee q = p·(ε↑/ε_np)^(1/γ) falls to p or below: the law inverts
            raise OptionError("eps_np", f"{{0}} {eps_np:g} is not below the fitted high-error plateau eps_up "
                                        f"{fit.eps_up:.4g}: with it the law's error would not rise as the network is "
                                        "pruned; give the unpruned network's error, below eps_up")
    if not fit.joint:
        return (fit.configs[0].eps_np if eps_np is None else eps_np), 0.0
    if width is None or depth is None:
        raise UsageError("a joint error law needs the width and depth of the network to predict; "
                         + said("add --width and --depth", "give width= and depth="))
    shift = fit.phi * math.log(depth) + fit.psi * math.log(width)
    if eps_np is not None:
        return eps_np, shift
    for c in fit.configs:
        if c.width == width and c.depth == depth:
            return c.eps_np, shift
    raise UsageError(
        f"width={width:g}, depth={depth:g} was not fitted; give its unpruned error with "
        f"{said('--eps-np', 'eps_np=')} (fitted, width×depth: {', '.join(f'{c.width:g}×{c.depth:g}' for c in fit.configs)})"
    )


def check_queries(density: float | None = None, target_error: float | None = None,
                  density_name: str = "density") -> None:
    """A density to predict at lies in (0, 1] and a target error in (0, 1): both are fractions
    (refused before a fit's work, and by ``predict`` and ``density_for_error``); an
    ``OptionError`` naming the option (``density_name``: the command line's ``predict``)."""
    if density is not None and not 0.0 < density <= 1.0:
        raise OptionError(density_name, f"{{0}} {density} outside (0, 1]; densities are fractions"
                                        f"{validate.percent_hint(density)}")
    if target_error is not None and not 0.0 < target_error < 1.0:
        raise OptionError("target_error", f"{{0}} {target_error} outside (0, 1); errors are fractions (1 − accuracy)"
                                          f"{validate.percent_hint(target_error)}")


def _outside(fit: ErrorLawFit, density: float, width, depth) -> str | None:
    """Where a query leaves what the fit measured (its density range; a joint fit's widths and
    depths), or ``None``."""
    lo, hi = fit.density_range
    if not lo * (1 - _REL_TOL) <= density <= hi * (1 + _REL_TOL):
        return f"density {density:g} lies outside the measured range [{lo:g}, {hi:g}]"
    if fit.joint:
        for name, value in (("width", width), ("depth", depth)):
            seen = [getattr(c, name) for c in fit.configs]
            if value is not None and not min(seen) <= value <= max(seen):
                return f"{name} {value:g} lies outside the fitted range [{min(seen):g}, {max(seen):g}]"
    return None


def extrapolated(fit: ErrorLawFit, density: float, width: float | None = None,
                 depth: float | None = None) -> str | None:
    """The warning for an answer at ``density`` (of the network ``width`` × ``depth``) that only
    ``extrapolate`` gave, or ``None`` within what the fit measured."""
    reason = _outside(fit, density, width, depth)
    return None if reason is None else f"{reason}: the answer is extrapolated, beyond what the law is trusted on"


def _check_range(fit: ErrorLawFit, density: float, width, depth, extrapolate: bool) -> None:
    check_queries(density)
    reason = None if extrapolate else _outside(fit, density, width, depth)
    if reason:
        raise UsageError(f"{reason}; the law is not trusted beyond it "
                         f"(pass {said('--extrapolate', 'extrapolate=True')} to force)")


def predict(
    fit: ErrorLawFit,
    density: float,
    width: float | None = None,
    depth: float | None = None,
    eps_np: float | None = None,
    extrapolate: bool = False,
) -> float:
    """Predicted error at ``density`` (joint law: of the network ``width`` × ``depth``), within
    the measured density range unless ``extrapolate``.

    >>> import numpy as np
    >>> density = np.geomspace(1, 1e-3, 20)
    >>> fit = fit_error_law(ErrorPoints(density, error_law(density, 0.05, 0.9, 2.0, 0.01)))
    >>> round(predict(fit, 0.01), 3)
    0.475
    """
    _check_range(fit, density, width, depth, extrapolate)
    e_np, shift = _config_for(fit, width, depth, eps_np)
    return float(np.exp(log_error(math.log(density) + shift, e_np, fit.eps_up, fit.gamma,
                                  math.log(fit.p))))


def density_for_error(
    fit: ErrorLawFit,
    target_error: float,
    width: float | None = None,
    depth: float | None = None,
    eps_np: float | None = None,
    extrapolate: bool = False,
) -> float:
    """The density whose predicted error is ``target_error`` (brentq in ln d).

    The search runs over the measured density range (with ``extrapolate``, from 1e-12,
    or the smallest measured density if lower, to 1); a target the law does not reach
    there is refused with the reachable error range.

    >>> import numpy as np
    >>> density = np.geomspace(1, 1e-3, 20)
    >>> fit = fit_error_law(ErrorPoints(density, error_law(density, 0.05, 0.9, 2.0, 0.01)))
    >>> round(density_for_error(fit, 0.475), 4)
    0.01
    """
    check_queries(target_error=target_error)
    e_np, shift = _config_for(fit, width, depth, eps_np)
    _check_range(fit, fit.density_range[1], width, depth, extrapolate)
    # extrapolating must still cover the measured range, however small its densities
    low = min(1e-12, fit.density_range[0])
    lo, hi = (low, 1.0) if extrapolate else fit.density_range
    log_p = math.log(fit.p)

    def gap(log_d: float) -> float:
        return float(log_error(log_d + shift, e_np, fit.eps_up, fit.gamma, log_p)) - math.log(
            target_error
        )

    a, b = math.log(lo), math.log(hi)
    ga, gb = gap(a), gap(b)
    if ga * gb > 0:
        e_lo, e_hi = sorted((math.exp(ga) * target_error, math.exp(gb) * target_error))
        raise UsageError(
            f"target error {target_error:g} is not reached for densities in [{lo:g}, {hi:g}] "
            f"(predicted errors there span [{e_lo:.4g}, {e_hi:.4g}]; "
            f"{_unreached(math.exp(gap(0.0)) * target_error, fit.eps_up, target_error, extrapolate, low)})"
        )
    return math.exp(optimize.brentq(gap, a, b, xtol=1e-12, rtol=1e-12))


def _unreached(at_one: float, eps_up: float, target_error: float, extrapolated: bool, low: float) -> str:
    """Why a search missed ``target_error``: the law's errors run from ``at_one`` (density 1)
    to ``eps_up`` (density → 0), so a target outside them is reached by no density, and
    only one inside them by extrapolating (not pointed to again when it was given)."""
    if min(at_one, eps_up) < target_error < max(at_one, eps_up):
        if not extrapolated:
            return f"{said('--extrapolate', 'extrapolate=True')} searches [{low:g}, 1]"
        return "the law reaches it only at a density below that"
    return (f"the law's errors run from {at_one:.4g} at density 1 to its high-error plateau eps_up {eps_up:.4g} "
            "as the density goes to 0: no density gives it")


# ------------------------------------------------------------------ plot


def plot_fit(fit: ErrorLawFit, points: ErrorPoints, path: str | Path, force: bool = False) -> Path:
    """Write :func:`fit_figure` as a PNG, atomically (an existing file only with ``force``)."""
    from prunelimit.report.plots import save_figure

    return save_figure(fit_figure(fit, points), path, force)


def fit_figure(fit: ErrorLawFit, points: ErrorPoints):
    """Measured points and fitted curve(s), log–log: an open matplotlib ``Figure``."""
    from prunelimit.report.figures import plt

    lo, hi = fit.density_range
    grid = np.geomspace(lo, hi, 200)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for k, c in enumerate(fit.configs):
        if fit.joint:
            sel = (points.width == c.width) & (points.depth == c.depth)
            label = f"w={c.width:g}, l={c.depth:g}"
        else:
            sel = np.ones(points.density.size, bool)
            label = "measured"
        curve = [predict(fit, g, c.width, c.depth) for g in grid]
        (line,) = ax.plot(grid, curve, lw=1.5, label="fitted law" + (f" ({label})" if fit.joint else ""))
        ax.scatter(points.density[sel], points.error[sel], s=12, color=line.get_color(),
                   label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("density (fraction of prunable weights kept)")
    ax.set_ylabel("error (fraction; imp: 1 − accuracy)")
    # the parameters as the fit's table states them (four significant digits, − for a negative one)
    ax.set_title(f"error law: γ={signed(fit.gamma, '.4g')}, ε↑={signed(fit.eps_up, '.4g')}, p={signed(fit.p, '.4g')}"
                 + (f", φ={signed(fit.phi, '.4g')}, ψ={signed(fit.psi, '.4g')}" if fit.joint else ""))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
