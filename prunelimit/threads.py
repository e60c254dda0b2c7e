"""``--threads N``: how many CPU threads torch's kernels and NumPy/SciPy's BLAS use, set before
any work starts.

The default (``None``) is the ``OMP_NUM_THREADS`` environment variable when it is set and
otherwise one thread per idle core: the machine's cores less those the load average says
other processes keep busy, at least 1. On a busy shared runner torch's own default (one
thread per core) makes its threads wait for each other: measured on a loaded 2-core
machine, ``bounds`` spent several times the CPU time for no gain in wall time
(docs/benchmarks.md, "Threads").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


def idle_cores(cores: int, load: float) -> int:
    """Cores left over by ``load`` runnable processes (the 1-minute load average), at least 1."""
    return max(1, min(cores, cores - int(load)))


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when set (:func:`omp_threads`), else :func:`idle_cores` of this machine."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    if text:
        return omp_threads(text)
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform: assume the machine is idle
        load = 0.0
    return idle_cores(cores, load)


def omp_threads(text: str) -> int:
    """``OMP_NUM_THREADS``'s value ``text`` as threads: its first entry (OpenMP's list names the
    outermost level first: ``4,2`` is 4), read as ``--threads`` reads its value (``2``, ``2.0``,
    ``2e0``); a ``UsageError`` naming it for anything else, where ``2.5``, ``0`` or ``abc`` were
    ignored in silence (libgomp's "Invalid value" line said no more), and for more threads than
    ``--threads`` takes."""
    from prunelimit.errors import UsageError
    from prunelimit.limits import COUNT_RANGES
    from prunelimit.validate import read_count

    least, most = COUNT_RANGES["threads"][:2]
    try:
        threads = read_count(text.partition(",")[0])
    except ValueError as exc:
        raise UsageError(f"OMP_NUM_THREADS: {exc}; set it to a number of CPU threads, unset it, "
                         "or pass --threads N") from None
    if threads < least:
        raise UsageError(f"OMP_NUM_THREADS={text} is no number of CPU threads (at least {least}); set it to one, "
                         "unset it, or pass --threads N")
    if threads > most:  # torch.set_num_threads(100000) killed the process (SIGSEGV, no message)
        raise UsageError(f"OMP_NUM_THREADS={text} is more than {most:,} CPU threads; set it to at most "
                         f"{most}, or pass --threads N")
    return threads


def apply_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (and its inter-op threads, while that is still allowed),
    and the BLAS threads of NumPy and SciPy, to ``threads``, or to :func:`default_threads` for
    ``None``; returns the number set."""
    import torch

    n = default_threads() if threads is None else threads
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # inter-op work already ran in this process (a library caller): leave it
        pass
    # The Lanczos bracket's and the solvers' NumPy products otherwise take one thread per core
    # whatever --threads says, and wait on each other's cores on a loaded machine (docs/guide.md).
    limit_blas(n)
    return n


# Read by an OpenBLAS loaded after the limit is set: SciPy's own copy, loaded on SciPy's first
# import, which threadpoolctl (it sees loaded libraries only) left on one thread per core
# under --threads 1 (its tridiagonal eigensolver behind every Lanczos rule among them).
BLAS_ENV = "OPENBLAS_NUM_THREADS"


def limit_blas(n: int) -> AbstractContextManager:
    """NumPy and SciPy's BLAS at ``n`` threads, those loaded now and an OpenBLAS loaded later
    (``BLAS_ENV``); the result, a context manager, gives the loaded ones their count back."""
    from threadpoolctl import threadpool_limits

    os.environ[BLAS_ENV] = str(n)
    return threadpool_limits(limits=n, user_api="blas")


@contextmanager
def blas_as_torch() -> Iterator[None]:
    """NumPy and SciPy's BLAS threads at torch's intra-op count for the block, then back: a
    library call computes on the threads its caller set for torch, as ``--threads`` sets
    both for the command line. Left alone, OpenBLAS took one thread per core for the
    Lanczos bracket above ~200 steps, and on a loaded 2-core machine its threads waited on
    each other: the bracket of 256 steps 348 ms against 9 ms on one thread, past the
    price its 128 steps set, so a --time-budget of 2 s ran to 2.7 s."""
    import torch

    before = os.environ.get(BLAS_ENV)
    try:
        with limit_blas(torch.get_num_threads()):
            yield
    finally:  # a BLAS loaded during the call keeps the call's count: it had none of the caller's
        if before is None:
            os.environ.pop(BLAS_ENV, None)
        else:
            os.environ[BLAS_ENV] = before


@contextmanager
def one_thread() -> Iterator[None]:
    """torch's intra-op threads at 1 for the block, then back: one thread's CPU time does not
    depend on other load, where several threads wait (and spin) for each other's cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
