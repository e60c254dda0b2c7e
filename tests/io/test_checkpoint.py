"""Every checkpoint format of docs/guide.md loads to the same weights; bad files fail cleanly."""

from __future__ import annotations

import os
import pickle
import re
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch.nn.utils import prune

from prunelimit.errors import InputError, UsageError
from prunelimit.io.checkpoint import read_checkpoint, save_checkpoint, training_notes
from prunelimit.models.load import load_model
from tests.conftest import SPEC, cut_short, save_as


def _same(model, reference) -> bool:
    a, b = model.state_dict(), reference.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model_state_dict": sd, "optimizer": {}},
        lambda sd: {"model": sd, "optimizer": {}, "epoch": 3, "args": "--lr 0.1"},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
        lambda sd: {f"_orig_mod.{k}": v for k, v in sd.items()},
        lambda sd: {f"module._orig_mod.{k}": v for k, v in sd.items()},
        lambda sd: {"state_dict": {f"net.{k}": v for k, v in sd.items()}, "epoch": 3},  # LightningModule.net
        lambda sd: {"state_dict": {"model": sd}, "epoch": 3},  # these two said "entry 'model' is not a tensor"
        lambda sd: {"model": {"state_dict": {f"module.{k}": v for k, v in sd.items()}}, "optimizer": {}},
    ],
    ids=["plain", "nested", "model_state_dict", "model", "ddp-prefix", "compile-prefix", "both-prefixes",
         "lightning", "nested-twice", "nested-twice-ddp"],
)
def test_state_dict_forms_load_identically(tmp_path, tiny_model, wrap):
    path = tmp_path / "ckpt.pt"
    torch.save(wrap(tiny_model.state_dict()), path)
    assert _same(load_model(path, SPEC).model, tiny_model)


@pytest.mark.parametrize(("record", "weights_from", "ignored"), [
    ({"epoch": 3, "model_state_dict": "W", "optimizer_state_dict": {}}, "model_state_dict",
     ("epoch", "optimizer_state_dict")),
    ({"state_dict": "W", "epoch": 3}, "state_dict", ("epoch",)),
    ({"model": {"state_dict": "W", "step": 9}, "optimizer": {}}, "model.state_dict", ("optimizer", "model.step")),
    ({"model": "W"}, "model", ()),
    ("W", None, ()),
])
def test_a_training_record_names_what_it_leaves_unused(tmp_path, tiny_model, record, weights_from, ignored):
    """Where a training record's weights were read and which of its entries were not used
    (an optimizer state, an epoch), for the one warning every report gives (``training_notes``)."""
    def filled(value):
        if value == "W":
            return tiny_model.state_dict()
        return {k: filled(v) for k, v in value.items()} if isinstance(value, dict) else value

    torch.save(filled(record), tmp_path / "r.pt")
    raw = read_checkpoint(tmp_path / "r.pt")
    assert (raw.weights_from, raw.ignored) == (weights_from, ignored)
    said = f"checkpoint {tmp_path / 'r.pt'} is a training record: the weights were read from {weights_from!r}; "
    assert training_notes(raw) == ((said + f"{', '.join(map(repr, ignored))} beside them are not used",)
                                   if ignored else ())


def test_weights_under_another_name_are_named_with_the_fix(tmp_path, tiny_model):
    path = tmp_path / "record.pt"
    torch.save({"net": tiny_model.state_dict(), "ema": tiny_model.state_dict(), "epoch": 3}, path)
    with pytest.raises(InputError, match=r"under 'net', 'ema'.*torch.save\(ckpt\['net'\]"):
        read_checkpoint(path)


def test_own_format_needs_no_model_spec(own_ckpt, tiny_model):
    loaded = load_model(own_ckpt)
    assert loaded.spec == SPEC and loaded.source == "prunelimit"
    assert loaded.meta["data"] == "digits:train"
    assert _same(loaded.model, tiny_model)


def test_own_format_round_trips_masks(tmp_path, tiny_model):
    mask = torch.rand(tiny_model[0].weight.shape, generator=torch.Generator().manual_seed(1)) > 0.5
    path = save_checkpoint(tmp_path / "m.pt", SPEC, tiny_model.state_dict(), masks={"0.weight": mask})
    assert torch.equal(load_model(path).masks["0.weight"], mask)


def test_safetensors(tmp_path, tiny_model):
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, str(path))
    assert _same(load_model(path, SPEC).model, tiny_model)


def _safetensors(sd, path):
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))


@pytest.mark.parametrize(
    "name, write",
    [
        ("w.pt", _safetensors),
        ("w.bin", _safetensors),
        ("w.safetensors", torch.save),
        ("w.safetensors", lambda sd, p: torch.save(sd, p, _use_new_zipfile_serialization=False)),
        ("w.npz", torch.save),
    ],
    ids=["safetensors-as-pt", "safetensors-as-bin", "torch-as-safetensors", "legacy-as-safetensors", "torch-as-npz"],
)
def test_the_format_is_read_from_the_content_not_the_name(tmp_path, tiny_model, name, write):
    # it went by the extension: "corrupt pickle data" or safetensors' "header too large"
    write(tiny_model.state_dict(), tmp_path / name)
    assert _same(load_model(tmp_path / name, SPEC).model, tiny_model)


@pytest.mark.parametrize("name", ["w.npz", "w.pt"])
def test_a_numpy_archive_is_named_as_such(tmp_path, tiny_model, name):
    with open(tmp_path / name, "wb") as fh:  # np.savez would append .npz to the name
        np.savez(fh, **{k: v.numpy() for k, v in tiny_model.state_dict().items()})
    with pytest.raises(InputError, match=r"is a numpy \.npz archive, not a PyTorch or safetensors checkpoint"):
        read_checkpoint(tmp_path / name)


@pytest.mark.parametrize("name", ["m.pt2", "m.pt"])
def test_a_torch_export_program_is_named_as_such_with_the_fix(tmp_path, tiny_model, name):
    """torch.load read it as a damaged file: 'PytorchStreamReader failed locating file
    data.pkl: … This is an internal miniz error … there is a high likelihood tha' (cut)."""
    program = torch.export.export(tiny_model.eval(), (torch.randn(2, 64),))
    torch.export.save(program, tmp_path / name)
    with pytest.raises(InputError, match=r"is a torch\.export program \(torch\.export\.save\), which is not read "
                                         r"here; save the weights with torch\.save\(model\.state_dict\(\), FILE\)"):
        read_checkpoint(tmp_path / name, trust_pickle=True)


def test_torch_prune_weight_orig_and_mask_are_folded(tmp_path, tiny_model):
    prune.l1_unstructured(tiny_model[0], "weight", amount=0.3)
    expected = tiny_model[0].weight.detach().clone()
    path = tmp_path / "pruned.pt"
    torch.save(tiny_model.state_dict(), path)
    loaded = load_model(path, SPEC)
    assert torch.equal(loaded.model[0].weight, expected)
    assert torch.equal(loaded.masks["0.weight"], tiny_model[0].weight_mask.bool())
    assert int((~loaded.masks["0.weight"]).sum()) == round(0.3 * expected.numel())


def test_a_tied_weight_orig_folds_to_one_tensor_under_every_key():
    """Each ``weight_orig * weight_mask`` was a new tensor: a Parameter tied into two modules
    came out as two tensors (stored twice by export, untied by load_state_dict). Both
    forms of a tied torch-prune state dict now fold to one tensor: both modules pruned
    by one mask (``orig`` unpruned), and the first one only, ``orig`` already pruned (as
    ``prune --format torch-prune`` writes it, the later key holding ``orig`` itself)."""
    from prunelimit.io.checkpoint import normalise_state_dict

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Linear(6, 6))
    model[1].weight = model[0].weight
    keep = torch.rand(6, 6) > 0.5
    for layer in model:
        prune.custom_from_mask(layer, "weight", keep)
    state, masks = normalise_state_dict(model.state_dict())
    assert state["1.weight"] is state["0.weight"] and torch.equal(state["0.weight"], model[0].weight)
    assert not bool(state["0.weight"][~keep].any()) and sorted(masks) == ["0.weight", "1.weight"]
    once = {"0.weight_orig": state["0.weight"], "0.weight_mask": keep.float(), "0.bias": model[0].bias.detach(),
            "1.weight": state["0.weight"], "1.bias": model[1].bias.detach()}
    state, masks = normalise_state_dict(once)
    assert state["1.weight"] is state["0.weight"] is once["0.weight_orig"] and list(masks) == ["0.weight"]
    orig = model[0].weight_orig.detach()
    other = {"0.weight_orig": orig, "0.weight_mask": keep.float(), "1.weight_orig": orig, "1.weight_mask": torch.ones(6, 6)}
    state, _ = normalise_state_dict(other)  # masked otherwise: two weights, each its own
    assert state["1.weight"] is orig and torch.equal(state["0.weight"], orig * keep)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_a_torch_prune_mask_of_another_float_type_keeps_the_weights_type(dtype):
    """``weight_orig * weight_mask`` promoted bfloat16 weights beside a float32 mask to float32:
    the weights changed type (an export twice the size, of another dtype than the model's)."""
    from prunelimit.io.checkpoint import normalise_state_dict

    orig = torch.randn(4, 4).to(dtype)
    keep = torch.rand(4, 4) > 0.5
    state, _ = normalise_state_dict({"w_orig": orig, "w_mask": keep.float()})
    assert state["w"].dtype == dtype and torch.equal(state["w"], orig.masked_fill(~keep, 0))


def test_a_torch_prune_mask_of_another_shape_is_named_damaged(tmp_path, tiny_model):
    """``weight_orig * weight_mask`` of other shapes raised torch's own error (an internal
    error, exit 5) or broadcast to a weight of the wrong shape; the pair is left unfolded and
    the mask named, as a prunelimit file's mask of another shape is."""
    from prunelimit.io.checkpoint import state_and_masks

    state = {k: v for k, v in tiny_model.state_dict().items() if k != "0.weight"}
    for mask in (torch.ones(3, 3), torch.ones(1, tiny_model[0].in_features)):  # mismatched, broadcastable
        torch.save({**state, "0.weight_orig": tiny_model[0].weight.detach(), "0.weight_mask": mask},
                   tmp_path / "bad.pt")
        with pytest.raises(InputError, match="the mask '0.weight' matches no weight of its shape; the file is damaged"):
            state_and_masks(read_checkpoint(tmp_path / "bad.pt"))


def test_wrapper_prefix_is_dropped_from_weights_and_masks(tmp_path, tiny_model):
    prune.l1_unstructured(tiny_model[0], "weight", amount=0.3)
    wrapper = torch.nn.Module()
    wrapper.model = tiny_model
    path = tmp_path / "lightning.pt"
    torch.save({"state_dict": wrapper.state_dict()}, path)
    loaded = load_model(path, SPEC)
    assert torch.equal(loaded.model[0].weight, tiny_model[0].weight)
    assert torch.equal(loaded.masks["0.weight"], tiny_model[0].weight_mask.bool())


def test_two_keys_that_name_one_weight_once_the_prefixes_are_dropped_must_agree(tmp_path, tiny_model):
    """``0.weight`` beside ``module.0.weight``: the last one was loaded, silently."""
    state = dict(tiny_model.state_dict())
    first = next(iter(state))
    path = tmp_path / "both.pt"
    torch.save({**state, f"module.{first}": state[first].clone()}, path)
    assert _same(load_model(path, SPEC).model, tiny_model)  # one value saved twice: no doubt which
    torch.save({**state, f"module.{first}": torch.zeros_like(state[first])}, path)
    with pytest.raises(InputError, match=rf"keys '{first}' and 'module.{first}' both name {first!r} once the "
                                         r"module./_orig_mod. prefixes are dropped, and hold different values"):
        load_model(path, SPEC)


def test_wrapper_beside_other_modules_is_refused_naming_the_prefix(tmp_path, tiny_model):
    wrapper = torch.nn.Module()
    wrapper.criterion = torch.nn.CrossEntropyLoss(weight=torch.ones(10))  # its buffer sorts first
    wrapper.model = tiny_model
    path = tmp_path / "lightning.pt"
    torch.save({"state_dict": wrapper.state_dict()}, path)
    with pytest.raises(InputError, match=r"missing keys 0.weight.*under 'model\.' beside other modules"):
        load_model(path, SPEC)
    torch.save({f"{'x' if k.startswith('0.') else 'y'}.{k}": v for k, v in tiny_model.state_dict().items()}, path)
    with pytest.raises(InputError) as refused:  # the layers under two prefixes: no one submodule to save
        load_model(path, SPEC)
    assert "submodule" not in str(refused.value)


class Evil:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_that_runs_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "x": Evil(str(marker))}, path)
    with pytest.raises(InputError, match="--trust-pickle"):
        read_checkpoint(path)
    assert not marker.exists()


def test_whole_module_needs_trust_pickle(tmp_path, tiny_model):
    path = tmp_path / "module.pt"
    torch.save(tiny_model, path)
    with pytest.raises(InputError, match="--trust-pickle"):
        load_model(path)
    assert _same(load_model(path, trust_pickle=True).model, tiny_model)


def test_a_training_record_of_numpy_values_and_args_loads_without_trust(tmp_path, tiny_model):
    # timm's and DeiT's records hold args (argparse.Namespace), others a numpy best accuracy or
    # history: weights_only refused them, so such a file needed --trust-pickle, which runs anything
    import argparse

    path = tmp_path / "record.pth"
    torch.save({"model": tiny_model.state_dict(), "args": argparse.Namespace(lr=0.1), "best": np.float64(0.93),
                "history": np.arange(5, dtype=np.float32), "epoch": np.int64(7)}, path)
    assert _same(load_model(path, SPEC).model, tiny_model)


class _ObjectArrayBomb:
    """An object array that declares 10⁹ elements and holds 3: numpy fills the declared shape first."""

    def __reduce__(self):
        reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
        return reconstruct, (np.ndarray, (0,), b"b"), (1, (10**9,), np.dtype("O"), False, [0] * 3)


@pytest.mark.parametrize("value", [np.array([1, "a", None], dtype=object), _ObjectArrayBomb()],
                         ids=["object-array", "object-array-bomb"])
def test_numpy_object_arrays_stay_refused(tmp_path, tiny_model, value):
    path = tmp_path / "record.pt"
    torch.save({"state_dict": tiny_model.state_dict(), "extra": value}, path)
    with pytest.raises(InputError, match=r"contains pickled Python objects \(numpy\.dtypes\.ObjectDType\)"):
        read_checkpoint(path)


def test_a_whole_module_of_a_class_not_importable_here_says_what_to_do(tmp_path):
    # a model class defined in the script that saved it: the message ended at torch's AttributeError
    class Local(torch.nn.Linear):
        pass

    Local.__module__, Local.__qualname__ = "gone_module_xyz", "Net"
    sys.modules["gone_module_xyz"] = type(sys)("gone_module_xyz")
    sys.modules["gone_module_xyz"].Net = Local
    try:
        torch.save(Local(3, 2), tmp_path / "whole.pt")
    finally:
        del sys.modules["gone_module_xyz"]
    with pytest.raises(InputError, match=r"could not be unpickled \(ModuleNotFoundError: No module named "
                                         r"'gone_module_xyz'\); the classes it names must be importable here, "
                                         r"or save model.state_dict\(\) and pass --model SPEC"):
        read_checkpoint(tmp_path / "whole.pt", trust_pickle=True)


def test_torchscript_best_effort(tmp_path, tiny_model):
    """TorchScript is code, so it loads only with trust_pickle (tests/test_untrusted_code.py)."""
    path = tmp_path / "scripted.pt"
    torch.jit.script(tiny_model).save(str(path))
    with pytest.raises(InputError, match="TorchScript.*--trust-pickle"):
        load_model(path)
    loaded = load_model(path, trust_pickle=True)
    assert loaded.source == "torchscript"
    x = torch.randn(3, 64)
    assert torch.allclose(loaded.model(x), tiny_model(x))


class _Nested(torch.nn.Module):
    """Nested modules, BatchNorm running statistics and a buffer of its own: what real archives hold."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU())
        self.head = torch.nn.Linear(16, 10)
        self.register_buffer("scale", torch.full((1,), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1))) * self.scale


@pytest.mark.parametrize("extra", [{}, {"notes.txt": b"trained on digits"}], ids=["plain", "extra-file"])
@pytest.mark.parametrize("make", [torch.jit.script, lambda m: torch.jit.trace(m, torch.randn(4, 64))],
                         ids=["scripted", "traced"])
def test_every_kind_of_torchscript_archive_loads_with_trust(tmp_path, make, extra):
    """A traced archive also keeps the example inputs' pickle (``traced_inputs.pkl``), whose
    storages torch writes empty and never reads on loading: it was refused as a size bomb."""
    torch.manual_seed(0)
    model = _Nested().eval()
    path = tmp_path / "net.pt"
    torch.jit.save(make(model), str(path), _extra_files=extra)
    loaded = load_model(path, trust_pickle=True)
    x = torch.randn(5, 64)
    assert torch.equal(loaded.model(x), model(x))
    assert _same(loaded.model, model)


def test_a_frozen_torchscript_archive_is_refused_naming_the_freeze(tmp_path):
    """``torch.jit.freeze`` makes the weights constants of the code: nothing was prunable, and
    ``bounds`` advised making "every selected parameter" trainable."""
    path = tmp_path / "frozen.pt"
    torch.jit.save(torch.jit.freeze(torch.jit.script(_Nested().eval())), str(path))
    with pytest.raises(InputError, match=r"frozen.pt holds no parameters .torch.jit.freeze"):
        read_checkpoint(path, trust_pickle=True)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"\x00\x01garbage" * 100, "not a readable PyTorch file"),
    ],
    ids=["empty", "random-bytes"],
)
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_checkpoint(path)


@pytest.mark.parametrize("kind", ["own", "zip", "legacy", "torchscript", "safetensors", "sparse"])
def test_a_truncated_file_is_named_truncated(tmp_path, tiny_model, kind):
    """A download or copy cut short, in every format: a zip (TorchScript included) said
    "OSError: [Errno 22] Invalid argument" or a miniz error, safetensors "incomplete
    metadata", the legacy format "unexpected EOF"."""
    path = tmp_path / f"m.{'safetensors' if kind in ('safetensors', 'sparse') else 'pt'}"
    if kind == "own":
        save_checkpoint(path, SPEC, tiny_model.state_dict())
    elif kind == "torchscript":
        torch.jit.save(torch.jit.script(tiny_model), str(path))
    elif kind == "sparse":
        from prunelimit.sparse.sparse_file import write_sparse

        write_sparse(path, tiny_model.state_dict(), {"0.weight": tiny_model[0].weight != 0})
    else:
        save_as(tiny_model.state_dict(), path, kind)
    assert read_checkpoint(path, trust_pickle=True).state_dict
    for cut in cut_short(path):
        for trust in (False, True):
            with pytest.raises(InputError, match=f"^checkpoint {re.escape(str(cut))}( is truncated|: .* the file is "
                                                 "truncated, corrupt or hostile$)"):
                read_checkpoint(cut, trust_pickle=trust)


def test_missing_file():
    with pytest.raises(InputError, match="not found"):
        read_checkpoint("/nonexistent/x.pt")


def test_a_folder_or_a_fifo_is_named_for_what_it_is(tmp_path):
    """Not "not found": the path is there, and the fix differs."""
    with pytest.raises(InputError, match="is a folder; give the checkpoint file in it"):
        read_checkpoint(tmp_path)
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is a device, FIFO or socket"):
        read_checkpoint(fifo)


def test_truncated_safetensors(tmp_path, tiny_model):
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, str(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="safetensors"):
        read_checkpoint(path)


def test_wrong_architecture_names_keys(tmp_path, tiny_model):
    path = tmp_path / "ckpt.pt"
    torch.save(tiny_model.state_dict(), path)
    with pytest.raises(InputError, match=r"shape mismatch 0\.weight"):
        load_model(path, "mlp:64,20,10")
    with pytest.raises(InputError, match=r"unexpected keys 2\.weight, 2\.bias"):
        load_model(path, "mlp:64,12")
    with pytest.raises(InputError, match=r"missing keys 4\.weight"):
        load_model(path, "mlp:64,12,10,10")


def test_bare_state_dict_asks_for_model(tmp_path, tiny_model):
    path = tmp_path / "ckpt.pt"
    torch.save(tiny_model.state_dict(), path)
    with pytest.raises(UsageError, match="--model"):
        load_model(path)


def test_non_state_dict_object(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(InputError, match="not a state dict"):
        read_checkpoint(path)


def test_save_refuses_overwrite_without_force(own_ckpt, tiny_model):
    before = own_ckpt.read_bytes()
    with pytest.raises(UsageError, match="--force"):
        save_checkpoint(own_ckpt, SPEC, tiny_model.state_dict())
    assert own_ckpt.read_bytes() == before
    save_checkpoint(own_ckpt, SPEC, tiny_model.state_dict(), force=True)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch, tiny_model):
    def boom(*args, **kwargs):
        raise pickle.PicklingError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(pickle.PicklingError):
        save_checkpoint(tmp_path / "out.pt", SPEC, tiny_model.state_dict())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dtype", [torch.bits8, torch.bits16])
def test_a_tensor_of_raw_bits_is_refused(tmp_path, tiny_model, dtype):
    """bits dtypes hold no numbers: loading them into the model was an internal error (exit 5)."""
    state = dict(tiny_model.state_dict())
    name = next(iter(state))
    state[name] = torch.zeros(state[name].shape, dtype=dtype)
    torch.save(state, tmp_path / "bits.pt")
    with pytest.raises(InputError, match=f"tensor '{name}' has dtype {str(dtype)[6:]}, which holds no numbers"):
        read_checkpoint(tmp_path / "bits.pt")


@pytest.mark.parametrize("dtype", [torch.uint16, torch.float8_e4m3fn, torch.bfloat16, torch.bool])
def test_a_tensor_of_numbers_in_any_real_dtype_loads(tmp_path, tiny_model, dtype):
    state = {k: v.to(dtype) for k, v in tiny_model.state_dict().items()}
    torch.save(state, tmp_path / "w.pt")
    assert read_checkpoint(tmp_path / "w.pt").state_dict.keys() == state.keys()


@pytest.mark.parametrize("masks", [{"0.weight": torch.ones(3, 3, dtype=torch.bool)},  # wrong shape
                                   {"9.weight": torch.ones(32, 64, dtype=torch.bool)}],  # no such weight
                         ids=["shape", "name"])
@pytest.mark.parametrize("command", [("info",), ("export", "-o", "{out}")])
def test_a_damaged_mask_is_refused_by_every_command(cli, tmp_path, tiny_model, masks, command):
    """One check where the file is read: info used to accept what export refused."""
    from tests.conftest import SPEC

    path = tmp_path / "damaged.pt"
    save_checkpoint(path, SPEC, tiny_model.state_dict(), masks)
    result = cli(command[0], path, *(a.format(out=tmp_path / "x.safetensors") for a in command[1:]))
    assert result.exit_code == 3
    assert "matches no weight of its shape; the file is damaged" in result.stderr


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16, torch.float8_e4m3fn])
def test_pruned_zeros_read_as_positive_zeros_in_every_float_format(tmp_path, dtype):
    """A weight pruned by ``p * mask`` holds −0.0 where a negative weight was pruned; it is
    read as +0.0 there (as ``prune`` writes it), kept −0.0 and values untouched, in every
    float format, float8 included (torch has no masked_fill for it: the bits are zeroed)."""
    from prunelimit.io.checkpoint import state_and_masks

    weight = torch.tensor([[-1.5, 2.0, -0.0], [0.5, -3.0, 1.0]]).to(dtype)
    keep = torch.tensor([[False, True, True], [True, False, True]])
    save_checkpoint(tmp_path / "c.pt", None, {"w": weight * keep.to(dtype)}, {"w": keep})
    state, masks = state_and_masks(read_checkpoint(tmp_path / "c.pt"))
    read = state["w"].float()
    assert torch.equal(masks["w"], keep) and torch.equal(read, (weight * keep.to(dtype)).float())
    assert torch.signbit(read).tolist() == [[False, False, True], [False, False, False]]


def test_the_same_content_written_twice_is_the_same_bytes(tmp_path):
    """An atomic write goes through a random temporary name, which torch put inside the archive
    (its folder ``.p.pt.x8k2…/data.pkl``): the same pruned model saved twice differed in bytes.
    Every torch archive prunelimit writes (its own format, TorchScript) is now free of it."""
    from prunelimit.io.atomic import write_atomic
    from prunelimit.io.checkpoint import checkpoint_writer, torchscript_writer

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    masks = {"0.weight": torch.tensor([[True, False, True], [False, True, True]])}
    for writer in (checkpoint_writer("mlp:3,2", model.state_dict(), masks),
                   torchscript_writer(torch.jit.script(model), masks, {})):
        first = write_atomic(tmp_path / "a.pt", writer, force=True).read_bytes()
        assert write_atomic(tmp_path / "a.pt", writer, force=True).read_bytes() == first
        assert write_atomic(tmp_path / "b.pt", writer, force=True).read_bytes() == first
        loaded = load_model(tmp_path / "a.pt", trust_pickle=True)
        assert torch.equal(loaded.masks["0.weight"], masks["0.weight"])


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_damaged_pruned_record_in_safetensors_metadata_is_one_input_error(tmp_path, text):
    """``prune --format safetensors`` keeps ``meta.pruned`` (its prunable set) in the header
    metadata as JSON; anything else there is a damaged file, named, not a crash."""
    from prunelimit.io.checkpoint import SAFETENSORS_PRUNED

    save_file({"w": torch.zeros(2, 2)}, str(tmp_path / "p.safetensors"), metadata={SAFETENSORS_PRUNED: text})
    with pytest.raises(InputError, match="metadata is not a JSON object; the file is damaged"):
        read_checkpoint(tmp_path / "p.safetensors")
    save_file({"w": torch.zeros(2, 2)}, str(tmp_path / "ok.safetensors"),
              metadata={SAFETENSORS_PRUNED: '{"include": ["rnn"], "exclude": []}'})
    assert read_checkpoint(tmp_path / "ok.safetensors").meta == {"pruned": {"include": ["rnn"], "exclude": []}}


@pytest.mark.parametrize("dtype, nbytes", [("F4", 2), ("F6_E2M3", 3), ("F8_E8M0", 4)])
def test_a_safetensors_dtype_torch_has_no_type_for_is_one_input_error(tmp_path, dtype, nbytes):
    """The safetensors format names dtypes (4-bit, 6-bit, E8M0 floats) that its torch side maps to
    no torch type: a file holding one ended in an internal error (exit 5, KeyError: 'F8_E8M0')."""
    import json
    import struct

    from prunelimit.sparse.sparse_file import read_sparse

    header = json.dumps({"w": {"dtype": dtype, "shape": [4], "data_offsets": [0, nbytes]}}).encode()
    path = tmp_path / "odd.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(nbytes))
    named = f"not a readable safetensors file .*tensor of dtype {dtype}, which torch does not read"
    for read in (read_checkpoint, read_sparse):  # a checkpoint, and an exported file read back
        with pytest.raises(InputError, match=named):
            read(path)


class _Dtype:
    """``numpy.dtype(*args)`` as a pickle builds it, with ``state`` for its ``__setstate__`` (numpy's own pickles pass one)."""

    def __init__(self, args, state=None):
        self.args, self.state = args, state

    def __reduce__(self):
        return (np.dtype, self.args) if self.state is None else (np.dtype, self.args, self.state)


class _Array:
    """A numpy array as its pickle builds it, of the dtype ``dtype`` (a ``_Dtype``) and ``items``."""

    def __init__(self, shape, dtype, items):
        self.shape, self.dtype, self.items = shape, dtype, items

    def __reduce__(self):
        reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
        return reconstruct, (np.ndarray, (0,), b"b"), (1, self.shape, self.dtype, False, self.items)


# numpy.dtype is listed for weights-only loading (numpy values in training records), and its
# arguments and state could make a dtype the ObjectDType refusal never sees: these loaded,
# holding Python objects or a float dtype flagged as holding pointers; with fewer items than
# its shape, the structured one crashed numpy (SIGSEGV), and a large shape made it fill gigabytes
HOSTILE_NUMPY = {
    "object-dtype-without-state": (_Array((3,), _Dtype(("O8",)), [0, 1, 2]), "numpy.dtypes.ObjectDType"),
    "object-field-of-a-structured-dtype": (_Array((2,), _Dtype(([("a", "O")],)), [(0,), (1,)]),
                                           "numpy.dtypes.VoidDType"),
    "float-dtype-flagged-as-objects": (_Array((2,), _Dtype(("f8", False, True), (3, "<", None, None, None, -1, -1, 1)),
                                              b"A" * 16), "numpy.dtype"),
    "a-dtype-class-named-outright": (np.dtypes.Float64DType, "numpy.dtypes.Float64DType"),
}


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("case", list(HOSTILE_NUMPY))
def test_a_numpy_value_that_is_not_plain_numbers_is_a_pickled_object(tmp_path, tiny_model, case, legacy):
    value, named = HOSTILE_NUMPY[case]
    path = tmp_path / "record.pt"
    torch.save({"state_dict": tiny_model.state_dict(), "extra": value}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(InputError, match=rf"contains pickled Python objects \({re.escape(named)}\).*--trust-pickle"):
        read_checkpoint(path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_plain_numpy_values_of_every_kind_load_weights_only(tmp_path, tiny_model, legacy):
    values = {"f8": np.float64(0.93), "f4": np.arange(5, dtype=np.float32), "big-endian": np.arange(3, dtype=">f4"),
              "bool": np.array([True, False]), "int": np.int64(7), "str": np.str_("cifar10"), "bytes": np.bytes_(b"x"),
              "when": np.array(["2026-12-05"], dtype="datetime64[D]"), "took": np.timedelta64(5, "s"),
              "complex": np.complex64(1j)}
    path = tmp_path / "record.pt"
    torch.save({"state_dict": tiny_model.state_dict(), **values}, path, _use_new_zipfile_serialization=not legacy)
    assert _same(load_model(path, SPEC).model, tiny_model)
    assert set(read_checkpoint(path).ignored) == set(values)


def test_a_megabyte_long_key_is_named_short(tmp_path, tiny_model):
    # the file's keys are listed in the error: a 1,000,000-character key filled the terminal with one line
    path = tmp_path / "long-key.pt"
    torch.save({**tiny_model.state_dict(), "k" * 1_000_000: torch.zeros(1)}, path)
    with pytest.raises(InputError, match=r"unexpected keys k{120}…; check --model") as error:
        load_model(path, SPEC)
    assert len(str(error.value)) < 400


def test_a_zip_whose_pickle_ends_early_is_named_truncated(tmp_path, tiny_model):
    """An intact zip holding a ``data.pkl`` cut short (a file rewritten half-way, then zipped):
    the scan of the pickle, read from memory, says where it ended, for the trusted path too."""
    import zipfile

    whole, cut = tmp_path / "whole.pt", tmp_path / "cut.pt"
    torch.save(tiny_model.state_dict(), whole)
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(cut, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data[: len(data) // 2] if item.filename.endswith("/data.pkl") else data)
    for trust in (False, True):
        with pytest.raises(InputError, match=r"is truncated or corrupt \(its pickle ends early\)"):
            read_checkpoint(cut, trust_pickle=trust)
