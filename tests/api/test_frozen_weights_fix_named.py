"""The warning of frozen prunable weights (a LoRA-style adapter on a frozen linear, a frozen
backbone) names the modules to leave out as the reader writes them: a library call read
``exclude= their modules, or make them trainable in the model``, an argument without its
value. Following it leaves the frozen weights out of N, and the warning goes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.models.params import ParamSelection


class Adapted(nn.Module):
    """A frozen linear with a trainable low-rank adapter beside it (LoRA's form)."""

    def __init__(self, base: nn.Linear, rank: int = 2) -> None:
        super().__init__()
        self.base = base.requires_grad_(False)
        self.down = nn.Linear(base.in_features, rank, bias=False)
        self.up = nn.Linear(rank, base.out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.up(self.down(x))


@pytest.fixture
def adapted(train):
    torch.manual_seed(0)
    model = nn.Sequential(Adapted(nn.Linear(64, 8)), nn.ReLU(), Adapted(nn.Linear(8, 10)))
    return model, train


def _frozen(warnings: list[str]) -> list[str]:
    return [w for w in warnings if "frozen (requires_grad=False)" in w]


def test_the_frozen_warning_names_the_modules_to_exclude_and_following_it_clears_it(adapted):
    model, data = adapted
    result = prunelimit.bounds(model, data, method="exact")
    assert _frozen(result.warnings) == [
        "592 prunable weights (0.base.weight, 2.base.weight) are frozen (requires_grad=False) and outside the "
        "Hessian, so ρ* counts no curvature for pruning them; exclude=('0.base', '2.base') leaves them out, or make "
        "them trainable in the model"]
    followed = prunelimit.bounds(model, data, method="exact", exclude=("0.base", "2.base"))
    assert _frozen(followed.warnings) == []
    assert followed.params_prunable == result.params_prunable - 592 == 64 * 2 + 2 * 8 + 8 * 2 + 2 * 10


def test_library_md_quotes_the_warning_of_a_frozen_first_layer(train):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    model[0].requires_grad_(False)
    result = prunelimit.bounds(model, train, method="exact")
    page = " ".join((Path(__file__).resolve().parents[2] / "docs" / "library.md").read_text(encoding="utf-8").split())
    assert result.spectrum.params_hessian == 10 * 12 + 10 and "first layer frozen: `D = 130`" in page
    assert _frozen(result.warnings)[0] in page


def test_the_command_lines_words_name_the_flag_with_its_value():
    from prunelimit.api.limit import outside_hessian_warnings

    weight = torch.zeros(8, 64)
    assert outside_hessian_warnings(["backbone.0.weight"], [weight], {}, ParamSelection())[0].endswith(
        "--exclude 'backbone.0' leaves them out, or make them trainable in the model")


def test_the_set_it_names_keeps_the_exclude_given(adapted):
    """A fix naming the frozen modules alone, followed, would have dropped the exclude given
    and pruned that module again."""
    model, data = adapted
    result = prunelimit.bounds(model, data, method="exact", exclude=("0.up",))
    assert _frozen(result.warnings)[0].endswith(
        "exclude=('0.up', '0.base', '2.base') leaves them out, or make them trainable in the model")
