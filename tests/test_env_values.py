"""Environment variables with bad values (OMP_NUM_THREADS, PRUNELIMIT_CACHE_DIR, XDG_CACHE_HOME) and
cache folders no file system takes: one line naming the variable or option and the fix, the
documented exit code, never a crash, an internal error or a folder made under a name nobody meant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits-mlp.pt"
GATE = ("--min-ratio", "0.0", "--use", "predicted", "--max-samples", "300", "--json")
NO_USER = "~prunelimit-no-such-user"
# longer than the 255 bytes a name may have on every common file system (ext4, xfs, btrfs, tmpfs, APFS)
LONG = "x" * 300


def test_omp_num_threads_above_the_threads_limit_is_exit_2_not_a_crash(tmp_path):
    """``torch.set_num_threads(100000)`` killed the process: SIGSEGV (exit 139), no message."""
    env = {**os.environ, "OMP_NUM_THREADS": "100000", "PRUNELIMIT_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "prunelimit", "info", str(EXAMPLE)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("prunelimit")]  # not libgomp's own line
    assert ours == ["prunelimit: error: OMP_NUM_THREADS=100000 is more than 4,096 CPU threads; set it to at most "
                    "4096, or pass --threads N"]
    assert result.stdout == ""


def test_omp_num_threads_beyond_int64_is_exit_2_and_threads_overrides_it(cli, monkeypatch):
    """It was an internal error (exit 5, ``Overflow when unpacking long long``); ``--threads``
    never reads the variable, so it is the fix the message names."""
    monkeypatch.setenv("OMP_NUM_THREADS", "99999999999999999999")
    result = cli("info", EXAMPLE, "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["prunelimit: error: OMP_NUM_THREADS=99999999999999999999 is more than "
                                          "4,096 CPU threads; set it to at most 4096, or pass --threads N"]
    assert json.loads(cli("info", EXAMPLE, "--json", "--threads", "1").stdout)["params"]["total"] == 2410


@pytest.mark.parametrize("variable", ["PRUNELIMIT_CACHE_DIR", "XDG_CACHE_HOME"])
def test_a_cache_variable_naming_no_users_home_warns_and_runs_uncached(cli, own_ckpt, tmp_path, monkeypatch,
                                                                       variable):
    """``~nosuchuser/cache``: expanding it raised, an internal error (exit 5) before any work."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PRUNELIMIT_CACHE_DIR")
    monkeypatch.setenv(variable, f"{NO_USER}/cache")
    result = cli("gate", own_ckpt, *GATE)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cache_hit"] is False
    assert (f"prunelimit: warning: not caching results: cache folder {NO_USER}/cache"
            f"{'/prunelimit' if variable == 'XDG_CACHE_HOME' else ''}: {NO_USER} names no home folder on this "
            "machine; write the folder's full path") in result.stderr
    assert not (tmp_path / NO_USER).exists()


def test_a_cache_dir_naming_no_users_home_is_exit_2_and_makes_no_folder(cli, own_ckpt, tmp_path, monkeypatch):
    """``--cache-dir '~nosuchuser/c'`` made a folder named ``~nosuchuser`` in the current one."""
    monkeypatch.chdir(tmp_path)
    result = cli("gate", own_ckpt, "--cache-dir", f"{NO_USER}/c", *GATE)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"prunelimit: error: cache folder {NO_USER}/c: {NO_USER} names no home "
                                          "folder on this machine; write the folder's full path; pass another "
                                          "--cache-dir or --no-cache"]
    assert not (tmp_path / NO_USER).exists()


def test_a_cache_variable_too_long_for_the_file_system_warns_and_runs_uncached(cli, own_ckpt, tmp_path,
                                                                                monkeypatch):
    """It was exit 3, ``cannot use xxx…: File name too long; check the path``, naming neither the
    variable nor the cache, where any other unusable default folder warns and runs uncached."""
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(tmp_path / LONG))
    result = cli("gate", own_ckpt, *GATE)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cache_hit"] is False
    assert (f"prunelimit: warning: not caching results: cache folder {tmp_path / LONG}: cannot be created (File "
            "name too long) (set --cache-dir or PRUNELIMIT_CACHE_DIR)") in result.stderr
