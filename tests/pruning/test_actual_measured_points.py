"""The actual-limit search never reports a limit that a point it measured contradicts.

A pass measures both criteria, so the accuracy search's points also tell the loss criterion
(and the reverse), and ``sweep_points`` measures a curve of its own. On a curve that fails
and recovers (non-monotone: an already sparse model, a model at chance), such a point can
fail a criterion below the crossing that criterion's own scan found: the search used to
report the limit above it (the probes in its own JSON failing below the reported ratio), or
"not crossed" beside a sweep whose points fail.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.models.evaluate import evaluate
from prunelimit.pruning.actual import DEFAULT_MAX_EVALUATIONS, actual_limit, keeps_accuracy, prune_curve

LEVELS = 1000


def _data():
    torch.manual_seed(0)
    x = torch.randn(400, 10)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return [(x[:200], y[:200]), (x[200:], y[200:])]


def _sparse_trained(zeros_seed: int):
    """Data, and a small trained MLP with 60 % of its weights zeroed at random (an already
    pruned model), whose loss and accuracy wander as pruning goes on."""
    batches = _data()
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    torch.manual_seed(zeros_seed)
    with torch.no_grad():
        for p in (model[0].weight, model[2].weight):
            p[torch.rand_like(p) < 0.6] = 0
    return model, batches


def _contradicting(result, epsilon: float) -> tuple[list[float], list[float]]:
    """Measured points (probes and sweep) at or below a reported limit that fail its criterion."""
    points = [*result.probes, *result.curve]
    loss = [p.ratio for p in points if p.ratio <= result.loss_ratio and not p.loss <= result.dense_loss + epsilon]
    acc = [p.ratio for p in points if p.ratio <= result.accuracy_ratio
           and not keeps_accuracy(result.dense_accuracy, p.accuracy, result.acc_drop)]
    return loss, acc


@pytest.mark.parametrize("zeros_seed", [5, 10], ids=["loss", "accuracy"])
def test_a_probe_of_the_other_criterion_that_fails_lowers_the_limit_to_it(zeros_seed):
    """Measured before the fix, the same seeds: 5, the loss limit 0.937 with the accuracy
    search's probe at 0.864 failing the loss; 10, the accuracy limit 0.963 with the loss
    search's probe at 0.912 failing the accuracy criterion."""
    model, batches = _sparse_trained(zeros_seed)
    eps = 0.01
    result = actual_limit(model, batches, cross_entropy_loss, eps)
    assert _contradicting(result, eps) == ([], [])
    # each is still a true crossing (the next grid ratio fails), never below the sweep's first one
    curve = prune_curve(model, batches, cross_entropy_loss, [i / LEVELS for i in range(LEVELS)])
    for ratio, fails in (
        (result.loss_ratio, [not p.loss <= curve[0].loss + eps for p in curve]),
        (result.accuracy_ratio, [not keeps_accuracy(curve[0].accuracy, p.accuracy, 0.5) for p in curve]),
    ):
        reported = round(ratio * LEVELS)
        assert not fails[reported] and fails[reported + 1]
        assert reported >= fails.index(True) - 1
    assert max(result.loss_evaluations, result.accuracy_evaluations) <= DEFAULT_MAX_EVALUATIONS


def test_a_sweep_point_that_fails_is_not_left_beside_a_limit_above_it():
    """A model at chance: pruning moves its loss both ways; the scan's four coarse probes all
    pass, so without the sweep the search sees no crossing, while the sweep's points fail from
    0.1 (the loss fails ε = 0.001 from 0.110 on the 1,000-level grid)."""
    batches = _data()
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))
    eps = 0.001
    result = actual_limit(model, batches, cross_entropy_loss, eps, sweep_points=11)
    assert _contradicting(result, eps) == ([], [])
    assert result.loss_crossed and result.loss_ratio < 0.2
    assert max(result.loss_evaluations, result.accuracy_evaluations) <= DEFAULT_MAX_EVALUATIONS
    assert len(result.curve) == 11  # the sweep's points, beside the search's probes


@pytest.mark.parametrize("lr", [1e-30, 1e6], ids=["vanishing-lr", "diverging"])
def test_the_refit_search_holds_to_its_measured_points_too(lr):
    """``verify --refit`` shares its fine-tuned passes between the criteria as the one-shot
    search does. At a vanishing learning rate it is that search (the same contradiction, seed 5);
    fine-tuning that diverges leaves a NaN loss, which passed its loss criterion (``NaN > L + ε``
    is false): the refit limit read 0.947 from a search whose every point's loss was NaN."""
    from prunelimit.pruning.finetune import FinetuneConfig
    from prunelimit.pruning.refit import refit_limit

    model, batches = _sparse_trained(5)
    eps = 0.01
    dense = evaluate(model, batches, cross_entropy_loss)
    refit = refit_limit(model, batches, cross_entropy_loss, eps, FinetuneConfig(epochs=1, lr=lr))
    failing = [p.ratio for p in refit.points if not p.loss <= dense.loss + eps]
    assert failing and min(failing) > refit.loss_ratio
    assert all(keeps_accuracy(dense.accuracy, p.accuracy, 0.5) for p in refit.points if p.ratio <= refit.accuracy_ratio)
