"""Resuming ``imp`` after its ``imp.csv`` went through a spreadsheet: a UTF-8 byte-order mark
and Windows line ends are the same rows."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunelimit.data.batches import cross_entropy_loss
from prunelimit.laws.imp import iterative_magnitude_pruning


def _sweep(out, levels: int):
    """Two levels of IMP of a 6-8-3 MLP on 128 points of a random labelling (seeded)."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 6, generator=gen), torch.randint(0, 3, (128,), generator=gen)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    return iterative_magnitude_pruning(model, batches, batches[:1], cross_entropy_loss, rate=0.5, levels=levels,
                                       epochs_per_level=1, lr=0.1, seed=1, out_dir=out)


@pytest.mark.parametrize("edit", [lambda b: b"\xef\xbb\xbf" + b, lambda b: b.replace(b"\n", b"\r\n"),
                                  lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"), lambda b: b + b"\n"],
                         ids=["bom", "crlf", "bom-crlf", "blank-line"])
def test_a_spreadsheet_saved_progress_file_resumes_as_written(tmp_path, edit):
    """A BOM (Excel's "CSV UTF-8") made the header read '\\ufefflevel,...', and the sweep was
    refused as "unreadable IMP progress (not the header level,density,...)", and so was a blank
    line an editor left at the end (an empty row); it now resumes and gives the rows of an
    uninterrupted sweep, bit for bit."""
    full = _sweep(tmp_path / "full", 2)
    _sweep(tmp_path / "part", 1)
    csv_path = tmp_path / "part" / "imp.csv"
    csv_path.write_bytes(edit(csv_path.read_bytes()))
    resumed = _sweep(tmp_path / "part", 2)
    assert resumed.resumed_after == 1 and resumed.rows == full.rows
    assert csv_path.read_bytes() == (tmp_path / "full" / "imp.csv").read_bytes()  # rewritten as the sweep writes it
