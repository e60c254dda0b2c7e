"""``prune``: its report describes the file it wrote, and the file keeps what its input had pruned."""

from __future__ import annotations

import json
import math

import torch

from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.load import load_model

SPEC_OF_OWN = "mlp:64,12,10"  # the own_ckpt fixture's model (tests/conftest.py)


def test_achieved_ratio_is_the_saved_files_after_fine_tuning(cli, own_ckpt, tmp_path):
    """A pruned file whose masks keep weights that are exactly zero, more of them than ``ceil(ρN)``:
    the new masks remove ``ceil(ρN)`` (the zeros first), and fine-tuning moves the zeros they keep
    (kept weights, as the file's masks say). The reported ``achieved`` ratio was counted before
    fine-tuning (0.5 here) while the layers and the file held fewer zeros. (A file without masks
    holds its zeros pruned: tests/pruning/test_prune_held_zeros.py.)"""
    given = load_model(own_ckpt)
    state = given.model.state_dict()
    weights = torch.cat([state[k].abs().flatten() for k in ("0.weight", "2.weight")])
    cut = weights.sort().values[weights.numel() // 2]
    for key in ("0.weight", "2.weight"):  # half of the prunable weights exactly zero
        state[key] = torch.where(state[key].abs() < cut, torch.zeros_like(state[key]), state[key])
    source = tmp_path / "zeros.pt"
    kept = {key: torch.ones_like(state[key], dtype=torch.bool) for key in ("0.weight", "2.weight")}
    save_checkpoint(source, given.spec, state, masks=kept, meta={"data": "digits:train"})
    out = tmp_path / "p.pt"
    result = cli("prune", source, "--ratio", "0.2", "--finetune-epochs", 1, "--finetune-lr", 0.1,
                 "--max-samples", 200, "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    n = sum(layer["total"] for layer in doc["layers"])
    saved = load_model(out)
    saved_zeros = sum(int((saved.model.state_dict()[k] == 0).sum()) for k in ("0.weight", "2.weight"))
    assert sum(int((~m).sum()) for m in saved.masks.values()) == math.ceil(0.2 * n)
    assert saved_zeros < n // 2  # fine-tuning moved kept zeros: the case under test
    assert doc["ratio"]["achieved"] == saved_zeros / n == sum(layer["zeros"] for layer in doc["layers"]) / n
    assert doc["ratio"]["density"] == 1 - saved_zeros / n


def test_a_predicted_limit_of_every_weight_is_named_as_the_prediction(cli, own_ckpt, tmp_path):
    """ρ* is 1 when the loss stays within ε with every prunable weight removed (here: they are
    all zero already). ``--ratio auto`` then said ``pruning ratio 1.0 is outside [0, 1); give the
    removed fraction``, a ratio the user never typed; computed or read ``--from``, it now names ρ*."""
    given = load_model(own_ckpt)
    state = {k: torch.zeros_like(v) if k.endswith("weight") else v for k, v in given.model.state_dict().items()}
    source = tmp_path / "zero.pt"
    save_checkpoint(source, given.spec, state, meta={"data": "digits:train"})
    report = tmp_path / "b.json"
    saved = cli("bounds", source, "--max-samples", 200, "--json")
    assert saved.exit_code == 0 and json.loads(saved.stdout)["prediction"]["ratio"] == 1.0
    report.write_text(saved.stdout)
    for extra in ((), ("--from", report)):
        result = cli("prune", source, "--ratio", "auto", *extra, "--max-samples", 200, "-o", tmp_path / "p.pt")
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "ρ* is 100 %" in result.stderr and "--ratio" in result.stderr
        assert not (tmp_path / "p.pt").exists()


def test_a_pruned_safetensors_file_stays_pruned_through_fine_tuning(cli, own_ckpt, tmp_path):
    """A pruned safetensors file holds no masks, only ``meta.pruned``: pruned again to a lower
    ratio with fine-tuning, its zeros beyond the new ``ceil(ρN)`` were free to move (241 of 711
    regrew on a 64-16-10 MLP), as they never do from the prunelimit or torch-prune form."""
    cli("prune", own_ckpt, "--ratio", "0.6", "-o", tmp_path / "p1.pt", "--format", "safetensors")
    first = load_model(tmp_path / "p1.safetensors", SPEC_OF_OWN)
    result = cli("prune", tmp_path / "p1.safetensors", "--model", SPEC_OF_OWN, "--data", "digits:train",
                 "--ratio", "0.3", "--finetune-epochs", 1, "--finetune-lr", 0.1, "--max-samples", 200,
                 "-o", tmp_path / "p2.pt", "--json")
    assert result.exit_code == 0, result.stderr
    second = load_model(tmp_path / "p2.pt")
    n = 0
    for name, weight in first.model.state_dict().items():
        if name.endswith("weight"):
            removed = weight == 0
            n += weight.numel()
            assert removed.any() and not second.masks[name][removed].any()
            assert (second.model.state_dict()[name][removed] == 0).all()
    assert json.loads(result.stdout)["ratio"]["achieved"] >= math.ceil(0.6 * n) / n


_TIED_NET = '''
import torch
from torch import nn


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec, self.head = nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10)
        self.dec.weight = self.enc.weight

    def forward(self, x):
        return self.head(torch.relu(self.dec(torch.relu(self.enc(x)))))


def make():
    torch.manual_seed(0)
    return Tied()
'''


def test_a_torch_prune_file_of_a_tied_model_loads_into_it_pruned_with_torch_and_prunes_further(cli, tmp_path):
    """``torch.nn.utils.prune`` prunes a tied weight on each module that holds it (as
    ``Pruning.apply`` does), and the state dict then holds ``dec.weight_orig``/``dec.weight_mask``:
    the ``--format torch-prune`` file held a bare ``dec.weight`` and did not load into such a
    model, and such a file read back named a mask "outside the prunable set" and could not
    be pruned further ("mask names ['dec.weight'] are not parameters of the model", exit 2)."""
    from prunelimit.models.spec import build_model
    from prunelimit.pruning.masks import prune_with_torch

    (tmp_path / "tiednet.py").write_text(_TIED_NET)
    spec = f"{tmp_path / 'tiednet.py'}:make"
    save_checkpoint(tmp_path / "dense.pt", spec, build_model(spec).state_dict(), meta={"data": "digits:train"})
    first = cli("prune", tmp_path / "dense.pt", "--model", spec, "--ratio", "0.5", "--max-samples", 200,
                "-o", tmp_path / "p.pt", "--format", "torch-prune")
    assert first.exit_code == 0, first.stderr
    pruned = load_model(tmp_path / "p.pt", spec)
    model = build_model(spec)
    prune_with_torch(model, pruned.masks)
    model.load_state_dict(torch.load(tmp_path / "p.prune.pt", weights_only=True), strict=True)
    x = torch.rand(5, 64)
    assert torch.equal(model(x), pruned.model(x))
    again = cli("prune", tmp_path / "p.prune.pt", "--model", spec, "--data", "digits:train", "--ratio", "0.7",
                "--max-samples", 200, "-o", tmp_path / "q.pt", "--json")
    assert again.exit_code == 0, again.stderr
    assert "outside the prunable set" not in again.stderr
    masks = load_model(tmp_path / "q.pt", spec).masks
    assert sorted(masks) == ["enc.weight", "head.weight"]
    assert not (masks["enc.weight"] & ~pruned.masks["enc.weight"]).any()  # nothing pruned came back
    assert json.loads(again.stdout)["ratio"]["achieved"] == math.ceil(0.7 * (64 * 64 + 640)) / (64 * 64 + 640)


def test_pruning_a_pruned_file_again_masks_its_pruned_weights_before_its_kept_zeros(cli, own_ckpt, tmp_path):
    """Weights the file keeps that are exactly zero (here the first four of ``0.weight``) tie
    at |w| = 0 with those its masks removed (the next 96), and ranked by position they were
    masked first: a ``--ratio`` at its sparsity masked them too (more than it had removed, and
    fine-tuning could no longer move them), where the guide says it removes nothing more."""
    given = load_model(own_ckpt)
    state = given.model.state_dict()
    held = torch.ones_like(state["0.weight"], dtype=torch.bool)
    held.view(-1)[4:100] = False
    state["0.weight"].view(-1)[:100] = 0.0  # 96 pruned, and before them 4 kept that are exactly zero
    source = tmp_path / "pruned.pt"
    save_checkpoint(source, given.spec, state, masks={"0.weight": held}, meta={"data": "digits:train"})
    n = state["0.weight"].numel() + state["2.weight"].numel()
    for scope, ratio in (("global", 96 / n), ("layer", 96 / state["0.weight"].numel())):
        result = cli("prune", source, "--ratio", ratio, "--scope", scope, "--max-samples", 200,
                     "-o", tmp_path / f"{scope}.pt")
        assert result.exit_code == 0, result.stderr
        assert torch.equal(load_model(tmp_path / f"{scope}.pt").masks["0.weight"], held), scope


def test_a_ratio_of_minus_zero_is_recorded_as_zero(cli, own_ckpt, tmp_path):
    """``--ratio=-0`` prunes nothing, and said so as a requested ratio of -0.0 in the JSON and
    the file's ``meta.pruned``."""
    result = cli("prune", own_ckpt, "--ratio=-0", "-o", tmp_path / "p.pt", "--json")
    assert result.exit_code == 0, result.stderr
    recorded = (json.loads(result.stdout)["ratio"]["requested"], load_model(tmp_path / "p.pt").meta["pruned"]["ratio"])
    assert [math.copysign(1.0, r) for r in recorded] == [1.0, 1.0]
