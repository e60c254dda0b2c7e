"""NumPy arrays as the data, in the forms a notebook holds them besides an ``(x, y)`` pair of
arrays (told the tensors to give already): one array, a list of array batches, a tensor beside
an array. One array was iterated, its rows read as batches ("data batch 0 is a ndarray, not an
(x, y) pair of tensors"), and an array in a pair or batch was told "make it a tensor, one row per
sample" with no code; each is now told the ``torch.from_numpy`` call, with ``.float()`` for real
inputs (NumPy's float64 against a float32 model) and without it for token ids."""

from __future__ import annotations

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError


def test_one_array_is_told_to_give_inputs_and_labels_as_tensors(model, train):
    x, _ = train
    with pytest.raises(UsageError, match=r"^data is one ndarray of shape \(300, 64\), not an \(x, y\) pair of tensors; "
                                         r"give the inputs and the labels apart, as tensors: "
                                         r"\(torch.from_numpy\(x\).float\(\), torch.from_numpy\(y\)\)$"):
        prunelimit.info(model, x.double().numpy())


@pytest.mark.parametrize("ids", [False, True])
def test_a_list_of_array_batches_is_told_the_batches_to_give(model, train, ids):
    x, y = train
    x = x.long().numpy() if ids else x.double().numpy()
    made = "torch.from_numpy(x)" if ids else "torch.from_numpy(x).float()"
    with pytest.raises(UsageError) as caught:
        prunelimit.info(model, [(x[:100], y[:100].numpy()), (x[100:], y[100:].numpy())])
    assert str(caught.value) == (
        "data batch 0 is a tuple (ndarray, ndarray), not an (x, y) pair of tensors: x is of type ndarray; make it a "
        f"tensor, {made}; give each batch as tensors, [({made}, torch.from_numpy(y)) for x, y in data]")


def test_labels_as_an_array_beside_a_tensor_are_told_the_call(model, train):
    x, y = train
    with pytest.raises(UsageError, match=r"^eval_data is a tuple \(Tensor of shape \(300, 64\), ndarray\), not an "
                                         r"\(x, y\) pair of tensors: y is of type ndarray; make it a tensor, "
                                         r"torch.from_numpy\(y\); give an \(x, y\) pair"):
        prunelimit.verify(model, (x, y), eval_data=(x, y.numpy()))


def test_the_batches_given_run(model, train):
    """The code the message gives, run on the arrays: the tensors' numbers, exactly (the same
    values in the same batches)."""
    x, y = train
    arrays = [(x[:100].double().numpy(), y[:100].numpy()), (x[100:].double().numpy(), y[100:].numpy())]
    given = prunelimit.info(model, [(torch.from_numpy(x).float(), torch.from_numpy(y)) for x, y in arrays])
    plain = prunelimit.info(model, [(x[:100], y[:100]), (x[100:], y[100:])])
    assert (given.loss, given.accuracy) == (plain.loss, plain.accuracy)
