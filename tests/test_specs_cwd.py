"""A ``package.module:fn`` spec typed in the folder holding the package: ``python -m
prunelimit`` has that folder on ``sys.path``, the installed ``prunelimit`` command does
not, and it refused the spec (ModuleNotFoundError) unless PYTHONPATH was set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import InputError
from prunelimit.specs import resolve_callable

# the console script's sys.path: its own folder first, never the current one (as `python -c` has it)
CONSOLE_SCRIPT = ("import sys; sys.path.pop(0); from prunelimit.cli import main; "
                  "sys.argv = ['prunelimit', *sys.argv[1:]]; main()")


def _package(root: Path, name: str, value: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (root / name / "nets.py").write_text(
        f"from torch import nn\nVALUE = {value!r}\ndef make():\n    return nn.Sequential(nn.Linear(4, 3))\n")
    (root / name / "losses.py").write_text(
        "import torch.nn.functional as F\ndef fn(model, batch):\n    return F.cross_entropy(model(batch[0]), batch[1])\n")


@pytest.fixture
def without_cwd_on_path(tmp_path, monkeypatch):
    """``tmp_path`` as the current folder, not on ``sys.path`` (``python -m pytest`` puts it there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".") and Path(p).resolve() != tmp_path.resolve()])
    yield tmp_path
    for name in [n for n in sys.modules if n.split(".")[0] in ("cwd_spec_pkg", "cwd_spec_mod", "cwd_helper")]:
        del sys.modules[name]


def test_a_module_spec_is_found_in_the_current_folder(without_cwd_on_path):
    root = without_cwd_on_path
    _package(root, "cwd_spec_pkg", "pkg")
    (root / "cwd_helper.py").write_text("VALUE = 'helper'\n")
    (root / "cwd_spec_mod.py").write_text("import cwd_helper\ndef fn():\n    return cwd_helper.VALUE\n")
    assert resolve_callable("cwd_spec_pkg.nets", "make", "model")()[0].in_features == 4
    assert resolve_callable("cwd_spec_mod", "fn", "loss")() == "helper"
    with pytest.raises(InputError, match=r"No module named 'cwd_spec_pkg.nope'$"):  # its package found: no hint
        resolve_callable("cwd_spec_pkg.nope", "fn", "loss")
    # run as its bytes say, as the result cache keys it (a .pyc is trusted by mtime and size)
    assert type(sys.modules["cwd_spec_pkg.nets"].__loader__).__name__ == "SourceBytesLoader"
    # appended, not put first: an installed module of a name the folder also holds still wins
    assert sys.path[-1] == str(root.resolve()) and sys.path.count(str(root.resolve())) == 1


def test_a_module_found_nowhere_is_still_refused_with_where_to_put_it(without_cwd_on_path):
    with pytest.raises(InputError, match=r"^could not import model module 'cwd_spec_pkg.nets': ModuleNotFoundError: "
                                         r"No module named 'cwd_spec_pkg'; .* the folder holding cwd_spec_pkg, or add that "
                                         r"folder to (PYTHONPATH|sys.path)$"):
        resolve_callable("cwd_spec_pkg.nets", "make", "model")
    assert str(without_cwd_on_path.resolve()) not in sys.path


def test_the_installed_command_takes_a_module_spec_from_the_current_folder(tmp_path):
    """As a user runs it: `prunelimit info ck.pt --model pkg.nets:make --loss pkg.losses:fn
    --data tensors:d.pt` beside the package, no PYTHONPATH (a loss is read over data alone);
    the module's bytes key the result cache."""
    _package(tmp_path, "cwd_spec_pkg", "pkg")
    torch.save(nn.Sequential(nn.Linear(4, 3)).state_dict(), tmp_path / "ck.pt")
    generator = torch.Generator().manual_seed(0)
    torch.save({"x": torch.randn(12, 4, generator=generator), "y": torch.arange(12) % 3}, tmp_path / "d.pt")
    env = {**os.environ, "PYTHONPATH": str(Path(prunelimit.__file__).parents[1])}
    run = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, "info", "ck.pt", "--model", "cwd_spec_pkg.nets:make",
                          "--loss", "cwd_spec_pkg.losses:fn", "--data", "tensors:d.pt", "--json"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["model"] == "cwd_spec_pkg.nets:make" and report["loss"] > 0  # computed by the spec's loss
