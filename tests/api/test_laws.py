"""prunelimit.api.laws: Hyperflux and IMP started from a checkpoint."""

from __future__ import annotations

import pytest
import torch

from prunelimit import api
from prunelimit.io.checkpoint import read_checkpoint, save_checkpoint
from prunelimit.laws.hyperflux import HyperfluxConfig
from prunelimit.laws.imp import ImpConfig
from prunelimit.models.spec import build_model
from tests.conftest import SPEC


@pytest.fixture
def head_kept(tmp_path):
    """A file pruned with --exclude 2: half of 0.weight masked, the head outside the set."""
    torch.manual_seed(0)
    model = build_model(SPEC)
    keep = torch.rand_like(model[0].weight) > 0.5
    with torch.no_grad():
        model[0].weight.mul_(keep)
    path = tmp_path / "pruned.pt"
    save_checkpoint(path, SPEC, model.state_dict(), {"0.weight": keep},
                    {"data": "digits:train", "pruned": {"include": [], "exclude": ["2"]}})
    return path


def _head_and_record(path):
    raw = read_checkpoint(path)
    return int((raw.state_dict["2.weight"] == 0).sum()), "2.weight" in raw.masks, raw.meta["pruned"].get("exclude")


def test_hyperflux_prunes_and_records_the_set_its_checkpoint_was_pruned_with(head_kept, tmp_path):
    # Before, it gated the default set: the excluded head was pruned and the file recorded no set
    out = tmp_path / "hf.pt"
    api.hyperflux(out, 0.4, HyperfluxConfig(pruning_epochs=4, regrowth_epochs=0), checkpoint=head_kept,
                  max_samples=128, device="cpu")
    assert _head_and_record(out) == (0, False, ["2"])


def test_imp_prunes_and_records_the_set_its_checkpoint_was_pruned_with(head_kept, tmp_path):
    out = tmp_path / "imp"
    api.imp(str(head_kept), out, ImpConfig(levels=1, epochs_per_level=1), max_samples=128, device="cpu")
    assert _head_and_record(out / "level_001.pt") == (0, False, ["2"])
