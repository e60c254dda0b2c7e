"""What an atomic write leaves behind besides the bytes: the permissions of the file it
replaces, and no file named ``-`` where standard output was meant."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from prunelimit.errors import UsageError
from prunelimit.io.atomic import write_atomic

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("before", [0o600, 0o640, 0o755])
def test_force_keeps_the_permissions_of_the_file_it_replaces(tmp_path, before):
    """The rename put a fresh 0o644 file in place: a checkpoint kept private (0o600) became
    readable by everyone once rewritten with --force."""
    dest = tmp_path / "p.pt"
    dest.write_text("old")
    dest.chmod(before)
    write_atomic(dest, lambda tmp: tmp.write_text("new"), force=True)
    assert dest.read_text() == "new" and _mode(dest) == before


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "n.pt", lambda tmp: tmp.write_text("new"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "n.pt") == 0o640


def test_prune_force_onto_a_private_file_keeps_it_private(cli, tmp_path):
    out = tmp_path / "p.pt"
    out.write_text("old")
    out.chmod(0o600)
    result = cli("prune", EXAMPLE, "--ratio", "0.5", "-o", out, "--force", "--threads", "1")
    assert result.exit_code == 0, result.stderr
    assert _mode(out) == 0o600 and out.stat().st_size > 1000


@pytest.mark.parametrize("args", [
    ["prune", EXAMPLE, "--ratio", "0.5", "-o", "-"],
    ["prune", EXAMPLE, "--ratio", "0.5", "-o", "p.pt", "--format", "safetensors", "--report", "-"],
])
def test_a_dash_output_is_refused_not_written_as_a_file_named_dash(cli, tmp_path, monkeypatch, args):
    """``-o -`` reads as standard output; it wrote a file named ``-`` in the current folder."""
    monkeypatch.chdir(tmp_path)
    result = cli(*args, "--threads", "1")
    assert result.exit_code == 2, result.stderr
    assert "standard output" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_writer_refuses_a_dash_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="standard output"):
        write_atomic("-", lambda tmp: tmp.write_text("x"))
    assert list(tmp_path.iterdir()) == []
