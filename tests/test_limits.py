"""Text inputs that are no regular file: refused before a read that never ends (issue 16)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prunelimit.config import read_config
from prunelimit.errors import InputError, UsageError
from prunelimit.gate_rules import read_report
from prunelimit.laws import errorlaw, points


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("reader, error", [
    (points.read_points, InputError),
    (errorlaw.read_points, InputError),
    (read_config, UsageError),
    (read_report, InputError),
])
@pytest.mark.parametrize("source", [_fifo, lambda tmp_path: Path("/dev/zero")])
def test_a_device_or_fifo_is_refused_before_reading(tmp_path, reader, error, source):
    """/dev/zero has size 0 and never ends (a MemoryError, exit 5); a FIFO blocked the reader forever."""
    path = source(tmp_path)
    with pytest.raises(error, match="is a device, FIFO or socket, not a regular file"):
        reader(path)
