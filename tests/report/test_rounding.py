"""A value and its ± as text (``prunelimit.report.rounding``): two significant digits of
the ±, the value to the same decimal."""

from __future__ import annotations

import pytest

from prunelimit.report.console import estimate_line
from prunelimit.report.rounding import SIGNIFICANT, half_width_text, percent_digits, value_text


@pytest.mark.parametrize(("half_width", "text"), [
    (0.4, "0.40"), (0.0996, "0.10"), (0.996, "1.0"), (0.9996, "1.0"), (9.97, "10"), (99.6, "100"), (0.123, "0.12"),
])
def test_a_half_width_that_rounds_up_to_a_power_of_ten_keeps_two_significant_digits(half_width, text) -> None:
    """0.996 rounded at two significant digits' decimal is 1.00: three digits, and the value
    beside it one decimal too many. The carry takes a decimal away."""
    assert half_width_text(half_width) == text
    digits = text.replace(".", "").lstrip("0")
    assert len(digits) == max(SIGNIFICANT, len(text.split(".")[0]))


def test_the_value_takes_the_decimals_of_its_rounded_half_width() -> None:
    assert value_text(91.8412, 0.996) == "91.8"
    assert value_text(91.8412, 0.0996) == "91.84"
    assert value_text(91.8412, 9.97) == "92"


def test_an_adaptive_stop_just_under_the_tolerance_reads_one_point() -> None:
    """Adaptive SLQ stops at the first ± at most --tolerance (0.01): ± 0.00997 is shown as
    1.0 pt beside ρ* to one decimal, not 1.00 pt beside two."""
    u = dict(plus_minus=0.00997, steps=0.005, probes=0.001, steps_kind="bracket", probes_kind="jackknife", level=0.95)
    assert estimate_line(0.918412, u).startswith("ρ* = 91.8 % ± 1.0 pt (95 %;")


@pytest.mark.parametrize("fraction, text", [
    (0.1089, "10.89"), (0.0, "0.00"), (1.0, "100.00"), (0.0003, "0.03"),
    (0.00004, "0.0040"), (0.0000123, "0.0012"), (0.0000996, "0.01"),  # tiny: two significant digits, not 0.00
])
def test_a_tiny_fraction_in_percent_keeps_two_significant_digits(fraction, text) -> None:
    assert percent_digits(fraction) == text


def test_a_tiny_requested_density_is_printed_as_it_is() -> None:
    """``hyperflux --target-density 0.00004`` printed "(requested 0.00 %)" and warned "off the
    requested 0.00%"."""
    from prunelimit.api.laws import _missed_target
    from prunelimit.report.console import pct

    assert pct(0.00004) == "0.0040 %"
    assert "off the requested 0.0040 % " in _missed_target(0.1089, 0.00004, [])[0]


@pytest.mark.parametrize("fraction, places, text", [
    (0.99996, 2, "99.996"), (0.9999999, 2, "99.99999"), (1.00004, 2, "100.004"), (1.0, 2, "100.00"),
    (0.99996, 0, "99.996"), (0.95, 0, "95"), (0.9996, 1, "99.96"), (0.0004, 1, "0.040"), (0.0, 1, "0.0"),
])
def test_a_percent_rounds_to_an_end_only_when_it_is_the_end(fraction, places, text) -> None:
    """99.996 % at two decimals is "100.00": a fraction short of 1 read as all of it (and one
    above 0 as none); the decimals that tell it from the end are kept."""
    assert percent_digits(fraction, places) == text


def test_a_ratio_just_short_of_one_is_not_printed_as_all_of_it() -> None:
    """Beside a ± of 0 (an exact spectrum) the console, progress status and HTML report read
    ρ* = 0.99996 as 100.00 %."""
    from prunelimit.report.html import _format
    from prunelimit.report.rounding import percent_text

    assert percent_text(0.99996, 0.0) == "99.996"
    assert estimate_line(0.99996, None).startswith("ρ* = 99.996 %")
    assert _format(0.99996, "ratio") == "99.996 % removed · 0.0040 % kept"
    assert _format({"low": 0.99996, "high": 1.0}, "range") == "99.996 % – 100.00 %"


def test_hyperflux_does_not_say_it_closes_all_the_gates_when_it_closes_fewer(cli, tmp_path) -> None:
    """``--target-density 0.00004`` from a dense start closes 99.996 % of the open gates; the
    refusal said "closes 100% of the open gates"."""
    result = cli("hyperflux", "--model", "mlp:64,1000,10", "--data", "digits:train", "--max-samples", "256",
                 "--target-density", "0.00004", "--pruning-epochs", "12", "--gate-lr", "0.001",
                 "--regrowth-epochs", "0", "--threads", "1", "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "closes 99.996 % of the open gates" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("ratio, half_width, percent, ratio_text", [
    (0.99996, 0.005, "99.996", "0.99996"), (0.00004, 0.005, "0.004", "0.00004"), (0.5, 0.005, "50.00", "0.5000"),
    (1.0, 0.005, "100.00", "1.0000"), (0.99996, 0.5, "99.996", "0.99996"),
])
def test_a_value_beside_its_plus_minus_reads_as_an_end_only_at_the_end(ratio, half_width, percent, ratio_text) -> None:
    """Rounded to its ±'s decimal, ρ* = 0.99996 ± 0.005 read "100.00 % ± 0.50" and, in ratio
    units (adaptive progress, the tolerance warning), "1.0000 ± 0.0050": a ratio short of all
    read as all; one above 0 as none."""
    from prunelimit.report.rounding import RATIO_ENDS, percent_text, value_text

    assert percent_text(ratio, half_width) == percent
    assert value_text(ratio, half_width, least=4, ends=RATIO_ENDS) == ratio_text


@pytest.mark.parametrize(("delta", "plus_minus", "text"), [
    (0.0173, 1.0, "+2 ± 100 pt"),  # one Lanczos product (--max-hvps 1) states ± 1: it read "± 1e+02 pt"
    (0.354, 0.026, "+35.4 ± 2.6 pt"),  # it read "+35.40 ± 2.6 pt": a decimal the ± makes meaningless
    (0.0193, 0.0, "+1.93 ± 0 pt"),  # an exact spectrum: as the guide shows it
    (0.0193, 2e-7, "+1.930000 ± 0.000020 pt"),  # it read "± 2e-05 pt"
    (-0.05, None, "−5.00 pt (no ± stated)"),  # the minus sign, U+2212, as every negative number
    (0.0, 0.0, "0.00 ± 0 pt"),  # ρ* on the measured limit: it read "+0.00", a direction nothing shows
    (-0.00001, 0.0, "0.00 ± 0 pt"),  # a gap that rounds to zero at its decimals: no sign either
    (0.0, None, "0.00 pt (no ± stated)"),
])
def test_verify_delta_is_shown_by_the_rounding_rule_of_every_plus_minus(delta, plus_minus, text) -> None:
    """Δ = ρ* − actual beside ρ*'s ±, in points, is written as ``ρ* = … ± … pt`` is: the ± to
    two significant digits, never in exponent notation, and Δ to the ±'s decimal."""
    from prunelimit.report.console import delta_text

    assert delta_text(delta, plus_minus) == text


@pytest.mark.parametrize(("epochs", "loss_note"), [
    (1, "after 1 fine-tuning epoch, the loss criterion"),  # it read "after 1 fine-tuning epochs"
    (3, "after 3 fine-tuning epochs, the loss criterion"),
])
def test_a_refits_epochs_are_counted_in_words_that_agree(epochs, loss_note) -> None:
    """``verify --refit --finetune-epochs 1`` named its rows and notes "after 1 fine-tuning
    epochs"; one epoch is singular, in the notes as in the rows."""
    from prunelimit.report.rounding import finetune_text, recovery_notes

    assert finetune_text(epochs) in loss_note
    notes = recovery_notes(0.3, 0.5, None, None, finetune_epochs=epochs)
    assert len(notes) == 1 and notes[0].startswith(loss_note)
