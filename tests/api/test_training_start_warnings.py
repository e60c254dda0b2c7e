"""``imp`` and ``hyperflux`` started from a file carry what reading it warned (a training
record's passed-over entries) in their results' ``warnings``, as ``bounds`` and ``nplh`` do:
once, on stderr and in the ``--json`` document."""

from __future__ import annotations

import json

import pytest
import torch

from prunelimit import api
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from tests.conftest import LIBRARY_SAMPLES, SPEC

NOTE = "the weights were read from 'model_state_dict'; 'epoch', 'optimizer_state_dict' beside them are not used"
SHORT = ("--max-samples", str(LIBRARY_SAMPLES), "--model", SPEC, "--data", "digits:train")
COMMANDS = {
    "imp": ("--levels", "1", "--rate", "0.5", "--epochs", "1"),
    "hyperflux": ("--target-density", "0.5", "--pruning-epochs", "3", "--regrowth-epochs", "0", "--gate-lr", "0.2"),
}


@pytest.fixture
def record(tmp_path, tiny_model):
    path = tmp_path / "record.pt"
    torch.save({"epoch": 2, "model_state_dict": tiny_model.state_dict(),
                "optimizer_state_dict": {"state": {}, "param_groups": []}}, path)
    return path


def _noted(warnings) -> list[str]:
    return [w for w in warnings if NOTE in w]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_command_s_json_warnings_carry_the_training_record_note_once(command, cli, record, tmp_path):
    args = (command, record, *COMMANDS[command], *SHORT)
    result = cli(*args, "-o", tmp_path / ("out" if command == "imp" else "out.pt"), "--json")
    assert result.exit_code == 0, result.output
    assert _noted(json.loads(result.stdout)["warnings"]) == [f"checkpoint {record} is a training record: {NOTE}"]
    assert " ".join(result.stderr.split()).count(NOTE) == 1
    console = cli(*args, "-o", tmp_path / ("c" if command == "imp" else "c.pt"))
    assert console.exit_code == 0, console.output
    assert " ".join(console.stderr.split()).count(NOTE) == 1 and NOTE not in " ".join(console.stdout.split())


def test_the_library_results_carry_it_too(record, tmp_path):
    options = {"model": SPEC, "data": "digits:train", "max_samples": LIBRARY_SAMPLES, "device": "cpu"}
    with pytest.warns(UserWarning, match="training record"):
        sweep = api.imp(str(record), tmp_path / "sweep", ImpConfig(levels=1, rate=0.5, epochs_per_level=1), **options)
    with pytest.warns(UserWarning, match="training record"):
        flux = api.hyperflux(tmp_path / "hf.pt", 0.5, HyperfluxConfig(pruning_epochs=3, regrowth_epochs=0, gate_lr=0.2),
                             checkpoint=record, **options)
    assert len(_noted(sweep.warnings)) == len(_noted(flux.warnings)) == 1
    assert _noted(sweep.to_json()["warnings"]) == _noted(flux.to_json()["warnings"]) == list(_noted(sweep.warnings))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_prunable_set_other_than_the_recorded_one_is_in_the_json_warnings(command, cli, own_ckpt, tmp_path):
    """The set in use and the masks outside it, warned on reading a pruned file, reach the JSON too."""
    pruned = tmp_path / "pruned.pt"
    assert cli("prune", own_ckpt, "--ratio", "0.5", "-o", pruned).exit_code == 0
    out = tmp_path / ("out" if command == "imp" else "out.pt")
    options = {**COMMANDS, "hyperflux": ("--target-density", "0.3", *COMMANDS["hyperflux"][2:])}[command]  # the pruned file starts at density 0.47
    result = cli(command, pruned, "--exclude", "2", *options, *SHORT[:2], "-o", out, "--json")
    assert result.exit_code == 0, result.output
    given = [w for w in json.loads(result.stdout)["warnings"] if "this run uses --exclude '2', as given" in w]
    assert len(given) == 1 and "outside the prunable set in use (2.weight)" in given[0]
    assert " ".join(result.stderr.split()).count("this run uses --exclude '2', as given") == 1
