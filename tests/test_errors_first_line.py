"""``errors.first_line``: another library's exception in a few words of a one-line message."""

from __future__ import annotations

from prunelimit.errors import first_line


def test_a_long_line_is_cut_at_a_word_and_marked():
    """torch's zip reader's line was cut mid-word, '… there is a high likelihood tha)', which
    read as if the sentence were ours and ended there."""
    text = "PytorchStreamReader failed locating file data.pkl: file not found. " + "word " * 40
    line = first_line(RuntimeError(text))
    assert line.startswith("RuntimeError: PytorchStreamReader failed") and line.endswith(" word …")
    assert len(line) <= len("RuntimeError: ") + 160 + 2


def test_a_short_exception_keeps_its_first_line_whole():
    assert first_line(ValueError("bad value\nsecond line")) == "ValueError: bad value"
    assert first_line(KeyError()) == "KeyError"
