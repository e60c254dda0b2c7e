"""A file the model's code names or opens above ``FILE_BYTES_KEYED`` (a backbone's weights, an
embedding table, a data folder) was keyed by its size, times and inode, so every fresh checkout
(git sets every time anew; a restored data set gets new change times and inodes) missed, and a CI
job restoring its cache paid for the spectrum in every run. It is keyed by its bytes now, hashed
once for its stat and remembered in the cache folder. The limit is lowered to 16 bytes here, so
a 64-byte file stands for one of gigabytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cache.test_cache import GATE, _assert_recomputed, _doc, _gate
from tests.cache.test_cache_reads import FORWARD_READING_CWD_PY

# the forward scales by the first byte of a large file: named by a string, inside a folder a
# string names, or opened under a name built from character codes (no string names it)
READ = {
    "named": "1.0 + open('emb.bin', 'rb').read()[0]",
    "in-a-named-folder": "1.0 + open(os.path.join('conf', os.listdir('conf')[0]), 'rb').read()[0]",
    "opened": "1.0 + open(''.join(map(chr, (101, 109, 98, 46, 98, 105, 110))), 'rb').read()[0]",
}
BIG = bytes(64)


@pytest.fixture
def small_limit(monkeypatch):
    from prunelimit import cache_opened, cache_reads

    for module in (cache_reads, cache_opened):
        monkeypatch.setattr(module, "FILE_BYTES_KEYED", 16)


def _checkout(root: Path, case: str) -> None:
    (root / "conf").mkdir(parents=True)
    (root / "model.py").write_text("import os\n" + FORWARD_READING_CWD_PY.replace("float(open('scale.txt').read())",
                                                                                 READ[case]))
    (root / "emb.bin").write_bytes(BIG)
    (root / "conf" / "emb.bin").write_bytes(BIG)


@pytest.mark.parametrize("case", READ)
def test_a_fresh_checkout_of_a_large_file_reads_the_stored_spectrum(cli, own_ckpt, tmp_path, monkeypatch,
                                                                    small_limit, case):
    """Measured before: `gate` in a copy of the checkout (every file new: other times and inodes,
    as a CI runner's checkout has them) with the cache of the first computed the spectrum again
    (`cache_hit` false). Changed bytes in the copy still miss."""
    args = ("--model", "model.py:make", "--max-samples", 300)
    cache = tmp_path / "cache"
    _checkout(tmp_path / "a", case)
    monkeypatch.chdir(tmp_path / "a")
    first = _doc(_gate(cli, own_ckpt, cache, *args))
    assert first["cache_hit"] is False
    shutil.copytree(tmp_path / "a", tmp_path / "b", copy_function=shutil.copy)  # times set anew, new inodes
    monkeypatch.chdir(tmp_path / "b")
    hit = _doc(_gate(cli, own_ckpt, cache, *args))
    assert hit["cache_hit"] is True and hit["timing"]["hvps"] == 0
    assert hit["bounds"]["prediction"] == first["bounds"]["prediction"]
    for name in ("emb.bin", "conf/emb.bin"):
        (tmp_path / "b" / name).write_bytes(b"\x02" + BIG[1:])
    _assert_recomputed(cli, own_ckpt, cache, first, *args)


def test_a_large_file_is_hashed_once_for_its_stat(tmp_path, monkeypatch):
    """The digest is remembered by the file's stat: a second key of the same file reads it back
    and does not read the file; a copy (another inode and times) is hashed again, to the same
    digest, which is the file's sha256."""
    from prunelimit import cache
    from prunelimit.cache import open_store, remembered_digest
    from prunelimit.cache_reads import file_sha256

    hashed: list[Path] = []
    monkeypatch.setattr(cache, "file_sha256", lambda path: hashed.append(path) or file_sha256(path))
    big = tmp_path / "emb.bin"
    big.write_bytes(BIG)
    digest = remembered_digest(open_store(tmp_path / "cache", explicit=True))
    assert digest(big, big.stat()) == file_sha256(big) and hashed == [big]
    assert digest(big, big.stat()) == file_sha256(big) and hashed == [big]
    copy = Path(shutil.copy(big, tmp_path / "copy.bin"))
    assert digest(copy, copy.stat()) == file_sha256(big) and hashed == [big, copy]


def test_the_reports_record_of_a_large_file_reads_its_remembered_digest(cli, own_ckpt, tmp_path, monkeypatch,
                                                                        small_limit):
    """The report's ``weights.reads`` hashed a large file the code names in full in every command
    (0.2-0.6 s for 100 MB), where the cache key reads its digest remembered for its stat. Both
    read the remembered one now: a second gate hashes it no more, and records what a run without
    the cache records (a report is compared on another machine)."""
    from prunelimit import cache

    args = ("--model", "model.py:make", "--max-samples", 300)
    _checkout(tmp_path / "a", "named")
    monkeypatch.chdir(tmp_path / "a")
    hashed, file_sha256 = [], cache.file_sha256
    monkeypatch.setattr(cache, "file_sha256", lambda path: hashed.append(Path(path).name) or file_sha256(path))
    first = _doc(_gate(cli, own_ckpt, tmp_path / "cache", *args))
    hashed.clear()
    again = _doc(_gate(cli, own_ckpt, tmp_path / "cache", *args))
    assert again["cache_hit"] is True and "emb.bin" not in hashed
    uncached = _doc(cli("gate", own_ckpt, "--no-cache", *GATE, *args))
    reads = [doc["bounds"]["weights"]["reads"] for doc in (first, again, uncached)]
    assert reads[0] is not None and reads == [reads[0]] * 3
