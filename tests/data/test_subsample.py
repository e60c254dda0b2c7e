"""Class-balanced curvature subsets (``data.subsample``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.data.subsample import AUTO_HESSIAN_SAMPLES, curvature_subsample, resolve_hessian_samples
from prunelimit.errors import UsageError


def _batches(counts=(50, 30, 20), size=16):
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    x = torch.arange(len(y), dtype=torch.float32)[:, None]  # x holds the sample's index
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


def _column(batches, i):
    return torch.cat([b[i] for b in batches])


def test_subset_keeps_class_shares_and_splits_into_disjoint_halves() -> None:
    batches = _batches()
    sub = curvature_subsample(batches, 40, seed=3)
    assert sub.subsampled and sub.used == 40 and sub.total == 100
    assert torch.bincount(_column(sub.batches, 1)).tolist() == [20, 12, 8]
    ids = _column(sub.batches, 0).flatten()
    assert torch.all(ids[1:] > ids[:-1])  # data order kept
    a, b = _column(sub.half_a, 0).flatten(), _column(sub.half_b, 0).flatten()
    assert set(a.tolist()).isdisjoint(b.tolist()) and sorted(a.tolist() + b.tolist()) == ids.tolist()
    assert abs(len(a) - len(b)) <= 3  # each class split in half, odd counts rounding up in A
    assert all(len(bt[0]) <= 16 for bt in sub.batches)


def test_subset_is_seeded() -> None:
    batches = _batches()
    first, again, other = (curvature_subsample(batches, 40, seed=s) for s in (1, 1, 2))
    assert torch.equal(_column(first.batches, 0), _column(again.batches, 0))
    assert not torch.equal(_column(first.batches, 0), _column(other.batches, 0))


def test_full_data_when_the_subset_covers_it() -> None:
    batches = _batches()
    sub = curvature_subsample(batches, 100)
    assert not sub.subsampled and sub.batches == batches and sub.half_a == []


def test_regression_targets_are_drawn_without_strata() -> None:
    x = torch.arange(60, dtype=torch.float32)[:, None]
    batches = [(x[i : i + 10], x[i : i + 10] * 0.5) for i in range(0, 60, 10)]
    sub = curvature_subsample(batches, 25, seed=0)
    assert sub.used == 25 and len(_column(sub.half_a, 0)) == 13


def test_resolve_hessian_samples() -> None:
    assert resolve_hessian_samples(None, 1_000) == 1_000
    assert resolve_hessian_samples("auto", 10 * AUTO_HESSIAN_SAMPLES) == AUTO_HESSIAN_SAMPLES
    assert resolve_hessian_samples("all", 10**6) == 10**6
    assert resolve_hessian_samples(500, 400) == 400


def test_halves_differ_by_at_most_one_sample_whatever_the_classes() -> None:
    """Odd class counts hand their extra sample to the two halves in turn (the split-half
    data term compares halves of equal size)."""
    from prunelimit.data.subsample import _stratified_halves

    strata = torch.arange(40) % 10  # ten classes of four
    for samples in (15, 21, 33):
        a, b = _stratified_halves(strata, 40, samples, np.random.default_rng(0))
        assert len(a) + len(b) == samples and abs(len(a) - len(b)) <= 1
        assert not set(a.tolist()) & set(b.tolist())


def test_a_subset_below_two_samples_a_class_is_refused() -> None:
    batches = _batches()  # 3 classes
    assert curvature_subsample(batches, 6).used == 6
    with pytest.raises(UsageError, match="hessian_samples 5 is too few for 3 classes: use at least 6"):
        curvature_subsample(batches, 5)


def test_a_rare_class_keeps_two_samples_one_in_each_half() -> None:
    """A class whose share of the subset rounds to 0 or 1 (2 of 802 samples, 40 taken:
    share 0.1) still gets two, one in each half, taken from the classes most above their
    share; a class of one sample gets that one. Proportional rounding alone left it out."""
    for counts, rare in (((500, 300, 2), [1, 1]), ((500, 300, 1), [0, 1])):
        sub = curvature_subsample(_batches(counts), 40, seed=0)
        assert sub.used == 40
        assert torch.bincount(_column(sub.batches, 1), minlength=3).tolist()[2] == sum(rare)
        halves = [torch.bincount(_column(h, 1), minlength=3).tolist()[2] for h in (sub.half_a, sub.half_b)]
        assert sorted(halves) == rare


def test_the_automatic_default_takes_two_a_class_when_classes_outnumber_half_of_it(monkeypatch) -> None:
    """``auto`` with more than AUTO_HESSIAN_SAMPLES / 2 classes (5,000 identities, 8,192
    samples) refused its own count ("8192 is too few for 5000 classes") though none was typed."""
    from prunelimit.data import subsample

    assert resolve_hessian_samples("auto", 10**6, classes=5_000) == 10_000
    assert resolve_hessian_samples(None, 9_000, classes=5_000) == 9_000
    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", 10)
    batches = _batches(counts=(5,) * 8)  # 8 classes of 5: two a class is 16 of the 40
    sub = curvature_subsample(batches, "auto", seed=0)
    assert sub.used == 16 and torch.bincount(_column(sub.batches, 1)).tolist() == [2] * 8
    with pytest.raises(UsageError, match="hessian_samples 10 is too few for 8 classes"):
        curvature_subsample(batches, 10)  # a typed count is still held to two a class


def test_integer_targets_that_are_values_are_drawn_without_strata() -> None:
    """``by_class=False`` (the mse loss): integer regression targets are values, not classes;
    as strata, 150 distinct values of 300 samples refused any subset below 300."""
    y = torch.arange(300) // 2  # 150 distinct integer values
    x = torch.arange(300, dtype=torch.float32)[:, None]
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, 300, 64)]
    with pytest.raises(UsageError, match="too few for 150 classes"):
        curvature_subsample(batches, 100)
    sub = curvature_subsample(batches, 100, seed=0, by_class=False)
    assert sub.used == 100 and abs(len(_column(sub.half_a, 0)) - len(_column(sub.half_b, 0))) <= 1


def test_mse_bounds_on_integer_targets_subsample_them_as_values() -> None:
    """The mse loss's integer targets reach the subset unstratified, in the spectrum and in
    the per-layer blocks (``api.curvature.curvature_data``)."""
    import prunelimit
    from prunelimit.models.spec import build_model

    torch.manual_seed(0)
    x = torch.randn(300, 8)
    y = (x[:, 0] * 40 + 100).round().long()  # counts: ~200 distinct integer values
    rep = prunelimit.bounds(build_model("mlp:8,6,1"), (x, y), loss="mse", method="slq", hessian_samples=100,
                            max_hvps=30, epsilon=0.1, per_layer=True)
    assert rep.spectrum.curvature_data.used == 100 and rep.uncertainty.data is not None
    assert rep.layers is not None
