"""A cache folder written with a leading ``~`` is in the home folder, however it is given: as
``PRUNELIMIT_CACHE_DIR`` always was; ``--cache-dir '~/c'`` (quoted, as a CI step or a Makefile
passes it) and ``cache-dir: ~/c`` in a ``--config`` file (YAML expands nothing) made a folder
named ``~`` in the current folder, or beside the config file, and stored the entries there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GATE = ("--min-ratio", "0.0", "--use", "predicted", "--json", "--max-samples", "300")


@pytest.mark.parametrize("given_by", ["option", "config"])
def test_a_cache_folder_under_a_tilde_is_in_the_home_folder(cli, own_ckpt, tmp_path, monkeypatch, given_by):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (work / "ci.yaml").write_text("gate:\n  cache-dir: ~/ci-cache\n")
    where = ("--cache-dir", "~/ci-cache") if given_by == "option" else ("--config", "ci.yaml")

    def gate() -> dict:
        result = cli("gate", own_ckpt, *GATE, *where)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    assert gate()["cache_hit"] is False
    assert {p.suffix for p in (home / "ci-cache").iterdir()} == {".entry"}  # the spectrum's, the overshoot check's
    assert sorted(p.name for p in work.iterdir()) == ["ci.yaml"]  # no folder '~'
    assert gate()["cache_hit"] is True


def test_a_config_path_under_a_tilde_is_not_read_from_the_files_folder(tmp_path, monkeypatch):
    from prunelimit.config import relative_to_file

    monkeypatch.setenv("HOME", str(tmp_path))
    got = relative_to_file({"cache_dir": "~/c", "junit": "g.xml", "output": "~no-such-user-x/p.pt"},
                           Path("ci/gate.yaml"), ["cache_dir", "junit", "output"])
    assert got == {"cache_dir": str(tmp_path / "c"), "junit": str(Path("ci/g.xml")),
                   "output": str(Path("ci/~no-such-user-x/p.pt"))}  # no such user: a name beside the file
