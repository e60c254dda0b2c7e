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


@pytest.mark.parametrize(("value", "threads"), [("2.0", 2), ("2e0", 2), (" 3 ", 3), ("4,2", 4)])
def test_omp_num_threads_is_read_as_threads_reads_its_value(monkeypatch, value, threads):
    """``2.0`` and ``2e0`` (which ``--threads`` takes) were ignored in silence, and so was OpenMP's
    list ``4,2`` (4 threads at the outer level): one thread per idle core instead."""
    from prunelimit.threads import default_threads

    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert default_threads() == threads


@pytest.mark.parametrize(("value", "line"), [
    ("2.5", "OMP_NUM_THREADS: must be an integer, got '2.5'; write 2 or 3; set it to a number of CPU threads, "
            "unset it, or pass --threads N"),
    ("abc", "OMP_NUM_THREADS: got 'abc', not a number; set it to a number of CPU threads, unset it, or pass "
            "--threads N"),
    ("0", "OMP_NUM_THREADS=0 is no number of CPU threads (at least 1); set it to one, unset it, or pass --threads N"),
])
def test_omp_num_threads_that_is_no_number_of_threads_is_exit_2_naming_it(cli, monkeypatch, value, line):
    """They were ignored in silence (one thread per idle core), libgomp's own "Invalid value" line
    naming no fix; ``--threads`` never reads the variable, so it is a fix the message names."""
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    result = cli("info", EXAMPLE, "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"prunelimit: error: {line}"]
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


# --------------------------------------------------------------------------- a file system that takes no more


def _with_file_size_limit(args: list, cwd: Path, limit: int) -> subprocess.CompletedProcess:
    """Run a command whose files may not grow past ``limit`` bytes (RLIMIT_FSIZE): a write beyond
    fails with EFBIG, as one on a full disk fails with ENOSPC (SIGXFSZ ignored, which else kills)."""
    import resource
    import signal

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "prunelimit", *map(str, args), "--threads", "1"],
                          cwd=cwd, env=os.environ, capture_output=True, text=True, timeout=180, preexec_fn=limited)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
@pytest.mark.parametrize("command, output", [
    (["prune", EXAMPLE, "--ratio", "0.5", "--no-cache", "-o"], "p.pt"),  # torch's zip writer: it was exit 5, "unexpected pos"
    (["bounds", EXAMPLE, "--method", "paper", "--iterations", "5", "--runs", "1", "--no-cache", "--plot"],
     "b.png"),  # Python's write: exit 3, "cannot use: …"
])
def test_an_output_the_file_system_cannot_take_is_exit_2_naming_it_and_leaves_the_old_file(tmp_path, command,
                                                                                           output):
    old = tmp_path / output
    old.write_bytes(b"old")
    result = _with_file_size_limit([*command, output, "--force"], tmp_path, 4000)  # both outputs are larger
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"prunelimit: error: cannot write {output} (File too large); free space on "
                                          "its file system, or write it elsewhere"]
    assert result.stdout == "" and old.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [output]  # no temporary file left


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_an_export_the_file_system_cannot_take_is_exit_2(cli, tmp_path):
    """safetensors' writer: it was exit 3 naming no file, ``cannot use: File too large; check the path``."""
    pruned = tmp_path / "p.pt"
    assert cli("prune", EXAMPLE, "--ratio", "0.5", "-o", pruned, "--no-cache").exit_code == 0
    result = _with_file_size_limit(["export", pruned, "-o", "e.safetensors"], tmp_path, 2000)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["prunelimit: error: cannot write e.safetensors (File too large); free space "
                                          "on its file system, or write it elsewhere"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.pt"]


# --------------------------------------------------------------------------- torchrun's variables without torchrun


def test_world_size_without_torchrun_is_exit_2_not_a_traceback(tmp_path):
    """WORLD_SIZE left in a CI job's environment: torch's rendezvous raised 'environment
    variable RANK expected, but not set', a traceback and exit 1, a failed gate's code."""
    env = {key: value for key, value in os.environ.items() if key not in ("RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                                           "MASTER_PORT")}
    env.update(WORLD_SIZE="2", PRUNELIMIT_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "prunelimit", "gate", str(EXAMPLE), "--min-ratio", "0.1"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "prunelimit: error: WORLD_SIZE is set ('2') but RANK, MASTER_ADDR, MASTER_PORT are not, so no process group "
        "can be joined; run prunelimit with torchrun, which sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, or "
        "unset WORLD_SIZE"]
    assert result.stdout == ""


@pytest.mark.parametrize("env, message", [
    ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "29500", "LOCAL_RANK": "x"},
     "LOCAL_RANK='x' is not a whole number ≥ 0"),
    ({"WORLD_SIZE": "-1", "RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "29500"},
     "WORLD_SIZE='-1' is not a whole number ≥ 0"),
    ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "h", "MASTER_PORT": "29500"}, "RANK=2 is not below WORLD_SIZE=2"),
    ({"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": " ", "MASTER_PORT": "29500"}, "but MASTER_ADDR is not"),
])
def test_torchrun_variables_set_wrongly_are_named(env, message):
    from prunelimit.distributed import check_launch_variables
    from prunelimit.errors import UsageError

    with pytest.raises(UsageError, match=message) as caught:
        check_launch_variables(env)
    assert str(caught.value).endswith("run prunelimit with torchrun, which sets RANK, WORLD_SIZE, MASTER_ADDR and "
                                      "MASTER_PORT, or unset WORLD_SIZE")


def test_torchrun_variables_as_torchrun_sets_them_pass():
    from prunelimit.distributed import check_launch_variables

    check_launch_variables({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                            "MASTER_PORT": "29500"})
