"""Reading a safetensors file from one read of its bytes, never from a memory map.

safetensors' ``load_file`` and ``safe_open`` map the file: when another process truncates or
rewrites it in place while it is mapped (a training job saving over the checkpoint a gate is
reading), touching a page past the new end kills the reader with SIGBUS (exit 135, no message,
no clean-up). Read once, the bytes cannot shrink under the parser, a rewrite gives an error
(exit 3) or one whole version of the file, and the tensors and metadata come from that same
version.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import Tensor


def read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors and the ``__metadata__`` (``{}`` when none) of the safetensors file ``path``.

    Raises safetensors' ``SafetensorError`` on a damaged file, ``ValueError`` on a tensor of a dtype torch
    has none for, and ``OSError`` when it cannot be read."""
    from safetensors.torch import load

    data = path.read_bytes()
    try:
        tensors = load(data)  # checks the header and every tensor's extent against the bytes
    except KeyError as exc:  # a dtype the format names that safetensors' torch side has no type for (F4, F8_E8M0)
        raise ValueError(f"it holds a tensor of dtype {exc.args[0]}, which torch does not read") from None
    size = int.from_bytes(data[:8], "little")  # valid here: load parsed the same header
    metadata = json.loads(data[8:8 + size]).get("__metadata__") or {}
    return tensors, metadata
