"""Which parameters count (prunelimit.models.params): a TorchScript model like its eager original."""

from __future__ import annotations

import copy
import io
import json
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import prunelimit
from prunelimit.errors import OptionError, UsageError
from prunelimit.models.params import (
    ParamSelection,
    check_selection,
    hessian_parameters,
    module_class,
    parametrized_modules,
    prunable_parameters,
    unrecognised_modules,
)
from prunelimit.models.spec import build_model
from tests.conftest import SPEC

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits-mlp.pt"


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


class _Mine(nn.Linear):  # a user's subclass: its scripted form names only ``_Mine``, no torch class
    pass


class _Scaled(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * nn.functional.linear(x, self.weight, self.bias)


class _MyConv(nn.Conv2d):
    pass


class _Transposed(nn.Linear):  # the weight stored (in, out): not a Linear's layout
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.weight = nn.Parameter(torch.randn(n_in, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight.t(), self.bias)


class _Scale(nn.Module):  # a weight of its own used elementwise, as a norm's scale
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


@pytest.mark.parametrize("compile_", [torch.jit.script, _scripted])  # in memory, and as a file loads
def test_a_scripted_subclass_applying_its_weight_as_its_base_counts_as_it(compile_):
    """A compiled class of the user's own counts as the Linear or convolution whose op its
    forward applies the weight with (its code is read as TorchScript, never imported)."""
    torch.manual_seed(0)
    eager = nn.Sequential(_MyConv(1, 2, 3), nn.ReLU(), nn.Flatten(), _Mine(8, 4), nn.ReLU(), _Scaled(4, 3))
    compiled = compile_(eager)
    assert [module_class(getattr(compiled, k)) for k in ("0", "3", "5")] == [nn.Conv2d, nn.Linear, nn.Linear]
    assert _names(prunable_parameters(compiled)) == _names(prunable_parameters(eager)) == \
        ["0.weight", "3.weight", "5.weight"]


def test_a_scripted_class_applying_its_weight_otherwise_is_left_out_and_named():
    """A weight the compiled forward uses otherwise (here transposed) is not a Linear's:
    not prunable unless included, and ``bounds`` says so, naming ``include=``."""
    torch.manual_seed(0)
    compiled = _scripted(nn.Sequential(_Transposed(6, 4), nn.ReLU(), nn.Linear(4, 3), _Scale(3)))
    assert _names(prunable_parameters(compiled)) == ["2.weight"]
    assert _names(prunable_parameters(compiled, ParamSelection(include=("0",)))) == ["0.weight", "2.weight"]
    assert unrecognised_modules(compiled, ParamSelection()) == ["0"]  # a 1-D weight is a scale: not named
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    warned = [w for w in prunelimit.bounds(compiled, (x, y), batch_size=16, method="exact").warnings if "TorchScript" in w]
    assert warned == ["TorchScript module '0' is a compiled class of your own whose forward does not apply the "
                      "weight as a Linear or convolution does, so it is not counted as prunable; include=('0',) (a "
                      "glob of module names) to prune it"]  # a library call names the keyword, not --include
    included = prunelimit.bounds(compiled, (x, y), batch_size=16, method="exact", include=("0",))
    assert not any("TorchScript" in w for w in included.warnings)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch's deprecation of the older weight_norm
@pytest.mark.parametrize("norm", [nn.utils.parametrizations.weight_norm, nn.utils.weight_norm, nn.utils.spectral_norm])
def test_a_parametrized_weight_is_left_out_of_n_and_named(norm):
    """A Linear whose weight weight_norm computes holds no weight parameter: it is not
    prunable (its g and v still enter the Hessian), ``bounds`` says so, and including it is
    refused with the reason, not 'a module without a weight'; excluded, it is not named."""
    torch.manual_seed(0)
    model = nn.Sequential(norm(nn.Linear(6, 4)), nn.ReLU(), nn.Linear(4, 3))
    assert _names(prunable_parameters(model)) == ["2.weight"]
    # g, v (spectral norm: weight_orig) and bias of layer 0, then layer 2's two
    assert len(_names(hessian_parameters(model))) == (4 if norm is nn.utils.spectral_norm else 5)
    assert parametrized_modules(model, ParamSelection()) == ["0"]
    assert parametrized_modules(model, ParamSelection(exclude=("0",))) == []
    with pytest.raises(OptionError, match="'0', whose weight is computed by a parametrization"):
        check_selection(model, ParamSelection(include=("0",)))
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    warned = [w for w in prunelimit.bounds(model, (x, y), batch_size=16, method="exact").warnings if "parametriz" in w]
    assert len(warned) == 1 and warned[0].startswith("the weight of layer '0' is computed by a parametrization")
    # each kind is removed by its own function: remove_parametrizations refuses the older hook
    fix = {nn.utils.parametrizations.weight_norm: "torch.nn.utils.parametrize.remove_parametrizations",
           nn.utils.weight_norm: "torch.nn.utils.remove_weight_norm for the older weight_norm",
           nn.utils.spectral_norm: "torch.nn.utils.remove_spectral_norm for the older spectral_norm"}[norm]
    assert f"save the model with it removed ({fix}) to prune it" in warned[0]


def test_pruning_to_a_given_ratio_names_a_parametrized_weight_it_leaves_dense(tmp_path):
    """``prune(model, 0.5)`` (and ``prunelimit prune --ratio 0.5``) left a weight-normed layer
    dense without a word: only a prediction's bounds named it. The fix it names then prunes it."""
    from prunelimit.api import prune as prune_command

    torch.manual_seed(0)
    model = nn.Sequential(nn.utils.parametrizations.weight_norm(nn.Linear(6, 4)), nn.ReLU(), nn.Linear(4, 3))
    named = "the weight of layer '0' is computed by a parametrization"
    assert [w for w in prunelimit.prune(model, 0.5).warnings if w.startswith(named)]
    saved = prune_command(prunelimit.inputs_from(copy.deepcopy(model)), 0.5, tmp_path / "pruned.pt")
    assert [w for w in saved.warnings if w.startswith(named)]
    nn.utils.parametrize.remove_parametrizations(model[0], "weight")
    pruning = prunelimit.prune(model, 0.5)
    assert sorted(pruning.masks) == ["0.weight", "2.weight"] and not pruning.warnings


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch's deprecation of the older weight_norm
@pytest.mark.parametrize("norm", [nn.utils.parametrizations.weight_norm, nn.utils.weight_norm, nn.utils.spectral_norm])
def test_a_model_whose_every_weight_is_computed_is_refused_naming_the_removal(norm):
    """Every layer weight-normed leaves no prunable weight: the refusal said only 'widen it
    with include/exclude', and including such a layer is itself refused. It names the
    layers and torch's function that removes their parametrization."""
    model = nn.Sequential(norm(nn.Linear(6, 4)), nn.ReLU(), norm(nn.Linear(4, 3)))
    fix = {nn.utils.parametrizations.weight_norm: "torch.nn.utils.parametrize.remove_parametrizations",
           nn.utils.weight_norm: "torch.nn.utils.remove_weight_norm for the older weight_norm",
           nn.utils.spectral_norm: "torch.nn.utils.remove_spectral_norm for the older spectral_norm"}[norm]
    with pytest.raises(UsageError, match=rf"no prunable weights .*; the weights of '0', '2' are computed by a "
                                         rf"parametrization .*remove it first \({re.escape(fix)}\), or widen it"):
        prunelimit.prune(model, 0.5)


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


@pytest.mark.parametrize("selection, option, said", [
    (ParamSelection(include=("0.weight",)), "include", "matches no module"),  # a parameter's name
    (ParamSelection(exclude=("lin*",)), "exclude", "matches no module"),  # a typo
    (ParamSelection(include=("dropout*",)), "include", "without a weight"),  # modules with no parameters
])
def test_a_pattern_that_selects_nothing_is_refused_naming_it(selection, option, said):
    """Patterns match module names; one that selects nothing would leave the analysis the
    default one without a word."""
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    if option == "include" and said != "matches no module":
        model = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(OptionError, match=said) as caught:
        check_selection(model, selection)
    assert caught.value.option == option and str(caught.value).startswith(f"{option} ")
    with pytest.raises(OptionError, match=said):
        prunelimit.prune(model, 0.5, include=selection.include, exclude=selection.exclude)


class _TiedHead(nn.Module):
    """An embedding and an output Linear sharing one weight (counted once, as the embedding's),
    the blocks in a container, the output layer with a bias of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.blocks = nn.ModuleDict({"mid": nn.Linear(8, 8)})
        self.out = nn.Linear(8, 20)
        self.out.weight = self.emb.weight


@pytest.mark.parametrize("selection, option, said", [
    # a container has no parameters of its own: the pattern names it, not its children
    (ParamSelection(exclude=("blocks",)), "exclude", "'blocks', without parameters of its own; .* use 'blocks.\\*'"),
    # the tied weight is decided by its first module, the embedding: out's own weights are none
    (ParamSelection(include=("out",)), "include", "'out', whose parameters are shared with 'emb'.* use 'emb'"),
    (ParamSelection(include=("o*",)), "include", "'out', whose parameters are shared with 'emb'"),
])
def test_a_pattern_that_matches_modules_but_decides_no_parameter_is_refused(selection, option, said):
    """``--exclude blocks`` (a container) and ``--include out`` (an output layer whose weight is
    the embedding's) matched a module and were accepted, yet changed nothing, without a word."""
    model = _TiedHead()
    with pytest.raises(OptionError, match=said) as caught:
        check_selection(model, selection)
    assert caught.value.option == option and "selects nothing" in str(caught.value)


def test_patterns_deciding_a_parameter_of_their_own_are_kept():
    model = _TiedHead()
    for selection in (ParamSelection(exclude=("out",)), ParamSelection(include=("emb",)),
                      ParamSelection(exclude=("blocks.*",)), ParamSelection(include=("*",))):
        assert check_selection(model, selection) is selection  # out's bias is its own; emb decides the tie
    assert _names(prunable_parameters(model, ParamSelection(include=("emb",)))) == ["emb.weight", "blocks.mid.weight"]


def test_patterns_that_select_are_kept():
    """An included norm layer widens D with its affine parameters; its 1-D scale is not a
    weight matrix, so N stays without it (normalisation parameters are never pruned)."""
    model = nn.TransformerEncoderLayer(8, 2, 16)
    selection = ParamSelection(include=("self_attn*", "norm1"), exclude=("linear?",))
    assert check_selection(model, selection) is selection
    assert _names(prunable_parameters(model, selection)) == ["self_attn.in_proj_weight", "self_attn.out_proj.weight"]
    assert {"norm1.weight", "norm1.bias"} <= set(_names(hessian_parameters(model, selection)))


@pytest.mark.parametrize("kdim, expected", [
    (None, ["attn.in_proj_weight", "attn.out_proj.weight", "head.weight"]),
    (6, ["attn.q_proj_weight", "attn.k_proj_weight", "attn.v_proj_weight", "attn.out_proj.weight", "head.weight"]),
])
def test_attention_projections_are_prunable_weights(kdim, expected):
    """Q/K/V are linear maps like ``out_proj``, held as parameters of the attention module
    itself (one stacked ``in_proj_weight``, or one each when keys and values have their own
    sizes): prunable like any Linear weight, in the eager and the scripted model alike."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, kdim=kdim, vdim=kdim, batch_first=True)
            self.head = nn.Linear(8, 3)

        def forward(self, x, memory):
            return self.head(self.attn(x, memory, memory, need_weights=False)[0])

    model = Net()
    assert _names(prunable_parameters(model)) == expected
    assert _names(prunable_parameters(torch.jit.script(model))) == expected
    # Hessian parameters keep their own order; the prunable ones are all among them
    assert set(expected) <= set(_names(hessian_parameters(model)))
    assert _names(prunable_parameters(model, ParamSelection(exclude=("attn",)))) == ["attn.out_proj.weight",
                                                                                      "head.weight"]


def test_cli_names_the_flag_of_a_pattern_that_selects_nothing(cli, tmp_path):
    out = tmp_path / "p.pt"
    result = cli("prune", EXAMPLE, "--ratio", "0.5", "--include", "0.weight", "-o", out)
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.startswith("prunelimit: error: --include '0.weight' matches no module in the model; ")


def test_pruning_a_torchscript_checkpoint_writes_an_archive_with_its_masks(cli, tmp_path):
    """The pruned file keeps the archive's code, so every command reads it back as it read
    the original; its masks and the pruning record travel in the archive's extra file."""
    from prunelimit.io.checkpoint import is_torchscript, read_checkpoint

    torch.manual_seed(0)
    scripted, out = tmp_path / "scripted.pt", tmp_path / "pruned.pt"
    torch.jit.script(build_model(SPEC).eval()).save(str(scripted))
    result = cli("prune", scripted, "--trust-pickle", "--data", "digits:train", "--ratio", "0.5", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["warnings"] == [] and "warning" not in result.stderr
    assert is_torchscript(out)
    raw = read_checkpoint(out, trust_pickle=True)
    assert set(raw.masks) == {"0.weight", "2.weight"} and raw.meta["pruned"]["ratio"] == 0.5
    kept = sum(int(m.sum()) for m in raw.masks.values())
    assert kept == 888 - math.ceil(0.5 * 888)
    for name, mask in raw.masks.items():  # the archive's weights are zero where the masks say removed
        assert torch.all(raw.state_dict[name][~mask] == 0)
    info = cli("info", out, "--trust-pickle", "--json")
    assert info.exit_code == 0, info.stderr
    assert cli("info", out).exit_code == 3  # still TorchScript: code, refused without the flag


def test_pruning_a_pickled_module_says_the_output_needs_its_model(cli, tmp_path):
    """A whole pickled module is saved as its weights and masks: the warning says how to
    read them back, which then works."""
    torch.manual_seed(0)
    whole, out = tmp_path / "whole.pt", tmp_path / "pruned.pt"
    torch.save(build_model(SPEC).eval(), whole)
    result = cli("prune", whole, "--trust-pickle", "--data", "digits:train", "--ratio", "0.5", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    warning = json.loads(result.stdout)["warnings"]
    assert len(warning) == 1 and "--model SPEC" in warning[0] and "module checkpoint" in warning[0]
    assert "warning:" in result.stderr and "--model SPEC" in result.stderr
    assert cli("info", out).exit_code == 2
    reread = cli("info", out, "--model", SPEC, "--json")
    assert reread.exit_code == 0, reread.stderr


def test_pruning_a_checkpoint_with_its_spec_warns_nothing(cli, tmp_path):
    result = cli("prune", EXAMPLE, "--ratio", "0.5", "-o", tmp_path / "p.pt", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["warnings"] == []


class _Recurrent(nn.Module):
    """A recurrent classifier of 8 steps of 8 features: a recurrent layer, then a Linear head."""

    def __init__(self, kind: type[nn.RNNBase], **options) -> None:
        super().__init__()
        self.rnn = kind(8, 6, batch_first=True, **options)
        width = options.get("proj_size") or 6
        self.head = nn.Linear(width * (2 if options.get("bidirectional") else 1), 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.reshape(x.shape[0], 8, 8))
        return self.head(out[:, -1])


RECURRENT = [
    pytest.param(nn.LSTM, {}, ["weight_ih_l0", "weight_hh_l0"], id="lstm"),
    pytest.param(nn.GRU, {}, ["weight_ih_l0", "weight_hh_l0"], id="gru"),
    pytest.param(nn.RNN, {"nonlinearity": "relu"}, ["weight_ih_l0", "weight_hh_l0"], id="rnn"),
    pytest.param(nn.LSTM, {"num_layers": 2, "bidirectional": True, "proj_size": 4},
                 [f"weight_{kind}_l{layer}{way}" for layer in (0, 1) for way in ("", "_reverse")
                  for kind in ("ih", "hh", "hr")], id="bidirectional-2-layer-lstm-with-projections"),
]


def _recurrent(kind: type[nn.RNNBase], options: dict) -> nn.Module:
    torch.manual_seed(0)
    return _Recurrent(kind, **options).eval()


@pytest.mark.parametrize("kind, options, own", RECURRENT)
def test_an_included_recurrent_layer_adds_its_own_weight_matrices(kind, options, own):
    """``include`` adds every weight matrix a matching module holds itself (a recurrent
    layer's ``weight_ih_l0``, ``weight_hh_l0``, ``_reverse``, ``weight_hr_l0``), not only a
    ``weight``: an LSTM classifier's N was its head alone and ``include`` was refused. Its
    biases stay out; D is unchanged (they were Hessian parameters already)."""
    model = _recurrent(kind, options)
    selection = check_selection(model, ParamSelection(include=("rnn",)))
    assert _names(prunable_parameters(model)) == ["head.weight"]  # the default set is unchanged
    expected = [f"rnn.{name}" for name in own] + ["head.weight"]
    assert _names(prunable_parameters(model, selection)) == expected
    assert _names(prunable_parameters(_scripted(model), selection)) == expected  # as a TorchScript checkpoint loads
    assert _names(hessian_parameters(model, selection)) == _names(hessian_parameters(model))
    assert sorted(own) == sorted(n for n, p in model.rnn.named_parameters() if n.startswith("weight") and p.dim() == 2)


def test_an_include_adds_no_scale_bias_or_parametrization_source():
    """Only matrices named ``weight…`` count: a norm's 1-D scale and a bias never do (an
    included norm widens D alone), nor a parameter a weight is computed from (the older
    weight norm's ``weight_hh_l0_g``/``_v``, ``torch.nn.utils.prune``'s ``weight_ih_l0_orig``),
    and a module holding no weight matrix at all is refused."""
    from torch.nn.utils import prune

    model = _recurrent(nn.LSTM, {})
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(model.rnn, "weight_hh_l0")
    assert _names(prunable_parameters(model, ParamSelection(include=("rnn",)))) == ["rnn.weight_ih_l0", "head.weight"]
    pruned = _recurrent(nn.LSTM, {})
    prune.custom_from_mask(pruned.rnn, "weight_ih_l0", torch.ones(24, 8))
    assert _names(prunable_parameters(pruned, ParamSelection(include=("rnn",)))) == ["rnn.weight_hh_l0", "head.weight"]
    scaled = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), _Scale(4))
    assert _names(prunable_parameters(scaled, check_selection(scaled, ParamSelection(include=("1",))))) == ["0.weight"]
    with pytest.raises(OptionError, match=r"'2' matches only modules without a weight matrix \('2'\)"):
        check_selection(scaled, ParamSelection(include=("2",)))


_RECURRENT_FILE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 6, num_layers=2, bidirectional=True, proj_size=4, batch_first=True)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.rnn(x.reshape(x.shape[0], 8, 8))[0][:, -1])


def build():
    torch.manual_seed(0)
    return Net()
'''


def test_cli_prunes_an_included_lstm_and_its_files_read_back(cli, tmp_path):
    """``prune --include rnn`` on a bidirectional 2-layer LSTM with projections: the stated
    fraction of N (its 12 weight matrices and the head) is removed, the checkpoint and its
    ``export`` read back with those masks and the same bits, and ``info`` lists them."""
    from prunelimit.io.checkpoint import read_checkpoint
    from prunelimit.sparse.sparse_file import read_sparse

    import runpy

    (tmp_path / "nets.py").write_text(_RECURRENT_FILE)
    model, out, sparse = f"{tmp_path / 'nets.py'}:build", tmp_path / "p.pt", tmp_path / "p.safetensors"
    torch.save(runpy.run_path(str(tmp_path / "nets.py"))["build"]().state_dict(), tmp_path / "lstm.pt")
    result = cli("prune", tmp_path / "lstm.pt", "--model", model, "--data", "digits:test", "--ratio", "0.5", "--include", "rnn",
                 "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ratio"]["achieved"] == 0.5
    info = cli("info", out, "--model", model, "--include", "rnn", "--json")
    assert info.exit_code == 0, info.stderr
    layers = json.loads(info.stdout)["layers"]
    assert len(layers) == 13 and layers[0]["name"] == "rnn.weight_ih_l0" and layers[-1]["name"] == "head.weight"
    n = sum(layer["count"] for layer in layers)
    assert sum(layer["zeros"] for layer in layers) == math.ceil(0.5 * n) == json.loads(info.stdout)["params"]["prunable"] / 2
    raw = read_checkpoint(out)
    assert sorted(raw.masks) == sorted(layer["name"] for layer in layers)
    assert cli("export", out, "--model", model, "-o", sparse).exit_code == 0
    back = read_sparse(sparse)
    assert sorted(back.masks) == sorted(raw.masks)
    for name, tensor in raw.state_dict.items():
        assert torch.equal(back.state_dict[name].view(torch.int32), tensor.view(torch.int32)), name


@pytest.mark.parametrize("layer", [nn.ConvTranspose1d(2, 3, 3), nn.ConvTranspose2d(2, 3, 3), nn.ConvTranspose3d(2, 3, 3)])
def test_transposed_convolutions_are_prunable_like_convolutions(layer):
    """A transposed convolution is a convolution (its weight a linear map like ``ConvNd``'s,
    in the eager and the scripted model alike): it was left out of N in silence."""
    model = nn.Sequential(layer, nn.ReLU())
    assert _names(prunable_parameters(model)) == ["0.weight"]
    assert _names(prunable_parameters(torch.jit.script(model))) == ["0.weight"]


class _MyConvTransposed(nn.ConvTranspose2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv_transpose2d(x, self.weight, self.bias)


def test_a_scripted_subclass_of_a_transposed_convolution_counts_as_it():
    compiled = torch.jit.script(nn.Sequential(_MyConvTransposed(1, 2, 3)))
    assert module_class(getattr(compiled, "0")) is nn.ConvTranspose2d
    assert _names(prunable_parameters(compiled)) == ["0.weight"]


def test_rms_norm_scales_stay_out_of_the_hessian():
    """``nn.RMSNorm``'s scale is a normalisation parameter like LayerNorm's: it entered D."""
    if not hasattr(nn, "RMSNorm"):  # torch < 2.4
        pytest.skip("no nn.RMSNorm in this torch")
    model = nn.Sequential(nn.Linear(4, 3), nn.RMSNorm(3), nn.Linear(3, 2))
    assert _names(hessian_parameters(model)) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert _names(hessian_parameters(torch.jit.script(model))) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def _empty_set_calls():
    """Every function that needs a non-empty prunable set, called on an empty one."""
    from prunelimit.laws.saliency import compute_saliency
    from prunelimit.pruning.actual import _InPlacePruner
    from prunelimit.pruning.magnitude import magnitude_masks

    none = ParamSelection(exclude=("*",))
    return {
        "nplh saliency": lambda m: compute_saliency(m, [], lambda model, batch: 0.0, "magnitude", selection=none),
        "magnitude masks": lambda m: magnitude_masks(m, 0.5, selection=none),
        "actual-limit search": lambda m: _InPlacePruner(m, "global", none),
    }


@pytest.mark.parametrize("call", ["nplh saliency", "magnitude masks", "actual-limit search"])
def test_every_empty_prunable_set_names_the_flags_that_widen_it(call):
    """`law nplh`, `prune` and the actual-limit search said "widen the selection (with include
    patterns)" where imp and hyperflux name --include/--exclude: one message for one fault."""
    from prunelimit.errors import UsageError

    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    with pytest.raises(UsageError, match=r"no prunable weights .* in the set in use; widen it with include/exclude$"):
        _empty_set_calls()[call](model)
