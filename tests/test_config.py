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


import pytest  # noqa: E402

from prunelimit.config import number_list  # noqa: E402
from prunelimit.errors import UsageError  # noqa: E402


@pytest.mark.parametrize("text", ["0.25,1,4", " 0.25, 1, 4 ", "[0.25, 1, 4]", "[0.25,1,4]"])
def test_a_list_option_takes_a_comma_list_or_a_bracketed_one(text):
    """A YAML or JSON list (``--pressures "[0.25, 1, 4]"``, or ``pressures: [0.25, 1, 4]`` in a
    --config file, which arrives as that text) was refused while the comma list worked."""
    assert number_list(text, "--pressures") == (0.25, 1.0, 4.0)


def test_a_list_option_that_is_not_numbers_shows_both_accepted_forms():
    with pytest.raises(UsageError, match=r"--milestones 'a;b': give integers separated by commas, e\.g\. "
                                         r"--milestones 10,20 \(or as a list: --milestones \"\[10, 20\]\"\)"):
        number_list("a;b", "--milestones", int, "integers", "10,20")
    assert number_list("[]", "--pressures") == ()  # the ladder's own check names an empty one


def test_a_dash_stays_a_dash_not_a_file_beside_the_config():
    """``from: -`` (``baseline: -``, ``junit: -``) named a file ``-`` in the config's folder:
    read "not found", or written there. As written, the command refuses it as it refuses
    ``--from -``: reports are read from files, outputs written to files, never the standard streams."""
    options = {"from_report": "-", "junit": "-", "rules": [{"baseline": "-", "max_drop": 0.1}]}
    assert relative_to_file(options, Path("ci/gate.yaml"), ["from_report", "junit"]) == options
