"""The data check's reorthogonalisation price per basis vector
(``curvature.lanczos.reorthogonalisation_seconds``): a row's seconds, not a projection's
own costs spread over the rows timed."""

from __future__ import annotations

import sys

import pytest
import torch

import prunelimit.curvature.lanczos  # noqa: F401  (the module; the package's name is a function)

lanczos = sys.modules["prunelimit.curvature.lanczos"]

# A projection on the simulated clock: FIXED seconds of its own (w's norms and casts, once a
# step) and ROW seconds for each basis vector it projects against; whole binary fractions,
# so the arithmetic below is exact.
FIXED, ROW = 1.0, 2.0**-6


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _priced(monkeypatch, dim: int, elements: int, burst: int = 0) -> tuple[float, list[int]]:
    """``reorthogonalisation_seconds`` on the simulated clock, its ``burst``-th projection
    (from 1; 0: none) half a second slower (another process's burst); the rows each
    projection took."""
    clock, counts = _Clock(), []

    def projection(basis, rows, w):
        counts.append(rows)
        clock.now += FIXED + ROW * rows + (0.5 if len(counts) == burst else 0.0)
        return w, float(w.norm())

    monkeypatch.setattr(lanczos, "_reorthogonalised", projection)
    monkeypatch.setattr(lanczos, "TIMING_ELEMENTS", elements)
    return lanczos.reorthogonalisation_seconds(dim, torch.float32, clock), counts


@pytest.mark.parametrize("dim, elements", [(10, 2**24), (40, 64), (300, 2**12)])
def test_a_rows_price_leaves_out_the_projections_own_costs(monkeypatch, dim, elements) -> None:
    """Before, one projection's seconds over the rows timed: (1 + 10/64)/10 s a row for 10
    rows, and where the timing's elements held one row (D past 8.4 million) the whole
    projection, 1 + 1/64 s, 65× the row's 1/64 s (a CIFAR ResNet-18's data check priced
    minutes over its 40 s). Now the difference between all the rows and half of them, at
    least ``MIN_TIMING_ROWS``: the row's own seconds, exactly."""
    priced, counts = _priced(monkeypatch, dim, elements)
    assert priced == ROW
    assert max(counts) >= lanczos.MIN_TIMING_ROWS


@pytest.mark.parametrize("burst", [3, 8])
def test_a_burst_of_load_does_not_price_the_row(monkeypatch, burst) -> None:
    """Another process's burst slows one projection (load only adds time), of all the rows
    (3rd) or of half of them (8th): the fastest of each count's timed projections keeps the
    row's price, where the slowest, differenced, priced the burst, or nothing."""
    priced, _ = _priced(monkeypatch, 10, 2**24, burst)
    assert priced == ROW


def test_no_difference_on_the_clock_prices_the_mean_over_the_rows(monkeypatch) -> None:
    """A clock too coarse to tell all the rows from half of them (every projection one
    tick) prices a row at the mean over the rows timed, which errs high, not at 0."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(lanczos, "_reorthogonalised", lambda basis, rows, w: (w, float(w.norm())))
    priced = lanczos.reorthogonalisation_seconds(10, torch.float32, lambda: float(next(ticks)))
    assert priced == 1.0 / 10


@pytest.mark.parametrize("max_bytes, held", [(3 * 100 * 4, 3), (100 * 4 - 1, 1)])
def test_the_timing_basis_stays_within_the_basis_memory(monkeypatch, max_bytes, held) -> None:
    """A tight ``--basis-memory`` (``max_bytes``) is not exceeded by the timing's basis: at
    D = 100 in float32 a 1,200-byte allowance holds 3 rows, 399 bytes not one (timed on one,
    as a run could hold no more); before, at least ``MIN_TIMING_ROWS`` (8), whatever it
    allowed (360 MB at D = 11.2 million). The price is still the row's, exactly."""
    clock, made = _Clock(), []
    zeros = torch.zeros

    def counted_zeros(*shape, **kwargs):
        made.append(shape)
        return zeros(*shape, **kwargs)

    def projection(basis, rows, w):
        clock.now += FIXED + ROW * rows
        return w, float(w.norm())

    monkeypatch.setattr(lanczos, "_reorthogonalised", projection)
    monkeypatch.setattr(lanczos.torch, "zeros", counted_zeros)
    priced = lanczos.reorthogonalisation_seconds(100, torch.float32, clock, max_bytes)
    assert made == [(held, 100)]
    assert priced == ROW  # one row: differenced against a projection against none
