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


class _NanPastHalf(torch.nn.Module):
    """``inner`` whose output is NaN once half its first layer's weights are zero: a loss that
    breaks as non-finite when pruned (a normalisation dividing by a pruned-away norm)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = (self.inner[0].weight != 0).float().mean()
        return self.inner(x) + 0.0 * torch.log(kept - 0.5)  # 0 · log(≤ 0) is NaN


def test_a_loss_that_turns_nan_when_pruned_lies_past_the_limit(digits, mlp_dense) -> None:
    """NaN compares false with everything: ``loss > L + ε`` read a NaN loss as within the
    limit, so the check flagged nothing and the search walked on past it. A point whose loss
    is not within L + ε lies past the limit, NaN included."""
    import copy

    model = _NanPastHalf(copy.deepcopy(mlp_dense))
    check = overshoot_check(model, digits, cross_entropy_loss, 0.05, 0.95, 0.9)
    assert check.predicted.loss != check.predicted.loss  # NaN there: the case under test
    assert (check.predicted_overshoots, check.lower_overshoots) == (True, True)
    assert actual_limit(model, digits, cross_entropy_loss, 0.05).loss_ratio < 0.9
