"""Batches of a model whose forward takes several inputs, as a loader yields them: ``(x1, x2,
y)``, ``(ids, attention_mask, labels)``. Such a batch was refused with "it holds 3 items; give an
(x, y) pair of tensors, …" and no way to give it, where ``((x1, x2), y)`` was told how to join the
inputs; now it is told too, with code for its own form (a pair, or a loader's batches), and the
code given runs: the joined data and a module that splits them give the plain model's numbers.
The join's code for inputs of several shapes read ``t.flatten(1)``, which fails on a 1-D input (a
sequence's length); it reads ``t.reshape(len(t), -1)``."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import prunelimit
from prunelimit.errors import UsageError


class _TwoInputs(nn.Module):
    """The caller's model: its forward takes the two halves of each digit's pixels."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.cat([first, second], 1))


class _Joined(nn.Module):
    """The module the message asks for: its forward takes the joined x and calls the model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(*x.split([40, 24], 1))


def test_a_loaders_batches_of_two_inputs_and_labels_are_told_how_to_join_them(model, train):
    x, y = train
    loader = DataLoader(TensorDataset(x[:, :40], x[:, 40:], y), batch_size=100)
    with pytest.raises(UsageError) as caught:
        prunelimit.bounds(_TwoInputs(model), loader, method="exact")
    message = str(caught.value)
    assert message.startswith("data batch 0 is a list (Tensor of shape (100, 40), Tensor of shape (100, 24), Tensor of "
                              "shape (100,)), not an (x, y) pair of tensors: it holds 3 items; give an (x, y) pair"), message
    fix = "[(torch.cat([x1, x2], 1), y) for x1, x2, y in data]"
    assert (f"; where all but the last are the inputs of a model whose forward takes several, every call runs model(x) "
            f"on one tensor: join them, {fix}, and give a module whose forward takes that x and calls the model "
            f"(return model(*x.split([40, 24], 1)))") in message
    # the code given, run: the plain model's numbers on the same batches (the same arithmetic
    # on the same values, so equal to the last bit)
    given = prunelimit.bounds(_Joined(_TwoInputs(model)), eval(fix, {"torch": torch, "data": loader}), method="exact")
    plain = prunelimit.bounds(model, [(x[i:i + 100], y[i:i + 100]) for i in range(0, len(y), 100)], method="exact")
    assert (given.ratio, given.epsilon, given.spectrum.lambda_max) == (plain.ratio, plain.epsilon,
                                                                       plain.spectrum.lambda_max)


def test_a_pair_of_three_is_told_the_pair_to_give(model, train):
    x, y = train
    with pytest.raises(UsageError, match=r"tensor: join them, data=\(torch.cat\(\[x1, x2\], 1\), y\), and give a module "
                                         r"whose forward takes that x and calls the model \(return model\(\*x.split"
                                         r"\(\[40, 24\], 1\)\)\)$"):
        prunelimit.info(_TwoInputs(model), (x[:, :40], x[:, 40:], y))


def test_token_ids_and_a_float_mask_are_joined_as_rows_and_split_by_hand(model):
    """Inputs of two dtypes: ``torch.cat`` would make the ids floats, so no split by widths is
    offered; the join given runs on them (a 1-D length among them included)."""
    ids, mask = torch.randint(0, 50, (8, 6)), torch.ones(8, 6)
    lengths, labels = torch.full((8,), 6), torch.zeros(8, dtype=torch.long)
    with pytest.raises(UsageError) as caught:
        prunelimit.info(model, [(ids, mask, lengths, labels)])
    message = str(caught.value)
    fix = "[(torch.cat([t.reshape(len(t), -1) for t in b[:-1]], 1), b[-1]) for b in data]"
    assert f"join them, {fix}, and give a module whose forward takes that x and calls the model (split x and give " \
           "each part its shape and dtype back)" in message, message
    [(x, y)] = eval(fix, {"torch": torch, "data": [(ids, mask, lengths, labels)]})
    assert x.shape == (8, 13) and torch.equal(y, labels)


def test_an_x_of_several_inputs_with_a_1d_one_is_joined_by_code_that_runs(model):
    x1, lengths, labels = torch.zeros(8, 3, 4), torch.full((8,), 4), torch.zeros(8, dtype=torch.long)
    with pytest.raises(UsageError, match=r"join them, x = torch.cat\(\[t.reshape\(len\(t\), -1\) for t in inputs\], 1\)"):
        prunelimit.info(model, ((x1, lengths), labels))
    assert torch.cat([t.reshape(len(t), -1) for t in (x1, lengths)], 1).shape == (8, 13)


def test_three_tensors_of_other_sample_counts_get_no_join(model, train):
    """A join needs one sample count: a third item of another length is no input to join."""
    x, y = train
    with pytest.raises(UsageError) as caught:
        prunelimit.info(model, [(x, y, torch.zeros(3))])
    assert "join them" not in str(caught.value)
