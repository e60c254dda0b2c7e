"""``validate.read_number`` and ``read_count``, the one reader of every numeric option's text
(a flag's, or a --config key's: YAML reads ``1e3`` as text and ``1.0e3`` as a number). A count
was read by pydantic, which took ``200.0`` but refused ``2e2`` and said only "Input should be
a valid integer"; ``10s`` and ``1GB`` were "not a valid number", naming no unit."""

from __future__ import annotations

import pytest

from prunelimit.validate import INT64_MAX, read_count, read_number


@pytest.mark.parametrize("typed, count", [
    ("200", 200), (" 200 ", 200), ("200.0", 200), ("200.", 200), ("2e2", 200), ("2E2", 200), ("1e3", 1000),
    ("2.5e2", 250), ("+7", 7), ("-3", -3), ("0", 0), (200, 200), (200.0, 200), (1.0e3, 1000),
    ("9007199254740993", 9007199254740993),  # exactly: a float would read 9007199254740992
    (str(INT64_MAX), INT64_MAX), ("1e30", 10**30),  # past int64: refused by the option's own check, by name
])
def test_a_whole_number_in_any_notation_is_a_count(typed, count):
    got = read_count(typed)
    assert got == count and type(got) is int


@pytest.mark.parametrize("typed, said", [
    ("2.5", "must be an integer, got '2.5'; write 2 or 3"),
    (2.5, "must be an integer, got 2.5; write 2 or 3"),
    ("1e-3", "must be an integer, got '1e-3'; write 0 or 1"),
    ("inf", "must be an integer, got 'inf'"),
    ("nan", "must be an integer, got 'nan'"),
    ("1e100", "'1e100' is too large (at most 9223372036854775807)"),
    ("1e999999999", "'1e999999999' is too large"),  # compared, never expanded to a billion digits
    ("1,000", "got '1,000', not a number (a comma is no decimal point here, nor a thousands separator: write "
              "1.000 or 1000)"),
    ("1,000,000", "got '1,000,000', not a number (write it without separators: 1000000)"),
    ("1_000", "got '1_000', not a number (write it without separators: 1000)"),
    ("1k", "got '1k', not a number (a plain number, without a unit)"),
    ("", "got '', not a number"),
    ([3], "got [3], a list, not a number"),
    (True, "got True, a bool, not a number"),
])
def test_what_is_no_count_is_refused_with_the_fix(typed, said):
    with pytest.raises(ValueError) as refused:
        read_count(typed)
    assert str(refused.value).startswith(said), str(refused.value)


@pytest.mark.parametrize("typed, number", [("10", 10.0), ("0.5", 0.5), (".5", 0.5), ("5e-1", 0.5), ("1E3", 1e3),
                                           (3, 3.0), ("inf", float("inf")), ("-2", -2.0)])
def test_a_number_is_read_as_written(typed, number):
    assert read_number(typed) == number  # exact: each is a float Python reads without rounding error


@pytest.mark.parametrize("typed, unit, said", [
    ("10s", "seconds", "got '10s', not a number (it takes seconds, a plain number: 10s is 10)"),
    ("2 min", "seconds", "(it takes seconds, a plain number: 2 min is 120)"),
    ("1h", "seconds", "1h is 3600)"),
    ("500ms", "seconds", "500ms is 0.5)"),
    ("10m", "seconds", "(a plain number of seconds, without a unit)"),  # minutes or milliseconds? neither guessed
    ("1GB", "MB", "(it takes MB, a plain number: 1GB is 1024)"),
    ("512MB", "MB", "512MB is 512)"),
    ("2GiB", "MB", "2GiB is 2048)"),
    ("10s", "", "(a plain number, without a unit)"),
    ("1%", "percentage points", "(it takes percentage points, a plain number: 1% is 1)"),  # --acc-drop
    ("50%", "samples", "(a plain number of samples, without a unit)"),
    ("0,5", "", "(a comma is no decimal point here, nor a thousands separator: write 0.5)"),
])
def test_a_unit_typed_after_the_number_names_the_unit_the_option_takes(typed, unit, said):
    with pytest.raises(ValueError) as refused:
        read_number(typed, unit)
    assert said in str(refused.value)


def test_a_percentage_of_a_fraction_names_the_fraction():
    with pytest.raises(ValueError, match=r"^got '5%', not a number \(probabilities are fractions, not percentages: "
                                         r"5% is 0\.05\)$"):
        read_number("5%", fraction="probabilities")
