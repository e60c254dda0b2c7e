"""A library call runs NumPy and SciPy's BLAS on torch's thread count, as ``--threads``
sets both for the command line, and gives the caller's BLAS count back: left at one thread
per core, the Lanczos bracket of 256 steps took 348 ms against 9 ms on one thread on a
loaded 2-core machine, and a ``time_budget=2`` spectrum ran to 2.7 s. Counts only: no test
here measures time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from threadpoolctl import threadpool_info, threadpool_limits

import prunelimit


def _blas_threads() -> dict[str, int]:
    return {pool["filepath"]: pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_a_call_runs_blas_on_torchs_threads_and_gives_the_count_back(tiny_model, train) -> None:
    seen: list[dict[str, int]] = []
    before_torch = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=2, user_api="blas"):
            caller = _blas_threads()
            prunelimit.spectrum(tiny_model, train, method="slq", max_hvps=20,
                                progress=lambda done, total=None, text=None: seen.append(_blas_threads()))
            after = _blas_threads()
            assert {path: after[path] for path in caller} == caller  # the caller's counts, back
    finally:
        torch.set_num_threads(before_torch)
    assert seen and all(set(threads.values()) == {1} for threads in seen), seen


def test_the_command_lines_threads_hold_a_blas_loaded_after_them() -> None:
    """``--threads 1`` limited the BLAS loaded when it was applied; SciPy's own OpenBLAS,
    loaded on SciPy's first import (the Lanczos rules' tridiagonal solver), took one thread
    per core. A fresh process: what it loads later is the case in question."""
    code = ("from prunelimit.threads import apply_threads; apply_threads(1); import scipy.linalg; "
            "from threadpoolctl import threadpool_info; "
            "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[1]", out
