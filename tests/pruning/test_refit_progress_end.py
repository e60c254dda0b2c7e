"""``verify --refit``'s progress count ends at its total: the bar's total is the fine-tuning
steps of the most passes the search may make, and a search that settled sooner left the
count short of it (as the one-shot search's did)."""

from __future__ import annotations

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.finetune import FinetuneConfig
from prunelimit.pruning.refit import refit_limit

from tests.pruning.conftest import digits_batches, tiny_mlp

BATCHES = digits_batches(256)[:2]


def test_the_refit_search_ends_its_count_at_the_steps_it_made() -> None:
    calls: list[tuple[int, int]] = []
    found = refit_limit(tiny_mlp(BATCHES), BATCHES, cross_entropy_loss, 0.02,
                        FinetuneConfig(epochs=1, lr=0.05, batch_size=256),
                        progress=lambda done, most: calls.append((done, most)))
    per_tuning = len(BATCHES)  # one epoch of full batches: a step a batch
    assert calls[-1] == (found.evaluations * per_tuning, found.evaluations * per_tuning)
    assert max(most for _, most in calls) > calls[-1][1]  # it settled before its most
    assert all(done <= most for done, most in calls)
