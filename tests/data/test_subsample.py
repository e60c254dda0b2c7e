"""Class-balanced curvature subsets (``data.subsample``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunelimit.data.subsample import (
    AUTO_HESSIAN_SAMPLES,
    DATA_PARTS,
    _stratified_parts,
    curvature_subsample,
    resolve_hessian_samples,
    subset_size,
)
from prunelimit.errors import UsageError


def _batches(counts=(50, 30, 20), size=16):
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    x = torch.arange(len(y), dtype=torch.float32)[:, None]  # x holds the sample's index
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


def _column(batches, i):
    return torch.cat([b[i] for b in batches])


def test_subset_keeps_class_shares_and_splits_into_disjoint_parts() -> None:
    batches = _batches()
    sub = curvature_subsample(batches, 40, seed=3)
    assert sub.subsampled and sub.used == 40 and sub.total == 100
    assert torch.bincount(_column(sub.batches, 1)).tolist() == [20, 12, 8]
    ids = _column(sub.batches, 0).flatten()
    assert torch.all(ids[1:] > ids[:-1])  # data order kept
    parts = [_column(p, 0).flatten().tolist() for p in sub.parts]
    assert len(parts) == DATA_PARTS == 4 and sorted(sum(parts, [])) == ids.tolist()  # disjoint, the subset
    assert [len(p) for p in parts] == [10] * 4
    for p in sub.parts:  # every class in every part, in its share
        assert torch.bincount(_column(p, 1)).tolist() == [5, 3, 2]
    assert all(len(bt[0]) <= 16 for bt in sub.batches)


def test_subset_is_seeded() -> None:
    batches = _batches()
    first, again, other = (curvature_subsample(batches, 40, seed=s) for s in (1, 1, 2))
    assert torch.equal(_column(first.batches, 0), _column(again.batches, 0))
    assert not torch.equal(_column(first.batches, 0), _column(other.batches, 0))


def test_full_data_when_the_subset_covers_it() -> None:
    batches = _batches()
    sub = curvature_subsample(batches, 100)
    assert not sub.subsampled and sub.batches == batches and sub.parts == ()


def test_regression_targets_are_drawn_without_strata() -> None:
    x = torch.arange(60, dtype=torch.float32)[:, None]
    batches = [(x[i : i + 10], x[i : i + 10] * 0.5) for i in range(0, 60, 10)]
    sub = curvature_subsample(batches, 25, seed=0)
    assert sub.used == 25 and sorted(len(_column(p, 0)) for p in sub.parts) == [6, 6, 6, 7]


def test_resolve_hessian_samples() -> None:
    assert resolve_hessian_samples(None, 1_000) == 1_000
    assert resolve_hessian_samples("auto", 10 * AUTO_HESSIAN_SAMPLES) == AUTO_HESSIAN_SAMPLES
    assert resolve_hessian_samples("all", 10**6) == 10**6
    assert resolve_hessian_samples(500, 400) == 400


def test_parts_differ_by_at_most_one_sample_hold_every_class_and_follow_the_seed() -> None:
    """K-way stratified split (the data part of ρ*'s ± compares parts of equal size): class
    counts that K does not divide hand their extra samples on round the parts, so sizes
    differ by ≤ 1 whatever the classes; a class with K samples in the subset is in every
    part; the same seed gives the same parts, another seed others."""
    strata = torch.arange(90) % 9  # nine classes of ten
    for k in (2, 3, 4, 5):
        for samples in (9 * k, 9 * k + 4, 61, 89):
            parts = _stratified_parts(strata, 90, samples, k, np.random.default_rng(0))
            sizes = [len(p) for p in parts]
            assert len(parts) == k and sum(sizes) == samples and max(sizes) - min(sizes) <= 1
            assert len(set(np.concatenate(parts).tolist())) == samples  # disjoint
            for p in parts:
                assert set((p % 9).tolist()) == set(range(9))  # every class in every part
            again = _stratified_parts(strata, 90, samples, k, np.random.default_rng(0))
            assert all(np.array_equal(a, b) for a, b in zip(parts, again))
        other = _stratified_parts(strata, 90, 61, k, np.random.default_rng(1))
        assert not all(np.array_equal(a, b) for a, b in zip(parts, other))
    unlabelled = _stratified_parts(None, 90, 7, 4, np.random.default_rng(0))
    assert sorted(len(p) for p in unlabelled) == [1, 2, 2, 2]


def test_a_subset_below_k_samples_a_class_is_refused() -> None:
    batches = _batches()  # 3 classes
    assert curvature_subsample(batches, 12).used == 12
    for samples in (11, 6, 5):  # 6 was enough for two halves
        with pytest.raises(UsageError, match=f"hessian_samples {samples} is too few for 3 classes: use at least 12 "
                                             r"\(4 a class\), or all"):
            curvature_subsample(batches, samples)


def test_the_minimum_counts_a_class_of_fewer_than_k_samples_at_what_it_has() -> None:
    """A class of 1 or 3 samples cannot be in every part: the least subset gives it all it
    has, and the refusal names that count (11 for classes of 50, 30 and 3), not 12."""
    batches = _batches(counts=(50, 30, 3))
    assert curvature_subsample(batches, 11).used == 11
    with pytest.raises(UsageError, match=r"hessian_samples 10 is too few for 3 classes: use at least 11 "
                                         r"\(4 a class, or all of a smaller class\), or all"):
        curvature_subsample(batches, 10)


def test_an_unlabelled_subset_below_k_samples_is_refused() -> None:
    x = torch.arange(60, dtype=torch.float32)[:, None]
    batches = [(x[i : i + 10], x[i : i + 10] * 0.5) for i in range(0, 60, 10)]
    assert [len(_column(p, 0)) for p in curvature_subsample(batches, 4).parts] == [1] * 4
    for samples in (3, 2, 1):
        with pytest.raises(UsageError, match=f"hessian_samples {samples} is too few to split into 4 parts: "
                                             "use at least 4, or all"):
            curvature_subsample(batches, samples)


def test_a_rare_class_keeps_k_samples_one_in_each_part() -> None:
    """A class whose share of the subset rounds below K (4 of 804 samples, 40 taken: share
    0.2) still gets K, one in each part, taken from the classes most above their share; a
    class of fewer samples gets all it has. Proportional rounding alone left it out."""
    for counts, rare in (((500, 300, 4), [1, 1, 1, 1]), ((500, 300, 6), [1, 1, 1, 1]), ((500, 300, 2), [0, 0, 1, 1])):
        sub = curvature_subsample(_batches(counts), 40, seed=0)
        assert sub.used == 40
        assert torch.bincount(_column(sub.batches, 1), minlength=3).tolist()[2] == sum(rare)
        parts = [torch.bincount(_column(p, 1), minlength=3).tolist()[2] for p in sub.parts]
        assert sorted(parts) == rare


def test_the_automatic_default_takes_k_a_class_when_classes_outnumber_a_kth_of_it(monkeypatch) -> None:
    """``auto`` with more than AUTO_HESSIAN_SAMPLES / K classes (5,000 identities, 8,192
    samples) refused its own count ("8192 is too few for 5000 classes") though none was typed."""
    from prunelimit.data import subsample

    assert resolve_hessian_samples("auto", 10**6, classes=5_000) == 20_000
    assert resolve_hessian_samples("auto", 10**6, classes=2_500) == 10_000  # over 8,192 at four, not at two
    assert resolve_hessian_samples(None, 9_000, classes=5_000) == 9_000
    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", 10)
    batches = _batches(counts=(20,) * 8)  # 8 classes of 20: four a class is 32 of the 160
    sub = curvature_subsample(batches, "auto", seed=0)
    assert sub.used == 32 and torch.bincount(_column(sub.batches, 1)).tolist() == [4] * 8
    with pytest.raises(UsageError, match="hessian_samples 16 is too few for 8 classes"):
        curvature_subsample(batches, 16)  # a typed count is still held to four a class


def test_integer_targets_that_are_values_are_drawn_without_strata() -> None:
    """``by_class=False`` (the mse loss): integer regression targets are values, not classes;
    as strata, 150 distinct values of 300 samples refused any subset below 300."""
    y = torch.arange(300) // 2  # 150 distinct integer values
    x = torch.arange(300, dtype=torch.float32)[:, None]
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, 300, 64)]
    with pytest.raises(UsageError, match="too few for 150 classes"):
        curvature_subsample(batches, 100)
    sub = curvature_subsample(batches, 100, seed=0, by_class=False)
    assert sub.used == 100 and [len(_column(p, 0)) for p in sub.parts] == [25] * 4


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


@pytest.mark.parametrize("criterion", ["L1Loss", "smooth_l1_loss", "HuberLoss", "PoissonNLLLoss"])
def test_the_integer_targets_of_torchs_regression_criteria_are_values(criterion) -> None:
    """Integer targets of torch's regression criteria (counts, ratings) are values, as the
    mse loss's: as classes, 129 distinct values of 300 samples refused a subset of 100
    ("too few for 129 classes"), and ``auto`` took every sample where four a value was more."""
    import functools

    import prunelimit
    from prunelimit.models.spec import build_model

    module = getattr(torch.nn, criterion, None)
    loss = module() if module is not None else functools.partial(getattr(torch.nn.functional, criterion))
    torch.manual_seed(0)
    x = torch.randn(300, 8)
    y = (x[:, 0] * 40 + 100).round().long().clamp(min=0)
    rep = prunelimit.bounds(build_model("mlp:8,6,1"), (x, y), loss=loss, method="slq", hessian_samples=100,
                            max_hvps=30, epsilon=0.1)
    assert rep.spectrum.curvature_data.used == 100 and rep.uncertainty.data is not None


def test_labels_of_classification_criteria_stay_classes() -> None:
    """Only regression criteria draw without strata: BCE's 0/1 labels, cross-entropy's and a
    user's loss keep their classes in every part."""
    from prunelimit.data.batches import cross_entropy_loss, mse_loss
    from prunelimit.data.loss import criterion_loss, targets_are_values

    import functools  # a partial of mse_loss is no plain mse: the criterion reads its targets (one that sums is refused)

    mean_squared = functools.partial(torch.nn.functional.mse_loss, reduction="mean")
    assert targets_are_values(mse_loss) and targets_are_values(criterion_loss(mean_squared))
    assert targets_are_values(criterion_loss(torch.nn.HuberLoss(delta=2.0)))
    for loss in (cross_entropy_loss, criterion_loss(torch.nn.BCEWithLogitsLoss()), criterion_loss(torch.nn.NLLLoss()),
                 criterion_loss(torch.nn.HingeEmbeddingLoss()), lambda model, batch: model(batch[0]).mean()):
        assert not targets_are_values(loss)


def test_the_subset_is_gathered_from_the_batches_without_copying_the_data(monkeypatch) -> None:
    """The inputs of every batch were joined into one copy of the data set before the
    subset was taken (300 MB more beside a 100,000 × 784 set); now only the chosen samples
    are copied, the same ones whatever the batch size, a last partial batch included."""
    y = torch.arange(203) % 3
    x = torch.arange(203, dtype=torch.float32)[:, None].repeat(1, 5)  # x holds the sample's index
    joined, real = [], torch.cat
    monkeypatch.setattr(torch, "cat", lambda ts, *a, **k: (joined.append(sum(t.numel() for t in ts if t.dim() == 2)),
                                                             real(ts, *a, **k))[1])
    subsets = [curvature_subsample([(x[i : i + size], y[i : i + size]) for i in range(0, 203, size)], 40, seed=5)
               for size in (7, 64, 500)]
    monkeypatch.setattr(torch, "cat", real)
    assert max(joined) <= 40 * 5  # never more inputs than the subset's
    ids = [_column(s.batches, 0)[:, 0] for s in subsets]
    assert all(torch.equal(i, ids[0]) for i in ids) and len(ids[0]) == 40
    for sub in subsets:  # inputs and labels stay paired, parts are drawn from the same samples
        assert torch.equal(_column(sub.batches, 1), ids[0].long() % 3)
        assert sorted(_column(sub.parts[0], 0)[:, 0].tolist() + _column(sub.parts[1], 0)[:, 0].tolist()
                      + _column(sub.parts[2], 0)[:, 0].tolist() + _column(sub.parts[3], 0)[:, 0].tolist()) \
            == ids[0].tolist()


def test_the_automatic_default_subsamples_only_data_of_four_times_its_subset(monkeypatch) -> None:
    """The data check costs three probes' steps over the subset (the subset less each of its
    four parts), so one probe's run over a subset of more than a quarter of the data costs
    more passes than all of it would: ``auto`` took 8,192 of 16,384 samples, 4 passes of
    8,192 a step against 2. It now takes all of them, as it does where four a class is more
    than a quarter of the data; before that it took 8,192 of 9,000 (817 passes against 770)."""
    from prunelimit.data import subsample

    assert resolve_hessian_samples("auto", 9_000) == 9_000
    assert resolve_hessian_samples("auto", 2 * AUTO_HESSIAN_SAMPLES) == 2 * AUTO_HESSIAN_SAMPLES
    assert resolve_hessian_samples("auto", 4 * AUTO_HESSIAN_SAMPLES - 1) == 4 * AUTO_HESSIAN_SAMPLES - 1
    assert resolve_hessian_samples("auto", 4 * AUTO_HESSIAN_SAMPLES) == AUTO_HESSIAN_SAMPLES
    assert resolve_hessian_samples("auto", 40_000, classes=5_000) == 40_000  # 20,000 a subset, over a quarter
    assert resolve_hessian_samples("auto", 80_000, classes=5_000) == 20_000
    assert resolve_hessian_samples(9_000, 10_000) == 9_000  # a typed count is taken as typed
    batches = _batches()  # 100 samples of 3 classes
    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", 26)
    sub = curvature_subsample(batches, "auto", seed=0)
    assert not sub.subsampled and sub.batches == batches and sub.parts == ()
    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", 25)
    sub = curvature_subsample(batches, "auto", seed=0)
    assert sub.used == 25 and torch.bincount(_column(sub.batches, 1)).tolist() == [13, 7, 5]


@pytest.mark.parametrize(("auto", "counts", "by_class", "requested"), [
    (10, (5,) * 20, True, "auto"),  # four a class (80) over a quarter of 100: all
    (10, (5,) * 20, False, "auto"),  # the same targets as values: 10 of 100
    (10, (20,) * 6, True, "auto"),  # four a class (24) at most a quarter: 24
    (60, (50, 30, 20), True, "auto"),  # 60 of 100 is over a quarter: all
    (10, (50, 30, 20), True, 12),  # a typed count as typed
])
def test_the_subset_size_is_what_the_subset_takes(monkeypatch, auto, counts, by_class, requested) -> None:
    """The result cache keys ``auto`` as ``all`` where it takes every sample, and read that off
    the sample count alone: where four a class is over a quarter of the data (the classes dominate)
    ``auto`` takes all, but was keyed apart from ``all``."""
    from prunelimit.data import subsample

    monkeypatch.setattr(subsample, "AUTO_HESSIAN_SAMPLES", auto)
    batches = _batches(counts=counts)
    assert subset_size(batches, requested, by_class) == curvature_subsample(batches, requested, 0, by_class).used


def _class_batches(targets: torch.Tensor, size: int = 32):
    x = torch.arange(len(targets), dtype=torch.float32)[:, None]  # x holds the sample's index
    return [(x[i : i + size], targets[i : i + size]) for i in range(0, len(targets), size)]


def _part_classes(sub, classes: torch.Tensor) -> list[list[int]]:
    """How many samples of each class every part holds (``classes``: each sample's, by index)."""
    return [torch.bincount(classes[_column(p, 0)[:, 0].long()], minlength=int(classes.max()) + 1).tolist()
            for p in sub.parts]


def test_float_labels_and_class_probability_rows_are_drawn_by_class() -> None:
    """BCE takes 0/1 labels as floats and soft cross-entropy class probabilities as float
    rows: both were drawn without strata, so the 8 positives of a 296-sample set (one in 37)
    were missing from 3 of the 4 parts of a 40-sample subset, which then measured the data
    part of ρ*'s ± between parts with and without the rare class. Each part now holds every
    class, as integer labels do; targets of other kinds still draw without strata."""
    classes = torch.tensor([0] * 288 + [1] * 8)[torch.randperm(296, generator=torch.Generator().manual_seed(0))]
    one_hot = torch.nn.functional.one_hot(classes, 2).float()
    for targets in (classes.float(), classes.float()[:, None], 2 * classes.float() - 1, one_hot, one_hot.long(),
                    one_hot * 0.9 + 0.05):  # 0/1 labels, as one column, ±1 labels, one-hot, label-smoothed
        for seed in range(3):
            sub = curvature_subsample(_class_batches(targets), 40, seed=seed)
            assert _part_classes(sub, classes) == [[9, 1]] * 4, (targets[:2], seed)
    with pytest.raises(UsageError, match=r"hessian_samples 7 is too few for 2 classes: use at least 8 \(4 a class\), "
                                         r"or all \(float targets of two values and rows of class probabilities "
                                         r"count as classes\)"):
        curvature_subsample(_class_batches(classes.float()), 7)
    values = torch.linspace(0, 1, 296)  # real values; rows of several labels; per-token classes: no strata
    for targets in (values, torch.stack([values, values], 1), torch.stack([classes, classes], 1).float(),
                    torch.stack([classes, 1 - classes, classes], 1).float(), torch.stack([classes] * 5, 1)):
        assert curvature_subsample(_class_batches(targets), 5, seed=0).used == 5


@pytest.mark.parametrize("stored", [torch.float16, torch.bfloat16])
def test_class_probability_rows_stored_in_half_precision_are_drawn_by_class(stored) -> None:
    """Soft labels saved in float16 or bfloat16 (loaded as float32) sum to 1 only within
    their type's rounding (here up to 2.4e-4 in float16, 4.9e-4 and 1.9e-3 in bfloat16):
    the 1e-4 of float32 rounding took them for other targets, drawn without strata, so the
    rare class (8 of 296) was in at most one of the 4 parts of a 40-sample subset (in none
    with seed 2). They are now classes, as float32 rows are: 1 a part."""
    generator = torch.Generator().manual_seed(0)
    classes = torch.tensor([0] * 288 + [1] * 8)[torch.randperm(296, generator=generator)]
    smoothed = torch.nn.functional.one_hot(classes, 3).float() * 0.9 + 0.1 / 3
    logits = torch.randn(296, 3, generator=generator) + 6 * torch.nn.functional.one_hot(classes, 3)
    for rows in (smoothed, torch.softmax(logits, 1)):
        targets = rows.to(stored).float()
        assert (targets.sum(1, dtype=torch.float64) - 1).abs().max() > 1e-4  # the rounding this is about
        for seed in range(3):
            sub = curvature_subsample(_class_batches(targets), 40, seed=seed)
            assert _part_classes(sub, classes) == [[9, 1]] * 4, (stored, seed)


def test_kl_divergence_soft_targets_are_drawn_by_class_as_cross_entropys() -> None:
    """A student distilled by ``nn.KLDivLoss`` on a teacher's soft targets (docs/accuracy.md)
    has cross-entropy's Hessian on them, yet KL divergence was taken for a regression
    criterion: its rows were drawn without strata, so the rare class (8 of 296) was in at
    most one of the 4 parts of a 40-sample subset (in none with seed 2), while
    ``nn.CrossEntropyLoss`` on the same rows kept it in each. Both now draw by class."""
    from prunelimit.data.loss import criterion_loss, targets_are_values

    generator = torch.Generator().manual_seed(0)
    classes = torch.tensor([0] * 288 + [1] * 8)[torch.randperm(296, generator=generator)]
    soft = torch.softmax(torch.randn(296, 3, generator=generator) + 6 * torch.nn.functional.one_hot(classes, 3), 1)
    for criterion in (torch.nn.KLDivLoss(reduction="batchmean"), torch.nn.functional.kl_div,
                      torch.nn.CrossEntropyLoss()):
        by_class = not targets_are_values(criterion_loss(criterion))
        for seed in range(3):
            sub = curvature_subsample(_class_batches(soft), 40, seed=seed, by_class=by_class)
            assert _part_classes(sub, classes) == [[9, 1]] * 4, (criterion, seed)


def test_batches_of_their_own_lengths_are_subsampled_within_each_run_of_one_length() -> None:
    """Batches padded each to its own length (token ids of 5, 7, 5, 9 and 9 columns) cannot be
    joined: the subset joins its samples within each run of consecutive batches of one form, so
    it holds the same samples as of batches of one length (seen failing before: torch's "Sizes of
    tensors must match", also under the default subset of 16,384 samples or more)."""
    uniform = _batches(counts=(40, 40), size=16)
    lengths = (5, 7, 5, 9, 9)
    padded = [(x.long().expand(-1, n), y) for (x, y), n in zip(uniform, lengths)]  # every column the sample's index
    sub, same = curvature_subsample(padded, 24, seed=3), curvature_subsample(uniform, 24, seed=3)
    assert [b[0].shape[1] for b in sub.batches] == [5, 7, 5, 9]  # the last two joined: 9 and 9
    ids = torch.cat([b[0][:, 0] for b in sub.batches])
    assert ids.tolist() == _column(same.batches, 0).flatten().long().tolist()  # the same samples, in data order
    assert torch.cat([b[1] for b in sub.batches]).tolist() == _column(same.batches, 1).tolist()
    for part, kept in zip(sub.parts, same.parts):
        assert torch.cat([b[0][:, 0] for b in part]).tolist() == _column(kept, 0).flatten().long().tolist()


def test_per_token_targets_of_their_own_lengths_are_drawn_without_strata() -> None:
    """Per-token labels padded per batch (5, 7, 5 and 9 tokens) name no class a sample, as
    per-token targets of one length do not: the subset is drawn without strata (seen failing
    before: joining them raised torch's "Sizes of tensors must match")."""
    generator = torch.Generator().manual_seed(0)
    padded = [(torch.randint(0, 20, (16, n), generator=generator), torch.randint(0, 3, (16, n), generator=generator))
              for n in (5, 7, 5, 9)]
    sub = curvature_subsample(padded, 32, seed=3)
    assert sub.used == 32 and sub.total == 64 and len(sub.parts) == DATA_PARTS
    assert all(x.shape == y.shape for x, y in sub.batches)  # each sample's tokens beside its own labels
