"""TorchScript and the cache key: code that the user's code holds as a value, not as a module
(a compiled function, a compilation unit, an exported method of a loaded archive), which keeps
its code and constants in TorchScript, where no attribute or bytecode the key reads shows them;
and archives that differ only in what cannot change a result (extra files, the order torch
writes a class's constants in)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

GATE = ("--min-ratio", "0.0", "--use", "predicted", "--json", "--data", "digits:train", "--max-samples", "300")

# the identity in value, its gradient scaled by {scale}: the first batch's loss (the entry's
# witness) is the same for every scale, so only the key can tell the scales apart
MIX_TS = "def mix(out):\n    return out.detach() * (1.0 - {scale}) + out * {scale}\n"

# a loss whose TorchScript is read from a file beside it when it is imported (import-time reads
# are not recorded): held as a compilation unit, as one of its functions, or as a method of an archive
LOSS_PY = {
    "unit": ("from pathlib import Path\nimport torch\nimport torch.nn.functional as F\n\n"
             "_UNIT = torch.jit.CompilationUnit((Path(__file__).parent / 'mix.ts').read_text())\n\n\n"
             "def loss(model, batch):\n    return F.cross_entropy(_UNIT.mix(model(batch[0])), batch[1])\n"),
    "function": ("from pathlib import Path\nimport torch\nimport torch.nn.functional as F\n\n"
                 "_MIX = torch.jit.CompilationUnit((Path(__file__).parent / 'mix.ts').read_text()).mix\n\n\n"
                 "def loss(model, batch):\n    return F.cross_entropy(_MIX(model(batch[0])), batch[1])\n"),
    "method": ("from pathlib import Path\nimport torch\nimport torch.nn.functional as F\n\n"
               "_MIX = torch.jit.load(Path(__file__).parent / 'mix.pt').mix\n\n\n"
               "def loss(model, batch):\n    return F.cross_entropy(_MIX(model(batch[0])), batch[1])\n"),
}


class _Mixer(torch.nn.Module):
    __constants__ = ["scale"]  # compiled in as a constant (Final under string annotations is not)

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, out):
        return out

    @torch.jit.export
    def mix(self, out):
        return out.detach() * (1.0 - self.scale) + out * self.scale


def _write_mix(folder: Path, scale: float) -> None:
    (folder / "mix.ts").write_text(MIX_TS.format(scale=scale))
    torch.jit.save(torch.jit.script(_Mixer(scale)), folder / "mix.pt")


def _gate(cli, ckpt, cache, loss, monkeypatch) -> dict:
    from prunelimit.specs import USER_MODULE_PREFIX

    for name in [name for name in sys.modules if name.startswith(USER_MODULE_PREFIX)]:
        monkeypatch.delitem(sys.modules, name)  # as a new process: the loss's file imported afresh
    result = cli("gate", ckpt, "--loss", f"{loss}:loss", *GATE, *(("--cache-dir", cache) if cache else ("--no-cache",)))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _prediction(doc: dict) -> dict:
    return doc["bounds"]["prediction"] | {"lower": doc["bounds"]["bounds"]["lower"]}


@pytest.mark.parametrize("held", sorted(LOSS_PY))
def test_torchscript_a_loss_holds_is_keyed_by_its_code(cli, small_ckpt, tmp_path, monkeypatch, held):
    """The TorchScript beside the loss file changes its gradient scale, the loss file does not:
    a compiled function, a compilation unit or a method of a loaded archive counted by its
    class's name alone, so gate served the old scale's spectrum from the cache."""
    loss, cache = tmp_path / "loss.py", tmp_path / "cache"
    loss.write_text(LOSS_PY[held])
    _write_mix(tmp_path, 1.0)
    first = _gate(cli, small_ckpt, cache, loss, monkeypatch)
    assert _gate(cli, small_ckpt, cache, loss, monkeypatch)["cache_hit"] is True  # nothing changed: a hit
    _write_mix(tmp_path, 3.0)
    second = _gate(cli, small_ckpt, cache, loss, monkeypatch)
    fresh = _gate(cli, small_ckpt, None, loss, monkeypatch)
    assert second["cache_hit"] is False
    assert _prediction(second) == _prediction(fresh) != _prediction(first)


def test_a_compiled_functions_default_and_callee_are_keyed():
    """A compiled function's archive holds the code it calls but not its defaults: each is keyed
    (by the archive and the signature), and the same source compiled again keeps the key."""
    import torch.nn.functional as F

    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key, split_key

    x = torch.randn(20, 64, generator=torch.Generator().manual_seed(0))
    data = (x, torch.arange(20) % 10)

    def digest(default: float, callee: float) -> str:
        unit = torch.jit.CompilationUnit(f"def g(out):\n    return out * {callee}\n\n"
                                         f"def mix(out, s: float = {default}):\n    return g(out) * s\n")
        mix = unit.mix

        def loss(output, target):  # a criterion, as the library takes one
            return F.cross_entropy(mix(output), target)

        torch.manual_seed(0)
        inputs = prunelimit.inputs_from(torch.nn.Sequential(torch.nn.Linear(64, 10)), data, loss=loss)
        return split_key(input_key(inputs, "spectrum", CurvatureOptions()))[0]

    assert digest(1.0, 2.0) == digest(1.0, 2.0)
    assert len({digest(1.0, 2.0), digest(2.0, 2.0), digest(1.0, 1.0)}) == 3


def test_a_torchscript_archive_saved_again_with_other_extra_files_is_a_hit(cli, small_model, tmp_path, monkeypatch):
    """A training script that saves its TorchScript with ``_extra_files`` (the epoch, the date)
    changes them on every save; TorchScript code cannot read them, so the same module saved
    again finds the entry (they were keyed by their bytes: a miss and a recomputation)."""
    from prunelimit.api import curvature as curvature_api

    ckpt, cache = tmp_path / "net.pt", tmp_path / "cache"
    scripted = torch.jit.script(small_model)
    torch.jit.save(scripted, ckpt, _extra_files={"meta.json": '{"epoch": 1}'})
    args = ("gate", ckpt, "--trust-pickle", *GATE, "--cache-dir", cache)
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    torch.jit.save(scripted, ckpt, _extra_files={"meta.json": '{"epoch": 2, "saved": "2026-12-05"}'})

    def forbidden(*args, **kwargs):
        raise AssertionError("the spectrum was recomputed")

    monkeypatch.setattr(curvature_api, "spectrum", forbidden)
    second = cli(*args)
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)["cache_hit"] is True
    assert _prediction(json.loads(second.stdout)) == _prediction(json.loads(first.stdout))


# scripts torch's layers (each class with its constants: in_features, eps, momentum...) and prints
# the raw code of BatchNorm1d's class in the archive, then the module's key part
_SCRIPT_IN_A_PROCESS = (
    "import hashlib, io, zipfile\nimport torch\nfrom prunelimit.cache import scripted_fingerprints\n"
    "torch.manual_seed(0)\nmodel = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(64, 4), "
    "torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 10)).eval())\nbuf = io.BytesIO()\ntorch.jit.save(model, buf)\n"
    "archive = zipfile.ZipFile(buf)\ncode = b''.join(archive.read(n) for n in sorted(archive.namelist()) "
    "if n.endswith('batchnorm.py'))\nprint(hashlib.sha256(code).hexdigest(), scripted_fingerprints(model)[0])\n")


def test_a_module_scripted_in_another_process_keeps_its_key():
    """torch writes a scripted class's constants (``in_features : Final[int] = 64``) in the
    order of a set of their names, which Python's hash salt reorders in every process: a
    ``--model`` factory returning ``torch.jit.script(model)`` (or a TorchScript file exported
    again by each CI job) had another key on every command, and the cache never hit."""
    import os
    import subprocess

    import prunelimit

    root = str(Path(prunelimit.__file__).parent.parent)
    runs = []
    for seed in ("1", "2"):  # two hash salts that order BatchNorm1d's constants differently
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", _SCRIPT_IN_A_PROCESS], env=env, capture_output=True, text=True,
                              check=True)
        runs.append(done.stdout.split())
    (raw_1, key_1), (raw_2, key_2) = runs
    assert raw_1 != raw_2  # the archives' code differs (else this test checks nothing)
    assert key_1 == key_2
