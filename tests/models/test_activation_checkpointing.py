"""The watch on a model's ``torch.utils.checkpoint`` segments that the Hessian, the training
loop and the gradient saliencies share: which form ran, torch's own functions back after,
and autograd's error under a reentrant segment turned into the refusal with the fix."""

from __future__ import annotations

import pytest
import torch
import torch.utils.checkpoint as ck

from prunelimit.errors import InputError
from prunelimit.models.activation_checkpointing import checkpoint_runs, gradient_checkpoints


@pytest.mark.parametrize("reentrant", [True, False])
def test_each_segment_is_named_by_its_form_and_torch_is_left_as_it_was(reentrant):
    before = (ck.CheckpointFunction, ck._checkpoint_without_reentrant_generator)
    x = torch.randn(3, 2, requires_grad=True)
    with checkpoint_runs() as runs:
        out = ck.checkpoint(torch.tanh, x, use_reentrant=reentrant) + ck.checkpoint(torch.sin, x, use_reentrant=reentrant)
        out.sum().backward()
    assert runs == ["reentrant" if reentrant else "non-reentrant"] * 2
    assert (ck.CheckpointFunction, ck._checkpoint_without_reentrant_generator) == before
    torch.testing.assert_close(x.grad, 1 - torch.tanh(x.detach()) ** 2 + torch.cos(x.detach()))


def test_autograd_grad_through_a_reentrant_segment_is_refused_with_the_fix():
    w = torch.randn(2, requires_grad=True)
    with pytest.raises(InputError, match="pass use_reentrant=False"), gradient_checkpoints():
        torch.autograd.grad(ck.checkpoint(torch.mul, w, w, use_reentrant=True).sum(), [w])


def test_an_error_without_a_reentrant_segment_passes_on_as_it_came():
    with pytest.raises(RuntimeError, match="not ours"), gradient_checkpoints() as runs:
        raise RuntimeError("not ours")
    assert runs == []
