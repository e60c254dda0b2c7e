"""A library call leaves the caller's session as it found it, whatever the session's state:
a call made under ``torch.no_grad()`` or ``torch.inference_mode()`` (a notebook's evaluation
cell) computes what it computes outside, torch's random state is unchanged after reading a
``DataLoader`` (whose iterator draws a seed from it), and an object that is not a module is
refused in the library's words, by every function that takes a model."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError

CALLS = {
    "info": lambda m, d: prunelimit.info(m, d).loss,
    "spectrum": lambda m, d: prunelimit.spectrum(m, d, method="exact").lambda_max,
    "bounds": lambda m, d: prunelimit.bounds(m, d, method="exact").ratio,
    "verify": lambda m, d: prunelimit.verify(m, d, method="exact").actual.loss_ratio,
    "gate": lambda m, d: prunelimit.gate(m, d, min_ratio=0.0, use="actual").bounds["actual"],
    "prune": lambda m, d: prunelimit.prune(m, "auto", d, method="exact").achieved,
    "nplh": lambda m, d: prunelimit.nplh(m, d, metric="gradient").alpha0,
    "train": lambda m, d: prunelimit.train(m, d, epochs=1).history[-1].train_loss,
    "hyperflux": lambda m, d: prunelimit.hyperflux(m, d, 0.5, pruning_epochs=3, regrowth_epochs=1,
                                                        gate_lr=0.05).density,
    "imp": lambda m, d: prunelimit.imp(m, d, levels=1, epochs_per_level=1, epochs_dense=0).rows[-1].error,
}
GRAD_MODES = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}


@pytest.mark.parametrize("mode", GRAD_MODES)
@pytest.mark.parametrize("name", CALLS)
def test_a_call_under_no_grad_computes_what_it_computes_outside(model, train, name, mode):
    """The Hessian products, the saliencies and the training need gradients: the call takes
    them whatever the caller's grad mode, which is its own again afterwards."""
    expected = CALLS[name](copy.deepcopy(model), train)
    given = copy.deepcopy(model)  # not under inference mode: its copy would be inference tensors
    with GRAD_MODES[mode]():
        found = CALLS[name](given, train)
        assert not torch.is_grad_enabled()
        assert torch.is_inference_mode_enabled() == (mode == "inference_mode")
    assert found == expected


@pytest.mark.parametrize("name", CALLS)
def test_a_call_under_autocast_computes_what_it_computes_outside(model, train, name):
    """A notebook's mixed-precision cell: autocast caches a bfloat16 copy of each weight for
    its region, so the pruned weights of a limit search went unread (``verify`` found every
    ratio free, 0.999) and the other numbers were bfloat16's. The call computes in the
    model's float type; the caller's autocast is on again afterwards."""
    expected = CALLS[name](copy.deepcopy(model), train)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        found = CALLS[name](copy.deepcopy(model), train)
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert found == expected


@pytest.mark.parametrize("name", CALLS)
def test_reading_a_loader_leaves_torchs_random_state_as_it_was(model, train, name):
    """A ``DataLoader`` iterator draws its base seed from torch's generator, and the data are
    read twice (the check that they do not change): the caller's next ``torch.rand`` is the
    one it would have drawn without the call."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*train), batch_size=64)
    state = torch.get_rng_state()
    CALLS[name](copy.deepcopy(model), loader)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("name", CALLS)
def test_a_model_that_is_not_a_module_is_refused_naming_it(train, name):
    with pytest.raises(UsageError, match=r"^model must be a torch\.nn\.Module, got function$"):
        CALLS[name](lambda x: x, train)


def test_a_state_dict_is_refused_as_a_model_with_the_fix(train):
    """What a notebook holds after ``torch.load`` of a checkpoint is a state dict, not a module."""
    state = {"0.weight": torch.zeros(3, 64)}
    with pytest.raises(UsageError, match=r"got dict; build the module and load_state_dict"):
        prunelimit.bounds(state, train)


def test_the_grad_mode_is_given_back_when_the_call_fails(model):
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.no_grad())
        with pytest.raises(UsageError):
            prunelimit.bounds(model, [])
        assert not torch.is_grad_enabled()


@pytest.mark.parametrize("name", ["bounds", "train"])
@pytest.mark.parametrize("form", ["pair", "loader"])
def test_data_made_under_inference_mode_is_read_as_any_data(model, train, name, form):
    """Features computed under ``torch.inference_mode()`` (a frozen backbone's) are inference
    tensors, which autograd refuses to save: they are read as the same values in plain tensors."""
    with torch.inference_mode():
        made = (train[0].clone(), train[1].clone())
    def given(data):
        return data if form == "pair" else torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*data),
                                                                       batch_size=64)
    assert CALLS[name](copy.deepcopy(model), given(made)) == CALLS[name](copy.deepcopy(model), given(train))
    assert made[0].is_inference()  # the caller's tensors are left as they are


@pytest.mark.parametrize("form", ["pair", "loader"])
@pytest.mark.parametrize("name", ["bounds", "train", "hyperflux", "imp"])
def test_data_computed_with_gradients_on_is_read_as_constants(model, train, name, form):
    """Features a backbone computed with gradients on carry its graph: the runs that call
    backward (training, iterative NPLH) went through it into the backbone, which got
    gradients, and failed on the second step (backward through a freed graph). A leaf ``x``
    with ``requires_grad`` got an ``x.grad``. The caller's data are read as constants."""
    torch.manual_seed(1)
    backbone = torch.nn.Linear(64, 64)
    with torch.no_grad():  # near the identity: the features stay digits the model can read
        backbone.weight.copy_(torch.eye(64) + 0.01 * backbone.weight)
        backbone.bias.zero_()
    features, leaf = backbone(train[0]), train[0].clone().requires_grad_(True)
    def given(x):
        pair = (x, train[1])
        return pair if form == "pair" else torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*pair),
                                                                       batch_size=64)
    expected = CALLS[name](copy.deepcopy(model), given(features.detach()))
    assert CALLS[name](copy.deepcopy(model), given(features)) == expected
    assert backbone.weight.grad is None
    CALLS[name](copy.deepcopy(model), given(leaf))
    assert leaf.grad is None and leaf.requires_grad


def test_a_results_repr_shows_its_numbers_not_the_quadrature_arrays(model, train):
    """A notebook prints a result by its repr: the quadrature's node and weight arrays (per
    probe, and again for the half-sample and the truncation bounds) are the bulk of it and
    say nothing read at a glance; they stay attributes (``result.spectrum.quadrature``)."""
    from prunelimit.report.rounding import percent

    result = prunelimit.bounds(model, train, method="slq", max_hvps=120)
    text = repr(result)
    assert "nodes=array" not in text and "weights=array" not in text
    assert f"ρ_L = {percent(result.lower)}" in text and f"D = {result.spectrum.params_hessian:,}" in text
    assert len(text) < 8000
    assert result.spectrum.quadrature.nodes.size and result.spectrum.half is not None


@pytest.mark.parametrize("name", CALLS)
def test_a_model_made_under_inference_mode_is_refused_with_the_fix(model, train, name):
    """Its parameters are inference tensors, which autograd cannot use (and a training step
    cannot update): refused before any work, saying how to make it usable."""
    with torch.inference_mode():
        made = copy.deepcopy(model)
    with pytest.raises(UsageError, match=r"^model: its parameters were made under torch\.inference_mode\(\)"):
        CALLS[name](made, train)


@pytest.mark.parametrize("name", ["train", "hyperflux"])
def test_calls_from_several_threads_give_what_they_give_one_after_another(train, name):
    """A ``ThreadPoolExecutor`` running calls on several models: the runs seed torch's one
    global generator and dropout draws from it, so concurrent training mixed the runs'
    draws (other numbers each time). Calls run one at a time: each gives what it gives
    alone, and the caller's random state and thread count are as they were."""
    from concurrent.futures import ThreadPoolExecutor

    torch.manual_seed(1)
    models = [torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                  torch.nn.Linear(32, 10)) for _ in range(4)]
    expected = [CALLS[name](copy.deepcopy(m), train) for m in models]
    threads, state = torch.get_num_threads(), torch.get_rng_state()
    with ThreadPoolExecutor(len(models)) as pool:
        found = list(pool.map(lambda m: CALLS[name](copy.deepcopy(m), train), models))
    assert found == expected
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)
