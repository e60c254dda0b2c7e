"""A model whose matrices are held under other names than ``weight…`` (a hand-written
``self.W1 = nn.Parameter(...)``, as notebooks write an MLP) has nothing prunelimit counts:
it was told to "widen it with include/exclude", and ``include=('',)``, the one pattern that
names the model itself, was then refused ("modules with one are e.g. none"), a dead end.
Both now name the matrices and what counts them: a ``weight…`` name with that include, or
``nn.Linear`` layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import OptionError, UsageError
from prunelimit.models.params import required_prunable


class Raw(nn.Module):
    """A two-layer MLP of raw parameters, under the names ``names`` gives its matrices."""

    def __init__(self, first: str = "W1", second: str = "W2") -> None:
        super().__init__()
        self.names = first, second
        self.register_parameter(first, nn.Parameter(torch.randn(16, 8)))
        self.bias = nn.Parameter(torch.zeros(8))
        self.register_parameter(second, nn.Parameter(torch.randn(8, 4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = (getattr(self, name) for name in self.names)
        return torch.relu(x @ first + self.bias) @ second


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.randn(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W


HINT = ("'W1', 'W2' are matrices held under another name than weight…, which prunelimit does not count: name them "
        "weight… (weight_W1) and {} counts them, or hold them in nn.Linear layers")


def test_no_prunable_weights_names_the_matrices_and_what_counts_them():
    with pytest.raises(UsageError) as error:
        prunelimit.prune(Raw(), 0.5)
    assert HINT.format("include=('',)") in str(error.value)
    with pytest.raises(UsageError) as error:
        required_prunable(Raw())  # the command line's words
    assert HINT.format("--include ''") in str(error.value)
    docs = Path(__file__).resolve().parents[2] / "docs"
    assert HINT.format("--include ''") in " ".join((docs / "bad-input.md").read_text(encoding="utf-8").split())
    assert HINT.format("include=('',)") in " ".join((docs / "library.md").read_text(encoding="utf-8").split())


def test_the_include_of_the_model_itself_names_them_where_it_is_refused():
    with pytest.raises(OptionError) as error:
        prunelimit.prune(Raw(), 0.5, include=("",))
    assert str(error.value).endswith("and a module's weight matrices are what it adds; " + HINT.format("include=('',)"))


def test_a_submodules_matrix_is_named_with_its_module_and_following_the_advice_prunes_them():
    with pytest.raises(UsageError, match=r"'0\.W' is a matrix held under another name than weight…, which prunelimit "
                                         r"does not count: name it weight… \(weight_W\) and include=\('0',\) counts it"):
        prunelimit.prune(nn.Sequential(Block()), 0.5)
    torch.manual_seed(0)
    pruning = prunelimit.prune(Raw("weight_W1", "weight_W2"), 0.5, include=("",))
    assert sorted(pruning.masks) == ["weight_W1", "weight_W2"] and pruning.achieved == 0.5


def test_a_parametrizations_originals_are_not_named_as_such_matrices():
    model = nn.Sequential(nn.Linear(16, 4))
    nn.utils.parametrizations.weight_norm(model[0])
    with pytest.raises(UsageError) as error:
        prunelimit.prune(model, 0.5)
    assert "computed by a parametrization" in str(error.value) and "another name than weight" not in str(error.value)
