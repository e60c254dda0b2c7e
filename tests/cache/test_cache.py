"""The result cache is keyed by content and never trusts a damaged or foreign entry (issue 16)."""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import logging
import os
import stat
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import SMALL_SPEC, install_distribution, scaled_twice

GATE = ("--min-ratio", "0.0", "--use", "predicted", "--json")


def _doc(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _gate(cli, ckpt, cache, *args):
    return cli("gate", ckpt, "--cache-dir", cache, *GATE, *args)


def _prediction(doc: dict) -> dict:
    """What a verdict rests on (timing differs between runs and is left out)."""
    return doc["bounds"]["prediction"] | {"lower": doc["bounds"]["bounds"]["lower"]}


def _assert_recomputed(cli, ckpt, cache, first: dict, *args):
    """The gate after a change misses the cache and gives what an uncached run gives, not
    ``first``; the gate's result (its warnings)."""
    result = _gate(cli, ckpt, cache, *args)
    second = _doc(result)
    fresh = _doc(cli("gate", ckpt, "--no-cache", *GATE, *args))
    assert second["cache_hit"] is False
    assert _prediction(second) == _prediction(fresh) != _prediction(first)
    return result


def _write_data(path, seed: int, n: int = 240) -> None:
    gen = torch.Generator().manual_seed(seed)
    torch.save({"x": torch.randn(n, 64, generator=gen), "y": torch.randint(0, 10, (n,), generator=gen)}, path)


@pytest.fixture
def forbid_curvature(monkeypatch):
    """Make any spectrum computation fail the test: a cache hit must not do curvature work."""
    from prunelimit.api import curvature as curvature_api

    def forbidden(*args, **kwargs):
        raise AssertionError("the spectrum was recomputed")

    def install():
        monkeypatch.setattr(curvature_api, "spectrum", forbidden)

    return install


def test_rewritten_data_file_behind_same_spec_is_a_miss(cli, own_ckpt, tmp_path):
    data, cache = tmp_path / "d.pt", tmp_path / "cache"
    _write_data(data, 0)
    first = _doc(_gate(cli, own_ckpt, cache, "--data", f"tensors:{data}"))
    assert first["cache_hit"] is False
    _write_data(data, 1)
    _assert_recomputed(cli, own_ckpt, cache, first, "--data", f"tensors:{data}")


def test_hit_does_no_curvature_work(cli, own_ckpt, tmp_path, forbid_curvature):
    cache = tmp_path / "cache"
    first = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))
    forbid_curvature()
    second = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))
    assert second["cache_hit"] is True and _prediction(second) == _prediction(first)


MODEL_PY = "from torch import nn\n\ndef make():\n    return nn.Sequential(nn.Linear(64, 4), nn.{act}(), nn.Linear(4, 10))\n"
LOSS_PY = ("import torch.nn.functional as F\n\n"
           "def loss(model, batch):\n    return F.cross_entropy({scale} * model(batch[0]), batch[1])\n")


@pytest.mark.parametrize("flag, name, template, before, after", [
    ("--model", "make", MODEL_PY, dict(act="ReLU"), dict(act="Sigmoid")),
    ("--loss", "loss", LOSS_PY, dict(scale="1.0"), dict(scale="3.00")),
])
def test_edited_user_code_file_is_a_miss(cli, own_ckpt, tmp_path, flag, name, template, before, after):
    """The file's size changes too, so Python's bytecode cache cannot serve the old code."""
    code, cache = tmp_path / "user.py", tmp_path / "cache"
    args = (flag, f"{code}:{name}", "--max-samples", 300)
    code.write_text(template.format(**before))
    first = _doc(_gate(cli, own_ckpt, cache, *args))
    code.write_text(template.format(**after))
    second = _doc(_gate(cli, own_ckpt, cache, *args))
    assert second["cache_hit"] is False and _prediction(second) != _prediction(first)


HELPER_PY = "import torch\n\ndef act(x):\n    return torch.{act}(x)\n"
MODEL_WITH_HELPER_PY = ("from torch import nn\n\nimport {helper}\n\nclass Act(nn.Module):\n"
                        "    def forward(self, x):\n        return {helper}.act(x)\n\n"
                        "def make():\n    return nn.Sequential(nn.Linear(64, 4), Act(), nn.Linear(4, 10))\n")


def test_edited_helper_module_of_the_model_file_is_a_miss(cli, own_ckpt, tmp_path, monkeypatch):
    """The model file is unchanged; the module it imports (and its forward calls) is edited."""
    helper, code, cache = "plhelper_cache_test", tmp_path / "user.py", tmp_path / "cache"
    monkeypatch.syspath_prepend(str(tmp_path))
    code.write_text(MODEL_WITH_HELPER_PY.format(helper=helper))
    (tmp_path / f"{helper}.py").write_text(HELPER_PY.format(act="relu"))
    args = ("--model", f"{code}:make", "--max-samples", 300)
    first = _doc(_gate(cli, own_ckpt, cache, *args))
    (tmp_path / f"{helper}.py").write_text(HELPER_PY.format(act="sigmoid"))
    monkeypatch.delitem(sys.modules, helper)  # in-process: import the edited module afresh
    second = _doc(_gate(cli, own_ckpt, cache, *args))
    assert second["cache_hit"] is False and _prediction(second) != _prediction(first)


# a loss that names its own file in a message (reads ``__file__``, the absolute path of the file)
LOSS_NAMING_ITS_FILE_PY = ("import torch.nn.functional as F\n\n"
                           "def loss(model, batch):\n    if not len(batch[0]):\n"
                           "        raise ValueError(f'{{__file__}}: an empty batch')\n"
                           "    return {scale} * F.cross_entropy(model(batch[0]), batch[1])\n")


def _project(root: Path, state: dict, helper: str) -> None:
    """A user's checkout: a model file importing a helper module, a loss file, data and a checkpoint."""
    root.mkdir()
    (root / "model.py").write_text(MODEL_WITH_HELPER_PY.format(helper=helper))
    (root / f"{helper}.py").write_text(HELPER_PY.format(act="relu"))
    (root / "loss.py").write_text(LOSS_NAMING_ITS_FILE_PY.format(scale="1.0"))
    _write_data(root / "data.pt", 0)
    torch.save(state, root / "ckpt.pt")


def _in_checkout(root: Path, paths: str, monkeypatch, helper: str) -> tuple:
    """The command line's inputs for the checkout at ``root`` as typed from inside it (``relative``)
    or anywhere (``absolute``); its modules imported from there afresh, as by a new CI job's process."""
    from prunelimit.specs import USER_MODULE_PREFIX

    monkeypatch.syspath_prepend(str(root))
    for name in [helper, *(name for name in sys.modules if name.startswith(USER_MODULE_PREFIX))]:
        monkeypatch.delitem(sys.modules, name, raising=False)
    base = "" if paths == "relative" else f"{root}/"
    if paths == "relative":
        monkeypatch.chdir(root)
    return (f"{base}ckpt.pt", "--model", f"{base}model.py:make", "--loss", f"{base}loss.py:loss",
            "--data", f"tensors:{base}data.pt", "--cache-dir", f"{base}cache")


def test_the_console_script_and_python_m_prunelimit_key_alike(monkeypatch):
    """``prunelimit bounds`` runs the installed console script as the process's ``__main__``,
    ``python -m prunelimit bounds`` prunelimit's own ``__main__.py``: the script's file was
    keyed as the user's code, so an entry stored one way was never read the other way (a
    README's ``prunelimit bounds``, then a CI file's ``python -m prunelimit gate``)."""
    import sysconfig
    import types

    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    launcher = Path(sysconfig.get_paths()["scripts"]) / "prunelimit"
    if not launcher.is_file():
        pytest.skip("prunelimit is installed without its console script")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
    inputs = prunelimit.inputs_from(model, (torch.randn(20, 64), torch.randint(0, 10, (20,))))

    def key(main_file: Path) -> str:
        main = types.ModuleType("__main__")
        main.__file__ = str(main_file)
        monkeypatch.setitem(sys.modules, "__main__", main)
        return input_key(inputs, "spectrum", CurvatureOptions())

    assert key(launcher) == key(Path(prunelimit.__file__).parent / "__main__.py")


@pytest.mark.parametrize("paths", ["relative", "absolute"])
def test_a_moved_checkout_reads_the_entries_it_stored(cli, tiny_model, tmp_path, monkeypatch, forbid_curvature,
                                                      paths):
    """A CI runner's workspace moves between jobs (a new build folder, a fresh clone): with the
    same files, data, checkpoint and cache, a gate there spends no HVPs and accepts the baseline
    stored in the old place. The key named user code by its folder (the files, the module a
    ``file.py`` is imported as, the ``__file__`` the loss reads), so every job missed.
    An edited file in the moved copy is still a miss."""
    import shutil

    helper = "plhelper_moved_checkout"
    _project(tmp_path / "a", tiny_model.state_dict(), helper)
    first = _doc(cli("bounds", *_in_checkout(tmp_path / "a", paths, monkeypatch, helper), "--json"))
    assert first["timing"]["cached"] is False
    (tmp_path / "a" / "baseline.json").write_text(json.dumps(first))
    shutil.copytree(tmp_path / "a", tmp_path / "edited")
    (tmp_path / "edited" / "loss.py").write_text(LOSS_NAMING_ITS_FILE_PY.format(scale="3.00"))
    edited = _doc(cli("bounds", *_in_checkout(tmp_path / "edited", paths, monkeypatch, helper), "--json"))
    assert edited["timing"]["cached"] is False and edited["timing"]["hvps"] > 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    args = _in_checkout(tmp_path / "b", paths, monkeypatch, helper)
    forbid_curvature()
    gate = _doc(cli("gate", *args, "--baseline", f"{tmp_path / 'b' / 'baseline.json'}", "--max-drop", "0.01",
                    "--use", "predicted", "--json"))
    assert gate["cache_hit"] is True and gate["bounds"]["timing"]["hvps"] == 0 and gate["passed"] is True
    assert gate["bounds"]["prediction"] == first["prediction"]
    again = _doc(cli("bounds", *args, "--json"))
    assert again["timing"]["hvps"] == 0 and _without_timing(again) == _without_timing(first)


MODEL_READING_FILE_PY = ("import pathlib\n\nimport torch\nfrom torch import nn\n\n\nclass Scaled(nn.Sequential):\n"
                         "    def forward(self, x):\n        return super().forward(x * self.scale)\n\n\n"
                         "def make():\n    model = Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n"
                         "    scale = float((pathlib.Path(__file__).parent / 'scale.txt').read_text())\n"
                         "    model.register_buffer('scale', torch.tensor(scale), persistent=False)\n"
                         "    return model\n")


def test_changed_non_persistent_buffer_is_a_miss(cli, own_ckpt, tmp_path):
    """Code and checkpoint unchanged; the factory reads a constant from a file of its own into a
    buffer the state dict leaves out (it served the old spectrum beside the new loss)."""
    code, cache = tmp_path / "user.py", tmp_path / "cache"
    code.write_text(MODEL_READING_FILE_PY)
    args = ("--model", f"{code}:make", "--max-samples", 300)
    (tmp_path / "scale.txt").write_text("1.0")
    first = _doc(_gate(cli, own_ckpt, cache, *args))
    (tmp_path / "scale.txt").write_text("3.0")
    _assert_recomputed(cli, own_ckpt, cache, first, *args)


class _ReluNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(64, 4), torch.nn.Linear(4, 10)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class _SigmoidNet(_ReluNet):
    def forward(self, x):
        return self.b(torch.sigmoid(self.a(x)))


def test_torchscript_code_changed_with_the_same_weights_is_a_miss(cli, tmp_path):
    """The outside review's case: the archive's code changes, its weights do not."""
    ckpt, cache = tmp_path / "net.pt", tmp_path / "cache"
    args = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)
    torch.manual_seed(0)
    relu = _ReluNet()
    torch.jit.save(torch.jit.script(relu), ckpt)
    first = _doc(_gate(cli, ckpt, cache, *args))
    sigmoid = _SigmoidNet()
    sigmoid.load_state_dict(relu.state_dict())
    torch.jit.save(torch.jit.script(sigmoid), ckpt)
    _assert_recomputed(cli, ckpt, cache, first, *args)


def test_torchscript_classes_numbered_for_other_modules_are_a_miss(cli, tmp_path):
    """Two variants of one class in one archive: with TorchScript's numbering left out of the
    key, which module ran which variant was lost with it. The archive with the gradient scales
    swapped, saved by a process that had scripted a module of the second scale before (so the
    first module's class is the numbered one), read the other's spectrum (gate: ρ* 95.09 %
    cached vs 93.70 % fresh); the first batch's loss, the entry's witness, is the same for both."""
    import re
    import zipfile

    one, two = scaled_twice(tmp_path)
    members = [sorted(re.sub(r"[./]___torch_mangle_\d+", "", name.split("/", 1)[1])
                      for name in zipfile.ZipFile(path).namelist()) for path in (one, two)]
    assert members[0] == members[1]  # the same files, the numbering left out (else their code differs)
    ckpt, cache = tmp_path / "net.pt", tmp_path / "cache"
    args = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)
    ckpt.write_bytes(one.read_bytes())
    first = _doc(_gate(cli, ckpt, cache, *args))
    ckpt.write_bytes(two.read_bytes())
    result = _assert_recomputed(cli, ckpt, cache, first, *args)
    assert "ignoring cache entry" not in result.stderr  # a miss of the key, not of the witness


# a trace whose gradient, not its loss, follows a scale the factory reads from the environment:
# the loss of the first batch (the entry's witness) is the same for every scale
TRACED_GRADIENT_SCALE_PY = (
    "import os\nimport torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self, scale):\n"
    "        super().__init__()\n        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)\n"
    "        self.scale = scale\n\n    def forward(self, x):\n        h = torch.relu(self.a(x))\n"
    "        return self.b(h.detach() * (1 - self.scale) + h * self.scale)\n\n\n"
    "def make():\n    return torch.jit.trace(Net(float(os.environ['PL_TRACE_SCALE'])), torch.zeros(2, 64))\n")


def test_a_trace_a_factory_builds_for_a_torchscript_checkpoint_is_keyed_by_its_own_code(cli, tmp_path, monkeypatch):
    """A TorchScript checkpoint read with --model: the factory's trace, not the archive, is the
    model. The key skipped the trace's code as if the archive were the model, so gate served
    the spectrum of another scale baked into the trace (0.804 cached vs 0.734 fresh)."""
    code, ckpt, cache = tmp_path / "traced.py", tmp_path / "net.pt", tmp_path / "cache"
    code.write_text(TRACED_GRADIENT_SCALE_PY)
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(_ReluNet()), ckpt)  # the same tensor names as the factory's Net
    args = ("--trust-pickle", "--model", f"{code}:make", "--data", "digits:train", "--max-samples", 300)
    monkeypatch.setenv("PL_TRACE_SCALE", "1")
    first = _doc(_gate(cli, ckpt, cache, *args))
    monkeypatch.setenv("PL_TRACE_SCALE", "3")
    result = _assert_recomputed(cli, ckpt, cache, first, *args)
    assert "ignoring cache entry" not in result.stderr  # a miss of the key, not of the witness


PICKLED_CLASS_PY = ("import torch\nfrom torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                    "        super().__init__()\n        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)\n\n"
                    "    def forward(self, x):\n        return self.b(torch.{act}(self.a(x)))\n")


def test_pickled_module_whose_class_changed_is_a_miss(cli, tmp_path, monkeypatch):
    """--trust-pickle: the file holds the weights and the class's name; the class's code is
    read from its module, which changed."""
    import importlib

    name, ckpt, cache = "plnet_cache_test", tmp_path / "net.pt", tmp_path / "cache"
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"{name}.py").write_text(PICKLED_CLASS_PY.format(act="relu"))
    torch.manual_seed(0)
    torch.save(importlib.import_module(name).Net(), ckpt)
    args = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)
    first = _doc(_gate(cli, ckpt, cache, *args))
    (tmp_path / f"{name}.py").write_text(PICKLED_CLASS_PY.format(act="sigmoid"))
    monkeypatch.delitem(sys.modules, name)  # in-process: import the edited module afresh
    _assert_recomputed(cli, ckpt, cache, first, *args)


def _save_code(kind: str, module: torch.nn.Module, path: Path, how: str) -> None:
    """``module`` as a TorchScript archive or a pickled module at ``path``: saved there, saved
    under another name and renamed (an atomic save), or loaded from such a file and saved again."""
    save = torch.jit.save if kind == "torchscript" else torch.save
    load = torch.jit.load if kind == "torchscript" else (lambda f: torch.load(f, weights_only=False))
    if how == "saved":
        save(torch.jit.script(module) if kind == "torchscript" else module, path)
        return
    other = path.with_name(f".tmp-{how}-{path.name}")
    _save_code(kind, module, other, "saved")
    if how == "loaded-and-saved":
        save(load(other), path)
        other.unlink()
    else:
        other.replace(path)


@pytest.mark.parametrize("kind", ["torchscript", "module"])
@pytest.mark.parametrize("how", ["saved", "renamed", "loaded-and-saved"])
def test_the_same_code_holding_checkpoint_saved_again_is_a_hit(cli, tmp_path, forbid_curvature, kind, how):
    """A TorchScript archive or pickled module keyed by its bytes missed on every save of the
    same module: torch names the archive's inner folder after the file it saves to, gives each
    save a random id, and a re-save after loading numbers its pickle's memo and source ranges
    anew. Keyed by its members' contents, the same module saved again reads the entry."""
    ckpt, cache = tmp_path / "net.pt", tmp_path / "cache"
    args = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)
    torch.manual_seed(0)
    net = _ReluNet()
    _save_code(kind, net, ckpt, "saved")
    first = _doc(_gate(cli, ckpt, cache, *args))
    _save_code(kind, net, ckpt, how)
    forbid_curvature()
    second = _doc(_gate(cli, ckpt, cache, *args))
    assert second["cache_hit"] is True and _prediction(second) == _prediction(first)


def _resave(path, kind: str, state: dict, note: str) -> None:
    """``state`` saved to ``path`` as ``kind``, with ``note`` in what the file keeps beside the weights."""
    from safetensors.torch import save_file

    from prunelimit.io.checkpoint import save_checkpoint

    if kind == "prunelimit":
        save_checkpoint(path, SMALL_SPEC, state, meta={"data": "digits:train", "note": note}, force=True)
    elif kind == "nested":
        torch.save({"model_state_dict": state, "epoch": note, "optimizer": {"lr": torch.tensor(float(len(note)))}},
                   path)
    elif kind == "record-of-module":  # a training record holding the whole module, read with --trust-pickle
        torch.save({"model": state, "epoch": note, "optimizer": {"lr": torch.tensor(float(len(note)))}}, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"saved_at": note})


@pytest.mark.parametrize("kind", ["prunelimit", "nested", "safetensors", "record-of-module"])
def test_resaved_checkpoint_with_the_same_weights_is_a_hit(cli, tiny_model, tmp_path, kind, forbid_curvature):
    """What a file keeps beside the weights it loads (a timestamp, an epoch, optimizer state)
    leaves the answer as it was: a re-save of the same weights finds the entry again (it
    missed on the file's bytes, so a CI job that re-saves its model each run never hit; a
    record holding the pickled module still did, keyed by all of the file's members)."""
    ckpt, cache = tmp_path / f"net.{'safetensors' if kind == 'safetensors' else 'pt'}", tmp_path / "cache"
    module = kind == "record-of-module"
    saved = tiny_model if module else tiny_model.state_dict()
    args = ("--trust-pickle",) if module else ("--model", SMALL_SPEC)
    args += ("--data", "digits:train", "--max-samples", 300)
    _resave(ckpt, kind, saved, "monday")
    first = _doc(_gate(cli, ckpt, cache, *args))
    _resave(ckpt, kind, saved, "tuesday, later")
    forbid_curvature()
    second = _doc(_gate(cli, ckpt, cache, *args))
    assert second["cache_hit"] is True and _prediction(second) == _prediction(first)


def test_a_parameter_frozen_in_a_record_of_a_module_is_another_spectrum(cli, tiny_model, tmp_path):
    """A record holding the pickled module is keyed by the module as loaded, not the file's
    bytes: a parameter saved frozen (requires_grad False, which the state dict leaves out)
    leaves the Hessian without it, so the record saved again with it trainable computes its
    own spectrum, without reading (and warning about) the frozen one's."""
    ckpt, cache = tmp_path / "net.pt", tmp_path / "cache"
    args = ("--trust-pickle", "--data", "digits:train", "--max-samples", 300)
    tiny_model[2].bias.requires_grad_(False)
    _resave(ckpt, "record-of-module", tiny_model, "monday")
    frozen = _doc(_gate(cli, ckpt, cache, *args))
    tiny_model[2].bias.requires_grad_(True)
    _resave(ckpt, "record-of-module", tiny_model, "monday")
    result = _gate(cli, ckpt, cache, *args)
    trainable = _doc(result)
    assert trainable["cache_hit"] is False and "ignoring cache entry" not in result.stderr
    assert trainable["bounds"]["params"]["hessian"] == frozen["bounds"]["params"]["hessian"] + 10


# Code and checkpoint unchanged; the factory or its module reads a value from a data file of
# its own into something that is no tensor of the model (all three served the old spectrum).
READS_SCALE = "import functools\nimport pathlib\n\nfrom torch import nn\n\n" \
    "SCALE_FILE = pathlib.Path(__file__).parent / 'scale.txt'\n"
VALUE_FROM_FILE = {
    "plain-attribute": READS_SCALE + (
        "\n\nclass Scaled(nn.Sequential):\n    def forward(self, x):\n        return super().forward(x * self.scale)\n"
        "\n\ndef make():\n    model = Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n"
        "    model.scale = float(SCALE_FILE.read_text())\n    return model\n"),
    "module-global": READS_SCALE + (
        "SCALE = float(SCALE_FILE.read_text())\n"
        "\n\nclass Scaled(nn.Sequential):\n    def forward(self, x):\n        return super().forward(x * SCALE)\n"
        "\n\ndef make():\n    return Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n"),
    "hook-argument": READS_SCALE + (
        "\n\ndef scale_input(scale, module, args):\n    return (args[0] * scale,)\n"
        "\n\ndef make():\n    model = nn.Sequential(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n"
        "    model.register_forward_pre_hook(functools.partial(scale_input, float(SCALE_FILE.read_text())))\n"
        "    return model\n"),
}


@pytest.mark.parametrize("case", VALUE_FROM_FILE)
def test_value_read_from_a_data_file_is_a_miss(cli, own_ckpt, tmp_path, case):
    code, cache = tmp_path / "user.py", tmp_path / "cache"
    code.write_text(VALUE_FROM_FILE[case])
    args = ("--model", f"{code}:make", "--max-samples", 300)
    (tmp_path / "scale.txt").write_text("1.0")
    first = _doc(_gate(cli, own_ckpt, cache, *args))
    assert _doc(_gate(cli, own_ckpt, cache, *args))["cache_hit"] is True  # unchanged: found again
    (tmp_path / "scale.txt").write_text("3.0")
    _assert_recomputed(cli, own_ckpt, cache, first, *args)


# The forward reads a value of another module of the user's (``cfg.SCALE``), which that
# module reads from a data file at import: neither code file changes (both served the old spectrum).
CONFIG_PY = "import pathlib\n\nSCALE = float((pathlib.Path(__file__).parent / 'scale.txt').read_text())\n"
READS_CONFIG = {
    "module-attribute": "import {cfg}\n", "local-import": "",
}
MODEL_READING_CONFIG_PY = ("{head}from torch import nn\n\n\nclass Scaled(nn.Sequential):\n"
                           "    def forward(self, x):\n        {local}return super().forward(x * {cfg}.SCALE)\n\n\n"
                           "def make():\n    return Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n")


@pytest.mark.parametrize("case", READS_CONFIG)
def test_value_another_user_module_reads_from_a_file_is_a_miss(cli, own_ckpt, tmp_path, monkeypatch, case):
    cfg, code, cache = f"plconfig_cache_test_{case.replace('-', '_')}", tmp_path / "user.py", tmp_path / "cache"
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"{cfg}.py").write_text(CONFIG_PY)
    local = "" if READS_CONFIG[case] else f"import {cfg}\n        "
    code.write_text(MODEL_READING_CONFIG_PY.format(head=READS_CONFIG[case].format(cfg=cfg), local=local, cfg=cfg))
    args = ("--model", f"{code}:make", "--max-samples", 300)
    (tmp_path / "scale.txt").write_text("1.0")
    first = _doc(_gate(cli, own_ckpt, cache, *args))
    assert _doc(_gate(cli, own_ckpt, cache, *args))["cache_hit"] is True  # unchanged: found again
    (tmp_path / "scale.txt").write_text("3.0")
    monkeypatch.delitem(sys.modules, cfg)  # in-process: import it afresh, as a new run does
    _assert_recomputed(cli, own_ckpt, cache, first, *args)


UNREADABLE_ATTRIBUTE_PY = ("from torch import nn\n\nclass Opaque:\n    def __getattribute__(self, name):\n"
                           "        if name == '__dict__':\n            raise RuntimeError('not readable')\n"
                           "        return object.__getattribute__(self, name)\n\n"
                           "def make():\n    model = nn.Sequential(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n"
                           "    model.opaque = Opaque()\n    return model\n")


def test_attribute_the_key_cannot_read_runs_uncached(cli, own_ckpt, tmp_path):
    """An object whose reading raises: the spectrum is computed and never stored, with one
    warning, not a traceback (the key could not say whether it changed)."""
    code, cache = tmp_path / "user.py", tmp_path / "cache"
    code.write_text(UNREADABLE_ATTRIBUTE_PY)
    for _ in range(2):
        result = _gate(cli, own_ckpt, cache, "--model", f"{code}:make", "--max-samples", 300)
        assert _doc(result)["cache_hit"] is False and "Traceback" not in result.stderr
        assert "spectrum not cached (an attribute of the model or the loss cannot be read" in result.stderr
        assert result.stderr.count("not cached") == 1  # not one for each key the lookup tries
    assert not list(cache.iterdir())


class _Settings:
    def __init__(self, scale):
        self.nested = {"scale": [scale]}


ATTRIBUTE_VALUES = {
    "float": lambda v: v, "tensor": lambda v: torch.tensor([v]), "array": lambda v: np.array([v]),
    "list": lambda v: [1, v], "dict": lambda v: {"scale": v}, "set": lambda v: {v, "x"},
    "object": _Settings, "decimal": lambda v: decimal.Decimal(str(v)),
    "date": lambda v: datetime.date(2000 + int(v), 1, 1),
    # a builtin method bound to a value computes with that value: it was keyed by its name alone
    "bound-builtin": lambda v: torch.tensor([v]).mul, "method-wrapper": lambda v: v.__mul__,
}


@pytest.mark.parametrize("kind", ATTRIBUTE_VALUES)
def test_plain_attribute_values_are_in_the_key(kind):
    """Any kind of value a module keeps besides its tensors: another value, another key; an
    equal value (a fresh object), the same key."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
    data = (torch.randn(20, 64), torch.randint(0, 10, (20,)))

    def key(value):
        model[0].setting = ATTRIBUTE_VALUES[kind](value)
        return input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions())

    assert key(1.0) == key(1.0) != key(3.0)


class _ShowsItsSetting(torch.nn.Module):
    """A module whose repr shows a value it holds, address and all (``setting=<... object at 0x7f…>``)."""

    def __init__(self, setting):
        super().__init__()
        self.setting = setting

    def forward(self, x):
        return x * self.setting.nested["scale"][0]

    def extra_repr(self):
        return f"setting={self.setting}"


def test_an_address_a_modules_repr_shows_is_not_in_the_key():
    """The key held the model's repr, in which a module showing a function or object it holds
    (``Act(fn=<function relu at 0x7f…>)``) showed its address: another in every process, so
    such a model recomputed its spectrum on every command. An equal value elsewhere keeps the
    key (both kept alive, so at two addresses); another value is another key."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    torch.manual_seed(0)
    data = (torch.randn(20, 64), torch.randint(0, 10, (20,)))
    settings = [_Settings(2.0), _Settings(2.0), _Settings(3.0)]

    def key(setting):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 4), _ShowsItsSetting(setting), torch.nn.Linear(4, 10))
        return input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions())

    assert " at 0x" in repr(_ShowsItsSetting(settings[0]))
    assert key(settings[0]) == key(settings[1]) != key(settings[2])


# what a model's module-level code reads that stands for the whole process (test_process_wide...)
_LOG = logging.getLogger("tests.cache.scaled")
_ENVIRON = os.environ  # as ``from os import environ`` binds it


class _LoggedScaled(torch.nn.Sequential):
    def forward(self, x):
        _LOG.debug("scale %s", _ENVIRON.get("PL_CACHE_TEST_SCALE", "1"))
        return super().forward(x * float(_ENVIRON.get("PL_CACHE_TEST_SCALE", "1")))


def test_process_wide_objects_the_model_reads_count_by_name(monkeypatch):
    """A forward reading a module-level logger or ``from os import environ`` keyed every field
    they hold: the logging manager's list of every logger the process had made (in the order
    it made them: another in each process, so the cache never hit) and every environment
    variable (any change, a CI job's run id, missed). They count by name now; the variable
    the code names still counts by its value."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    monkeypatch.delenv("PL_CACHE_TEST_SCALE", raising=False)
    torch.manual_seed(0)
    model = _LoggedScaled(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
    inputs = prunelimit.inputs_from(model, (torch.randn(20, 64), torch.randint(0, 10, (20,))))

    def key():
        return input_key(inputs, "spectrum", CurvatureOptions())

    first = key()
    logging.getLogger("tests.cache.made.later")  # a logger made elsewhere in the process
    monkeypatch.setenv("PL_CACHE_TEST_UNRELATED", "run 2")
    assert key() == first
    monkeypatch.setenv("PL_CACHE_TEST_SCALE", "2")
    assert key() != first


def _smoothed_closure(s):
    import torch.nn.functional as F

    return lambda out, y: F.cross_entropy(out, y, label_smoothing=s)


def _smoothed_partial(s):
    import functools

    import torch.nn.functional as F

    return functools.partial(F.cross_entropy, label_smoothing=s)


@pytest.mark.parametrize("criterion", [_smoothed_closure, _smoothed_partial,
                                       lambda s: torch.nn.CrossEntropyLoss(label_smoothing=s)],
                         ids=["closure", "partial", "module"])
def test_library_criterion_settings_are_in_the_key(tmp_path, criterion):
    """A library criterion entered the key by its wrapper's class name alone: every criterion
    (a closure's value, a partial's keyword, a loss module's setting) read one entry."""
    import prunelimit
    from prunelimit import api
    from prunelimit.cache import open_store
    from prunelimit.data.spec import load_dataset

    train = load_dataset("digits:train", max_samples=300)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
    store, options = open_store(tmp_path / "cache", True), api.CurvatureOptions(method="exact")

    def bounds(s, store):
        return api.bounds(prunelimit.inputs_from(model, (train.x, train.y), loss=criterion(s)), options, store=store)

    first = bounds(0.0, store)
    assert bounds(0.0, store).spectrum.cached is True  # the same settings: found again
    second, fresh = bounds(0.5, store), bounds(0.5, None)
    assert second.spectrum.cached is False
    # same inputs and plan computed twice: only the summation order may differ (1e-9 is far
    # below the 1e-2 that the smoothing moves the limit by)
    assert second.prediction.ratio == pytest.approx(fresh.prediction.ratio, rel=1e-9)
    assert abs(second.prediction.ratio - first.prediction.ratio) > 1e-3


def _set_matmul_precision(value):
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(value)
    return lambda: torch.set_float32_matmul_precision(old)


def _set_cudnn_tf32(value):
    old = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = value
    return lambda: setattr(torch.backends.cudnn, "allow_tf32", old)


def _set_tf32_override(value):
    old = os.environ.get("NVIDIA_TF32_OVERRIDE")
    os.environ["NVIDIA_TF32_OVERRIDE"] = value
    return lambda: os.environ.pop("NVIDIA_TF32_OVERRIDE") if old is None else os.environ.update(NVIDIA_TF32_OVERRIDE=old)


def _set_fp32_precision(owner, value):
    """torch 2.9's per-backend setting (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``)."""
    owner = functools.reduce(getattr, owner.split("."), torch.backends)
    if not hasattr(owner, "fp32_precision"):
        pytest.skip("this torch has no per-backend fp32_precision (torch < 2.9)")
    old = owner.fp32_precision
    owner.fp32_precision = value
    return lambda: setattr(owner, "fp32_precision", old)


def _set_half_matmul(name, value):
    """A ``torch.backends.cuda.matmul`` switch of float16/bfloat16 products."""
    matmul = torch.backends.cuda.matmul
    try:
        old = getattr(matmul, name)
    except AttributeError:
        pytest.skip(f"this torch has no torch.backends.cuda.matmul.{name}")
    setattr(matmul, name, value)
    return lambda: setattr(matmul, name, old)


@pytest.mark.parametrize("setting", [lambda: _set_matmul_precision("medium"), lambda: _set_cudnn_tf32(False),
                                     lambda: _set_tf32_override("0"), lambda: _set_fp32_precision("cuda.matmul", "tf32"),
                                     lambda: _set_fp32_precision("mkldnn.matmul", "bf16"),
                                     lambda: _set_fp32_precision("cudnn.conv", "ieee"),
                                     lambda: _set_half_matmul("allow_fp16_reduced_precision_reduction", False),
                                     lambda: _set_half_matmul("allow_bf16_reduced_precision_reduction", False),
                                     lambda: _set_half_matmul("allow_fp16_accumulation", True)],
                         ids=["matmul-precision", "cudnn-tf32", "tf32-override-variable", "cuda-matmul-fp32-precision",
                              "mkldnn-matmul-fp32-precision", "cudnn-conv-fp32-precision", "fp16-reduced-reduction",
                              "bf16-reduced-reduction", "fp16-accumulation"])
def test_float_precision_settings_are_in_the_key(own_ckpt, setting):
    """torch's process-wide TF32/bfloat16 switches change float32 products on a GPU by about
    1e-3; a library caller who flips one must not read the spectrum computed without it. CUDA's
    ``NVIDIA_TF32_OVERRIDE=0`` turns TF32 off beneath them (it was not in the key). torch 2.9's
    per-backend settings (bfloat16 products on a CPU with ``mkldnn.matmul``) count too: set, they
    made the legacy getters the key read raise (a mix of the two APIs), a RuntimeError (exit 5);
    so do the switches that let a GPU's float16/bfloat16 products sum in reduced precision."""
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key
    from prunelimit.inputs import load_inputs

    inputs = load_inputs(own_ckpt, data="digits:train", max_samples=50)
    before = input_key(inputs, "spectrum", CurvatureOptions())
    restore = setting()
    try:
        after = input_key(inputs, "spectrum", CurvatureOptions())
    finally:
        restore()
    assert after != before == input_key(inputs, "spectrum", CurvatureOptions())


def _scale_input(scale, module, args):
    return (args[0] * scale,)


def test_global_module_hooks_are_in_the_key(own_ckpt):
    """A hook torch runs around every module changes every output as a module's own does."""
    import functools

    from torch.nn.modules.module import register_module_forward_pre_hook

    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key
    from prunelimit.inputs import load_inputs

    inputs = load_inputs(own_ckpt, data="digits:train", max_samples=50)
    keys = [input_key(inputs, "spectrum", CurvatureOptions())]
    for scale in (2.0, 3.0):
        handle = register_module_forward_pre_hook(functools.partial(_scale_input, scale))
        try:
            keys.append(input_key(inputs, "spectrum", CurvatureOptions()))
        finally:
            handle.remove()
    assert len(set(keys)) == 3 and input_key(inputs, "spectrum", CurvatureOptions()) == keys[0]


KEYED_MODEL_PY = ("import functools\n\nfrom torch import nn\nfrom torch.nn.utils import weight_norm\n\n"
                  "def scale_input(scale, module, args):\n    return (args[0] * scale,)\n\n"
                  "def make():\n    model = nn.Sequential(weight_norm(nn.Linear(64, 4)), nn.ReLU(), nn.Linear(4, 10))\n"
                  "    model.tags = {'a', 'b', 'c', 'd'}\n    model.settings = {'s': frozenset({1.5, 'x'})}\n"
                  "    model.register_forward_pre_hook(functools.partial(scale_input, 2.0))\n    return model\n")


def test_key_is_the_same_in_every_process(tmp_path):
    """The key of objects (sets, hooks, a weight_norm hook object, a loss function) depends on
    no address or hash salt: a second command finds the first one's entry."""
    import subprocess

    from prunelimit.specs import resolve_callable

    (tmp_path / "user.py").write_text(KEYED_MODEL_PY)
    ckpt = tmp_path / "wn.pt"
    with pytest.warns(FutureWarning):  # torch's notice that this weight_norm (a hook object) is deprecated
        torch.save(resolve_callable(str(tmp_path / "user.py"), "make", "model")().state_dict(), ckpt)
    (tmp_path / "loss.py").write_text("import torch.nn.functional as F\n\nSMOOTH = 0.1\n\n"
                                      "def fn(model, batch):\n"
                                      "    return F.cross_entropy(model(batch[0]), batch[1], label_smoothing=SMOOTH)\n")
    code = ("import sys, warnings; warnings.simplefilter('ignore')\n"
            "from prunelimit.api import CurvatureOptions; from prunelimit.cache import input_key\n"
            "from prunelimit.inputs import load_inputs\n"
            "inputs = load_inputs(sys.argv[1], model=sys.argv[2], data='digits:train', loss=sys.argv[3], max_samples=50)\n"
            "print(input_key(inputs, 'spectrum', CurvatureOptions()))\n")
    keys = {subprocess.run([sys.executable, "-c", code, str(ckpt), f"{tmp_path / 'user.py'}:make",
                            f"{tmp_path / 'loss.py'}:fn"], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(keys) == 1 and len(keys.pop().strip().partition("~")[0]) == 64  # the digest, then the witness


# (another --epsilon reads an exact spectrum stored and solves again: tests/test_cache_exact_reuse.py)
@pytest.mark.parametrize("change", [("--batch-size", "64"), ("--max-samples", "200"),
                                    ("--exclude", "2")])
def test_changed_option_is_a_miss(cli, own_ckpt, tmp_path, change):
    cache = tmp_path / "cache"
    first = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))
    second = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300, *change))
    assert second["cache_hit"] is False and _prediction(second) != _prediction(first)


# one valid other value for every field of CurvatureOptions (a field added later fails here
# until it has one, so it cannot be left out of the key unnoticed)
OTHER_OPTION_VALUES = dict(method="slq", iterations=7, runs=3, epsilon=0.2, eta=0.05, bound_mode="geom",
                           negative="flat", hvp="revrev", seed=5, basis_dtype="float64", memory_budget_mb=64.0,
                           tolerance=0.02, max_hvps=900, time_budget=30.0, hessian_samples=100, basis_memory_mb=50.0)


def test_every_curvature_option_is_in_the_key(own_ckpt):
    """A result that a --time-budget or --max-hvps cut short is never read under a larger one."""
    import dataclasses

    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key
    from prunelimit.inputs import load_inputs

    inputs = load_inputs(own_ckpt, data="digits:train", max_samples=50)
    assert set(OTHER_OPTION_VALUES) == {f.name for f in dataclasses.fields(CurvatureOptions)}
    keys = {name: input_key(inputs, "spectrum", CurvatureOptions(**{name: value}))
            for name, value in OTHER_OPTION_VALUES.items()}
    keys["default"] = input_key(inputs, "spectrum", CurvatureOptions())
    assert len(set(keys.values())) == len(keys)


def test_the_exact_spectrum_is_keyed_without_what_it_never_reads(own_ckpt, tmp_path):
    """``--method exact`` draws no probe and no subset: another seed (or SLQ setting) is the
    same spectrum, one entry. Every other method, the default too (it may choose SLQ), keys them."""
    from prunelimit.api import CurvatureOptions
    from prunelimit.api.stored import result_keys
    from prunelimit.api.options import EXACT_IGNORES
    from prunelimit.cache import Store
    from prunelimit.inputs import load_inputs

    from prunelimit.errors import options_named

    inputs, store = load_inputs(own_ckpt, data="digits:train", max_samples=50), Store(tmp_path)
    keys = result_keys(inputs, store)

    def key(**options):
        # built as the command line builds them (a CurvatureOptions of a notebook refuses an SLQ
        # setting beside method="exact"): a --config file's SLQ keys are left unused there
        with options_named(str):
            return keys(CurvatureOptions(**options), "spectrum")

    exact = {key(method="exact", **{name: OTHER_OPTION_VALUES[name]}) for name in EXACT_IGNORES}
    assert exact == {key(method="exact")}
    for method in ("default", "slq", "paper"):
        assert key(method=method, seed=5) != key(method=method)


def test_exact_spectrum_under_another_seed_reads_the_stored_one(cli, forbid_curvature):
    """Measured: ``--method exact`` gives the same report for any ``--seed``; it missed."""
    _reads_the_stored_spectrum(cli, forbid_curvature, ("bounds", EXAMPLE, *EXAMPLE_DATA, "--method", "exact"),
                               ("bounds", EXAMPLE, *EXAMPLE_DATA, "--method", "exact", "--seed", 7))


def _reads_the_stored_spectrum(cli, forbid_curvature, store: tuple, ask: tuple) -> None:
    """``store`` stores a spectrum; ``ask`` then reads it (no curvature work) and reports what
    it reports uncached, to the last bit."""
    _doc(cli(*store, "--json"))
    fresh = _doc(cli(*ask, "--no-cache", "--json"))
    forbid_curvature()
    hit = _doc(cli(*ask, "--json"))
    assert hit["timing"]["cached"] is True and hit["timing"]["hvps"] == 0
    assert _without_timing(hit) == _without_timing(fresh)


@pytest.mark.parametrize("change", [("--eta", "0.05"), ("--bound-mode", "geom"), ("--bound-mode", "none"),
                                    ("--hessian-samples", "all")])
def test_an_option_that_keeps_the_spectrum_reuses_it(cli, own_ckpt, change, forbid_curvature):
    """η and the bound mode enter ρ_L and ρ_U after the spectrum, never the spectrum or its
    ρ* ±, and ``--hessian-samples all`` is what auto takes on 300 samples (the guide has a CI
    gate pass it beside a default ``bounds``): each reads the stored spectrum (it recomputed
    the same one) and gives what an uncached run gives, to the last bit."""
    _reads_the_stored_spectrum(cli, forbid_curvature, ("bounds", own_ckpt, *SMALL, *SLQ),
                               ("bounds", own_ckpt, *SMALL, *SLQ, *change))


def test_auto_on_less_than_four_times_its_subset_is_all_and_reads_the_all_spectrum(cli, own_ckpt, forbid_curvature,
                                                                                   monkeypatch):
    """``auto`` subsamples only a data set of four times its subset or more (a larger subset's
    data check costs more passes than all the data): with a 200-sample subset it took 200 of
    300, keyed apart from ``all``; it now takes all 300 and reads what ``all`` stored."""
    from prunelimit.data import subsample

    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", 200)
    assert _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--json", "--no-cache"))["spectrum"]["hessian_samples"] \
        == {"used": 300, "total": 300, "part_ratios": None}
    _reads_the_stored_spectrum(cli, forbid_curvature, ("bounds", own_ckpt, *SMALL, *SLQ, "--hessian-samples", "all"),
                               ("bounds", own_ckpt, *SMALL, *SLQ))


def test_a_subset_of_the_samples_is_another_spectrum(cli, own_ckpt):
    """auto is ``all`` only where it takes every sample: 100 of the 300 is a miss."""
    _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--hessian-samples", "all", "--json"))
    subset = _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--hessian-samples", "100", "--json"))
    assert subset["timing"]["cached"] is False and subset["spectrum"]["hessian_samples"]["used"] == 100


@pytest.mark.parametrize("stored, asked", [
    (("--hessian-samples", "auto"), ("--hessian-samples", "75")),
    (("--hessian-samples", "75"), ("--hessian-samples", "auto")),
    (("--hessian-samples", "all"), ("--hessian-samples", "1000")),
    (("--hessian-samples", "1000"), ("--hessian-samples", "all")),
    (("--hessian-samples", "500"), ("--hessian-samples", "301")),
], ids=["auto-then-its-count", "count-then-auto", "all-then-more-than-the-data", "more-than-the-data-then-all",
        "two-counts-over-the-data"])
def test_spellings_of_one_subset_share_one_entry(cli, own_ckpt, forbid_curvature, monkeypatch, stored, asked):
    """The spectrum is keyed by the subset drawn (its size; the seed and strata rule are keyed
    apart), not by how ``--hessian-samples`` spelled it: ``auto`` and the count it resolves to,
    ``all`` and a count of at least the data's, read one entry (they were stored apart), and
    the hit reports what an uncached run reports, its note on the count included."""
    from prunelimit.data import subsample

    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", 75)  # auto draws 75 of the 300
    _reads_the_stored_spectrum(cli, forbid_curvature, ("bounds", own_ckpt, *SMALL, *SLQ, *stored),
                               ("bounds", own_ckpt, *SMALL, *SLQ, *asked))


def test_different_subsets_never_share_an_entry(cli, own_ckpt, monkeypatch):
    """``auto`` drawing 75 of 300 samples is not ``all``, nor a count of another size."""
    from prunelimit.data import subsample

    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", 75)
    _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--json"))
    for other in ("all", "120"):
        doc = _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--hessian-samples", other, "--json"))
        assert doc["timing"]["cached"] is False, other


def _edit_number(raw: bytes) -> bytes:
    """A stored scalar changed by hand, the rest (and the digest) left as it was."""
    line, _, blob = raw.partition(b"\n")
    header = json.loads(line)
    header["payload"]["fields"]["lambda_max"] *= 10
    return json.dumps(header).encode() + b"\n" + blob


def _edit_nodes(raw: bytes) -> bytes:
    """The first stored eigenvalue set to 1e6 in the raw bytes."""
    line, _, blob = raw.partition(b"\n")
    return line + b"\n" + struct.pack("<d", 1e6) + blob[8:]


CORRUPTIONS = {
    "binary-garbage": lambda raw: bytes(range(256)) * 4,
    "not-utf8": lambda raw: b"\xff\xfe" + raw[2:],
    "json-list": lambda raw: b"[1, 2, 3]\n",
    "json-scalar": lambda raw: b"\"passed\"\n",
    "old-plain-json": lambda raw: json.dumps(json.loads(raw.partition(b"\n")[0])["payload"]).encode(),
    "edited-number": _edit_number,
    "edited-nodes": _edit_nodes,
    "truncated": lambda raw: raw[: len(raw) // 2],
    "empty": lambda raw: b"",
    # deeper than Python's JSON reader goes: it was the exit 3 of an input file nested too deeply
    "deep-json": lambda raw: b"[" * 100_000 + b"]" * 100_000 + b"\n",
}


def _spectrum_entry(cache: Path) -> Path:
    """The one spectrum entry in ``cache`` (the overshoot check's is kept beside it)."""
    (entry,) = [e for e in cache.iterdir() if b'"kind": "spectrum"' in e.read_bytes().partition(b"\n")[0]]
    return entry


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corrupt_entry_is_a_miss_and_replaced(cli, own_ckpt, tmp_path, name):
    cache = tmp_path / "cache"
    first = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))
    entry = _spectrum_entry(cache)
    entry.write_bytes(CORRUPTIONS[name](entry.read_bytes()))
    second = _gate(cli, own_ckpt, cache, "--max-samples", 300)
    doc = _doc(second)
    assert doc["cache_hit"] is False and _prediction(doc) == _prediction(first)
    assert "ignoring damaged cache entry" in second.stderr and "Traceback" not in second.stderr
    assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is True  # rewritten intact


def _stored_key(path: Path) -> str:
    """The key the store reads the entry file ``path`` under: its digest (the file name) and its
    witness (the first analysis batch's loss)."""
    from prunelimit.cache import with_witness

    return with_witness(path.stem, json.loads(path.read_bytes().partition(b"\n")[0])["witness"])


def _forged(raw: bytes, key: str, edit) -> bytes:
    """The entry ``raw`` with ``edit(fields, arrays)`` applied to its stored spectrum and its digest
    recomputed, as whoever can write the cache folder can: the digest detects damage, not this."""
    from prunelimit.cache import Entry, decode_entry, encode_entry

    entry = decode_entry(raw, key, "spectrum")
    payload, arrays = json.loads(json.dumps(entry.payload)), [a.copy() for a in entry.arrays]
    edit(payload["fields"], arrays)
    return encode_entry(Entry(payload, tuple(arrays)), key, "spectrum")


def _quadrature_array(name: str, change):
    def edit(fields, arrays):
        index = fields["quadrature"]["fields"][name]["array"]
        arrays[index] = change(arrays[index])
    return edit


def _set(path: str, value):
    def edit(fields, arrays):
        *parents, leaf = path.split(".")
        for name in parents:
            fields = fields[name]["fields"]
        fields[leaf] = value
    return edit


FORGERIES = {  # it was exit 5, exit 2, exit 4, a wrong verdict or a ρ* of 100 %, as noted
    "string-for-a-number": _set("lambda_max", "big"),  # exit 5
    "string-for-an-array": _set("quadrature.nodes", "abc"),  # exit 5
    "number-for-an-array": _set("quadrature.nodes", 1.5),  # exit 2 (quadrature shapes)
    "string-for-the-ratio": _set("limit_ratio", "0.99"),
    "list-of-another-type": _set("notes", {"tuple": [1, 2]}),
    "another-dimension": lambda f, a: (_set("params_hessian", 10)(f, a), _set("quadrature.dim", 10)(f, a)),  # exit 1
    "negative-weights": _quadrature_array("weights", lambda w: -w),  # exit 4
    "nodes-moved": _quadrature_array("nodes", lambda n: n * 0),  # ρ* 100 %, still a hit
    # a dataclass of prunelimit that is no part of a result, where a field's items are not typed
    "unlisted-dataclass": _set("trail", {"tuple": [{"dataclass": "prunelimit.io.outputs:Output", "fields": {
        "option": "-o", "path": "x", "fmt": "pt", "overwrite": True}}]}),
    "nan-trace": _set("trace", {"float": "nan"}),
    "inf-limit-ratio": _set("limit_ratio", {"float": "inf"}),
    "nan-loss": _set("loss", {"float": "nan"}),
    "nan-gradient-norm": _set("gradient_norm", {"float": "nan"}),
    "inf-negative-mass": _set("negative_mass", {"float": "inf"}),
    "nan-trace-stderr": _set("trace_stderr", {"float": "nan"}),
    # the rounding part of ρ*'s ± is taken at the products' error, which a run measures finite and ≥ 0: a hit
    "inf-product-error": _set("quadrature.product_error", {"float": "inf"}),
    "negative-product-error": _set("quadrature.product_error", -1.0),
    "nan-slice-error": _set("quadrature.slice_error", {"float": "nan"}),
    "string-for-a-gradient": lambda f, a: f["gradient"]["dict"][0].__setitem__(1, "abc"),  # exit 5
    "list-for-a-gradient": lambda f, a: f["gradient"]["dict"][0].__setitem__(1, {"list": [1.0]}),
    # the first-order warning's gradient: a NaN in it dropped the warning in silence (first_order_change null)
    "nan-in-the-gradient": lambda f, a: a[f["gradient"]["dict"][0][1]["tensor"]].__setitem__(0, np.nan),
    "gradient-scaled": lambda f, a: a.__setitem__(f["gradient"]["dict"][0][1]["tensor"],
                                                  a[f["gradient"]["dict"][0][1]["tensor"]] * 10),
    # ε is their std: read back by a fixed plan (--method exact), 9 of 12 moved ρ* from 88.80 % to 87.53 %
    "fewer-batch-losses": lambda f, a: a.__setitem__(f["batch_losses"]["array"], a[f["batch_losses"]["array"]][:-1]),
    "more-batch-losses": lambda f, a: a.__setitem__(f["batch_losses"]["array"],
                                                    np.tile(a[f["batch_losses"]["array"]], 2)),
}


@pytest.mark.parametrize("name", FORGERIES)
def test_entry_rewritten_with_its_digest_is_a_miss_when_it_does_not_fit(cli, own_ckpt, tmp_path, name):
    """An entry whose digest was recomputed over edited content: a field of another type than
    the result declares, or a spectrum that is not this Hessian's (another dimension, weights
    that are no measure, extremes that are not its nodes') is a miss with a warning, never a
    verdict or an exit 5."""
    cache = tmp_path / "cache"
    first = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))
    entry = _spectrum_entry(cache)
    entry.write_bytes(_forged(entry.read_bytes(), _stored_key(entry), FORGERIES[name]))
    second = _gate(cli, own_ckpt, cache, "--max-samples", 300)
    doc = _doc(second)
    assert doc["cache_hit"] is False and _prediction(doc) == _prediction(first)
    assert "ignoring cache entry" in second.stderr and "Traceback" not in second.stderr


def test_another_models_entry_under_this_key_is_a_miss(cli, own_ckpt, tmp_path):
    """Another model's stored spectrum, its key and digest rewritten to this model's: a miss."""
    from prunelimit.cache import decode_entry, encode_entry
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    other = tmp_path / "other.pt"
    torch.manual_seed(1)
    save_checkpoint(other, "mlp:64,9,10", build_model("mlp:64,9,10").state_dict(), meta={"data": "digits:train"})
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    first = _doc(_gate(cli, own_ckpt, mine, "--max-samples", 300))
    _doc(_gate(cli, other, theirs, "--max-samples", 300))
    entry, foreign = _spectrum_entry(mine), _spectrum_entry(theirs)
    found = decode_entry(foreign.read_bytes(), foreign.stem, "spectrum")
    entry.write_bytes(encode_entry(found, _stored_key(entry), "spectrum"))  # this model's witness: shapes tell
    second = _gate(cli, own_ckpt, mine, "--max-samples", 300)
    doc = _doc(second)
    assert doc["cache_hit"] is False and _prediction(doc) == _prediction(first)
    assert "ignoring" in second.stderr and "Traceback" not in second.stderr


def test_per_layer_blocks_of_other_layers_are_a_miss(cli, own_ckpt, tmp_path):
    """Stored per-layer blocks renamed (another model's layers), the digest recomputed: a miss,
    the blocks computed again."""
    from prunelimit.cache import Entry, decode_entry, encode_entry

    cache, run = tmp_path / "cache", ("--per-layer", "--max-samples", 300, "--json")
    first = _doc(cli("spectrum", own_ckpt, "--cache-dir", cache, *run))
    (entry,) = [e for e in cache.iterdir() if b'"kind": "layers-' in e.read_bytes().partition(b"\n")[0]]
    kind = json.loads(entry.read_bytes().partition(b"\n")[0])["kind"]
    key = _stored_key(entry)
    found = decode_entry(entry.read_bytes(), key, kind)
    payload = json.loads(json.dumps(found.payload))
    payload["fields"]["blocks"]["list"][0]["fields"]["name"] = "features.0.weight"
    entry.write_bytes(encode_entry(Entry(payload, found.arrays), key, kind))
    second = cli("spectrum", own_ckpt, "--cache-dir", cache, *run)
    doc = _doc(second)
    assert doc["layer_curvature"]["cached"] is False
    # computed again: the same blocks to float summation order (the blocks run in groups that fit
    # the memory available at the start, so a busier machine may group them otherwise)
    assert [{k: v for k, v in layer.items() if not isinstance(v, float)} for layer in doc["layers"]] == \
        [{k: v for k, v in layer.items() if not isinstance(v, float)} for layer in first["layers"]]
    assert [v for layer in doc["layers"] for v in layer.values() if isinstance(v, float)] == \
        pytest.approx([v for layer in first["layers"] for v in layer.values() if isinstance(v, float)], rel=1e-9)
    assert "its blocks are not this Hessian's layers" in second.stderr


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_world_writable_entry_is_not_trusted(cli, own_ckpt, tmp_path):
    cache = tmp_path / "cache"
    _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))
    entry = _spectrum_entry(cache)
    entry.chmod(entry.stat().st_mode | stat.S_IWOTH)
    result = _gate(cli, own_ckpt, cache, "--max-samples", 300)
    assert _doc(result)["cache_hit"] is False and "writable by every user" in result.stderr


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_entries_are_private_under_umask_0(cli, own_ckpt, tmp_path):
    """Entries took 0o666 less the umask: under umask 0 every one was refused as writable by
    every user, so the cache never hit and warned on every run."""
    cache = tmp_path / "cache"
    old = os.umask(0)
    try:
        assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is False
        second = _gate(cli, own_ckpt, cache, "--max-samples", 300)
    finally:
        os.umask(old)
    assert _doc(second)["cache_hit"] is True and "warning" not in second.stderr
    assert {stat.S_IMODE(entry.stat().st_mode) for entry in cache.iterdir()} == {0o600}


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_world_writable_cache_dir_is_refused_before_work(cli, own_ckpt, tmp_path, forbid_curvature):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    forbid_curvature()
    result = _gate(cli, own_ckpt, cache, "--max-samples", 300)
    assert result.exit_code == 2 and "writable by every user" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(cache.iterdir())


def test_unusable_cache_dir_given_is_exit_2_before_work(cli, own_ckpt, tmp_path, forbid_curvature):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    forbid_curvature()
    result = _gate(cli, own_ckpt, blocker / "cache", "--max-samples", 300)
    assert result.exit_code == 2 and "--no-cache" in result.stderr and "Traceback" not in result.stderr
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("variable, value, folder", [("PRUNELIMIT_CACHE_DIR", "~/plcache", "plcache"),
                                                     ("XDG_CACHE_HOME", "~/xdg", "xdg/prunelimit")])
def test_a_cache_folder_set_with_a_tilde_is_in_the_home_folder(tmp_path, monkeypatch, variable, value, folder):
    """A CI file's ``env: PRUNELIMIT_CACHE_DIR: ~/plcache`` reaches the process unexpanded: the
    entries went to a folder named ``~`` inside the working folder (the checkout)."""
    from prunelimit.cache import default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PRUNELIMIT_CACHE_DIR", raising=False)
    monkeypatch.setenv(variable, value)
    assert default_cache_dir() == tmp_path / "home" / folder


def test_unusable_default_cache_dir_warns_and_runs_uncached(cli, own_ckpt, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(blocker / "cache"))
    result = cli("gate", own_ckpt, *GATE, "--max-samples", 300)
    assert _doc(result)["cache_hit"] is False and "not caching results" in result.stderr


# --------------------------------------------------------------------------- one spectrum for every command

SMALL = ("--max-samples", 300)
SLQ = ("--method", "paper", "--iterations", 12, "--runs", 2)


def _without_timing(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("timing", "memory")}


@pytest.mark.parametrize("method", [(), SLQ], ids=["exact", "slq"])
def test_second_bounds_reads_the_stored_spectrum_unchanged(cli, own_ckpt, method, forbid_curvature):
    first = _doc(cli("bounds", own_ckpt, *SMALL, *method, "--json"))
    assert first["timing"]["hvps"] > 0 and first["timing"]["cached"] is False
    forbid_curvature()
    second = _doc(cli("bounds", own_ckpt, *SMALL, *method, "--json"))
    assert second["timing"] == second["timing"] | {"hvps": 0, "cached": True}
    assert _without_timing(second) == _without_timing(first)  # the same numbers, to the last bit


@pytest.mark.parametrize("then", [
    ("verify",), ("gate", "--min-ratio", "0.0"), ("bounds", "--epsilon", "0.05"), ("spectrum",),
], ids=["verify", "gate", "bounds-other-epsilon", "spectrum"])
def test_commands_after_bounds_spend_no_hvps(cli, own_ckpt, tmp_path, then, forbid_curvature):
    """``--epsilon`` only moves ρ* solved on a fixed plan's spectrum (SLQ here): a hit too."""
    _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--json"))
    command, *extra = then
    forbid_curvature()
    doc = _doc(cli(command, own_ckpt, *SMALL, *SLQ, *extra, "--json"))
    if command == "gate":
        assert doc["cache_hit"] is True and doc["bounds"]["timing"]["hvps"] == 0
    else:
        assert doc["timing"]["cached"] is True and doc["timing"]["hvps"] == 0


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"
EXAMPLE_DATA = ("--data", "digits:train", "--max-samples", 200)


@pytest.mark.parametrize("plan", [("--method", "exact"), ("--method", "paper"), ("--method", "slq", "--iterations", 12),
                                  ("--method", "slq", "--iterations", 12, "--hessian-samples", 100)],
                         ids=["exact", "paper", "fixed-slq", "fixed-slq-subset"])
@pytest.mark.parametrize("change", [("--epsilon", "0.05"), ("--negative", "flat"), ("--hvp", "cached")],
                         ids=["epsilon", "negative", "hvp-cached"])
def test_limit_only_options_on_a_fixed_plan_read_the_stored_spectrum(cli, plan, change, forbid_curvature):
    """On a fixed plan ε and ``--negative`` enter only ρ* and its ±, solved after the spectrum,
    and ``--hvp cached`` computes what auto computes: each reads the spectrum another command
    stored and reports what an uncached run reports, to the last bit (on a curvature subset,
    the data part too: its 4 parts' ρ* solved again from their stored spectra)."""
    _reads_the_stored_spectrum(cli, forbid_curvature, ("spectrum", EXAMPLE, *EXAMPLE_DATA, *plan),
                               ("bounds", EXAMPLE, *EXAMPLE_DATA, *plan, *change))


@pytest.mark.parametrize("plan", [("--method", "paper"), ("--method", "slq", "--iterations", 12)],
                         ids=["paper", "fixed-slq"])
def test_tolerance_on_a_fixed_plan_reads_the_stored_spectrum(cli, plan, forbid_curvature):
    """A fixed plan's products never read ``--tolerance`` (only its warning that the ± missed
    it does, solved again on a read): the default reads the spectrum a looser one stored, and
    reports and warns as an uncached run does, where it formed the same spectrum again."""
    _reads_the_stored_spectrum(cli, forbid_curvature, ("bounds", EXAMPLE, *EXAMPLE_DATA, *plan, "--tolerance", "0.5"),
                               ("bounds", EXAMPLE, *EXAMPLE_DATA, *plan))


@pytest.mark.parametrize("change", [("--epsilon", "0.05"), ("--negative", "flat")], ids=["epsilon", "negative"])
def test_options_that_steer_adaptive_slq_are_another_spectrum(cli, change):
    """Adaptive SLQ stops on ρ*'s ±, which ε and ``--negative`` move: each is a miss after a gate
    stored the default's. (``--hvp revrev`` reads an answer whose ± meets its tolerance, as the
    default does: tests/cache/test_cache_slq_default_share.py.)"""
    gate = _doc(cli("gate", EXAMPLE, *EXAMPLE_DATA, "--method", "slq", "--min-ratio", "0", "--json"))
    assert gate["cache_hit"] is False
    again = _doc(cli("bounds", EXAMPLE, *EXAMPLE_DATA, "--method", "slq", *change, "--json"))
    assert again["timing"]["cached"] is False and again["timing"]["hvps"] > 0


def test_prune_auto_after_bounds_spends_no_hvps(cli, own_ckpt, tmp_path, forbid_curvature):
    bounds = _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--json"))
    forbid_curvature()
    pruned = _doc(cli("prune", own_ckpt, *SMALL, *SLQ, "--ratio", "auto", "-o", tmp_path / "p.pt", "--json"))
    assert pruned["ratio"]["requested"] == bounds["prediction"]["ratio"]


def test_no_cache_recomputes_and_writes_nothing(cli, own_ckpt, tmp_path):
    cache = tmp_path / "cache"
    for _ in range(2):
        doc = _doc(cli("bounds", own_ckpt, *SMALL, *SLQ, "--cache-dir", cache, "--no-cache", "--json"))
        assert doc["timing"]["hvps"] > 0 and doc["timing"]["cached"] is False
    assert not cache.exists()


def test_changed_prunelimit_source_is_a_miss(cli, own_ckpt, tmp_path, monkeypatch):
    """An edited or reinstalled prunelimit under the same version number never reads older results."""
    from prunelimit import cache as cache_module

    cache = tmp_path / "cache"
    assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is False
    assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is True
    monkeypatch.setattr(cache_module, "package_fingerprint", lambda: "another source")
    assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is False


@pytest.mark.parametrize("what", ["torch", "python"])
def test_another_torch_or_python_is_a_miss(own_ckpt, monkeypatch, what):
    """A cache folder kept across an upgrade (a CI cache restored onto a new image): torch's
    kernels and Python's standard library run under every number, so another version misses.
    The key held torch's version but not Python's."""
    import platform

    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key
    from prunelimit.inputs import load_inputs

    inputs = load_inputs(own_ckpt, data="digits:train", max_samples=100)
    first = input_key(inputs, "spectrum", CurvatureOptions())
    if what == "torch":
        monkeypatch.setattr(torch, "__version__", "0.0.1")
    else:
        monkeypatch.setattr(platform, "python_version", lambda: "3.0.0")
    assert input_key(inputs, "spectrum", CurvatureOptions()) != first


@pytest.mark.parametrize("package", ["numpy", "scipy"])
def test_changed_package_version_is_a_miss(cli, own_ckpt, tmp_path, monkeypatch, package):
    """prunelimit's numerics run on numpy and scipy: another version may give other numbers."""
    from prunelimit import cache as cache_module

    cache, real = tmp_path / "cache", cache_module.package_identity
    assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is False
    assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is True
    monkeypatch.setattr(cache_module, "package_identity", lambda name: "0.0" if name == package else real(name))
    assert _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300))["cache_hit"] is False


def test_source_fingerprint_follows_file_bytes_and_names(tmp_path):
    from prunelimit.cache import source_fingerprint

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not code")
    first = source_fingerprint(tmp_path)
    (tmp_path / "notes.txt").write_text("still not code")
    assert source_fingerprint(tmp_path) == first
    (tmp_path / "pkg" / "a.py").write_text("x = 3\n")
    edited = source_fingerprint(tmp_path)
    assert edited != first
    (tmp_path / "pkg" / "a.py").rename(tmp_path / "pkg" / "c.py")
    assert source_fingerprint(tmp_path) != edited


def test_a_loss_file_is_keyed_alike_in_every_process(tmp_path):
    """``--loss file.py:fn`` enters the key by its module's name; that name was ``hash(path)``,
    salted per process, so a second command never found the first one's entry."""
    import subprocess
    import sys

    (tmp_path / "myloss.py").write_text("def fn(model, batch):\n    return model(batch[0]).sum()\n")
    code = ("import sys; from prunelimit.specs import resolve_callable; from prunelimit.cache import _qualname; "
            "from prunelimit.baseline import loss_name; fn = resolve_callable(sys.argv[1], 'fn', 'loss'); "
            "print(_qualname(fn), loss_name(fn))")
    names = {subprocess.run([sys.executable, "-c", code, str(tmp_path / "myloss.py")], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(names) == 1 and names.pop().split()[1].startswith("myloss.py:fn(code=")


# --------------------------------------------------------------------------- under torchrun


def _rank_worker(rank: int, port: int, tmp: str, ckpt: str) -> None:
    import datetime

    import torch.distributed as dist

    from prunelimit import api
    from prunelimit.cache import open_store
    from prunelimit.inputs import load_inputs

    torch.set_num_threads(1)
    # a timeout instead of waiting forever for a rank in another collective
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    results = []
    try:
        inputs = load_inputs(ckpt, data="digits:train", batch_size=64, max_samples=300, device="cpu")
        # a shared folder that gets the entry; then rank 1 on a node of its own, whose folder
        # lacks it; then the shared folder again; then rank 1 without a cache (its node's
        # default folder unusable)
        for folder in ("shared", "shared" if rank == 0 else "own", "shared", "shared" if rank == 0 else None):
            store = None if folder is None else open_store(Path(tmp) / folder, True)
            rep = api.bounds(inputs, api.CurvatureOptions(method="exact"), store=store)
            results.append([rep.prediction.ratio, rep.spectrum.cached])
    except Exception as exc:  # reported to the test, which names it
        results.append(f"{type(exc).__name__}: {exc}")
    finally:
        dist.destroy_process_group()
    (Path(tmp) / f"rank{rank}.json").write_text(json.dumps(results))


def test_ranks_read_the_store_only_when_all_find_the_entry(own_ckpt, tmp_path):
    """A rank that found a stored spectrum skipped the computation while a rank of another
    node, whose cache lacked it, computed it: the collectives of the two never matched."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank_worker, args=(port, str(tmp_path), str(own_ckpt)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [[cached for _, cached in r] for r in ranks] == [[False, False, True, False]] * 2, ranks
    assert len({ratio for r in ranks for ratio, _ in r}) == 1  # replicated: the same bits everywhere


def test_per_layer_blocks_are_read_by_every_command_that_asks(cli, monkeypatch, forbid_curvature):
    """The per-layer blocks are keyed as the spectrum: ``spectrum --per-layer`` after
    ``bounds --per-layer`` spends no HVPs on either and gives the uncached blocks."""
    from prunelimit.curvature import layers as block_curvature

    run = ("--per-layer", *EXAMPLE_DATA, "--method", "slq", "--json")
    _doc(cli("bounds", EXAMPLE, *run))
    fresh = _doc(cli("spectrum", EXAMPLE, *run, "--no-cache"))
    forbid_curvature()
    monkeypatch.setattr(block_curvature, "lanczos_block_curvature", lambda *a, **k: pytest.fail("blocks recomputed"))
    hit = _doc(cli("spectrum", EXAMPLE, *run))
    assert hit["timing"]["hvps"] == 0 and hit["layer_curvature"]["hvps"] == 0 and hit["layer_curvature"]["cached"]
    assert hit["layers"] == fresh["layers"]
    assert {k: v for k, v in hit["layer_curvature"].items() if k not in ("hvps", "seconds", "cached")} == \
        {k: v for k, v in fresh["layer_curvature"].items() if k not in ("hvps", "seconds", "cached")}


@pytest.mark.parametrize("method", [("--method", "exact"), ()], ids=["exact", "default-chooses-exact"])
def test_exact_per_layer_blocks_are_stored_and_read_back(cli, monkeypatch, forbid_curvature, method):
    """The exact blocks a dense Hessian gave were not stored: the next ``--per-layer`` on the
    cached exact spectrum formed them again from D unit columns (2,410 HVPs on the example)
    and called them ``formed``. They are stored beside the spectrum and read back as they were."""
    from prunelimit.curvature import layers as block_curvature

    run = ("--per-layer", *EXAMPLE_DATA, *method, "--json")
    first = _doc(cli("bounds", EXAMPLE, *run))
    assert first["layer_curvature"]["method"] == "exact"
    forbid_curvature()
    monkeypatch.setattr(block_curvature, "formed_block_curvature", lambda *a, **k: pytest.fail("blocks formed"))
    hit = _doc(cli("spectrum", EXAMPLE, *run))
    assert hit["timing"]["cached"] is True and hit["layer_curvature"]["hvps"] == 0
    assert hit["layer_curvature"]["method"] == "exact" and hit["layers"] == first["layers"]


@pytest.mark.parametrize("command", [
    ("spectrum",), ("bounds",), ("verify",), ("gate", "--min-ratio", "0"), ("prune", "--ratio", "auto", "-o", "{out}"),
], ids=["spectrum", "bounds", "verify", "gate", "prune-auto"])
def test_every_command_on_a_spectrum_says_whether_it_came_from_the_cache(cli, own_ckpt, tmp_path, command):
    """``prune --ratio auto --json`` did not say whether the spectrum behind its ratio came
    from the cache, and ``gate`` said it only as ``cache_hit``: each states ``timing.cached``
    (and ``timing.hvps``) as ``bounds`` does."""
    name, *extra = command
    args = [str(tmp_path / "p.pt") if a == "{out}" else a for a in extra]
    run = (name, own_ckpt, *SMALL, *SLQ, *args, "--force", "--json") if name == "prune" else \
        (name, own_ckpt, *SMALL, *SLQ, *args, "--json")
    fresh = _doc(cli(*run))
    hit = _doc(cli(*run))
    assert fresh["timing"]["cached"] is False and hit["timing"]["cached"] is True
    if name != "gate":
        assert fresh["timing"]["hvps"] > 0 and hit["timing"]["hvps"] == 0


def test_a_given_ratio_states_no_spectrum_timing(cli, own_ckpt, tmp_path):
    doc = _doc(cli("prune", own_ckpt, *SMALL, "--ratio", "0.5", "-o", tmp_path / "p.pt", "--json"))
    assert doc["timing"]["hvps"] == 0 and doc["timing"]["cached"] is False and doc["timing"]["stages"] == {}


def test_per_layer_blocks_say_whether_they_came_from_the_cache(cli):
    run = ("bounds", EXAMPLE, "--per-layer", *EXAMPLE_DATA, "--method", "slq", "--json")
    first, again = _doc(cli(*run)), _doc(cli(*run))
    assert first["layer_curvature"]["cached"] is False and first["layer_curvature"]["hvps"] > 0
    assert again["layer_curvature"]["cached"] is True and again["layer_curvature"]["hvps"] == 0


# Values the model's forward reads at run time from the user's other modules or files, in
# ways the names in its code do not spell: an attribute or module named by a string, and a
# file named by a module-level path. ``{cfg}`` reads scale.txt beside it at import.
READ_AT_RUN = {
    "getattr": ("import {cfg}\n", "getattr({cfg}, 'SCALE')"),
    "import-module": ("import importlib\n", "importlib.import_module('{cfg}').SCALE"),
    "path-global": ("import pathlib\nFILE = pathlib.Path(__file__).parent / 'scale.txt'\n", "float(FILE.read_text())"),
    "str-path-global": ("import os\nFILE = os.path.join(os.path.dirname(__file__), 'scale.txt')\n",
                        "float(open(FILE).read())"),
}


@pytest.mark.parametrize("case", READ_AT_RUN)
def test_a_value_read_by_name_or_from_a_file_beside_the_code_is_keyed_and_a_moved_copy_hits(tmp_path, monkeypatch,
                                                                                            case):
    """getattr(cfg, 'SCALE'), import_module('cfg').SCALE and a module-level path beside the
    model's file (``Path(__file__).parent / 'scale.txt'``, read in forward) served the old
    spectrum after scale.txt changed; the path's folder keyed it, so a moved checkout with
    the same files missed. The key follows the names in its strings and a path's file by
    its name and bytes, never its folder."""
    import importlib
    import shutil

    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    suffix = case.replace("-", "_")
    cfg, model_module = f"plkey_cfg_{suffix}", f"plkey_model_{suffix}"
    head, expr = READ_AT_RUN[case]
    code = (head.format(cfg=cfg) + "from torch import nn\n\nclass Scaled(nn.Sequential):\n    def forward(self, x):\n"
            f"        return super().forward(x * {expr.format(cfg=cfg)})\n")
    data = (torch.randn(20, 64, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 10)

    def checkout(root: Path, scale: str) -> None:
        root.mkdir(exist_ok=True)
        (root / f"{cfg}.py").write_text(CONFIG_PY)
        (root / f"{model_module}.py").write_text(code)
        (root / "scale.txt").write_text(scale)

    def key(root: Path) -> str:
        for name in (cfg, model_module):
            monkeypatch.delitem(sys.modules, name, raising=False)
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        torch.manual_seed(0)
        model = importlib.import_module(model_module).Scaled(torch.nn.Linear(64, 4), torch.nn.ReLU(),
                                                              torch.nn.Linear(4, 10))
        importlib.import_module(cfg)  # what the forward would import
        keyed = input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions())
        monkeypatch.undo()  # sys.path and sys.modules as before: the next checkout imports afresh
        return keyed

    checkout(tmp_path / "a", "1.0")
    first = key(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    assert key(tmp_path / "moved") == first
    checkout(tmp_path / "moved", "3.0")  # moved, and its data file beside the model changed
    assert key(tmp_path / "moved") != first
    checkout(tmp_path / "a", "3.0")
    assert key(tmp_path / "a") != first


WRITER_PY = ("import sys, numpy as np\nfrom pathlib import Path\nfrom prunelimit.cache import Entry, Store\n"
             "store = Store(Path(sys.argv[1]))\nentry = Entry({'tensor': 0}, (np.arange(2**16, dtype='<f8'),))\n"
             "for _ in range(40):\n    store.save('k' * 64, 'spectrum', entry)\n")


def test_two_processes_writing_one_entry_never_leave_it_half_written(tmp_path):
    """Two CI jobs sharing a cache folder store the same entry at once while a third reads
    it: every read finds no entry or an intact one (a temporary file and a rename), never a
    damaged one, and no temporary file is left."""
    import subprocess

    from prunelimit.cache import open_store

    warnings: list[str] = []
    store = open_store(tmp_path / "cache", explicit=True, warn=warnings.append)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER_PY, str(store.path)], env=env) for _ in range(2)]
    while any(w.poll() is None for w in writers):
        found = store.load("k" * 64, "spectrum")
        assert found is None or np.array_equal(found.arrays[0], np.arange(2**16))
    assert [w.returncode for w in writers] == [0, 0] and not warnings
    assert np.array_equal(store.load("k" * 64, "spectrum").arrays[0], np.arange(2**16))
    assert [p.name for p in store.path.iterdir()] == ["k" * 64 + ".entry"]


INSTALLED_NETS_PY = ("from torch import nn\n\nSCALE = {scale}\n\n\nclass Scaled(nn.Sequential):\n"
                     "    def forward(self, x):\n        return super().forward(x * SCALE)\n\n\n"
                     "def make():\n    return Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n")


def _install(site: Path, version: str, scale: str) -> None:
    """Install package ``plkeyinst`` (distribution ``pl-key-inst``, no ``__version__``) into
    ``site`` as pip does: its files and a dist-info whose RECORD lists each file's sha256."""
    install_distribution(site, "plkeyinst", "pl-key-inst", version,
                         {"__init__.py": "", "nets.py": INSTALLED_NETS_PY.format(scale=scale)})


@pytest.mark.parametrize("change", ["reinstalled under the same version", "another version"])
def test_an_installed_package_of_the_model_reinstalled_with_other_code_is_a_miss(own_ckpt, site_folder, monkeypatch,
                                                                                  change):
    """A model from an installed package (``pip install .`` of the user's own package) counts by
    its distribution's files, not the version its import name states: one whose distribution
    is named otherwise and that sets no ``__version__`` keyed ``None`` (a new version hit), and a
    reinstall of edited code under the same version hit (gate: 0.8039 cached vs 0.7217 fresh).
    Installing the same files again keeps the key."""
    import importlib

    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key
    from prunelimit.inputs import load_inputs

    def key(version: str, scale: str) -> str:
        _install(site_folder, version, scale)
        for name in ("plkeyinst", "plkeyinst.nets"):
            monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        inputs = load_inputs(own_ckpt, model="plkeyinst.nets:make", data="digits:train", max_samples=50)
        return input_key(inputs, "spectrum", CurvatureOptions())

    first = key("1.0", "1.0")
    assert key("1.0", "1.0") == first
    assert (key("1.0", "3.0") if change == "reinstalled under the same version" else key("2.0", "1.0")) != first


# How every option of the commands that read and write the result cache reaches its key, or
# why it need not: an option added later fails test_every_option_of_a_caching_command_is_decided
# until it is placed here (an option that changes the spectrum but is not keyed serves stale results).
KEYED_OPTIONS = {
    # CurvatureOptions, as ``_keyed_options`` keys them (``--eta``/``--bound-mode`` at their
    # defaults: they act after the spectrum; test_every_curvature_option_is_in_the_key)
    "options": {"method", "iterations", "runs", "hvp", "memory_budget", "basis_dtype", "basis_memory", "tolerance",
                "max_hvps", "time_budget", "hessian_samples", "epsilon", "eta", "bound_mode", "negative", "seed"},
    # what is loaded, by content: the model and its weights, the analysis batches, the loss,
    # the prunable selection and the device type
    "inputs": {"checkpoint", "model", "data", "batch_size", "max_samples", "loss", "include", "exclude", "device"},
}
UNKEYED_OPTIONS = {
    # where the result goes and how it is shown
    "outputs": {"plot", "report", "json", "junit", "force", "debug", "quiet", "output", "format"},
    # the cache itself, and a --config file, whose values reach the options above
    "cache": {"cache_dir", "no_cache", "config"},
    # whether an input may be loaded, not what it holds
    "loading": {"trust_pickle", "download"},
    # the numbers move only through choices the entry records (the guide's result cache)
    "machine": {"threads"},
    # read after the spectrum: blocks (--per-layer, an entry of their own under the same key),
    # the ratio's scope, the verdict, the measured search and the pruning
    "after": {"per_layer", "scope", "min_ratio", "use", "baseline", "max_drop", "allow_incompatible_baseline",
              "exit_zero", "fail_on_overshoot", "from_report", "eval_data", "acc_drop", "sweep", "refit", "finetune_epochs", "finetune_lr",
              "ratio", "strict"},
}


@pytest.mark.parametrize("command", ["spectrum", "bounds", "verify", "gate", "prune"])
def test_every_option_of_a_caching_command_is_decided(command):
    """Each option is keyed or named as one that cannot change the stored spectrum, and each
    field of CurvatureOptions is reached by an option keyed as one."""
    import dataclasses

    import typer

    from prunelimit.api import CurvatureOptions
    from prunelimit.cli import app
    from prunelimit.cli.common import _CURVATURE_FIELDS

    params = {p.name for p in typer.main.get_command(app).commands[command].params}
    keyed, unkeyed = set().union(*KEYED_OPTIONS.values()), set().union(*UNKEYED_OPTIONS.values())
    assert not keyed & unkeyed
    assert params <= keyed | unkeyed, f"decide whether the cache key holds {sorted(params - keyed - unkeyed)}"
    fields = {f.name for f in dataclasses.fields(CurvatureOptions)}
    assert {_CURVATURE_FIELDS.get(name, name) for name in KEYED_OPTIONS["options"]} == fields


def test_threads_and_the_device_named_for_the_one_in_use_read_the_stored_spectrum(cli, own_ckpt, tmp_path,
                                                                                   forbid_curvature):
    """Neither is keyed (the device by its type): a gate with another --threads, or --device cpu
    where auto is the CPU, spends no HVPs and states the stored prediction."""
    cache = tmp_path / "cache"
    first = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300, "--threads", 1))
    forbid_curvature()
    again = _doc(_gate(cli, own_ckpt, cache, "--max-samples", 300, "--threads", 2, "--device", "cpu"))
    assert again["cache_hit"] is True and _prediction(again) == _prediction(first)


def test_a_cache_folder_that_is_a_file_is_named_as_one(cli, own_ckpt, tmp_path, monkeypatch):
    """``PRUNELIMIT_CACHE_DIR`` (or ``--cache-dir``) naming a file, or a folder under one: the
    warning said the folder 'cannot be created (File exists)'; it names the file."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(blocker))
    result = cli("gate", own_ckpt, *GATE, "--max-samples", 300)
    assert _doc(result)["cache_hit"] is False and "it is a file, not a folder" in result.stderr
    given = _gate(cli, own_ckpt, blocker / "cache", "--max-samples", 300)
    assert given.exit_code == 2 and f"{blocker} is a file, not a folder" in given.stderr
    assert blocker.read_text() == "not a folder"


def test_a_cache_folder_that_is_a_dangling_link_is_named_as_one(cli, own_ckpt, tmp_path, monkeypatch):
    """``--cache-dir`` (or ``PRUNELIMIT_CACHE_DIR``) a symbolic link to a missing folder, or a
    folder under one: it 'cannot be created (File exists)'; the link and its target are named."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(link))
    result = cli("gate", own_ckpt, *GATE, "--max-samples", 300)
    assert _doc(result)["cache_hit"] is False
    assert f"cache folder {link}: it is a symbolic link to {tmp_path / 'gone'}, which does not exist" in result.stderr
    given = _gate(cli, own_ckpt, link / "cache", "--max-samples", 300)
    assert given.exit_code == 2, given.stderr
    assert given.stderr == (f"prunelimit: error: cache folder {link / 'cache'}: {link} is a symbolic link to "
                            f"{tmp_path / 'gone'}, which does not exist; pass another --cache-dir or --no-cache\n")
    assert not (tmp_path / "gone").exists()


def test_a_cache_folder_that_cannot_take_entries_warns_once_and_the_command_succeeds(cli, own_ckpt, tmp_path,
                                                                                       monkeypatch):
    """A disk that fills after the folder was checked: the spectrum and its --per-layer blocks
    each warned that their entry could not be written; one warning says so, the command
    succeeds with what an uncached run gives, and no entry or temporary file is left."""
    import errno

    from prunelimit.io import atomic

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    uncached = _doc(cli("bounds", own_ckpt, *SMALL, "--per-layer", "--json", "--no-cache"))
    monkeypatch.setattr(atomic, "write_atomic", full)
    result = cli("bounds", own_ckpt, *SMALL, "--per-layer", "--json", "--cache-dir", tmp_path / "cache")
    doc = _doc(result)
    for one in (doc, uncached):
        one["layer_curvature"].pop("seconds")
    assert _without_timing(doc) == _without_timing(uncached)
    assert [line for line in result.stderr.splitlines() if "cache" in line] == [
        line for line in result.stderr.splitlines() if "could not write cache entry" in line and "No space" in line]
    assert result.stderr.count("could not write cache entry") == 1 and not list((tmp_path / "cache").iterdir())


class _Scaled(torch.nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.a, self.b, self.scale = torch.nn.Linear(64, 4), torch.nn.Linear(4, 10), scale

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)) * self.scale)


def test_a_traced_module_keys_by_what_was_traced_into_it():
    """A traced module keeps its code and the constants baked in when it was traced in
    TorchScript, not in attributes: a factory tracing the same weights with a scale read from
    a file kept the key after the file changed (gate: 0.4186 cached vs 0.3906 fresh). The same
    module traced again (TorchScript numbers its classes anew in a process) keeps the key,
    alone or as a submodule of a Python model."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    x = torch.randn(20, 64, generator=torch.Generator().manual_seed(0))
    data = (x, torch.arange(20) % 10)
    torch.manual_seed(0)
    weights = _Scaled(1.0).state_dict()

    def key(scale: float, nested: bool = False) -> str:
        module = _Scaled(scale)
        module.load_state_dict(weights)
        traced = torch.jit.trace(module, x[:4])
        model = torch.nn.Sequential(torch.nn.Identity(), traced) if nested else traced
        return input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions())

    assert key(1.0) == key(1.0) != key(3.0)
    assert key(1.0, nested=True) == key(1.0, nested=True) != key(3.0, nested=True)


class _GradientMix(torch.nn.Module):
    """The identity in value; the gradient through it is scaled by ``scale``."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, out):
        return out.detach() * (1 - self.scale) + out * self.scale


def test_a_traced_module_the_loss_uses_keys_by_what_was_traced_into_it():
    """A loss whose module holds a trace (``MIX = torch.jit.trace(Mix(scale), ...)`` with the scale
    read from a file as the module was imported): a module outside the model was keyed by its
    tensors and attributes, and a trace keeps its constants in its code, so gate served the
    spectrum of the old scale (0.804 cached vs 0.733 fresh; the first batch's loss, the
    entry's witness, is the same for every scale). The key itself follows the trace now."""
    import torch.nn.functional as F

    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key, split_key

    x = torch.randn(20, 64, generator=torch.Generator().manual_seed(0))
    data = (x, torch.arange(20) % 10)

    def digest(scale: float) -> str:
        mix = torch.jit.trace(_GradientMix(scale), torch.zeros(2, 10))

        def loss(output, target):  # a criterion, as the library takes one
            return F.cross_entropy(mix(output), target)

        torch.manual_seed(0)
        inputs = prunelimit.inputs_from(torch.nn.Sequential(torch.nn.Linear(64, 10)), data, loss=loss)
        return split_key(input_key(inputs, "spectrum", CurvatureOptions()))[0]

    assert digest(1.0) == digest(1.0) != digest(3.0)


_PATCH = {"scale": 1.0}


def _scaled_linear(self, x):
    return torch.nn.functional.linear(x, self.weight, self.bias) * _PATCH["scale"]


def test_a_method_the_users_code_puts_on_an_installed_class_is_keyed(monkeypatch):
    """``nn.Linear.forward = scaled_forward`` (a patch of torch's class, as LoRA-style code does):
    an installed class counted by its name alone, so the patch and the values it reads were
    not keyed, and only the entry's witness (the first batch's loss) could catch a change."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key, split_key

    data = (torch.randn(20, 64, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 10)

    def digest() -> str:
        torch.manual_seed(0)
        inputs = prunelimit.inputs_from(torch.nn.Sequential(torch.nn.Linear(64, 10)), data)
        return split_key(input_key(inputs, "spectrum", CurvatureOptions()))[0]

    plain = digest()
    monkeypatch.setattr(torch.nn.Linear, "forward", _scaled_linear)
    digests = []
    for scale in (1.0, 1.0, 3.0):
        monkeypatch.setitem(_PATCH, "scale", scale)
        digests.append(digest())
    assert plain != digests[0] == digests[1] != digests[2]


_RELU = torch.relu


def _scaled_relu(x, inplace=False):
    return _RELU(x) * _PATCH["scale"]


def _scaled_relu_by(factor, x, inplace=False):
    return _RELU(x) * factor


class _ScaledRelu:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, x, inplace=False):
        return _RELU(x) * self.factor


class _ScaledReluFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _RELU(x) * _PATCH["scale"]

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0) * _PATCH["scale"]


class _TensorRelu(torch.nn.Module):
    def forward(self, x):
        return x.relu()


# (installed module or class, attribute, the user's callable for a scale); every model's forward reaches it
_PUT_ON_INSTALLED = {
    "functional": (torch.nn.functional, "relu", lambda scale: _scaled_relu),
    "torch": (torch, "relu", lambda scale: _scaled_relu),  # F.relu calls torch.relu
    "tensor-method": (torch.Tensor, "relu", lambda scale: _scaled_relu),
    "partial": (torch.nn.functional, "relu", lambda scale: functools.partial(_scaled_relu_by, scale)),
    "callable-object": (torch.nn.functional, "relu", lambda scale: _ScaledRelu(scale)),
    "autograd-function": (torch, "relu", lambda scale: _ScaledReluFunction.apply),
}


@pytest.mark.parametrize("case", _PUT_ON_INSTALLED)
def test_a_function_the_users_code_puts_on_an_installed_module_is_keyed(monkeypatch, case):
    """``torch.nn.functional.relu = scaled_relu`` in the user's models.py (and ``torch.relu = ...``,
    ``torch.Tensor.relu = ...``, a ``functools.partial``, a callable object, an
    ``autograd.Function``'s ``apply``): installed
    modules count by their name alone, so the function put there and the values it reads (a
    scale loaded at import, a partial's argument) were not keyed: the digest stayed the same
    with the scale 1.0 and 3.0, and only the entry's witness could catch a change."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key, split_key

    data = (torch.randn(20, 64, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 10)
    owner, name, made = _PUT_ON_INSTALLED[case]
    act = _TensorRelu if case == "tensor-method" else torch.nn.ReLU

    def digest() -> str:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 4), act(), torch.nn.Linear(4, 10))
        return split_key(input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions()))[0]

    plain = digest()
    digests = []
    for scale in (1.0, 1.0, 3.0):
        monkeypatch.setitem(_PATCH, "scale", scale)
        monkeypatch.setattr(owner, name, made(scale))
        digests.append(digest())
    assert plain != digests[0] == digests[1] != digests[2]


def test_a_value_a_user_module_computes_in_its_getattr_is_keyed(tmp_path, monkeypatch):
    """``cfg.SCALE`` where ``cfg`` defines no ``SCALE`` but a module ``__getattr__`` that reads
    it from a JSON file (a lazy config): the file changed and gate served the old spectrum
    (0.4186 cached vs 0.3906 fresh). The ``__getattr__`` is keyed like the values it stands for."""
    import importlib

    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key

    (tmp_path / "pllazycfg.py").write_text("import json\n\n\ndef __getattr__(name):\n"
                                           "    return json.load(open('lazy.json'))[name]\n")
    (tmp_path / "pllazymodel.py").write_text("import pllazycfg\nfrom torch import nn\n\n\nclass Scaled(nn.Sequential):\n"
                                             "    def forward(self, x):\n"
                                             "        return super().forward(x * pllazycfg.SCALE)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    data = (torch.randn(20, 64, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 10)
    torch.manual_seed(0)
    model = importlib.import_module("pllazymodel").Scaled(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
    keys = []
    for scale in ("1.0", "1.0", "3.0"):
        (tmp_path / "lazy.json").write_text(f'{{"SCALE": {scale}}}')
        keys.append(input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions()))
    for name in ("pllazycfg", "pllazymodel"):
        monkeypatch.delitem(sys.modules, name)
    assert keys[0] == keys[1] != keys[2]



# a model holding the user's module plheldcfg, which loads SCALE from scale.txt at import, as a value
HOLDS_MODULE = {
    "attribute": ("    def __init__(self, *layers):\n        super().__init__(*layers)\n        self.settings = plheldcfg\n\n"
                  "    def forward(self, x):\n        return super().forward(x * self.settings.SCALE)\n"),
    "default": "    def forward(self, x, settings=plheldcfg):\n        return super().forward(x * settings.SCALE)\n",
    "package": ("    def __init__(self, *layers):\n        super().__init__(*layers)\n        self.root = plheldpkg\n\n"
                "    def forward(self, x):\n        return super().forward(x * self.root.sub.SCALE)\n"),
}


@pytest.mark.parametrize("case", HOLDS_MODULE)
def test_a_value_of_a_user_module_the_model_holds_is_keyed(tmp_path, monkeypatch, case):
    """``self.settings = cfg`` and ``forward`` reading ``self.settings.SCALE`` (or a default
    argument ``settings=cfg``, or ``self.root.sub.SCALE`` through a package), ``cfg`` loading
    ``SCALE`` from scale.txt at import: a module met as a value counted by its name alone, so
    scale.txt 1.0 -> 3.0 kept the key (the witness alone told 2.2875 from 2.3205)."""
    import importlib

    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key, split_key

    config = "import pathlib\n\nSCALE = float((pathlib.Path(__file__).parent / 'scale.txt').read_text())\n"
    (tmp_path / "plheldcfg.py").write_text(config)
    (tmp_path / "plheldpkg").mkdir()
    (tmp_path / "plheldpkg" / "__init__.py").write_text("from plheldpkg import sub\n")
    (tmp_path / "plheldpkg" / "sub.py").write_text(config.replace("parent", "parent.parent"))
    (tmp_path / "plheldnet.py").write_text("import plheldcfg\nimport plheldpkg\nfrom torch import nn\n\n\n"
                                           f"class Scaled(nn.Sequential):\n{HOLDS_MODULE[case]}")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = (torch.randn(20, 64, generator=torch.Generator().manual_seed(0)), torch.arange(20) % 10)
    digests = []
    for scale in ("1.0", "1.0", "3.0"):
        (tmp_path / "scale.txt").write_text(scale)
        for name in ("plheldcfg", "plheldpkg", "plheldpkg.sub", "plheldnet"):
            sys.modules.pop(name, None)
        torch.manual_seed(0)
        model = importlib.import_module("plheldnet").Scaled(torch.nn.Linear(64, 4), torch.nn.ReLU(),
                                                            torch.nn.Linear(4, 10))
        digests.append(split_key(input_key(prunelimit.inputs_from(model, data), "spectrum", CurvatureOptions()))[0])
    for name in ("plheldcfg", "plheldpkg", "plheldpkg.sub", "plheldnet"):
        sys.modules.pop(name, None)
    assert digests[0] == digests[1] != digests[2]


def test_an_entry_of_another_model_of_the_same_shape_under_this_key_is_a_miss(cli, own_ckpt, tmp_path):
    """Another model's spectrum, of the same architecture and so of the same dimension and
    tensors, rewritten under this key with its digest recomputed: every check of its shape passed
    and gate gave the other model's verdict. Its witness, or the lack of one, gives it away."""
    from prunelimit.cache import decode_entry, encode_entry
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.models.spec import build_model

    other = tmp_path / "other.pt"
    torch.manual_seed(7)
    save_checkpoint(other, SMALL_SPEC, build_model(SMALL_SPEC).state_dict(), meta={"data": "digits:train"})
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    first = _doc(_gate(cli, own_ckpt, mine, "--max-samples", 300))
    assert _prediction(_doc(_gate(cli, other, theirs, "--max-samples", 300))) != _prediction(first)
    entry, foreign = _spectrum_entry(mine), _spectrum_entry(theirs)
    found = decode_entry(foreign.read_bytes(), _stored_key(foreign), "spectrum")
    theirs_witness = _stored_key(foreign).partition("~")[2]
    for key in (entry.stem, f"{entry.stem}~{theirs_witness}"):  # without a witness, with the other's
        entry.write_bytes(encode_entry(found, key, "spectrum"))
        second = _gate(cli, own_ckpt, mine, "--max-samples", 300)
        doc = _doc(second)
        assert doc["cache_hit"] is False and _prediction(doc) == _prediction(first)
        assert "ignoring cache entry" in second.stderr and "Traceback" not in second.stderr
