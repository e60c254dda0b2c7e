"""The real-network coverage benchmark's models (docs/accuracy.md, "Coverage on real
networks"): each named architecture builds, reads the digits it is trained on and is
accepted by ``prunelimit.bounds`` with its loss; ``--models`` keeps an mlp spec's commas."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import prunelimit
from prunelimit.data.spec import load_dataset
from tests.conftest import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with pytest.MonkeyPatch.context() as patch:  # it imports coverage_spectra beside it
        patch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
        yield benchmark_module("coverage_real_nets")


def test_models_keep_an_mlp_specs_commas(bench):
    assert bench.model_specs("mlp:64,4,10,cnn-bn,mlp:64,16,10,attn") == ["mlp:64,4,10", "cnn-bn", "mlp:64,16,10",
                                                                          "attn"]


@pytest.mark.parametrize("name", ["cnn", "cnn-bn", "cnn-gn", "mlp-ln", "mlp-gelu", "mlp-tanh", "attn", "mlp-mse"])
def test_each_architecture_is_small_and_bounded(bench, name):
    factory, image, loss = bench.ARCHITECTURES[name]
    torch.manual_seed(0)
    model = factory()
    # small enough that the exact float64 reference takes seconds
    assert sum(p.numel() for p in model.parameters()) <= 2_474
    data = load_dataset("digits:train:image=1" if image else "digits:train")
    x, y = data.x[:64], data.y[:64]
    if loss == "mse":
        y = torch.nn.functional.one_hot(y, 10).float()
    assert model(x).shape == (64, 10)
    result = prunelimit.bounds(model, (x, y), loss=loss, batch_size=32, method="slq", runs=1, iterations=5, seed=0)
    assert 0.0 <= result.ratio <= 1.0
