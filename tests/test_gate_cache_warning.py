"""A gate whose default cache folder cannot be used runs uncached with a warning: it reached
stderr only, while the JSON's ``warnings`` and the JUnit report, which CI pages show, list
the gate's other warnings. They list it now, and the console shows it once."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

GATE = ("--use", "actual", "--min-ratio", "0.1", "--max-samples", "300", "--threads", "1")


def test_an_unusable_cache_folder_is_among_the_gates_warnings(cli, own_ckpt, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PRUNELIMIT_CACHE_DIR", str(blocker / "cache"))
    junit = tmp_path / "gate.xml"
    result = cli("gate", own_ckpt, *GATE, "--json", "--junit", junit)
    assert result.exit_code == 0, result.stderr
    said = next(w for w in json.loads(result.stdout)["warnings"] if w.startswith("not caching results: "))
    assert said.startswith(f"not caching results: cache folder {blocker / 'cache'}: ")
    assert result.stderr.count(said) == 1  # on stderr as it arises, as before
    suite = ET.parse(junit).getroot().find("testsuite")
    assert said in [p.get("value") for p in suite.iter("property") if p.get("name") == "warning"]
    assert f"warning: {said}" in suite.find("system-out").text

    shown = cli("gate", own_ckpt, *GATE)
    assert shown.exit_code == 0, shown.stderr
    assert (shown.stdout + shown.stderr).count("not caching results") == 1  # once: not repeated among the warnings
