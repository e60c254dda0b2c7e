"""Training joins its data's batches to reshuffle and re-cut them every epoch: batches given in
hand of their own lengths (a loader padding each batch) are refused naming two of them and the
fix, before any work (``pruning.lomp.require_joinable``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import InputError

REFUSED = (r"^training reshuffles the samples of every batch of its data and cuts them into batch_size batches every "
           r"epoch, so they need one shape past the samples, but data batch 0 holds \(16, 5\) int64 and \(16,\) "
           r"int64, batch 1 \(16, 7\) int64 and \(16,\) int64: pad every batch to one length$")


class _MeanOfTokens(nn.Module):
    """Token ids of any length in, one row of class scores a sample out."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(x).mean(1))


def _padded_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randint(0, 20, (16, length), generator=generator), torch.randint(0, 3, (16,), generator=generator))
            for length in (5, 7, 5)]


def test_train_refuses_batches_of_their_own_lengths() -> None:
    """It raised torch's "Sizes of tensors must match" from joining them (seen failing before)."""
    torch.manual_seed(0)
    with pytest.raises(InputError, match=REFUSED):
        prunelimit.train(_MeanOfTokens(), _padded_batches(), epochs=1)


def test_verify_refuses_them_for_its_refit_before_the_spectrum() -> None:
    """The refit fine-tunes on the data joined: refused before the spectrum's work, which calls
    progress, not after it with torch's error (seen failing before)."""
    torch.manual_seed(0)
    called = []
    with pytest.raises(InputError, match=REFUSED):
        prunelimit.verify(_MeanOfTokens(), _padded_batches(), method="exact", refit=True, finetune_epochs=1,
                          progress=lambda done, total=None, text=None: called.append(done))
    assert called == []
