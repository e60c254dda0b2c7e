"""``prunelimit verify --refit --finetune-epochs N --finetune-lr LR`` had no library form:
``prunelimit.verify`` takes ``refit``, ``finetune_epochs`` and ``finetune_lr``, with the
command's defaults and checks, and gives the command's ``refit`` numbers on the same model."""

from __future__ import annotations

import copy
import json

import pytest

import prunelimit
from prunelimit.errors import OptionError, UsageError
from prunelimit.io.checkpoint import save_checkpoint

from tests.conftest import LIBRARY_SAMPLES as SAMPLES, SPEC


def test_refit_is_the_command_lines_refit_on_the_same_model(cli, model, train, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    result = cli("verify", path, "--data", "digits:train", "--max-samples", SAMPLES, "--method", "exact", "--no-cache",
                 "--refit", "--finetune-epochs", 1, "--finetune-lr", 0.02, "--json")
    assert result.exit_code == 0, result.stderr
    before = copy.deepcopy(model.state_dict())
    report = prunelimit.verify(model, train, method="exact", refit=True, finetune_epochs=1, finetune_lr=0.02)
    assert report.to_json()["refit"] == json.loads(result.stdout)["refit"]
    assert all((before[k] == v).all() for k, v in model.state_dict().items())  # fine-tuned a copy
    assert prunelimit.verify(model, train, method="exact").refit is None  # off by default, as without --refit


@pytest.mark.parametrize("given, error, message", [
    (dict(finetune_epochs=2), UsageError, r"^finetune_epochs has no effect: only refit=True fine-tunes; add refit=True "
                                          r"or drop it$"),
    (dict(finetune_lr=0.1), UsageError, r"^finetune_lr has no effect: only refit=True fine-tunes"),
    (dict(refit=True, finetune_epochs=0), OptionError, r"^refit=True needs finetune_epochs of at least 1, got 0$"),
    (dict(refit=True, finetune_lr=-1.0), OptionError, r"^finetune_lr must be a positive finite number, got -1\.0$"),
    (dict(refit="yes"), OptionError, r"^refit must be True or False, got 'yes'$"),
])
def test_refit_settings_are_refused_in_the_librarys_words(model, train, given, error, message):
    with pytest.raises(error, match=message):
        prunelimit.verify(model, train, **given)


def test_refit_leaves_the_callers_gradients_as_they_were(model, train):
    """The refit search fine-tunes the caller's model and gives its weights back: its
    gradients too (a caller accumulating them over backward passes), the same tensors with
    their values, and a parameter without one stays without (the fine-tuning left its own)."""
    import torch

    torch.nn.functional.cross_entropy(model(train[0][:16]), train[1][:16]).backward()
    model[-1].bias.grad = None
    held = {name: p.grad for name, p in model.named_parameters()}
    kept = {name: None if g is None else g.clone() for name, g in held.items()}
    prunelimit.verify(model, train, method="exact", refit=True, finetune_epochs=1)
    for name, p in model.named_parameters():
        assert p.grad is held[name] and (kept[name] is None or torch.equal(p.grad, kept[name])), name
