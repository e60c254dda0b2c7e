"""Checks that a ``bounds`` result agrees with itself, worded as warnings.

Two numbers that should agree and may not: ρ* against its own bounds [ρ_L, ρ_U] (the
reference arithmetic of ``--method paper`` can put ρ* below ρ_L), and the headline ρ*
against the continuous ρ* solved on the same spectrum (they differ only with
``--method paper``, whose density grid can alias node weights). A gap wider than the
stated ± is the method, not sampling noise, and a CI job or ``prune --ratio auto`` acting
on the headline number should know.
"""

from __future__ import annotations

from prunelimit.errors import option
from prunelimit.report.rounding import apart, decimals, half_width_text, percent

# Below half a percentage point the two ρ* differ by rounding of the reference density's
# grid, not by a disagreement worth a warning (an exact spectrum states ± 0).
AGREEMENT_FLOOR = 0.005
# how the grid-vs-continuous warning's remedy starts, which ends it: read back by --from, it is told where it
# applies (``gate_rules._read_warning``)
ARITHMETIC_MOVED = "the reference arithmetic moved ρ*: prefer "
METHODS_CITED = " (docs/methods.md)"  # what follows the flag of the bounds-crossing warning's remedy
OUTSIDE_BOUNDS = "do not prune or gate on ρ* from this run: use "  # … that remedy, which the flag ends


def consistency_warnings(ratio: float, lower: float | None, upper: float | None, continuous: float,
                         plus_minus: float, rounding: float | None = None) -> list[str]:
    """Warnings for ρ* (``ratio``) outside [``lower``, ``upper``], and for the headline and
    the ``continuous`` ρ* further apart than ``plus_minus`` (at least the floor): the stated ±
    less its products' rounding part ``rounding`` (``None``: it has none), which moves both
    alike, as the same unresolved eigenvalues enter both, so it explains no gap between them."""
    warns = []
    if lower is not None and upper is not None and not lower - 1e-12 <= ratio <= upper + 1e-12:
        side = "below its lower bound ρ_L" if ratio < lower else "above its upper bound ρ_U"
        # in percent as the table beside it, to the decimals that show ρ* apart from the bound it crosses
        places = apart(2, 100 * ratio, 100 * (lower if ratio < lower else upper))
        shown = [f"{100 * value:.{places}f} %" for value in (ratio, lower, upper)]
        warns.append(
            f"INCONSISTENT: ρ* = {shown[0]} lies {side} ([ρ_L, ρ_U] = [{shown[1]}, {shown[2]}]); do not prune "
            f"or gate on ρ* from this run: use {option('method', 'default')}{METHODS_CITED}, or the bound ρ_L"
        )
    allowed = max(plus_minus, AGREEMENT_FLOOR)
    if abs(ratio - continuous) > allowed:
        warns.append(
            f"INCONSISTENT: the headline ρ* = {percent(ratio)} and the continuous ρ* = {percent(continuous)} from the "
            f"same spectrum differ by {_gap(abs(ratio - continuous), allowed)}, more than {_allowance(plus_minus, rounding)}; "
            f"{ARITHMETIC_MOVED}{option('method', 'default')}"
        )
    return warns


def _points(part: float) -> str:
    """A part of ρ*'s ± (a ratio) in points, as ρ*'s line states it (``0.50 pt``)."""
    return f"{half_width_text(100 * part)} pt"


def _gap(gap: float, allowed: float) -> str:
    """The two ρ*'s gap in points, to the decimals that show it past the ``allowed`` one."""
    return f"{100 * gap:.{apart(decimals(100 * allowed), 100 * gap, 100 * allowed)}f} pt"


def _allowance(plus_minus: float, rounding: float | None = None) -> str:
    """What the headline and the continuous ρ* were allowed to differ by, named as what it is."""
    stated = "the stated ±" if rounding is None else \
        f"the stated ± apart from its products' rounding part ({_points(rounding)}, which moves both alike),"
    if plus_minus >= AGREEMENT_FLOOR:
        return f"{stated} {_points(plus_minus)}"
    return f"{_points(AGREEMENT_FLOOR)} (the floor; {stated} is {_points(plus_minus)})"
