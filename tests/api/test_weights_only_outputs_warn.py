"""imp from a TorchScript archive or a pickled module, and hyperflux from a pickled module,
wrote files of prunelimit's own format without an architecture (such a start records no
spec) and said nothing: ``bounds sweep/level_001.pt`` then failed with "holds only weights".
They now warn as ``prune`` does of a pickled module, naming the files and the way back."""

from __future__ import annotations

import json

import torch

WARNING = "holds the pruned weights and masks, not the architecture (it came from {} checkpoint {});"


def _warnings(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["warnings"]


def test_imp_from_a_torchscript_archive_warns_that_its_levels_hold_no_architecture(cli, tmp_path, tiny_model,
                                                                                    own_ckpt):
    archive = tmp_path / "ts.pt"
    torch.jit.save(torch.jit.script(tiny_model.eval()), str(archive))
    common = ("--levels", "1", "--epochs", "1", "--max-samples", "256", "--json")
    found = _warnings(cli("imp", archive, "--trust-pickle", "--data", "digits:train", "-o", tmp_path / "a", *common))
    assert any(w.startswith(f"each level in {tmp_path / 'a'} " + WARNING.format("torchscript", archive))
               for w in found), found
    # what it says: the level reads back only with --model
    r = cli("info", tmp_path / "a" / "level_001.pt")
    assert r.exit_code != 0 and "pass --model SPEC" in r.stderr
    # a prunelimit checkpoint records its spec: its levels read back, and nothing is said
    found = _warnings(cli("imp", own_ckpt, "-o", tmp_path / "b", *common))
    assert not any("not the architecture" in w for w in found), found
    assert cli("info", tmp_path / "b" / "level_001.pt").exit_code == 0


def test_hyperflux_from_a_pickled_module_warns_that_its_file_holds_no_architecture(cli, tmp_path, tiny_model):
    pickled = tmp_path / "module.pt"
    torch.save(tiny_model, pickled)
    out = tmp_path / "hf.pt"
    found = _warnings(cli("hyperflux", pickled, "--trust-pickle", "--data", "digits:train", "--max-samples", "256",
                          "--target-density", "0.5", "--pruning-epochs", "4", "--regrowth-epochs", "1",
                          "--gate-lr", "0.05", "--batch-size", "32", "-o", out, "--json"))
    assert any(w.startswith(f"{out} " + WARNING.format("module", pickled)) for w in found), found
