"""``imp`` and ``hyperflux`` on a model whose prunable weights are partly frozen
(``requires_grad=False``): they prune them with the others but never train them, and say so."""

from __future__ import annotations

import json
import runpy

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.io.checkpoint import save_checkpoint


def _frozen_first_layer():
    """8 → 16 → 3, the first layer's weight frozen, and 256 points of a random labelling."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    model[0].weight.requires_grad_(False)
    x = torch.randn(256, 8, generator=gen)
    return model, (x, torch.randint(0, 3, (256,), generator=gen))


def _imp(model, data):
    return prunelimit.imp(model, data, eval_data=data, levels=1, rate=0.5, epochs_per_level=1, epochs_dense=0,
                          batch_size=64)


def _hyperflux(model, data):
    return prunelimit.hyperflux(model, data, 0.5, eval_data=data, batch_size=32, pruning_epochs=6,
                                regrowth_epochs=0)


@pytest.mark.parametrize("run", [_imp, _hyperflux])
def test_frozen_prunable_weights_are_pruned_untrained_and_named(run):
    """Both pruned part of the frozen layer and left the rest as it was, in silence: its kept
    weights cannot make up for the pruned ones, which the warning now says, naming the tensor
    and the fix. An unfrozen model's run has no such warning."""
    model, data = _frozen_first_layer()
    before = model[0].weight.clone()
    result = run(model, data)
    kept = result.masks["0.weight"]
    assert 0 < int(kept.sum()) < kept.numel()  # pruned with the others
    assert torch.equal(model[0].weight[kept], before[kept])  # and never trained
    frozen = [w for w in result.warnings if "frozen" in w]
    assert frozen == [f"{before.numel()} prunable weights (0.weight) are frozen (requires_grad=False): "
                      + ("IMP prunes them by magnitude with the others" if run is _imp
                         else "Hyperflux gates them with the others")
                      + ", but training never updates them, so the weights kept there do not make up for the ones "
                        "pruned; exclude=('0',) leaves them out, or make them trainable in the model"]

    model, data = _frozen_first_layer()
    model[0].weight.requires_grad_(True)
    assert not [w for w in run(model, data).warnings if "frozen" in w]


def _nplh(mode: str, **settings):
    def run(model, data):
        return prunelimit.nplh(model, data, batch_size=32, mode=mode, region="auto", **settings)
    return run


_FROZEN_NPLH = {"iterative": (_nplh("iterative", rate=0.5, finetune_steps=4), "the iterative mode prunes them by "
                                                                               "their saliency with the others"),
                "pressure": (_nplh("pressure", epochs_per_level=1), "the pressure ladder gates them with the others")}


@pytest.mark.parametrize("mode", sorted(_FROZEN_NPLH))
def test_nplh_modes_that_fine_tune_name_frozen_prunable_weights(mode):
    """``law nplh --mode iterative`` prunes a frozen layer's weights by their saliency and
    ``--mode pressure`` gates them, and both fine-tune the rest between points: they gave no
    word of it, where ``imp`` and ``hyperflux`` did. The static mode trains nothing, so it says
    nothing of them."""
    run, how = _FROZEN_NPLH[mode]
    model, data = _frozen_first_layer()
    frozen = [w for w in run(model, data).warnings if "frozen" in w]
    assert frozen == [f"{model[0].weight.numel()} prunable weights (0.weight) are frozen (requires_grad=False): {how}"
                      ", but training never updates them, so the weights kept there do not make up for the ones "
                      "pruned; exclude=('0',) leaves them out, or make them trainable in the model"]
    assert not [w for w in prunelimit.nplh(model, data, batch_size=32).warnings if "frozen" in w]
    model[0].weight.requires_grad_(True)
    assert not [w for w in run(model, data).warnings if "frozen" in w]


_FROZEN_FACTORY = '''
import torch
from torch import nn


def make():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    model[0].weight.requires_grad_(False)
    return model
'''


@pytest.mark.parametrize("epochs", [0, 1])
def test_prune_fine_tuning_names_frozen_prunable_weights(cli, tmp_path, epochs):
    """``prune --finetune-epochs`` prunes a frozen layer by magnitude and fine-tunes the rest:
    it said nothing of the frozen weights it cannot retrain. Without fine-tuning nothing is
    trained, and nothing is said."""
    factory = tmp_path / "frozen_net.py"
    factory.write_text(_FROZEN_FACTORY)
    spec = f"{factory}:make"
    ckpt = tmp_path / "frozen.pt"
    save_checkpoint(ckpt, spec, runpy.run_path(str(factory))["make"]().state_dict(), meta={"data": "digits:train"})
    result = cli("prune", ckpt, "--model", spec, "--ratio", "0.5", "--finetune-epochs", epochs, "--max-samples", 64,
                 "-o", tmp_path / "p.pt", "--json")
    assert result.exit_code == 0, result.stderr
    frozen = [w for w in json.loads(result.stdout)["warnings"] if "frozen" in w]
    assert frozen == ([] if epochs == 0 else [
        "768 prunable weights (0.weight) are frozen (requires_grad=False): prune removes them by magnitude with the "
        "others, but training never updates them, so the weights kept there do not make up for the ones pruned; "
        "--exclude '0' leaves them out, or make them trainable in the model"])
