"""A tied weight that ``torch.nn.utils.prune`` masks in one of the modules holding it and not
in the other (a tied output layer pruned alone, its embedding computing with the unpruned
values), or with different masks, is refused naming the call that gives every module the
same mask: the library folded it into one weight and one mask, and read another model than
the caller's (``info``'s loss 0.17 where the model's own was 0.07)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.utils.prune as torch_prune
from torch import nn

import prunelimit
from prunelimit.errors import UsageError
from tests.conftest import adam_fit

VOCAB, WIDTH, TOKENS = 12, 6, 4
LIBRARY_MD = " ".join((Path(__file__).resolve().parents[2] / "docs" / "library.md").read_text(encoding="utf-8").split())


class TiedLM(nn.Module):
    """An embedding tied to the output layer, as a language model ties them."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, WIDTH)
        self.mix = nn.Linear(WIDTH * TOKENS, WIDTH)
        self.out = nn.Linear(WIDTH, VOCAB, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.mix(self.emb(ids).flatten(1))))


@pytest.fixture
def tied() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)
    ids = torch.randint(0, VOCAB, (64, TOKENS))
    labels = ids.sum(1) % VOCAB
    return adam_fit(TiedLM(), ids, labels, steps=50), (ids, labels)


def _loss(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    with torch.no_grad():
        return float(nn.functional.cross_entropy(model(data[0]), data[1]))


@pytest.mark.parametrize("call", ["info", "prune", "bounds", "train"])
def test_a_tie_pruned_in_one_module_only_is_refused_with_the_call_that_prunes_the_other(tied, call):
    model, data = tied
    torch_prune.l1_unstructured(model.out, "weight", 0.5)
    calls = {"info": lambda: prunelimit.info(model, data), "prune": lambda: prunelimit.prune(model, 0.5),
             "bounds": lambda: prunelimit.bounds(model, data, method="exact"),
             "train": lambda: prunelimit.train(model, data, epochs=1)}
    with pytest.raises(UsageError) as error:
        calls[call]()
    message = str(error.value)
    assert "the tied weight 'out.weight' (one parameter of modules 'emb', 'out')" in message
    assert "in 'out' only: 'emb' computes with its unpruned values" in message
    fix = "torch.nn.utils.prune.custom_from_mask(model.get_submodule('emb'), 'weight', model.get_submodule('out').weight_mask)"
    assert fix in message
    # docs/library.md quotes it
    assert all(part in LIBRARY_MD for part in (message.split(", so")[0], fix))
    # refused before anything changed: the caller's pruning is as it was
    assert hasattr(model.out, "weight_mask") and not hasattr(model.emb, "weight_mask")


def test_following_the_fix_reads_the_model_as_it_computes(tied):
    model, data = tied
    torch_prune.l1_unstructured(model.out, "weight", 0.5)
    torch_prune.custom_from_mask(model.get_submodule("emb"), "weight", model.get_submodule("out").weight_mask)
    # the model's own loss, to float32 rounding of one mean over 64 samples
    # the tie counts as its first module's, emb, which include= makes prunable
    assert prunelimit.info(model, data, include=("emb",)).loss == pytest.approx(_loss(model, data), rel=1e-5)


def test_a_tie_pruned_with_different_masks_is_refused_with_their_product(tied):
    model, data = tied
    torch_prune.l1_unstructured(model.out, "weight", 0.3)
    torch_prune.random_unstructured(model.emb, "weight", 0.3)
    with pytest.raises(UsageError, match="with different masks in 'emb', 'out'") as error:
        prunelimit.info(model, data)
    product = "mask = model.get_submodule('emb').weight_mask * model.get_submodule('out').weight_mask"
    assert product in str(error.value)
    for module in (model.emb, model.out):
        torch_prune.custom_from_mask(module, "weight", model.emb.weight_mask * model.out.weight_mask)
    assert prunelimit.info(model, data, include=("emb",)).loss == pytest.approx(_loss(model, data), rel=1e-5)


def test_a_tie_pruned_alike_by_apply_is_read_as_before(tied):
    model, data = tied
    pruning = prunelimit.prune(model, 0.5, include=("emb",))
    applied = copy.deepcopy(model)
    pruning.apply(applied)
    assert hasattr(applied.emb, "weight_mask") and hasattr(applied.out, "weight_mask")
    assert prunelimit.info(applied, data, include=("emb",)).loss == pytest.approx(_loss(applied, data), rel=1e-5)
