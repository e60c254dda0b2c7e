"""``prune --finetune-epochs`` and ``verify --refit`` fine-tune in batches of ``--batch-size``:
they cut 128 whatever it said, so a batch of one that BatchNorm refuses ("use a --batch-size
that leaves no batch of one") could not be fixed as the refusal said."""

from __future__ import annotations

import pytest
import torch

from prunelimit.models.load import load_model
from prunelimit.pruning.finetune import FinetuneConfig, finetune
from prunelimit.pruning.magnitude import prune_model

BN = ("import torch\nfrom torch import nn\ndef build():\n    torch.manual_seed(0)\n"
      "    return nn.Sequential(nn.Linear(64, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 10))\n")


@pytest.fixture()
def bn_checkpoint(tmp_path):
    (tmp_path / "bn.py").write_text(BN)
    spec = f"{tmp_path / 'bn.py'}:build"
    from prunelimit import api
    from prunelimit.pruning.lomp import LompConfig

    api.train(spec, "digits:train", tmp_path / "bn.pt", LompConfig(epochs=2, lr=0.05), device="cpu")
    return spec, tmp_path / "bn.pt"


# 129 samples: batches of 128 leave one sample, batches of 50 leave 29
@pytest.mark.parametrize("command", [
    ("prune", "--ratio", 0.5, "--finetune-epochs", 1, "-o", "{out}"),
    ("verify", "--refit", "--finetune-epochs", 1, "--sweep", 0),
])
def test_a_batch_size_that_leaves_no_batch_of_one_fine_tunes_a_batch_norm_model(cli, bn_checkpoint, tmp_path,
                                                                                  command):
    spec, ckpt = bn_checkpoint
    args = [str(a).format(out=tmp_path / "p.pt") for a in command]
    common = [ckpt, "--model", spec, "--max-samples", 129, "--threads", 1, "--quiet"]
    refused = cli(args[0], *common, *args[1:])
    assert refused.exit_code == 2 and "use a --batch-size that leaves no batch of one" in refused.stderr
    result = cli(args[0], *common, "--batch-size", 50, *args[1:])
    assert result.exit_code == 0, result.output


def test_prune_fine_tunes_in_batches_of_the_batch_size(cli, own_ckpt, tmp_path):
    """The file prune writes is the fine-tuning of its masks at --batch-size 16, bit for bit
    (the same seed, the same code path, one thread)."""
    out = tmp_path / "p.pt"
    result = cli("prune", own_ckpt, "--ratio", 0.8, "--finetune-epochs", 1, "--batch-size", 16, "--max-samples", 300,
                 "--seed", 3, "-o", out, "--threads", 1, "--quiet")
    assert result.exit_code == 0, result.output
    from prunelimit.inputs import load_inputs

    inputs = load_inputs(own_ckpt, batch_size=16, max_samples=300, device="cpu", data_from_checkpoint=True)
    masks = prune_model(inputs.model, 0.8).masks
    finetune(inputs.model, masks, inputs.batches, inputs.loss_fn, FinetuneConfig(epochs=1, batch_size=16, seed=3))
    written = load_model(out).model.state_dict()
    assert all(torch.equal(written[k], v) for k, v in inputs.model.state_dict().items())
