"""A tied weight masked in one of its modules only, in a model given through a wrapper
(``nn.DataParallel``, ``torch.compile``), was refused naming the wrapped module's modules
(``'out'``) and giving ``model.get_submodule('emb')`` as the fix, which fails on the caller's
wrapper (``AttributeError: DataParallel has no attribute `emb```). The modules are now named
as the caller's model holds them (``'module.out'``), so the fix runs as written."""

from __future__ import annotations

import pytest
import torch
import torch.nn.utils.prune as torch_prune
from torch import nn

import prunelimit
from prunelimit.errors import UsageError


class Tied(nn.Module):
    """An embedding tied to the output layer over its vocabulary (one parameter, two modules)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.out = nn.Linear(6, 10, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.emb(ids).mean(1)))


@pytest.fixture
def tied() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)
    ids = torch.randint(0, 10, (32, 3))
    return Tied(), (ids, ids[:, 0])


def _compiled(model: nn.Module) -> nn.Module:
    return torch.compile(model, backend="eager")


@pytest.mark.parametrize(("wrap", "prefix"), [(nn.DataParallel, "module."), (_compiled, "_orig_mod.")])
def test_the_fix_names_the_modules_of_the_wrapper_given(tied, wrap, prefix):
    inner, data = tied
    model = wrap(inner)
    torch_prune.l1_unstructured(inner.out, "weight", 0.5)
    with pytest.raises(UsageError) as error:
        prunelimit.info(model, data)
    message = str(error.value)
    assert (f"the tied weight '{prefix}out.weight' (one parameter of modules '{prefix}emb', '{prefix}out')"
            in message)
    fix = (f"model.get_submodule('{prefix}emb'), 'weight', model.get_submodule('{prefix}out').weight_mask")
    assert f"torch.nn.utils.prune.custom_from_mask({fix})" in message
    # the fix as written runs on the caller's model, after which it is read
    torch_prune.custom_from_mask(model.get_submodule(f"{prefix}emb"), "weight",
                                 model.get_submodule(f"{prefix}out").weight_mask)
    assert prunelimit.info(model, data, include=("emb",)).params_prunable > 0
