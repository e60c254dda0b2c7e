"""Sparse layouts: the size model is exact, every layout and dtype round-trips bit for bit,
and a damaged file is refused with the tensor named."""

from __future__ import annotations

import json
import re
import struct

import pytest
import torch
from safetensors.torch import save_file

import prunelimit
from prunelimit import load_sparse
from prunelimit.errors import InputError
from prunelimit.sparse.formats import (PATTERN_FORMATS, TENSOR_FORMATS, Counts, decode, decode_pattern, encode,
                                       index_dtype, matrix_shape, stored_pattern)
from prunelimit.sparse.sparse_file import FORMAT, read_sparse, write_sparse
from prunelimit.models.zoo import mlp
from tests.conftest import cut_short

DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# stored, not computed with: torch has no signbit, masked_fill or matmul kernel for float8
STORED_DTYPES = (*DTYPES, torch.float8_e4m3fn, torch.float8_e5m2)
INT_VIEW = {torch.float32: torch.int32, torch.float64: torch.int64, torch.float16: torch.int16,
            torch.bfloat16: torch.int16, torch.float8_e4m3fn: torch.int8, torch.float8_e5m2: torch.int8}


def sparse_tensor(shape, density: float, dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    """Random values, a random ``density`` of them kept, the rest +0.0 (a small negative value
    that rounds to −0.0 in ``dtype``, float8's, is made +0.0 by the added zero)."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(shape, generator=g).to(dtype).float()
    return (values.masked_fill(torch.rand(shape, generator=g) >= density, 0.0) + 0.0).to(dtype)


def bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bits: equality of these is bit-for-bit equality (−0.0 ≠ +0.0, NaN payloads)."""
    return t.contiguous().view(INT_VIEW[t.dtype]) if t.dtype in INT_VIEW else t


def part_bytes(parts: dict[str, torch.Tensor]) -> int:
    return sum(p.numel() * p.element_size() for p in parts.values())


def data_bytes(path) -> int:
    """File size minus the 8-byte length and the JSON header: the tensors' bytes."""
    raw = path.read_bytes()
    return len(raw) - 8 - struct.unpack("<Q", raw[:8])[0]


@pytest.mark.parametrize("largest,dtype", [(0, torch.uint8), (255, torch.uint8), (256, torch.int16),
                                           (32767, torch.int16), (32768, torch.int32), (2**31, torch.int64)])
def test_index_dtype_is_the_smallest_that_fits(largest, dtype):
    assert index_dtype(largest) == dtype


@pytest.mark.parametrize("shape", [(7, 300), (40, 256), (3, 2, 5, 5), (1000,), ()])
@pytest.mark.parametrize("density", [0.0, 0.03, 0.3, 1.0])
@pytest.mark.parametrize("dtype", STORED_DTYPES)
def test_size_model_is_exact_and_every_layout_round_trips(shape, density, dtype):
    tensor = sparse_tensor(shape, density, dtype)
    rows, cols = matrix_shape(tuple(tensor.shape))
    pattern = stored_pattern(tensor).reshape(rows, cols)
    counts = Counts(rows, cols, int(pattern.sum()), tensor.element_size())
    for fmt in TENSOR_FORMATS:
        parts = encode(fmt, tensor, pattern)
        assert part_bytes(parts) == counts.bytes(fmt), fmt
        back = decode(fmt, parts, tuple(tensor.shape))
        assert back.dtype == dtype and torch.equal(bits(back), bits(tensor)), fmt
    pattern_counts = Counts(rows, cols, counts.stored, 0)
    for fmt in PATTERN_FORMATS:
        parts = encode(fmt, None, pattern, with_values=False)
        assert part_bytes(parts) == pattern_counts.bytes(fmt)
        assert torch.equal(decode_pattern(fmt, parts, rows, cols), pattern)


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64, torch.int8, torch.int64, torch.bool,
                                   torch.complex64])
@pytest.mark.parametrize("fmt", ["bitmap", "csr"])
def test_every_integer_bool_and_complex_dtype_round_trips_in_the_sparse_layouts(fmt, dtype):
    """A uint16/uint32/uint64 buffer (torch has no index_put kernel for them) was written, but
    every read of the file failed in an internal error: the values are put through their bits."""
    top = 1 if dtype == torch.bool else 2**15 + 3 if dtype in (torch.uint16, torch.uint32, torch.uint64) else 100
    values = torch.randint(0, top + 1, (6, 40), generator=torch.Generator().manual_seed(0))
    tensor = (values * (values % 3 == 0)).to(dtype)  # about a third kept
    pattern = stored_pattern(tensor).reshape(6, 40)
    back = decode(fmt, encode(fmt, tensor, pattern), (6, 40))
    assert back.dtype == dtype and torch.equal(back.view(torch.uint8), tensor.view(torch.uint8))


@pytest.mark.parametrize("density,expected", [(1.0, "dense"), (0.5, "bitmap"), (0.02, "csr")])
def test_the_smallest_layout_is_chosen(tmp_path, density, expected):
    # 64 columns: uint8 indices, so CSR costs 4 + 1 bytes a kept weight, a bitmap 4 + 1/(8·density)
    tensor = sparse_tensor((512, 64), density)
    [layout] = write_sparse(tmp_path / "t.safetensors", {"w": tensor}, {})
    assert layout.format == expected
    assert layout.bytes == min(Counts(512, 64, layout.stored, 4).bytes(f) for f in TENSOR_FORMATS)


@pytest.mark.parametrize("dtype", STORED_DTYPES)
def test_file_round_trip_is_bit_exact_with_extras(tmp_path, dtype):
    """Negative zeros, NaN, a mask that keeps a zero weight, int and bool buffers: all come back."""
    weight = sparse_tensor((30, 50), 0.1, dtype, seed=1)
    weight[0, :5] = torch.tensor([-0.0, -0.0, float("nan"), 0.0, -0.0], dtype=dtype)
    mask = stored_pattern(weight)
    mask[0, 3] = True  # a kept weight that is exactly zero: the mask is not the stored pattern
    state = {"a.weight": weight, "a.bias": torch.randn(30).to(dtype), "b.weight": sparse_tensor((4, 3, 3, 3), 0.5, dtype),
             "steps": torch.tensor(7), "flags": torch.tensor([True, False, False, False, True])}
    path = tmp_path / "m.safetensors"
    layouts = write_sparse(path, state, {"a.weight": mask, "b.weight": stored_pattern(state["b.weight"])},
                           "mlp:1,2", {"data": "digits:train", "not_json": object()})
    contents = read_sparse(path)
    assert list(contents.state_dict) == list(state)
    for name, tensor in state.items():
        assert contents.state_dict[name].dtype == tensor.dtype
        assert torch.equal(bits(contents.state_dict[name]), bits(tensor)), name
    assert torch.equal(contents.masks["a.weight"], mask)
    assert torch.equal(contents.masks["b.weight"], stored_pattern(state["b.weight"]))
    assert contents.model_spec == "mlp:1,2" and contents.meta == {"data": "digits:train"}
    by_name = {l.name: l for l in layouts}
    assert by_name["a.weight"].negzero is not None and by_name["a.weight"].mask in PATTERN_FORMATS
    assert by_name["b.weight"].mask == "values"
    assert data_bytes(path) == sum(l.total_bytes for l in layouts)  # the size model, against the file


@pytest.mark.parametrize("dtype", DTYPES)
def test_model_outputs_are_identical_after_the_round_trip(tmp_path, dtype):
    torch.manual_seed(0)
    model = mlp([20, 300, 40, 5]).to(dtype)
    with torch.no_grad():
        for p, density in zip(model.parameters(), (0.02, 1.0, 0.3, 1.0, 0.5, 1.0)):
            p.masked_fill_(torch.rand(p.shape) >= density, 0.0)
    path = tmp_path / "m.safetensors"
    layouts = write_sparse(path, model.state_dict(), {})
    assert {l.format for l in layouts} == {"dense", "bitmap", "csr"}
    loaded = mlp([20, 300, 40, 5]).to(dtype)
    loaded.load_state_dict(load_sparse(path))
    x = torch.randn(16, 20).to(dtype)
    assert torch.equal(bits(loaded(x)), bits(model(x)))


def write_raw(path, tensors: dict, entries: list, **metadata) -> None:
    save_file(tensors, str(path), metadata={"format": FORMAT, "tensors": json.dumps(entries), "meta": "{}",
                                            **metadata})


CSR_ENTRY = [{"name": "w", "shape": [2, 4], "format": "csr"}]
GOOD_CSR = {"0/values": torch.ones(2), "0/col_indices": torch.tensor([1, 3], dtype=torch.uint8),
            "0/crow_indices": torch.tensor([0, 1, 2], dtype=torch.uint8)}


@pytest.mark.parametrize("tensors,entries,match", [
    ({**GOOD_CSR, "0/crow_indices": torch.tensor([0, 2, 1], dtype=torch.uint8)}, CSR_ENTRY, "row pointers"),
    ({**GOOD_CSR, "0/col_indices": torch.tensor([1, 9], dtype=torch.uint8)}, CSR_ENTRY, "column index"),
    ({**GOOD_CSR, "0/values": torch.ones(3)}, CSR_ENTRY, "stored values"),
    ({**GOOD_CSR, "0/crow_indices": torch.tensor([0, 2, 2], dtype=torch.uint8),
      "0/col_indices": torch.tensor([3, 1], dtype=torch.uint8)}, CSR_ENTRY, "strictly increasing"),
    ({k: v for k, v in GOOD_CSR.items() if k != "0/values"}, CSR_ENTRY, "number of stored values"),
    ({**GOOD_CSR, "9/extra": torch.ones(1)}, CSR_ENTRY, "belongs to no layout"),
    (GOOD_CSR, [{"name": "w", "shape": [2, 4], "format": "coo"}], "unknown layout"),
    (GOOD_CSR, [{"name": "w", "shape": "2x4", "format": "csr"}], "no valid shape"),
    ({"0/values": torch.ones(1), "0/bitmap": torch.tensor([255], dtype=torch.uint8)},
     [{"name": "w", "shape": [5], "format": "bitmap"}], "past the end"),
    ({**GOOD_CSR, "0/crow_indices": torch.tensor([0, 1, 2], dtype=torch.uint8)},
     [{"name": "w", "shape": [2, 10**12], "format": "csr"}], "size bomb"),
])
def test_damaged_file_is_refused_naming_the_damage(tmp_path, tensors, entries, match):
    path = tmp_path / "bad.safetensors"
    write_raw(path, tensors, entries)
    with pytest.raises(InputError, match=match):
        load_sparse(path)


def test_damaged_header_json_and_plain_safetensors_are_refused(tmp_path):
    path = tmp_path / "bad.safetensors"
    save_file(GOOD_CSR, str(path), metadata={"format": FORMAT, "tensors": "[{", "meta": "{}"})
    with pytest.raises(InputError, match="damaged"):
        load_sparse(path)
    save_file({"w": torch.ones(2)}, str(path))
    with pytest.raises(InputError, match="not a prunelimit sparse file"):
        load_sparse(path)
    with pytest.raises(InputError, match="not found"):
        load_sparse(tmp_path / "missing.safetensors")


def test_a_truncated_sparse_file_is_named_truncated(tmp_path):
    """It said "not a readable safetensors file (SafetensorError: … incomplete metadata, file not fully covered)"."""
    path = tmp_path / "m.safetensors"
    write_sparse(path, {"w": torch.eye(8)}, {"w": torch.eye(8, dtype=torch.bool)})
    for cut in cut_short(path):
        with pytest.raises(InputError, match=f"^sparse file {re.escape(str(cut))} is truncated: its header"):
            load_sparse(cut)


@pytest.mark.parametrize("depth, key, match", [
    (150, "meta", "over 100 levels deep"),  # read before, then every file written from it was refused
    (50_000, "meta", "nests JSON too deeply"),  # was "an input file is nested too deeply", naming no file
    (50_000, "tensors", "nests JSON too deeply"),
])
def test_header_nesting_is_held_to_the_checkpoint_limits(tmp_path, depth, key, match):
    path = tmp_path / "deep.safetensors"
    nested = "[" * depth + "]" * depth
    header = {"format": FORMAT, "tensors": json.dumps(CSR_ENTRY), "meta": "{}",
              key: '{"a": ' + nested + "}" if key == "meta" else nested}
    save_file(GOOD_CSR, str(path), metadata=header)
    with pytest.raises(InputError, match=f"deep.safetensors.*{match}"):
        load_sparse(path)


@pytest.mark.parametrize("kept", [0, 1])
def test_a_large_layer_pruned_to_nothing_is_written_as_the_reader_reads_it(tmp_path, kept):
    """A layer over 64 MiB pruned to (almost) nothing: its CSR, a few bytes of row pointers,
    was written, and then refused by every reader as a size bomb ("damaged; export it
    again"). The writer now picks the smallest layout the reader accepts (the bitmap)."""
    weight = torch.zeros(16, 524_800, dtype=torch.float64)  # 67.2 MB, just over the 64 MiB free size
    weight[0, :kept] = 1.5
    path = tmp_path / "empty.safetensors"
    (layout,) = write_sparse(path, {"w": weight}, {"w": weight != 0})
    assert layout.format == "bitmap" and layout.bytes == Counts(16, 524_800, kept, 8).bytes("bitmap")
    assert torch.equal(load_sparse(path)["w"], weight)


class Tied(torch.nn.Module):
    """An embedding and an output layer sharing one Parameter (tied weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(16, 32)
        self.mid = torch.nn.Linear(32, 32)
        self.head = torch.nn.Linear(32, 16, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.mid(self.emb(x))))


def tied_model() -> Tied:
    torch.manual_seed(0)
    model = Tied()
    with torch.no_grad():
        model.emb.weight.masked_fill_(torch.rand(16, 32) >= 0.3, 0.0)
    return model


def test_tied_weights_are_stored_once_and_come_back_tied(tmp_path):
    """The tied tensor is stored once (the file holds one copy, its alias no bytes) and
    ``load_sparse`` gives it back as one tensor under both names, in state-dict order; a
    reader that ignores ``aliases`` (an older prunelimit) still reads every stored tensor."""
    from prunelimit.io.safetensors_bytes import read_safetensors
    from prunelimit.sparse.sparse_file import _decode_file

    model = tied_model()
    state = model.state_dict()
    keep = stored_pattern(state["emb.weight"])
    path = tmp_path / "tied.safetensors"
    layouts = write_sparse(path, state, {"emb.weight": keep, "head.weight": keep})
    head = {l.name: l for l in layouts}["head.weight"]
    assert head.alias == "emb.weight" and head.total_bytes == 0 and head.format == "bitmap"
    untied = write_sparse(tmp_path / "untied.safetensors", {k: v.clone() for k, v in state.items()},
                          {"emb.weight": keep, "head.weight": keep.clone()})
    assert data_bytes(path) == sum(l.total_bytes for l in layouts) == \
        sum(l.total_bytes for l in untied) - {l.name: l for l in untied}["head.weight"].total_bytes
    contents = read_sparse(path)
    assert list(contents.state_dict) == list(state)
    assert contents.state_dict["head.weight"] is contents.state_dict["emb.weight"]
    assert torch.equal(contents.state_dict["emb.weight"], state["emb.weight"])
    assert contents.masks["head.weight"] is contents.masks["emb.weight"] and torch.equal(contents.masks["head.weight"], keep)
    loaded = Tied()
    loaded.load_state_dict(load_sparse(path))
    assert loaded.head.weight is loaded.emb.weight
    x = torch.arange(16)
    assert torch.equal(loaded(x), model(x))  # same weights, same order of operations: bit for bit
    tensors, header = read_safetensors(path)
    older = _decode_file({k: v for k, v in header.items() if k != "aliases"}, tensors)
    assert list(older.state_dict) == ["emb.weight", "mid.weight", "mid.bias"]


def test_tied_weights_masked_once_by_prune_are_stored_once(tmp_path):
    """``prune`` masks a tied Parameter once, under its first key: the later key (same tensor,
    no mask of its own) is still stored once, and reads back tied, without a mask of its own,
    so the masks are the checkpoint's."""
    model = Tied()
    masks = prunelimit.prune(model, 0.7, include=("emb",)).masks
    assert "emb.weight" in masks and "head.weight" not in masks
    state = {k: v.masked_fill(~masks[k], 0.0) if k in masks else v for k, v in model.state_dict().items()}
    state["head.weight"] = state["emb.weight"]
    path = tmp_path / "tied.safetensors"
    layouts = {l.name: l for l in write_sparse(path, state, masks)}
    assert layouts["head.weight"].alias == "emb.weight" and layouts["head.weight"].total_bytes == 0
    assert layouts["head.weight"].mask is None and layouts["emb.weight"].mask == "values"
    contents = read_sparse(path)
    assert sorted(contents.masks) == sorted(masks) and list(contents.state_dict) == list(state)
    assert contents.state_dict["head.weight"] is contents.state_dict["emb.weight"]
    assert torch.equal(contents.state_dict["emb.weight"], state["emb.weight"])


@pytest.mark.parametrize("key", ["emb.weight", "head.weight"])
def test_export_with_masks_keeps_a_tied_tensor_pruned_under_every_key(tmp_path, key):
    """``prunelimit.export(model, masks=)`` zeroed the masked key into a new tensor: the tie
    broke, the later key kept the unpruned weights, and ``load_state_dict`` (which writes
    the later key last) gave the model back unpruned. Either key's mask prunes the one
    tensor, and the file is the one of the model pruned in place (``prune``'s checkpoint)."""
    model = tied_model()
    keep = prunelimit.prune(model, 0.7, include=("emb",)).masks["emb.weight"]
    path = tmp_path / "lib.safetensors"
    report = prunelimit.export(model, path, masks={key: keep})
    assert {t.name: t.alias for t in report.tensors}["head.weight"] == "emb.weight"
    back = load_sparse(path)
    assert back["head.weight"] is back["emb.weight"] and not bool(back["emb.weight"][~keep].any())
    loaded = Tied()
    loaded.load_state_dict(back)
    assert torch.equal(loaded.head.weight, model.emb.weight.masked_fill(~keep, 0.0))
    in_place = tied_model()
    with torch.no_grad():
        in_place.emb.weight.masked_fill_(~keep, 0.0)
    write_sparse(tmp_path / "ckpt.safetensors", in_place.state_dict(), {"emb.weight": keep})
    assert path.read_bytes() == (tmp_path / "ckpt.safetensors").read_bytes()
    assert bool(model.emb.weight[~keep].any())  # the caller's model is not changed


def test_a_tied_model_pruned_with_torch_exports_its_tie_once(tmp_path):
    """``torch.nn.utils.prune`` on a tied Parameter (``Pruning.apply`` prunes it in both
    modules, one ``weight_orig``): each key's ``weight_orig * weight_mask`` was a tensor of
    its own, so the file stored the weight twice and read it back untied. It is now the
    file of the same model pruned in place, but for the header's order of the keys."""
    model = tied_model()
    pruning = prunelimit.prune(model, 0.7, include=("emb",))
    pruned = pruning.apply(tied_model())
    report = prunelimit.export(pruned, tmp_path / "torch.safetensors")
    layouts = {t.name: t for t in report.tensors}
    assert layouts["head.weight"].alias == "emb.weight" and layouts["head.weight"].total_bytes == 0
    back = load_sparse(tmp_path / "torch.safetensors")
    loaded = Tied()
    loaded.load_state_dict(back)
    assert loaded.head.weight is loaded.emb.weight and torch.equal(loaded.emb.weight, pruned.emb.weight)
    in_place = prunelimit.export(model, tmp_path / "masks.safetensors", masks=pruning.masks)
    assert report.data_bytes == in_place.data_bytes


@pytest.mark.parametrize("route", ["model", "file"])
def test_torch_pruning_one_module_of_a_tied_parameter_prunes_it_under_every_key(tmp_path, route):
    """``torch.nn.utils.prune`` on the embedding alone: its state dict holds ``emb.weight_orig``
    and ``emb.weight_mask``, and ``head.weight`` is the same Parameter, unmasked. The fold
    left that key unpruned, so the file stored the weight twice and ``load_state_dict``
    (writing ``head.weight`` last) gave the tied model back with no weight pruned, its mask
    saying otherwise. ``weight_orig · weight_mask`` is read for every key of the Parameter."""
    from torch.nn.utils import prune

    model = tied_model()
    prune.l1_unstructured(model.emb, "weight", amount=0.8)
    keep = model.emb.weight_mask.bool()
    if route == "file":
        torch.save(model.state_dict(), tmp_path / "torch.pt")
        report = prunelimit.export(torch.load(tmp_path / "torch.pt"), tmp_path / "t.safetensors")
    else:
        report = prunelimit.export(model, tmp_path / "t.safetensors")
    assert {t.name: t.alias for t in report.tensors}["head.weight"] == "emb.weight"
    back = load_sparse(tmp_path / "t.safetensors")
    assert back["head.weight"] is back["emb.weight"] and not bool(back["emb.weight"][~keep].any())
    loaded = Tied()
    loaded.load_state_dict(back)
    assert torch.equal(loaded.emb.weight, model.emb.weight)  # emb's pruned weight, under both keys


def test_a_checkpoint_with_negative_pruned_zeros_reads_them_as_positive_and_keeps_its_tie(tmp_path):
    """A tied checkpoint written with ``p * mask`` (−0.0 at pruned negative weights) is read
    with +0.0 there in place, so the tensor stays one under both keys: stored once, no −0.0
    pattern, the bytes of the same model written with +0.0."""
    from prunelimit import api
    from prunelimit.io.checkpoint import save_checkpoint

    model = tied_model()
    keep = prunelimit.prune(model, 0.7, include=("emb",)).masks["emb.weight"]
    files = []
    for name, zero in (("product", lambda w: w.mul_(keep)), ("fill", lambda w: w.masked_fill_(~keep, 0.0))):
        pruned = tied_model()
        with torch.no_grad():
            zero(pruned.emb.weight)
        save_checkpoint(tmp_path / f"{name}.pt", None, pruned.state_dict(), {"emb.weight": keep})
        report = api.export(tmp_path / f"{name}.pt", tmp_path / f"{name}.safetensors")
        layouts = {t.name: t for t in report.tensors}
        assert layouts["head.weight"].alias == "emb.weight" and layouts["emb.weight"].negzero is None, name
        files.append((tmp_path / f"{name}.safetensors").read_bytes())
    assert files[0] == files[1]


def test_tensors_sharing_storage_otherwise_are_stored_apart(tmp_path):
    """Only the very same tensor with the same keep-mask is stored once: another mask on a
    tied name, or a view of part of a storage, is stored on its own."""
    state = tied_model().state_dict()
    keep = stored_pattern(state["emb.weight"])
    other = keep.clone()
    other[0, 0] = ~other[0, 0]
    layouts = write_sparse(tmp_path / "a.safetensors", state, {"emb.weight": keep, "head.weight": other})
    assert all(l.alias is None for l in layouts)
    assert torch.equal(read_sparse(tmp_path / "a.safetensors").masks["head.weight"], other)
    base = torch.arange(12.0)
    views = {"a": base[:6], "b": base[6:], "c": base.view(3, 4)}
    assert all(l.alias is None for l in write_sparse(tmp_path / "b.safetensors", views, {}))
    back = load_sparse(tmp_path / "b.safetensors")
    assert all(torch.equal(back[k], v) for k, v in views.items())


@pytest.mark.parametrize("aliases, match", [
    ('[{"name": "v", "of": "nope", "at": 1}]', "alias"),
    ('[{"name": "v", "of": "w", "at": 5}]', "alias"),
    ('[{"name": "w", "of": "w", "at": 0}]', "alias"),
    ('[{"name": "v", "of": "w", "at": 1, "mask": "no"}]', "alias"),
    ('{"v": "w"}', "aliases entry is not a JSON list"),
])
def test_damaged_aliases_are_refused(tmp_path, aliases, match):
    path = tmp_path / "bad.safetensors"
    write_raw(path, GOOD_CSR, CSR_ENTRY, aliases=aliases)
    with pytest.raises(InputError, match=match):
        load_sparse(path)


def test_the_same_export_writes_the_same_bytes(tmp_path):
    """safetensors writes its metadata from a Rust HashMap, in an order that changes from
    call to call: eight writes of one state dict gave seven different files. The header is
    now written in sorted key order, and the file reads back the same."""
    weight = torch.tensor([[0.0, 1.5, 0.0], [-2.0, 0.0, 0.0]])
    path = tmp_path / "m.safetensors"
    written = set()
    for _ in range(8):
        write_sparse(path, {"w": weight}, {"w": weight != 0}, "mlp:3,2", {"data": "digits:train"}, force=True)
        written.add(path.read_bytes())
    assert len(written) == 1
    back = read_sparse(path)
    assert torch.equal(back.state_dict["w"], weight) and back.model_spec == "mlp:3,2"
    assert back.meta == {"data": "digits:train"}
    assert int.from_bytes(path.read_bytes()[:8], "little") % 8 == 0  # the header padded as safetensors pads it
