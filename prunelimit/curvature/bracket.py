"""Two-sided quadrature bounds for spectral sums of ``|H|`` from a Lanczos run on ``H``.

SLQ's Gauss rule ``Σ τ_k f(|θ_k|)`` is an estimate of ``zᵀ f(|H|) z`` with no sign on its
error: ``|λ|`` has a kink at 0, where most of a trained network's spectrum sits, so the
classical Gauss error formula does not apply on ``H``. It does apply on ``H²``:

* ``f(|λ|) = g(λ²)`` with ``g(x) = 1/(1 + c√x)``, which is *completely monotone* on
  ``x ≥ 0`` (a completely monotone function of the Bernstein function ``√x``), so its
  derivatives alternate in sign: ``g⁽²ⁿ⁾ > 0`` and ``g⁽²ⁿ⁺¹⁾ < 0``;
* for such ``g`` the n-point Gauss rule of a measure ν on ``[0, ∞)`` is a lower bound of
  ``∫ g dν`` and the (n+1)-point Gauss–Radau rule with a node fixed at 0 is an upper bound
  (Golub & Meurant, *Matrices, Moments and Quadrature with Applications*, 2010, Thm. 6.3–6.4);
* the m-step Lanczos rule on ``H`` matches the probe's spectral measure μ on all
  polynomials of degree ≤ 2m−1, so its push-forward by ``λ ↦ λ²`` matches ν = μ∘(λ²)⁻¹ on
  all polynomials of degree ≤ m−1 in ``x``. The Jacobi matrix of ν up to ``n = ⌊(m−1)/2⌋``
  rows (and the following β) depends only on those moments, so it is recovered exactly
  from the discrete push-forward measure: it is the Lanczos tridiagonal of ``T²`` from
  ``e₁`` for the run's tridiagonal ``T``, which a band reduction of ``T²`` gives in O(m²).

So each probe's run yields ``[Gauss_n(g), Radau_n(g; 0)] ∋ zᵀ f(|H|) z / ‖z‖²`` for every
``c ≥ 0`` at once, in exact arithmetic, at no extra Hessian-vector product: the
quadrature-truncation error of ρ* is bounded, not guessed (``prunelimit.theory.uncertainty``).
The bounds are those of a half-resolution rule, so they are wider than the error of the
m-node estimate they bracket; they tighten as the run converges, and collapse onto the
estimate when Lanczos breaks down (an invariant Krylov space: the rule is then exact).

A function of the signed ``λ`` that is not one of ``λ²`` (``--negative flat``: 1 below 0,
``1/(1 + cλ)`` above) has no such bracket, but it is non-increasing, and for those the
m-point Gauss rule on ``H`` itself bounds the probe's measure by the
Chebyshev–Markov–Stieltjes inequalities (Akhiezer, *The Classical Moment Problem*, 1965,
§3.4; Golub & Meurant 2010, §6.2): ``Σ_{k<j} τ_k ≤ μ((−∞, θ_j))`` and ``μ((−∞, θ_j]) ≤
Σ_{k≤j} τ_k``. Moving every weight to the next node up (the last to +∞) gives a measure
that lies above μ in the stochastic order, to the next node down (the first to −∞) one
below it, so their sums bound ``∫ h dμ`` from below and above for every non-increasing
``h`` (``monotone_bracket``): no more than neighbouring nodes apart, they tighten as the
nodes fill the spectrum.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from prunelimit.curvature.lanczos import ritz


@dataclass(frozen=True)
class AbsBracket:
    """Quadrature rules on ``|λ|`` whose sums bound ``∫ f(|λ|) dμ`` for every ``f(|λ|) =
    g(λ²)`` with ``g`` completely monotone: ``lower`` (Gauss) from below, ``upper``
    (Gauss–Radau at 0) from above. Each is ``(nodes ≥ 0, weights summing to 1)``."""

    lower: tuple[np.ndarray, np.ndarray]
    upper: tuple[np.ndarray, np.ndarray]


def abs_bracket(alpha: np.ndarray, beta: np.ndarray, exact: bool = False) -> AbsBracket:
    """Gauss and Gauss–Radau rules on ``|λ|`` bracketing the measure of the Lanczos run with
    tridiagonal ``(alpha, beta)`` on ``H`` (see the module doc).

    ``exact``: the run ended by breakdown, so its own rule is the measure; both sides are
    that rule. With fewer than 3 steps no moment beyond the mass is known: the bounds are
    the trivial rules ``δ_∞`` (g = 0; the largest float stands for ∞) and ``δ_0`` (g(0) = 1).
    """
    if exact:
        theta, tau = ritz(alpha, beta)
        return AbsBracket((np.abs(theta), tau), (np.abs(theta), tau))
    n = (len(alpha) - 1) // 2
    if n < 1:
        return AbsBracket((np.array([np.finfo(float).max]), np.ones(1)), (np.zeros(1), np.ones(1)))
    a, b = _squared_jacobi(np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64), n)
    if len(b) < n:  # the push-forward has at most n points: its Gauss rule is exact
        x, w = ritz(a, b[: len(a) - 1])
        rule = (np.sqrt(np.maximum(x, 0.0)), w)
        return AbsBracket(rule, rule)
    x_gauss, w_gauss = ritz(a, b[: n - 1])
    x_radau, w_radau = ritz(np.append(a, _radau_diagonal(a, b, 0.0)), b[:n])
    # the fixed node, the smallest (the measure lies on [0, ∞)), is 0 by construction; the
    # eigen-solve returns it as ~1e-16·max x, whose root ~1e-8·λmax counts as curved where
    # R²/2ε is huge (a zero-loss fit), and the upper bound then lost the mass at 0
    x_radau[np.argmin(x_radau)] = 0.0
    return AbsBracket(
        (np.sqrt(np.maximum(x_gauss, 0.0)), w_gauss),
        (np.sqrt(np.maximum(x_radau, 0.0)), w_radau),
    )


def monotone_bracket(nodes: np.ndarray, weights: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray],
                                                                       tuple[np.ndarray, np.ndarray]]:
    """Rules whose sums bound ``∫ h dμ`` from below and above for every non-increasing ``h``,
    from per-run Gauss rules of μ on the signed ``λ`` (rows of ``nodes``/``weights``,
    zero-weight padding allowed): each weight moved to its row's next node up (the last to
    +∞) or down (the first to −∞), the largest float standing for ∞ (module doc)."""
    far = np.finfo(float).max
    order = np.argsort(np.where(weights > 0, nodes, np.inf), axis=1)  # padding last
    x, w = np.take_along_axis(nodes, order, axis=1), np.take_along_axis(weights, order, axis=1)
    x = np.where(w > 0, x, far)  # a padded node, weightless, stands for +∞: the last node's next one up
    edge = np.full((len(x), 1), far)
    return (np.hstack([x[:, 1:], edge]), w), (np.hstack([-edge, x[:, :-1]]), w)


def _squared_jacobi(alpha: np.ndarray, beta: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``n`` recurrence coefficients ``α_0..α_{n−1}``, ``β_1..β_n`` of the push-forward
    ν of the rule of the tridiagonal ``T`` (``alpha``, ``beta``) by ``λ ↦ λ²``: the Lanczos
    tridiagonal of ``T²`` from ``e₁``. ``T²`` is pentadiagonal and its Krylov vectors from
    ``e₁`` grow by two rows a step, so these need its leading ``2n + 1`` rows alone, which a
    band reduction that never rotates the first row (LAPACK ``dsbtrd``: ``Q e₁ = e₁``)
    brings to that tridiagonal in O(n²), the same matrix, to rounding, as Lanczos with full
    reorthogonalisation on ``diag(θ²)`` from ``√τ`` (the rule's nodes and weights, an
    eigendecomposition of T away), O(n³): 0.6 s at 2,000 steps, now 10 ms. Stops early
    when ν has fewer than ``n`` points (a β at rounding, 1e-13 of T²'s norm)."""
    rows = 2 * n + 1
    # T²'s bands: (T²)_ii = α_i² + β_{i−1}² + β_i², (T²)_{i+1,i} = β_i(α_i + α_{i+1}),
    # (T²)_{i+2,i} = β_iβ_{i+1}; the leading rows of the whole T's square (the last row of a
    # leading block of T would miss its β² term)
    diagonal = alpha**2
    diagonal[:-1] += beta**2
    diagonal[1:] += beta**2
    bands = np.zeros((3, rows))
    bands[0] = diagonal[:rows]
    bands[1, : rows - 1] = (beta * (alpha[:-1] + alpha[1:]))[: rows - 1]
    bands[2, : rows - 2] = (beta[:-1] * beta[1:])[: rows - 2]
    a, b = _band_tridiagonal(bands)
    a, b = a[:n], np.abs(b[:n])  # a rotation may flip a β's sign: the rule is the same
    scale = max(float(np.max(np.abs(bands))), np.finfo(float).tiny)
    small = np.flatnonzero(b <= 1e-13 * scale)
    if len(small):
        return a[: small[0] + 1], b[: small[0]]
    return a, b


def _band_tridiagonal(bands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal and off-diagonal of the tridiagonal form ``Qᵀ A Q`` (``Q e₁ = e₁``) of the
    symmetric band matrix ``A`` given by its lower ``bands`` (row ``k``: the ``k``-th
    subdiagonal), by LAPACK's ``dsbtrd`` (``_dsbtrd``)."""
    import ctypes

    real = ctypes.POINTER(ctypes.c_double)
    width, size = bands.shape
    ab = np.array(bands, dtype=np.float64, order="F")  # overwritten
    diagonal, off, work, unused = np.empty(size), np.empty(max(size - 1, 1)), np.empty(size), np.empty(1)
    n, kd, ldab, ldq, info = (ctypes.c_int(v) for v in (size, width - 1, width, 1, 0))
    _dsbtrd()(b"N", b"L", ctypes.byref(n), ctypes.byref(kd), ab.ctypes.data_as(real), ctypes.byref(ldab),
              diagonal.ctypes.data_as(real), off.ctypes.data_as(real), unused.ctypes.data_as(real), ctypes.byref(ldq),
              work.ctypes.data_as(real), ctypes.byref(info))
    if info.value != 0:
        raise RuntimeError(f"LAPACK dsbtrd failed (info = {info.value})")
    return diagonal, off[: size - 1]


@functools.cache
def _dsbtrd() -> Callable[..., None]:
    """LAPACK's ``dsbtrd`` as a ctypes function: SciPy wraps none for Python, so it is called
    through the function pointer ``scipy.linalg.cython_lapack`` publishes for Cython (the
    capsule's functions prototyped here: ctypes.pythonapi's shared ones are left as they are)."""
    import ctypes

    from scipy.linalg import cython_lapack  # here: --help and info start without SciPy

    capsule = cython_lapack.__pyx_capi__["dsbtrd"]
    name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))
    pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
        ("PyCapsule_GetPointer", ctypes.pythonapi))
    integer, real = ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_double)
    prototype = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, integer, integer, real, integer, real, real,
                                 real, integer, real, integer)
    return prototype(pointer(capsule, name(capsule)))


def _radau_diagonal(alpha: np.ndarray, beta: np.ndarray, node: float) -> float:
    """The last diagonal entry that makes ``node`` an eigenvalue of the (n+1)-row Jacobi
    matrix: ``node + δ_n`` with ``(J_n − node·I) δ = β_n² e_n`` (Golub 1973), a tridiagonal
    solve (O(n); a dense one was O(n³), 21 ms at 1,000 rows)."""
    import scipy.linalg  # here: --help and info start without SciPy

    n = len(alpha)
    bands = np.zeros((3, n))  # solve_banded's layout: super-, main and subdiagonal
    bands[0, 1:] = bands[2, :-1] = beta[: n - 1]
    bands[1] = alpha - node
    rhs = np.zeros(n)
    rhs[-1] = beta[n - 1] ** 2
    return node + float(scipy.linalg.solve_banded((1, 1), bands, rhs)[-1])
