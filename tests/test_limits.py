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
from prunelimit.limits import check_expanded_size, check_torch_file


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


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
@pytest.mark.parametrize("numel, declared", [(5, "20 bytes"), (2**30, "4.3 GB"), (2**40, "4.4 TB")])
def test_a_storage_declared_larger_than_the_file_is_refused_before_torch_allocates(tmp_path, legacy, numel,
                                                                                   declared):
    """torch allocates each storage at the size the pickle declares (the legacy format before it
    reads a byte): a 400-byte file asked for 4 GB (32 s, then "storage has wrong byte size:
    expected %ld got %ld") or for terabytes (a failed allocation)."""
    import time

    import torch

    from tests.conftest import claiming_storage

    path = claiming_storage(tmp_path / "claim.pt", numel, legacy)
    start = time.perf_counter()
    with pytest.raises(InputError, match=f"^checkpoint {path}: (its tensor storages declare|tensor storage '[0-9]+' "
                                         f"declares) {declared} but the (whole file is|file holds) [0-9,]+ bytes"
                                         "( for it)?; the file is truncated, corrupt or hostile$"):
        check_torch_file(path, "checkpoint")
    assert time.perf_counter() - start < 1.0
    good = claiming_storage(tmp_path / "good.pt", 4, legacy)  # the same file, declaring what it holds
    check_torch_file(good, "checkpoint")
    assert torch.load(good, weights_only=True)["x"].shape == (4,)


def _tensors_of_every_kind() -> dict:
    import argparse
    import warnings

    import numpy as np
    import torch

    base = torch.arange(20.0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # typed storages and quantized tensors are deprecated
        return {
            "views": {"part": base[2:10], "column": base.view(4, 5)[:, 1], "base": base},
            "dtypes": {str(t): torch.ones(3, dtype=t) for t in (torch.bfloat16, torch.half, torch.complex64,
                                                                  torch.bool, torch.int8, torch.int64, torch.double)},
            "empty": {"none": torch.zeros(0), "one": torch.ones(1)},
            "records": {"w": torch.ones(2), "best": np.float64(0.5), "history": np.arange(3.0),
                        "args": argparse.Namespace(lr=0.1)},
            "module": {"model": module, "epoch": 3},
            "storages": {"untyped": torch.ones(4).untyped_storage(), "typed": torch.ones(4, dtype=torch.half).storage()},
            "quantized": {"q": torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.qint8)},
            "optimizer": {"opt": torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9).state_dict()},
        }


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
def test_storages_of_real_files_pass(tmp_path, legacy):
    """Views, every element size, empty tensors, numpy records, a pickled module (the legacy
    format's module records), bare storages, quantized tensors and optimizer state."""
    import warnings

    import torch

    for name, obj in _tensors_of_every_kind().items():
        path = tmp_path / f"{name}.pt"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
        check_torch_file(path, "checkpoint")
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), str(scripted))
    check_torch_file(scripted, "checkpoint")
