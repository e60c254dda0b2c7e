"""A value and its stated ± as text: the ± to two significant digits, the value to the
same decimal, so that no digit is shown that the ± makes meaningless and a small but
non-zero ± never reads as ``± 0.00`` (a ± of 0, an exact spectrum's, reads ``± 0``)."""

from __future__ import annotations

import math

SIGNIFICANT = 2  # digits of a ± shown
MOST_DECIMALS = 6  # below, a ± is written "< 0.000001": past any ratio a report resolves


MINUS = "−"  # U+2212: every printed negative number's sign, as "Δ = ρ* − actual" writes the operator


def signed(value: float, spec: str = "") -> str:
    """``format(value, spec)`` with a negative number's sign written ``−`` (U+2212), as every
    number the reports print is: λmin, a negative trace or Δ, an accuracy that rose, a
    Hyperflux run that ended below its target. The JSON keeps its numbers as numbers."""
    text = format(value, spec)
    return MINUS + text[1:] if text.startswith("-") else text


def change_text(value: float, places: int) -> str:
    """A change to ``places`` decimals with its sign (``+0.0500``, ``−0.0500``), and one that
    reads as zero there without a sign: ``+0.0000`` claims a direction nothing shows."""
    text = signed(value, f"+.{places}f")
    return text[1:] if float(text[1:]) == 0 else text


LOSS_DIGITS = 4  # significant digits of a loss, a loss change, ε or L + ε


def loss_text(value: float, sign: str = "", digits: int = LOSS_DIGITS) -> str:
    """A loss, a change of the loss, ε or L + ε as every command prints it: to ``LOSS_DIGITS``
    significant digits (``0.1098``, ``0.00018``, ``2.303``), whatever its scale, so that
    ``info``, ``prune`` and ``hyperflux`` (four decimals: ``0.0002``) read as ``bounds``,
    ``spectrum`` and ``verify`` do; ``sign="+"`` shows a change's sign; ``digits`` more where
    a loss is set against a threshold (:func:`loss_digits`)."""
    return signed(value, f"{sign}.{digits}g")


def loss_digits(threshold: float, *values: float) -> int:
    """Significant digits, ``LOSS_DIGITS`` at least, that show each of ``values`` apart from a
    ``threshold`` it differs from: a loss past L + ε by less than the fourth digit read "the
    analysis loss is 0.1098, above L + ε = 0.1098" (``bounds --epsilon 1e-06`` on the bundled
    example). 17 digits tell any two floats apart."""
    def unclear(digits: int) -> bool:
        shown = loss_text(threshold, digits=digits)
        return any(value != threshold and loss_text(value, digits=digits) == shown for value in values)

    digits = LOSS_DIGITS
    while digits < 17 and unclear(digits):
        digits += 1
    return digits


def _stated(half_width: object) -> bool:
    """Whether ``half_width`` is a ± at all: a finite number ≥ 0 (a report read from a file
    may hold anything there)."""
    return isinstance(half_width, (int, float)) and not isinstance(half_width, bool) \
        and math.isfinite(half_width) and half_width >= 0


def decimals(half_width: float | None, least: int = 0, most: int = MOST_DECIMALS) -> int:
    """Decimals that show ``half_width`` to ``SIGNIFICANT`` digits, within [least, most]
    (``least`` for a ± of 0 or one not stated)."""
    if not _stated(half_width) or half_width == 0:
        return least
    places = SIGNIFICANT - 1 - math.floor(math.log10(half_width))
    # rounding may carry into a new leading digit (0.996 → "1.00"): a decimal fewer keeps SIGNIFICANT
    if float(f"{half_width:.{max(places, 0)}f}") >= 10.0 ** (SIGNIFICANT - places):
        places -= 1
    return min(most, max(least, places))


def half_width_text(half_width: float | None, least: int = 0, most: int = MOST_DECIMALS) -> str:
    """``half_width`` to two significant digits; ``0`` when it is 0, ``< 0.000001`` when
    it is smaller than the last decimal shown, ``—`` when not stated (``None``, NaN)."""
    if not _stated(half_width):
        return "—"
    if half_width == 0:
        return "0"
    places = decimals(half_width, least, most)
    text = f"{half_width:.{places}f}"
    return text if float(text) > 0 else f"< {10.0 ** -places:.{places}f}"


# a measured limit no measured ratio failed (JSON ``*_crossed`` false) is at least the last grid
# point shown, the density it keeps and Δ = ρ* − actual at most what they show; by ``crossed``
AT_LEAST = {True: "", False: "≥ "}
AT_MOST = {True: "", False: "≤ "}

# the ends a ratio, and a ratio in percent, reach only when it is exactly there
RATIO_ENDS = (0.0, 1.0)
PERCENT_ENDS = (0.0, 100.0)


def value_text(value: float, half_width: float | None, least: int = 0, most: int = MOST_DECIMALS,
               ends: tuple[float, ...] = ()) -> str:
    """``value`` to the decimal its ``half_width`` is shown to (:func:`half_width_text`), or to
    as many more as keep it from reading as one of ``ends`` it is not (:func:`off_the_ends`)."""
    return signed(value, f".{off_the_ends(value, decimals(half_width, least, most), ends)}f")


def off_the_ends(value: float, places: int, ends: tuple[float, ...]) -> int:
    """``places``, or as many more decimals as show ``value`` as none of ``ends`` it is not: a
    ratio of 0.99996 beside a ± of 0.005 reads ``0.99996``, not ``1.000`` (nothing is pruned
    whole), in percent ``99.996``, not ``100.00``."""
    # 17 significant digits tell any double from another: the loop ends
    while places < 17 and any(value != end and float(f"{value:.{places}f}") == end for end in ends):
        places += 1
    return places


def percent_text(ratio: float, half_width: float | None) -> str:
    """``ratio`` in percent to the decimal its ``half_width`` (ratio units) is shown to in
    points, never reading 0 or 100 short of them; beside a ± of 0 or none, as a ratio is shown
    alone (:func:`percent_digits`)."""
    if _stated(half_width) and half_width > 0:
        return value_text(100 * ratio, 100 * half_width, least=0, ends=PERCENT_ENDS)
    return percent_digits(ratio)


def percent(fraction: float, places: int = 2) -> str:
    """``fraction`` as every printed percentage reads, a space before the sign (``12.00 %``):
    the tables, warnings, HTML and JUnit reports and the gate's lines alike. The JSON keeps
    the fraction."""
    return f"{percent_digits(fraction, places)} %"


def estimate_text(ratio: float, plus_minus: float) -> str:
    """A ratio and its stated ± in percent and points, as ρ*'s headline line writes them
    (``91.8 % ± 2.0 pt``): the adaptive progress and the tolerance warning state it so too."""
    return f"{percent_text(ratio, plus_minus)} % ± {half_width_text(100 * plus_minus)} pt"


def percent_digits(fraction: float, places: int = 2) -> str:
    """``fraction`` in percent to ``places`` decimals, or to as many more as tell it from the
    ends: a tiny non-zero fraction keeps two significant digits (a requested density of
    0.00004 read ``0.00``), one short of 1 the decimals that keep it under 100 (``99.996``,
    not ``100.00``)."""
    value = 100 * fraction
    if value != 0 and float(f"{value:.{places}f}") == 0:
        places = decimals(abs(value), least=places)
    return signed(value, f".{off_the_ends(value, places, PERCENT_ENDS)}f")


def ratio_below(ratio: float) -> float:
    """``ratio`` rounded down to 4 decimals: a ``--ratio`` to advise as "below" it, as the
    option takes it, and never above the ratio it is below."""
    return math.floor(ratio * 1e4) / 1e4


def ratio_exact(ratio: float) -> str:
    """``ratio`` as a ``--ratio`` to advise where it is a measured limit: every digit it holds
    (the shortest text that reads back as it, as the JSON writes it). A limit off the search's
    grid (a ratio the prediction names) has more than ``:g``'s six digits, which can round it
    past a weight: ``ceil(ρN)`` of 0.8123455501 is 8,123,456 of 10⁷ weights, of 0.812346 8,123,460."""
    return repr(float(ratio))


def apart(places: int, value: float, threshold: float) -> int:
    """Decimals from ``places`` on that show ``value`` apart from a ``threshold`` it fails
    ("0.8590 < required 0.8590" read as a fail at equality, which passes; "≈ 40.0 s, past
    --time-budget 40 s"). A gate's fail lies more than its rounding allowance (10⁻⁶ at least) from
    it, so 10 decimals always tell them apart."""
    while places < 10 and f"{value:.{places}f}" == f"{threshold:.{places}f}":
        places += 1
    return places


def finetune_text(epochs: int) -> str:
    """``epochs`` of masked fine-tuning as a refit's lines name them ("1 fine-tuning epoch")."""
    return f"{epochs} fine-tuning epoch{'' if epochs == 1 else 's'}"


def recovery_notes(loss_ratio: float, loss_recovers: float | None, accuracy_ratio: float | None,
                   accuracy_recovers: float | None, finetune_epochs: int = 0, swept_all: bool = False) -> tuple[str, ...]:
    """A sentence per criterion seen to fail and recover (its ``*_recovers`` is not ``None``),
    as the console, a gate's warnings and the HTML report state it; ``finetune_epochs > 0``:
    ``verify --refit``'s search, whose probes are fine-tuned (a sweep measures no such ratio).
    ``swept_all``: a sweep measured every grid ratio (``verify --sweep 1000``), so the limit is
    the curve's first failure, none unseen below it: it was told to run that very sweep."""
    from prunelimit.errors import said

    unseen = ", so a failure between "
    after, tail = ((f"after {finetune_text(finetune_epochs)}, ", f"{unseen}the refit search's probes below the limit "
                    f"can have gone unseen ({said('`--sweep`', 'sweep=')} measures one-shot pruning only)")
                   if finetune_epochs else
                   ("", "; the sweep measured every grid ratio, so the limit is its first failure") if swept_all else
                   ("", f"{unseen}the search's probes below the limit can have gone unseen; "
                    f"{said('`verify --sweep 1000`', 'prunelimit.verify(..., sweep=1000)')} measures every grid ratio"))
    return tuple(
        f"{after}the {name} criterion fails above {percent(limit)} and passes again at "
        f"{percent(again)}: its curve is not monotone{tail}"
        for name, limit, again in (("loss", loss_ratio, loss_recovers), ("accuracy", accuracy_ratio, accuracy_recovers))
        if again is not None and limit is not None)
