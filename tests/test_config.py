"""``--config`` files: a relative path in one is read from the file's own folder."""

from __future__ import annotations

from pathlib import Path

from prunelimit.config import relative_to_file


def test_relative_paths_are_read_from_the_config_files_folder():
    """Every path-valued key (options, the file of a spec, a rule's baseline, a repeatable
    option's list) is joined to the config's folder; absolute paths and other values stay."""
    options = {
        "junit": "gate.xml", "cache_dir": "/abs/cache", "output": ["a.pt", "/abs/b.pt"],
        "model": "nets.py:factory", "loss": "losses.py:fn", "data": "tensors:data.npz",
        "eval_data": "cifar10:root", "iterations": 64,
        "rules": [{"baseline": "base.json", "max_drop": 0.1}, {"min_ratio": 0.5}, {"baseline": "/abs/b.json"}],
    }
    got = relative_to_file(options, Path("ci/gate.yaml"), ["junit", "cache_dir", "output"])
    assert got == {
        "junit": "ci/gate.xml", "cache_dir": "/abs/cache", "output": ["ci/a.pt", "/abs/b.pt"],
        "model": "ci/nets.py:factory", "loss": "ci/losses.py:fn", "data": "tensors:ci/data.npz",
        "eval_data": "cifar10:ci/root", "iterations": 64,
        "rules": [{"baseline": "ci/base.json", "max_drop": 0.1}, {"min_ratio": 0.5}, {"baseline": "/abs/b.json"}],
    }


def test_specs_without_a_file_and_empty_paths_stay_as_written():
    """A built-in model, loss or data source names no file; an empty path is refused later as empty."""
    options = {"model": "mlp:64,32,10", "loss": "ce", "data": "digits:train", "eval_data": "tensors:",
               "junit": ""}
    assert relative_to_file(options, Path("/ci/gate.yaml"), ["junit"]) == options
