"""Bad-input corpus (issue 8; docs/bad-input.md): every command meets strangers' files safely.

Each case asserts the exit code, a short ``prunelimit: error:`` message that names the
input, no traceback, nothing on stdout and no (partial) output file. The in-process
``cli`` runner keeps the corpus fast; a few real subprocess runs check what a shell sees,
that a malicious pickle never executes, and that Ctrl-C (SIGINT) exits 130 cleanly.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from prunelimit.sparse.sparse_file import FORMAT as SPARSE_FORMAT
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model
from tests.conftest import junit_error_report, signals_as_at_a_terminal, write_evil_pickle
from tests.conftest import SPEC

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CKPT = ROOT / "examples" / "digits-mlp.pt"
UNWRITABLE = Path("/sys")  # not writable even for root; tmpfs folders would be for root


class _Opens:
    """Pickles as ``open(marker, "w")``: unpickling it creates the file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_evil_tar(path: Path, marker: Path) -> None:
    """A checkpoint in torch's legacy .tar format whose unpickling would create ``marker``."""
    payload = pickle.dumps({"w": _Opens(marker)}, protocol=2)

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "storages", pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2))  # no storages, no views
        add(tar, "tensors", pickle.dumps(0, protocol=2))
        add(tar, "pickle", payload)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> SimpleNamespace:
    """Every bad file once per module: checkpoints, data, CSV points, configs, reports."""
    d = tmp_path_factory.mktemp("corpus")
    torch.manual_seed(0)
    model = build_model(SPEC)
    c = SimpleNamespace(dir=d, marker=d / "pickle-ran")
    c.good = d / "good.pt"
    save_checkpoint(c.good, SPEC, model.state_dict(), meta={"data": "digits:train"})
    c.sd = d / "sd.pt"
    torch.save(model.state_dict(), c.sd)
    c.missing = d / "no-such.pt"
    c.empty = d / "empty.pt"
    c.empty.write_bytes(b"")
    c.truncated = d / "truncated.pt"
    c.truncated.write_bytes(c.good.read_bytes()[:700])
    # the other formats cut short: the legacy one's last byte, TorchScript's and safetensors' half
    legacy, script, safetensors = d / "full-legacy.pt", d / "full-script.pt", d / "full.safetensors"
    torch.save(model.state_dict(), legacy, _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(model), str(script))
    save_file(model.state_dict(), str(safetensors))
    for name, full, keep in (("legacy", legacy, -1), ("script", script, 0.5), ("safetensors", safetensors, 0.5)):
        setattr(c, f"truncated_{name}", d / f"truncated-{full.name}")
        data = full.read_bytes()
        getattr(c, f"truncated_{name}").write_bytes(data[:keep if keep < 0 else int(len(data) * keep)])
    # pickle protocol 4 (FRAME, MEMOIZE, ...), which torch's weights-only loader does not read
    c.protocol4, c.data_protocol4 = d / "protocol4.pt", d / "protocol4-data.pt"
    torch.save(model.state_dict(), c.protocol4, pickle_protocol=4)
    torch.save({"x": torch.zeros(8, 64), "y": torch.zeros(8, dtype=torch.long)}, c.data_protocol4, pickle_protocol=4)
    c.data_truncated = d / "truncated-data.pt"
    torch.save({"x": torch.zeros(8, 64), "y": torch.zeros(8, dtype=torch.long)}, c.data_truncated)
    c.data_truncated.write_bytes(c.data_truncated.read_bytes()[:-1])
    # two keys naming one weight once module. is dropped, with different values; a frozen TorchScript archive
    c.prefix_collision, c.frozen_script = d / "prefix-collision.pt", d / "frozen-script.pt"
    first = next(iter(model.state_dict()))
    torch.save({**model.state_dict(), f"module.{first}": torch.zeros_like(model.state_dict()[first])},
               c.prefix_collision)
    torch.jit.save(torch.jit.freeze(torch.jit.script(model.eval())), str(c.frozen_script))
    # a Hugging Face checkpoint sharded over two safetensors files, and the JSON index naming them
    c.shard, c.shard_index = d / "model-00001-of-00002.safetensors", d / "model.safetensors.index.json"
    save_file({k: model.state_dict()[k] for k in ("0.weight", "0.bias")}, str(c.shard))
    save_file({k: model.state_dict()[k] for k in ("2.weight", "2.bias")}, str(d / "model-00002-of-00002.safetensors"))
    c.shard_index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": {
        k: f"model-0000{1 + k.startswith('2')}-of-00002.safetensors" for k in model.state_dict()}}))
    c.noise = d / "noise.pt"
    c.noise.write_bytes(np.random.default_rng(0).bytes(4096))
    c.evil = d / "evil.pt"
    write_evil_pickle(c.evil, c.marker)
    c.listing = d / "list.pt"
    torch.save([torch.zeros(2)], c.listing)
    c.not_tensor = d / "not-tensor.pt"
    torch.save({"0.weight": 3}, c.not_tensor)
    for name, value in (("nan", math.nan), ("inf", math.inf)):
        state = {k: v.clone() for k, v in model.state_dict().items()}
        state["2.weight"][0, 0] = value
        setattr(c, name, d / f"{name}.pt")
        save_checkpoint(getattr(c, name), SPEC, state, meta={"data": "digits:train"})
    # a pruned file recording a prunable set of another model (its module 'rnn'), and a damaged record
    c.other_selection, c.bad_selection = d / "other-selection.pt", d / "bad-selection.pt"
    # ... and records too large to match or name (100,000 patterns were a 1.9 MB error line), or
    # one that is no dict (it was read as no set, so N counted another set than the one pruned)
    c.many_patterns, c.long_pattern = d / "many-patterns.pt", d / "long-pattern.pt"
    c.pruned_list = d / "pruned-list.pt"
    for path, pruned in ((c.other_selection, {"include": ["rnn"], "exclude": []}), (c.bad_selection, {"include": 3}),
                         (c.many_patterns, {"include": [f"m{i}" for i in range(100_000)]}),
                         (c.long_pattern, {"exclude": ["x" * 5_000]}), (c.pruned_list, ["0", "2"])):
        save_checkpoint(path, SPEC, model.state_dict(), meta={"data": "digits:train", "pruned": pruned})
    # a torch.nn.utils.prune state dict whose weight_mask has another shape than its weight_orig
    c.torch_prune_bad_mask = d / "torch-prune-bad-mask.pt"
    state = {k: v for k, v in model.state_dict().items() if k != "0.weight"}
    torch.save({**state, "0.weight_orig": model[0].weight.detach(), "0.weight_mask": torch.ones(3, 3)},
               c.torch_prune_bad_mask)
    c.bad_safetensors = d / "bad.safetensors"
    c.bad_safetensors.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    # A user factory whose forward raises: the model loads, every data pass fails.
    c.factory = d / "broken.py"
    c.factory.write_text(
        "import torch\n"
        "class Broken(torch.nn.Linear):\n"
        "    def forward(self, x):\n"
        "        raise RuntimeError('forward exploded')\n"
        "def make():\n"
        "    return Broken(64, 10)\n"
    )
    # A user factory PyTorch cannot differentiate twice (an embedding bag): no curvature, exit 3.
    # It uses its bias: an unused one draws a warning of its own, which is not this case's.
    c.bag = d / "bag.py"
    c.bag.write_text(
        "import torch\n"
        "class Bag(torch.nn.Linear):\n"
        "    def forward(self, x):\n"
        "        return torch.nn.functional.embedding_bag(x.long(), self.weight.T) + self.bias\n"
        "def make():\n"
        "    return Bag(64, 10)\n"
    )
    # Factories whose loss reaches no parameter the way Hessian-vector products need: the weight
    # under a reentrant checkpoint (torch.autograd.grad raises), an output detached from them.
    c.reentrant = d / "reentrant.py"
    c.reentrant.write_text(
        "import torch\n"
        "class Segmented(torch.nn.Linear):\n"
        "    def forward(self, x):\n"
        "        h = x @ self.weight.T\n"
        "        return torch.utils.checkpoint.checkpoint(torch.add, h, self.bias, use_reentrant=True)\n"
        "class Detached(torch.nn.Linear):\n"
        "    def forward(self, x):\n"
        "        return super().forward(x).detach()\n"
        "def segmented():\n"
        "    return Segmented(64, 10)\n"
        "def detached():\n"
        "    return Detached(64, 10)\n"
    )
    # A prunelimit file naming a code factory: loading it must not import that file unasked.
    c.evil_factory = d / "evil_factory.py"
    c.evil_factory.write_text(f"open({str(c.marker)!r}, 'w').close()\nimport torch\nmake = lambda: torch.nn.Linear(64, 10)\n")
    c.factory_ckpt = d / "factory.pt"
    save_checkpoint(c.factory_ckpt, f"{c.evil_factory}:make", torch.nn.Linear(64, 10).state_dict(),
                    meta={"data": "digits:train"})
    c.broken = d / "broken.pt"
    torch.save(torch.nn.Linear(64, 10).state_dict(), c.broken)
    # Data files.
    c.data_empty = d / "empty.npz"
    np.savez(c.data_empty, x=np.zeros((0, 64), np.float32), y=np.zeros(0, np.int64))
    c.data_mismatch = d / "mismatch.npz"
    np.savez(c.data_mismatch, x=np.zeros((10, 64), np.float32), y=np.zeros(9, np.int64))
    c.data_text = d / "text.npz"
    np.savez(c.data_text, x=np.array([["a"] * 64] * 4), y=np.zeros(4, np.int64))
    c.data_labels = d / "labels.npz"
    np.savez(c.data_labels, x=np.zeros((8, 64), np.float32), y=np.full(8, 50, np.int64))
    c.data_nan = d / "nan-x.npz"
    x = np.zeros((8, 64), np.float32)
    x[3, 3] = np.nan
    np.savez(c.data_nan, x=x, y=np.zeros(8, np.int64))
    c.data_nan_y = d / "nan-y.npz"  # regression targets with a NaN (mse)
    y = np.zeros((8, 10), np.float32)
    y[2, 5] = np.nan
    np.savez(c.data_nan_y, x=np.zeros((8, 64), np.float32), y=y)
    c.data_features = d / "features.npz"
    np.savez(c.data_features, x=np.zeros((8, 7), np.float32), y=np.zeros(8, np.int64))
    c.data_float_labels = d / "float-labels.npz"  # class indices saved as floats
    np.savez(c.data_float_labels, x=np.zeros((8, 64), np.float32), y=np.arange(8, dtype=np.float64))
    c.data_soft = d / "soft-y.npz"  # a teacher's probabilities, one row a sample (distillation)
    soft = np.random.default_rng(0).random((8, 10))
    np.savez(c.data_soft, x=np.zeros((8, 64), np.float32), y=soft / soft.sum(1, keepdims=True))
    c.data_real = d / "real-y.npz"
    np.savez(c.data_real, x=np.zeros((8, 64), np.float32), y=np.linspace(0, 1, 8))
    c.data_noise = d / "noise.npz"
    c.data_noise.write_bytes(np.random.default_rng(1).bytes(512))
    c.data_same = d / "same.npz"
    np.savez(c.data_same, x=np.zeros((8, 64), np.float32), y=np.zeros(8, np.int64))
    c.data_nokeys = d / "nokeys.npz"
    np.savez(c.data_nokeys, a=np.zeros(3))
    # Law CSVs.
    for name, text in {
        "csv_empty": "", "csv_header": "x,y\n0.5,1\n", "csv_text": "density,gamma\n0.5,abc\n",
        "csv_range": "density,gamma\n1.5,0.2\n", "csv_norows": "density,gamma\n",
        "err_header": "density,acc\n0.5,0.1\n", "err_text": "density,error\n0.5,high\n",
        "csv_fields": "density,gamma\n0.5,1\n0.4,2,9\n0.3,3\n", "err_fields": "density,error\n1,0.05\n0.8,0.05,x\n",
        "csv_rising": "density,gamma\n0.1,1\n0.2,2\n0.3,3\n0.4,4\n",
        "csv_huge_gamma": "density,gamma\n0.4,1e300\n0.1,2e300\n0.025,4e300\n",
        "csv_twice": "density,gamma,gamma\n0.5,1,9\n0.4,2,8\n0.3,3,7\n",
        "err_semicolons": "density;error\n1;0,05\n0,5;0,1\n",
        "err_good": "density,error\n" + "".join(f"{0.7 ** k!r},{min(0.9, 0.05 * 1.25 ** k)!r}\n" for k in range(12)),
    }.items():
        setattr(c, name, d / f"{name}.csv")
        getattr(c, name).write_text(text)
    c.csv_binary = d / "binary.csv"
    c.csv_binary.write_bytes(b"\xff\xfe\x00\x81" * 64)
    # Configs.
    for name, text in {
        "cfg_unknown": "bogus_key: 1\n", "cfg_type": "batch_size: many\n", "cfg_yaml": "a: [\n",
        "cfg_list": "- a\n- b\n", "cfg_section": "bounds: 3\n", "cfg_ratio": "prune:\n  ratio: 2\n",
        "cfg_iters": "iterations: -3\n", "cfg_rules": "gate:\n  rules: 5\n",
        "cfg_rule_bad": "gate:\n  rules:\n    - min_ratio: 7\n", "cfg_bool_number": "gate:\n  min_ratio: true\n",
        "cfg_twice": "gate:\n  min_ratio: 0.95\n  min_ratio: 0.1\n",
        "cfg_spelled_twice": "min-ratio: 0.95\nmin_ratio: 0.1\n",
        "cfg_base60": "time_budget: 1:30\n",  # YAML 1.1 read it as 90 (base 60)
        "cfg_seconds_unit": "time_budget: 10s\n", "cfg_count_exponent": "max_hvps: 2e7\n",
        "cfg_plot_number": "plot: 3\n", "cfg_baseline_list": "gate:\n  baseline: [a.json]\n",
        "cfg_output_mapping": "prune:\n  output: {path: p.pt}\n",
        # a NUL in a name, which only YAML's "\x00" writes (argv cannot): the OS's ValueError was exit 5 (1 for a junit)
        "cfg_plot_nul": 'plot: "b\\x00.png"\n', "cfg_junit_nul": 'min_ratio: 0.1\njunit: "g\\x00.xml"\n',
        "cfg_data_nul": 'data: "tensors:x\\x00.npz"\n', "cfg_loss_nul": 'loss: "l\\x00.py:fn"\n',
    }.items():
        setattr(c, name, d / f"{name}.yaml")
        getattr(c, name).write_text(text)
    c.cfg_binary = d / "binary.yaml"
    c.cfg_binary.write_bytes(b"\xff\xfe\x00\x81" * 16)
    c.cfg_utf16 = d / "utf16.yaml"  # Windows editors' "Unicode"
    c.cfg_utf16.write_bytes("iterations: 8\n".encode("utf-16"))
    c.report_bad = d / "report.json"
    c.report_bad.write_text("{not json")
    c.report_other = d / "other.json"
    c.report_other.write_text(json.dumps({"schema": "something/1"}))
    c.report_array = d / "array.json"
    c.report_array.write_text("[0.5]")
    c.report_spectrum = d / "spectrum.json"  # a ρ* without ε, bounds or the model it is for
    c.report_spectrum.write_text(json.dumps({"schema": "prunelimit.spectrum/1", "prediction": {"ratio": 0.5}}))
    # a bounds report whose provenance entries are of another JSON type than prunelimit writes
    # (each was compared as it stood: a number for a fingerprint was exit 5, options that are
    # no object compared no option)
    bounds_doc = {"schema": "prunelimit.bounds/1", "method": "default", "prediction": {"ratio": 0.5},
                  "bounds": {"lower": 0.4, "upper": 0.6}, "epsilon": 0.01}
    for name, damage in {"fingerprint_number": {"data": {"fingerprint": 12345}},
                         "hessian_text": {"params": {"hessian": "2,410", "prunable": 2368}},
                         "options_list": {"options": ["epsilon", 0.5]},
                         "ratio_huge": {"bounds": {"lower": 10**400}}}.items():
        setattr(c, f"report_{name}", d / f"{name}.json")
        getattr(c, f"report_{name}").write_text(json.dumps({**bounds_doc, **damage}))
    c.existing = d / "existing.pt"
    c.existing.write_bytes(b"keep me")
    c.existing_png, c.existing_csv = d / "existing.png", d / "existing.csv"  # outputs of those formats
    c.existing_png.write_bytes(b"keep me")
    c.existing_csv.write_bytes(b"keep me")
    c.file_as_dir = d / "afile"
    c.file_as_dir.write_text("x")
    c.sparse_deep = d / "deep-meta.safetensors"  # an export whose meta nests deeper than a checkpoint may
    save_file({"0/dense": torch.ones(2)}, str(c.sparse_deep), metadata={
        "format": SPARSE_FORMAT, "tensors": json.dumps([{"name": "w", "shape": [2], "format": "dense"}]),
        "meta": json.dumps({"notes": json.loads("[" * 150 + "]" * 150)})})
    # inputs of the wrong kind: a folder or a FIFO under a file's name exists, so "not found" misleads
    c.folder_py, c.folder_npz = d / "folder.py", d / "folder.npz"
    c.folder_py.mkdir()
    c.folder_npz.mkdir()
    c.fifo_py = d / "fifo.py"
    os.mkfifo(c.fifo_py)
    # code in other containers: torch's legacy (non-zip) format, a Lightning-style record, a module in a dict
    c.evil_legacy = d / "evil-legacy.pt"
    write_evil_pickle(c.evil_legacy, c.marker, legacy=True)
    c.evil_tar = d / "evil.tar"
    write_evil_tar(c.evil_tar, c.marker)
    # Specs recorded in a file that are not valid: the file's fault (exit 3), not a usage error.
    c.recorded_bad_model = d / "recorded-bad-model.pt"
    save_checkpoint(c.recorded_bad_model, "mlp:64,x,10", model.state_dict(), meta={"data": "digits:train"})
    c.recorded_bad_data = d / "recorded-bad-data.pt"
    save_checkpoint(c.recorded_bad_data, SPEC, model.state_dict(), meta={"data": "digits:tset"})
    c.recorded_bad_eval = d / "recorded-bad-eval.pt"
    save_checkpoint(c.recorded_bad_eval, SPEC, model.state_dict(),
                    meta={"data": "digits:train", "eval_data": "nosuch:x"})
    # Specs recorded with a relative file that is in neither folder the reader looks in.
    c.recorded_gone_data = d / "recorded-gone-data.pt"
    save_checkpoint(c.recorded_gone_data, SPEC, model.state_dict(), meta={"data": "tensors:gone.pt"})
    c.recorded_gone_eval = d / "recorded-gone-eval.pt"
    save_checkpoint(c.recorded_gone_eval, SPEC, model.state_dict(),
                    meta={"data": "digits:train", "eval_data": "tensors:gone.pt"})
    c.numpy_ckpt = d / "weights.npz"  # a numpy archive given as the checkpoint
    np.savez(c.numpy_ckpt, **{k: v.numpy() for k, v in model.state_dict().items()})
    c.data_zero_bytes = d / "zero-bytes.pt"
    c.data_zero_bytes.write_bytes(b"")
    c.module_in_dict = d / "module.ckpt"
    torch.save({"model": model, "epoch": 3}, c.module_in_dict)
    c.int_weights = d / "int8.pt"  # a quantized export's raw integers, its scales elsewhere
    torch.save({k: (v * 100).to(torch.int8) for k, v in model.state_dict().items()}, c.int_weights)
    c.loop = d / "loop.pt"
    c.loop.symlink_to(c.loop)
    # user code that ends the process (exit 0 would read as success, a gate passed), or returns no loss
    c.user = d / "user.py"
    c.user.write_text(
        "import sys, torch\n"
        "def exits(): sys.exit(0)\n"
        "class Stop(BaseException): pass\n"
        "def stops(): raise Stop('not an Exception')\n"
        "def meta():\n    with torch.device('meta'): return torch.nn.Sequential(torch.nn.Linear(64, 10))\n"
        "def exits_later(model, batch):  # midway, after the load-time checks' few calls\n"
        "    if _calls.append(0) or len(_calls) > 8: sys.exit(0)\n"
        "    return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])\n"
        "def per_sample(model, batch):\n"
        "    return torch.nn.functional.cross_entropy(model(batch[0]), batch[1], reduction='none')\n"
        "def number(model, batch): return 1.0\n"
        "def detached(model, batch):\n"
        "    return torch.nn.functional.cross_entropy(model(batch[0]), batch[1]).detach()\n"
        "def three(model, batch, extra): return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])\n"
        "def none(): return torch.tensor(1.0)\n"
        "not_callable = 3\n"
        "def integer(model, batch): return model(batch[0]).argmax(1).sum()\n"
        "_calls = []\n"
        "class Later(torch.nn.Sequential):  # fails midway, on data the load-time checks do not run\n"
        "    def forward(self, x):\n"
        "        if len(_calls) > 8: raise ValueError('no batch past the eighth')\n"
        "        _calls.append(0)\n"
        "        return super().forward(x)\n"
        "def later(): return Later(torch.nn.Linear(64, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10))\n"
        "class Fixed(torch.nn.Sequential):  # fixes the batch size: fails on the short last batch\n"
        "    def forward(self, x): return super().forward(x.view(128, -1))\n"
        "def fixed(): return Fixed(torch.nn.Linear(64, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10))\n"
        "def needs(width): return torch.nn.Linear(64, width)\n"
    )
    c.exits_on_import = d / "exits_on_import.py"
    c.exits_on_import.write_text("import sys\nsys.exit(0)\n")
    c.data_objects = d / "objects.npz"
    np.savez(c.data_objects, x=np.array([object()] * 8, dtype=object), y=np.zeros(8, np.int64))
    c.data_npy = d / "x.npy"
    np.save(c.data_npy, np.zeros((8, 64), np.float32))
    c.data_csv = d / "data.csv"  # another format under tensors:
    c.data_csv.write_text("x,y\n0.5,1\n")
    c.cfg_python = d / "python-tag.yaml"
    c.cfg_python.write_text(f"iterations: !!python/object/apply:os.system ['touch {c.marker}']\n")
    return c


@dataclass(frozen=True)
class Case:
    """One bad invocation: ``args(corpus, out_dir)``, the exit code and a message excerpt."""

    name: str
    args: Callable[[SimpleNamespace, Path], list]
    code: int
    message: str


CKPT_COMMANDS: dict[str, Callable[[Path, Path], list]] = {
    "info": lambda ck, out: ["info", ck],
    "spectrum": lambda ck, out: ["spectrum", ck, "--plot", out / "s.png"],
    "bounds": lambda ck, out: ["bounds", ck, "--plot", out / "b.png"],
    "prune": lambda ck, out: ["prune", ck, "--ratio", "0.5", "-o", out / "p.pt"],
    "verify": lambda ck, out: ["verify", ck, "--plot", out / "v.png"],
    "gate": lambda ck, out: ["gate", ck, "--min-ratio", "0.1", "--no-cache", "--junit", out / "g.xml"],
    "law-nplh": lambda ck, out: ["law", "nplh", ck, "-o", out / "n.csv"],
    "hyperflux": lambda ck, out: ["hyperflux", ck, "--target-density", "0.5", "-o", out / "h.pt"],
    "imp": lambda ck, out: ["imp", ck, "-o", out / "imp", "--levels", "1", "--epochs", "1"],
}

# Checkpoint problems, run against every command that reads a checkpoint.
CKPT_CASES = [
    ("missing", lambda c: [c.missing], 3, "not found"),
    ("empty", lambda c: [c.empty], 3, "is empty"),
    ("truncated", lambda c: [c.truncated], 3, "is truncated: it begins as a zip archive (torch.save's format) but its "
     "end, the zip directory, is missing; copy or save it again"),
    ("truncated-legacy", lambda c: [c.truncated_legacy, "--model", SPEC], 3,
     "bytes for it; the file is truncated, corrupt or hostile"),
    ("truncated-torchscript", lambda c: [c.truncated_script, "--trust-pickle"], 3,
     "is truncated: it begins as a zip archive"),
    ("truncated-safetensors", lambda c: [c.truncated_safetensors, "--model", SPEC], 3,
     "is truncated: its header places the tensors' bytes up to byte"),
    ("random-bytes", lambda c: [c.noise], 3, "not a readable PyTorch file"),
    # was "not a readable PyTorch file (corrupt pickle data)": the file is whole, only its protocol is not read
    ("pickle-protocol-4", lambda c: [c.protocol4, "--model", SPEC], 3,
     "uses pickle opcode FRAME (pickle protocol 4), which torch's weights-only loader does not read; save it again "
     "with torch.save's default protocol (or as safetensors), or, if you trust its source, pass --trust-pickle"),
    # a CSV read as a protocol-0 pickle ('d' is its DICT opcode) was said to need --trust-pickle
    ("text-csv", lambda c: [c.csv_rising, "--model", SPEC], 3, "csv_rising.csv is a text file (it begins "
     "'density,gamma'), not a PyTorch or safetensors checkpoint; give the file torch.save(model.state_dict(), FILE) "
     "wrote"),
    # the index was "not a readable PyTorch file (corrupt pickle data)"; a shard said only which keys were missing
    ("shard-index", lambda c: [c.shard_index, "--model", SPEC], 3, "model.safetensors.index.json is the index of a "
     "checkpoint sharded over 2 file(s) (model-00001-of-00002.safetensors, model-00002-of-00002.safetensors), not "
     "weights; prunelimit reads one file: merge the shards into one"),
    ("one-shard", lambda c: [c.shard, "--model", SPEC], 3, "missing keys 2.weight, 2.bias; by its name it is shard 1 "
     "of 2; prunelimit reads one file: merge the shards"),
    ("prefix-collision", lambda c: [c.prefix_collision, "--model", SPEC], 3,
     "both name '0.weight' once the module./_orig_mod. prefixes are dropped, and hold different values"),
    ("frozen-torchscript", lambda c: [c.frozen_script, "--trust-pickle"], 3,
     "holds no parameters (torch.jit.freeze makes the weights constants of its code)"),
    ("pickle-code", lambda c: [c.evil], 3, "--trust-pickle"),
    ("not-a-dict", lambda c: [c.listing], 3, "not a state dict"),
    ("non-tensor-entry", lambda c: [c.not_tensor], 3, "is not a tensor"),
    ("bad-safetensors", lambda c: [c.bad_safetensors], 3, "not a readable safetensors"),
    ("factory-in-file", lambda c: [c.factory_ckpt], 3, "would import and run code"),
    ("torch-prune-mask-shape", lambda c: [c.torch_prune_bad_mask, "--model", SPEC], 3,
     "the mask '0.weight' matches no weight of its shape; the file is damaged"),
    ("wrong-architecture", lambda c: [c.sd, "--model", "mlp:64,5,10"], 3,
     "shape mismatch 0.weight (12, 64) in the file vs (5, 64) in the model, 0.bias (12,) vs (5,)"),
    ("nan-weights", lambda c: [c.nan], 3, "2.weight"),
    ("recorded-selection-of-another-model", lambda c: [c.other_selection], 3,
     "was pruned with --include 'rnn', which does not fit this model"),
    ("recorded-selection-damaged", lambda c: [c.bad_selection], 3,
     "meta.pruned's include/exclude are not lists of module-name patterns"),
    ("recorded-selection-too-large", lambda c: [c.many_patterns], 3,
     "meta.pruned's include/exclude are not lists of module-name patterns (at most 1,000, of at most 1,000 "
     "characters)"),
    ("recorded-selection-not-a-dict", lambda c: [c.pruned_list], 3, "meta.pruned is a list, not a dict; the file is "
     "damaged"),
    ("inf-weights", lambda c: [c.inf], 3, "2.weight"),
    ("legacy-pickle-code", lambda c: [c.evil_legacy], 3, "--trust-pickle"),
    ("module-in-dict", lambda c: [c.module_in_dict], 3, "--trust-pickle"),
    ("legacy-tar-pickle", lambda c: [c.evil_tar], 3, "is in PyTorch's legacy .tar format, which is read only by "
     "unpickling, and unpickling can run code; if you trust its source, pass --trust-pickle"),
    ("integer-weights", lambda c: [c.int_weights, "--model", SPEC], 3,
     "integer or boolean values for the float tensors 0.weight (int8)"),
    ("device", lambda c: ["/dev/zero"], 3, "is a device, FIFO or socket"),
    ("recorded-model-invalid", lambda c: [c.recorded_bad_model], 3,
     "its recorded model spec is not valid (bad model spec 'mlp:64,x,10': mlp sizes must be integers; size 2: got "
     "'x', not a number); pass --model"),
    ("numpy-archive", lambda c: [c.numpy_ckpt], 3, "is a numpy .npz archive, not a PyTorch or safetensors checkpoint"),
    ("symlink-loop", lambda c: [c.loop], 3, "cannot be read (Too many levels of symbolic links)"),
]


def _ckpt_cases() -> list[Case]:
    cases = []
    for command, build in CKPT_COMMANDS.items():
        for name, extra, code, message in CKPT_CASES:
            def args(c, out, build=build, extra=extra):
                ckpt, *flags = extra(c)
                return [*build(ckpt, out), *flags]

            cases.append(Case(f"{command}/{name}", args, code, message))
    return cases


def _p(*args) -> Callable[[SimpleNamespace, Path], list]:
    """Args with ``{name}`` placeholders filled from the corpus (``{out}``: the output folder)."""

    def build(c, out):
        return [str(a).format(out=out, **vars(c)) for a in args]

    return build


G = "{good}"
OTHER_CASES = [
    # models whose forward fails; model specs
    Case("bounds/forward-fails", _p("bounds", "{broken}", "--model", "{factory}:make", "--data", "digits"), 3,
         "forward exploded"),
    Case("bounds/no-second-derivative", _p("bounds", "{broken}", "--model", "{bag}:make", "--data", "digits",
                                            "--max-samples", "64", "--batch-size", "32"), 3, "_embedding_bag_backward, which PyTorch cannot differentiate twice"),
    Case("bounds/reentrant-checkpoint", _p("bounds", "{broken}", "--model", "{reentrant}:segmented", "--data", "digits",
                                           "--max-samples", "64", "--batch-size", "32"), 3,
         "torch.utils.checkpoint with use_reentrant=True, which Hessian-vector products"),
    Case("bounds/loss-without-parameters", _p("bounds", "{broken}", "--model", "{reentrant}:detached", "--data",
                                              "digits", "--max-samples", "64", "--batch-size", "32"), 3,
         "the loss depends on none of the Hessian's parameters"),
    Case("info/forward-fails", _p("info", "{broken}", "--model", "{factory}:make", "--data", "digits"), 3,
         "forward exploded"),
    Case("info/recorded-pattern-too-long", _p("info", "{long_pattern}"), 3,
         "long-pattern.pt: meta.pruned's include/exclude are not lists of module-name patterns (at most 1,000, of"),
    Case("info/bad-model-spec", _p("info", "{sd}", "--model", "mlp:x"), 2, "mlp sizes must be integers"),
    Case("info/zero-width-mlp", _p("info", "{sd}", "--model", "mlp:64,0,10"), 2, "positive sizes"),
    # numbers inside specs, read as a count option reads them: int() refused 1.2e1 and took 1_2; a zoo
    # override of 10.0 reached torch ("must be tuple of ints"), and one of 10.5 was no better
    Case("info/mlp-size-not-whole", _p("info", "{sd}", "--model", "mlp:64,12.5,10"), 2,
         "bad model spec 'mlp:64,12.5,10': mlp sizes must be integers; size 2: must be an integer, got '12.5'; "
         "write 12 or 13"),
    Case("info/model-count-not-whole", _p("info", "{sd}", "--model", "lenet300:num_classes=10.5"), 2,
         "bad model spec 'lenet300:num_classes=10.5': num_classes: must be an integer, got '10.5'; write 10 or 11"),
    Case("info/zero-classes", _p("info", "{sd}", "--model", "fc5:num_classes=0"), 2, "has no entries"),
    Case("info/huge-model", _p("info", "{sd}", "--model", "mlp:100000000,100000"), 3, "does not fit"),  # meta-device check
    Case("info/unknown-model", _p("info", "{sd}", "--model", "nosuchnet"), 2, "unknown model"),
    Case("info/model-kwarg", _p("info", "{sd}", "--model", "lenet5:bogus=1"), 2, "bogus"),
    Case("info/missing-factory", _p("info", "{sd}", "--model", "nofile.py:make"), 3, "nofile.py"),
    Case("info/no-model", _p("info", "{sd}"), 2, "--model SPEC"),
    # a path is read as the checkpoint it names, never as a model spec ("bad model spec ...:factory")
    Case("imp/missing-source-with-data", _p("imp", "{missing}", "--data", "digits", "-o", "{out}/imp"), 3,
         "no-such.pt not found"),
    Case("imp/source-is-folder", _p("imp", "{folder_npz}", "--data", "digits", "-o", "{out}/imp"), 3,
         "is a folder; give the checkpoint file in it"),
    # data
    Case("bounds/unknown-data", _p("bounds", G, "--data", "nosuch:1"), 2, "unknown data source"),
    # `--data train.pt` listed every source; the fix is the one it left out
    Case("bounds/data-file-no-source", _p("bounds", G, "--data", "train.pt"), 2,
         "unknown data source 'train.pt': a file of x and y is given as tensors:train.pt"),
    Case("bounds/bad-synthetic", _p("bounds", G, "--data", "synthetic:bogus=1"), 2, "bogus"),
    Case("bounds/synthetic-size", _p("bounds", G, "--data", "synthetic:samples=x"), 2,
         "bad data spec 'synthetic:samples=x': samples: got 'x', not a number"),
    # int() cut 100.5 to 100 samples; samples=1,000 split at its comma, and synthetic ignored the
    # part that was no k=v list: 512 samples, as did synthetic:1000
    Case("bounds/synthetic-count-not-whole", _p("bounds", G, "--data", "synthetic:samples=100.5"), 2,
         "bad data spec 'synthetic:samples=100.5': samples: must be an integer, got '100.5'; write 100 or 101"),
    Case("bounds/spec-number-with-comma", _p("bounds", G, "--data", "synthetic:samples=1,000"), 2,
         "bad data spec 'synthetic:samples=1,000': samples=1,000 holds a comma, which separates k=v items: a value is "
         "one number (a comma is no decimal point here, nor a thousands separator: write 1.000 or 1000)"),
    Case("bounds/max-samples-in-spec", _p("bounds", G, "--data", "digits:train:max_samples=100"), 2,
         "bad data spec 'digits:train:max_samples=100': unknown key 'max_samples'; digits takes image=...; to keep "
         "the first N samples, pass --max-samples N"),
    Case("bounds/spec-key-twice", _p("bounds", G, "--data", "synthetic:samples=100,samples=200"), 2,
         "bad data spec 'synthetic:samples=100,samples=200': samples is given twice (100 and 200); write it once"),
    Case("bounds/synthetic-argument", _p("bounds", G, "--data", "synthetic:1000"), 2,
         "bad data spec 'synthetic:1000': '1000' is no k=v option; synthetic takes samples=..., features=..., "
         "classes=..., seed=..., shape=..."),
    Case("bounds/empty-data", _p("bounds", G, "--data", "tensors:{data_empty}"), 3, "empty"),
    Case("bounds/data-truncated", _p("bounds", G, "--data", "tensors:{data_truncated}"), 3,
         "truncated-data.pt is truncated: it begins as a zip archive"),
    Case("bounds/data-zero-bytes", _p("bounds", G, "--data", "tensors:{data_zero_bytes}"), 3,
         "zero-bytes.pt is empty"),
    Case("bounds/recorded-data-invalid", _p("bounds", "{recorded_bad_data}"), 3,
         "data spec 'digits:tset' recorded in the checkpoint is not valid"),
    Case("prune/recorded-eval-data-invalid", _p("prune", "{recorded_bad_eval}", "--ratio", "0.5", "-o", "{out}/p.pt"),
         3, "data spec 'nosuch:x' recorded in the checkpoint is not valid"),
    Case("bounds/recorded-data-missing", _p("bounds", "{recorded_gone_data}"), 3,
         "records the data 'tensors:gone.pt', but neither gone.pt (here) nor"),
    Case("prune/recorded-eval-data-missing",
         _p("prune", "{recorded_gone_eval}", "--ratio", "0.5", "-o", "{out}/p.pt"), 3,
         "records the eval_data 'tensors:gone.pt', but neither gone.pt (here) nor"),
    Case("bounds/xy-mismatch", _p("bounds", G, "--data", "tensors:{data_mismatch}"), 3, "9"),
    Case("bounds/non-numeric-data", _p("bounds", G, "--data", "tensors:{data_text}"), 3, "text.npz"),
    Case("bounds/labels-out-of-range", _p("bounds", G, "--data", "tensors:{data_labels}"), 3, "label 50"),
    Case("bounds/nan-data", _p("bounds", G, "--data", "tensors:{data_nan}"), 3, "NaN"),
    Case("bounds/nan-targets", _p("bounds", G, "--data", "tensors:{data_nan_y}", "--loss", "mse"), 3,
         "nan-y.npz: y contains NaN or Inf"),
    Case("bounds/feature-mismatch", _p("bounds", G, "--data", "tensors:{data_features}"), 3, "features.npz"),
    Case("bounds/real-targets-ce", _p("bounds", G, "--data", "tensors:{data_real}"), 3, "--loss mse"),
    Case("bounds/soft-targets-ce", _p("bounds", G, "--data", "tensors:{data_soft}"), 3,
         "they are probabilities (soft targets): give class indices y.argmax(1), or keep them with --loss file.py:fn, "
         "an fn(model, batch) returning F.cross_entropy(model(x), y), which takes probabilities"),
    Case("bounds/float-class-labels", _p("bounds", G, "--data", "tensors:{data_float_labels}"), 3,
         "they are whole numbers: give class indices as integers y.long(), or use --loss mse for regression"),
    Case("bounds/mse-labels-for-outputs", _p("bounds", G, "--data", "digits", "--loss", "mse"), 3,
         "data digits: y holds 1 value(s) per sample but the model gives 10 outputs; the mse loss needs one target "
         "per output (class labels: use --loss ce)"),
    Case("bounds/data-random-bytes", _p("bounds", G, "--data", "tensors:{data_noise}"), 3,
         "noise.npz is no .npz archive, so numpy would read it as a pickle"),
    Case("bounds/data-no-keys", _p("bounds", G, "--data", "tensors:{data_nokeys}"), 3, "'x' and 'y'"),
    Case("bounds/data-missing", _p("bounds", G, "--data", "tensors:{dir}/none.npz"), 3, "not found"),
    Case("bounds/data-root-missing", _p("bounds", G, "--data", "cifar10:/no/such/dir"), 3, "does not exist"),
    Case("info/sparse-meta-deep", _p("info", "{sparse_deep}", "--model", SPEC), 3, "over 100 levels deep"),
    Case("bounds/data-root-is-file", _p("bounds", G, "--data", "imagefolder:{file_as_dir}"), 3,
         "is a file, not a folder"),
    Case("bounds/data-file-is-folder", _p("bounds", G, "--data", "tensors:{folder_npz}"), 3,
         "folder.npz is a folder; give the data file in it"),
    Case("info/model-file-is-folder", _p("info", "{sd}", "--model", "{folder_py}:make"), 3,
         "folder.py is a folder; give the model file in it"),
    Case("bounds/loss-file-is-fifo", _p("bounds", G, "--loss", "{fifo_py}:loss"), 3,
         "fifo.py is a device, FIFO or socket"),
    Case("bounds/config-is-folder", _p("bounds", G, "--config", "{folder_npz}"), 2,
         "folder.npz is a folder; give the config file in it"),
    Case("gate/baseline-is-folder", _p("gate", G, "--baseline", "{folder_npz}", "--max-drop", "0.1", "--no-cache"), 3,
         "folder.npz is a folder; give the baseline report file"),
    Case("prune/from-is-fifo", _p("prune", G, "--from", "{fifo_py}", "-o", "{out}/p.pt"), 3, "is a device, FIFO"),
    # user code that exits: its own line, never exit 0 (a gate that passed)
    Case("info/factory-exits", _p("info", "{sd}", "--model", "{user}:exits"), 3, "failed: it called sys.exit(0)"),
    Case("train/factory-exits", _p("train", "--model", "{user}:exits", "--data", "digits", "-o", "{out}/t.pt"), 3,
         "failed: it called sys.exit(0)"),
    Case("info/factory-raises-base-exception", _p("info", "{sd}", "--model", "{user}:stops"), 3,
         "user.py, line 4, ended the run: it raised Stop: not an Exception"),
    Case("info/model-file-exits-on-import", _p("info", "{sd}", "--model", "{exits_on_import}:make"), 3,
         "could not import model file"),
    Case("gate/loss-exits-later", _p("gate", G, "--min-ratio", "0.1", "--no-cache", "--loss", "{user}:exits_later",
                                     "--junit", "{out}/g.xml"), 3, "user.py, line 8, ended the run: it called sys.exit(0)"),
    Case("bounds/model-fixes-batch-size", _p("bounds", "{sd}", "--model", "{user}:fixed", "--data", "digits"), 3,
         "the loss failed on the last batch of data digits, of 5 samples where the others hold 128"),
    Case("verify/model-fixes-batch-size", _p("verify", "{sd}", "--model", "{user}:fixed", "--data", "digits",
                                             "--max-samples", "300"), 3,
         "of 44 samples where the others hold 128 (RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    Case("bounds/model-fails-midway", _p("bounds", "{sd}", "--model", "{user}:later", "--data", "digits",
                                         "--no-cache"), 3,
         "user.py, line 22 failed during the run (ValueError: no batch past the eighth); it passed the load-time "
         "checks"),
    # a factory the spec's k=v cannot call: the spec to fix (exit 2, as a zoo model's), not "failed" (exit 3)
    Case("info/factory-needs-an-argument", _p("info", "{sd}", "--model", "{user}:needs"), 2,
         "needs(width) cannot be called with no k=v (missing a required argument: 'width'); give its arguments in "
         "the spec, "),
    Case("info/factory-unknown-argument", _p("info", "{sd}", "--model", "{user}:fixed:width=3"), 2,
         "fixed() cannot be called with width=3 (got an unexpected keyword argument 'width')"),
    # no function named: a spec error, refused before the file's code runs (it ran, then "defines no ''", exit 3)
    Case("info/factory-name-empty", _p("info", "{sd}", "--model", "{evil_factory}:"), 2,
         "evil_factory.py:': name the function after the colon"),
    Case("bounds/loss-name-empty", _p("bounds", G, "--loss", "{evil_factory}:"), 2,
         "evil_factory.py:': name the function after the colon"),
    # a loss is fn(model, batch): its k=v were ignored in silence
    Case("bounds/loss-k-v", _p("bounds", G, "--loss", "{user}:per_sample:reduction=mean"), 2,
         "a loss takes no k=v (reduction); it is called as fn(model, batch) -> mean loss"),
    Case("info/factory-meta-device", _p("info", "{broken}", "--model", "{user}:meta"), 3, "is on the meta device"),
    Case("bounds/loss-per-sample", _p("bounds", G, "--loss", "{user}:per_sample"), 3,
         "the loss returned a tensor of shape (128,)"),
    Case("train/loss-number", _p("train", "--model", SPEC, "--data", "digits", "--loss", "{user}:number",
                                 "-o", "{out}/t.pt"), 3, "the loss returned a float"),
    Case("verify/loss-detached", _p("verify", G, "--loss", "{user}:detached"), 3,
         "does not depend on the model's weights"),
    # a loss that is not fn(model, batch) -> mean loss: named, file and function, with the contract
    Case("bounds/loss-three-arguments", _p("bounds", G, "--loss", "{user}:three"), 3,
         "user.py:three: three(model, batch, extra) cannot be called as fn(model, batch); the loss must be "
         "fn(model, batch) -> mean loss"),
    Case("info/loss-no-arguments", _p("info", G, "--data", "digits", "--loss", "{user}:none"), 3,
         "user.py:none: none() cannot be called as fn(model, batch); the loss must be fn(model, batch) -> mean loss"),
    Case("bounds/loss-not-callable", _p("bounds", G, "--loss", "{user}:not_callable"), 3,
         "user.py:not_callable: 'not_callable' is of type int, not a function; the loss must be "
         "fn(model, batch) -> mean loss"),
    Case("prune/loss-missing", _p("prune", G, "--loss", "{user}:nosuch", "-o", "{out}/p.pt"), 3,
         "user.py defines no 'nosuch'; the loss must be fn(model, batch) -> mean loss"),
    Case("bounds/loss-integer", _p("bounds", G, "--loss", "{user}:integer"), 3,
         "the loss returned a tensor of shape () and dtype int64 on data digits:train, not one real number"),
    Case("gate/loss-per-sample-named", _p("gate", G, "--min-ratio", "0.1", "--no-cache", "--loss", "{user}:per_sample"),
         3, "user.py:per_sample must be fn(model, batch) -> mean loss, the batch's mean as a scalar float tensor"),
    Case("verify/loss-detached-named", _p("verify", G, "--loss", "{user}:detached"), 3,
         "user.py:detached must be fn(model, batch) -> mean loss, computed from model(x)"),
    # data that would unpickle code, or is not what tensors: reads
    Case("bounds/data-pickle-code", _p("bounds", G, "--data", "tensors:{evil}"), 3,
         "contains pickled Python objects (io.open)"),
    Case("train/data-pickle-code", _p("train", "--model", SPEC, "--data", "tensors:{evil_legacy}",
                                      "-o", "{out}/t.pt"), 3, "contains pickled Python objects (io.open)"),
    Case("bounds/data-object-array", _p("bounds", G, "--data", "tensors:{data_objects}"), 3, "holds object arrays"),
    Case("bounds/data-other-format", _p("bounds", G, "--data", "tensors:{data_csv}"), 3,
         "data.csv is a text file (it begins 'x,y'), not tensors; read it (numpy.loadtxt, pandas) and save x and y: "
         "torch.save({'x': x, 'y': y}, FILE)"),
    # 'd' is a pickle opcode (DICT): it said "uses pickle opcode DICT (pickle protocol 0)"
    Case("bounds/data-csv-opcode", _p("bounds", G, "--data", "tensors:{csv_rising}"), 3,
         "csv_rising.csv is a text file (it begins 'density,gamma'), not tensors"),
    Case("bounds/data-pickle-protocol-4", _p("bounds", G, "--data", "tensors:{data_protocol4}"), 3,
         "protocol4-data.pt uses pickle opcode FRAME (pickle protocol 4), which torch's weights-only loader does "
         "not read; save x and y again with torch.save"),
    Case("bounds/data-npy", _p("bounds", G, "--data", "tensors:{data_npy}"), 3, "x.npy is one .npy array"),
    Case("bounds/data-empty-path", _p("bounds", G, "--data", "tensors:"), 2, "write tensors:FILE.pt"),
    Case("bounds/data-root-empty", _p("bounds", G, "--data", "cifar10:"), 2, "write cifar10:ROOT"),
    Case("bounds/digits-image-2", _p("bounds", G, "--data", "digits:image=2"), 2, "image must be 0 or 1"),
    Case("bounds/config-python-tag", _p("bounds", G, "--config", "{cfg_python}"), 2,
         "the tag !!python/object/apply:os.system is not a plain value"),
    Case("train/unknown-data", _p("train", "--model", SPEC, "--data", "nosuch", "-o", "{out}/t.pt"), 2,
         "unknown data source"),
    Case("train/labels-out-of-range",
         _p("train", "--model", "mlp:64,4,3", "--data", "digits", "-o", "{out}/t.pt", "--epochs", "1"), 3,
         "label 9"),
    Case("train/empty-data", _p("train", "--model", SPEC, "--data", "tensors:{data_empty}", "-o", "{out}/t.pt"),
         3, "empty"),
    Case("verify/eval-data-bad", _p("verify", G, "--eval-data", "tensors:{data_labels}", "--max-samples", "200", "--batch-size", "50"),
         3, "label 50"),
    Case("prune/eval-data-bad", _p("prune", G, "--ratio", "0.5", "--eval-data", "tensors:{data_labels}",
                                   "-o", "{out}/p.pt"), 3, "label 50"),
    Case("imp/eval-data-bad", _p("imp", SPEC, "--data", "digits", "--eval-data", "tensors:{data_labels}",
                                 "-o", "{out}/imp"), 3, "label 50"),
    Case("imp/labels-out-of-range", _p("imp", "mlp:64,4,3", "--data", "digits", "-o", "{out}/imp"), 3, "label 9"),
    Case("hyperflux/labels-out-of-range", _p("hyperflux", "--model", "mlp:64,4,3", "--data", "digits",
                                             "--target-density", "0.5", "-o", "{out}/h.pt"), 3, "label 9"),
    Case("hyperflux/eval-data-bad", _p("hyperflux", G, "--eval-data", "tensors:{data_labels}",
                                       "--target-density", "0.5", "-o", "{out}/h.pt"), 3, "label 50"),
    Case("bounds/one-batch", _p("bounds", G, "--max-samples", "100"), 2, "at least 2 analysis batches"),
    Case("bounds/identical-batches", _p("bounds", G, "--data", "tensors:{data_same}", "--batch-size", "4"), 2,
         "epsilon would be 0"),
    Case("bounds/unknown-loss", _p("bounds", G, "--loss", "hinge"), 2, "unknown loss"),
    Case("bounds/max-samples-0", _p("bounds", G, "--max-samples", "0"), 2, "--max-samples"),
    Case("bounds/hessian-samples-below-k-a-class", _p("bounds", G, "--method", "slq", "--hessian-samples", "39",
                                                      "--no-cache"), 2,
         "--hessian-samples 39 is too few for 10 classes: use at least 40 (4 a class), or all (integer targets "
         "count as classes: store regression targets as floats)"),
    Case("bounds/batch-size-0", _p("bounds", G, "--batch-size", "0"), 2, "--batch-size"),
    # option values
    Case("bounds/bad-device", _p("bounds", G, "--device", "tpu"), 2, "--device"),
    Case("bounds/bad-method", _p("bounds", G, "--method", "fast"), 2, "Invalid value for '--method'"),
    Case("bounds/epsilon-negative", _p("bounds", G, "--epsilon", "-1"), 2, "--epsilon"),
    Case("bounds/epsilon-text", _p("bounds", G, "--epsilon", "tiny"), 2, "--epsilon"),
    Case("bounds/epsilon-nan", _p("bounds", G, "--epsilon", "nan"), 2, "--epsilon"),
    Case("bounds/eta-1", _p("bounds", G, "--eta", "1"), 2, "--eta"),
    Case("bounds/bad-hvp", _p("bounds", G, "--hvp", "fast"), 2, "Invalid value for '--hvp'"),
    Case("bounds/memory-budget-negative", _p("bounds", G, "--memory-budget", "-5"), 2, "--memory-budget"),
    Case("spectrum/memory-budget-text", _p("spectrum", G, "--memory-budget", "lots"), 2, "--memory-budget"),
    Case("spectrum/bad-basis-dtype", _p("spectrum", G, "--basis-dtype", "int8"), 2,
         "Invalid value for '--basis-dtype'"),
    Case("bounds/iterations-0", _p("bounds", G, "--iterations", "0"), 2, "--iterations"),
    Case("spectrum/runs-0", _p("spectrum", G, "--runs", "0"), 2, "--runs"),
    Case("bounds/iterations-text", _p("bounds", G, "--iterations", "many"), 2, "--iterations"),
    # numbers as typed (read_number/read_count): a unit, a count not whole, a separator, a percentage
    # (each said "Input should be a valid number/integer"), a count in exponent notation (it was refused)
    Case("bounds/time-budget-unit", _p("bounds", G, "--time-budget", "10s"), 2, "Invalid value for '--time-budget': "
         "got '10s', not a number (it takes seconds, a plain number: 10s is 10)"),
    Case("bounds/time-budget-minutes", _p("bounds", G, "--time-budget", "2min"), 2, "2min is 120"),
    Case("spectrum/memory-budget-unit", _p("spectrum", G, "--memory-budget", "1GB"), 2, "Invalid value for "
         "'--memory-budget': got '1GB', not a number (it takes MB, a plain number: 1GB is 1024); use auto or a number"),
    Case("bounds/basis-memory-unit", _p("bounds", G, "--basis-memory", "512MB"), 2, "512MB is 512"),
    Case("bounds/max-hvps-not-whole", _p("bounds", G, "--max-hvps", "2.5"), 2, "Invalid value for '--max-hvps': "
         "must be an integer, got '2.5'; write 2 or 3"),
    Case("bounds/max-hvps-exponent-read", _p("bounds", G, "--max-hvps", "2e7"), 2,
         "--max-hvps must be at most 10,000,000 (Hessian-vector products), got 20,000,000"),
    Case("bounds/max-hvps-unit", _p("bounds", G, "--max-hvps", "1k"), 2,
         "got '1k', not a number (a plain number of Hessian-vector products, without a unit)"),
    Case("bounds/max-samples-comma", _p("bounds", G, "--max-samples", "1,000"), 2, "Invalid value for "
         "'--max-samples': got '1,000', not a number (a comma is no decimal point here, nor a thousands separator: "
         "write 1.000 or 1000)"),
    Case("bounds/hessian-samples-exponent-read", _p("bounds", G, "--hessian-samples", "2e0"), 2,
         "--hessian-samples 2 is too few to split into 4 parts"),
    Case("bounds/hessian-samples-0", _p("bounds", G, "--hessian-samples", "0"), 2,
         "--hessian-samples 0 is too few to split into 4 parts (the data part of ρ*'s ±): use at least 4 (4 a class, "
         "where the targets are classes), or all"),
    Case("bounds/eta-percent", _p("bounds", G, "--eta", "5%"), 2, "probabilities are fractions, not percentages: "
         "5% is 0.05"),
    Case("verify/acc-drop-percent", _p("verify", G, "--acc-drop", "1%"), 2, "Invalid value for '--acc-drop': got "
         "'1%', not a number (it takes percentage points, a plain number: 1% is 1)"),
    Case("train/momentum-percent", _p("train", "--model", SPEC, "--data", "digits", "--momentum", "90%", "-o",
                                      "{out}/t.pt"), 2, "momenta are fractions, not percentages: 90% is 0.9"),
    Case("bounds/epsilon-decimal-comma", _p("bounds", G, "--epsilon", "0,01"), 2, "write 0.01)"),
    Case("train/epochs-not-whole", _p("train", "--model", SPEC, "--data", "digits", "--epochs", "1.5", "-o",
                                      "{out}/t.pt"), 2, "Invalid value for '--epochs': must be an integer, got '1.5'"),
    Case("imp/levels-underscore", _p("imp", G, "-o", "{out}/imp", "--levels", "1_0"), 2,
         "got '1_0', not a number (write it without separators: 10)"),
    Case("law-nplh/finetune-steps-unit", _p("law", "nplh", G, "--finetune-steps", "20steps"), 2,
         "Invalid value for '--finetune-steps': got '20steps', not a number (a plain number of SGD steps"),
    Case("bounds/config-seconds-unit", _p("bounds", G, "--config", "{cfg_seconds_unit}"), 2,
         "cfg_seconds_unit.yaml: got '10s', not a number (it takes seconds, a plain number: 10s is 10)"),
    # YAML reads 2e7 as text (2.0e7 as a number): a count either way, read to its range check
    Case("bounds/config-count-exponent", _p("bounds", G, "--config", "{cfg_count_exponent}"), 2,
         "cfg_count_exponent.yaml must be at most 10,000,000 (Hessian-vector products), got 20,000,000"),
    Case("prune/ratio-1", _p("prune", G, "--ratio", "1", "-o", "{out}/p.pt"), 2, "[0, 1)"),
    Case("prune/ratio-negative", _p("prune", G, "--ratio", "-0.1", "-o", "{out}/p.pt"), 2, "[0, 1)"),
    Case("prune/ratio-nan", _p("prune", G, "--ratio", "nan", "-o", "{out}/p.pt"), 2, "[0, 1)"),
    # read as every numeric option is (validate.read_number): it named no fix; 0_9 was read as 9
    Case("prune/ratio-decimal-comma", _p("prune", G, "--ratio", "0,9", "-o", "{out}/p.pt"), 2,
         "--ratio '0,9': use auto, lower or a removed fraction in [0, 1) (a comma is no decimal point here, nor a "
         "thousands separator: write 0.9)"),
    Case("prune/ratio-underscore", _p("prune", G, "--ratio", "0_9", "-o", "{out}/p.pt"), 2,
         "--ratio '0_9': use auto, lower or a removed fraction in [0, 1) (write it without separators: 09)"),
    Case("prune/ratio-text", _p("prune", G, "--ratio", "half", "-o", "{out}/p.pt"), 2, "--ratio"),
    Case("prune/ratio-percent", _p("prune", G, "--ratio", "70%", "-o", "{out}/p.pt"), 2, "70% is 0.7"),
    Case("prune/lower-without-bounds", _p("prune", G, "--ratio", "lower", "--bound-mode", "none", "-o", "{out}/p.pt"),
         2, "--bound-mode none"),
    Case("prune/bad-scope", _p("prune", G, "--ratio", "0.5", "--scope", "row", "-o", "{out}/p.pt"), 2,
         "Invalid value for '--scope'"),
    Case("verify/paper-layer-scope", _p("verify", G, "--scope", "layer", "--method", "paper"), 2,
         "the reference arithmetic (--method paper) follows the global pruning path only; use --scope global or "
         "--method default"),
    Case("prune/bad-format", _p("prune", G, "--ratio", "0.5", "--format", "onnx", "-o", "{out}/p.pt"), 2,
         "Invalid value for '--format'"),
    Case("prune/from-bad-report", _p("prune", G, "--from", "{report_bad}", "-o", "{out}/p.pt"), 3, "report.json"),
    Case("gate/baseline-entry-of-another-type", _p("gate", G, "--baseline", "{report_fingerprint_number}",
                                                   "--max-drop", "0.1", "--no-cache"), 3,
         "fingerprint_number.json: its data.fingerprint is a number, not a string; the report is damaged"),
    Case("gate/baseline-options-not-an-object", _p("gate", G, "--baseline", "{report_options_list}",
                                                   "--max-drop", "0.1", "--no-cache"), 3,
         "options_list.json: its options is an array, not an object"),
    # a 401-digit ratio was echoed whole in the one-line error
    Case("gate/baseline-ratio-of-any-size", _p("gate", G, "--baseline", "{report_ratio_huge}", "--max-drop", "0.1",
                                               "--no-cache"), 3,
         "ratio_huge.json: the lower ratio (bounds.lower) is 1000000000000000000000000000000000000000…, not a ratio in "
         "[0, 1]"),
    Case("prune/from-entry-of-another-type", _p("prune", G, "--from", "{report_hessian_text}", "-o", "{out}/p.pt"), 3,
         "hessian_text.json: its params.hessian is a string, not a whole number"),
    Case("verify/from-entry-of-another-type", _p("verify", G, "--from", "{report_fingerprint_number}"), 3,
         "its data.fingerprint is a number, not a string"),
    Case("prune/from-other-report", _p("prune", G, "--from", "{report_other}", "-o", "{out}/p.pt"), 3,
         "other.json"),
    Case("prune/from-json-array", _p("prune", G, "--from", "{report_array}", "-o", "{out}/p.pt"), 3,
         "array.json holds an array, not a prunelimit bounds report"),
    Case("prune/from-spectrum-report", _p("prune", G, "--from", "{report_spectrum}", "-o", "{out}/p.pt"), 3,
         "it is a 'prunelimit.spectrum/1' document; write one with `prunelimit bounds --json`"),
    Case("verify/from-json-array", _p("verify", G, "--from", "{report_array}"), 3,
         "array.json holds an array, not a prunelimit bounds report"),
    Case("verify/from-spectrum-report", _p("verify", G, "--from", "{report_spectrum}"), 3,
         "it is a 'prunelimit.spectrum/1' document; write one with `prunelimit bounds --json`"),
    Case("verify/acc-drop", _p("verify", G, "--acc-drop", "150"), 2, "--acc-drop"),
    # a flag that only acts with another, typed without it, would be ignored in silence
    Case("prune/acc-drop-given-ratio", _p("prune", G, "--ratio", "0.5", "--acc-drop", "2", "-o", "{out}/p.pt"), 2,
         "--acc-drop has no effect"),
    Case("prune/strict-given-ratio", _p("prune", G, "--ratio", "0.5", "--strict", "-o", "{out}/p.pt"), 2,
         "--strict has no effect"),
    Case("prune/finetune-lr-without-epochs", _p("prune", G, "--ratio", "0.5", "--finetune-lr", "0.1", "-o",
                                                  "{out}/p.pt"), 2, "--finetune-lr has no effect"),
    # export without --bench builds no model and reads no data: each such flag did nothing in silence
    *(Case(f"export/{flag.strip('-')}-without-bench",
           _p("export", G, "-o", "{out}/e.safetensors", flag, *value), 2,
           f"{flag} has no effect: only --bench builds the model and runs it on data")
      for flag, *value in (("--data", "digits"), ("--loss", "mse"), ("--batch-size", "8"), ("--max-samples", "64"),
                           ("--include", "0"), ("--exclude", "0"), ("--download",), ("--device", "cpu"))),
    Case("verify/finetune-epochs-without-refit", _p("verify", G, "--finetune-epochs", "2"), 2,
         "--finetune-epochs has no effect"),
    Case("train/l1-biases-without-l1", _p("train", "--model", SPEC, "--data", "digits", "--l1", "0", "--l1-biases",
                                          "-o", "{out}/t.pt"), 2, "--l1-biases has no effect"),
    Case("verify/finetune-lr-without-refit", _p("verify", G, "--finetune-lr", "0.1"), 2,
         "--finetune-lr has no effect"),
    Case("gate/no-rule", _p("gate", G, "--no-cache"), 2, "no rule"),
    Case("gate/min-ratio-2", _p("gate", G, "--min-ratio", "2", "--no-cache"), 2, "--min-ratio must be a ratio"),
    Case("gate/allow-incompatible-without-baseline", _p("gate", G, "--min-ratio", "0.1", "--allow-incompatible-baseline",
                                                        "--no-cache"), 2,
         "--allow-incompatible-baseline has no effect: no rule reads a baseline"),
    Case("gate/min-ratio-percent", _p("gate", G, "--min-ratio", "80%", "--no-cache"), 2, "80% is 0.8"),
    Case("bounds/tolerance-percent", _p("bounds", G, "--tolerance", "1%", "--no-cache"), 2,
         "tolerances are fractions, not percentages: 1% is 0.01"),
    Case("gate/bad-use", _p("gate", G, "--min-ratio", "0.1", "--use", "upper", "--no-cache"), 2,
         "Invalid value for '--use'"),
    # a spectrum flag beside rules that all measure the limit (no spectrum) was ignored in silence
    Case("gate/time-budget-measured-only", _p("gate", G, "--min-ratio", "0.1", "--use", "actual", "--time-budget", "5",
                                              "--no-cache"), 2, "--time-budget has no effect: every rule uses the "
                                                                "measured limit (--use actual)"),
    Case("gate/baseline-missing", _p("gate", G, "--baseline", "{dir}/none.json", "--max-drop", "0.1",
                                     "--no-cache"), 3, "none.json"),
    Case("hyperflux/density-1", _p("hyperflux", G, "--target-density", "1", "-o", "{out}/h.pt"), 2,
         "--target-density"),
    # a target below what the pressure epochs' trajectory can reach (it ended at 18.7 % and steered there)
    Case("hyperflux/trajectory-floor", _p("hyperflux", G, "--target-density", "0.05", "--pruning-epochs", "3",
                                          "-o", "{out}/h.pt"), 2, "only to 0.1867; use --pruning-epochs 5 or more"),
    # gates that cannot fall from their start to 0 in the steps there are (it trained, and ended unpruned)
    Case("hyperflux/gates-cannot-close", _p("hyperflux", G, "--target-density", "0.5", "--pruning-epochs", "3",
                                            "--regrowth-epochs", "0", "--max-samples", "256", "-o", "{out}/h.pt"), 2,
         "--pruning-epochs 3 × 2 batches = 6 gate steps at --gate-lr 0.01 move a gate about 0.06"),
    Case("law-nplh/bad-metric", _p("law", "nplh", G, "--metric", "voodoo"), 2, "Invalid value for '--metric'"),
    Case("law-nplh/bad-mode", _p("law", "nplh", G, "--mode", "sideways"), 2, "Invalid value for '--mode'"),
    Case("law-nplh/bad-region", _p("law", "nplh", G, "--region", "0.5,0.1"), 2, "--region"),
    Case("imp/bad-rewind", _p("imp", G, "-o", "{out}/imp", "--rewind", "later"), 2, "Invalid value for '--rewind'"),
    Case("imp/rate-1", _p("imp", G, "-o", "{out}/imp", "--rate", "1"), 2, "rate"),
    # levels past the last weight: density 0, which error-fit then refused in the sweep's own CSV
    Case("imp/levels-past-the-last-weight", _p("imp", G, "-o", "{out}/imp", "--rate", "0.5", "--levels", "12"), 2,
         "--levels 12: level 10 would keep none of the 888 weights at --rate 0.5; use --levels 9 or a lower --rate"),
    Case("imp/early-from-checkpoint", _p("imp", G, "-o", "{out}/imp", "--rewind", "early"), 2,
         "it needs --epochs-dense > 0 (a checkpoint's default is 0) and --rewind-steps >= 1"),
    Case("imp/rewind-steps-without-early", _p("imp", G, "-o", "{out}/imp", "--rewind", "none", "--rewind-steps", "5"),
         2, "--rewind-steps applies to --rewind early, not none; add --rewind early or drop it"),
    # past the dense steps no snapshot was taken, and the sweep rewound to the trained network in silence
    Case("imp/rewind-steps-past-dense-training", _p("imp", G, "-o", "{out}/imp", "--rewind", "early", "--epochs-dense",
                                                    "1", "--rewind-steps", "100000"),
         2, "--rewind-steps 100000 lies past the end of dense training"),
    Case("train/bad-schedule", _p("train", "--model", SPEC, "--data", "digits", "--schedule", "zigzag",
                                  "-o", "{out}/t.pt"), 2, "Invalid value for '--schedule'"),
    Case("train/bad-preset", _p("train", "--model", SPEC, "--data", "digits", "--preset", "gpt",
                                "-o", "{out}/t.pt"), 2, "Invalid value for '--preset'"),
    Case("train/milestones", _p("train", "--model", SPEC, "--data", "digits", "--milestones", "a,b",
                                "-o", "{out}/t.pt"), 2, "--milestones"),
    Case("train/milestones-not-whole", _p("train", "--model", SPEC, "--data", "digits", "--schedule", "step",
                                          "--milestones", "1,2.5", "-o", "{out}/t.pt"), 2,
         "--milestones '1,2.5': must be an integer, got '2.5'; write 2 or 3"),
    Case("train/step-without-milestones", _p("train", "--model", SPEC, "--data", "digits", "--schedule", "step",
                                             "-o", "{out}/t.pt"), 2, "the step schedule needs milestones"),
    Case("train/milestones-without-step", _p("train", "--model", SPEC, "--data", "digits", "--schedule", "cosine",
                                             "--milestones", "2", "-o", "{out}/t.pt"), 2, "add --schedule step"),
    Case("train/milestone-past-end", _p("train", "--model", SPEC, "--data", "digits", "--schedule", "step",
                                        "--epochs", "3", "--milestones", "1,3", "-o", "{out}/t.pt"), 2,
         "--milestones 3: each must lie in 1..2"),
    Case("train/epochs-negative", _p("train", "--model", SPEC, "--data", "digits", "--epochs", "-1",
                                     "-o", "{out}/t.pt"), 2, "epochs"),
    Case("train/lr-negative", _p("train", "--model", SPEC, "--data", "digits", "--lr", "-1",
                                 "-o", "{out}/t.pt"), 2, "lr"),
    Case("train/momentum-1", _p("train", "--model", SPEC, "--data", "digits", "--momentum", "1",
                                "-o", "{out}/t.pt"), 2, "momentum must lie in [0, 1)"),
    Case("train/preset-warmup-past-epochs", _p("train", "--model", SPEC, "--data", "digits", "--preset",
                                              "vgg16-bn-cifar", "--epochs", "3", "-o", "{out}/t.pt"), 2,
         "--epochs 3 is shorter than the 5 warm-up epochs of --preset vgg16-bn-cifar"),
    # law CSVs
    Case("nplh-fit/missing", _p("law", "nplh-fit", "{dir}/none.csv"), 3, "none.csv"),
    Case("nplh-fit/empty", _p("law", "nplh-fit", "{csv_empty}"), 3, "csv_empty.csv"),
    Case("nplh-fit/header", _p("law", "nplh-fit", "{csv_header}"), 3, "density"),
    Case("nplh-fit/non-numeric", _p("law", "nplh-fit", "{csv_text}"), 3, "abc"),
    Case("nplh-fit/out-of-range", _p("law", "nplh-fit", "{csv_range}"), 3, "1.5"),
    Case("nplh-fit/no-rows", _p("law", "nplh-fit", "{csv_norows}"), 3, "no data rows"),
    Case("nplh-fit/binary", _p("law", "nplh-fit", "{csv_binary}"), 3, "binary.csv"),
    Case("error-fit/missing", _p("law", "error-fit", "{dir}/none.csv"), 3, "none.csv"),
    Case("error-fit/header", _p("law", "error-fit", "{err_header}"), 3, "error"),
    Case("error-fit/non-numeric", _p("law", "error-fit", "{err_text}"), 3, "high"),
    Case("error-fit/binary", _p("law", "error-fit", "{csv_binary}"), 3, "binary.csv"),
    # a row with a field more than the header (it was an AttributeError, exit 5) or one less
    Case("nplh-fit/column-twice", _p("law", "nplh-fit", "{csv_twice}"), 3,
         "header names column(s) ['gamma'] more than once"),
    Case("nplh-fit/row-fields", _p("law", "nplh-fit", "{csv_fields}"), 3, "line 3 has 3 field(s) but the header has 2"),
    Case("error-fit/row-fields", _p("law", "error-fit", "{err_fields}"), 3, "line 3 has 3 field(s) but the header has 2"),
    # a spreadsheet's ';' CSV with decimal commas: it was "line 2 has 2 field(s) but the header has 1"
    Case("error-fit/semicolons", _p("law", "error-fit", "{err_semicolons}"), 3,
         "its columns are separated by semicolons; save the file with commas"),
    # density rising with gamma: no minimum kept saliency does that (it was a fit with α0 = −1)
    Case("nplh-fit/density-rises", _p("law", "nplh-fit", "{csv_rising}"), 2, "the density rises with gamma"),
    # gamma near 1e300 with alpha0 2: c = e^1381 (it was an OverflowError, exit 5)
    Case("nplh-fit/constant-overflows", _p("law", "nplh-fit", "{csv_huge_gamma}"), 2,
         "divide the gamma column by one constant"),
    # a target error of 0 (it was a ValueError, exit 5, after the fit)
    Case("error-fit/target-error-0", _p("law", "error-fit", "{err_good}", "--target-error", "0"), 2,
         "--target-error 0.0 outside (0, 1)"),
    Case("error-fit/width-without-joint", _p("law", "error-fit", "{err_text}", "--predict", "0.1", "--width", "32"),
         2, "add --joint"),
    Case("error-fit/depth-without-query", _p("law", "error-fit", "{err_text}", "--joint", "--depth", "3"), 2,
         "apply to --predict or --target-error"),
    Case("error-fit/extrapolate-without-query", _p("law", "error-fit", "{err_text}", "--extrapolate"), 2,
         "--extrapolate applies to --predict or --target-error"),
    # configs
    Case("info/config-unknown-key", _p("info", G, "--config", "{cfg_unknown}"), 2, "bogus_key"),
    Case("bounds/config-wrong-type", _p("bounds", G, "--config", "{cfg_type}"), 2, "Invalid value for batch_size in "),
    Case("bounds/config-bad-yaml", _p("bounds", G, "--config", "{cfg_yaml}"), 2, "not valid YAML"),
    Case("prune/config-list", _p("prune", G, "-o", "{out}/p.pt", "--config", "{cfg_list}"), 2, "mapping"),
    Case("bounds/config-section", _p("bounds", G, "--config", "{cfg_section}"), 2, "'bounds'"),
    Case("prune/config-ratio", _p("prune", G, "-o", "{out}/p.pt", "--config", "{cfg_ratio}"), 2, "[0, 1)"),
    Case("spectrum/config-iterations", _p("spectrum", G, "--config", "{cfg_iters}"), 2, "iterations in "),
    Case("gate/config-rules", _p("gate", G, "--config", "{cfg_rules}"), 2, "list"),
    Case("gate/config-rule-value", _p("gate", G, "--no-cache", "--config", "{cfg_rule_bad}"), 2, "min_ratio"),
    Case("gate/config-bool-number", _p("gate", G, "--no-cache", "--config", "{cfg_bool_number}"), 2,
         "min_ratio must be a number, not a YAML boolean"),
    Case("gate/config-key-twice", _p("gate", G, "--no-cache", "--config", "{cfg_twice}"), 2,
         "line 3: min_ratio is given twice (also at line 2)"),
    Case("gate/config-key-spelled-twice", _p("gate", G, "--no-cache", "--config", "{cfg_spelled_twice}"), 2,
         "min_ratio is given twice (as 'min-ratio' and 'min_ratio')"),
    Case("bounds/config-base-60", _p("bounds", G, "--config", "{cfg_base60}"), 2,
         "Invalid value for time_budget in "),
    # a path option given a number, list or mapping: a TypeError traceback and exit 1 (a failed gate, to CI)
    Case("bounds/config-path-number", _p("bounds", G, "--config", "{cfg_plot_number}"), 2,
         "cfg_plot_number.yaml: got 3, a number, not a path; write a file name"),
    Case("gate/config-path-list", _p("gate", G, "--max-drop", "0.1", "--no-cache", "--config", "{cfg_baseline_list}"),
         2, "a.json'], a list, not a path; write a file name"),
    Case("prune/config-path-mapping", _p("prune", G, "--ratio", "0.5", "--config", "{cfg_output_mapping}"), 2,
         "cfg_output_mapping.yaml: got {'path': 'p.pt'}, a mapping, not a path"),
    Case("bounds/config-plot-nul", _p("bounds", G, "--config", "{cfg_plot_nul}"), 2,
         "b\\x00.png' holds a NUL character, which no file name can; write a file name"),
    Case("gate/config-junit-nul", _p("gate", G, "--no-cache", "--config", "{cfg_junit_nul}"), 2,
         "g\\x00.xml' holds a NUL character, which no file name can"),
    Case("info/config-data-nul", _p("info", G, "--config", "{cfg_data_nul}"), 3,
         "x\\x00.npz' holds a NUL character, which no file name can; give a file name"),
    Case("info/config-loss-nul", _p("info", G, "--data", "digits", "--config", "{cfg_loss_nul}"), 3,
         "loss file '"),
    Case("bounds/config-missing", _p("bounds", G, "--config", "{dir}/none.yaml"), 2, "none.yaml"),
    Case("bounds/config-binary", _p("bounds", G, "--config", "{cfg_binary}"), 2,
         "binary.yaml is not UTF-8 text; save it as UTF-8"),
    Case("bounds/config-utf16", _p("bounds", G, "--config", "{cfg_utf16}"), 2,  # it said "not valid YAML"
         "utf16.yaml is not UTF-8 text; save it as UTF-8"),
    # output paths
    Case("prune/output-exists", _p("prune", G, "--ratio", "0.5", "-o", "{existing}"), 2, "--force"),
    Case("prune/output-no-folder", _p("prune", G, "--ratio", "0.5", "-o", "{dir}/nope/p.pt"), 2, "does not exist"),
    Case("prune/output-unwritable", _p("prune", G, "--ratio", "0.5", "-o", f"{UNWRITABLE}/p.pt"), 2, "/sys"),
    Case("prune/output-under-file", _p("prune", G, "--ratio", "0.5", "-o", "{file_as_dir}/p.pt"), 2, "afile"),
    Case("prune/output-is-folder", _p("prune", G, "--ratio", "0.5", "-o", "{dir}", "--force"), 2, "folder"),
    Case("bounds/plot-exists", _p("bounds", G, "--plot", "{existing_png}"), 2, "--force"),
    Case("bounds/plot-unwritable", _p("bounds", G, "--plot", f"{UNWRITABLE}/b.png"), 2, "/sys"),
    Case("train/output-exists", _p("train", "--model", SPEC, "--data", "digits", "-o", "{existing}"), 2, "--force"),
    Case("train/output-unwritable", _p("train", "--model", SPEC, "--data", "digits", "-o", f"{UNWRITABLE}/t.pt"),
         2, "/sys"),
    Case("law-nplh/output-exists", _p("law", "nplh", G, "-o", "{existing_csv}"), 2, "--force"),
    Case("gate/junit-unwritable", _p("gate", G, "--min-ratio", "0.1", "--no-cache", "--junit", f"{UNWRITABLE}/g.xml"),
         2, "/sys"),
    Case("hyperflux/log-exists", _p("hyperflux", G, "--target-density", "0.5", "-o", "{out}/h.pt",
                                    "--log", "{existing_csv}"), 2, "--force"),
    Case("error-fit/plot-no-folder", _p("law", "error-fit", "{err_text}", "--plot", "{dir}/nope/f.png"), 2,
         "does not exist"),
    # '-', a Unix filter's standard input, where no file has that name: it read as a missing file
    Case("info/checkpoint-stdin", _p("info", "-"), 3, "checkpoint - names standard input, which prunelimit does not "
         "read; save it to a file and name that file"),
    Case("bounds/config-stdin", _p("bounds", G, "--config", "-"), 2, "config file - names standard input"),
    Case("info/data-stdin", _p("info", G, "--data", "tensors:-"), 3, "data file - names standard input"),
    Case("nplh-fit/points-stdin", _p("law", "nplh-fit", "-"), 3, "points file - names standard input"),
    Case("error-fit/points-stdin", _p("law", "error-fit", "-"), 3, "points file - names standard input"),
    # it made a folder '-' in the current one, every entry was refused as standard output: exit 0, uncached
    Case("gate/cache-dir-stdout", _p("gate", G, "--min-ratio", "0.1", "--cache-dir", "-"), 2,
         "cache folder -: '-' is standard output, never a folder; name a folder; pass another --cache-dir or "
         "--no-cache"),
    # a name longer than the file system takes: exit 3, "cannot use …: File name too long; check the path"
    Case("gate/cache-dir-name-too-long", _p("gate", G, "--min-ratio", "0.1", "--cache-dir", "{dir}/" + "x" * 300), 2,
         ": cannot be created (File name too long); pass another --cache-dir or --no-cache"),
]

CASES = _ckpt_cases() + OTHER_CASES


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(cli, corpus, tmp_path, case: Case):
    out = tmp_path / "out"
    out.mkdir()
    before = _snapshot(corpus.dir)
    result = cli(*case.args(corpus, out))
    err = result.stderr
    assert result.exit_code == case.code, err
    assert err.startswith("prunelimit: error: "), err
    assert case.message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    assert not re.search(r"\{\d\}", err), err  # a message template's field left unfilled
    assert result.stdout == ""
    left = [p for p in out.iterdir() if not junit_error_report(p, err)]
    assert left == [], "an output file was left behind"
    assert _snapshot(corpus.dir) == before, "an input file was created, changed or deleted"
    assert not corpus.marker.exists(), "the pickle ran code"


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


# --------------------------------------------------------------------------- real processes


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prunelimit", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_process_bad_checkpoint_is_one_line_exit_3(corpus):
    proc = _run("bounds", corpus.noise)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.startswith("prunelimit: error: checkpoint") and "noise.pt" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2


def test_process_pickle_runs_only_with_trust(corpus, tmp_path):
    """Without --trust-pickle the payload never executes; with it, it does (so the test is real)."""
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    write_evil_pickle(evil, marker)
    proc = _run("info", evil)
    assert proc.returncode == 3 and "--trust-pickle" in proc.stderr and not marker.exists()
    proc = _run("info", evil, "--trust-pickle")
    assert marker.exists()  # the code ran: exactly what the flag warns about
    assert proc.returncode in (2, 3) and "Traceback" not in proc.stderr


def test_legacy_tar_pickle_runs_only_with_trust(cli, tmp_path):
    """torch's legacy .tar format is read only by the full unpickler: refused without the flag
    (the corpus), and its payload really runs with it (so the refusal guards something)."""
    marker = tmp_path / "ran"
    write_evil_tar(tmp_path / "evil.tar", marker)
    assert cli("info", tmp_path / "evil.tar").exit_code == 3 and not marker.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the payload's open file
        result = cli("info", tmp_path / "evil.tar", "--trust-pickle")
    assert marker.exists() and result.exit_code == 3  # it ran; what it built is no state dict


def test_pickle_protocol_4_is_read_with_trust(cli, corpus):
    """The refusal above is not about damage: trusted, the same file loads and is the model."""
    result = cli("info", str(corpus.protocol4), "--model", SPEC, "--trust-pickle", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"]["total"] == sum(
        t.numel() for t in torch.load(corpus.sd, weights_only=True).values())


def test_module_in_a_training_record_loads_with_trust(cli, corpus):
    """{"model": module, "epoch": 3} is refused without --trust-pickle (the corpus) and is the
    module with it (it said "entry 'model' is not a tensor")."""
    result = cli("info", corpus.module_in_dict, "--trust-pickle", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "module"


def test_factory_named_by_a_file_runs_only_when_typed(cli, tmp_path):
    marker = tmp_path / "imported"
    factory = tmp_path / "factory.py"
    factory.write_text(f"open({str(marker)!r}, 'w').close()\nimport torch\nmake = lambda: torch.nn.Linear(64, 10)\n")
    ckpt = tmp_path / "f.pt"
    save_checkpoint(ckpt, f"{factory}:make", torch.nn.Linear(64, 10).state_dict())
    result = cli("info", ckpt)
    assert result.exit_code == 3 and "--model" in result.stderr and not marker.exists()
    result = cli("info", ckpt, "--model", f"{factory}:make")
    assert result.exit_code == 0, result.stderr
    assert marker.exists()  # the user asked for it


def _without_read_permission() -> list[str]:
    """A command prefix under which a file of mode 000 cannot be read: none for a user, and for
    root (who reads any file) setpriv dropping the capabilities that let it."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: every file is readable")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", "--bounding-set", drop, "--inh-caps", drop]


def test_process_unreadable_config_is_one_line_exit_2(tmp_path):
    """A --config file without read permission is a usage error naming it (exit 2). It is read
    while click parses the options, outside the CLI's error handling: it was a PermissionError
    traceback and exit 1, which CI reads as a failed gate."""
    config = tmp_path / "ci.yaml"
    config.write_text("min_ratio: 0.1\n")
    config.chmod(0o000)
    proc = subprocess.run([*_without_read_permission(), sys.executable, "-m", "prunelimit", "gate", EXAMPLE_CKPT,
                           "--config", config], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr[-2000:]
    assert proc.stderr == f"prunelimit: error: config file {config} cannot be read (Permission denied); check its " \
                          "permissions\n"


def test_process_user_code_exit_is_exit_3(corpus):
    """sys.exit(0) in a typed factory ends a real process with exit 3, not the 0 it asked for
    (which a CI job reads as success: a gate passed)."""
    proc = _run("gate", corpus.sd, "--model", f"{corpus.user}:exits", "--min-ratio", "0.1", "--no-cache")
    assert proc.returncode == 3 and proc.stdout == "", proc.stderr
    assert proc.stderr.strip() == f"prunelimit: error: model factory '{corpus.user}:exits' failed: it called sys.exit(0)"


def test_library_raises_what_the_commands_print(corpus):
    """The library functions behind the commands raise the documented types, with the message
    the corpus shows (the commands print exactly these)."""
    from prunelimit import bounds
    from prunelimit.config import read_config
    from prunelimit.data.spec import load_dataset
    from prunelimit.errors import InputError, UsageError
    from prunelimit.models.load import load_model

    with pytest.raises(InputError, match=r"failed: it called sys\.exit\(0\)"):
        load_model(corpus.sd, f"{corpus.user}:exits")
    with pytest.raises(InputError, match="is on the meta device"):
        load_model(corpus.broken, f"{corpus.user}:meta")
    with pytest.raises(InputError, match=r"integer or boolean values for the float tensors 0\.weight \(int8\)"):
        load_model(corpus.int_weights, SPEC)
    with pytest.raises(InputError, match=r"contains pickled Python objects \(io\.open\)"):
        load_dataset(f"tensors:{corpus.evil_legacy}")
    with pytest.raises(InputError, match="holds object arrays"):
        load_dataset(f"tensors:{corpus.data_objects}")
    with pytest.raises(UsageError, match="image must be 0 or 1"):
        load_dataset("digits:image=2")
    with pytest.raises(UsageError, match="the tag !!python/object/apply:os.system is not a plain value"):
        read_config(corpus.cfg_python)
    data = load_dataset("digits:test", max_samples=64)
    with pytest.raises(InputError, match=r"the loss returned a tensor of shape \(64,\)"):
        bounds(build_model(SPEC), (data.x, data.y), loss=torch.nn.CrossEntropyLoss(reduction="none"))
    with pytest.raises(InputError, match="y contains NaN or Inf"):
        load_dataset(f"tensors:{corpus.data_nan_y}")
    targets = torch.zeros(64, 10)
    targets[3, 3] = math.inf
    with pytest.raises(InputError, match="^data: y contains NaN or Inf$"):  # in-memory data: named as the argument
        bounds(build_model(SPEC), (data.x, targets), loss="mse")
    with pytest.raises(InputError, match="^data batch 1: x contains NaN or Inf$"):
        bounds(build_model(SPEC), [(data.x, data.y), (data.x * math.nan, data.y)])
    assert not corpus.marker.exists()


def _huge_allocation(*_):
    torch.empty(2**60, dtype=torch.uint8)  # 1 EB: the allocator refuses at once, nothing is held


def _no_memory(*_):
    raise MemoryError


@pytest.mark.parametrize("fail", [_huge_allocation, _no_memory], ids=["torch-allocator", "MemoryError"])
def test_out_of_memory_is_exit_3_not_an_internal_error(cli, corpus, monkeypatch, fail):
    """Data or a model too large for the machine is no bug to report (exit 5): exit 3 with the size."""
    monkeypatch.setattr("prunelimit.data.spec._synthetic", fail)
    result = cli("info", corpus.good, "--data", "synthetic:samples=64")
    assert result.exit_code == 3 and result.stdout == "", result.stderr
    assert result.stderr.startswith("prunelimit: error: out of memory (an allocation") and "internal" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if fail is _huge_allocation:
        assert "an allocation of 1152921.5 TB failed" in result.stderr  # 2**60 bytes, named as asked


def test_text_inputs_saved_with_a_bom_are_read(tmp_path):
    """A UTF-8 byte-order mark (Excel's CSV, Windows editors' JSON) is no part of the first
    header or value: the law CSVs lacked their 'density' column, a baseline was 'not valid JSON'."""
    from prunelimit.gate_rules import read_report
    from prunelimit.laws.errorlaw import read_points as read_error_points
    from prunelimit.laws.points import read_points as read_law_points

    bom = b"\xef\xbb\xbf"
    errors, gammas, report = tmp_path / "e.csv", tmp_path / "g.csv", tmp_path / "b.json"
    errors.write_bytes(bom + b"density,error\n1,0.1\n0.5,0.12\n")
    gammas.write_bytes(bom + b"density,gamma\n0.5,0.2\n0.25,0.3\n")
    report.write_bytes(bom + json.dumps({"bounds": {"lower": 0.5}}).encode())
    assert read_error_points(errors).density.tolist() == [1.0, 0.5]
    assert read_law_points(gammas).density == (0.5, 0.25)
    assert read_report(report) == {"bounds": {"lower": 0.5}}


def test_debug_adds_the_traceback_and_keeps_the_exit_code(cli, corpus):
    plain = cli("info", corpus.noise)
    result = cli("info", corpus.noise, "--debug")
    assert plain.exit_code == result.exit_code == 3  # a CI job reads the same code with or without --debug
    assert "Traceback" in result.stderr and "InputError" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == plain.stderr.strip()


def _interrupt(args: list, ready: Path) -> tuple[int, str]:
    """Start the CLI, wait until it has made ``ready`` (it is then inside the command, past the
    imports, however slow they are), send SIGINT; return (exit code, stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "prunelimit", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=signals_as_at_a_terminal)
    deadline = time.monotonic() + 120
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None or not ready.exists():
        proc.kill()
        pytest.fail(f"the command never made {ready.name}: {proc.communicate()}")
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        # what it printed says where the interrupt went (an "Exception ignored" traceback, progress lines)
        pytest.fail(f"SIGINT did not end the command within 60 s; its stderr:\n{proc.communicate()[1]}")
    finally:  # a run the signal did not end must not go on after the test (for hours, at --runs 1000)
        if proc.poll() is None:
            proc.kill()
    assert out == ""
    return proc.returncode, err


IN_COMMAND = "prunelimit: interrupted; no partial output file was left"  # not start-up's bare "interrupted"


def test_sigint_during_bounds_exits_130_and_writes_nothing(tmp_path):
    plot, cache = tmp_path / "out" / "b.png", tmp_path / "cache"
    plot.parent.mkdir()
    code, err = _interrupt(["bounds", ROOT / "examples/digits-mlp.pt", "--method", "paper", "--iterations", "10000",
                            "--runs", "1000", "--plot", plot, "--cache-dir", cache],  # within limits.COUNT_RANGES
                           ready=cache)  # made once the options are checked, before the inputs load
    assert code == 130, err
    assert err.startswith(IN_COMMAND) and "Traceback" not in err
    assert list(plot.parent.iterdir()) == []


def test_sigint_during_train_exits_130_and_leaves_no_partial_file(tmp_path):
    out = tmp_path / "t.pt"
    code, err = _interrupt(["train", "--model", "mlp:64,256,256,10", "--data", "digits:train",
                            "--epochs", "10000", "-o", out], ready=out)  # saved after the first epoch
    assert code == 130, err
    assert err.startswith(IN_COMMAND) and "Traceback" not in err
    # train saves a resumable checkpoint after each epoch; the one there must be complete
    assert [p.name for p in tmp_path.iterdir()] == ["t.pt"], "a temporary file was left behind"
    assert torch.load(out, weights_only=True)["format"] == "prunelimit/1"


# --------------------------------------------------------------------------- numerical guards

NUMERIC_LOSSES = '''
import torch
import torch.nn.functional as F

def grad_nan(model, batch):
    """A finite loss whose gradient is NaN (d sqrt(u)/du at u = 0 times 0): every HVP is NaN."""
    x, y = batch
    p = next(model.parameters())
    return F.cross_entropy(model(x), y) + 0.0 * torch.sqrt(((p - p.detach()) ** 2).sum())

def later_nan(model, batch):
    """Finite on the first batch (the load-time check's), NaN on the short last one: the
    curvature pass must catch it."""
    loss = F.cross_entropy(model(batch[0]), batch[1])
    return loss if len(batch[0]) == 128 else loss * float("nan")
'''
PAPER = ["--max-samples", "300", "--method", "paper", "--iterations", "12", "--device", "cpu"]


@pytest.fixture
def losses(tmp_path) -> Path:
    path = tmp_path / "numeric_losses.py"
    path.write_text(NUMERIC_LOSSES)
    return path


@pytest.mark.parametrize("fn, message", [("grad_nan", "Hessian-vector product contains NaN/Inf"),
                                         ("later_nan", "loss is NaN/Inf")])
def test_nan_in_hvp_or_loss_is_exit_4(cli, tmp_path, losses, fn, message):
    plot = tmp_path / "b.png"
    result = cli("bounds", EXAMPLE_CKPT, *PAPER, "--loss", f"{losses}:{fn}", "--plot", plot)
    assert result.exit_code == 4, result.stderr
    assert result.stderr.startswith("prunelimit: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and not plot.exists()


def test_nan_weights_name_the_tensor(cli, corpus):
    result = cli("info", corpus.nan)
    assert result.exit_code == 3
    assert "'2.weight' has 1 NaN/Inf value(s)" in result.stderr and "nan.pt" in result.stderr


def test_lanczos_breakdown_is_not_an_error(cli, tmp_path):
    """85 Hessian parameters, 2000 steps asked: the Krylov space closes early, the run still succeeds."""
    torch.manual_seed(0)
    ckpt = tmp_path / "narrow.pt"
    save_checkpoint(ckpt, "mlp:64,1,10", build_model("mlp:64,1,10").state_dict(), meta={"data": "digits:train"})
    result = cli("spectrum", ckpt, *PAPER[:4], "--iterations", "2000", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    nodes = doc["probes"][0]["nodes"]
    assert 0 < len(nodes) <= 85 and all(math.isfinite(v) for v in nodes)
    assert math.isfinite(doc["spectrum"]["lambda_max"]) and math.isfinite(doc["spectrum"]["trace"])


def test_off_minimum_and_negative_curvature_are_warned_with_numbers(cli, tmp_path):
    """An untrained net: a large gradient against a small ε, and much negative curvature."""
    torch.manual_seed(0)
    ckpt = tmp_path / "untrained.pt"
    save_checkpoint(ckpt, SPEC, build_model(SPEC).state_dict(), meta={"data": "digits:train"})
    result = cli("bounds", ckpt, *PAPER, "--epsilon", "0.001", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    gradient = [w for w in doc["warnings"] if "not at a minimum" in w]
    assert gradient and f"{doc['gradient_norm']:.3g}" in gradient[0]
    mass = doc["spectrum"]["negative_mass"]
    assert mass > 0.05
    assert any("negative curvature" in w and f"{100 * mass:.1f} %" in w for w in doc["warnings"])



def test_the_docs_state_the_corpus_size():
    """docs/bad-input.md calls its table this corpus and gives its size; the two must agree."""
    stated = re.findall(r"\((\d[\d,]*) cases", (ROOT / "docs" / "bad-input.md").read_text(encoding="utf-8"))
    assert [int(n.replace(",", "")) for n in stated] == [len(CASES)]
