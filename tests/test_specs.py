"""User code named by a ``file.py:fn`` spec runs as the file's bytes say (issue 16)."""

from __future__ import annotations

import importlib.util
import os
import py_compile

from prunelimit.specs import resolve_callable


def test_a_stale_bytecode_cache_never_runs_instead_of_the_file(tmp_path):
    """Python's .pyc is keyed by mtime and size: an edit that keeps both (a scripted rewrite
    within the same second) used to run the old code while the result cache, keyed by the
    file's bytes, stored the old code's numbers as the new code's."""
    source = tmp_path / "user_fn.py"
    source.write_text("def fn():\n    return 'old'\n")
    os.utime(source, (1_600_000_000, 1_600_000_000))
    py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)))
    source.write_text("def fn():\n    return 'new'\n")  # same size
    os.utime(source, (1_600_000_000, 1_600_000_000))
    assert resolve_callable(str(source), "fn", "model")() == "new"
