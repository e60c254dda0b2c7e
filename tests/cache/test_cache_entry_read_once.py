"""A result read back from the cache was encoded again and hashed (``stored_result``) for the
ranks of a torchrun job to agree on, in a plain process too, where nothing reads the hash: 1.5 s
of a cached gate of a 25M-weight model (its stored gradient alone 200 MB). A plain process reads
the entry and encodes nothing now; the ranks still agree on it (tests/test_distributed.py)."""

from __future__ import annotations

import json


def test_a_cached_bounds_encodes_no_entry(cli, own_ckpt, tmp_path, monkeypatch):
    from prunelimit import cache

    args = ("bounds", own_ckpt, "--max-samples", 300, "--cache-dir", tmp_path / "cache", "--json")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    encoded, encode_entry = [], cache.encode_entry
    monkeypatch.setattr(cache, "encode_entry", lambda *a: encoded.append(a[2]) or encode_entry(*a))
    again = cli(*args)
    assert again.exit_code == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["timing"]["cached"] is True and encoded == []
    assert doc["prediction"] == json.loads(first.stdout)["prediction"]
