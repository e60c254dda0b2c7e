"""``--per-layer``'s progress count ends at its total: block Lanczos runs that break down
early (a layer whose block has few distinct eigenvalues) made fewer products than planned,
and the count stopped there (14/66 on a rank-2 input layer)."""

from __future__ import annotations

import torch

import prunelimit
from prunelimit.report.progress import Tally, advanced


def test_per_layer_blocks_that_break_down_end_the_count_at_its_total(fitted) -> None:
    torch.manual_seed(0)
    z = torch.randn(400, 2)
    x = z @ torch.randn(2, 80)  # rank-2 inputs: the layer's block has a handful of distinct eigenvalues
    y = (z[:, 0] > 0).long()
    model = fitted(torch.nn.Sequential(torch.nn.Linear(80, 2)), x, y, steps=50)
    calls: list[tuple] = []
    found = prunelimit.spectrum(model, (x, y), method="slq", iterations=20, runs=2, per_layer=True,
                                progress=lambda done, total=None, text=None: calls.append((done, total, text)))
    blocks = [(done, total) for done, total, text in calls if text == "per-layer curvature"]
    count = Tally()
    for done, total in blocks:
        count = advanced(count, done, total, absolute=True)
    assert found.layers.cost.method == "lanczos" and count.done < 66  # fewer products than the plan's 66
    assert (count.done, count.total) == (found.layers.cost.hvps, found.layers.cost.hvps)
