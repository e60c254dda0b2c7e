"""A gate takes its inputs' provenance (``baseline.provenance``: the model's weights hashed, its
TorchScript saved and digested, the files it reads) before any curvature work, to check its
baselines, and the command it runs under it (``bounds``, ``verify``, the measured limit, the
saved report ``--from``) took it again: ~1.4 s more in a cached gate of a 100 MB TorchScript
archive (docs/benchmarks.md). It is taken once a gate now, and its report records what a
``bounds`` of the same inputs records."""

from __future__ import annotations

import pytest

from tests.cache.test_cache import _doc

# each path a gate takes to its document, by the rules (a YAML policy: two) and --from
PATHS = {
    "bounds": ("--min-ratio", "0.0", "--use", "predicted"),
    "measured limit": ("--min-ratio", "0.0", "--use", "actual"),
    "from a saved report": ("--min-ratio", "0.0", "--use", "predicted", "--from", "{report}"),
    "verify": ("--config", "{policy}"),
    "verify from a saved report": ("--config", "{policy}", "--from", "{report}"),
}
POLICY = """gate:
  rules:
    - name: predicted
      min_ratio: 0.0
      use: predicted
    - name: measured
      min_ratio: 0.0
      use: actual
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_cached_gate_takes_the_provenance_once(cli, own_ckpt, tmp_path, monkeypatch, path):
    from prunelimit import baseline

    cache, report, policy = tmp_path / "cache", tmp_path / "bounds.json", tmp_path / "gate.yaml"
    policy.write_text(POLICY)
    first = cli("bounds", own_ckpt, "--max-samples", 300, "--cache-dir", cache, "--json")
    report.write_text(first.stdout)
    args = [a.format(report=report, policy=policy) for a in PATHS[path]]
    _doc(cli("gate", own_ckpt, "--max-samples", 300, "--cache-dir", cache, "--json", *args))
    taken, provenance = [], baseline.provenance
    monkeypatch.setattr(baseline, "provenance", lambda *a, **k: taken.append(a) or provenance(*a, **k))
    doc = _doc(cli("gate", own_ckpt, "--max-samples", 300, "--cache-dir", cache, "--json", *args))
    assert len(taken) == 1, path
    # each path taken: the rules read, the spectrum or the measured limit read back from the cache, or the saved report
    assert len(doc["rules"]) == (2 if "verify" in path else 1)
    assert doc["cache_hit"] is (path in ("bounds", "measured limit", "verify"))
    assert (doc["bounds"].get("prediction_from") is not None) is ("from" in path)
    recorded = _doc(first)
    for key in ("weights", "data", "params", "precision"):
        assert doc["bounds"][key] == recorded[key], key
