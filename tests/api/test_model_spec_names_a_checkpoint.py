"""A checkpoint given to ``--model`` (``train --model ts.pt``: train has no CHECKPOINT argument,
so a user with a TorchScript archive tries there) was read as a ``package.module`` spec and
answered ``bad model spec 'ts.pt': write ts.pt:factory[:k=v,...]``, whose fix then failed as
``could not import model module 'ts.pt'``. It now says the name is a checkpoint and where it
goes, and the fix it names for training one further runs on the archive."""

from __future__ import annotations

import torch

from tests.conftest import SPEC

CHECKPOINT_NOT_SPEC = "bad model spec '{}': that names a checkpoint, not an architecture"


def test_train_with_a_torchscript_archive_as_model_names_the_fix(cli, tmp_path, tiny_model):
    archive = tmp_path / "ts.pt"
    torch.jit.save(torch.jit.script(tiny_model.eval()), str(archive))
    r = cli("train", "--model", archive, "--data", "digits:train", "-o", tmp_path / "t.pt", "--epochs", "1")
    assert r.exit_code == 2 and CHECKPOINT_NOT_SPEC.format(archive) in r.stderr, r.output
    assert "prune CHECKPOINT --ratio 0 --finetune-epochs N" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "t.pt").exists()
    # the fix it names: the archive trained further, written back as TorchScript
    out = tmp_path / "ft.pt"
    r = cli("prune", archive, "--trust-pickle", "--data", "digits:train", "--max-samples", "256", "--ratio", "0",
            "--finetune-epochs", "1", "-o", out)
    assert r.exit_code == 0, r.output
    assert isinstance(torch.jit.load(str(out)), torch.jit.ScriptModule)


def test_a_checkpoint_name_as_model_beside_a_checkpoint(cli, own_ckpt, tmp_path):
    for name in (own_ckpt, "missing.safetensors"):  # an existing file, or a name with a checkpoint's extension
        r = cli("info", own_ckpt, "--model", name)
        assert r.exit_code == 2 and CHECKPOINT_NOT_SPEC.format(name) in r.stderr, r.output
    # a Python file without its factory is still asked for one
    code = tmp_path / "net.py"
    code.write_text(f"from prunelimit.models.spec import build_model\n\ndef make():\n    return build_model({SPEC!r})\n")
    r = cli("info", own_ckpt, "--model", code)
    assert r.exit_code == 2 and f"write {code}:factory" in r.stderr, r.output
