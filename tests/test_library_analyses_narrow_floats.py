"""The analyses of a float16 or bfloat16 module compute and record what the command line does
on the same weights saved in that type: a float32 model, the data's floats read in float32.
They computed in the module's own type and recorded ``dtype='float16'``, so the command
line's report on the file was refused as ``prediction_from`` ("float32 there, float16 here")
and the measured limit moved. The same code runs on the same values (digits' pixels, k/16,
are exact in both types), so results are compared with no tolerance."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import prunelimit
from prunelimit import api
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.report.jsonout import document

from tests.conftest import LIBRARY_SAMPLES as SAMPLES, SPEC, adam_fit


def _narrow(model: torch.nn.Module, train, dtype: torch.dtype):
    x, y = train
    return adam_fit(model, x, y, steps=60).to(dtype), (x.to(dtype), y)


def _json(result, tmp_path, name: str) -> dict:
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (tmp_path / name).write_text(result.stdout)
    return document


def _from_file(model: torch.nn.Module, tmp_path, cli):
    """The module saved, its file's path, the command line's options, and its bounds and verify
    reports (the first saved as ``cli.json``)."""
    path = tmp_path / "m.pt"
    save_checkpoint(path, SPEC, model.state_dict())
    given = ("--data", "digits:train", "--max-samples", SAMPLES, "--json")
    from_file = _json(cli("bounds", path, *given), tmp_path, "cli.json")
    return path, given, from_file, _json(cli("verify", path, *given, "--from", tmp_path / "cli.json"), tmp_path,
                                         "verify.json")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_narrow_modules_limits_are_the_command_lines_on_its_file(model, train, tmp_path, cli, dtype):
    model, data = _narrow(model, train, dtype)
    path, given, from_file, checked = _from_file(model, tmp_path, cli)

    result = prunelimit.bounds(model, data)
    assert result.ratio == from_file["prediction"]["ratio"]
    assert result.provenance.dtype == from_file["weights"]["dtype"] == "float32"
    report = prunelimit.verify(model, data, prediction_from=tmp_path / "cli.json")  # refused before
    assert report.actual.loss_ratio == checked["actual"]["loss_ratio"]
    assert report.actual.accuracy_ratio == checked["actual"]["accuracy_ratio"]
    (tmp_path / "lib.json").write_text(json.dumps(document("bounds", result.to_json())))
    assert cli("verify", path, *given, "--from", tmp_path / "lib.json").exit_code == 0  # the other way


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_inputs_from_a_narrow_module_give_the_command_lines_numbers(model, train, tmp_path, cli, dtype):
    """``inputs_from``'s Inputs hold a float32 copy, as the command line loads the file: they held
    the module in its own type, and ``api.bounds``/``api.verify`` on them computed in it (a
    64-16-10 digits MLP's dense loss 0.209873 where ``prunelimit.verify``'s is 0.209844) and
    recorded ``dtype='float16'``. The caller's module is left as it was (its type, its mode), as
    it would not take its data in float32."""
    model, data = _narrow(model, train, dtype)
    _, _, from_file, checked = _from_file(model, tmp_path, cli)
    model.train()
    params = [(p, p.dtype, p.detach().clone()) for p in model.parameters()]

    inputs = prunelimit.inputs_from(model, data)
    result = api.bounds(inputs)
    assert result.ratio == from_file["prediction"]["ratio"]
    assert result.provenance.dtype == from_file["weights"]["dtype"] == "float32"
    report = api.verify(inputs, prediction_from=tmp_path / "cli.json")  # refused before, another dtype
    assert report.actual.loss_ratio == checked["actual"]["loss_ratio"]
    assert report.actual.accuracy_ratio == checked["actual"]["accuracy_ratio"]
    assert report.actual.dense_loss == checked["actual"]["dense_loss"]
    assert all(p is q and p.dtype == kind and torch.equal(p, value)
               for (q, kind, value), p in zip(params, model.parameters()))
    assert model.training and inputs.loaded.model is not model


def test_the_callers_narrow_module_comes_back_as_it_was(model, train):
    """Its types, Parameter objects, values, buffers, gradients and mode, after analyses that
    prune it and fine-tune it (nplh's pressure mode)."""
    model, data = _narrow(model, train, torch.float16)
    model.register_buffer("scale", torch.tensor([0.5, 2.0], dtype=torch.float16))
    torch.nn.functional.cross_entropy(model(data[0][:8]), data[1][:8]).backward()
    model.train()
    params = list(model.parameters())
    state = {name: value.clone() for name, value in model.state_dict().items()}
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    prunelimit.verify(model, data)
    prunelimit.prune(model, "auto", data)
    try:
        prunelimit.nplh(model, data, mode="pressure")
    except prunelimit.errors.PrunelimitError:
        pass  # refused or fitted: either way the model must come back
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert {k: (v.dtype, v) for k, v in model.state_dict().items()}.keys() == state.keys()
    assert all(v.dtype == state[k].dtype and torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(p.grad.dtype == torch.float16 and torch.equal(p.grad, grads[name]) for name, p in model.named_parameters())
    assert model.training


def test_nplh_of_a_float16_module_is_its_float32_twins(model, train):
    """nplh's pressure mode fitted 3 points on the float16 module and refused its float32 twin."""
    model, data = _narrow(model, train, torch.float16)
    twin = copy.deepcopy(model).float()

    def outcome(net, given):
        try:
            return prunelimit.nplh(net, given, mode="pressure").to_json()
        except prunelimit.errors.PrunelimitError as exc:
            return str(exc)

    assert outcome(model, data) == outcome(twin, (data[0].float(), data[1]))


def test_a_lambdas_own_float16_tensor_is_named_as_the_training_names_it(model, train):
    """The analyses widen the model as training does, and a class weight a lambda captures in
    float16 fails there alike: they said only 'the loss failed on data (RuntimeError: expected
    scalar type Float but found Half); check that data, model and loss fit together'."""
    model, data = _narrow(model, train, torch.float16)
    weight = torch.linspace(0.5, 2.0, 10).half()
    with pytest.raises(prunelimit.errors.InputError,
                       match=r"^the loss fails on the model widened to float32, as the command line reads a float16 "
                             r"checkpoint \(RuntimeError: .*weight=w.to\(output.dtype\)"):
        prunelimit.info(model, data, loss=lambda out, y: torch.nn.functional.cross_entropy(out, y, weight=weight))
    # a failure naming no narrow type (a lambda that fails on any model) is left to the data check's words
    short = weight[:3].float()
    with pytest.raises(prunelimit.errors.InputError, match=r"^the loss failed on data \(RuntimeError"):
        prunelimit.info(model, data, loss=lambda out, y: torch.nn.functional.cross_entropy(out, y, weight=short))


@pytest.mark.parametrize("call", ["info", "train", "inputs_from"])
def test_float64_data_beside_a_float16_module_names_the_modules_type(model, train, call):
    """The module is widened to float32 for the call before its data are checked, and the refusal
    of float64 data named that: 'the model has float32 parameters', of a float16 module."""
    model, (x, y) = _narrow(model, train, torch.float16)
    with pytest.raises(prunelimit.errors.InputError,
                       match=r"^the model has float16 parameters but data is float64; convert one of them: "
                             r"x.to\(torch.float16\) for every batch, or model.to\(torch.float64\)$"):
        getattr(prunelimit, call)(model, (x.double(), y))
    assert all(p.dtype == torch.float16 for p in model.parameters())
