"""Shared fixtures: a tiny trained-ish MLP on the bundled digits, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.spec import build_model

SPEC = "mlp:64,12,10"
LIBRARY_SAMPLES = 300  # enough digits for a stable spectrum, few enough for seconds a test


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


@pytest.fixture
def own_ckpt(tmp_path, tiny_model):
    path = tmp_path / "own.pt"
    save_checkpoint(path, SPEC, tiny_model.state_dict(), meta={"data": "digits:train"})
    return path


@pytest.fixture
def cli():
    """Invoke the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke
