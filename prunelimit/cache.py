"""A result cache keyed by the checkpoint's sha256 and every setting that changes the numbers.

A CI job that re-runs ``bounds`` or ``gate`` on an unchanged model then costs a hash of the
file, not hundreds of Hessian-vector products.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from prunelimit import __version__
from prunelimit.errors import UsageError
from prunelimit.io.atomic import write_text_atomic


def default_cache_dir() -> Path:
    """``$PRUNELIMIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/prunelimit``, else ``~/.cache/prunelimit``."""
    if os.environ.get("PRUNELIMIT_CACHE_DIR"):
        return Path(os.environ["PRUNELIMIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "prunelimit"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(checkpoint: str | Path, settings: dict[str, Any]) -> str:
    """sha256 over the checkpoint bytes, the settings (sorted JSON) and the tool version."""
    payload = json.dumps({"ckpt": file_sha256(checkpoint), "settings": settings, "version": __version__},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def cached_json(
    cache_dir: Path | None, key: str, compute: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Return ``(result, hit)``; computes and stores on a miss. ``cache_dir=None`` disables it."""
    if cache_dir is None:
        return compute(), False
    path = Path(cache_dir) / f"{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8")), True
        except (OSError, json.JSONDecodeError):
            pass  # a damaged entry is recomputed and replaced
    result = compute()
    try:
        write_text_atomic(path, json.dumps(result), force=True, parents=True)
    except (OSError, UsageError):
        pass  # an unwritable cache must not fail the command
    return result, False
