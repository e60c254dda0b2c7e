"""Data specs load real, tensor-file and synthetic data; bad data fails cleanly."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from prunelimit.data.batches import total_samples
from prunelimit.data.spec import load_dataset, make_batches
from prunelimit.errors import InputError, PrunelimitError, UsageError
from tests.conftest import cut_short, save_as


def test_bundled_digits_are_real_and_split_disjointly():
    full, train, test = (load_dataset(s) for s in ("digits", "digits:train", "digits:test"))
    assert len(full) == 1797 and len(train) + len(test) == 1797
    assert full.x.min() == 0 and full.x.max() == 1 and full.y.unique().numel() == 10
    rows = {tuple(r) for r in train.x.tolist()}
    # digits has a few duplicate images; disjoint indices can still share a row, so compare counts
    assert sum(tuple(r) in rows for r in test.x.tolist()) < 10
    assert load_dataset("digits:test:image=1").x.shape == (360, 1, 8, 8)


def test_tensor_files(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32), np.arange(10) % 2
    np.savez(tmp_path / "d.npz", x=x, y=y)
    torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, tmp_path / "d.pt")
    for name in ("d.npz", "d.pt"):
        ds = load_dataset(f"tensors:{tmp_path / name}")
        assert torch.equal(ds.x, torch.from_numpy(x)) and ds.y.dtype == torch.int64


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32, torch.int64])
def test_integer_inputs_stay_integers(tmp_path, dtype):
    """Token ids feed nn.Embedding, which refuses floats: integer x is read as int64, unchanged."""
    x = torch.arange(40, dtype=dtype).reshape(10, 4) % 17
    torch.save({"x": x, "y": torch.arange(10) % 2}, tmp_path / "t.pt")
    np.savez(tmp_path / "t.npz", x=x.numpy(), y=np.arange(10) % 2)
    for name in ("t.pt", "t.npz"):
        ds = load_dataset(f"tensors:{tmp_path / name}")
        assert ds.x.dtype == torch.int64 and torch.equal(ds.x, x.long())
    torch.save({"x": x.double(), "y": torch.arange(10) % 2}, tmp_path / "f.pt")
    assert load_dataset(f"tensors:{tmp_path / 'f.pt'}").x.dtype == torch.float32  # floats: the model's float32


def test_batches_cover_every_sample_once_in_order():
    ds = load_dataset("synthetic:samples=300,features=5")
    batches = make_batches(ds, 128)
    assert [b[0].shape[0] for b in batches] == [128, 128, 44]
    assert total_samples(batches) == 300 and torch.equal(torch.cat([b[0] for b in batches]), ds.x)


def test_synthetic_is_seeded():
    a, b = load_dataset("synthetic:seed=3,shape=3x4x4"), load_dataset("synthetic:seed=3,shape=3x4x4")
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and a.x.shape == (512, 3, 4, 4)


def test_max_samples_keeps_first():
    assert torch.equal(load_dataset("digits", max_samples=7).x, load_dataset("digits").x[:7])


@pytest.mark.parametrize(
    "arrays, error, message",
    [
        ({"x": np.zeros((5, 2)), "y": np.zeros(4, dtype=int)}, InputError, "5 samples but y has 4"),
        ({"x": np.zeros((0, 2)), "y": np.zeros(0, dtype=int)}, InputError, "empty"),
        ({"x": np.array([["a", "b"]]), "y": np.zeros(1, dtype=int)}, InputError, "numeric"),
        ({"x": np.full((2, 2), np.nan), "y": np.zeros(2, dtype=int)}, InputError, "NaN"),
        ({"x": np.zeros((2, 2)), "y": np.array([0, -1])}, InputError,
         "negative class label -1 .integer y are class labels; store real-valued targets as floats"),
        ({"inputs": np.zeros((2, 2)), "labels": np.zeros(2)}, InputError,
         r"'x' and 'y', not entries 'inputs', 'labels'; save it with np.savez\(FILE, x=x, y=y\)$"),
        # these said "x has 2 samples but y has 0", "is empty" and "negative class label -9223372036854775808"
        ({"x": np.zeros((2, 2)), "y": np.array(3)}, InputError, "y is a single number, not one target per sample"),
        ({"x": np.array(1.0), "y": np.array(3)}, InputError, "x is a single number, not a batch of samples"),
        ({"x": np.zeros((2, 2)), "y": np.array([1, 2**63], dtype=np.uint64)}, InputError,
         "class label 9223372036854775808 is beyond int64"),
    ],
    ids=["length-mismatch", "empty", "non-numeric", "nan", "negative-label", "wrong-keys", "scalar-y", "scalar-x",
         "uint64-label"],
)
def test_bad_tensor_data(tmp_path, arrays, error, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(error, match=message):
        load_dataset(f"tensors:{path}")


@pytest.mark.parametrize("spec, message", [
    ("digits:train:imgae=1", "unknown key 'imgae'; digits takes image=...$"),
    ("tensors:{path}:shuffle=1", "unknown key 'shuffle'; tensors takes no k=v options$"),
    ("imagefolder:{root}:sise=8", "unknown key 'sise'; imagefolder takes size=...$"),
    ("mnist:{root}:download=1", "unknown key 'download'; mnist takes no k=v options$"),
])
def test_an_unknown_data_option_is_refused_not_ignored(tmp_path, spec, message):
    """A typo would otherwise read other data than asked (flat digits for an image model)."""
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.zeros(4, dtype=int))
    with pytest.raises(UsageError, match=message):
        load_dataset(spec.format(path=path, root=tmp_path))
    assert load_dataset("digits:train:image=1").x.shape[1:] == (1, 8, 8)


@pytest.mark.parametrize("layout, held", [(lambda x, y: (x, y), "a tuple"), (lambda x, y: [x, y], "a list"),
                                           (lambda x, y: {"data": x, "targets": y}, "entries 'data', 'targets'")])
def test_a_pt_data_file_of_another_layout_names_what_it_holds(tmp_path, layout, held):
    path = tmp_path / "d.pt"
    torch.save(layout(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), path)
    with pytest.raises(InputError, match=rf"not {held}; save it with torch.save\(\{{'x': x, 'y': y\}}, FILE\)$"):
        load_dataset(f"tensors:{path}")


@pytest.mark.parametrize(
    "spec, error",
    [
        ("tensors:/nonexistent.npz", InputError), ("cifar10:/nonexistent/root", InputError),
        ("mnist:/nonexistent", InputError), ("imagefolder:/nonexistent", InputError),
        ("nosuch:x", UsageError), ("synthetic:bogus=1", UsageError), ("synthetic:shape=3xq", UsageError),
        ("tensors", UsageError),
    ],
)
def test_bad_data_specs(spec, error):
    with pytest.raises(error):
        load_dataset(spec)


def test_random_bytes_data_file(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="could not be read"):
        load_dataset(f"tensors:{path}")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="digitsynhec:,=0123456789x-_ ", max_size=40))
def test_data_spec_parser_never_crashes(text):
    try:
        load_dataset(text, max_samples=4)
    except PrunelimitError:
        pass


@pytest.mark.parametrize("text", ["digits:tset", "digits:train:test", "digits:Train", "cifar10:{root}:tset"])
def test_a_misspelt_split_is_refused(tmp_path, text):
    """``digits:tset`` used to read every sample (training data included) without a word."""
    with pytest.raises(UsageError, match="is not a split; use train, test or all"):
        load_dataset(text.format(root=tmp_path))


def test_a_named_split_is_read():
    assert len(load_dataset("digits:test").y) + len(load_dataset("digits:train").y) == len(load_dataset("digits:all").y)


@pytest.mark.parametrize("key, make, problem", [
    ("x", lambda x: torch.empty(x.shape, device="meta"), "is on the meta device"),
    ("x", lambda x: x.to_sparse(), "has layout sparse_coo"),
    ("x", lambda x: x.to_sparse_csr(), "has layout sparse_csr"),
    ("y", lambda y: y.to_sparse(), "has layout sparse_coo"),
    ("x", lambda x: x.to(torch.complex64), "is complex"),
])
@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_data_tensors_that_hold_no_dense_real_values_are_refused(tmp_path, key, make, problem):
    """The checkpoint's rule for data files: these used to fail deep inside torch (exit 5)."""
    data = {"x": torch.randn(20, 64), "y": torch.randint(0, 10, (20,))}
    data[key] = make(data[key])
    torch.save(data, tmp_path / "d.pt")
    with pytest.raises(InputError, match=f"tensor '{key}' {problem}"):
        load_dataset(f"tensors:{tmp_path / 'd.pt'}")


def _savez(path, arrays: dict[str, torch.Tensor]) -> None:
    with open(path, "wb") as fh:  # np.savez would append .npz to the name
        np.savez(fh, **{k: v.numpy() for k, v in arrays.items()})


def _xy() -> dict[str, torch.Tensor]:
    return {"x": torch.arange(20.0).reshape(10, 2), "y": torch.arange(10) % 3}


@pytest.mark.parametrize(
    "name, write",
    [
        ("d.pt", lambda xy, p: _savez(p, xy)),
        ("d.npz", torch.save),
        ("d.safetensors", torch.save),
        ("d.pt", lambda xy, p: __import__("safetensors.torch").torch.save_file(xy, str(p))),
        ("d.npz", lambda xy, p: __import__("safetensors.torch").torch.save_file(xy, str(p))),
    ],
    ids=["npz-as-pt", "torch-as-npz", "torch-as-safetensors", "safetensors-as-pt", "safetensors-as-npz"],
)
def test_a_data_file_is_read_by_its_content_not_its_name(tmp_path, name, write):
    # it went by the extension: torch's "file in archive is not in a subdirectory", numpy's entries
    # 'data/data.pkl', ..., or safetensors' "header too large"
    xy = _xy()
    write(xy, tmp_path / name)
    ds = load_dataset(f"tensors:{tmp_path / name}")
    assert torch.equal(ds.x, xy["x"]) and torch.equal(ds.y, xy["y"])


@pytest.mark.parametrize("name", ["d.npy", "d.npz", "d.pt"])
def test_a_single_npy_array_is_named_whatever_its_name(tmp_path, name):
    with open(tmp_path / name, "wb") as fh:  # np.save would append .npy to the other names
        np.save(fh, np.zeros((4, 2)))
    with pytest.raises(InputError, match=r"is one \.npy array; save x and y together"):
        load_dataset(f"tensors:{tmp_path / name}")


@pytest.mark.parametrize("kind", ["zip", "legacy", "safetensors", "npz"])
def test_a_truncated_data_file_is_named_truncated(tmp_path, kind):
    """A copy cut short, in every format a ``tensors:`` file may have: it said "could not be
    read (OSError: [Errno 22] Invalid argument)", "(SafetensorError: … incomplete metadata
    …)" or "unexpected EOF"."""
    path = save_as({"x": torch.zeros(16, 4), "y": torch.arange(16)}, tmp_path / f"d.{kind}", kind)
    assert len(load_dataset(f"tensors:{path}")) == 16
    for cut in cut_short(path):
        with pytest.raises(InputError, match=f"^data file {re.escape(str(cut))}( is truncated|: .* the file is "
                                             "truncated, corrupt or hostile$)"):
            load_dataset(f"tensors:{cut}")


@pytest.mark.parametrize("name", ["d.pt", "d.npz"])
def test_an_empty_data_file_says_so(tmp_path, name):
    (tmp_path / name).touch()  # it said "could not be read (EOFError)"
    with pytest.raises(InputError, match=r"data file .* is empty$"):
        load_dataset(f"tensors:{tmp_path / name}")


@pytest.mark.parametrize("text", ["nosuch:x", "digits:tset", "synthetic:bogus=1", "tensors:", ""])
def test_an_invalid_recorded_data_spec_is_the_files_error(text):
    # read from a checkpoint it was a UsageError (exit 2) that did not say where the spec came from
    with pytest.raises(InputError, match=r"recorded in the checkpoint is not valid \(.*\); pass --data SPEC"):
        load_dataset(text, recorded=True)
    with pytest.raises(UsageError):
        load_dataset(text)


def test_numpy_arrays_saved_with_torch_save_are_data(tmp_path):
    # weights_only refused numpy's reconstructors: "contains pickled Python objects"
    torch.save({"x": np.ones((4, 2), np.float32), "y": np.arange(4)}, tmp_path / "d.pt")
    ds = load_dataset(f"tensors:{tmp_path / 'd.pt'}")
    assert ds.x.shape == (4, 2) and ds.y.tolist() == [0, 1, 2, 3]


def test_the_finite_check_reads_blocks_of_rows_not_a_copy_of_the_data(monkeypatch) -> None:
    """torch.isfinite of a whole x built |x| and two masks (≈ 1.75× a float32 x at once:
    525 MB beside a 100,000 × 784 data set); a block at a time finds the same NaN."""
    from prunelimit.data import spec

    seen, real = [], torch.isfinite
    monkeypatch.setattr(spec, "FINITE_CHUNK", 64)
    monkeypatch.setattr(torch, "isfinite", lambda t: (seen.append(t.numel()), real(t))[1])
    x = torch.zeros(100, 8)
    spec.check_finite(x, torch.zeros(100), "data d")
    assert seen and max(seen) <= 64
    x[-1, -1] = float("inf")  # in the last block
    with pytest.raises(InputError, match="data d: x contains NaN or Inf"):
        spec.check_finite(x, torch.zeros(100), "data d")
    y = torch.zeros(100)
    y[70] = float("nan")
    with pytest.raises(InputError, match="data d: y contains NaN or Inf"):
        spec.check_finite(torch.zeros(100, 8), y, "data d")


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".npz", ".safetensors"])
def test_the_forms_a_source_takes_name_every_file_tensors_reads(tmp_path, suffix):
    """An unknown source lists the forms, and tensors:FILE named .pt and .npz alone where it
    reads .pth and .safetensors files too (a user with a safetensors file read it as unsupported)."""
    with pytest.raises(UsageError, match=r"^unknown data source 'nosuch'; use ") as raised:
        load_dataset("nosuch")
    forms = re.search(r"tensors:FILE\(([^)]*)\)", str(raised.value)).group(1).split("|")
    assert suffix in forms
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 0, 1, 0, 1])
    path = tmp_path / f"xy{suffix}"
    save_as({"x": x, "y": y}, path, {".npz": "npz", ".safetensors": "safetensors"}.get(suffix, "zip"))
    dataset = load_dataset(f"tensors:{path}")
    assert torch.equal(dataset.x, x) and torch.equal(dataset.y, y)
