"""``verify`` (and a gate with a rule on the measured limit beside the prediction, through it)
read what keys its inputs twice: once for the spectrum's and the overshoot check's keys
(``bounds``), again for the search's, each reading every tensor, the code and the data and
running the loss witness's forward pass (0.8 s of a 4.1M-weight MLP's, docs/benchmarks.md).
Once a command now, fresh or cached; the second run reads what the first stored under the
same keys."""

from __future__ import annotations

import json

import pytest

import prunelimit.cache as cache_module

from tests.cache.test_cache_gate_provenance_once import POLICY

COMMANDS = {"verify": ("verify",), "gate on the prediction and the measured limit": ("gate", "--config")}


@pytest.mark.parametrize("command", COMMANDS)
def test_verify_reads_its_inputs_once(cli, own_ckpt, tmp_path, monkeypatch, command):
    digests = []
    real = cache_module._inputs_digest
    monkeypatch.setattr(cache_module, "_inputs_digest", lambda *args: digests.append(1) or real(*args))
    (tmp_path / "gate.yaml").write_text(POLICY)
    policy = (tmp_path / "gate.yaml",) if command != "verify" else ()
    args = (*COMMANDS[command][:1], own_ckpt, *COMMANDS[command][1:], *policy, "--max-samples", 300,
            "--cache-dir", tmp_path / "cache", "--json")
    for cached in (False, True):
        digests.clear()
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        assert len(digests) == 1, digests  # 2 before
        report = json.loads(result.stdout)
        timing = (report if command == "verify" else report["bounds"])["timing"]
        assert timing["cached"] is cached and timing["search"]["cached"] is cached  # the same keys
