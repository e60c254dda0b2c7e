"""``device.peak_host_mb``: a process's own peak resident set, not the one of the process it was
started from (``ru_maxrss`` keeps that across ``exec``: a size-bomb child of a 1.6 GB test worker
read 1.6 GB, over the test's 1.5 GB limit, where it held 0.25 GB)."""
import subprocess
import sys

import pytest

HELD = 800 << 20  # what the parent holds when it starts the child: far above a child's imports


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is inherited across exec on Linux")
def test_a_command_started_by_a_large_process_reports_its_own_peak():
    held = bytearray(HELD)
    held[::4096] = b"\1" * len(range(0, HELD, 4096))  # resident, not only reserved
    code = ("import resource; from prunelimit.device import peak_host_mb; "
            "print(peak_host_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    own, inherited = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                               check=True).stdout.split())
    assert inherited >= HELD / 2**20  # the counter the child read before
    assert own < HELD / 2**20 / 2  # torch's import and the interpreter: ~0.3 GB
    del held
