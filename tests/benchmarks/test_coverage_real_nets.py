"""The real-network coverage benchmark's models (docs/accuracy.md, "Coverage on real
networks"): each named architecture builds, reads the digits it is trained on and is
accepted by ``prunelimit.bounds`` with its loss; ``--models`` keeps an mlp spec's commas; a
run counts as focused where its trail carries one run on alone short of D steps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as Stage

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


@pytest.mark.parametrize("name", ["cnn", "cnn-bn", "cnn-gn", "mlp-ln", "mlp-gelu", "mlp-tanh", "attn", "mlp-mse",
                                  "cnn-bn-hidden", "mlp-ln-gelu", "mlp-halves", "mlp-memo", "gru", "attn-32"])
def test_each_architecture_is_small_and_bounded(bench, name):
    factory, kind, loss, _ = bench.ARCHITECTURES[name]
    torch.manual_seed(0)
    model = factory()
    # small enough that the exact float64 reference takes at most a minute or two on one thread
    assert sum(p.numel() for p in model.parameters()) <= 4_938
    x, y = (part[:64] for part in bench.digits_data(kind))
    assert model(x).shape == (y.shape if loss == "mse" else (64, 10))
    result = prunelimit.bounds(model, (x, y), loss=loss, batch_size=32, method="slq", runs=1, iterations=5, seed=0,
                               include=bench.INCLUDE.get(name, ()))
    assert 0.0 <= result.ratio <= 1.0


def test_the_grus_recurrent_weights_are_pruned_by_its_include(bench):
    """The default prunable set leaves a GRU's weight matrices out (a warning says so), so
    without ``INCLUDE`` N and ρ* would count the head alone."""
    torch.manual_seed(0)
    model = bench.ARCHITECTURES["gru"][0]()
    x, y = (part[:64] for part in bench.digits_data("flat"))
    assert prunelimit.info(model, (x, y)).params_prunable == 32 * 10  # the head's
    info = prunelimit.info(model, (x, y), include=bench.INCLUDE["gru"])
    assert info.params_prunable == 3 * 32 * (8 + 32) + 32 * 10  # the GRU's three gates' matrices and the head's


def test_the_memorising_family_has_random_labels(bench):
    x, y = bench.digits_data("random-labels")
    digits = load_dataset("digits:train")
    assert x.shape == (400, 64) and y.shape == (400,)
    # seeded: the same labels every call, and not the digits' own classes
    assert torch.equal(y, bench.digits_data("random-labels")[1])
    assert (y == digits.y[:400]).float().mean() < 0.2


def test_a_focus_is_one_run_short_of_d_after_several(bench):
    trail = [Stage(runs=3, steps=32), Stage(runs=3, steps=64), Stage(runs=1, steps=128)]
    assert bench.focused(trail, dim=1000)
    # carried to D steps it is an exhaustion, not a focus; a lone run from the start neither
    assert not bench.focused(trail[:2] + [Stage(runs=1, steps=1000)], dim=1000)
    assert not bench.focused([Stage(runs=1, steps=40)], dim=1000)
