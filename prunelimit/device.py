"""``--device auto|cpu|cuda[:N]`` → ``torch.device`` (auto picks CUDA when present)."""

from __future__ import annotations

import re

import torch

from prunelimit.errors import UsageError


def resolve_device(text: str = "auto") -> torch.device:
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:\d+)?", text):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {text}: no CUDA device is available here; use --device cpu")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {text}: only {torch.cuda.device_count()} CUDA device(s) present")
        return torch.device(text)
    raise UsageError(f"--device {text!r}: use auto, cpu, cuda or cuda:N")
