"""Data specs (docs/guide.md, "Your own model") → in-memory tensors, and deterministic fixed-order batching.

Forms: ``digits[:train|test]`` (bundled real 8×8 handwritten digits), ``tensors:FILE``
(``.pt`` dict, ``.npz`` or ``.safetensors`` with ``x`` and ``y``, told apart by content),
``synthetic:k=v,...``, ``cifar10:ROOT``, ``cifar100:ROOT``, ``mnist:ROOT``,
``fashion-mnist:ROOT`` (torchvision readers on local files; never downloading unless
``download=True``) and ``imagefolder:DIR``. The readers accept ``:train`` / ``:test`` to pick the split.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from prunelimit.data.batches import Batch
from prunelimit.errors import InputError, UsageError, first_line, option
from prunelimit.limits import (MAX_DATA_VALUES, MAX_IMAGE_SIDE, MAX_RECORDED_DATA_VALUES, check_complete, check_counts,
                               check_loaded, check_npz, check_torch_file, require_file)
from prunelimit.io.checkpoint import (file_format, is_torchscript, load_quietly, pickled_global, tensor_problem, text_start,
                                      unread_opcode)
from prunelimit.specs import Spec, check_seed, parse_spec
from prunelimit.validate import read_count

_NORMALISE = {  # per-channel mean and std used by the reference code
    "cifar10": ((0.491, 0.482, 0.447), (0.247, 0.243, 0.262)),
    "cifar100": ((0.507, 0.487, 0.441), (0.267, 0.256, 0.276)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
}
# the sources whose first argument is a file or folder (``tensors:PATH``, ``cifar10:ROOT``)
PATH_SOURCES = ("tensors", "imagefolder", *_NORMALISE)
DOWNLOADABLE_SOURCES = tuple(_NORMALISE)  # their ROOT may not exist yet: --download fetches it there
_TENSOR_SUFFIXES = (".pt", ".pth", ".npz", ".safetensors")  # what tensors:FILE reads
DATA_FORMS = (
    f"digits[:train|test], tensors:FILE({'|'.join(_TENSOR_SUFFIXES)}), synthetic:samples=N,features=F|shape=CxHxW,"
    "classes=K,seed=S, cifar10:ROOT, cifar100:ROOT, mnist:ROOT, fashion-mnist:ROOT, imagefolder:DIR"
)


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x`` (float32 or the float type asked for, or int64 for integer data such as
    token ids) and targets ``y`` (int64 classes, or real values in float32 or a wider type
    asked for), same length."""

    x: Tensor
    y: Tensor
    name: str

    def __len__(self) -> int:
        return int(self.x.shape[0])


def load_dataset(text: str, download: bool = False, max_samples: int | None = None, recorded: bool = False,
                 dtype: torch.dtype = torch.float32) -> Dataset:
    """Load a data spec into memory; ``max_samples`` keeps the first N (fixed order).

    ``recorded``: the spec was read from a file, not typed, so the data it may generate is
    capped lower (``MAX_RECORDED_DATA_VALUES``), and a spec that is not valid is the file's
    fault, not a usage error (exit 3). ``dtype``: the float type real inputs are read in (the
    model's, ``inputs.data_dtype``); real targets are read in it too where it is wider than
    float32 (a float16 model's loss takes float32 targets: torch promotes them).
    """
    try:
        x, y = _read(text, download, recorded)
    except UsageError as exc:
        if not recorded:
            raise
        raise InputError(f"data spec {text!r} recorded in the checkpoint is not valid ({exc}); "
                         "pass --data SPEC to choose the data") from None
    ds = _validated(x, y, text, dtype)
    if max_samples is not None:
        check_counts({"max_samples": max_samples})
        ds = Dataset(ds.x[:max_samples], ds.y[:max_samples], ds.name)
    return ds


def _read(text: str, download: bool, recorded: bool) -> tuple[Tensor, Tensor]:
    """The inputs and targets ``text`` names, as read (``load_dataset`` checks them)."""
    spec = parse_spec(text, "data")
    _check_keys(spec)
    budget = _Budget(MAX_RECORDED_DATA_VALUES if recorded else MAX_DATA_VALUES, recorded)
    loaders = {
        "digits": _digits,
        "tensors": _tensors,
        "synthetic": lambda s: _synthetic(s, budget),
        "imagefolder": lambda s: _imagefolder(s, budget),
    }
    if spec.head in loaders:
        return loaders[spec.head](spec)
    if spec.head in _NORMALISE:
        return _torchvision_reader(spec, download)
    if not spec.args and Path(text).suffix.lower() in _TENSOR_SUFFIXES:  # `--data train.pt`: the file, its source left out
        raise UsageError(f"unknown data source {spec.head!r}: a file of x and y is given as tensors:{text}")
    raise UsageError(f"unknown data source {spec.head!r}; use {DATA_FORMS}")


# the k=v options each source reads (synthetic checks its own): any other key, a typo of
# these (``digits:imgae=1``) included, would be ignored and the data read otherwise than asked
_KEYS = {"digits": ("image",), "tensors": (), "imagefolder": ("size",), **{head: () for head in _NORMALISE}}


# keys that ask for the first N samples, which the max_samples option keeps for every source
_SAMPLE_COUNT_KEYS = ("max_samples", "max-samples", "samples")


def _check_keys(spec: Spec) -> None:
    unknown = sorted(set(spec.kwargs) - set(_KEYS.get(spec.head, spec.kwargs)))
    if unknown:
        takes = f"{spec.head} takes {', '.join(k + '=...' for k in _KEYS[spec.head]) or 'no k=v options'}"
        keep = f"; to keep the first N samples, pass {option('max_samples', 'N', shown='N')}" \
            if unknown[0] in _SAMPLE_COUNT_KEYS else ""
        raise UsageError(f"bad data spec {spec.text!r}: unknown key {unknown[0]!r}; {takes}{keep}")


@dataclass(frozen=True)
class _Budget:
    """How many input values a generated data set (synthetic, resized images) may hold."""

    values: int
    recorded: bool

    def check(self, spec: Spec, values: int) -> None:
        if values <= self.values:
            return
        if self.recorded:
            raise InputError(f"data spec {spec.text!r} recorded in the checkpoint asks for {values:,} values, over "
                             f"the {self.values:,} a file may ask for; pass --data SPEC to choose the data")
        raise UsageError(f"bad data spec {spec.text!r}: {values:,} values, over the cap of {self.values:,}; "
                         "use fewer samples or features")


def make_batches(dataset: Dataset, batch_size: int = 128) -> list[Batch]:
    """Fixed-order batches; the last one may be smaller (weighted by size downstream)."""
    check_counts({"batch_size": batch_size})  # the command line's check of --batch-size, for the library's callers
    return [
        (dataset.x[i : i + batch_size], dataset.y[i : i + batch_size])
        for i in range(0, len(dataset), batch_size)
    ]


def _validated(x, y, text: str, dtype: torch.dtype) -> Dataset:
    x = torch.as_tensor(x)
    y = torch.as_tensor(y)
    for name, values, holds in (("x", x, "a batch of samples"), ("y", y, "one target per sample")):
        if values.dim() == 0:  # the first dimension counts the samples
            raise InputError(f"data {text}: {name} is a single number, not {holds}; give it a first dimension")
    if x.shape[0] == 0:
        raise InputError(f"data {text} is empty")
    if x.shape[0] != y.shape[0]:
        raise InputError(f"data {text}: x has {x.shape[0]} samples but y has {y.shape[0]}")
    if not (x.is_floating_point() or x.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
        raise InputError(f"data {text}: x must be numeric, got {x.dtype}")
    if x.is_floating_point():  # from the file's own values: a float64 file keeps its digits in a float64 model
        x = x.to(dtype)
    else:  # token ids or indices stay integers: nn.Embedding and one_hot refuse floats
        x = x.long()
    if y.is_floating_point():
        y = y.to(torch.promote_types(dtype, torch.float32))
    elif y.dtype == torch.bool or y.is_complex():
        raise InputError(f"data {text}: y must be integer class labels or real targets, got {y.dtype}")
    else:
        if y.dtype == torch.uint64 and bool((y.view(torch.int64) < 0).any()):  # torch compares no uint64
            huge = int(y.view(torch.int64)[y.view(torch.int64) < 0][0]) + 2**64
            raise InputError(f"data {text}: class label {huge} is beyond int64; integer y are class labels 0..K-1")
        y = y.long()
        if (y < 0).any():
            raise InputError(f"data {text}: negative class label {int(y.min())} (integer y are class labels; "
                             "store real-valued targets as floats, e.g. y.float())")
    check_finite(x, y, f"data {text}")
    return Dataset(x, y, text)


def check_finite(x: Tensor, y: Tensor, what: str) -> None:
    """NaN or Inf in the inputs or in real-valued targets would make every loss, gradient and
    curvature NaN: an input error naming which, here rather than a NaN loss later."""
    for name, values in (("x", x), ("y", y)):
        if values.is_floating_point() and not all_finite(values):
            raise InputError(f"{what}: {name} contains NaN or Inf")


# Elements checked at a time: ``torch.isfinite`` of a whole tensor builds its absolute value
# and two masks, about 1.75× a float32 x at once (525 MB beside a 300 MB data set).
FINITE_CHUNK = 1 << 22


def all_finite(values: Tensor) -> bool:
    """Whether every entry of ``values`` (a tensor of one or more rows) is finite, checked a
    block of rows at a time so that the check needs no copy of the data."""
    rows = max(1, FINITE_CHUNK // max(1, values[0].numel()))
    return all(bool(torch.isfinite(part).all()) for part in values.split(rows))


_SPLITS = ("train", "test", "all")


def _split_arg(spec: Spec, default: str = "train", leading: int = 0) -> str:
    """The split named after the ``leading`` fixed arguments (a root folder), ``default`` when
    none is: a misspelt split (``digits:tset``) must not silently read other samples."""
    rest = spec.args[leading:]
    if not rest:
        return default
    if len(rest) > 1 or rest[0] not in _SPLITS:
        raise UsageError(f"bad data spec {spec.text!r}: {':'.join(rest)!r} is not a split; use train, test or all")
    return rest[0]


def _digits(spec: Spec):
    """1,797 real handwritten digits (scikit-learn's copy of UCI), 64 features in [0, 1]."""
    with resources.files("prunelimit.data").joinpath("digits.npz").open("rb") as f:
        data = np.load(f)
        x, y = data["x"].astype(np.float32) / 16.0, data["y"]
    image = spec.kwargs.get("image", 0)
    if image not in (0, 1):  # True and False compare equal to 1 and 0
        raise UsageError(f"bad data spec {spec.text!r}: image must be 0 or 1 (1: 1×8×8 images for a CNN)")
    split = _split_arg(spec, default="all")
    order = np.random.default_rng(0).permutation(len(y))  # fixed, so train/test never overlap
    cut = int(0.8 * len(y))
    idx = {"all": np.arange(len(y)), "train": order[:cut], "test": order[cut:]}[split]
    x, y = x[idx], y[idx]
    if image:
        x = x.reshape(-1, 1, 8, 8)
    return torch.from_numpy(x), torch.from_numpy(y)


def _tensors(spec: Spec):
    if len(spec.args) != 1 or not spec.args[0]:  # an empty name would be the current folder
        raise UsageError(f"bad data spec {spec.text!r}: write tensors:FILE.pt, tensors:FILE.npz or tensors:FILE.safetensors")
    path = Path(spec.args[0])
    require_file(path, "data file")
    if path.stat().st_size == 0:
        raise InputError(f"data file {path} is empty")
    check_complete(path, "data file")
    if is_torchscript(path):  # torch.load would refuse it too, after a warning on stderr
        raise InputError(f"data file {path} is a TorchScript archive (code), not tensors x and y")
    kind = file_format(path)  # by content: a name's extension may be wrong either way
    if kind == "npy":
        raise InputError(f"data file {path} is one .npy array; save x and y together: np.savez(FILE.npz, x=x, y=y)")
    if kind == "unknown" and (start := text_start(path)) is not None:  # a CSV, say, which torch reads as a pickle
        raise InputError(f"data file {path} is a text file (it begins {start!r}), not tensors; read it (numpy.loadtxt, "
                         "pandas) and save x and y: torch.save({'x': x, 'y': y}, FILE)")
    numpy = kind == "npz" or (kind == "unknown" and path.suffix == ".npz")
    # Declared sizes first: a zip entry or .npy header may claim far more than the file holds.
    (check_npz if numpy else check_torch_file)(path, "data file")
    save = "np.savez(FILE, x=x, y=y)" if numpy else "torch.save({'x': x, 'y': y}, FILE)"
    try:
        if numpy:
            with np.load(path, allow_pickle=False) as data:
                obj = {k: data[k] for k in data.files}
        elif kind == "safetensors":  # holds only tensors, each checked against the bytes stored
            from prunelimit.io.safetensors_bytes import read_safetensors

            obj = read_safetensors(path)[0]
        else:
            obj = load_quietly(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = pickled_global(exc)
        if found:  # data is never unpickled, whatever the flags: tensors hold all it needs
            raise InputError(f"data file {path} contains pickled Python objects ({found}), and unpickling can "
                             f"run code; save plain tensors: {save}") from None
        opcode = unread_opcode(exc)
        if opcode:
            raise InputError(f"data file {path} {opcode}; save x and y again with {save}") from None
        raise InputError(f"data file {path} could not be read (corrupt pickle data); save x and y with {save}") \
            from None
    except Exception as exc:  # truncated, random bytes, another format (CSV, ...)
        if "pickled" in str(exc) or str(exc).startswith("Object arrays"):  # numpy reads both as pickles
            held = "holds object arrays (pickled Python objects)" if str(exc).startswith("Object arrays") \
                else "is no .npz archive, so numpy would read it as a pickle"
            raise InputError(f"data file {path} {held}, and unpickling can run code; save numeric arrays: {save}") \
                from None
        raise InputError(f"data file {path} could not be read ({first_line(exc)}); save x and y with {save}") from None
    check_loaded(obj, f"data file {path}")  # e.g. an expanded (zero-stride) x claiming terabytes
    if not isinstance(obj, dict) or "x" not in obj or "y" not in obj:
        held = f"entries {', '.join(repr(str(k)[:40]) for k in list(obj)[:4])}" if isinstance(obj, dict) and obj \
            else f"a {type(obj).__name__}"
        raise InputError(f"data file {path} must hold a dict with entries 'x' and 'y', not {held}; save it with {save}")
    for key in ("x", "y"):  # the checkpoint's rule: torch would fail on these only later, deep inside
        problem = tensor_problem(obj[key]) if isinstance(obj[key], torch.Tensor) else None
        if problem:
            raise InputError(f"data file {path}: tensor {key!r} {problem}; save dense real-valued tensors")
    try:
        return torch.as_tensor(obj["x"]), torch.as_tensor(obj["y"])
    except (TypeError, ValueError, RuntimeError):
        raise InputError(f"data file {path}: 'x' and 'y' must be numeric arrays") from None


def _synthetic(spec: Spec, budget: _Budget):
    """Gaussian inputs labelled by a random linear teacher: learnable, any size, seeded."""
    kw = dict(samples=512, features=64, classes=10, seed=0, shape=None)
    unknown = set(spec.kwargs) - set(kw)
    if unknown:
        raise UsageError(f"bad data spec {spec.text!r}: unknown key(s) {sorted(unknown)}; known {sorted(kw)}")
    if spec.args:  # synthetic:1000 made the default 512 samples, the number ignored
        raise UsageError(f"bad data spec {spec.text!r}: {spec.args[0]!r} is no k=v option; synthetic takes "
                         f"{', '.join(f'{key}=...' for key in kw)}")
    if {"shape", "features"} <= set(spec.written):  # features was ignored in silence: shape sets the inputs
        raise UsageError(f"bad data spec {spec.text!r}: shape and features both set the input's size; give one "
                         "(features=F: F values a sample, shape=CxHxW: images)")
    shape = (tuple(_count(spec, "shape (like 3x32x32)", s) for s in spec.written["shape"].split("x"))
             if "shape" in spec.written else (_count(spec, "features", spec.written.get("features", kw["features"])),))
    n, k, seed = (_count(spec, key, spec.written.get(key, kw[key])) for key in ("samples", "classes", "seed"))
    check_seed(seed, f"bad data spec {spec.text!r}: seed")
    if n < 1 or k < 2 or min(shape) < 1:
        raise UsageError(f"bad data spec {spec.text!r}: need samples ≥ 1, classes ≥ 2, positive shape")
    features = math.prod(shape)
    budget.check(spec, max(n * features, features * k))  # x and the teacher matrix
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *shape), generator=gen)
    teacher = torch.randn(int(np.prod(shape)), k, generator=gen)
    y = (x.flatten(1) @ teacher).argmax(1)
    return x, y


def _count(spec: Spec, key: str, value: object) -> int:
    """``key``'s value in ``spec`` as a count is read (``samples=1e3``, ``100.0``); a ``UsageError``
    naming it and what to write: ``int()`` cut ``100.5`` to 100 and took ``true`` as 1 in silence."""
    try:
        return read_count(value)
    except ValueError as exc:
        raise UsageError(f"bad data spec {spec.text!r}: {key}: {exc}") from None


def _root(spec: Spec) -> Path:
    if not spec.args or not spec.args[0]:  # an empty root would read the current folder
        raise UsageError(f"bad data spec {spec.text!r}: write {spec.head}:ROOT")
    root = Path(spec.args[0])
    if not root.is_dir():
        problem = "is a file, not a folder" if root.exists() else "does not exist"
        raise InputError(f"data folder {root} for {spec.head} {problem}")
    return root


def _torchvision_datasets():
    try:
        import torchvision.datasets as tvd
    except Exception as exc:  # a mismatched torch raises RuntimeError, not ImportError
        raise InputError(
            f"reading this data needs torchvision ({type(exc).__name__}); "
            "install the extra: pip install 'prunelimit[vision]'"
        ) from None
    return tvd


def _torchvision_reader(spec: Spec, download: bool):
    root, train = _root(spec), _split_arg(spec, leading=1) != "test"
    tvd = _torchvision_datasets()
    cls = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100, "mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST}
    try:
        ds = cls[spec.head](str(root), train=train, download=download)
    except RuntimeError as exc:
        raise InputError(f"{spec.head} files not found under {root} ({exc}); pass --download to fetch them") from None
    data = torch.as_tensor(np.asarray(ds.data)).float() / 255.0
    data = data.permute(0, 3, 1, 2) if data.dim() == 4 else data.unsqueeze(1)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in _NORMALISE[spec.head])
    return (data - mean) / std, torch.as_tensor(np.asarray(ds.targets))


def _imagefolder(spec: Spec, budget: _Budget):
    root = _root(spec)
    size = _count(spec, "size", spec.written["size"]) if "size" in spec.written else None
    if size is not None and not 1 <= size <= MAX_IMAGE_SIDE:
        raise UsageError(f"bad data spec {spec.text!r}: size must be an integer in [1, {MAX_IMAGE_SIDE}]")
    tvd = _torchvision_datasets()
    import torchvision.transforms as T

    transform = T.Compose(([T.Resize((size, size))] if size else []) + [T.ToTensor()])
    try:
        ds = tvd.ImageFolder(str(root), transform=transform)
        first = ds[0][0] if len(ds) else None
        if first is not None:  # every image has the first one's size (else stacking fails below)
            budget.check(spec, len(ds) * first.numel())
        xs, ys = zip(*(ds[i] for i in range(len(ds))))
        return torch.stack(xs), torch.tensor(ys)
    except (FileNotFoundError, RuntimeError, OSError) as exc:
        raise InputError(f"image folder {root} could not be read ({exc}); images of different sizes need :size=N") from None
