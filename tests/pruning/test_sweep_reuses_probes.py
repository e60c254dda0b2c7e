"""``--sweep N`` measures only the ratios the search has not: the dense model (always one of
the sweep's ratios) and every probe the sweep shares with the search were pruned and
evaluated a second time (``--sweep 1000``: 1,025 passes for 1,000 grid ratios), for the same
numbers."""

from __future__ import annotations


from prunelimit.data.batches import cross_entropy_loss
from prunelimit.pruning.actual import actual_limit, prune_curve

from tests.pruning.conftest import Counted, digits_batches, trained_mlp


def _setup():
    batches = digits_batches(256)[:2]
    return Counted(trained_mlp(l1=0.0, epochs=3, seed=0)), batches


def test_a_full_sweep_measures_each_grid_ratio_once():
    model, batches = _setup()
    result = actual_limit(model, batches, cross_entropy_loss, 0.02, sweep_points=1000)
    # every one of the 1,000 grid ratios was measured, by the search or the sweep, each once
    assert model.calls == 1000 * len(batches)
    assert result.sweep_evaluations == 1000 - result.evaluations
    assert len(result.curve) == 1000


def test_the_sweep_takes_the_searchs_points_and_they_are_what_a_sweep_measures():
    model, batches = _setup()
    result = actual_limit(model, batches, cross_entropy_loss, 0.02, sweep_points=11)
    ratios = [p.ratio for p in result.curve]
    shared = set(ratios) & {p.ratio for p in result.probes}
    assert 0.0 in shared  # the dense model: the search's first pass
    assert model.calls == (result.evaluations + 11 - len(shared)) * len(batches)
    assert result.sweep_evaluations == 11 - len(shared)
    # the same numbers as pruning afresh at each ratio (one model, same data and order: exact)
    fresh = prune_curve(model, batches, cross_entropy_loss, ratios)
    assert [(p.loss, p.accuracy) for p in result.curve] == [(p.loss, p.accuracy) for p in fresh]


def test_a_sweep_of_one_ratio_costs_no_pass():
    """``--sweep 1`` is the dense ratio alone, which the search measured first."""
    model, batches = _setup()
    alone = actual_limit(model, batches, cross_entropy_loss, 0.02)
    calls = model.calls
    result = actual_limit(model, batches, cross_entropy_loss, 0.02, sweep_points=1)
    assert model.calls - calls == alone.evaluations * len(batches)
    assert [p.ratio for p in result.curve] == [0.0] and result.sweep_evaluations == 0
    assert (result.loss_ratio, result.accuracy_ratio) == (alone.loss_ratio, alone.accuracy_ratio)
