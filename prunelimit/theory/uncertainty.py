"""How far ρ* from a sampled spectrum can be trusted: ρ* ± its uncertainty, by source.

An SLQ estimate of ρ* differs from the ρ* of the exact spectrum for three reasons, each
measured on the run itself:

* **probes** — Hutchinson noise: each probe run estimates ``zᵀ f(H) z / D``, a random
  sample of ``tr f(H)/D``. Two figures exist and the tighter is stated:

  - the jackknife over runs (leave one run out, solve ρ* from the rest: Efron & Stein,
    *Ann. Statist.* 9, 1981), a standard error (1σ) scaled by Student's t;
  - a bound that needs no second run. F's terms ``f = 2ε/(2ε + |λ|R²)`` lie in [0, 1], so
    both ``A = f(H)`` and ``B = I − A`` lie between 0 and I (``A² ≼ A``, ``B² ≼ B``) and
    share their off-diagonal entries up to sign. A Rademacher probe's ``zᵀAz`` has
    variance ``2 Σ_{i≠j} A_ij²`` (Hutchinson, 1989; Avron & Toledo, *J. ACM* 58, 2011),
    at most ``2 min(tr A, tr B) = 2D·min(F, 1 − F)``. Divided by D², and averaged over k
    runs: ``sd(F̂) ≤ √(2 min(F, 1 − F)/(kD))``. At the root F = ρ*, and ρ* moves by at
    most what F moves (``g(ρ) = F(R(ρ)) − ρ`` falls with slope ≤ −1), so
    ``sd(ρ̂*) ≤ √(2 min(ρ*, 1 − ρ*)/(kD))``, with ρ* widened by the truncation part (the
    exact value is not known), scaled by the normal quantile (a quadratic form in D
    independent signs is close to normal at the D where this bound is the tighter). On
    large models it is small from one probe (at most 0.002 at D = 10⁶), which is why
    adaptive SLQ there starts with a single run (``initial_runs``). It is taken at the far
    end of the interval it spans, not at the estimate (``hutchinson_bound``). The jackknife,
    the runs' spread at the estimate, is taken over the bracket too (on its bounding rules,
    the largest stated) where the bracket reaches ρ* whose bound is ``BRACKET_NOISE_REACH``
    times the bound at the estimate: with ρ̂ near 0 and the bracket reaching 0.7 (a null
    space that 40 steps cannot part from a fine bulk, ε = 1e-20) every run's ρ* sat near 0,
    their jackknife read ~0, and 3 × 40 held the exact ρ* in 121 of 200 seeds (199 now).

  The jackknife is eligible only where a probe's F is close enough to normal for a
  Student interval from few runs: at least ``MIN_EFFECTIVE_TERMS`` effective χ²₁ terms
  (``effective_terms``). Where one eigenvalue dominates a spectrum otherwise at zero, a
  probe's F is one scaled χ²₁ draw, and three runs that all drew small agree closely and
  are off together: there the bound is stated.
* **steps** — quadrature truncation: each run's m-node rule is not its probe's measure
  yet. ``prunelimit.curvature.bracket`` gives per-run Gauss and Gauss–Radau rules whose F
  bound the run's exact F from below and above for every R; the probe-mean bounds give
  ρ_lo ≤ ρ*_probes ≤ ρ_hi (``g(ρ) = F(R(ρ)) − ρ`` is decreasing). The stated figure is the
  larger distance from the estimate to that bracket: a *bound*, not a standard error.
  ``negative="flat"`` is not a function of λ², but its terms are non-increasing in the
  signed λ, which the runs' own Gauss rules bound (``bracket.monotone_bracket``); its
  bracket is the tighter, on each side, of that bound on the whole F and of the λ²
  bracket of the ``abs`` terms plus that bound on what ``flat`` adds below 0
  (``flat_bracket_ratios``). The change of ρ* between m/2 and m steps, which it stated
  before, is no bound: 12 steps on a spectrum with 40 % of its eigenvalues near −1/c held
  ρ* in 31 of 100 seeds. Without a bracket (deflated or H² runs) it falls back to that
  change, an indication only.
* **data** — curvature on a subsample (``--hessian-samples``): the same probe, at the
  same steps, on the subsample less each of its K disjoint class-stratified parts gives
  ρ*_(1) … ρ*_(K) (common probe: their differences are the data's), and the delete-a-group
  jackknife (Quenouille, *Biometrika* 43, 1956; Efron & Stein, 1981) gives
  ``sd(ρ*_S) ≈ (K − 1)/√K · s · sqrt(1 − n_S/n)`` with ``s`` their sample sd and the
  finite-population correction (``left_out_sd``), from K values: K − 1 degrees of freedom.
  For a statistic linear in the samples it is the parts' own spread over √K
  (``part_sd``: with sampling variance ∝ 1/n, a part's varies K times as much as the
  subset's), which the data part was until the parts were found too small for that
  scaling where a few samples carry the curvature (a trained classifier's low-margin
  ones): a part of n/K holds one or none, its ρ* moves less than in proportion to them,
  and the parts' spread held the subsets' mean ρ* in 78 of 90 subsets of trained MLPs
  (86.7 %, docs/accuracy.md); the subset less a part is (K − 1)/K of it, in its regime.
  The Efron–Stein inequality makes the jackknife's variance err high, not low, in
  expectation. It is the scatter between subsets only: the sets shift together with the
  subset's size, and that systematic shift is not in it (measured in docs/accuracy.md).

With ``--method paper`` the headline ρ* is the reference code's grid point ``i/1000`` of a
table at integer R of whole weights: how far those roundings can move it from the
spectrum's continuous root (``prunelimit.theory.paper.rounding_reach``, at least half a
grid step, 0.0005) is the **grid** part, added to the ± whole, as the truncation bound is
(the paper arithmetic's smoothed density is not in it: the gate and the consistency
checks compare the two roots against this ±).

Where ρ* depends on eigenvalues below the products' rounding (``rounding_reach``:
machine epsilon × λmax, plus the float64 solve's own ``SOLVE_ROUNDING`` epsilons; a model
fitted to zero loss, whose ε near 1e-15 makes ``R²/2ε`` count float32 Ritz values of
~1e-8·λmax in the Hessian's null space as curvature), how far they could move it is the
**rounding** part, added whole as a bound (``None`` where it is below
``ROUNDING_REACH_NOTED``, a tenth of a point: past the printed digits, so an ordinary
result's ± is unchanged). Neither the bracket nor the probe part holds it: both bound the
operator the products apply, not its rounding; more steps or probes cannot shrink it (only
float64 products, ``--method exact`` or a float64 model and data, or a larger ε). It is
stated for the exact spectrum too, at float64's epsilon: where ε is itself at the loss's
float64 rounding (1e-16), the exact spectrum's null space is float64 noise that still
counts, and its ρ* is that noise's as much as the model's. It is kept symmetric: an
unresolved node and the eigenvalue it stands for both lie anywhere in [0, floor], so either
may be the larger (a null space is *typically* flat, which raises ρ*, but not always), and
one half-width is what the gate and ``verify`` compare against; the gate's conservative
side ρ* − ± then holds it too. The checks of a grid ρ* against the continuous one take the
± less this part: it moves both roots alike (the same unresolved eigenvalues enter both).

The stated ``±`` is ``steps + grid + rounding + q·stderr``, at most 1 (a wider one says nothing more about a
ratio in [0, 1]), with ``stderr = sqrt(probes² + data²)`` and
``q`` a two-sided Student quantile whose degrees of freedom are Welch–Satterthwaite's for
that sum (*Biometrics Bulletin* 2, 1946): ``stderr⁴ / (probes⁴/ν_p + data⁴/ν_d)`` with
``ν_p = runs − 1`` for a jackknife, ∞ for the bound (its scale is known), and
``ν_d = K − 1`` for the data part (``effective_dof``). Without a data part this is
Student's with ``runs − 1`` for a jackknife and the normal quantile for the bound; with
it, the data part's few degrees of freedom widen ``q`` as far as it dominates (K = 4
alone: 3.18 at 95 %, not 1.96: a data part from one split, 1 d.o.f., at the normal
quantile held the subset's ρ* only (2/π)·arctan 1.96 = 70 % of the time). The truncation
bound is added whole, the statistical parts at 95 %. With one run only the bound exists
and ``q`` is its 95 % quantile. With several, the tighter of two intervals is stated, and
choosing the smaller of two random widths covers less often than either (the jackknife
of three runs is small by chance often enough to take 95 % down to 90 % on a spectrum
clustered at zero): each is therefore formed at 97.5 %, so that their tighter misses at
most 2.5 % + 2.5 % of the time (Bonferroni).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from prunelimit.theory.limit import solve_fixed_point
from prunelimit.theory.profile import MagnitudeProfile
from prunelimit.theory.statdim import Negative, axis_terms, curvatures, fraction_per_run

LEVEL = 0.95  # coverage the stated ± aims at
EACH_LEVEL = 1.0 - (1.0 - LEVEL) / 2  # each of two intervals the tighter is taken of (module doc)
MAX_PLUS_MINUS = 1.0  # the widest ± that says anything about a ratio in [0, 1] (Uncertainty.plus_minus)
ROUNDING_REACH_NOTED = 0.001  # ρ* moves by a tenth of a point: past its printed digits (the rounding part)
# The float64 arithmetic that turns products into nodes (Lanczos with reorthogonalisation, the
# tridiagonal's or the dense Hessian's eigen-solve) puts a null space's nodes up to this many
# float64 epsilons × λmax from 0 on its own: measured up to 4.2 (SLQ) and 2.6 (eigvalsh, D up to
# 3,000) on Q·diag·Qᵀ operators, 2.0 on a least-squares fit's exact spectrum (docs/accuracy.md).
# A floor of float64 epsilon alone missed them: 3 runs × 40 steps held a 95 %-null spectrum's
# ρ* in 9 of 30 seeds at ε = 1e-20. Beside float32 products' epsilon it is 1.5e-8 of the floor.
SOLVE_ROUNDING = 8.0
MIN_EFFECTIVE_TERMS = 8.0  # below, one probe's F has skewness √(8/n) > 1: too skewed for a jackknife of few runs
# Where the bracket reaches ρ* whose Hutchinson bound is more than this many times the bound at the
# estimate (the estimate near a clipping edge, the bracket far from it), the runs' spread at the
# estimate says nothing of the noise there: the jackknife is also taken on the bracket's rules
# (``probe_part``). Twice: the bundled example under ``--max-hvps 60`` (ρ̂ 0.913 ± 0.084, the bound's
# reach 1.38×) keeps the ± it states; on a 70 %-null spectrum at ε = 1e-20 (ρ̂ ~ 1e-4, the bracket
# to 0.7) the reach is √(0.5/ρ̂), 70×.
BRACKET_NOISE_REACH = 2.0


@dataclass(frozen=True)
class Uncertainty:
    """ρ*'s uncertainty by source, in ratio units (see the module doc).

    ``probes``: Hutchinson noise, 1σ: a jackknife standard error or a bound
    (``probes_kind`` says ``"jackknife"`` or ``"bound"``; ``None``: unknown); ``steps``:
    bound on the quadrature truncation (``steps_kind`` says ``"bracket"`` or
    ``"half-steps"``, the latter an indication only; ``"none"``: unknown, ``steps``
    ``None``); both kinds are ``"exact"`` for an exact spectrum; ``data``: 1σ of curvature
    subsampling (``None`` on the full data); ``runs``: probe runs behind ``probes``;
    ``grid``: bound on the rounding of a grid ρ* (``--method paper``; ``None`` otherwise);
    ``data_parts``: the K parts ``data`` was estimated from (K − 1 degrees of freedom);
    ``None`` takes the data part's scale as known, as reports before the K parts stated it;
    ``rounding``: bound on how far eigenvalues below the products' rounding move ρ*
    (``rounding_reach``; ``None`` below ``ROUNDING_REACH_NOTED`` and in reports before it).
    """

    probes: float | None
    steps: float | None
    data: float | None
    runs: int
    steps_kind: str = "bracket"
    probes_kind: str = "jackknife"
    grid: float | None = None
    data_parts: int | None = None
    rounding: float | None = None

    @property
    def level(self) -> float:
        """The coverage ``plus_minus`` aims at."""
        return LEVEL

    @property
    def stderr(self) -> float:
        """The statistical part, 1σ: probes and data combined."""
        return math.hypot(self.probes or 0.0, self.data or 0.0)

    @property
    def statistical(self) -> float:
        """The statistical part of ``plus_minus``: ``stderr`` at ``LEVEL``; from several runs,
        at ``EACH_LEVEL``, as the tighter of the jackknife's and the bound's (module doc)."""
        level = statistical_level(self.runs)
        # the bound's scale is known, not estimated from the runs: infinite degrees of freedom
        probes_dof = math.inf if self.probes_kind in ("bound", "exact") else self.runs - 1
        if self.data_parts is None:  # a data part of known scale (older reports): the probes' own quantile
            return student_factor(probes_dof, level) * self.stderr
        dof = effective_dof(((self.probes or 0.0, probes_dof), (self.data or 0.0, self.data_parts - 1)))
        return student_factor(dof, level) * self.stderr

    @property
    def plus_minus(self) -> float:
        """The stated half-width: the truncation, grid and rounding bounds plus the statistical part at
        ``LEVEL``, at most ``MAX_PLUS_MINUS`` (ρ* lies in [0, 1]: a half-width of 1 around any
        estimate covers every ratio, so a plan too short to say anything states no more)."""
        return min((self.steps or 0.0) + (self.grid or 0.0) + (self.rounding or 0.0) + self.statistical,
                   MAX_PLUS_MINUS)

    @property
    def plus_minus_apart_from_rounding(self) -> float:
        """``plus_minus`` without the ``rounding`` part: what compares two roots that the
        unresolved eigenvalues move alike (a grid ρ* and the continuous one, module doc)."""
        return replace(self, rounding=None).plus_minus

    def to_json(self) -> dict:
        return {"probes": self.probes, "probes_kind": self.probes_kind, "steps": self.steps, "data": self.data,
                "steps_kind": self.steps_kind, "grid": self.grid, "rounding": self.rounding,
                "data_parts": self.data_parts,
                "runs": self.runs, "level": self.level,
                "plus_minus": self.plus_minus}

    @classmethod
    def from_json(cls, stated: Any, runs: Any = None) -> "Uncertainty | None":
        """The uncertainty a report's ``prediction.uncertainty`` states (``runs``: the
        report's probe runs where it records none, as reports before it did), or ``None``
        when it states no finite ± or its parts do not give the ``plus_minus`` it states
        (another version's arithmetic): a ± is never rebuilt as something else."""
        def part(key: str) -> float | None:
            value = stated.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(key)
            return float(value)

        if not isinstance(stated, dict):
            return None
        runs, parts = stated.get("runs", runs), stated.get("data_parts")
        if parts is not None and (isinstance(parts, bool) or not isinstance(parts, int) or parts < 2):
            return None
        try:
            total = part("plus_minus")
            if total is None or isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
                return None
            u = cls(part("probes"), part("steps"), part("data"), runs, str(stated.get("steps_kind", "none")),
                    str(stated.get("probes_kind", "jackknife")), part("grid"), parts, part("rounding"))
        except ValueError:
            return None
        return u if math.isclose(u.plus_minus, total, rel_tol=1e-9, abs_tol=1e-12) else None


EXACT = Uncertainty(probes=0.0, steps=0.0, data=None, runs=1, steps_kind="exact", probes_kind="exact")


def statistical_level(runs: int) -> float:
    """The level each statistical figure is formed at: ``LEVEL`` from one run (only the bound
    exists), ``EACH_LEVEL`` from several (the tighter of two is stated: module doc)."""
    return LEVEL if runs < 2 else EACH_LEVEL


def coverage_factor(runs: int, level: float = LEVEL) -> float:
    """Two-sided ``level`` quantile of Student's t with ``runs − 1`` degrees of freedom
    (the normal quantile's role when the standard error itself comes from few runs)."""
    return student_factor(runs - 1, level)


def student_factor(dof: float, level: float = LEVEL) -> float:
    """Two-sided ``level`` quantile of Student's t with ``dof`` degrees of freedom (any real
    ``dof`` > 0; the normal quantile at infinity; 0 below 1: no standard error to scale)."""
    if dof == math.inf:
        return normal_factor(level)
    # scipy.special's stdtrit is what scipy.stats' t.ppf calls, bit for bit, without the
    # ~0.9 s import of scipy.stats; imported here so --help and info start without SciPy
    from scipy.special import stdtrit

    return 0.0 if dof < 1 else float(stdtrit(dof, 0.5 + level / 2))


def effective_dof(parts: tuple[tuple[float, float], ...]) -> float:
    """Welch–Satterthwaite degrees of freedom of ``sqrt(Σ s²)`` from ``(s, ν)`` standard
    errors and their own degrees of freedom (``ν`` infinite: a known scale):
    ``(Σ s²)² / Σ s⁴/ν``; infinite when every part with a scale is known (or none has one),
    0 when one has a scale but no degree of freedom (a jackknife of one run)."""
    if any(s > 0 and dof < 1 for s, dof in parts):
        return 0.0
    known = sum(s**4 / dof for s, dof in parts if s > 0 and dof != math.inf)
    if known == 0.0:
        return math.inf
    # never below the fewest of its parts' (as exact arithmetic has it; rounding can dip under)
    return max(sum(s**2 for s, _ in parts) ** 2 / known, min(dof for s, dof in parts if s > 0))


def normal_factor(level: float = LEVEL) -> float:
    """Two-sided ``level`` quantile of the normal distribution (1.96 at 95 %)."""
    from scipy.special import ndtri  # norm.ppf's own function (see student_factor)

    return float(ndtri(0.5 + level / 2))


def hutchinson_bound(ratio: float, dim: int, runs: int, slack: float = 0.0, level: float | None = None) -> float:
    """Upper bound on the 1σ Hutchinson noise of ρ* from ``runs`` Rademacher probes of
    dimension ``dim``: ``√(2 min(ρ*, 1 − ρ*)/(runs·dim))`` (module doc), with ρ* anywhere
    within ``slack`` of ``ratio``; with a ``level``, anywhere within the interval
    ``ratio ± q·bound`` that the bound itself spans at that level (``q`` its normal quantile).

    The bound at the estimate alone fails where the estimate sits by chance near an end:
    three runs that all drew small from a spectrum of one eigenvalue over zeros put ρ̂ near
    1, the bound there near 0, and the true ρ* outside ``ρ̂ ± q·bound``. As Wilson's score
    interval does for a proportion (*JASA* 22, 1927), the interval is therefore the set of
    ρ that the bound *at ρ* admits: ``h² = c·(d + h)`` with ``c = 2q²/(runs·dim)`` and ``d``
    the distance to the nearer end, so ``h = c/2 + √(c·d + c²/4)``; the 1σ returned is the
    bound at ``d + h`` (``q`` times it is ``h``). ``c/2`` is 1e-4 at D = 50,000 from one
    probe: only near an end does it matter."""
    distance = max(min(0.5, ratio + slack, 1.0 - ratio + slack), 0.0)
    if level is not None:
        c = 2.0 * normal_factor(level) ** 2 / (runs * dim)
        distance = min(0.5, distance + c / 2.0 + math.sqrt(c * distance + c * c / 4.0))
    return math.sqrt(2.0 * distance / (runs * dim))


def one_run_half_width(ratio: float, dim: int, slack: float = 0.0) -> float:
    """The statistical part of the ± were a single run kept: the bound at ``LEVEL``."""
    return normal_factor() * hutchinson_bound(ratio, dim, 1, slack, LEVEL)


def initial_runs(dim: int, tolerance: float, default: int) -> int:
    """Probe runs for adaptive SLQ's first stage: one where the probe bound at any ρ*
    already leaves at least half of ``tolerance`` to the truncation part, else ``default``
    (enough runs for a jackknife)."""
    return 1 if one_run_half_width(0.5, dim) <= tolerance / 2 else default


def probe_part(profile: MagnitudeProfile, curvature: np.ndarray, weights: np.ndarray, epsilon: float,
               ratio: float, dim: int, zero_fraction: float = 0.0, slack: float = 0.0,
               ends: tuple[tuple[np.ndarray, np.ndarray], ...] = ()) -> tuple[float, str]:
    """Hutchinson noise of ``ratio`` (1σ) and its kind: the jackknife or the bound (ρ*
    within ``slack`` of ``ratio``), whichever gives the smaller half-width at ``EACH_LEVEL``
    (the bound alone with one run). ``ends``: the runs' bounding rules, ``(curvature,
    weights)`` each, whose jackknife counts too, the largest stated, where the bracket
    (``slack``) reaches ρ* of ``BRACKET_NOISE_REACH`` times the bound at ``ratio`` (module doc)."""
    runs = len(weights)
    level = statistical_level(runs)
    bound = hutchinson_bound(ratio, dim, runs, slack, level)
    if runs < 2 or effective_terms(profile, curvature, weights, epsilon, ratio, dim) < MIN_EFFECTIVE_TERMS:
        return bound, "bound"
    far = hutchinson_bound(ratio, dim, runs, slack) > BRACKET_NOISE_REACH * hutchinson_bound(ratio, dim, runs)
    spreads = [jackknife_stderr(profile, c, w, epsilon, zero_fraction)
               for c, w in ((curvature, weights), *(ends if far else ()))]
    jackknife = max((s for s in spreads if s is not None), default=None)
    if jackknife is not None and coverage_factor(runs, level) * jackknife < normal_factor(level) * bound:
        return jackknife, "jackknife"
    return bound, "bound"


def effective_terms(profile: MagnitudeProfile, curvature: np.ndarray, weights: np.ndarray, epsilon: float,
                    ratio: float, dim: int) -> float:
    """How many independent χ²₁ terms one probe's F at R(``ratio``) is worth: a Rademacher
    probe's ``zᵀf(H)z = Σ_i (f(λ_i) − F)(v_iᵀz)² + D·F``, a weighted sum of near-χ²₁ draws,
    whose effective count (Satterthwaite, *Biometrics Bulletin* 2, 1946) is
    ``(Σ a_i²)²/Σ a_i⁴`` with ``a_i = f(λ_i) − F``: the runs' pooled nodes stand for the λ_i,
    each weight for its share of the D. Few terms make a probe's F skewed (skewness
    ``√(8/n)``), and then three runs that all drew small agree closely and are all wrong."""
    terms = axis_terms(curvature, profile.radius_continuous(ratio) ** 2, epsilon)
    share = weights / weights.shape[0]
    deviation = terms - np.sum(share * terms)
    fourth = float(np.sum(share * deviation**4))
    return math.inf if fourth == 0.0 else dim * float(np.sum(share * deviation**2)) ** 2 / fourth


def jackknife_stderr(profile: MagnitudeProfile, curvature: np.ndarray, weights: np.ndarray, epsilon: float,
                     zero_fraction: float = 0.0) -> float | None:
    """Jackknife standard error of the probe-mean ρ* over the rows (runs); ``None`` for one run."""
    runs = len(weights)
    if runs < 2:
        return None
    keep = ~np.eye(runs, dtype=bool)
    leave_one_out = np.array([
        _ratio(profile, curvature[k], weights[k], epsilon, zero_fraction) for k in keep
    ])
    return float(math.sqrt((runs - 1) / runs * np.sum((leave_one_out - leave_one_out.mean()) ** 2)))


def bracket_ratios(profile: MagnitudeProfile, quadrature: Any, epsilon: float,
                   zero_fraction: float = 0.0) -> tuple[float, float] | None:
    """``(ρ_lo, ρ_hi)`` from the quadrature's Gauss/Gauss–Radau bounding rules (``None``
    when it carries none): the probe-mean ρ* of the exact per-probe measures lies between."""
    lower, upper = getattr(quadrature, "lower", None), getattr(quadrature, "upper", None)
    if lower is None or upper is None:
        return None
    lo = _ratio(profile, lower.nodes, lower.weights, epsilon, zero_fraction)
    hi = _ratio(profile, upper.nodes, upper.weights, epsilon, zero_fraction)
    return lo, hi


def bracket_rules(quadrature: Any, negative: Negative) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The per-run rules whose ρ* bracket the probes' exact ρ* under ``negative``, as
    ``(curvature, weights)``: ``abs``'s λ² rules, ``flat``'s shifted Gauss rules on the signed λ
    (``bracket.monotone_bracket``; its ∓∞ nodes count as curvature 0 and ∞)."""
    if negative == "abs":
        return tuple((rule.nodes, rule.weights) for rule in (quadrature.lower, quadrature.upper))
    from prunelimit.curvature.bracket import monotone_bracket  # here: prunelimit.curvature imports this module

    return tuple((np.maximum(nodes, 0.0), weights) for nodes, weights in monotone_bracket(quadrature.nodes,
                                                                                           quadrature.weights))


def flat_bracket_ratios(profile: MagnitudeProfile, quadrature: Any, epsilon: float,
                        zero_fraction: float = 0.0) -> tuple[float, float] | None:
    """``(ρ_lo, ρ_hi)`` under ``negative="flat"`` from plain runs on H (``None`` for others,
    which carry no λ² bracket): the probe-mean ρ* of the exact per-probe measures lies
    between. ``flat``'s term ``h(λ)`` is non-increasing in λ, so the runs' shifted Gauss
    rules bound it whole (``monotone_bracket``); it is also ``abs``'s term plus
    ``k(λ) = 1 − f(|λ|)`` below 0, also non-increasing, so the λ² bracket of the one plus
    the shifted rules of the other bound it too. Each is the tighter somewhere (the first
    where few steps leave the half-resolution λ² rules loose), so the tighter of the two
    is taken on each side. A bound on F below or above for every R gives one on ρ* (as
    for ``bracket_ratios``), whether or not it falls with R: ``k`` rises with it."""
    from prunelimit.curvature.bracket import monotone_bracket  # here: prunelimit.curvature imports this module

    lower, upper = getattr(quadrature, "lower", None), getattr(quadrature, "upper", None)
    if lower is None or upper is None:
        return None
    below, above = monotone_bracket(quadrature.nodes, quadrature.weights)

    def ratio(rule: tuple[np.ndarray, np.ndarray], absolute: Any) -> tuple[float, float]:
        nodes, weights = rule
        whole = _ratio(profile, np.maximum(nodes, 0.0), weights, epsilon, zero_fraction)
        # Σ τ·k(θ) below 0 as Σ τ·1 (curvature 0) less Σ τ·f(|θ|), beside the λ² rule's nodes
        negative = np.where(nodes < 0, weights, 0.0)
        split = _ratio(profile, np.hstack([absolute.nodes, np.zeros_like(nodes), np.abs(nodes)]),
                       np.hstack([absolute.weights, negative, -negative]), epsilon, zero_fraction)
        return whole, split

    return max(ratio(below, lower)), min(ratio(above, upper))


def ratio_uncertainty(
    profile: MagnitudeProfile,
    quadrature: Any,
    epsilon: float,
    ratio: float,
    negative: Negative = "abs",
    half_ratio: float | None = None,
    data: float | None = None,
    zero_fraction: float = 0.0,
    data_parts: int | None = None,
) -> Uncertainty:
    """The uncertainty of ``ratio``, the ρ* solved from ``quadrature`` (SLQ runs); only the
    ``data`` part (from ``data_parts`` parts) where the quadrature is the whole spectrum (``exact``)."""
    if getattr(quadrature, "exact", False):
        return replace(EXACT, data=data, data_parts=data_parts)
    curv = curvatures(quadrature.nodes, negative, getattr(quadrature, "signed", True))
    bracket = (bracket_ratios if negative == "abs" else flat_bracket_ratios)(profile, quadrature, epsilon,
                                                                            zero_fraction)
    ends = bracket_rules(quadrature, negative) if bracket is not None else ()
    if bracket is not None:
        steps, kind = max(ratio - bracket[0], bracket[1] - ratio, 0.0), "bracket"
    elif half_ratio is not None:
        steps, kind = abs(ratio - half_ratio), "half-steps"
    else:
        steps, kind = None, "none"
    probes, probes_kind = probe_part(profile, curv, quadrature.weights, epsilon, ratio, quadrature.dim,
                                     zero_fraction, steps or 0.0, ends)
    return Uncertainty(probes=probes, steps=steps, data=data, runs=quadrature.runs, steps_kind=kind,
                       probes_kind=probes_kind, data_parts=data_parts)


def rounding_reach(profile: MagnitudeProfile, quadrature: Any, epsilon: float, ratio: float,
                   precision: float) -> float:
    """How far ρ* could move were the eigenvalues that the products' rounding cannot resolve
    anywhere between 0 and that floor (``rounding_floor``: ``precision``, the products' machine
    epsilon, and the float64 solve's rounding, × max |θ|): the mass of the nodes at or below
    it, times ``1 − f(floor)`` at R(``ratio``), averaged over the runs (ρ* moves at most what F moves: module doc).
    Neither the bracket nor the probe part holds this: both bound the operator the
    products apply, whose null space float32 rounding fills with nodes of ~1e-8·λmax. Where
    ``R²/2ε`` is so large that such nodes count as curved (a model fitted to zero loss, ε of
    1e-14), SLQ in float32 stated ρ* = 0.019 ± 0.009 for an exact float64 0.640."""
    nodes = np.abs(np.asarray(quadrature.nodes, dtype=float))
    floor = rounding_floor(quadrature, precision)
    if floor <= 0.0:
        return 0.0
    unresolved = 1.0 - float(axis_terms(np.float64(floor), profile.radius_continuous(ratio) ** 2, epsilon))
    per_run = np.where(nodes <= floor, quadrature.weights, 0.0).sum(axis=1)
    below = float(per_run.mean())
    if len(per_run) > 1:  # each probe weighs that mass alike only on average: its mean's upper side
        below += student_factor(len(per_run) - 1) * float(per_run.std(ddof=1)) / math.sqrt(len(per_run))
    return min(below, 1.0) * unresolved


def rounding_part(profile: MagnitudeProfile, quadrature: Any, epsilon: float, ratio: float,
                  precision: float) -> float | None:
    """The rounding part of ρ*'s ± (``Uncertainty.rounding``): ``rounding_reach`` where it
    reaches ``ROUNDING_REACH_NOTED``, else ``None`` (the ± of an ordinary result is unchanged)."""
    reach = rounding_reach(profile, quadrature, epsilon, ratio, precision)
    return reach if reach >= ROUNDING_REACH_NOTED else None


def rounding_floor(quadrature: Any, precision: float) -> float:
    """The eigenvalue under which products of machine epsilon ``precision`` resolve nothing:
    ``(precision + SOLVE_ROUNDING · float64 epsilon)`` · max |θ| over the quadrature's nodes
    (0 without nodes), or the products' error measured against float64 ones
    (``SpectralQuadrature.product_error``) where that is larger, plus the float64 terms. The
    second term is the float64 Lanczos or eigen-solve's own rounding, which float64 products
    do not dwarf (``SOLVE_ROUNDING``). The measured error is not precision × λmax where the
    loss is near zero: a classifier fitted to a loss of 1e-6 has softmax probabilities within
    1e-6 of 1, whose float32 differences keep a digit or none, and its float32 products erred
    by 2e-8 against float64 ones where precision × λmax is 8e-11 (an MLP on 400 digits: SLQ
    stated ρ* = 65.8 % ± 2.6 pt against the exact 71.5 %, on 4 seeds of 4)."""
    top = float(np.abs(np.asarray(quadrature.nodes, dtype=float)).max(initial=0.0))
    solve = SOLVE_ROUNDING * float(np.finfo(np.float64).eps) * top
    return max(precision * top, getattr(quadrature, "product_error", 0.0)) + solve


def part_sd(ratios: tuple[float, ...], subsample: int, population: int, parts: int | None = None) -> float:
    """1σ of ρ* on ``subsample`` of ``population`` samples from ρ* on its K disjoint parts
    (``ratios``, K ≥ 2): ``s_K/√K · sqrt(1 − n_S/n)`` (module doc). ``parts``: the K the
    subset was split into where ``ratios`` are of fewer of them (a data check the time budget
    cut): their spread estimates a part's, and the subset is still K parts' mean."""
    correction = max(0.0, 1.0 - subsample / population)
    spread = float(np.std(ratios, ddof=1))
    return spread / math.sqrt(parts or len(ratios)) * math.sqrt(correction)


def left_out_sd(ratios: tuple[float, ...], subsample: int, population: int, parts: int | None = None) -> float:
    """1σ of ρ* on ``subsample`` of ``population`` samples from ρ* on the subset less each of
    its K disjoint parts (``ratios``: the delete-a-group jackknife, module doc):
    ``(K − 1)/√K · s · sqrt(1 − n_S/n)``, ``s`` the sample sd of those K values, K − 1
    degrees of freedom. ``parts``: the K where fewer ran (a data check the time budget cut).
    For a statistic linear in the samples (a trace) it is ``part_sd`` of the parts' own values."""
    return ((parts or len(ratios)) - 1) * part_sd(ratios, subsample, population, parts)


def _ratio(profile: MagnitudeProfile, curvature: np.ndarray, weights: np.ndarray, epsilon: float,
           zero_fraction: float) -> float:
    """The probe-mean ρ* of ``(curvature, weights)`` rows."""
    def fraction(radius: float) -> float:
        return float(fraction_per_run(curvature, weights, radius, epsilon, "disc", zero_fraction).mean())

    return solve_fixed_point(profile, fraction)[0]
