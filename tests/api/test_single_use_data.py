"""Data that gives its batches once though it is no iterator: an ``IterableDataset`` (or a class)
whose ``__iter__`` returns the one iterator it holds, given directly or in a ``DataLoader``. Every
call reads the data twice; the second pass found nothing, and the call was refused as a shuffling
loader's ("gave different batches on a second pass (a shuffling or augmenting loader?) … use
DataLoader(..., shuffle=False)"), a fix the caller had made already. Now the message says the
source gives its batches once and how to give them (a list, or an ``__iter__`` that starts anew)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

import prunelimit
from prunelimit.errors import UsageError


class _Stream(IterableDataset):
    """Samples from one iterator, as a dataset streaming from a file handle or a queue."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.samples = iter(list(zip(x, y)))

    def __iter__(self):
        return self.samples


class _Holder:
    """Batches from one generator, behind an ``__iter__``: a re-iterable in form only."""

    def __init__(self, batches: list) -> None:
        self.batches = (b for b in batches)

    def __iter__(self):
        return self.batches


def _batches(train) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = train
    return [(x[i:i + 100], y[i:i + 100]) for i in range(0, len(y), 100)]


def _sources(train) -> dict:
    return {"loader": DataLoader(_Stream(*train), batch_size=100), "holder": _Holder(_batches(train))}


@pytest.mark.parametrize("kind", ["loader", "holder"])
@pytest.mark.parametrize("name", ["info", "bounds", "train"])
def test_a_source_that_gives_its_batches_once_is_refused_as_such(model, train, kind, name):
    data = _sources(train)[kind]
    with pytest.raises(UsageError) as caught:
        if name == "info":
            prunelimit.info(model, data)
        elif name == "bounds":
            prunelimit.bounds(model, data, method="exact")
        else:
            prunelimit.train(model, data, epochs=1)
    message = str(caught.value)
    assert message.startswith("data gave batches on a first pass and none on a later one: its __iter__"), message
    assert "shuffl" not in message
    assert "give a list of its batches, read from a fresh one (batches = list(...))" in message


def test_such_a_source_read_before_the_call_says_why_it_is_empty(model, train):
    loader = DataLoader(_Stream(*train), batch_size=100)
    assert len(list(loader)) == 3  # the caller's own loop over it
    with pytest.raises(UsageError, match=r"^data yielded no batches: if it gave batches before, its __iter__ "
                                         r"\(or its dataset's\) continues one iterator"):
        prunelimit.info(model, loader)


def test_its_batches_as_a_list_are_the_numbers_of_the_plain_list(model, train):
    """The fix the message gives: the same batches as a list give the plain list's result,
    exactly (the same batches in the same order, so the same arithmetic: no tolerance)."""
    given = prunelimit.bounds(model, list(DataLoader(_Stream(*train), batch_size=100)), method="exact")
    plain = prunelimit.bounds(model, _batches(train), method="exact")
    assert (given.ratio, given.epsilon, given.spectrum.lambda_max) == (plain.ratio, plain.epsilon,
                                                                       plain.spectrum.lambda_max)


def test_an_eval_data_source_is_named_as_eval_data(model, train):
    with pytest.raises(UsageError, match="^eval_data gave batches on a first pass and none on a later one"):
        prunelimit.verify(model, _batches(train), eval_data=_Holder(_batches(train)), method="exact")


@pytest.mark.parametrize("listed", [False, True])
def test_enumerated_batches_are_told_to_come_without_their_indices(model, train, listed):
    """``enumerate(loader)``, as a training loop iterates it: its (index, batch) pairs were
    read as x = the index, "x is of type int; make it a tensor, one row per sample"."""
    loader = DataLoader(_Stream(*train), batch_size=100)
    data = list(enumerate(loader)) if listed else enumerate(loader)
    with pytest.raises(UsageError, match=r"^data batch 0 is a tuple \(int, list\), not an \(x, y\) pair of tensors: it "
                                         r"is an \(index, batch\) pair, as enumerate\(\) gives them; give the batches "
                                         r"alone, the loader itself rather than enumerate\(loader\);"):
        prunelimit.info(model, data)
