"""An installed package counts by its installer's record of its files (pip's RECORD), which also
hashes files that are no code the model runs and differ with where the environment lies: the
launchers pip writes to ``bin/`` (``../../../bin/f2py``), whose first line names the
interpreter's absolute path, and the ``.dist-info`` record of the install itself
(``direct_url.json`` names the folder ``pip install .`` read). numpy's RECORD lists such a
launcher, and numpy is in every key: a virtual environment made in another folder (a CI job's
in its own workspace) missed every entry. Those lines are left out; the package's own files
still count."""

from __future__ import annotations

import base64
import hashlib
import importlib
import sys
from pathlib import Path

import pytest


def _line(site: Path, path: str) -> str:
    data = (site / path).read_bytes()
    sha = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={sha},{len(data)}"


def _environment(root: Path, code: str = "SCALE = 1.0\n", installer: str = "pip") -> Path:
    """Package ``plkeyvenv`` installed into ``root``'s site-packages as pip installs it from a
    folder: its code, a launcher in ``root/bin`` naming ``root``'s interpreter, a dist-info
    naming the folder it was installed from; the RECORD hashing each (the ``.pyc`` unhashed)."""
    site = root / "lib" / "python3" / "site-packages"
    info = site / "plkeyvenv-1.0.dist-info"
    (site / "plkeyvenv").mkdir(parents=True)
    info.mkdir()
    (root / "bin").mkdir()
    (site / "plkeyvenv" / "__init__.py").write_text(code)
    (root / "bin" / "plkeyvenv").write_text(f"#!{root}/bin/python\nfrom plkeyvenv import main\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plkeyvenv\nVersion: 1.0\n")
    (info / "INSTALLER").write_text(installer + "\n")
    (info / "direct_url.json").write_text(f'{{"url": "file://{root}/src", "dir_info": {{}}}}')
    # the launcher lies three folders up from site-packages, as pip records it
    lines = [_line(site, "plkeyvenv/__init__.py"), _line(site, "../../../bin/plkeyvenv"),
             *(_line(site, f"{info.name}/{name}") for name in ("METADATA", "INSTALLER", "direct_url.json")),
             "plkeyvenv/__pycache__/__init__.cpython-311.pyc,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(lines) + "\n")
    return site


@pytest.fixture
def identity(monkeypatch):
    """``package_identity("plkeyvenv")`` as installed in a site folder."""
    from prunelimit.cache import _distributions, package_identity

    def of(site: Path) -> str | None:
        with monkeypatch.context() as m:
            m.syspath_prepend(str(site))
            m.delitem(sys.modules, "plkeyvenv", raising=False)
            importlib.invalidate_caches()
            _distributions.cache_clear()
            return package_identity("plkeyvenv")

    yield of
    _distributions.cache_clear()


def test_the_same_package_in_an_environment_made_elsewhere_keys_alike(tmp_path, identity):
    """Measured before: the two identities differed (the launcher's and direct_url.json's hashes),
    so every key of a model run in the second environment missed the first's entries."""
    first = identity(_environment(tmp_path / "ci-1" / ".venv"))
    assert first is not None
    assert identity(_environment(tmp_path / "ci-2" / ".venv", installer="uv")) == first


def test_the_package_s_own_code_still_counts(tmp_path, identity):
    """Edited code reinstalled under the same version is another identity, as before."""
    first = identity(_environment(tmp_path / "a" / ".venv"))
    assert identity(_environment(tmp_path / "b" / ".venv", code="SCALE = 3.0\n")) != first
