"""A fixed, seeded, class-balanced subset of the analysis data for curvature.

Hessian-vector products over a subset cost a fraction of full-data ones. The subset is
stratified by class (each class keeps its share of the data, up to rounding, and at least
two samples, so that a rare class is in both halves) so the subsampled Hessian averages
the same mixture of classes, and split into two halves of the
same kind, on which ``prunelimit.theory.uncertainty`` measures what the subsampling does
to ρ*. Batches that are not ``(x, integer labels)`` pairs, and targets that are values
rather than classes (``by_class=False``: integer regression targets), are drawn without strata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from prunelimit.data.batches import Batch, Batches, batch_size, total_samples
from prunelimit.errors import OptionError

# Above this many analysis samples curvature uses a subset of this size by default
# (``--hessian-samples auto``); below it the full data costs little more.
AUTO_HESSIAN_SAMPLES = 8192


@dataclass(frozen=True)
class Subsample:
    """The curvature data: ``batches`` (the subset, or the full data when ``used ==
    total``) and its two halves ``half_a``/``half_b`` (empty on the full data)."""

    batches: list[Batch]
    half_a: list[Batch]
    half_b: list[Batch]
    used: int
    total: int

    @property
    def subsampled(self) -> bool:
        return self.used < self.total


def resolve_hessian_samples(requested: int | str | None, total: int, classes: int = 0) -> int:
    """Samples for curvature: ``None``/``"auto"`` → all up to ``AUTO_HESSIAN_SAMPLES`` (or
    two a class of ``classes``, if more), else that many; ``"all"`` → all; an int → at most
    that many."""
    if requested in (None, "auto"):
        # two a class keep every class in both halves (``curvature_subsample``): the default
        # must not be a count it then refuses
        return min(total, max(AUTO_HESSIAN_SAMPLES, 2 * classes))
    if requested == "all":
        return total
    return min(total, int(requested))


def curvature_subsample(batches: Batches, requested: int | str | None, seed: int = 0,
                        by_class: bool = True) -> Subsample:
    """The ``requested`` samples of the analysis data (``resolve_hessian_samples``), seeded
    and, when ``by_class`` and the targets are integer labels, class-balanced; re-batched at
    the size of the first batch, in data order; the full data (no halves) when they cover it."""
    total = total_samples(batches)
    if resolve_hessian_samples(requested, total) >= total:  # before copying the data: more classes only add
        return Subsample(list(batches), [], [], total, total)
    size = batch_size(batches[0])
    columns = [torch.cat([b[i] for b in batches]) for i in range(len(batches[0]))]
    labels = columns[1] if by_class and len(columns) > 1 else None
    strata = labels if labels is not None and labels.dim() == 1 and not labels.is_floating_point() else None
    classes = 0 if strata is None else len(torch.unique(strata))
    samples = resolve_hessian_samples(requested, total, classes)
    if samples >= total:
        return Subsample(list(batches), [], [], total, total)
    if samples < 2 * classes:  # fewer leaves a class out of a half: its curvature would not be the data's
        counted = "one class" if classes == 1 else f"{classes} classes"
        raise OptionError("hessian_samples", f"{{0}} {samples} is too few for {counted}: use at least "
                                             f"{2 * classes} (two a class), or all")
    half_a, half_b = _stratified_halves(strata, total, samples, np.random.default_rng(seed))
    if len(half_b) == 0:  # the split-half data uncertainty needs two non-empty halves
        raise OptionError("hessian_samples", f"{{0}} {samples} is too few to split into two halves: use at least 2, or all")
    chosen = np.sort(np.concatenate([half_a, half_b]))
    return Subsample(
        _rebatched(columns, chosen, size), _rebatched(columns, np.sort(half_a), size),
        _rebatched(columns, np.sort(half_b), size), len(chosen), total,
    )


def _stratified_halves(strata, total: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of two halves that together hold ``samples``, each class in proportion."""
    groups = [np.arange(total)] if strata is None else [
        np.flatnonzero(strata.cpu().numpy() == c) for c in np.unique(strata.cpu().numpy())
    ]
    # Largest-remainder apportionment: every class gets its share, the total is exact ...
    sizes = np.array([len(g) for g in groups])
    shares = sizes * samples / total
    counts = np.floor(shares).astype(int)
    counts[np.argsort(counts - shares)[: samples - counts.sum()]] += 1
    # ... and at least two samples (all it has, if fewer), so both halves hold it: a rare
    # class's share rounds to 0 or 1 and would leave its curvature out of a half, or of the
    # subset. They come from the classes most above their share, while any is above two.
    least = np.minimum(sizes, 2)
    while np.any(counts < least) and np.any(counts > least):
        donor = int(np.argmax(np.where(counts > least, counts - shares, -np.inf)))
        counts[donor] -= 1
        counts[int(np.argmax(counts < least))] += 1
    a, b = [], []
    odd_to_a = True  # classes of odd count give their extra sample to the halves in turn: sizes differ by ≤ 1
    for group, count in zip(groups, counts):
        picked = rng.permutation(group)[:count]
        cut = (count + odd_to_a) // 2
        odd_to_a ^= bool(count % 2)
        a.append(picked[:cut])
        b.append(picked[cut:])
    return np.concatenate(a), np.concatenate(b)


def _rebatched(columns: list[torch.Tensor], index: np.ndarray, size: int) -> list[Batch]:
    picked = [c[torch.as_tensor(index, device=c.device)] for c in columns]
    return [tuple(c[i : i + size] for c in picked) for i in range(0, len(index), size)]
