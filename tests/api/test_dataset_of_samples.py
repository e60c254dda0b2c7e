"""A dataset of samples given as data: a map-style ``Dataset`` whose items are dicts
(``{"input": x, "label": y}``), or an object as Hugging Face's ``datasets.Dataset`` is (``len``,
``__getitem__`` and ``__iter__`` over its rows, no torch base class). The first was told to
'wrap it in DataLoader(…)', whose dict batches were then refused in turn; the second was read
row by row as batches and refused as 'data batch 0 is a dict', a sample read as a batch; one of
(x, label) pairs without a torch base class was told nothing ('got Rows'). Each is now told to
batch it, with the code that reads each batch's pair by the samples' keys, which gives the
tensor pair's numbers."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import prunelimit
from prunelimit.errors import UsageError


class DictSamples(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input": self.x[i], "label": self.y[i]}


class Rows:
    """As a ``datasets.Dataset`` in torch format: rows by index and by iteration."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, keyed: bool = True) -> None:
        self.x, self.y, self.keyed = x, y, keyed

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return {"input": self.x[i], "label": self.y[i]} if self.keyed else (self.x[i], self.y[i])

    def __iter__(self):
        return (self[i] for i in range(len(self)))


FIX = ("its items are samples of keys 'input', 'label': batch them and give each batch's (x, y) pair, e.g. "
       "[(b['input'], b['label']) for b in DataLoader(dataset, batch_size=128, shuffle=False)]")


@pytest.mark.parametrize("kind", [DictSamples, Rows])
def test_a_dataset_of_dict_samples_is_told_the_code_that_batches_it(small_model, train, kind):
    model, dataset = small_model, kind(*train)
    with pytest.raises(UsageError) as error:
        prunelimit.bounds(model, dataset, method="exact")
    assert str(error.value) == (f"data must be an (x, y) tensor pair or an iterable of (x, y) batches, got "
                                f"{kind.__name__}; {FIX}")
    followed = [(b["input"], b["label"]) for b in DataLoader(dataset, batch_size=128, shuffle=False)]
    # the same batches, in the same order: the same float arithmetic, to the last bit
    assert prunelimit.bounds(model, followed, method="exact").ratio == \
        prunelimit.bounds(model, train, method="exact").ratio


def test_rows_of_pairs_are_told_to_be_batched(model, train):
    with pytest.raises(UsageError, match=r"got Rows; wrap it in DataLoader\(dataset, batch_size=\.\.\., shuffle=False\)$"):
        prunelimit.info(model, Rows(*train, keyed=False))


def test_a_sequence_of_batches_is_still_read_as_batches(model, train):
    class Batches(Rows):
        def __getitem__(self, i: int):
            return self.x[64 * i:64 * (i + 1)], self.y[64 * i:64 * (i + 1)]

        def __len__(self) -> int:
            return 2

        def __iter__(self):
            return (self[i] for i in range(2))

    x, y = train
    assert prunelimit.info(model, Batches(x, y)).loss == pytest.approx(prunelimit.info(model, (x[:128], y[:128])).loss,
                                                                       rel=1e-6)  # one sum in another order


def test_an_iterable_dataset_class_of_batches_is_still_read_as_batches(model, train):
    class BatchDataset(Dataset):
        def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
            self.x, self.y = x, y

        def __len__(self) -> int:
            return 2

        def __getitem__(self, i: int):
            return self.x[64 * i:64 * (i + 1)], self.y[64 * i:64 * (i + 1)]

        def __iter__(self):
            return (self[i] for i in range(2))

    x, y = train
    assert prunelimit.info(model, BatchDataset(x, y)).loss == pytest.approx(
        prunelimit.info(model, (x[:128], y[:128])).loss, rel=1e-6)  # one sum in another order
