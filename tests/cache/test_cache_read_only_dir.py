"""A cache folder that takes no new file (a CI cache restored read-only, ``chmod 555``, a
read-only mount): its entries still answer, nothing is written there, one warning says so and
the exit code is the command's own. ``--cache-dir`` such a folder was exit 2 before any work,
and ``PRUNELIMIT_CACHE_DIR`` ran uncached (its stored spectra unread).

The tests run as any user, root included (whom ``chmod`` does not stop): the folder is made
read-only by failing every file created in it with ``EACCES``, as the kernel does."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import pytest

GATE = ("--min-ratio", "0.0", "--use", "predicted", "--json", "--max-samples", "300")


def _read_only(monkeypatch, folder: Path) -> None:
    """Creating a file in ``folder`` fails while the store is opened, as in a ``chmod 555``
    folder (tempfile's probe); only then: a function of the test's put on ``tempfile`` during
    the run would enter the key as the user's code on an installed module. A write the store
    tried later would show in the folder's listing."""
    import prunelimit.cache

    def refusing(create):
        def wrapped(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).resolve() == folder.resolve():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
            return create(*args, dir=dir, **kwargs)
        return wrapped

    def opened(*args, **kwargs):
        with pytest.MonkeyPatch.context() as patch:
            for name in ("TemporaryFile", "mkstemp", "NamedTemporaryFile"):
                patch.setattr(tempfile, name, refusing(getattr(tempfile, name)))
            return open_store(*args, **kwargs)

    open_store = prunelimit.cache.open_store
    monkeypatch.setattr(prunelimit.cache, "open_store", opened)


def _gate(cli, ckpt, cache: Path, named_by: str, monkeypatch):
    if named_by == "variable":
        monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(cache))
        return cli("gate", ckpt, *GATE)
    return cli("gate", ckpt, "--cache-dir", cache, *GATE)


def _warned(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "cache" in line]


@pytest.mark.parametrize("named_by", ["option", "variable"])
def test_a_read_only_cache_folder_answers_from_its_entries(cli, own_ckpt, tmp_path, monkeypatch, no_spectrum,
                                                           named_by):
    cache = tmp_path / "cache"
    stored = _gate(cli, own_ckpt, cache, "option", monkeypatch)
    assert stored.exit_code == 0, stored.stderr
    listing = {p.name: p.read_bytes() for p in cache.iterdir()}
    _read_only(monkeypatch, cache)
    no_spectrum()
    result = _gate(cli, own_ckpt, cache, named_by, monkeypatch)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["cache_hit"] is True and doc["bounds"]["prediction"] == json.loads(stored.stdout)["bounds"]["prediction"]
    assert _warned(result.stderr) == [f"prunelimit: warning: cache folder {cache} is not writable (Permission "
                                      "denied): reading the results stored there, storing none"]
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == listing


@pytest.mark.parametrize("named_by", ["option", "variable"])
def test_an_empty_read_only_cache_folder_computes_warns_once_and_writes_nothing(cli, own_ckpt, tmp_path,
                                                                              monkeypatch, named_by):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    fresh = cli("gate", own_ckpt, "--no-cache", *GATE)
    _read_only(monkeypatch, cache)
    result = _gate(cli, own_ckpt, cache, named_by, monkeypatch)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["cache_hit"] is False and doc["bounds"]["prediction"] == json.loads(fresh.stdout)["bounds"]["prediction"]
    assert len(_warned(result.stderr)) == 1 and "is not writable" in result.stderr
    assert [w for w in doc["warnings"] if "cache" in w] == [_warned(result.stderr)[0].split("warning: ", 1)[1]]
    assert not list(cache.iterdir())


def test_a_damaged_entry_in_a_read_only_cache_folder_is_recomputed_and_left_as_it_is(cli, own_ckpt, tmp_path,
                                                                                   monkeypatch):
    """Its warning said 'recomputing and replacing it', which a folder taking no file cannot do."""
    cache = tmp_path / "cache"
    assert _gate(cli, own_ckpt, cache, "option", monkeypatch).exit_code == 0
    (entry,) = [e for e in cache.iterdir() if b'"kind": "spectrum"' in e.read_bytes().partition(b"\n")[0]]
    entry.write_bytes(b"damaged\n")
    _read_only(monkeypatch, cache)
    result = _gate(cli, own_ckpt, cache, "option", monkeypatch)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cache_hit"] is False
    assert _warned(result.stderr)[1] == (f"prunelimit: warning: ignoring damaged cache entry {entry} (the header is "
                                         "not UTF-8 JSON); recomputing it")
    assert len(_warned(result.stderr)) == 2 and entry.read_bytes() == b"damaged\n"
