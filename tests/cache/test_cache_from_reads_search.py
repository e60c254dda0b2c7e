"""``verify --from`` (and a gate with ``--from`` whose rules mix the measured limit with the
prediction) searched the measured limit each time, though a ``verify`` of the same inputs had
stored the search it would make: the same ε (the report's, derived from these inputs as this
run derives it), evaluation data, ``--acc-drop``, ``--sweep`` and told ratios (the report's ρ*,
ρ_L and overshoot points, which that verify's bounds computed). It now reads that search; it still
stores none (its ε is the report's, and a gate takes the key's search as the limit under the ε
derived here), and one under another ε is searched again. Searches counted, not timed."""

from __future__ import annotations

from tests.cache.test_cache_gate_provenance_once import POLICY
from tests.cache.test_cache_measured_limit import SMALL, _run


def _saved(cli, ckpt, path, *flags) -> str:
    result = cli("bounds", ckpt, *SMALL, *flags, "--json")
    assert result.exit_code == 0, result.output
    path.write_text(result.stdout)
    return str(path)


def test_verify_from_reads_the_search_of_a_verify_before(cli, own_ckpt, searches, tmp_path):
    report = _saved(cli, own_ckpt, tmp_path / "b.json")
    verified = _run(cli, ("verify",), own_ckpt)
    assert len(searches) == 1
    read = _run(cli, ("verify",), own_ckpt, "--from", report)
    assert len(searches) == 1  # no second search
    assert read["timing"]["search"]["cached"] is True
    assert read["actual"] == verified["actual"] and read["epsilon"] == verified["epsilon"]
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY)  # a rule on the prediction and one on the measured limit
    gated = _run(cli, ("gate", "--config", str(policy)), own_ckpt, "--from", report)
    assert len(searches) == 1  # the gate's verify --from reads it too
    assert gated["bounds"]["actual"] == verified["actual"]


def test_verify_from_stores_no_search(cli, own_ckpt, searches, tmp_path):
    report = _saved(cli, own_ckpt, tmp_path / "b.json")
    _run(cli, ("verify",), own_ckpt, "--from", report)
    _run(cli, ("verify",), own_ckpt, "--from", report)
    assert len(searches) == 2  # none kept for the next --from run
    gated = _run(cli, ("gate", "--use", "actual", "--min-ratio", "0.1"), own_ckpt)
    assert len(searches) == 3 and gated["cache_hit"] is False  # nor for a gate


def test_verify_from_a_report_of_another_epsilon_searches(cli, own_ckpt, searches, tmp_path):
    report = _saved(cli, own_ckpt, tmp_path / "b.json", "--epsilon", "0.05")
    _run(cli, ("verify",), own_ckpt)
    assert len(searches) == 1
    read = _run(cli, ("verify",), own_ckpt, "--from", report)
    assert len(searches) == 2 and read["timing"]["search"]["cached"] is False
    assert read["epsilon"] == 0.05
