"""An endless iterator of batches, as a training loop keeps one (``itertools.cycle(loader)``,
``itertools.repeat(batch)``): every call reads all the data it is given, so it read forever,
holding each batch, until memory ran out. It is refused before any batch is read, with the
finite forms to give."""

from __future__ import annotations

import itertools

import pytest
from torch.utils.data import DataLoader, TensorDataset

import prunelimit
from prunelimit.errors import UsageError


@pytest.mark.parametrize("kind", ["cycle", "repeat"])
@pytest.mark.parametrize("option", ["data", "eval_data"])
def test_an_endless_iterator_is_refused_before_it_is_read(model, train, kind, option):
    loader = DataLoader(TensorDataset(*train), batch_size=100)
    endless = itertools.cycle(loader) if kind == "cycle" else itertools.repeat(train)
    first = next(iter(loader))
    with pytest.raises(UsageError) as caught:
        if option == "data":
            prunelimit.info(model, endless)
        else:
            prunelimit.verify(model, train, eval_data=endless, method="exact")
    assert str(caught.value) == (
        f"{option} is an endless iterator (itertools.{kind}), whose batches never end: every call reads all the data it "
        "is given; give one pass, the DataLoader or list it cycles (or list(itertools.islice("
        f"{option}, n)), its first n batches)")
    # nothing was read: the cycle gives its loader's first batch still
    if kind == "cycle":
        assert all(a.equal(b) for a, b in zip(next(endless), first))
