"""Text inputs that are no regular file: refused before a read that never ends (issue 16)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prunelimit.config import read_config
from prunelimit.errors import InputError, UsageError
from prunelimit.gate_rules import read_report
from prunelimit.laws import errorlaw, points
from prunelimit.sparse.sparse_file import load_sparse
from prunelimit.limits import check_expanded_size


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


@pytest.mark.parametrize("reader, error", [
    (read_config, UsageError),
    (read_report, InputError),
    (load_sparse, InputError),
])
def test_a_folder_is_named_as_a_folder_not_as_missing(tmp_path, reader, error):
    """The path exists, so "not found" would send the user looking for the wrong fix."""
    folder = tmp_path / "named-like-a-file.json"
    folder.mkdir()
    with pytest.raises(error, match="is a folder; give the .* in it"):
        reader(folder)
    with pytest.raises(error, match="not found"):
        reader(tmp_path / "absent.json")


def _dag(levels: int) -> list:
    node: list = [1]
    for _ in range(levels):
        node = [node, node]
    return node


def test_shared_references_that_expand_past_the_cap_are_refused(tmp_path):
    """27 KB of pickle naming 2^40 values: `export` wrote them out as JSON and never ended."""
    import torch

    from prunelimit.io.checkpoint import read_checkpoint, save_checkpoint

    path = tmp_path / "dag.pt"
    save_checkpoint(path, "mlp:4,2", {"0.weight": torch.zeros(2, 4), "0.bias": torch.zeros(2)}, meta={"x": _dag(40)})
    assert path.stat().st_size < 100_000
    with pytest.raises(InputError, match="expands to over 4,000,000 values through shared references"):
        read_checkpoint(path)


def test_a_container_that_contains_itself_is_refused():
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(InputError, match="contains itself"):
        check_expanded_size({"meta": loop}, "checkpoint c.pt")


def test_shared_references_within_the_cap_pass():
    check_expanded_size({"a": _dag(10), "b": _dag(10), "c": [_dag(20)]}, "checkpoint c.pt")  # 2^21 leaves
