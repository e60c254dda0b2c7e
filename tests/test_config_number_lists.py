"""A list option's numbers (``--milestones``, ``--pressures``, ``--region``) are each read as a
single number option reads them (validate.read_count/read_number)."""

from __future__ import annotations

import re

import pytest

from prunelimit.config import number_list
from prunelimit.errors import UsageError


@pytest.mark.parametrize("text", ["10,20", "1e1,2e1", "10.0, 20", "[1e1, 20.0]"])
def test_a_count_list_takes_whole_numbers_in_any_notation(text):
    """``int()`` refused ``1e1`` and ``10.0``, which --epochs takes."""
    assert number_list(text, "--milestones", int, "integers (epochs)", "10,20") == (10, 20)
    assert all(type(v) is int for v in number_list(text, "--milestones", int, "integers (epochs)", "10,20"))


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("10,20.5", int, "--milestones '10,20.5': must be an integer, got '20.5'; write 20 or 21"),
    # int() and float() took Python's 1_0 as 10
    ("1_0,20", int, "--milestones '1_0,20': got '1_0', not a number (write it without separators: 10)"),
    ("0.25,1_0", float, "--milestones '0.25,1_0': got '1_0', not a number (write it without separators: 10)"),
])
def test_a_list_number_not_read_names_it_and_what_to_write(text, kind, message):
    with pytest.raises(UsageError, match=f"^{re.escape(message)}$"):
        number_list(text, "--milestones", kind, "integers (epochs)", "10,20")
