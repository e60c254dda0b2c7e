"""Shared fixtures: a tiny trained-ish MLP on the bundled digits, and a CLI runner."""

from __future__ import annotations

import importlib.util
import math
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model

SPEC = "mlp:64,12,10"
# 310 parameters, not 938: for tests of what the cache keys, where each of two or three runs
# forms the default exact spectrum and only the key matters (a third of the Hessian's columns)
SMALL_SPEC = "mlp:64,4,10"
LIBRARY_SAMPLES = 300  # enough digits for a stable spectrum, few enough for seconds a test


def signals_as_at_a_terminal() -> None:
    """``preexec_fn`` of a child a test sends SIGINT, SIGTERM or SIGHUP: each at its default.
    A child inherits ignored signals, and prunelimit keeps them ignored (``nohup``; a shell
    starts a background job ignoring SIGINT): a test run from a script's ``pytest ... &`` sent
    SIGINT to a bounds that ignored it and timed out, 60 s after it."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def junit_error_report(path: Path, stderr: str) -> bool:
    """Whether ``path`` is the JUnit report a failed gate writes on purpose (docs/guide.md):
    one errored case holding the error it printed. Any other file is an output left behind."""
    if path.suffix != ".xml":
        return False
    root = ET.parse(path).getroot()
    error = root.find(".//error")
    return root.get("errors") == "1" and error is not None and error.get("message") in stderr


def write_evil_pickle(path: Path, marker: Path, legacy: bool = False) -> None:
    """A checkpoint whose unpickling would create ``marker`` (made in a child process);
    ``legacy``: in torch's old non-zip format (``_use_new_zipfile_serialization=False``)."""
    code = (
        "import torch\n"
        "class Evil:\n"
        f"    def __reduce__(self): return (open, ({str(marker)!r}, 'w'))\n"
        f"torch.save({{'w': torch.zeros(1), 'e': Evil()}}, {str(path)!r}, _use_new_zipfile_serialization={not legacy})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def save_as(tensors: dict[str, torch.Tensor], path: Path, kind: str) -> Path:
    """``tensors`` in one of the file formats prunelimit reads: ``zip`` (``torch.save``),
    ``legacy`` (its pre-1.6 format), ``safetensors`` or ``npz``."""
    import numpy as np
    from safetensors.torch import save_file

    if kind == "safetensors":
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    elif kind == "npz":
        with open(path, "wb") as fh:  # np.savez would append .npz to another name
            np.savez(fh, **{k: v.numpy() for k, v in tensors.items()})
    else:
        torch.save(tensors, path, _use_new_zipfile_serialization=kind == "zip")
    return path


def claiming_storage(path: Path, numel: int, legacy: bool, key: str = "x") -> Path:
    """A ``torch.save`` file (zip or ``legacy`` format) of ``{key: 4 float32 zeros}`` whose pickle
    declares ``numel`` elements for the tensor and its storage: torch allocates that first."""
    import io
    import struct
    import zipfile

    buf = io.BytesIO()
    torch.save({key: torch.zeros(4)}, buf, _use_new_zipfile_serialization=not legacy)
    big = b"\x8a\x08" + struct.pack("<q", numel)  # LONG1: any size

    def patched(pickled: bytes) -> bytes:
        head, tail = pickled.split(b"FloatStorage", 1)  # the storage's element count, then the shape's
        tail = tail.replace(b"K\x04N" if legacy else b"K\x04t", big + (b"N" if legacy else b"t"), 1)
        return head + b"FloatStorage" + tail.replace(b"K\x00K\x04\x85", b"K\x00" + big + b"\x85", 1)

    if legacy:
        path.write_bytes(patched(buf.getvalue()))
        return path
    with zipfile.ZipFile(buf) as original, zipfile.ZipFile(path, "w") as out:
        for info in original.infolist():
            data = original.read(info)
            out.writestr(info, patched(data) if info.filename.endswith("data.pkl") else data)
    return path


def cut_short(path: Path) -> list[Path]:
    """Copies of ``path`` cut at a third, at nine tenths and one byte before its end (beside it)."""
    data = path.read_bytes()
    copies = []
    for keep in (len(data) // 3, len(data) * 9 // 10, len(data) - 1):
        copies.append(path.with_name(f"cut{keep}-{path.name}"))
        copies[-1].write_bytes(data[:keep])
    return copies


# a module whose gradient scale is a compiled-in constant, for the scripts that script it (SCALED_TWICE_PY,
# tests/cache/test_cache_function_variants.py)
SCALE_MODULE_PY = """class Scale(nn.Module):
    __constants__ = ["scale"]

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x.detach() * (1.0 - self.scale) + x * self.scale
"""


# Two scripted modules of one class whose gradient scales (compiled-in constants) differ: two
# variants of the class in one archive, one of them numbered (``___torch_mangle_N``). Saved as
# ``sys.argv[2]`` with the scales ``sys.argv[1]`` (``1.0,0.2``); a third argument first scripts
# one module of the last scale, as a process that exported another model before would have.
SCALED_TWICE_PY = """import sys
import torch
from torch import nn


""" + SCALE_MODULE_PY + """

class Net(nn.Module):
    def __init__(self, first, second):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(64, 4), nn.Linear(4, 10)
        self.first, self.second = Scale(first), Scale(second)

    def forward(self, x):
        return self.second(self.b(self.first(torch.relu(self.a(x)))))


first, second = map(float, sys.argv[1].split(","))
if len(sys.argv) > 3:
    torch.jit.script(Scale(second))
torch.jit.save(torch.jit.script(Net(first, second)), sys.argv[2])
"""


def scaled_twice(folder: Path) -> tuple[Path, Path]:
    """``one.pt`` and ``two.pt`` in ``folder``: :data:`SCALED_TWICE_PY`'s archives of one state dict
    and one code with the two modules' gradient scales swapped (``1.0,0.2`` and ``0.2,1.0``, the
    second saved by a process that scripted a module of its last scale first), so that with
    TorchScript's numbering left out their files read alike; the first batch's loss is the same."""
    code, one, two = folder / "scaled.py", folder / "one.pt", folder / "two.pt"
    code.write_text(SCALED_TWICE_PY)
    for args in (("1.0,0.2", one), ("0.2,1.0", two, "after")):
        subprocess.run([sys.executable, code, *map(str, args)], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return one, two


def archive_inputs(path: Path):
    """The inputs of a checkpoint holding code (TorchScript, a pickled module) as the TorchScript
    cache tests read it: 64 training digits, the file trusted."""
    from prunelimit.inputs import load_inputs

    return load_inputs(path, data="digits:train", max_samples=64, trust_pickle=True)


def provenance_report(current) -> dict:
    """The report ``check_same_problem`` reads for the provenance ``current``, as ``bounds --json`` records it."""
    from prunelimit.baseline import provenance_json

    return {"method": current.method, **provenance_json(current, current.hessian, current.prunable)}


# the scale of SCALED_TANH's backward, which alone reads it (1.0: tanh's own gradient); a test sets it otherwise
# with monkeypatch.setattr(conftest, ...): the gradient moves, the forward and the loss on the data do not
SCALED_TANH_BACKWARD = 1.0


@torch.library.custom_op("prunelimit_tests::scaled_tanh", mutates_args=())
def scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    """A custom operator defined in Python, called as ``torch.ops.prunelimit_tests.scaled_tanh``."""
    return torch.tanh(x)


@scaled_tanh.register_fake
def _(x):
    return torch.empty_like(x)


def _scaled_tanh_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


def _scaled_tanh_backward(ctx, g):
    (x,) = ctx.saved_tensors
    return g * SCALED_TANH_BACKWARD * (1 - torch.tanh(x) ** 2)


scaled_tanh.register_autograd(_scaled_tanh_backward, setup_context=_scaled_tanh_setup)


def keys_at_backward_scales(make, data, monkeypatch, scales=(1.0, 3.0, 1.0)) -> list[tuple[str, str]]:
    """The result cache key of ``make()`` on ``data`` (its digest and the witness, the first batch's loss)
    with SCALED_TANH's backward scaled by each of ``scales`` in turn."""
    import prunelimit
    from prunelimit.api import CurvatureOptions
    from prunelimit.cache import input_key, split_key

    keys = []
    for scale in scales:
        monkeypatch.setattr(sys.modules[__name__], "SCALED_TANH_BACKWARD", scale)
        keys.append(split_key(input_key(prunelimit.inputs_from(make(), data), "spectrum", CurvatureOptions())))
    return keys


def recorded_in_two_processes(code: str) -> list[str]:
    """What ``code`` prints in two fresh Python processes, the second having run its model ``m``'s forward
    and backward on ones first (``code``'s ``{run}``): a report is read by another command, another process,
    and the Python pytest imports is not another process's (it rewrites a test module's code)."""
    return [subprocess.run([sys.executable, "-c", code.format(run=run)], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).parents[1]).stdout.strip()
            for run in ("", "m(torch.ones(2, 64)).sum().backward(); ")]


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One torch thread for the whole suite: tiny matmuls on a shared 2-core machine run
    faster and in the same reduction order every time (deterministic JSON)."""
    threads, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # what an in-process command's default --threads reads
    yield
    torch.set_num_threads(threads)
    if env is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = env


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test its own empty result cache, never the user's ``~/.cache/prunelimit``."""
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def no_curvature(monkeypatch):
    """Any spectrum computation fails the test: what it checks must need no curvature work."""
    from prunelimit.api import curvature as curvature_api

    def forbidden(*args, **kwargs):
        raise AssertionError("the spectrum was computed")

    monkeypatch.setattr(curvature_api, "spectrum", forbidden)


@pytest.fixture
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(SPEC)


@pytest.fixture
def model(tiny_model) -> torch.nn.Module:
    """The tiny model under the name the library's tests give the caller's model."""
    return tiny_model


@pytest.fixture
def train() -> tuple[torch.Tensor, torch.Tensor]:
    """The library's data as a caller holds it: the first ``LIBRARY_SAMPLES`` training digits."""
    from prunelimit.data.spec import load_dataset

    data = load_dataset("digits:train", max_samples=LIBRARY_SAMPLES)
    return data.x, data.y


def adam_fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 100) -> torch.nn.Module:
    """``model`` after ``steps`` full-batch Adam steps (lr 1e-2) of cross-entropy on ``(x, y)``."""
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


def sgd_fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, seed: int,
            weight_decay: float = 0.0) -> torch.nn.Module:
    """``model`` after ``steps`` SGD steps (lr 0.05, momentum 0.9, ``weight_decay``) of
    cross-entropy on batches of 64 drawn from ``(x, y)`` by a generator seeded ``seed``: a
    plainly trained model, as people train one."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=weight_decay)
    draw = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i = torch.randint(0, len(x), (64,), generator=draw)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i]), y[i]).backward()
        optimizer.step()
    return model


@pytest.fixture
def fitted():
    """``adam_fit``, for the tests that train a small model of their own."""
    return adam_fit


@pytest.fixture
def mlp17() -> tuple[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A 17-parameter MLP (2-3-2, 12 prunable weights) after 100 Adam steps on 256 points
    of a linear rule: a model smaller than any Lanczos plan, whose R is about 1."""
    torch.manual_seed(0)
    x = torch.randn(256, 2)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    return adam_fit(model, x, y), (x, y)


@pytest.fixture
def own_ckpt(tmp_path, tiny_model):
    path = tmp_path / "own.pt"
    save_checkpoint(path, SPEC, tiny_model.state_dict(), meta={"data": "digits:train"})
    return path


@pytest.fixture
def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(SMALL_SPEC)


@pytest.fixture
def small_ckpt(tmp_path, small_model):
    """``own_ckpt`` of ``SMALL_SPEC``."""
    path = tmp_path / "own.pt"
    save_checkpoint(path, SMALL_SPEC, small_model.state_dict(), meta={"data": "digits:train"})
    return path


@pytest.fixture
def cli(monkeypatch):
    """Invoke the CLI in-process; returns click's Result (exit_code, stdout, stderr).

    The progress lines a run writes to a non-terminal stderr once it has lasted
    ``LOG_AFTER_S`` depend on the machine's speed, so they are off here: the tests that
    count stderr's lines stay exact. tests/report/test_progress.py tests them."""
    from prunelimit.report import progress

    monkeypatch.setattr(progress, "LOG_AFTER_S", math.inf)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture()
def roots(monkeypatch) -> list:
    """The root of every ``theory.limit.solve_fixed_point`` call without a shift (a bound's solve
    has one): the tests that count how often ρ* (or any rule's root) is solved."""
    import prunelimit.theory.limit as theory

    found: list = []
    solve = theory.solve_fixed_point

    def counted(profile, fraction, shift=0.0):
        root = solve(profile, fraction, shift)
        if shift == 0.0:
            found.append(root[0])
        return root

    monkeypatch.setattr(theory, "solve_fixed_point", counted)
    return found


class _Summary(HTMLParser):
    """The rows of the first table after the "Summary" heading, as ``{label: value}``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self._heading: str | None = None
        self._in_summary = self._done = False
        self._row: list[str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "h2":
            self._heading = ""
        elif tag == "tr" and self._in_summary and not self._done:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag) -> None:
        if tag == "h2":
            self._in_summary = self._heading == "Summary"
            self._heading = None
        elif tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if len(self._row) == 2:
                self.rows[self._row[0]] = self._row[1]
            self._row = None
        elif tag == "table" and self._in_summary:
            self._done = True

    def handle_data(self, data) -> None:
        if self._heading is not None:
            self._heading += data
        elif self._cell is not None:
            self._cell += data


def benchmark_module(name: str):
    """A script of benchmarks/ as a module (benchmarks/ holds scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAVED_DATA = ("--max-samples", "300", "--threads", "1")  # a saved report's data, which --from checks


def saved_slq_report(cli, ckpt) -> dict:
    """A ``bounds --json`` report of a short SLQ run (``--max-hvps 40``: several probes, a ±
    of its own) on ``ckpt`` over ``SAVED_DATA``, for tests that edit it and read it back
    with ``--from``."""
    import json

    made = cli("bounds", ckpt, "--method", "slq", "--max-hvps", "40", "--no-cache", *SAVED_DATA, "--json")
    assert made.exit_code == 0, made.stderr
    return json.loads(made.stdout)


def report_read_back(cli, tmp_path, *args) -> tuple[dict, Path]:
    """``bounds ARGS --json`` saved as ``base.json``, which ``gate ARGS --from`` reads back while
    the code is the same (exit 0): the report and its path, for tests that then change the code."""
    import json

    made = cli("bounds", *args, "--json")
    assert made.exit_code == 0, made.stderr
    report = tmp_path / "base.json"
    report.write_text(made.stdout)
    assert cli("gate", *args, "--from", report, "--min-ratio", 0).exit_code == 0  # its own code
    return json.loads(made.stdout), report


def nets_arguments(tmp_path, nets_py: str, factory: str, **files: str) -> tuple:
    """The arguments of a command on ``factory`` of ``nets_py`` (written as ``nets.py`` beside ``files``,
    name: text), over 200 digits, its ``a`` and ``b`` layers' weights (``Linear(64, 4)``, ``Linear(4, 10)``
    drawn under seed 0) saved as a state dict."""
    (tmp_path / "nets.py").write_text(nets_py)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    torch.manual_seed(0)
    weights = tmp_path / "weights.pt"
    torch.save(torch.nn.ModuleDict({"a": torch.nn.Linear(64, 4), "b": torch.nn.Linear(4, 10)}).state_dict(), weights)
    return weights, "--model", f"{tmp_path / 'nets.py'}:{factory}", "--data", "digits:train", "--max-samples", 200


def summary_rows(page: str) -> dict[str, str]:
    """The HTML summary's ``{quantity: value}`` rows, read with the stdlib parser."""
    parser = _Summary()
    parser.feed(page)
    return parser.rows


CLOCKED_DIM = 6


class ClockedOperator:
    """A diagonal operator of ``CLOCKED_DIM`` whose every product advances ``now`` by one
    second: a simulated clock for tests of what a time budget prices."""

    device, dtype = torch.device("cpu"), torch.float64

    def __init__(self, now: list[float]) -> None:
        self.shape, self.dim, self.hvps, self._now = (CLOCKED_DIM, CLOCKED_DIM), CLOCKED_DIM, 0, now

    def matvec(self, v):
        self._now[0] += 1.0
        self.hvps += 1
        return v * torch.arange(1.0, CLOCKED_DIM + 1, dtype=torch.float64)


def _rounds_in_bfloat16() -> bool:
    """Whether a float32 matmul of a runs-sized batch rounds at bfloat16's ~4e-3 here."""
    a, b = torch.randn(128, 64, generator=torch.Generator().manual_seed(0)), torch.ones(64, 4)
    exact = a.double() @ b.double()
    return float(((a @ b).double() - exact).abs().max() / exact.abs().max()) > 1e-4


@pytest.fixture
def bfloat16_products():
    """float32 matmuls and convolutions rounding in bfloat16, as a model's module may set them
    (this CPU's stand-in for a GPU's TF32), set back after the test; skipped where this torch or
    CPU has no bfloat16 products."""
    mkldnn = torch.backends.mkldnn
    if not mkldnn.is_available() or not hasattr(mkldnn.matmul, "fp32_precision"):
        pytest.skip("no oneDNN per-operation fp32_precision in this torch")
    old = (mkldnn.matmul.fp32_precision, mkldnn.conv.fp32_precision)
    mkldnn.matmul.fp32_precision = mkldnn.conv.fp32_precision = "bf16"
    try:
        if not _rounds_in_bfloat16():
            pytest.skip("this CPU computes no bfloat16 products")
        yield
    finally:
        mkldnn.matmul.fp32_precision, mkldnn.conv.fp32_precision = old


def install_distribution(site: Path, package: str, distribution: str, version: str, files: dict[str, str]) -> None:
    """Install ``package`` (its ``files``, by name) into the folder ``site`` as pip does: the files and a dist-info
    of ``distribution`` at ``version`` whose RECORD lists each file's sha256, any other version's dist-info gone."""
    import base64
    import hashlib
    import shutil

    stem = distribution.replace("-", "_")
    for old in site.glob(f"{stem}-*.dist-info"):
        shutil.rmtree(old)
    folder, info = site / package, site / f"{stem}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    info.mkdir()
    lines = []
    for name, text in files.items():
        (folder / name).write_text(text)
        sha = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        lines.append(f"{package}/{name},sha256={sha},{len(text.encode())}")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "RECORD").write_text("\n".join([*lines, f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]) + "\n")
