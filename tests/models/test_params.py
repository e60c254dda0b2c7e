"""Which parameters count (prunelimit.models.params): a TorchScript model like its eager original."""

from __future__ import annotations

import io
import json

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.models.params import ParamSelection, hessian_parameters, module_class, prunable_parameters
from prunelimit.models.spec import build_model
from tests.conftest import SPEC


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 2 * 2, 5), nn.LayerNorm(5), nn.Linear(5, 3),
    )


def _trained_state(factory, x: torch.Tensor) -> nn.Module:
    """The eager model with non-trivial norm statistics and affine parameters (eval mode)."""
    torch.manual_seed(0)
    model = factory()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or p.dim() == 1:
                p.normal_(0.5, 0.2)  # norm affine parameters away from 1/0, so excluding them matters
        model.train()
        model(x)  # batch-norm running statistics of the data
    return model.eval()


def _scripted(model: nn.Module) -> nn.Module:
    """``torch.jit.save`` + ``torch.jit.load``: what a TorchScript checkpoint loads as (its
    parameters are plain Tensors, not ``nn.Parameter``)."""
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(model), buffer)
    buffer.seek(0)
    return torch.jit.load(buffer).eval()


def _names(named) -> list[str]:
    return [n for n, _ in named]


@pytest.mark.parametrize("factory", [_mlp, _cnn])
def test_scripted_modules_select_the_eager_parameters(factory):
    eager = factory()
    scripted = _scripted(eager)
    assert _names(prunable_parameters(scripted)) == _names(prunable_parameters(eager))
    assert _names(hessian_parameters(scripted)) == _names(hessian_parameters(eager))
    for selection in (ParamSelection(include=("1",)), ParamSelection(exclude=("0",))):
        assert _names(prunable_parameters(scripted, selection)) == _names(prunable_parameters(eager, selection))
        assert _names(hessian_parameters(scripted, selection)) == _names(hessian_parameters(eager, selection))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # group norm's size check, traced as a constant
def test_traced_modules_select_the_eager_parameters():
    eager = _cnn().eval()
    traced = torch.jit.trace(eager, torch.randn(2, 1, 4, 4))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    for model in (traced, torch.jit.load(buffer)):  # in memory (library) and as a checkpoint loads
        assert _names(prunable_parameters(model)) == _names(prunable_parameters(eager))
        assert _names(hessian_parameters(model)) == _names(hessian_parameters(eager))


def test_scripted_norm_and_attention_layers_count_as_their_torch_classes():
    layers = [nn.BatchNorm1d(4), nn.LayerNorm(4), nn.GroupNorm(2, 4), nn.InstanceNorm1d(4, affine=True),
              nn.Conv1d(4, 4, 1), nn.Conv3d(1, 1, 1), nn.Linear(4, 4), nn.Linear(4, 2)]
    for layer in layers:
        assert module_class(torch.jit.script(layer)) is type(layer)
    # attention's output projection is a torch subclass of nn.Linear: prunable, as in eager mode
    encoder = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8)
    scripted = _scripted(encoder)
    assert _names(prunable_parameters(scripted)) == _names(prunable_parameters(encoder))
    assert _names(hessian_parameters(scripted)) == _names(hessian_parameters(encoder))
    assert "self_attn.out_proj.weight" in _names(prunable_parameters(scripted))


def test_a_scripted_class_from_outside_torch_is_not_guessed():
    class Mine(nn.Linear):  # its scripted form names only ``Mine``: no torch class to resolve
        pass

    scripted = torch.jit.script(nn.Sequential(Mine(3, 2)))
    assert prunable_parameters(scripted) == []
    assert _names(prunable_parameters(scripted, ParamSelection(include=("0",)))) == ["0.weight"]


# the float64 copy of a TorchScript model keeps leaf parameters (torch warns on non-leaf ones)
@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("factory, shape", [(_mlp, (64, 8)), (_cnn, (64, 1, 4, 4))])
def test_scripted_model_has_the_eager_limit(factory, shape):
    torch.manual_seed(1)
    x, y = torch.randn(*shape), torch.randint(0, 3, (64,))
    eager = _trained_state(factory, x)
    scripted = _scripted(eager)
    got = [prunelimit.bounds(m, (x, y), batch_size=32, method="exact") for m in (eager, scripted)]
    assert got[1].params_prunable == got[0].params_prunable
    assert got[1].spectrum.params_hessian == got[0].spectrum.params_hessian
    # float64 spectra of the same function: equal up to rounding (eager convolutions and batch
    # norm run as rewrites with cheap double backward, TorchScript as torch's own kernels)
    assert got[1].spectrum.trace == pytest.approx(got[0].spectrum.trace, rel=1e-9)
    assert got[1].ratio == pytest.approx(got[0].ratio, abs=1e-9)


def test_cli_analyses_a_torchscript_checkpoint_like_its_weights(cli, tmp_path):
    torch.manual_seed(0)
    model = build_model(SPEC).eval()
    plain, scripted = tmp_path / "plain.pt", tmp_path / "scripted.pt"
    torch.save(model.state_dict(), plain)
    torch.jit.script(model).save(str(scripted))
    common = ("--data", "digits:train", "--iterations", "8", "--runs", "1", "--no-cache", "--json")
    reports = []
    for args in (("bounds", plain, "--model", SPEC), ("bounds", scripted, "--trust-pickle")):
        result = cli(*args, *common)
        assert result.exit_code == 0, result.stderr
        reports.append(json.loads(result.stdout))
    assert reports[1]["params"] == reports[0]["params"] == {"hessian": 910, "prunable": 888}
    assert reports[1]["prediction"]["ratio"] == pytest.approx(reports[0]["prediction"]["ratio"], abs=1e-6)
    # Hyperflux substitutes weights with torch.func.functional_call, which TorchScript refuses
    result = cli("hyperflux", scripted, "--trust-pickle", "--data", "digits:train", "--target-density", "0.5",
                 "-o", tmp_path / "h.pt")
    assert result.exit_code == 3 and "TorchScript" in result.stderr and "--model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "h.pt").exists()
