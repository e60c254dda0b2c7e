"""The caller's model comes back from the library in the form it was given, as a notebook
holds it: one that torch.nn.utils.prune holds (after ``Pruning.apply``) with its parameters
and buffers in their order, and the calls say of it what the command line says of its saved
file; one trained in place with its parameters' gradients as they were."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.nn.utils import prune as torch_prune

import prunelimit
from prunelimit.errors import InputError, UsageError
from prunelimit.inputs import load_inputs


def _mlp() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))


def test_a_model_pruned_in_two_tensors_of_a_module_keeps_their_order(train):
    """Refolding registered ``weight_orig``/``weight_mask`` anew, last, so a module with its
    weight and bias pruned came back with the two swapped: an optimiser's state_dict (kept
    by position) loaded into one built afterwards gave the bias the weight's momentum
    (here a shape error; silently wrong for tensors of one shape)."""
    model = _mlp()
    torch_prune.l1_unstructured(model[0], "weight", amount=0.5)
    torch_prune.l1_unstructured(model[0], "bias", amount=0.25)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.nn.functional.cross_entropy(model(train[0]), train[1]).backward()
    optimiser.step()
    saved = optimiser.state_dict()
    parameters, buffers = [n for n, _ in model.named_parameters()], [n for n, _ in model.named_buffers()]
    prunelimit.info(model, train)
    prunelimit.prune(model, 0.7)
    assert [n for n, _ in model.named_parameters()] == parameters
    assert [n for n, _ in model.named_buffers()] == buffers
    rebuilt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rebuilt.load_state_dict(saved)  # raised on the swapped shapes
    for p, momentum in zip(model.parameters(), (saved["state"][i]["momentum_buffer"] for i in range(4))):
        assert torch.equal(rebuilt.state[p]["momentum_buffer"], momentum)


def test_pruning_a_model_pruning_apply_pruned_warns_of_no_parametrized_layer():
    """The documented flow, ``prune(model, 0.5).apply(model)`` then ``prune(model, 0.7)``:
    the second call warned that the weights of layers '0' and '2' are computed by a
    parametrization and not counted as prunable, with remove_spectral_norm as the fix,
    though it ranked and pruned them (its warnings were read after torch's pruning was put
    back, its weights computed by the pre-hook again). ``prunelimit prune`` on the pruned
    file warns of nothing."""
    model = _mlp()
    prunelimit.prune(model, 0.5).apply(model)
    again = prunelimit.prune(model, 0.7)
    assert again.warnings == ()
    assert sorted(again.masks) == ["0.weight", "2.weight"] and abs(again.achieved - 0.7) < 1e-3


def test_export_of_a_module_saved_whole_keeps_the_set_pruning_apply_recorded(cli, tmp_path):
    """A module pruned by ``Pruning.apply`` with ``exclude=('2',)`` and saved whole keeps the
    record, which every command read with --trust-pickle but ``prunelimit export``: its file's
    meta was ``{}`` (the library's held the set), so the two files differed and the commands
    read the exported file with the default set."""
    model = _mlp()
    prunelimit.prune(model, 0.6, exclude=("2",)).apply(model)
    torch.save(model, tmp_path / "whole.pt")
    prunelimit.export(model, tmp_path / "lib.safetensors")
    result = cli("export", tmp_path / "whole.pt", "--trust-pickle", "-o", tmp_path / "cli.safetensors")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli.safetensors").read_bytes() == (tmp_path / "lib.safetensors").read_bytes()
    report = prunelimit.api.info(load_inputs(tmp_path / "cli.safetensors", model="mlp:64,16,10"))
    assert report.selection.exclude == ("2",) and report.params_prunable == 64 * 16  # layer 0 alone


def test_training_leaves_the_callers_gradients_as_they_were(train):
    """``train``, ``hyperflux`` and ``imp`` left every parameter the ``.grad`` of their last
    step (of their own objective: λ‖w‖₁, the gates' loss), where it was ``None``: a caller's
    loop that zeroes after stepping (``backward(); step(); zero_grad()``) added it to its next
    gradient. Now each parameter has its gradient back (``None``; or a caller's accumulated
    one, the same tensor with its values), as ``verify(refit=True)`` gives it back."""
    x, y = train
    runs = {"train": lambda m: prunelimit.train(m, train, epochs=1),
            "hyperflux": lambda m: prunelimit.hyperflux(m, train, 0.5, pruning_epochs=12, gate_lr=0.03,
                                                        regrowth_epochs=1),
            "imp": lambda m: prunelimit.imp(m, train, levels=1, rate=0.5, epochs_per_level=1)}
    for name, run in runs.items():
        model = _mlp()
        accumulated = torch.full_like(model[0].weight, 0.5)
        model[0].weight.grad = accumulated
        run(model)
        assert model[0].weight.grad is accumulated and bool((accumulated == 0.5).all()), name
        assert all(p.grad is None for n, p in model.named_parameters() if n != "0.weight"), name


def test_a_module_class_given_as_the_model_is_told_to_give_an_instance(train, tmp_path):
    """``bounds(Net, data)``, the parentheses left out, was refused as 'got type', naming
    neither the class nor the fix; so were ``Pruning.apply`` and ``export``."""
    pruning = prunelimit.prune(_mlp(), 0.5)
    calls = {"bounds": lambda: prunelimit.bounds(torch.nn.Sequential, train),
             "apply": lambda: pruning.apply(torch.nn.Sequential),
             "export": lambda: prunelimit.export(torch.nn.Sequential, tmp_path / "m.safetensors")}
    for name, call in calls.items():
        with pytest.raises(UsageError, match=r"got the class Sequential, not a module; give an instance, "
                                             r"Sequential\(\.\.\.\) with its weights"):
            call()
    assert not (tmp_path / "m.safetensors").exists()


def test_a_refit_of_a_fresh_model_does_not_tell_to_initialise_its_weights(train):
    """``verify(refit=True)`` fine-tunes its probe at 0.999, whose masks keep no prunable
    weight, and warned 'all 74 prunable weights are exactly zero at the start … initialise the
    model's weights before training' of a model initialised as torch builds it (``verify
    --refit`` too). The weights the masks prune are zero by design; a model whose kept weights
    are all zero is still told (``train`` on a zeroed model)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 1), torch.nn.ReLU(), torch.nn.Linear(1, 10))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = prunelimit.verify(model, train, refit=True, finetune_epochs=1, method="exact")
    assert 0.999 in [point.ratio for point in report.refit.points]  # the probe that keeps no weight ran
    assert not [w for w in caught if "exactly zero at the start" in str(w.message)]
    with torch.no_grad():
        for module in (model[0], model[2]):
            module.weight.zero_()
    with pytest.warns(UserWarning, match="all 74 prunable weights are exactly zero at the start"):
        prunelimit.train(model, train, epochs=1)


def test_a_module_compiled_within_the_model_is_named_where_hessian_products_fail(train):
    """A module compiled inside the model (not the whole model, which is read as the module
    it wraps) failed deep inside torch's autograd: 'torch.compile with aot_autograd does not
    currently support double backward'. The call now names the module and the fix (a module
    compiled with ``backend="eager"``, whose backward differentiates again, is not refused:
    the error is named where torch raises it)."""
    model = _mlp()
    model[0] = torch.compile(model[0], backend="aot_eager")
    with pytest.raises(UsageError, match=r"^module '0' of the model is compiled with torch\.compile, whose "
                                         r"backward cannot be differentiated again.*\(its \._orig_mod\)"):
        prunelimit.bounds(model, train, method="exact")
    assert prunelimit.info(model, train).params_prunable == 64 * 16 + 16 * 10


def test_integer_images_are_told_to_be_given_as_floats_in_the_librarys_words(train):
    """uint8 pixels are read as int64 (token ids), which a model of real inputs cannot take;
    the library's caller was told to 'save it as floats', the command line's words for a file."""
    x, y = train
    with pytest.raises(InputError, match=r"if x holds real values stored as integers, give it as floats \(x\.float\(\)\)$"):
        prunelimit.info(_mlp(), ((x * 16).to(torch.uint8), y))
