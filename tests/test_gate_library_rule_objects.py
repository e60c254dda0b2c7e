"""``prunelimit.gate(rules=...)`` given the rules a verdict holds (``report.result.outcomes[i].rule``,
``GateRule``s) to gate another model on: they were refused as 'gate rule 1: expected a mapping
with keys [...]', though each is the rule a mapping of those keys makes. They are read as their
mappings, with the verdict the same rules give as mappings."""

from __future__ import annotations

import prunelimit


def test_a_verdicts_rules_gate_again_as_their_mappings(model, train):
    first = prunelimit.gate(model, train, method="exact", rules=[{"name": "floor", "min_ratio": 0.1, "use": "predicted"}],
                            min_ratio=0.2)
    rules = [outcome.rule for outcome in first.result.outcomes]
    again = prunelimit.gate(model, train, method="exact", rules=rules)
    assert [o.rule for o in again.result.outcomes] == rules
    assert [(o.passed, o.measured, o.threshold) for o in again.result.outcomes] == \
        [(o.passed, o.measured, o.threshold) for o in first.result.outcomes]
