"""pyproject's torch floor is one prunelimit runs on.

It said ``torch>=2.1``, but prunelimit imports and calls APIs that came later (below), so
on torch 2.1–2.4 it failed at import or at its first checkpoint load, and on 2.5 loading
training records with numpy values failed (tests/io: 12 failures). tests/io passes on 2.6,
2.8, 2.11 and 2.13 (each run in its own venv, docs in pyproject.toml).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# what prunelimit uses, and the torch release that brought it
NEEDS = {
    "torch.nn.attention.sdpa_kernel (prunelimit/curvature/hvp.py, at import)": (2, 3),
    "torch.uint16/uint32/uint64 (prunelimit/io/checkpoint.py, at import)": (2, 3),
    "torch.serialization.safe_globals (prunelimit/io/checkpoint.py, every load)": (2, 5),
    "weights-only loading of numpy values in training records (tests/io)": (2, 6),
}


def torch_floor() -> tuple[int, int]:
    text = (ROOT / "pyproject.toml").read_text()
    major, minor = re.search(r'"torch>=(\d+)\.(\d+)', text).groups()
    return int(major), int(minor)


def test_the_torch_floor_has_what_prunelimit_uses():
    floor = torch_floor()
    assert all(floor >= since for since in NEEDS.values()), (floor, NEEDS)


def test_this_torch_is_within_the_floor():
    import torch

    assert tuple(int(part) for part in torch.__version__.split(".")[:2]) >= torch_floor()
