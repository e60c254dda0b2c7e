"""``--device auto|cpu|cuda[:N]`` → ``torch.device`` (auto picks CUDA when present), the
peak memory a computation used there, and the host memory still available."""

from __future__ import annotations

import os
import re
import resource
import sys
from pathlib import Path

import torch

from prunelimit.errors import UsageError


def resolve_device(text: str = "auto") -> torch.device:
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:[0-9]+)?", text):  # ASCII digits: \d took cuda:٣, which torch.device refuses
        if not torch.cuda.is_available():
            raise UsageError(f"--device {text}: no CUDA device is available here; use --device cpu")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {text}: only {torch.cuda.device_count()} CUDA device(s) present")
        return torch.device(text)
    raise UsageError(f"--device {text!r}: use auto, cpu, cuda or cuda:N")


def reset_peak_memory(device: torch.device) -> None:
    """Start a new accelerator peak (the host peak cannot be reset: see ``peak_memory_mb``)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> tuple[float, float | None]:
    """``(host, device)`` peak memory in MiB: the process's peak resident set since it
    started, and the peak allocated on ``device`` since ``reset_peak_memory`` (``None``
    on a CPU)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    host = rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux
    if device.type == "cuda":
        return host, torch.cuda.max_memory_allocated(device) / 2**20
    return host, None


def free_memory_mb(device: torch.device) -> float | None:
    """Free memory on an accelerator in MiB (``None`` on a CPU, where host memory is shared)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] / 2**20
    return None


def available_host_mb() -> float | None:
    """Host memory this process can still take, in MiB: the kernel's ``MemAvailable``,
    lowered to what a cgroup (container) limit leaves; ``None`` where neither is known."""
    found = [_meminfo_available(), _cgroup_left()]
    known = [b for b in found if b is not None]
    return min(known) / 2**20 if known else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # not Linux: free pages (a lower figure than MemAvailable, which counts reclaimable cache)
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_left() -> int | None:
    """Bytes a cgroup v2 memory limit leaves (``None``: no limit or no cgroup v2)."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        return None


def synchronize(device: torch.device) -> None:
    """Wait for the accelerator's queued work (timing); nothing to do on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
