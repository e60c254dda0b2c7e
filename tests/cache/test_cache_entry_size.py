"""A cache entry file is read only as far as an entry's header declares: a huge file in the
cache folder (sparse, so it costs no disk) is a miss that reads a few bytes of it, not one that
fills the memory. Each case runs in a child process whose address space is capped at 1 GiB
over what it holds after its imports, so reading such a file whole fails there (MemoryError)
instead of swapping the machine."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and VmSize are Linux's")

HUGE = 4 * 2**30  # over the 1 GiB the child may add: reading it whole cannot succeed
KEY = "ab" * 32

CHILD = textwrap.dedent("""
    import resource, sys
    from pathlib import Path

    from prunelimit.cache import Store

    vm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
    warnings = []
    store = Store(Path(sys.argv[1]), warnings.append)
    found = store.load(sys.argv[2], "spectrum")
    print(found is None, warnings)
""")


def _load(folder, key=KEY) -> str:
    """The child's answer: whether the load missed, and its warnings."""
    run = subprocess.run([sys.executable, "-c", CHILD, str(folder), key], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def _huge(path, head: bytes = b"") -> None:
    path.write_bytes(head)
    path.chmod(0o600)
    with open(path, "r+b") as f:
        f.truncate(HUGE)


def test_a_huge_file_without_a_header_line_is_a_miss_read_no_further(tmp_path):
    _huge(tmp_path / f"{KEY}.entry")
    answer = _load(tmp_path)
    assert answer.startswith("True") and "no header line in its first 64 MiB" in answer


def test_an_entry_with_a_huge_tail_is_a_miss_read_no_further(tmp_path):
    """An intact entry of this key, then gigabytes more: its header declares 80 bytes of arrays."""
    from prunelimit.cache import Entry, encode_entry

    data = encode_entry(Entry({"tensor": 0}, (np.arange(10, dtype="<f8"),)), KEY, "spectrum")
    path = tmp_path / f"{KEY}.entry"
    path.write_bytes(data)
    path.chmod(0o600)
    assert _load(tmp_path).startswith("False")  # intact as written: read back
    _huge(path, data)
    answer = _load(tmp_path)
    assert answer.startswith("True") and "trailing bytes" in answer

