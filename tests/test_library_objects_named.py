"""What a notebook user gives where an object belongs, refused naming the fix: no data to
``train``, ``hyperflux`` or ``imp`` (``train`` named the command line's ``--data`` and
``--max-samples``, ``hyperflux`` and ``imp`` raised Python's ``TypeError: 'NoneType' object is
not iterable``), the inputs alone as the data ("got Tensor"), and a checkpoint's file name as
the model ("model must be a torch.nn.Module, got str")."""

from __future__ import annotations

import pathlib

import pytest
import torch

import prunelimit
from prunelimit.errors import UsageError

NO_DATA = "^no training data for the model: pass data \\(an \\(x, y\\) tensor pair or a DataLoader\\)$"


@pytest.mark.parametrize("call", [
    lambda m: prunelimit.train(m, None, epochs=1),
    lambda m: prunelimit.hyperflux(m, None, 0.5),
    lambda m: prunelimit.imp(m, None, levels=1),
])
def test_training_without_data_names_the_data(model, call):
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    with pytest.raises(UsageError, match=NO_DATA):
        call(model)
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())  # nothing trained


@pytest.mark.parametrize("call", [
    lambda m, x: prunelimit.bounds(m, x), lambda m, x: prunelimit.info(m, x),
    lambda m, x: prunelimit.train(m, x, epochs=1), lambda m, x: prunelimit.verify(m, x, eval_data=x),
])
def test_the_inputs_alone_as_data_name_the_pair(model, train, call):
    x, _ = train
    with pytest.raises(UsageError, match=r"^data is one Tensor of shape \(300, 64\), not an \(x, y\) pair of tensors; "
                                         r"give the labels \(targets\) beside the inputs, data=\(x, y\)$"):
        call(model, x)


def test_the_inputs_alone_as_eval_data_name_eval_data(model, train):
    with pytest.raises(UsageError, match=r"^eval_data is one Tensor of shape \(300, 64\), .* eval_data=\(x, y\)$"):
        prunelimit.train(model, train, eval_data=train[0], epochs=1)


@pytest.mark.parametrize("path", ["model.pt", pathlib.Path("model.pt")])
@pytest.mark.parametrize("call", [
    lambda m, d: prunelimit.bounds(m, d), lambda m, d: prunelimit.info(m), lambda m, d: prunelimit.prune(m, 0.5),
    lambda m, d: prunelimit.train(m, d, epochs=1), lambda m, d: prunelimit.export(m, "out.safetensors"),
])
def test_a_file_name_as_the_model_says_how_to_load_it(train, path, call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as refused:
        call(path, train)
    message = str(refused.value)
    assert message.startswith("model must be a torch.nn.Module") and "(the file name 'model.pt')" in message
    assert "model.load_state_dict(torch.load('model.pt', weights_only=True))" in message, message
    assert not (tmp_path / "out.safetensors").exists()


def test_a_state_dict_given_to_apply_says_how_to_prune_it(model):
    """It said "apply takes a torch.nn.Module, got OrderedDict", naming no fix; the fix it names works."""
    pruning = prunelimit.prune(model, 0.5)
    state = model.state_dict()
    with pytest.raises(UsageError, match=r"^apply takes a torch.nn.Module, got OrderedDict; build the module, "
                                         r"load_state_dict\(\.\.\.\) into it .* for name, mask in pruning.masks.items\(\): "
                                         r"state\[name\]\.mul_\(mask\.to\(state\[name\]\.device\)\)$"):
        pruning.apply(state)
    for name, mask in pruning.masks.items():
        state[name].mul_(mask.to(state[name].device))
    assert all(torch.equal(state[name] != 0, mask & (state[name] != 0)) for name, mask in pruning.masks.items())
    assert sum(int((~mask).sum()) for mask in pruning.masks.values()) > 0


@pytest.mark.parametrize("given, fix", [
    (lambda x, y: (list(x), list(y)), "data=(torch.stack(xs), torch.tensor(ys))"),
    (lambda x, y: (list(x), y), "data=(torch.stack(xs), y)"),
    (lambda x, y: (x.tolist(), y.tolist()), "data=(torch.tensor(xs), torch.tensor(ys))"),
])
def test_lists_of_samples_as_data_say_to_stack_them(model, train, given, fix):
    """They were read as batches ("data batch 0 is a list …: it holds 300 items") or as the inputs
    of a model whose forward takes several ("x is a list of 300 tensors")."""
    with pytest.raises(UsageError) as refused:
        prunelimit.info(model, given(*train))
    assert str(refused.value) == ("data is an (x, y) pair of a list of 300 samples and 300 labels, not of tensors; "
                                  f"stack the samples into tensors, one row per sample: {fix}, or give a DataLoader "
                                  "of a Dataset of them")
