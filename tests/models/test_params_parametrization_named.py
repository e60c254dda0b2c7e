"""The warning and errors for a layer whose weight a parametrization computes said
``(weight_norm, ...)`` of every one: an ``orthogonal`` or ``spectral_norm`` layer read as
weight-normed. They now name what computes it, as torch names it: the parametrization
function, a parametrization of the user's own by its class, or the older hooks."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

import prunelimit
from prunelimit.errors import OptionError, UsageError
from prunelimit.models.params import ParamSelection, check_selection, required_prunable


class Symmetric(nn.Module):
    def forward(self, weight):
        return weight.triu() + weight.triu(1).transpose(0, 1)


def _own(layer: nn.Linear) -> nn.Linear:
    parametrize.register_parametrization(layer, "weight", Symmetric())
    return layer


KINDS = [(parametrizations.weight_norm, "weight_norm"), (parametrizations.orthogonal, "orthogonal"),
         (parametrizations.spectral_norm, "spectral_norm"), (nn.utils.weight_norm, "the older weight_norm"),
         (nn.utils.spectral_norm, "the older spectral_norm"), (_own, "Symmetric")]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch's deprecation of the older weight_norm
@pytest.mark.parametrize(("norm", "kind"), KINDS)
def test_the_warning_and_errors_name_what_computes_the_weight(norm, kind):
    torch.manual_seed(0)
    model = nn.Sequential(norm(nn.Linear(6, 6)), nn.ReLU(), nn.Linear(6, 3))
    warned = [w for w in prunelimit.prune(model, 0.5).warnings if "parametrization" in w]
    assert len(warned) == 1 and f"computed by a parametrization ({kind}), not held" in warned[0], warned
    with pytest.raises(OptionError, match=rf"computed by a parametrization \({kind}\), not held"):
        check_selection(model, ParamSelection(include=("0",)))
    with pytest.raises(UsageError, match=rf"computed by a parametrization \({kind}\), not held"):
        required_prunable(model, ParamSelection(exclude=("2",)))


def test_layers_of_several_kinds_are_named_once_each():
    torch.manual_seed(0)
    model = nn.Sequential(parametrizations.orthogonal(nn.Linear(6, 6)), nn.ReLU(),
                          parametrizations.spectral_norm(nn.Linear(6, 6)), nn.ReLU(),
                          parametrizations.orthogonal(nn.Linear(6, 3)))
    with pytest.raises(UsageError, match=r"computed by a parametrization \(orthogonal, spectral_norm\), not held"):
        required_prunable(model)
