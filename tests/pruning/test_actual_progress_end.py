"""The actual-limit search's progress count ends at its total: the bar's total is the most
passes the search may make, and a search that settled sooner (most do) ended short of it
(25/49 on the tiny model and 300 digits)."""

from __future__ import annotations

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import actual_limit


def test_the_search_ends_its_count_at_the_passes_it_made(model, train) -> None:
    x, y = train
    calls: list[tuple[int, int]] = []
    found = actual_limit(model, [(x, y)], cross_entropy_loss, 0.05,
                         progress=lambda done, most: calls.append((done, most)))
    assert calls[-1] == (found.evaluations, found.evaluations)
    assert max(most for _, most in calls) > found.evaluations  # it settled before its most
    assert all(done <= most for done, most in calls)
