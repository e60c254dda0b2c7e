"""Progress bars: shown on a terminal or without --json, and by one process."""

from __future__ import annotations

import pytest

from prunelimit.report import progress


@pytest.mark.parametrize("main", [True, False])
def test_only_rank_zero_draws_the_bar(monkeypatch, main):
    """Under torchrun every rank runs the same stages: one bar (rank 0's), not one a rank."""
    monkeypatch.setattr(progress, "is_main", lambda: main)
    assert progress.progress_enabled(json_mode=False) is main
