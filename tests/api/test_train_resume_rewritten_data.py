"""``train --resume`` refused another ``--data`` spec or ``--max-samples``, but a data file
rewritten under the same spec and sample count (new samples in ``tensors:train.pt``) went on in
silence: the finished epochs trained on one set, the rest on another, under one record."""

from __future__ import annotations

import pytest
import torch

from prunelimit import api
from prunelimit.errors import UsageError
from prunelimit.models.load import load_model
from prunelimit.pruning.lomp import LompConfig

CONFIG = LompConfig(epochs=3, lr=0.05, l1=1e-3, batch_size=32)


def _write(path, seed):
    g = torch.Generator().manual_seed(seed)
    torch.save({"x": torch.randn(96, 8, generator=g), "y": torch.randint(0, 3, (96,), generator=g)}, path)


def _interrupted(out, data):
    def interrupt(step, total):
        if step == total // CONFIG.epochs + 1:  # the first step of the second epoch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.train("mlp:8,6,3", data, out, CONFIG, device="cpu", progress=interrupt)
    assert len(load_model(out).meta["train_state"]["history"]) == 1


def test_resume_after_the_data_file_was_rewritten_is_refused(tmp_path):
    data_file, out = tmp_path / "train.pt", tmp_path / "run.pt"
    data = f"tensors:{data_file}"
    _write(data_file, 0)
    _interrupted(out, data)
    before = out.read_bytes()
    _write(data_file, 1)  # the same spec, shapes and count; other samples
    with pytest.raises(UsageError, match="was trained on other batches than --data gives now"):
        api.train("mlp:8,6,3", data, out, CONFIG, device="cpu", resume=True)
    assert out.read_bytes() == before  # nothing trained on the other data
    _write(data_file, 0)  # the data it began with: the run goes on to its end
    api.train("mlp:8,6,3", data, out, CONFIG, device="cpu", resume=True)
    assert len(load_model(out).meta["train_state"]["history"]) == CONFIG.epochs
