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


def test_cached_command_benchmark_times_cache_hits(monkeypatch, capsys, tmp_path):
    """Each row is a cache hit (the script refuses a row that is not) with its lookup and
    provenance inside the command's time."""
    import torch

    bench = benchmark_module("bench_cached_command")
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(tmp_path))  # restored after the script's own
    monkeypatch.setattr(sys, "argv", ["bench_cached_command.py", "--repeat", "1"])
    threads = torch.get_num_threads()
    try:
        bench.main()
    finally:
        torch.set_num_threads(threads)
    rows = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(rows) == {"bounds", "gate"}
    assert all(0 < lookup < total and 0 < provenance < total for total, lookup, provenance in rows.values())
