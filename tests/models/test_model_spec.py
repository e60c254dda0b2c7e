"""Model specs: the zoo matches the papers' parameter counts; every spec form builds."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from prunelimit.errors import PrunelimitError, UsageError, InputError
from prunelimit.models.load import load_model
from prunelimit.models.params import ParamSelection, hessian_parameters, prunable_parameters
from prunelimit.models.spec import build_model

# N (prunable) and D (Hessian) of the networks of Zhang et al.'s reference code (model.py,
# github.com/QiaozheZhang/Global-One-shot-Pruning); ResNets with 100 classes as in the paper.
PAPER_COUNTS = {
    "fc5": (3_883_000, 3_885_010),
    "fc12": (7_263_000, 7_269_610),
    "alexnet-cifar": (46_778_400, 46_787_978),
    "vgg16-bn-cifar": (14_715_584, 14_719_818),
    "resnet18-cifar:num_classes=100": (11_210_432, 11_210_532),
    "resnet50-cifar:num_classes=100": (23_652_032, 23_652_132),
}


def _count(params) -> int:
    return sum(p.numel() for _, p in params)


@pytest.mark.parametrize("spec", PAPER_COUNTS)
def test_zoo_matches_reference_parameter_counts(spec):
    with torch.device("meta"):  # no memory for 47M parameters
        model = build_model(spec)
    assert (_count(prunable_parameters(model)), _count(hessian_parameters(model))) == PAPER_COUNTS[spec]


def test_small_zoo_models_run_forward():
    assert build_model("lenet5")(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert build_model("lenet300")(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert build_model("resnet18-cifar:width=4,num_classes=7")(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_mlp_keys_are_sequential_indices():
    assert list(build_model("mlp:5,4,3").state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_user_file_factory_with_overrides(tmp_path):
    factory = tmp_path / "mynet.py"
    factory.write_text(
        "import torch.nn as nn\n"
        "def make(hidden=3, classes=2):\n"
        "    return nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, classes))\n"
    )
    model = build_model(f"{factory}:make:hidden=7,classes=5")
    assert model[0].out_features == 7 and model[2].out_features == 5
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    assert load_model(path, f"{factory}:make:hidden=7,classes=5").model[0].weight.shape == (7, 4)


def test_a_module_file_named_without_py_gets_the_spec_to_write(tmp_path, monkeypatch):
    (tmp_path / "mynet.py").write_text("import torch.nn as nn\ndef make(hidden=3):\n    return nn.Linear(4, hidden)\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"^unknown model 'mynet'; for the factory in mynet.py write mynet.py:make:hidden=7$"):
        build_model("mynet:make:hidden=7")
    assert build_model("mynet.py:make:hidden=7").out_features == 7
    with pytest.raises(UsageError, match="use a built-in name"):  # no such file: the list of forms
        build_model("othernet:make")


def test_package_module_factory():
    model = build_model("prunelimit.models.zoo:lenet300:num_classes=3")
    assert model(torch.randn(1, 784)).shape == (1, 3)


@pytest.mark.parametrize(
    "spec, error",
    [
        ("", UsageError), ("nosuchnet", UsageError), ("mlp", UsageError), ("mlp:1,x", UsageError),
        ("fc5:depth=3", UsageError), ("missing_file.py:make", InputError),
        ("prunelimit.models.zoo:nothing", InputError), ("no_such_pkg_xyz.mod:f", InputError),
        ("mlp:64,-1,10", UsageError), (":x", UsageError),
    ],
)
def test_bad_specs_give_clear_errors(spec, error):
    with pytest.raises(error):
        build_model(spec)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="mlp:,=0123456789abcx.-_ ", max_size=30))
def test_spec_parser_never_crashes(text):
    """Any string either builds a model or raises one of our errors (exit 2/3)."""
    try:
        with torch.device("meta"):
            build_model(text)
    except PrunelimitError:
        pass


def test_param_sets_follow_spec_and_patterns():
    model = build_model("resnet18-cifar:width=4")
    prunable = dict(prunable_parameters(model))
    assert "conv1.weight" in prunable and "linear.weight" in prunable
    assert not any("bn" in k or k.endswith("bias") for k in prunable)
    hessian = dict(hessian_parameters(model))
    assert "linear.bias" in hessian and not any(".bn" in k or k.startswith("bn") for k in hessian)
    narrowed = dict(prunable_parameters(model, ParamSelection(exclude=("linear", "conv1"))))
    assert "linear.weight" not in narrowed and "conv1.weight" not in narrowed
    widened = dict(hessian_parameters(model, ParamSelection(include=("bn1",))))
    assert "bn1.weight" in widened and "bn1.bias" in widened


def _fake_torchvision(monkeypatch, calls: list) -> None:
    """A stand-in for ``torchvision.models`` whose one builder, like torchvision's detection and
    segmentation builders, fetches an ImageNet backbone unless told ``weights_backbone=None``."""
    import sys
    import types

    def segmenter(*, weights="COCO", weights_backbone="IMAGENET1K_V1", num_classes=21):
        calls.append({"weights": weights, "weights_backbone": weights_backbone})
        return torch.nn.Linear(2, num_classes)

    def get_model_builder(name):
        if name != "segmenter":
            raise ValueError(f"Unknown model {name}")
        return segmenter

    models = types.ModuleType("torchvision.models")
    models.get_model_builder = get_model_builder
    models.get_model = lambda name, **config: get_model_builder(name)(**config)  # as torchvision defines it
    package = types.ModuleType("torchvision")
    package.models = models
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.models", models)


def test_torchvision_models_are_built_untrained_and_download_nothing(monkeypatch):
    """A spec may come from a stranger's checkpoint: no pretrained weights, backbone included."""
    calls: list = []
    _fake_torchvision(monkeypatch, calls)
    model = build_model("torchvision:segmenter:num_classes=3")
    assert model.out_features == 3 and calls == [{"weights": None, "weights_backbone": None}]
    for spec in ("torchvision:segmenter:weights_backbone=IMAGENET1K_V1", "torchvision:segmenter:pretrained=true",
                 "torchvision:segmenter:pretrained_backbone=true"):
        with pytest.raises(UsageError, match="would download pretrained weights"):
            build_model(spec)
    with pytest.raises(UsageError, match="Unknown model"):
        build_model("torchvision:nosuch")
    assert len(calls) == 1


@pytest.mark.parametrize("name, said", [
    # torchvision's names: the whole list of forms, which named neither the CIFAR variant nor torchvision:NAME
    ("resnet18", "did you mean 'resnet18-cifar' (built in, for 32×32 inputs) or torchvision:resnet18?"),
    ("VGG16_BN", "did you mean 'vgg16-bn-cifar' (built in, for 32×32 inputs) or torchvision:vgg16_bn?"),
    ("lenet-5", "did you mean 'lenet5'?"),  # a typo of a built-in name
    ("nosuchnet", "use a built-in name ("),  # like none: every form a model takes
])
def test_an_unknown_model_name_gets_the_nearest_form(name, said):
    with pytest.raises(UsageError) as raised:
        build_model(name)
    assert str(raised.value).startswith(f"unknown model {name!r}; {said}")
