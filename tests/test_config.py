"""``--config`` files: a relative path in one is read from the file's own folder."""

from __future__ import annotations

import math
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


from prunelimit.config import options_for, read_config  # noqa: E402

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


def test_an_empty_section_is_read_as_one(tmp_path):
    """``bounds:`` whose keys are all commented out is YAML's null: it was refused as "section
    'bounds' must be a mapping"; the top level still serves the command."""
    path = tmp_path / "c.yaml"
    path.write_text("tolerance: 0.1\nbounds:\n  # iterations: 3\n", encoding="utf-8")
    assert options_for(read_config(path), "bounds", BOUNDS_OPTIONS) == {"tolerance": 0.1}


def test_sections_and_known_keys_are_read():
    config = {"tolerance": 0.1, "bounds": {"iterations": 3}, "gate": {"min_ratio": 0.5}}
    assert options_for(config, "bounds", BOUNDS_OPTIONS) == {"tolerance": 0.1, "iterations": 3}


def test_a_dash_stays_a_dash_not_a_file_beside_the_config():
    """``from: -`` (``baseline: -``, ``junit: -``) named a file ``-`` in the config's folder:
    read "not found", or written there. As written, the command refuses it as it refuses
    ``--from -``: reports are read from files, outputs written to files, never the standard streams."""
    options = {"from_report": "-", "junit": "-", "rules": [{"baseline": "-", "max_drop": 0.1}]}
    assert relative_to_file(options, Path("ci/gate.yaml"), ["from_report", "junit"]) == options


import yaml  # noqa: E402

from prunelimit.config import ConfigLoader  # noqa: E402


@pytest.mark.parametrize("text, key, lines", [
    ("min_ratio: 0.95\nuse: predicted\nmin_ratio: 0.1\n", "min_ratio", (1, 3)),
    ("gate:\n  tolerance: 0.01\n  tolerance: 0.5\n", "tolerance", (2, 3)),
    ("rules:\n  - name: a\n    min_ratio: 0.95\n    min_ratio: 0.1\n", "min_ratio", (3, 4)),
    ("a: &x {k: 1}\nb: *x\na: 2\n", "a", (1, 3)),
])
def test_a_key_given_twice_in_one_mapping_is_refused_naming_it_and_its_lines(tmp_path, text, key, lines):
    """YAML keeps the last of two equal keys in silence: a policy's ``min_ratio: 0.95`` written
    above a ``min_ratio: 0.1`` gated at 0.1 and passed. Refused (exit 2), naming the key and
    both lines."""
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=rf"^config file {path} line {lines[1]}: {key} is given twice \(also at "
                                         rf"line {lines[0]}\)"):
        read_config(path)


def test_equal_keys_in_different_mappings_and_merge_keys_are_read(tmp_path):
    """The same key in two sections or two rules, and a YAML merge key that an explicit key
    overrides, are no repetition."""
    path = tmp_path / "c.yaml"
    path.write_text("base: &b {min_ratio: 0.5, use: lower}\nrules:\n  - {<<: *b, min_ratio: 0.6}\n"
                    "  - {<<: *b, name: second}\nbounds: {tolerance: 0.1}\ngate: {tolerance: 0.2}\n", encoding="utf-8")
    config = read_config(path)
    assert config["rules"] == [{"min_ratio": 0.6, "use": "lower"}, {"min_ratio": 0.5, "use": "lower", "name": "second"}]


@pytest.mark.parametrize("config", [{"min-ratio": 0.95, "min_ratio": 0.1}, {"min_ratio": 0.1, "min-ratio": 0.95}])
def test_one_option_spelled_two_ways_is_refused(config):
    """``min-ratio`` and ``min_ratio`` are one option: the later one won in silence."""
    spelled = r"^c.yaml: min_ratio is given twice \(as 'min(-|_)ratio' and 'min(-|_)ratio'\); write it once$"
    with pytest.raises(UsageError, match=spelled):
        options_for(config, "gate", ("min_ratio",), "c.yaml")


@pytest.mark.parametrize("config", [{"gate": {"min_ratio": 0.95}, "min_ratio": 0.1},
                                    {"min_ratio": 0.1, "gate": {"min_ratio": 0.95}}])
def test_the_commands_section_wins_over_the_top_level_wherever_it_stands(config):
    """A top-level key serves every command and the command's section overrides it: the key
    written after the section won, so moving a line changed the gate."""
    assert options_for(config, "gate", ("min_ratio",), "c.yaml") == {"min_ratio": 0.95}


def test_an_option_of_another_command_is_named_as_such_not_as_a_typo(cli, tmp_path):
    """``min_ratio: 0.5`` at the top of a file that also serves ``bounds`` was refused as
    "did you mean 'iterations'?": it is a gate option, which belongs in a ``gate:`` section."""
    path = tmp_path / "ci.yaml"
    path.write_text("hessian_samples: all\nmin_ratio: 0.5\n", encoding="utf-8")
    result = cli("bounds", Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt", "--config", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"prunelimit: error: {path}: 'min_ratio' is an option of gate, not of bounds; "
                                     "move it into a gate: section, which that command alone reads")


def test_an_option_of_several_other_commands_names_each_section():
    with pytest.raises(UsageError, match=r"^c.yaml: 'acc_drop' is an option of prune and verify, not of bounds; move "
                                         r"it into a prune: or verify: section, which those commands alone read$"):
        options_for({"acc_drop": 1.0}, "bounds", BOUNDS_OPTIONS, "c.yaml",
                    {"prune": ("acc_drop", "ratio"), "verify": ("acc_drop",), "gate": ("min_ratio",)})


@pytest.mark.parametrize("text, value", [
    ("1e-3", 0.001), ("5E-1", 0.5), ("-2e2", -200.0),  # YAML 1.1 wants a dot: these were the text '1e-3'
    ("010", 10), ("-010", -10),  # YAML 1.1: octal 8 and -8, in silence
    ("1:30", "1:30"),  # YAML 1.1: base 60, 90 (a time budget of 90 s read from "1:30")
    ("10_000", 10_000), ("0x10", 16), ("0o17", 15), ("1.5", 1.5), (".inf", math.inf), ("'010'", "010"),
    ("yes", True),  # 1.1's booleans stay, refused by name for an option taking a number or text
])
def test_numbers_are_read_as_written(tmp_path, text, value):
    """A config's numbers mean what they say to a reader of the file (YAML 1.2's reading), read
    by a safe loader (corpus bounds/config-python-tag: no Python tag is constructed)."""
    assert issubclass(ConfigLoader, yaml.SafeLoader)
    path = tmp_path / "c.yaml"
    path.write_text(f"key: {text}\n", encoding="utf-8")
    got = read_config(path)["key"]
    assert got == value and type(got) is type(value)


def test_a_rule_threshold_in_exponent_notation_is_a_number(tmp_path):
    """``min_ratio: 5e-1`` in a rule was refused as "got '5e-1', a str, not a number: write 0.5,
    without quotes" (there were none), while the same key at the top level (a flag's value)
    was read as 0.5."""
    from prunelimit.gate_rules import rules_from_options

    path = tmp_path / "ci.yaml"
    path.write_text("rules:\n  - min_ratio: 5e-1\n", encoding="utf-8")
    rules = rules_from_options(None, "lower", None, None, read_config(path)["rules"], str(path))
    assert [rule.min_ratio for rule in rules] == [0.5]


def test_a_whole_hessian_sample_count_with_a_decimal_point_is_a_count(cli, tmp_path):
    """``hessian_samples: 2.0e2`` (or ``200.0``) in a config file, or ``--hessian-samples
    200.0``, was refused ("'200.0': use auto, all or a positive number of samples") where
    ``max_samples: 400.0`` and ``--max-samples 400.0`` were read as counts: now all are;
    a fraction is still refused."""
    import json

    example = Path(__file__).resolve().parents[1] / "examples" / "digits-mlp.pt"
    plan = ("--method", "slq", "--iterations", "4", "--runs", "1", "--no-cache", "--json")
    path = tmp_path / "ci.yaml"
    path.write_text("hessian_samples: 2.0e2\nmax_samples: 400.0\n", encoding="utf-8")
    for given in (("--config", path), ("--hessian-samples", "200.0", "--max-samples", "400")):
        result = cli("bounds", example, *plan, *given)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["spectrum"]["hessian_samples"]["used"] == 200
    result = cli("bounds", example, *plan, "--hessian-samples", "200.5")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == ("prunelimit: error: Invalid value for '--hessian-samples': must be an "
                                             "integer, got '200.5'; write 200 or 201")
