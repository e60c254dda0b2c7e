"""A function that makes the batches (a generator function, a ``make_loader``) given as the data
itself, as a notebook user passes it: it was refused as 'got function', naming no fix; now the
message says to give what it returns, and for a generator that it is read once."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError


@pytest.mark.parametrize("option", ["data", "eval_data"])
def test_a_generator_function_given_as_data_is_told_to_be_called(model, train, option):
    x, y = train

    def batches():
        for start in range(0, len(y), 100):
            yield x[start:start + 100], y[start:start + 100]

    given = {"data": batches} if option == "data" else {"data": train, "eval_data": batches}
    with pytest.raises(UsageError) as refused:
        prunelimit.verify(model, **given)
    assert str(refused.value) == (f"{option} is a function, not its batches; give what it returns: "
                                  f"{option}=batches() (read once; list(batches()) for several calls)")


def test_a_function_returning_a_loader_is_told_to_be_called(model, train):
    def make_loader():
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=100)

    with pytest.raises(UsageError, match=r"^data is a function, not its batches; give what it returns: "
                                         r"data=make_loader\(\)$"):
        prunelimit.bounds(model, make_loader)
    with pytest.raises(UsageError, match=r"give what it returns: data=f\(\)$"):  # a lambda has no name to call
        prunelimit.train(model, lambda: [train])
