"""The cache key holds the bytes of the files the user's code opens while the model loads and the
first batch runs, however their paths are built (prunelimit.cache_opened)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from prunelimit.cache_opened import opened_lines, recording_opens
from tests.cache.test_cache import _assert_recomputed, _doc, _gate
from tests.cache.test_cache_reads import gated_twice

# "scale.txt" built from character codes: no string of the code names the file
COMPUTED_NAME = "''.join(chr(c) for c in (115, 99, 97, 108, 101, 46, 116, 120, 116))"


def _model_file(expression: str, head: str = "") -> str:
    return (f"{head}from torch import nn\n\n\nclass Scaled(nn.Sequential):\n    def forward(self, x):\n"
            f"        return super().forward(x) * {expression}\n\n\n"
            "def make():\n    return Scaled(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))\n")


# the value scales only the short last batch (--max-samples 300 in batches of 128): the first
# batch's loss, which every entry is checked against, does not show a change of it
LAST_BATCH_ONLY = _model_file(f"(float(open({COMPUTED_NAME}).read()) if x.shape[0] < 128 else 1.0)")
# every batch, opened with os.open: a lower-level call than open()
OS_OPEN = _model_file(f"float(os.read(os.open({COMPUTED_NAME}, os.O_RDONLY), 64))", head="import os\n")


# "PLSCALE" built from character codes, read for the short last batch alone: no string of the code names the
# variable, and the first batch's loss does not show its value
VARIABLE_LAST_BATCH_ONLY = _model_file(
    "(float(os.environ.get(''.join(chr(c) for c in (80, 76, 83, 67, 65, 76, 69)), '1.0')) "
    "if x.shape[0] < 128 else 1.0)", head="import os\n")


@pytest.mark.parametrize("source", [LAST_BATCH_ONLY, OS_OPEN], ids=["last-batch-only", "os.open"])
def test_a_file_opened_by_a_computed_name_is_keyed(cli, own_ckpt, tmp_path, monkeypatch, source):
    """A forward opening a file whose name no string holds, its value changing only what the
    first batch does not show: gate served the old spectrum from the cache (the key and the
    first batch's loss both unchanged). Its bytes are now keyed: a miss, no warning needed."""
    first, args = gated_twice(cli, own_ckpt, tmp_path, monkeypatch, source)
    (tmp_path / "scale.txt").write_text("0.25")
    result = _assert_recomputed(cli, own_ckpt, "cache", first, *args)
    assert "first analysis batch" not in result.stderr
    assert _doc(_gate(cli, own_ckpt, "cache", *args))["cache_hit"] is True  # the new bytes' entry


def test_an_environment_variable_read_by_a_computed_name_is_keyed(cli, own_ckpt, tmp_path, monkeypatch):
    """A forward reading a variable whose name no string holds, its value changing only the last batch:
    gate served the old spectrum from the cache (a hit: the key and the first batch's loss both unchanged).
    The variable the code read is keyed by its value now (unset, then set): a miss each time, no warning."""
    monkeypatch.delenv("PLSCALE", raising=False)
    first, args = gated_twice(cli, own_ckpt, tmp_path, monkeypatch, VARIABLE_LAST_BATCH_ONLY)
    monkeypatch.setenv("PLSCALE", "0.25")
    result = _assert_recomputed(cli, own_ckpt, "cache", first, *args)
    assert "first analysis batch" not in result.stderr
    assert _doc(_gate(cli, own_ckpt, "cache", *args))["cache_hit"] is True  # the new value's entry


def test_recording_notes_the_variables_the_users_code_reads(monkeypatch):
    """Each variable the user's code reads, however (``[]``, ``get``, ``getenv``, ``in``), set or not, by name;
    not one installed code reads (the standard library's ``getpass`` reads $LOGNAME, $USER...), nor after the block."""
    import getpass

    monkeypatch.setenv("PL_SET", "1")
    monkeypatch.delenv("PL_UNSET", raising=False)
    with recording_opens() as seen:
        assert os.environ["PL_SET"] == "1" and os.environ.get("PL_UNSET") is None
        os.getenv("PL_" + "GOT")
        assert "PL_IN" not in os.environ
        getpass.getuser()
    assert seen == {"$PL_SET", "$PL_UNSET", "$PL_GOT", "$PL_IN"}
    os.environ.get("PL_AFTER")
    assert seen == {"$PL_SET", "$PL_UNSET", "$PL_GOT", "$PL_IN"}
    assert opened_lines(seen, lambda path: False) == ["$PL_GOT unset", "$PL_IN unset", "$PL_SET=1", "$PL_UNSET unset"]


def test_the_first_variable_read_in_a_fresh_process_is_noted(tmp_path):
    """The first read noted in a process looks for the installed folders, which reads variables itself
    (sysconfig's): those reads were noted in turn, recursing without end (the read never returned). In a
    process of its own, where nothing looked for them before; the timeout only ends a hang."""
    script = ("import os\nfrom prunelimit.cache_opened import recording_opens\n"
              "with recording_opens() as seen:\n    os.environ.get('PL_FIRST')\nprint(sorted(seen))\n")
    (tmp_path / "first.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, str(tmp_path / "first.py")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['$PL_FIRST']"


def test_recording_notes_reads_of_this_thread_only(tmp_path, monkeypatch):
    """Reads are noted with absolute paths; writes, and another thread's reads, are not."""
    (tmp_path / "read.txt").write_text("1")
    monkeypatch.chdir(tmp_path)
    with recording_opens() as seen:
        Path("read.txt").read_text()
        Path("written.txt").write_text("2")
        os.close(os.open("read.txt", os.O_RDONLY))
        os.close(os.open("other.txt", os.O_WRONLY | os.O_CREAT))
        reader = threading.Thread(target=lambda: (tmp_path / "written.txt").read_text())
        reader.start()
        reader.join()
    assert seen == {str(tmp_path / "read.txt")}
    Path("read.txt").read_text()  # after the block: not noted
    assert seen == {str(tmp_path / "read.txt")}


def test_opened_lines_key_name_and_bytes_not_folder(tmp_path):
    """The same file in a moved folder gives the same line; new bytes another; a file that was
    not there is keyed as absent; bytecode caches and the kernel's views are left out (code, where installed code
    or an import opened it, is never recorded: tests/cache/test_cache_code_ran.py)."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "scale.txt").write_text("1.0")
    keep = lambda p: False  # noqa: E731
    a, b = opened_lines([str(tmp_path / "a" / "scale.txt")], keep), opened_lines([str(tmp_path / "b" / "scale.txt")], keep)
    assert a == b and len(a) == 1 and a[0].startswith("scale.txt:")
    (tmp_path / "b" / "scale.txt").write_text("2.0")
    assert opened_lines([str(tmp_path / "b" / "scale.txt")], keep) != a
    assert opened_lines([str(tmp_path / "missing.json")], keep) == ["missing.json:absent"]
    left_out = [str(tmp_path / "__pycache__" / "m.cpython-311.pyc"), "/proc/self/status"]
    assert opened_lines(left_out, keep) == []
    assert opened_lines([str(tmp_path / "a" / "scale.txt")], lambda p: p.endswith("scale.txt")) == []


def test_reads_while_a_module_is_imported_are_not_noted(tmp_path, monkeypatch):
    """A module reads its files once a process: noting them would key a process's first
    command apart from its second (a notebook's, a test's)."""
    import importlib
    import sys

    (tmp_path / "plopened_cfg.py").write_text("import pathlib\nSCALE = pathlib.Path(__file__).with_suffix('.txt').read_text()\n")
    (tmp_path / "plopened_cfg.txt").write_text("1.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "plopened_cfg", raising=False)
    with recording_opens() as seen:
        importlib.import_module("plopened_cfg")
        (tmp_path / "plopened_cfg.txt").read_text()
    assert seen == {str(tmp_path / "plopened_cfg.txt")}  # once, by the read after the import
    monkeypatch.delitem(sys.modules, "plopened_cfg")
    with recording_opens() as seen:
        importlib.import_module("plopened_cfg")
    assert seen == set()
