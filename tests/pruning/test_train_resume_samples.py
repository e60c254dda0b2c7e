"""``train --resume`` goes on with the samples its finished epochs trained on: another
``--max-samples`` (or none) went on in silence with other data under the one record, the
result neither run's."""

from __future__ import annotations

import pytest
import torch

from prunelimit import api
from prunelimit.models.load import load_model
from prunelimit.pruning.lomp import LompConfig

SPEC, DATA = "mlp:64,8,10", "digits:train"
CONFIG = LompConfig(epochs=3, lr=0.05, l1=1e-3, batch_size=128)


def _interrupted(path, max_samples):
    """A run of ``CONFIG`` on ``max_samples`` stopped at the first step of its second epoch."""
    def interrupt(step, total):
        if step == total // CONFIG.epochs + 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.train(SPEC, DATA, path, CONFIG, max_samples=max_samples, device="cpu", progress=interrupt)
    assert len(load_model(path).meta["train_state"]["history"]) == 1


@pytest.mark.parametrize("typed", [None, 300])
def test_resume_with_other_max_samples_is_refused_on_the_command_line(cli, tmp_path, typed):
    part = tmp_path / "part.pt"
    _interrupted(part, 256)
    before = part.read_bytes()
    result = cli("train", "--model", SPEC, "--data", DATA, "--lr", 0.05, "--l1", 1e-3, "--epochs", 3,
                 "-o", part, "--resume", *([] if typed is None else ["--max-samples", typed]))
    assert result.exit_code == 2, result.output
    said = "all samples (no --max-samples)" if typed is None else f"--max-samples {typed}"
    assert (f"was trained with --max-samples 256, not {said}; resume with --max-samples 256, or drop --resume"
            in " ".join(result.stderr.split()))
    assert part.read_bytes() == before  # nothing trained on the other data


def test_resume_with_the_same_max_samples_equals_the_uninterrupted_run(tmp_path):
    full, part = tmp_path / "full.pt", tmp_path / "part.pt"
    api.train(SPEC, DATA, full, CONFIG, max_samples=256, device="cpu")
    _interrupted(part, 256)
    api.train(SPEC, DATA, part, CONFIG, max_samples=256, device="cpu", resume=True)
    a, b = load_model(full).model.state_dict(), load_model(part).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_on_all_samples_refuses_a_resume_that_cuts_them(tmp_path):
    from prunelimit.errors import UsageError

    part = tmp_path / "part.pt"
    _interrupted(part, None)
    with pytest.raises(UsageError, match=r"trained with all samples \(no --max-samples\), not --max-samples 256; "
                                         "resume without --max-samples"):
        api.train(SPEC, DATA, part, CONFIG, max_samples=256, device="cpu", resume=True)


def test_a_damaged_recorded_sample_count_is_an_input_error(tmp_path):
    from prunelimit.errors import InputError
    from prunelimit.io.checkpoint import read_checkpoint, save_checkpoint

    part = tmp_path / "part.pt"
    _interrupted(part, 256)
    raw = read_checkpoint(part)
    meta = {**raw.meta, "train_state": {**raw.meta["train_state"], "max_samples": "256"}}
    save_checkpoint(part, raw.model_spec, raw.state_dict, meta=meta, force=True)
    with pytest.raises(InputError, match=r"part\.pt is damaged \(max_samples '256' is no sample count\)"):
        api.train(SPEC, DATA, part, CONFIG, max_samples=256, device="cpu", resume=True)
