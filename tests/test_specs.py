"""Spec strings: their ``k=v`` values, and the user code a ``file.py:fn`` or
``package.module:fn`` spec names, with the user's modules it imports, run as the files'
bytes say (issue 16)."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from prunelimit.data.spec import load_dataset
from prunelimit.errors import InputError, UsageError
from prunelimit.specs import parse_value, resolve_callable


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


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("-2", -2), ("+5", 5), ("010", 10), ("0.5", 0.5), ("1e-3", 1e-3), ("1E5", 1e5), (".5", 0.5),
    ("3.", 3.0), ("true", True), ("False", False),
    # read by YAML 1.1 they were 3, 3, 1000, True and False: a spec's value is what it says
    ("0x3", "0x3"), ("0b11", "0b11"), ("1_000", "1_000"), ("yes", "yes"), ("off", "off"), (".inf", ".inf"),
    ("1e999", "1e999"), ("9" * 5000, "9" * 5000), ("3x32x32", "3x32x32"), ("", ""),
])
def test_a_spec_value_is_a_decimal_number_a_boolean_or_the_string_written(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_a_zero_sized_synthetic_shape_is_refused_not_read_as_hex():
    """``shape=0x3`` was the hexadecimal 3: three features instead of a refused empty shape."""
    with pytest.raises(UsageError, match="positive shape"):
        load_dataset("synthetic:shape=0x3")


@pytest.mark.parametrize("inits", [True, False])  # a regular package, or a namespace one (no __init__.py)
def test_a_package_file_with_a_relative_import_names_its_module_spec(tmp_path, monkeypatch, inits):
    """``pkg/sub/mod.py:make`` whose module imports ``from .layers import …`` cannot run as
    a file ("attempted relative import with no known parent package", and nothing to do);
    the message names the module spec that imports it within its package, and where from."""
    sub = tmp_path / "pkg" / "sub"
    sub.mkdir(parents=True)
    (sub / "layers.py").write_text("def make():\n    return 'made'\n")
    (sub / "mod.py").write_text("from .layers import make\n")
    if inits:
        (tmp_path / "pkg" / "__init__.py").write_text("")
        (sub / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    module = "pkg.sub.mod" if inits else "sub.mod"
    root = "." if inits else "pkg"
    with pytest.raises(InputError, match=rf"^could not import model file pkg/sub/mod.py: ImportError: attempted "
                                         rf"relative import with no known parent package; .*--model {module}:make, "
                                         rf"with PYTHONPATH={root} "):
        resolve_callable("pkg/sub/mod.py", "make", "model")
    monkeypatch.syspath_prepend(str(tmp_path / root))  # what the message says to do: the spec then loads
    assert resolve_callable(module, "make", "model")() == "made"


def test_a_module_spec_is_the_first_import_of_a_fresh_process(tmp_path):
    """The first `package.module:factory` of a process that has not imported sysconfig (a library
    caller's script): the finder of the user's code looked for the installed folders from inside
    itself, whose import of sysconfig came back to it: "could not import model module
    'pkgq.mod': RecursionError". The suite imports sysconfig early, hence a fresh process."""
    (tmp_path / "pkgq").mkdir()
    (tmp_path / "pkgq" / "__init__.py").write_text("")
    (tmp_path / "pkgq" / "mod.py").write_text("def make():\n    return 'built'\n")
    code = ("import sys\nfrom prunelimit.specs import resolve_callable\nassert 'sysconfig' not in sys.modules\n"
            "print(resolve_callable('pkgq.mod', 'make', 'model')())\n")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PYTHONPATH": f"{root}:{tmp_path}", "PATH": os.environ.get("PATH", "")})
    assert proc.returncode == 0 and proc.stdout == "built\n", proc.stderr[-500:]
