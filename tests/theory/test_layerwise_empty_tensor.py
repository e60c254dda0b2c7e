"""A prunable tensor with no elements (``nn.Linear(0, k)``'s weight) has no weights to
remove: the layer-wise path is that of the other tensors (it divided by its size 0, and
``bounds``/``verify``/``prune --ratio auto`` with ``--scope layer`` stopped on an internal
ZeroDivisionError)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from prunelimit.cli import app
from prunelimit.theory.profile import LayerwiseProfile


def test_an_empty_tensor_leaves_the_layerwise_path_as_the_other_tensors_make_it():
    gen = torch.Generator().manual_seed(0)
    tensors = [torch.randn(6, 5, generator=gen), torch.randn(4, 3, generator=gen)]
    tensors[0][0, :3] = 0.0  # 3 of 30 zero, 2 of 12: the smaller share bounds the path
    tensors[1][0, :2] = 0.0
    alone = LayerwiseProfile.from_tensors(tensors)
    with_empty = LayerwiseProfile.from_tensors([tensors[0], torch.zeros(4, 0), tensors[1]])
    assert with_empty.zero_ratio == alone.zero_ratio == pytest.approx(3 / 30)
    for ratio in np.linspace(0, 1, 11):
        assert with_empty.radius_continuous(ratio) == pytest.approx(alone.radius_continuous(ratio), abs=1e-12)
    assert with_empty.keep_masks(0.5)[1].shape == (4, 0)


EMPTY = '''import torch.nn as nn


class WithEmpty(nn.Module):
    def __init__(self):
        super().__init__()
        self.empty = nn.Linear(0, 10)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x) + self.empty(x[:, :0])


def make():
    return WithEmpty()
'''


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_bounds_with_scope_layer_reads_a_model_with_an_empty_layer(tmp_path):
    from prunelimit.models.spec import build_model

    (tmp_path / "empty.py").write_text(EMPTY)
    spec = f"{tmp_path / 'empty.py'}:make"
    torch.manual_seed(0)
    torch.save(build_model(spec).state_dict(), tmp_path / "empty.pt")
    result = CliRunner().invoke(app, ["bounds", str(tmp_path / "empty.pt"), "--model", spec, "--data", "digits:train",
                                      "--max-samples", "256", "--scope", "layer", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    prediction = json.loads(result.stdout)["prediction"]
    assert prediction["scope"] == "layer" and 0.0 < prediction["ratio"] < 1.0
