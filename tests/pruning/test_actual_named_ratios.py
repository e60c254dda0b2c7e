"""``actual_limit``'s ``named`` ratios (verify: ρ*, ρ_L, ρ* − 5 points) between the grid limit
and the failure above it are measured: one that passes is the limit, one that fails leaves it,
and one outside that cell (or above a limit no measured ratio failed) costs no pass (tests/api/test_verify_limit_at_named_ratio.py has the case)."""

from __future__ import annotations

import pytest
from prunelimit.pruning.actual import actual_limit, on_grid
from tests.api.test_verify_limit_at_named_ratio import pruned_regression


def sse(model, batch):
    return ((model(batch[0]) - batch[1]) ** 2).sum()


# the loss is the squares of the weights removed past the zeros: one (1.0) passes ε = 1.5 and fails 0.5,
# two (2.008) fail 1.5 and pass 2.5; the losses are sums of a few float32 squares, compared with no tolerance
@pytest.mark.parametrize("epsilon, named, limit", [
    (1.5, [0.80011], 0.80011),  # one weight past the grid's 80.0 %, the grid's 80.1 % removes two
    (1.5, [0.85, 0.9], 0.8),  # above the failure: a recovery's side, not measured
    (0.5, [0.80011], 0.8),  # measured past L + ε: the limit stays below it
    (1e9, [0.9995], 0.999),  # nothing fails: at least the last grid point, and one above it is not measured
    (2.5, [0.80011], 0.801),  # inside a grid ratio measured to pass: the grid's limit stands
    (1.5, [0.8001, 0.80011, 0.80005], 0.80011),  # the largest that passes; two of one model measured once
])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_a_named_ratio_between_the_limit_and_the_failure(epsilon, named, limit, scope) -> None:
    model, data = pruned_regression()
    grid = actual_limit(model, [data], sse, epsilon, scope=scope)
    result = actual_limit(model, [data], sse, epsilon, scope=scope, named=named)
    assert result.loss_ratio == limit and on_grid(limit) == (limit == grid.loss_ratio)
    inside = {r for r in named if grid.loss_crossed and grid.loss_ratio < r < grid.loss_ratio + 0.001}
    assert result.evaluations == grid.evaluations + bool(inside)  # ratios that prune alike: one pass
    assert all(p.loss <= epsilon for p in result.probes if p.ratio <= result.loss_ratio)

