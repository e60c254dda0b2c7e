"""The masked training loop refuses a reentrant activation checkpoint segment on inputs that
need no gradient: torch gives the weights inside it no gradient (a warning only), so LOMP,
IMP, fine-tuning, NPLH and Hyperflux left them untrained. Such a model may checkpoint only in
training mode, which the eval-mode input checks never see. A reentrant segment whose input
needs a gradient trains as the plain model does, and is not refused."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import InputError
from prunelimit.models.activation_checkpointing import reentrant_checkpoint_error
from prunelimit.pruning.training import UNREACHED_REENTRANT, sgd, train_masked


class TrainingCheckpointed(nn.Module):
    """An MLP that checkpoints one segment in training mode only (as gradient checkpointing
    of large models does): ``first`` on the input, ``second`` on the hidden layer."""

    def __init__(self, segment: str, reentrant: bool) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 6), nn.Linear(6, 3)
        self.segment, self.reentrant = segment, reentrant

    def forward(self, x):
        first = (lambda t: torch.relu(self.a(t)))
        if self.training and self.segment == "first":
            return self.b(checkpoint(first, x, use_reentrant=self.reentrant))
        h = first(x)
        if self.training and self.segment == "second":
            return checkpoint(self.b, h, use_reentrant=self.reentrant)
        return self.b(h)


def batches():
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(16, 8, generator=gen), torch.randint(0, 3, (16,), generator=gen)) for _ in range(3)]


def trained(segment: str, reentrant: bool) -> TrainingCheckpointed:
    torch.manual_seed(0)
    model = TrainingCheckpointed(segment, reentrant)
    train_masked(model, sgd(model, 0.1), cross_entropy_loss, batches(), epochs=2)
    return model


@pytest.mark.filterwarnings("ignore:None of the inputs have requires_grad")  # torch's own, before the refusal
def test_a_reentrant_segment_on_the_input_is_refused_not_left_untrained():
    with pytest.raises(InputError) as refused:
        trained("first", reentrant=True)
    assert str(refused.value) == str(reentrant_checkpoint_error(UNREACHED_REENTRANT))
    assert "use_reentrant=False" in str(refused.value)


@pytest.mark.parametrize("segment", ["first", "second"])
def test_non_reentrant_and_reentrant_with_a_gradient_train_as_the_plain_model(segment):
    plain = trained("none", reentrant=False)
    for reentrant in ((False, True) if segment == "second" else (False,)):
        model = trained(segment, reentrant)
        for p, q in zip(model.parameters(), plain.parameters()):
            torch.testing.assert_close(p, q)


class Noisy(nn.Linear):
    def forward(self, x):
        warnings.warn("noisy forward")
        return super().forward(x)


def test_the_guard_leaves_the_models_own_warnings_shown_once():
    """Recording warnings to find torch's had them re-emitted without their registry: a
    warning of forward was shown every step (66 times in a 2-epoch `train`, not 4)."""
    torch.manual_seed(0)
    model = Noisy(8, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        train_masked(model, sgd(model, 0.1), cross_entropy_loss, batches(), epochs=2)
    assert [str(w.message) for w in caught] == ["noisy forward"]
