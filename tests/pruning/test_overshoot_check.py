"""``overshoot_check``: the actual limit's loss criterion at ρ_L and ρ* − 5 points, one pass each."""

from __future__ import annotations

import pytest
import torch

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import LARGE_GAP, actual_limit, overshoot_check


def test_the_check_reads_as_the_search_does_and_leaves_the_weights(digits, mlp_dense) -> None:
    """At the search's own limit L + ε: a point past the measured limit crosses, one below it
    does not (the same ε, the same pruning), and the weights come back unchanged."""
    before = [p.detach().clone() for p in mlp_dense.parameters()]
    limit = actual_limit(mlp_dense, digits, cross_entropy_loss, 0.05).loss_ratio
    past, short = limit + 0.02, limit - 0.02
    check = overshoot_check(mlp_dense, digits, cross_entropy_loss, 0.05, past + LARGE_GAP, short)
    assert check.predicted.ratio == pytest.approx(past) and check.lower.ratio == short
    assert (check.predicted_overshoots, check.lower_overshoots) == (True, False)
    assert all(torch.equal(a, b) for a, b in zip(before, mlp_dense.parameters()))


def test_no_lower_bound_is_no_lower_check(digits, mlp_dense) -> None:
    check = overshoot_check(mlp_dense, digits, cross_entropy_loss, 0.05, 0.01, None)
    assert check.lower is None and check.lower_overshoots is None and check.to_json()["checked"]["lower"] is None
    assert check.predicted.ratio == 0.0  # ρ* − 5 points, at least 0
