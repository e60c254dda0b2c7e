"""The actual-limit search against brute force (1,000-level sweeps and exhaustive synthetic curves)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import UsageError
from prunelimit.models.evaluate import evaluate
from prunelimit.pruning.actual import (
    actual_limit,
    coarse_stride,
    first_failure,
    prune_curve,
    worst_case_passes,
)

LEVELS = 1000


def test_coarse_stride_fits_budget() -> None:
    assert coarse_stride(LEVELS, 4, 25) == 256  # 64 would need 1 + 16 + 3·3 = 26
    assert worst_case_passes(LEVELS, 4, 256) == 17  # dense + 256, 512, 768, 999 + 4 levels × 3
    assert coarse_stride(LEVELS, 2, 25) == 64  # 1 + 16 + 6 bisection steps = 23
    assert coarse_stride(LEVELS, 4, 26) == 64  # one more pass buys a 4x denser coarse scan


@pytest.mark.parametrize("branching", [2, 3, 4, 8])
def test_first_failure_is_exact_on_every_monotone_curve(branching: int) -> None:
    # Exhaustive oracle: for every threshold t the monotone curve fails at i >= t.
    stride = coarse_stride(LEVELS, branching, 25)
    budget = worst_case_passes(LEVELS, branching, stride) - 1
    for t in range(1, LEVELS + 1):
        asked: list[int] = []
        got = first_failure(lambda i: asked.append(i) or i >= t, LEVELS, stride, branching)
        assert got == (t if t < LEVELS else None)
        assert len(set(asked)) <= budget


def test_first_failure_on_non_monotone_curves_returns_a_true_crossing() -> None:
    # Random curves failing with increasing probability: the answer must fail, its left
    # neighbour must pass, every probe below it must pass, and it is never below brute force.
    rng = np.random.default_rng(0)
    for _ in range(300):
        fails = rng.random(LEVELS) < np.linspace(-0.5, 1.5, LEVELS) ** 3
        fails[0] = False
        asked: list[int] = []
        hi = first_failure(lambda i: asked.append(i) or bool(fails[i]), LEVELS, 256, 4)
        if hi is None:
            assert not fails[asked].any()
            continue
        assert fails[hi] and not fails[hi - 1]
        assert not any(fails[i] for i in asked if i < hi)
        assert hi >= int(np.argmax(fails))


def _epsilon(model, batches) -> float:
    with torch.no_grad():
        return float(np.std([float(cross_entropy_loss(model, b)) for b in batches]))


def _brute(model, batches):
    """1,000-level sweep; returns the first failing index of each criterion (or None) and the fail flags."""
    dense = evaluate(model, batches, cross_entropy_loss)
    eps = _epsilon(model, batches)
    curve = prune_curve(model, batches, cross_entropy_loss, [i / LEVELS for i in range(LEVELS)])
    loss_fails = np.array([p.loss > dense.loss + eps for p in curve])
    acc_fails = np.array([p.accuracy < dense.accuracy - 0.005 for p in curve])
    return eps, loss_fails, acc_fails


@pytest.mark.parametrize("which", ["mlp_l1", "mlp_dense"])
def test_search_against_brute_force_sweep(which: str, request) -> None:
    model = request.getfixturevalue(which)
    batches = request.getfixturevalue("digits")
    eps, loss_fails, acc_fails = _brute(model, batches)
    weights = [p.detach().clone() for p in model.parameters()]
    result = actual_limit(model, batches, cross_entropy_loss, eps)
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))  # restored
    assert result.loss_evaluations <= 25 and result.accuracy_evaluations <= 25
    assert result.evaluations <= 2 * worst_case_passes(LEVELS, 4, 256)
    for ratio, fails in ((result.loss_ratio, loss_fails), (result.accuracy_ratio, acc_fails)):
        hi = round(ratio * LEVELS) + 1
        brute_ratio = (int(np.argmax(fails)) - 1) / LEVELS
        # Always: the reported ratio passes and the next grid ratio fails (a real crossing)
        # and it is never below the brute-force first crossing.
        assert fails[hi] and not fails[hi - 1]
        assert ratio >= brute_ratio
        if np.count_nonzero(np.diff(fails.astype(int))) == 1:
            # A single crossing (monotone criterion): the search is exact.
            assert ratio == brute_ratio
    if which == "mlp_l1":
        # LOMP-trained net: both criteria land on the brute-force ratio within 0.002 (measured: 0).
        assert abs(result.loss_ratio - (int(np.argmax(loss_fails)) - 1) / LEVELS) <= 0.002
        assert abs(result.accuracy_ratio - (int(np.argmax(acc_fails)) - 1) / LEVELS) <= 0.002
    # The dense seed-0 net wobbles around both thresholds (several crossings, e.g. loss at
    # 0.677-0.680 then for good from 0.693): the search returns 0.692 where brute force
    # gives 0.676. This is the documented limitation, not asserted away.


def test_separate_eval_data_and_sweep(mlp_l1, digits) -> None:
    eps = _epsilon(mlp_l1, digits)
    result = actual_limit(mlp_l1, digits, cross_entropy_loss, eps, eval_batches=digits[:2], sweep_points=5)
    assert [p.ratio for p in result.curve] == [0.0, 0.25, 0.5, 0.749, 0.999]
    ref = prune_curve(mlp_l1, digits, cross_entropy_loss, [0.5], eval_batches=digits[:2])[0]
    assert result.curve[2] == ref
    assert result.dense_accuracy == evaluate(mlp_l1, digits[:2], cross_entropy_loss).accuracy
    # one pass measures both criteria on their own data: the searches share their points
    assert result.evaluations == len(result.probes)
    assert max(result.loss_evaluations, result.accuracy_evaluations) <= result.evaluations
    assert all(p.accuracy is not None and p.loss == p.loss for p in result.probes)


def test_regression_has_no_accuracy_criterion() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x = torch.randn(64, 4)
    batches = [(x, x @ torch.ones(4, 1))]
    mse = lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])  # noqa: E731
    result = actual_limit(model, batches, mse, 0.0)
    assert result.accuracy_ratio is None and result.accuracy_evaluations == 0


@pytest.mark.parametrize(
    "kwargs", [dict(epsilon=-1.0), dict(epsilon=float("nan")), dict(epsilon=0.1, levels=500),
               dict(epsilon=0.1, max_evaluations=10), dict(epsilon=0.1, acc_drop=-1.0)],
)
def test_bad_arguments_are_usage_errors(kwargs, mlp_l1, digits) -> None:
    with pytest.raises(UsageError):
        actual_limit(mlp_l1, digits, cross_entropy_loss, **kwargs)


def exact_drop_model() -> tuple[torch.nn.Module, list]:
    """A 2×8 linear classifier over 200 one-hot samples whose accuracy falls by exactly 1/200
    per pruned weight past its 8 zeros: 7/200 dense, 6/200 at 9 weights removed (a drop of
    exactly 0.5 points, where ``0.035 − 0.005`` rounds above 0.03), 5/200 at 10."""
    model = torch.nn.Linear(8, 2, bias=False)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[1] = torch.tensor([1.0, 2, 3, 4, 5, 6, 7, 100])
    x = torch.eye(8)[torch.tensor([*range(7), *[7] * 193])]
    y = torch.tensor([1] * 7 + [0] * 193)
    return model, [(x, y)]


def test_an_accuracy_drop_of_exactly_delta_passes() -> None:
    """Accuracy ≥ dense − δ (docs/theory.md): 6/200 against 7/200 with δ = 0.5 passes, so the
    limit is the last ratio removing 9 of 16 weights (ceil(16ρ) ≤ 9: 0.562), not 0.5."""
    model, batches = exact_drop_model()
    result = actual_limit(model, batches, cross_entropy_loss, 1e9, acc_drop=0.5)
    assert result.dense_accuracy == 7 / 200
    assert result.accuracy_ratio == 0.562
    assert actual_limit(model, batches, cross_entropy_loss, 1e9, acc_drop=0.49).accuracy_ratio == 0.5


def test_the_search_states_its_own_seconds(mlp_l1, digits, monkeypatch) -> None:
    """verify's search came outside the spectrum's ``timing`` and its budgets, and nothing
    said what it took: ``seconds`` is its wall time, search and sweep (one clock reading at
    each end; 1 s a reading here)."""
    import itertools
    import types

    from prunelimit.pruning import actual

    monkeypatch.setattr(actual, "time", types.SimpleNamespace(perf_counter=itertools.count(0.0, 1.0).__next__))
    result = actual_limit(mlp_l1, digits, cross_entropy_loss, _epsilon(mlp_l1, digits), sweep_points=3)
    assert result.seconds == 1.0
