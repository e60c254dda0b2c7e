"""Hyperflux (the pruning run and NPLH's pressure ladder) refuses a model that runs
``torch.utils.checkpoint``, reentrant or not: the segment is recomputed in backward with the
module's own weights, after ``functional_call`` put them back, not the gated ones, so its
gradients were wrong (a reentrant segment on the input gave its weights none; a non-reentrant
one pruned to another density than the same model without checkpointing: 0.4545 against
0.4848 here). The model checkpoints in training mode only, which the library's eval-mode
input check does not see."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import prunelimit
from prunelimit.errors import InputError
from prunelimit.laws.hyperflux import CHECKPOINTED

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pruning"))
from test_training_reentrant import TrainingCheckpointed  # noqa: E402

DATA = (torch.randn(64, 8, generator=torch.Generator().manual_seed(1)),
        torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(2)))
# the library's training-mode output check runs the model under no_grad, where torch warns of a reentrant segment
pytestmark = pytest.mark.filterwarnings("ignore:None of the inputs have requires_grad")
FORMS = pytest.mark.parametrize("segment, reentrant", [("first", True), ("second", True), ("first", False),
                                                       ("second", False)])


def hyperflux(segment: str, reentrant: bool):
    torch.manual_seed(0)
    return prunelimit.hyperflux(TrainingCheckpointed(segment, reentrant), DATA, 0.5, batch_size=16,
                                pruning_epochs=4, regrowth_epochs=0, gate_lr=0.1)


@FORMS
def test_hyperflux_refuses_activation_checkpointing(segment, reentrant):
    with pytest.raises(InputError, match="torch.utils.checkpoint") as refused:
        hyperflux(segment, reentrant)
    assert str(refused.value) == CHECKPOINTED


@FORMS
def test_the_nplh_pressure_ladder_refuses_activation_checkpointing(segment, reentrant):
    torch.manual_seed(0)
    with pytest.raises(InputError) as refused:
        prunelimit.nplh(TrainingCheckpointed(segment, reentrant), DATA, mode="pressure", batch_size=16,
                        epochs_per_level=5, pressures=[1, 4, 16])
    assert str(refused.value) == CHECKPOINTED


def test_a_model_without_checkpointing_is_pruned_and_torch_is_left_as_it_was():
    import torch.utils.checkpoint as ck

    before = (ck.CheckpointFunction, ck._checkpoint_without_reentrant_generator)
    assert hyperflux("none", False).density > 0
    assert (ck.CheckpointFunction, ck._checkpoint_without_reentrant_generator) == before
