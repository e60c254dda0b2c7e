"""A benchmark asked for ``--help`` prints how to run it (docs/benchmarks.md), not a run."""

from __future__ import annotations

import sys

from tests.conftest import benchmark_module


def test_accuracy_overshoot_help_prints_its_usage(monkeypatch, capsys):
    """It takes words that choose rows; ``--help`` chose none and printed an empty table."""
    bench = benchmark_module("accuracy_overshoot")
    monkeypatch.setattr(sys, "argv", ["accuracy_overshoot.py", "--help"])
    bench.main()
    printed = capsys.readouterr().out
    assert "python benchmarks/accuracy_overshoot.py adam bce" in printed and "| model |" not in printed
