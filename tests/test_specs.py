"""User code named by a ``file.py:fn`` or ``package.module:fn`` spec, and the user's modules
it imports, run as the files' bytes say (issue 16)."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import sys
from pathlib import Path

from prunelimit.specs import resolve_callable


def _edit_keeping_size_and_mtime(source: Path, old: str, new: str) -> None:
    """``source`` holds ``new``, with a valid .pyc of ``old`` (same size, same mtime)."""
    assert len(old) == len(new)
    source.write_text(old)
    os.utime(source, (1_600_000_000, 1_600_000_000))
    py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)),
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    source.write_text(new)
    os.utime(source, (1_600_000_000, 1_600_000_000))


def test_a_stale_bytecode_cache_never_runs_instead_of_the_file(tmp_path):
    """Python's .pyc is keyed by mtime and size: an edit that keeps both (a scripted rewrite
    within the same second) used to run the old code while the result cache, keyed by the
    file's bytes, stored the old code's numbers as the new code's."""
    source = tmp_path / "user_fn.py"
    _edit_keeping_size_and_mtime(source, "def fn():\n    return 'old'\n", "def fn():\n    return 'new'\n")
    assert resolve_callable(str(source), "fn", "model")() == "new"


def test_a_module_spec_and_the_users_modules_it_imports_run_their_source(tmp_path, monkeypatch):
    """``package.module:fn`` was imported the usual way, trusting a .pyc by mtime and size, as
    were the helpers a ``file.py`` spec imports: the cache key hashes their current bytes,
    so they must run them."""
    package = tmp_path / "stale_pyc_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    _edit_keeping_size_and_mtime(package / "helper.py", "VALUE = 'old'\n", "VALUE = 'new'\n")
    _edit_keeping_size_and_mtime(package / "mod.py", "from stale_pyc_pkg.helper import VALUE\ndef fn():\n"
                                 "    return 'old', VALUE\n", "from stale_pyc_pkg.helper import VALUE\ndef fn():\n"
                                 "    return 'new', VALUE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert resolve_callable("stale_pyc_pkg.mod", "fn", "model")() == ("new", "new")
        (tmp_path / "model_file.py").write_text("from stale_pyc_pkg.helper import VALUE\ndef fn():\n"
                                                "    return VALUE\n")
        del sys.modules["stale_pyc_pkg.helper"]
        assert resolve_callable(str(tmp_path / "model_file.py"), "fn", "model")() == "new"
        assert not any(type(f).__name__ == "_UserCodeFinder" for f in sys.meta_path)  # only while a spec imports
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "stale_pyc_pkg"]:
            del sys.modules[name]
