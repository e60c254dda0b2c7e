"""``--device auto|cpu|cuda[:N]`` → ``torch.device`` (auto picks CUDA when present), the
peak memory a computation used there, the host memory still available, and IEEE float32
for the computations that must not take the TF32/bfloat16 switches a caller set."""

from __future__ import annotations

import os
import re
import resource
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from prunelimit.cache import FP32_PRECISION_OPS, fp32_precision
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
    host = peak_host_mb()
    if device.type == "cuda":
        return host, torch.cuda.max_memory_allocated(device) / 2**20
    return host, None


def peak_host_mb() -> float:
    """The process's own peak resident set since it started, in MiB: Linux's ``VmHWM``, since
    ``ru_maxrss`` keeps the peak of the process it was forked from across ``exec`` (a command a
    1.6 GB test worker started read 1.6 GB of its own 0.25 GB); ``ru_maxrss`` elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except (OSError, ValueError):
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


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


# the values of torch's per-operation float32 switches (``torch.backends.<owner>.fp32_precision``,
# ``cache.FP32_PRECISION_OPS``) that round float32 products: TF32 (cuBLAS, cuDNN; oneDNN on a CPU
# that has it) and bfloat16 (oneDNN on a CPU with bfloat16 products)
_REDUCED = ("bf16", "tf32")


@contextmanager
def ieee_float32() -> Iterator[None]:
    """Every float32 matmul, convolution and recurrent cell at IEEE precision, whatever the
    switches a model's module or a caller set for its products (``torch.backends.mkldnn.matmul
    .fp32_precision = "bf16"``, ``torch.backends.fp32_precision``, ``torch.set_float32_matmul_precision
    ("medium")``, a GPU's ``torch.backends.cuda.matmul`` and ``torch.backends.cudnn``, whose
    convolutions torch runs in TF32 by default). Two kinds of work take it:

    * the solver's own products (a float32 Lanczos basis's projections, its Ritz vectors): in
      bfloat16 the host's matmuls of a 100-row basis rounded at ~3e-3, the basis lost
      orthogonality, and β grew ×30 a step to Inf by step 113 of ``--method paper``'s 128 on a
      64-4-10 MLP ("the Hessian-vector product contains NaN/Inf");
    * the loss passes (the per-batch losses ε is taken from, the loss, the measured search's
      losses): under oneDNN's bfloat16 matmuls ε of a 64-16-10 MLP on the digits moved by
      0.7 %, and the exact spectrum's ρ* ± 0 missed its IEEE value by 0.024 pt. A forward pass
      each, where a spectrum takes hundreds of products.

    Each switch is set back on leaving: to ``none`` where it read its owners' value
    (``torch.backends.fp32_precision = "bf16"``), so that it follows them again, else to its own
    (the legacy API's, which stay readable); cuDNN's always to its own (``_set_back``)."""
    with _cudnn_tf32_off():
        restore = [(owner, _set_back(owner, name)) for name in FP32_PRECISION_OPS
                   if getattr(owner := _switch_owner(name), "fp32_precision", None) in _REDUCED]
        for owner, _ in restore:
            owner.fp32_precision = "ieee"
        try:
            yield
        finally:
            for owner, value in restore:
                owner.fp32_precision = value


@contextmanager
def _cudnn_tf32_off() -> Iterator[None]:
    """cuDNN's TF32 off by its legacy switch where that reads on (torch's default), and back on
    after: set to ``ieee`` by the per-operation API, cuDNN's conv and rnn leave torch's own
    ``cudnn.allow_tf32`` getter raising "cuDNN conv and cuDNN RNN have different TF32 flags", so
    a model's forward that entered ``torch.backends.cudnn.flags(...)`` (which reads it) failed in
    the loss passes. Where the caller mixed the two APIs the getter raises already, and the
    per-operation switches serve (as they do where a generic ``tf32`` still reaches cuDNN)."""
    try:
        on = bool(torch.backends.cudnn.allow_tf32)
    except RuntimeError:
        on = False
    if on:
        torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        if on:
            torch.backends.cudnn.allow_tf32 = True


def _switch_owner(name: str) -> Any:
    """The object that holds the ``fp32_precision`` of ``name`` (``"mkldnn.matmul"``); ``None``
    where this torch has none (a build without oneDNN)."""
    owner: Any = torch.backends
    for part in name.split("."):
        owner = getattr(owner, part, None)
    return owner


# the switches torch sets to a value of their own by default (``tf32``: ``cudnn.allow_tf32`` is
# True), so one that reads as its owners do holds that value itself
_OWN_BY_DEFAULT = ("cudnn.conv", "cudnn.rnn")


def _set_back(owner: Any, name: str) -> str:
    """What to set the switch of ``name`` back to: ``none`` where its value is its owners'
    (``mkldnn`` for ``mkldnn.matmul``, then ``torch.backends``; torch reads a switch left at
    ``none`` through them, and reads it so), else its value. cuDNN's two are set back to their
    value: set to ``none`` under ``torch.backends.fp32_precision = "tf32"``, they no longer read
    TF32 once the caller set that back to ``none``, and torch's own ``cudnn.allow_tf32`` getter
    (``torch.export`` reads it) then raised "cuDNN conv and cuDNN RNN have different TF32 flags"."""
    value = owner.fp32_precision
    inherited = name not in _OWN_BY_DEFAULT and fp32_precision(torch.backends, name.rsplit(".", 1)[0]) == value
    return "none" if inherited else value
