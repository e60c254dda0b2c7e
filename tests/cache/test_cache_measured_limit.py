"""The measured limit (the actual-limit search of ``verify`` and ``gate --use actual``) is a
stored result, keyed as the spectrum is (``stored.result_keys``) by the inputs and what defines
its loss criterion (ε as given, the scope): a CI job that ran ``verify`` and then ``gate --use
actual`` with one cache ran the same search twice, and a repeated gate searched each time. The
searches are counted, not timed."""

from __future__ import annotations

import json

import pytest

SMALL = ("--max-samples", "300")
GATE = ("gate", "--use", "actual", "--min-ratio", "0.1")


def _run(cli, command, ckpt, *args):
    name, *flags = command
    result = cli(name, ckpt, *flags, *SMALL, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_gate_on_the_measured_limit_after_verify_reads_its_search(cli, own_ckpt, searches, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the console's note on one line
    verified = _run(cli, ("verify",), own_ckpt)
    assert len(searches) == 1 and verified["timing"]["search"]["cached"] is False
    gated = _run(cli, GATE, own_ckpt)
    assert len(searches) == 1  # no second search
    assert gated["measured"] == verified["actual"]["loss_ratio"]
    assert gated["bounds"]["epsilon"] == verified["epsilon"]
    assert gated["bounds"]["actual"]["probes"] == verified["actual"]["probes"]
    assert gated["cache_hit"] is True and gated["bounds"]["timing"]["search"]["cached"] is True
    console = cli(*GATE[:1], own_ckpt, *GATE[1:], *SMALL)
    assert console.exit_code == 0, console.output
    assert "read from the cache, no prune-and-evaluate passes (--no-cache searches again)" in console.stdout
    assert len(searches) == 1


def test_a_repeated_gate_and_a_repeated_verify_search_once(cli, own_ckpt, searches):
    first = _run(cli, GATE, own_ckpt)
    again = _run(cli, GATE, own_ckpt)
    assert len(searches) == 1
    assert first["cache_hit"] is False and again["cache_hit"] is True
    assert again["bounds"]["actual"] | {"probes": None} == first["bounds"]["actual"] | {"probes": None}
    assert again["bounds"]["actual"]["probes"] == first["bounds"]["actual"]["probes"]
    verified = _run(cli, ("verify",), own_ckpt)  # the gate's search read none of verify's named ratios: searched
    assert len(searches) == 2
    verified_again = _run(cli, ("verify",), own_ckpt)
    assert len(searches) == 2
    assert verified_again["actual"] == verified["actual"]
    assert verified_again["timing"]["search"]["cached"] is True


def test_a_mixed_policy_reads_verifys_search(cli, tmp_path, own_ckpt, searches):
    """A policy with rules on the prediction and on the measured limit runs verify's path: it reads
    the search a verify stored."""
    verified = _run(cli, ("verify",), own_ckpt)
    policy = tmp_path / "policy.yaml"
    policy.write_text("gate:\n  rules:\n    - min_ratio: 0.1\n      use: actual\n    - min_ratio: 0.1\n      use: lower\n")
    gated = _run(cli, ("gate",), own_ckpt, "--config", policy)
    assert len(searches) == 1
    assert gated["rules"][0]["measured"] == verified["actual"]["loss_ratio"]


@pytest.mark.parametrize("first, second", [
    (("verify",), ("verify", "--acc-drop", "2")),  # another accuracy criterion: verify's own search differs
    (("verify",), ("verify", "--sweep", "10")),
    (("verify",), ("verify", "--scope", "layer")),
    (("verify",), ("gate", "--use", "actual", "--min-ratio", "0.1", "--epsilon", "0.05")),  # another loss criterion
    (("verify", "--scope", "layer"), GATE),  # a layer-wise limit is another quantity
    (GATE, ("verify",)),  # the gate's search was told none of the ratios verify's prediction names
    (GATE, (*GATE, "--no-cache")),
])
def test_a_search_under_other_settings_is_not_read(cli, own_ckpt, searches, first, second):
    _run(cli, first, own_ckpt)
    doc = _run(cli, second, own_ckpt)
    assert len(searches) == 2
    assert (doc["timing"] if second[0] == "verify" else doc["bounds"]["timing"])["search"]["cached"] is False
