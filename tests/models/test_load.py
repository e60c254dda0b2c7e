"""Loading a whole pickled module: torch.nn.utils.prune reparametrisations made permanent; a
model spec recorded in a file that is not valid is the file's error (exit 3), a typed one a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunelimit.errors import InputError, UsageError
from prunelimit.io.checkpoint import save_checkpoint
from prunelimit.models.load import load_model, recorded_spec
from prunelimit.models.params import prunable_parameters
from prunelimit.models.spec import build_model


def test_a_whole_module_pruned_with_torch_prune_loads_with_plain_weights_and_its_masks(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).eval()
    prune.l1_unstructured(model[0], "weight", 0.6)
    prune.l1_unstructured(model[0], "weight", 0.5)  # a PruningContainer: two methods on one tensor
    prune.random_unstructured(model[2], "weight", 0.4)
    x = torch.randn(4, 6)
    expected = model(x)
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    loaded = load_model(path, trust_pickle=True)
    # the masks multiplied in once, by torch.nn.utils.prune.remove: no hook left to do it again
    assert [name for name, _ in prunable_parameters(loaded.model)] == ["0.weight", "2.weight"]
    assert all(not m._forward_pre_hooks for m in loaded.model.modules())
    assert torch.equal(loaded.model(x), expected)
    assert torch.equal(loaded.masks["0.weight"], model[0].weight_mask.bool())
    assert torch.equal(loaded.masks["2.weight"], model[2].weight_mask.bool())


@pytest.mark.parametrize("spec", ["mlp:64,x,10", "nosuchnet", "lenet5:bogus=1", "", "torchvision:resnet18:weights=X"])
def test_an_invalid_recorded_model_spec_names_the_file_and_the_override(tmp_path, spec):
    # it was a UsageError (exit 2) naming a spec the user never typed
    path = save_checkpoint(tmp_path / "m.pt", spec, nn.Linear(64, 10).state_dict())
    with pytest.raises(InputError, match=r"m\.pt: its recorded model spec is not valid \(.*\); pass --model SPEC"):
        load_model(path)
    with pytest.raises(UsageError):  # typed, it stays the user's usage error
        load_model(path, spec or " ")


# ------------------------------------------------- recorded relative paths: here, else beside the file

RECORDED = {"data": "tensors:train.pt", "eval_data": "cifar10:images:test", "model": "nets.py:make",
            "loss": "losses.py:fn"}


def _recorded_in_run(tmp_path, monkeypatch):
    """A checkpoint in run/ recording relative paths as `train` writes them from run/, each
    file there; the current folder is tmp_path."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("train.pt", "nets.py", "losses.py"):
        (run / name).write_text("x")
    (run / "images").mkdir()
    monkeypatch.chdir(tmp_path)
    return Path("run") / "m.pt"


@pytest.mark.parametrize("key", list(RECORDED))
def test_a_recorded_relative_path_is_read_beside_the_checkpoint_from_another_folder(tmp_path, monkeypatch, key):
    # it was read from the current folder only: not found, or another file of that name
    ckpt = _recorded_in_run(tmp_path, monkeypatch)
    place = RECORDED[key].replace("train.pt", "run/train.pt").replace("images", "run/images") \
        .replace("nets.py", "run/nets.py").replace("losses.py", "run/losses.py")
    assert recorded_spec(RECORDED[key], key, ckpt) == place
    monkeypatch.chdir("run")
    assert recorded_spec(RECORDED[key], key, Path("m.pt")) == RECORDED[key]  # beside is here: as written


@pytest.mark.parametrize("key", list(RECORDED))
def test_a_recorded_path_both_here_and_beside_the_checkpoint_is_refused_naming_both(tmp_path, monkeypatch, key):
    ckpt = _recorded_in_run(tmp_path, monkeypatch)
    for name in ("train.pt", "nets.py", "losses.py"):
        Path(name).write_text("another")
    Path("images").mkdir()
    option = "--" + key.replace("_", "-")
    with pytest.raises(InputError, match=rf"records the {key} .*both .* \(here\) and run/.* \(beside the "
                                         rf"checkpoint\) exist; pass {option} SPEC naming one"):
        recorded_spec(RECORDED[key], key, ckpt)


@pytest.mark.parametrize("key,spec", [("data", "tensors:run/train.pt"), ("data", "digits:train"),
                                      ("model", "mlp:64,10"), ("model", "pkg.mod:make"), ("loss", "ce")])
def test_a_recorded_spec_relative_to_here_or_naming_no_file_stays_as_written(tmp_path, monkeypatch, key, spec):
    """benchmarks/time_to_answer_models.py records `tensors:benchmarks/.cache/…` from the repository root."""
    ckpt = _recorded_in_run(tmp_path, monkeypatch)
    assert recorded_spec(spec, key, ckpt) == spec
    absolute = f"tensors:{tmp_path / 'run' / 'train.pt'}"
    assert recorded_spec(absolute, "data", ckpt) == absolute


def test_a_recorded_factory_beside_the_checkpoint_still_needs_trust(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "ran"
    (run / "nets.py").write_text(f"open({str(marker)!r}, 'w').close()\nimport torch\n"
                                 "def make(): return torch.nn.Linear(4, 2)\n")
    save_checkpoint(run / "m.pt", "nets.py:make", nn.Linear(4, 2).state_dict())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"names the model factory 'run/nets.py:make', which would import and run "
                                         r"code; if you trust it, pass --model run/nets.py:make"):
        load_model("run/m.pt")
    assert not marker.exists()
    assert isinstance(load_model("run/m.pt", trust_pickle=True).model, nn.Linear) and marker.exists()


MISSING = {"data": "tensors:train.pt", "eval_data": "imagefolder:images", "model": "nets.py:make",
           "loss": "losses.py:fn"}


@pytest.mark.parametrize("key", list(MISSING))
def test_a_recorded_path_in_neither_folder_says_it_was_recorded_where_it_looked_and_the_fix(tmp_path, monkeypatch, key):
    # the reader said only "data file train.pt not found": not that the file recorded it, nor where it looked
    monkeypatch.chdir(tmp_path)
    Path("run").mkdir()
    option = "--" + key.replace("_", "-")
    file = MISSING[key].split(":")[1 if key.endswith("data") else 0]
    with pytest.raises(InputError, match=rf"checkpoint run/m.pt records the {key} '{MISSING[key]}', but neither "
                                         rf"{file} \(here\) nor run/{file} \(beside the checkpoint\) exists; "
                                         rf"pass {option} SPEC naming where it is now"):
        recorded_spec(MISSING[key], key, Path("run/m.pt"))
    with pytest.raises(InputError, match=rf"checkpoint m.pt records the {key} .*, but {file} does not exist; "
                                         rf"pass {option} SPEC"):
        recorded_spec(MISSING[key], key, Path("m.pt"))
    absolute = MISSING[key].replace(file, str(tmp_path / file))
    with pytest.raises(InputError, match=rf"but {tmp_path / file} does not exist; pass {option} SPEC"):
        recorded_spec(absolute, key, Path("run/m.pt"))


def test_a_recorded_torchvision_root_in_neither_folder_stays_as_written_for_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert recorded_spec("cifar10:images:test", "eval_data", Path("run/m.pt")) == "cifar10:images:test"


def test_a_whole_module_pickled_after_apply_is_read_with_the_set_it_was_pruned_with(tmp_path):
    """``Pruning.apply`` records the prunable set on the model; a module pickled whole keeps
    it, and the commands reading it (``--trust-pickle``) count that set, as the library does
    (they counted the default set: N = 888 where the pruning ranked the 768 of layer 0)."""
    import prunelimit
    from prunelimit.inputs import load_inputs
    from prunelimit.models.params import ParamSelection

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    torch.save(prunelimit.prune(model, 0.5, exclude=("2",)).apply(model), tmp_path / "whole.pt")
    inputs = load_inputs(tmp_path / "whole.pt", trust_pickle=True)
    assert inputs.selection == ParamSelection(exclude=("2",)) and not inputs.load_warnings
    assert [name for name, _ in prunable_parameters(inputs.model, inputs.selection)] == ["0.weight"]


_TIED_NET = '''
import torch
from torch import nn


class Tied(nn.Module):
    """An encoder and a decoder sharing one weight, as language models tie embedding and head."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(64, 64)
        self.dec = nn.Linear(64, 64)
        self.dec.weight = self.enc.weight
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(torch.relu(self.dec(torch.relu(self.enc(x.flatten(1))))))


def make():
    return Tied()
'''


def _tied_spec(tmp_path: Path) -> str:
    (tmp_path / "tiednet.py").write_text(_TIED_NET)
    return f"{tmp_path / 'tiednet.py'}:make"


def _saved(tmp_path: Path, name: str, state) -> Path:
    path = tmp_path / name
    torch.save(state, path)
    return path


@pytest.mark.parametrize("form", ["safetensors-save-model", "one-key", "one-key-lightning"])
def test_a_tied_weight_stored_under_one_of_its_names_loads_into_both(tmp_path, form):
    """safetensors' ``save_model`` (and Hugging Face files) keep one name of a tied weight; it
    was refused as "missing keys dec.weight"."""
    from safetensors.torch import save_model

    spec = _tied_spec(tmp_path)
    torch.manual_seed(1)
    model = build_model(spec).eval()
    once = {k: v for k, v in model.state_dict().items() if k != "dec.weight"}
    if form == "safetensors-save-model":
        path = tmp_path / "tied.safetensors"
        save_model(model, str(path))
    else:
        wrapped = {f"model.{k}": v for k, v in once.items()} if form == "one-key-lightning" else once
        path = _saved(tmp_path, "tied.pt", {"state_dict": wrapped})
    loaded = load_model(path, spec).model
    assert loaded.dec.weight is loaded.enc.weight  # still one tensor
    x = torch.randn(3, 64)
    assert torch.equal(loaded(x), model(x))


def test_a_tied_weight_stored_twice_with_different_values_is_refused_naming_both(tmp_path):
    """The model holds one tensor for both names: loading silently kept the last one."""
    spec = _tied_spec(tmp_path)
    state = {k: v.clone() for k, v in build_model(spec).state_dict().items()}
    state["dec.weight"] += 1
    with pytest.raises(InputError, match=r"'enc.weight' and 'dec.weight' are one tied tensor in the model"):
        load_model(_saved(tmp_path, "untied.pt", state), spec)


def test_a_pruned_tied_weight_keeps_its_one_mask_under_its_first_name(tmp_path):
    """``prune`` writes the tied weight under both names and its mask under the name the
    prunable set uses; copying the mask to the other name made every command warn about a
    mask "outside the prunable set"."""
    spec = _tied_spec(tmp_path)
    state = build_model(spec).state_dict()
    keep = torch.rand(64, 64, generator=torch.Generator().manual_seed(0)) > 0.5
    path = tmp_path / "pruned.pt"
    save_checkpoint(path, None, state, masks={"enc.weight": keep})
    assert list(load_model(path, spec).masks) == ["enc.weight"]


@pytest.mark.parametrize("whole", [False, True])
def test_a_tied_weight_pruned_on_each_module_loads_with_one_mask_under_its_first_name(tmp_path, whole):
    """``torch.nn.utils.prune`` on each module holding a tied weight (what ``Pruning.apply`` does)
    saves ``dec.weight_orig``/``dec.weight_mask`` too: the mask under ``dec.weight`` named no
    parameter, so every command warned of a mask "outside the prunable set" and ``prune`` of
    the file failed ("mask names ['dec.weight'] are not parameters of the model")."""
    from prunelimit.pruning.masks import prune_with_torch

    spec = _tied_spec(tmp_path)
    torch.manual_seed(2)
    model = build_model(spec)
    keep = torch.rand(64, 64, generator=torch.Generator().manual_seed(0)) > 0.5
    prune_with_torch(model, {"enc.weight": keep})
    assert {"enc.weight_mask", "dec.weight_mask"} <= set(model.state_dict())
    path = _saved(tmp_path, "apply.pt", model if whole else model.state_dict())
    loaded = load_model(path, None if whole else spec, trust_pickle=whole)
    assert list(loaded.masks) == ["enc.weight"] and torch.equal(loaded.masks["enc.weight"], keep)
    assert loaded.model.dec.weight is loaded.model.enc.weight


@pytest.mark.parametrize("spec", ["mlp:64,16", "mlp:64,32,16,12", "lenet5"])
def test_weights_of_another_architecture_name_the_mlp_they_are_or_say_to_check_the_model(tmp_path, spec):
    """A 3-layer MLP's state dict under another ``--model`` said only which keys and shapes
    differ: the message names the MLP spec its shapes are, the fix to type."""
    path = tmp_path / "mlp3.pt"
    torch.save(build_model("mlp:64,32,16,10").state_dict(), path)
    with pytest.raises(InputError, match=r"^checkpoint .*mlp3.pt does not fit the model: .*; its weights are an MLP's, "
                                         r"--model mlp:64,32,16,10$"):
        load_model(path, spec)


@pytest.mark.parametrize("layers", [
    [nn.Linear(64, 32), nn.ReLU(), nn.Linear(31, 10)],  # shapes that do not chain: no MLP
    [nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10, bias=False)],  # the zoo's MLP has biases
    [nn.Linear(64, 32), nn.Linear(32, 10)],  # keys 0 and 1: not mlp's 0, 2, …
])
def test_weights_that_are_no_zoo_mlp_say_to_check_the_model(tmp_path, layers):
    path = tmp_path / "other.pt"
    torch.save(nn.Sequential(*layers).state_dict(), path)
    with pytest.raises(InputError, match=r"does not fit the model: .*; check --model \(the architecture of the "
                                         r"weights\)$"):
        load_model(path, "mlp:64,16")


def test_a_shape_mismatch_says_which_shape_is_the_files(tmp_path):
    """"2.weight (10, 13) vs (10, 12)" named both shapes but not whose each was: the file's
    comes first, the model's second, said on the first; the next read alike."""
    state = build_model("mlp:64,12,10").state_dict()
    state["2.weight"], state["2.bias"] = torch.zeros(10, 13), torch.zeros(11)
    path = tmp_path / "wide.pt"
    torch.save(state, path)
    with pytest.raises(InputError, match=r"does not fit the model: shape mismatch 2\.weight \(10, 13\) in the file vs "
                                         r"\(10, 12\) in the model, 2\.bias \(11,\) vs \(10,\); check --model"):
        load_model(path, "mlp:64,12,10")
