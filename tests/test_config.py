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


from prunelimit.config import options_for  # noqa: E402

BOUNDS_OPTIONS = ("tolerance", "iterations", "bound_mode", "data", "model", "max_hvps")


@pytest.mark.parametrize("config, message", [
    # a mistyped option: the nearest one, not the whole list of known keys
    ({"tolerence": 0.02}, r"^c.yaml: unknown option 'tolerence' for `prunelimit bounds`; did you mean 'tolerance'\?$"),
    ({"bounds": {"max-hvp": 90}}, r"unknown option 'max_hvp' for `prunelimit bounds`; did you mean 'max_hvps'\?$"),
    # a mistyped section (a mapping): named as a section, the nearest one; it was an unknown
    # option of the command run (here 'bound_mode' was the nearest option to 'bound')
    ({"bound": {"tolerance": 0.02}}, r"^c.yaml: unknown section 'bound'; did you mean 'bounds'\?$"),
    ({"gat": {"min_ratio": 0.5}}, r"^c.yaml: unknown section 'gat'; did you mean 'gate'\?$"),
    ({"checks": {"x": 1}}, r"^c.yaml: 'checks' holds a mapping but is no section; sections are bounds, error_fit, "),
    ({"bogus_key": 1}, r"^c.yaml: unknown option 'bogus_key' for `prunelimit bounds`; known: bound_mode, data, "),
])
def test_a_mistyped_key_or_section_names_the_nearest(config, message):
    with pytest.raises(UsageError, match=message):
        options_for(config, "bounds", BOUNDS_OPTIONS, "c.yaml")


def test_sections_and_known_keys_are_read():
    config = {"tolerance": 0.1, "bounds": {"iterations": 3}, "gate": {"min_ratio": 0.5}}
    assert options_for(config, "bounds", BOUNDS_OPTIONS) == {"tolerance": 0.1, "iterations": 3}


def test_a_dash_stays_a_dash_not_a_file_beside_the_config():
    """``from: -`` (``baseline: -``, ``junit: -``) named a file ``-`` in the config's folder:
    read "not found", or written there. As written, the command refuses it as it refuses
    ``--from -``: reports are read from files, outputs written to files, never the standard streams."""
    options = {"from_report": "-", "junit": "-", "rules": [{"baseline": "-", "max_drop": 0.1}]}
    assert relative_to_file(options, Path("ci/gate.yaml"), ["from_report", "junit"]) == options
