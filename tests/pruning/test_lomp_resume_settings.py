"""A resume refused for other settings said "use the same config", naming neither the values the
state was trained with nor how to give them: `train --resume` of a file trained with `--epochs 15
--l1 0` and no --epochs/--l1 typed (defaults 30 and 1e-4). It now names both sides and the
flags (or a library caller's fields) that resume the run."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from prunelimit.errors import UsageError, library_call, options_named
from prunelimit.pruning.lomp import LompConfig, check_resume_state


def _state(config: LompConfig) -> dict:
    return {"epoch": 0, "optimizer": {}, "history": [], "rng": torch.get_rng_state(),
            "config": {**dataclasses.asdict(config), "milestones": list(config.milestones)}}


SAVED = LompConfig(epochs=15, lr=0.05, l1=0.0)


def _refusal(config: LompConfig) -> str:
    with pytest.raises(UsageError) as refused:
        check_resume_state(_state(SAVED), config, "the training state in plain.pt")
    return str(refused.value)


def test_the_command_line_is_told_the_flags_and_values_that_resume_it() -> None:
    with options_named(lambda name: "--" + name.replace("_", "-")):  # as a command runs
        said = _refusal(LompConfig(epochs=30, lr=0.05, l1=1e-4))
        assert said == ("the training state in plain.pt was trained with different settings (epochs, l1): epochs 15 "
                        "there and 30 here, l1 0 there and 0.0001 here; resume with --epochs 15 --l1 0")
        biases = _refusal(LompConfig(epochs=15, lr=0.05, l1=0.0, l1_scope="reference", weight_decay=5e-4))
        assert biases.endswith("weight_decay 0 there and 0.0005 here; resume without --l1-biases and with the "
                               "--preset that set weight_decay there")


def test_a_library_caller_is_told_the_fields() -> None:
    with library_call():
        said = _refusal(LompConfig(epochs=30, lr=0.05, l1=1e-4))
    assert said.endswith("; resume with epochs=15, l1=0.0")
