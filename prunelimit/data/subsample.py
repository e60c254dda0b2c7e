"""A fixed, seeded, class-balanced subset of the analysis data for curvature.

Hessian-vector products over a subset cost a fraction of full-data ones. The subset is
stratified by class (each class keeps its share of the data, up to rounding, and at least
``DATA_PARTS`` samples, so that a rare class is in every part) so the subsampled Hessian
averages the same mixture of classes, and split into ``DATA_PARTS`` disjoint parts of the
same kind; on the subset less each part (``left_out``) ``prunelimit.theory.uncertainty``
measures what the subsampling does to ρ*. The classes are integer labels, float labels of two values (BCE's 0/1) and rows of
class probabilities (one-hot or soft labels, by their largest entry); other targets
(values of more kinds, multi-label rows, per-pixel or per-token classes), and targets that
are values rather than classes (``by_class=False``: integer regression targets), are drawn
without strata.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from prunelimit.data.batches import Batch, Batches, batch_form, batch_size, total_samples
from prunelimit.data.spec import FINITE_CHUNK
from prunelimit.errors import OptionError

# Curvature uses a subset of this size by default (``--hessian-samples auto``) on data sets
# of at least twice as many samples (``resolve_hessian_samples``).
AUTO_HESSIAN_SAMPLES = 8192

# Parts the subset is split into for the data part of ρ*'s ± (K − 1 degrees of freedom).
# The data check runs on the subset less each part, K − 1 subset-passes a step; 4 takes
# the expected 95 % half-width from 10.1σ (K = 2: t₁ 12.7 × E[s]/σ 0.80) to 2.9σ, within
# 50 % of a known scale's 1.96σ, while K = 8 would be 22 % tighter for 7/3 the passes and
# 8 samples a class (docs/accuracy.md).
DATA_PARTS = 4

# How far from 1 a row of class probabilities may sum. Soft labels are often stored in half
# precision (loaded as float32): rounding each entry by at most the type's unit roundoff u
# moves the sum by at most u, 2⁻⁸ for bfloat16. Softmax rows of 3 to 1,000 classes, computed
# in or rounded to float16 summed to 1 within 3.7e-4 and bfloat16 within 3.0e-3, above the
# 1e-4 of float32 rounding that drew them without strata; 4u leaves a margin, and rows of
# other targets (several labels, values) miss 1 by far more.
ROW_SUM_ROUNDING = 2.0 ** -6


@dataclass(frozen=True)
class Subsample:
    """The curvature data: ``batches`` (the subset, or the full data when ``used ==
    total``) and its ``DATA_PARTS`` disjoint ``parts`` (none on the full data)."""

    batches: list[Batch]
    parts: tuple[list[Batch], ...]
    used: int
    total: int

    @property
    def subsampled(self) -> bool:
        return self.used < self.total


def left_out(parts: tuple[list[Batch], ...]) -> tuple[list[Batch], ...]:
    """The subset less each of its ``parts`` in turn: K sets of (K − 1)/K of its samples, on
    which the data check measures ρ*'s scatter (``theory.uncertainty.left_out_sd``)."""
    return tuple([b for j, part in enumerate(parts) if j != i for b in part] for i in range(len(parts)))


def resolve_hessian_samples(requested: int | str | None, total: int, classes: int = 0) -> int:
    """Samples for curvature: ``None``/``"auto"`` → ``AUTO_HESSIAN_SAMPLES`` (or
    ``DATA_PARTS`` a class of ``classes``, if more) where that is at most 1/``DATA_PARTS`` of
    ``total``, else all; ``"all"`` → all; an int → at most that many."""
    if requested in (None, "auto"):
        # DATA_PARTS a class keep every class in every part (``curvature_subsample``): the
        # default must not be a count it then refuses
        subset = max(AUTO_HESSIAN_SAMPLES, DATA_PARTS * classes)
        # The data check costs DATA_PARTS − 1 probes' steps over the subset (the subset less
        # each part), so one probe's run over a subset of n costs DATA_PARTS·n sample passes a
        # step against all the data's N: no dearer only from n ≤ N/DATA_PARTS (at half the data,
        # the rule of the parts' own check, it cost 2 passes against 1), and its ± is never complete
        return subset if DATA_PARTS * subset <= total else total
    if requested == "all":
        return total
    return min(total, int(requested))


def curvature_subsample(batches: Batches, requested: int | str | None, seed: int = 0,
                        by_class: bool = True) -> Subsample:
    """The ``requested`` samples of the analysis data (``resolve_hessian_samples``), seeded
    and, when ``by_class`` and the targets are integer labels, class-balanced; re-batched at
    the size of the first batch, in data order; the full data (no parts) when they cover it."""
    total = total_samples(batches)
    samples = subset_size(batches, requested, by_class)
    if samples >= total:
        return Subsample(list(batches), (), total, total)
    size = batch_size(batches[0])
    strata = _strata(batches, by_class)
    sizes = [] if strata is None else torch.unique(strata, return_counts=True)[1].tolist()
    classes = len(sizes)
    # fewer leaves a class out of a part: its curvature would not be the data's (a class of
    # fewer than DATA_PARTS samples gives all it has)
    least = sum(min(n, DATA_PARTS) for n in sizes)
    if samples < least:
        counted = "one class" if classes == 1 else f"{classes} classes"
        rare = "" if least == DATA_PARTS * classes else ", or all of a smaller class"
        kind = "float targets of two values and rows of class probabilities count as classes" \
            if batches[0][1].is_floating_point() else \
            "integer targets count as classes: store regression targets as floats"
        raise OptionError("hessian_samples", f"{{0}} {samples} is too few for {counted}: use at least "
                                             f"{least} ({DATA_PARTS} a class{rare}), or all ({kind})")
    if samples < DATA_PARTS:  # the data part of the ± needs DATA_PARTS non-empty parts
        raise OptionError("hessian_samples", f"{{0}} {samples} is too few to split into {DATA_PARTS} parts: "
                                             f"use at least {DATA_PARTS}, or all")
    parts = _stratified_parts(strata, total, samples, DATA_PARTS, np.random.default_rng(seed))
    chosen = np.sort(np.concatenate(parts))
    return Subsample(_rebatched(batches, chosen, size), tuple(_rebatched(batches, np.sort(p), size) for p in parts),
                     len(chosen), total)


def subset_size(batches: Batches, requested: int | str | None, by_class: bool = True) -> int:
    """The samples ``curvature_subsample`` takes of ``batches`` (all of them, or the subset's
    size), without gathering them: ``auto`` takes all where four a class of the data's
    classes is over a quarter of it, which a count of the samples alone does not show."""
    total = total_samples(batches)
    if resolve_hessian_samples(requested, total) >= total:  # before joining the labels: more classes only add
        return total
    return resolve_hessian_samples(requested, total, class_count(batches, by_class))


def class_count(batches: Batches, by_class: bool = True) -> int:
    """The classes the subset is drawn by (``_strata``); 0 where it is drawn without strata."""
    strata = _strata(batches, by_class)
    return 0 if strata is None else len(torch.unique(strata))


def drawn_subset(requested: int | str | None, total: int, classes: int = 0) -> int | str:
    """The curvature subset ``requested`` draws of ``total`` samples of ``classes`` classes, as
    cache keys and baseline comparisons name it: its size, or ``"all"`` when it is the whole
    data. Spellings that draw the same subset (``auto`` and the count it resolves to; ``all``,
    a count of at least the data's and an ``auto`` that takes all) name it alike: with the
    seed and the strata rule (by class, or not: the loss decides), the size fixes the subset."""
    samples = resolve_hessian_samples(requested, total, classes)
    return "all" if samples >= total else samples


def _strata(batches: Batches, by_class: bool) -> torch.Tensor | None:
    """Each sample's class (``_classes`` of the targets of ``batches`` joined), where the
    subset is drawn by class; ``None`` where it is drawn without strata."""
    if not by_class or len(batches[0]) < 2:
        return None
    if len({b[1].shape[1:] for b in batches}) > 1:
        return None  # per-token targets of each batch's own length, which cannot be joined: no classes
    # only the targets are joined: a copy of the inputs would double the data set in memory
    return _classes(torch.cat([b[1] for b in batches]))


def _classes(targets: torch.Tensor) -> torch.Tensor | None:
    """The classes ``targets`` name: integer labels; float labels of at most two values (BCE's
    0/1, a margin loss's ±1), also as one column; one-hot or soft-label rows (class
    probabilities, as cross-entropy takes them) by their largest entry. ``None`` for values
    of more kinds, multi-label rows and per-pixel or per-token targets."""
    # BCE takes float labels and soft cross-entropy float rows: drawn without strata, the
    # rare class of a 3 %-positive set was missing from 3 of the 4 parts of a 40-sample subset
    if targets.dim() == 2 and targets.shape[1] == 1:  # a column of labels, beside a [N, 1] output
        targets = targets[:, 0]
    if targets.dim() == 1:
        return targets if not targets.is_floating_point() or len(torch.unique(targets)) <= 2 else None
    if targets.dim() == 2 and _probability_rows(targets):
        return targets.argmax(1)
    return None


def _probability_rows(rows: torch.Tensor) -> bool:
    """Whether every row is a distribution over classes: non-negative, summing to 1 (to the
    rounding of the type it was stored in, ``ROW_SUM_ROUNDING``). A block of rows at a time:
    soft labels of ImageNet's size are 5 GB, a mask or float64 copy of them as much again."""
    block = max(1, FINITE_CHUNK // rows.shape[1])
    return all(bool((part >= 0).all())
               and bool(((part.sum(1, dtype=torch.float64) - 1).abs() <= ROW_SUM_ROUNDING).all())
               for part in rows.split(block))


def _stratified_parts(strata, total: int, samples: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of ``k`` disjoint parts that together hold ``samples``, each class in
    proportion and, where it has ``k`` samples in the subset, in every part."""
    groups = [np.arange(total)] if strata is None else [
        np.flatnonzero(strata.cpu().numpy() == c) for c in np.unique(strata.cpu().numpy())
    ]
    # Largest-remainder apportionment: every class gets its share, the total is exact ...
    sizes = np.array([len(g) for g in groups])
    shares = sizes * samples / total
    counts = np.floor(shares).astype(int)
    counts[np.argsort(counts - shares)[: samples - counts.sum()]] += 1
    # ... and at least k samples (all it has, if fewer), so every part holds it: a rare
    # class's share rounds below k and would leave its curvature out of a part, or of the
    # subset. They come from the classes most above their share, while any is above k.
    least = np.minimum(sizes, k)
    while np.any(counts < least) and np.any(counts > least):
        donor = int(np.argmax(np.where(counts > least, counts - shares, -np.inf)))
        counts[donor] -= 1
        counts[int(np.argmax(counts < least))] += 1
    # Each class is dealt round the parts, the next class going on where it stopped, so that
    # part sizes differ by ≤ 1 whatever the class counts.
    picked = np.concatenate([rng.permutation(group)[:count] for group, count in zip(groups, counts)])
    return [picked[i::k] for i in range(k)]


def _rebatched(batches: Batches, index: np.ndarray, size: int) -> list[Batch]:
    """The samples at the sorted global ``index`` of ``batches``, in batches of ``size``:
    gathered from each batch in turn, so only the chosen samples are copied. Samples are
    joined within each run of consecutive batches of one form (``batch_form``): batches of
    their own lengths (padded per batch) cannot be joined, and joining them raised torch's
    "Sizes of tensors must match" under the default subset (on 32,768 samples or more)."""
    starts = np.cumsum([0] + [batch_size(b) for b in batches])
    owner = np.searchsorted(starts, index, side="right") - 1
    groups = [(j, index[owner == j] - starts[j]) for j in np.unique(owner)]
    rebatched: list[Batch] = []
    for _, run in itertools.groupby(groups, key=lambda group: batch_form(batches[group[0]])):
        chosen = list(run)
        columns = [torch.cat([batches[j][i][torch.as_tensor(rows, device=batches[j][i].device)] for j, rows in chosen])
                   for i in range(len(batches[0]))]
        rebatched += [tuple(c[i : i + size] for c in columns) for i in range(0, len(columns[0]), size)]
    return rebatched
