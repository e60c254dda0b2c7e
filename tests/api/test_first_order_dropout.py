"""The "not at a minimum" warning of a model with dropout layers: a dropout MLP trained to its plateau
on the digits (64-48-32-10, dropout 0.5, 1,500 SGD steps; ‖∇L‖ = 0.11 with dropout off) was told
"(train longer)", which leaves the gradient that dropout's train/eval mismatch causes. A model that
holds a dropout layer, eager or scripted, is now told so; the same function without one keeps
"train longer"."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import prunelimit
from prunelimit.api.limit import DROPOUT_GRADIENT, UNCONVERGED_GRADIENT
from prunelimit.data.spec import load_dataset


@pytest.fixture(scope="module")
def fitted() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """An 8-unit dropout MLP, 100 full-batch SGD steps on 256 digits: its first-order change
    (0.14) is three times ε (0.046), so the warning fires by a wide margin."""
    data = load_dataset("digits:train", max_samples=256)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        F.cross_entropy(model(data.x), data.y).backward()
        opt.step()
    return model.eval(), (data.x, data.y)


def _gradient_warning(model: nn.Module, data) -> str:
    (warning,) = [w for w in prunelimit.bounds(model, data).warnings if "not at a minimum" in w]
    return warning


def test_a_dropout_model_is_told_what_dropout_does(fitted) -> None:
    model, data = fitted
    for given in (model, torch.jit.script(model)):
        warning = _gradient_warning(given, data)
        assert warning.endswith(f"ignores that term ({DROPOUT_GRADIENT})")


def test_the_same_function_without_dropout_is_told_to_train_longer(fitted) -> None:
    model, data = fitted
    plain = nn.Sequential(model[0], model[1], nn.Identity(), model[3]).eval()  # dropout off: the same function
    assert _gradient_warning(plain, data).endswith(f"ignores that term ({UNCONVERGED_GRADIENT})")
