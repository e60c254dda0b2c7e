"""Caps on what an input may make prunelimit allocate or compute, in one place.

A hostile file can be tiny and still ask for terabytes: a zero-stride tensor that claims
10¹² elements, a zip entry that inflates a thousandfold, a model spec recorded inside a
checkpoint that builds gigabytes, a YAML alias bomb, a count option of two billion. Each
check below refuses such an input *before* the allocation, with a one-line reason (exit 2
for options and configuration, exit 3 for files), instead of running out of memory or time.
Real inputs sit far below every cap; each constant says why its value is safe.
"""

from __future__ import annotations

import functools
import io
import json
import numbers
import pickle
import re
import stat
import warnings
import zipfile
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np
import torch
import yaml

from prunelimit.errors import InputError, OptionError, PrunelimitError, UsageError, quoted
from prunelimit.validate import not_a_number

# --- Files -------------------------------------------------------------------------------
# Deflate reaches ~1000× only on degenerate content (runs of zeros); real weights and data
# compress a few-fold at most, so an entry inflating beyond 200× its stored size is a bomb.
MAX_INFLATE_RATIO = 200
# Entries up to this size may inflate freely (a small, highly compressible data set is fine).
FREE_INFLATE_BYTES = 64 << 20
# A zero-stride or overlapping tensor view (e.g. ``expand``) may be materialised up to this
# size; beyond it, it claims far more memory than the file holds, which only a bomb does.
MAX_EXPANDED_BYTES = 16 << 20
# A sparse tensor in an exported file (``prunelimit export``) may expand to its dense size
# up to this multiple of its stored bytes (beyond FREE_INFLATE_BYTES): float32 CSR at a
# density of 1/1000 expands about 700-fold; only a hostile file claims a vast empty shape.
MAX_SPARSE_EXPANSION = 4_096
# Containers (dict/list/tuple) nested inside a checkpoint or a YAML file: real files nest
# fewer than 10 levels; Python's parsers and printers recurse and crash near 1000.
MAX_NESTING = 100
# Values a loaded checkpoint expands to when every shared reference is written out in full
# (JSON, a printout): pickle's memo lets 27 KB name 2^40 values. A large model's state dict,
# optimizer state and training history hold well under a million.
MAX_LOADED_VALUES = 4_000_000
# Values a YAML file expands to, aliases counted at their full size ("billion laughs"); a
# configuration holds a few dozen.
MAX_YAML_VALUES = 100_000
# JSON reports (``bounds --json``) and YAML configurations are a few KB.
MAX_REPORT_BYTES = 16 << 20
MAX_CONFIG_BYTES = 1 << 20
# Law CSVs hold one row per pruning level or measurement: hundreds, not millions. Fits and
# their bootstrap loops are linear or worse in the row count.
MAX_CSV_ROWS = 100_000
MAX_CSV_BYTES = 64 << 20

# --- Specs -------------------------------------------------------------------------------
# A model or data spec read from a file (its ``model`` / ``meta.data``); typed specs are short.
MAX_RECORDED_SPEC_CHARS = 1_000
# The prunable set a pruned file records (``meta.pruned``'s include/exclude): each pattern is
# matched against every module and named in messages; a command line holds a few.
MAX_RECORDED_PATTERNS = 1_000
# An MLP deeper than this is not a network anyone analyses; building it costs time even on meta.
MAX_MLP_LAYERS = 1_000
# Input values (samples × features) a data spec may generate or load: 2^28 float32 = 1 GiB.
MAX_DATA_VALUES = 2**28
# A data spec recorded inside a checkpoint was not typed by the user: 2^24 values (64 MiB),
# more than any analysis set needs; pass --data to ask for more.
MAX_RECORDED_DATA_VALUES = 2**24
# Side of the square an ``imagefolder:...:size=N`` spec resizes images to.
MAX_IMAGE_SIDE = 4_096

# --- Count options ---------------------------------------------------------------------------
# (smallest, largest) value of each integer option that sizes an allocation or a loop, with
# why the upper end is ample. Checked before any work starts (exit 2).
COUNT_RANGES: dict[str, tuple[int, int, str]] = {
    "iterations": (1, 10_000, "Lanczos steps"),
    "runs": (1, 1_000, "probe vectors"),
    "sweep": (0, 1_000, "the verify grid has 1000 ratios"),
    "levels": (0, 200, "IMP levels; at rate 0.2, 200 levels leave 1e-19 of the weights"),
    "epochs": (0, 10_000, "training epochs"),
    "epochs_dense": (0, 10_000, "training epochs"),
    "warmup_epochs": (0, 10_000, "training epochs"),
    "finetune_epochs": (0, 10_000, "training epochs"),
    "pruning_epochs": (1, 10_000, "training epochs"),
    "regrowth_epochs": (0, 10_000, "training epochs"),
    "epochs_per_level": (1, 10_000, "training epochs"),
    "finetune_steps": (0, 1_000_000, "SGD steps"),
    "rewind_steps": (0, 1_000_000, "SGD steps"),
    "batch_size": (1, 1 << 24, "samples per batch"),
    "max_samples": (1, 1 << 31, "samples"),
    "max_hvps": (1, 10_000_000, "Hessian-vector products"),
    "threads": (1, 4096, "CPU threads"),
}


def check_counts(values: dict[str, Any]) -> None:
    """Refuse integer options outside ``COUNT_RANGES`` (``None`` means "the default"), and a
    value of one of them that is not an integer: an ``OptionError`` naming the option (the
    command line names its flag)."""
    for name, value in values.items():
        if name not in COUNT_RANGES or value is None:
            continue
        low, high, why = COUNT_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise OptionError(name, f"{{0}} must be an integer, got {quoted(value)}{not_a_number(value, int)}")
        if value < low:
            raise OptionError(name, f"{{0}} must be at least {low}, got {value}")
        if value > high:
            raise OptionError(name, f"{{0}} must be at most {high:,} ({why}), got {value:,}")


# --- Zip archives (torch checkpoints, .npz) ------------------------------------------------
def is_zip(file: Path | BinaryIO) -> bool:
    """``zipfile.is_zipfile``, False for a zip whose end records are damaged too: Python raises
    ``BadZipFile`` there ("zipfiles that span multiple disks are not supported": one flipped
    byte in the zip64 locator torch writes) where it returns False for other damage."""
    try:
        return zipfile.is_zipfile(file)
    except zipfile.BadZipFile:
        return False


def check_zip(path: Path, what: str) -> None:
    """Refuse a zip whose entries would inflate far beyond their stored size (a zip bomb).

    Uses the sizes the archive declares; Python's and torch's readers stop at a declared size,
    so a lying header cannot inflate further than declared.
    """
    if not is_zip(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # the reader itself reports the damage
    for entry in entries:
        if entry.file_size > FREE_INFLATE_BYTES and entry.file_size > MAX_INFLATE_RATIO * max(entry.compress_size, 1):
            raise InputError(
                f"{what} {path}: entry {entry.filename!r} would inflate from {byte_size(entry.compress_size)} to "
                f"{byte_size(entry.file_size)} (a zip bomb?); refusing to read it"
            )


def check_npz(path: Path, what: str) -> None:
    """Refuse ``.npy`` entries whose header declares more data than the entry holds.

    numpy allocates the declared shape before reading, so a lying header is a memory bomb.
    """
    check_zip(path, what)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with archive:
        for entry in archive.infolist():
            if not entry.filename.endswith(".npy"):
                continue
            try:
                with archive.open(entry) as fh:
                    version = np.lib.format.read_magic(fh)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(fh)
            except Exception:  # noqa: BLE001 - any header damage is numpy's own error to report
                continue
            needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if needed > entry.file_size:
                raise InputError(
                    f"{what} {path}: entry {entry.filename!r} declares shape {tuple(shape)} "
                    f"({byte_size(needed)}) but holds {byte_size(entry.file_size)}; the file is corrupt or hostile"
                )


# --- Files cut short ----------------------------------------------------------------------------
# safetensors' own bound on its JSON header: a larger length is no safetensors header.
MAX_SAFETENSORS_HEADER = 100_000_000
# The pickled magic number that opens torch.save's pre-1.6 (non-zip) format, and a zip's first entry.
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
_ZIP_MAGIC = b"PK\x03\x04"


def check_complete(path: Path, what: str) -> None:
    """Refuse a file that ends before its own structure says it does (a download or copy cut
    short), naming it so: a zip (torch.save's format, a TorchScript archive, an ``.npz``)
    whose directory, kept at its end, is missing; a file that ends inside the bytes that open
    torch.save's formats; a safetensors file shorter than its header declares. Their readers
    said "OSError: Invalid argument", "EOFError" or "incomplete metadata". (A legacy torch
    file cut short is found by ``check_torch_file``, which walks its records.)"""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(len(LEGACY_TORCH_MAGIC))
        if head.startswith(_ZIP_MAGIC) and not is_zip(fh):
            problem = "it begins as a zip archive (torch.save's format) but its end, the zip directory, is missing"
        elif len(head) < len(LEGACY_TORCH_MAGIC) and any(m.startswith(head) for m in (_ZIP_MAGIC, LEGACY_TORCH_MAGIC)):
            problem = f"it ends after {len(head)} bytes, inside the opening of torch.save's format"
        elif head[8:10] == b'{"' and (length := int.from_bytes(head[:8], "little")) <= MAX_SAFETENSORS_HEADER:
            problem = _safetensors_truncation(fh, length, size)
        else:
            problem = None
        unreadable = _unsupported_zip(fh) if head.startswith(_ZIP_MAGIC) and not problem else None
    if problem:
        raise InputError(f"{what} {path} is truncated: {problem}; copy or save it again")
    if unreadable:
        raise InputError(f"{what} {path} is damaged: its zip directory asks for {unreadable}, which Python's "
                         "zipfile cannot read to check the sizes it declares; copy or save it again")


def _unsupported_zip(fh: BinaryIO) -> str | None:
    """What a zip's directory asks for that Python's zipfile refuses with NotImplementedError (a
    flipped "version needed to extract": "zip file version 6.4"), or ``None``. torch's own reader
    ignores it, so the checks of the declared sizes, which read the directory with Python's,
    would pass the file unchecked; other damage is the readers' to name."""
    try:
        zipfile.ZipFile(fh).close()
    except NotImplementedError as exc:
        return str(exc)
    except (zipfile.BadZipFile, OSError, ValueError):
        pass
    return None


def _safetensors_truncation(fh: BinaryIO, length: int, size: int) -> str | None:
    """How a safetensors file (an 8-byte header length, the JSON header, then the tensors'
    bytes at the header's offsets) ends early, or ``None``; a damaged header is its reader's to name."""
    if 8 + length > size:
        return f"its header alone takes {8 + length:,} bytes, and the file holds {size:,}"
    fh.seek(8)
    try:
        header = json.loads(fh.read(length))
        end = max((int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"),
                  default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None
    if 8 + length + end > size:
        return f"its header places the tensors' bytes up to byte {8 + length + end:,}, and the file holds {size:,}"
    return None


# --- Tensor storages a torch.save pickle declares ------------------------------------------------


def check_torch_file(path: Path, what: str, data: bytes | None = None) -> None:
    """Refuse a ``torch.save`` file (zip or legacy format, a TorchScript archive; ``data``: such
    a file held in memory, named ``path``) whose zip entries would inflate far beyond their
    stored size (``check_zip``), or whose pickles declare a tensor storage larger than the
    bytes the file holds for it, before torch reads it: torch allocates each storage at the
    declared size first (the legacy format before it reads a byte of it), so a few hundred
    bytes could ask for terabytes. A legacy file's storage records are walked to its end,
    so a truncated one is named too. Other formats pass (their readers check)."""
    if data is None:
        check_zip(path, what)
    size = len(data) if data is not None else path.stat().st_size
    with (io.BytesIO(data) if data is not None else path.open("rb")) as fh:
        legacy = fh.read(len(LEGACY_TORCH_MAGIC)) == LEGACY_TORCH_MAGIC
        fh.seek(0)
        try:
            if legacy:
                _check_legacy(fh, size)
            elif is_zip(fh):
                _check_zip_storages(fh)
        except _Oversized as exc:
            raise InputError(f"{what} {path}: {exc}; the file is truncated, corrupt or hostile") from None
        except _Damaged as exc:
            raise InputError(f"{what} {path} is truncated or corrupt ({exc}); copy or save it again") from None
        except Exception:  # noqa: BLE001 - other damage is the reader's to name (e.g. a CRC error)
            return


class _Oversized(Exception):
    """Storages declare more bytes than the file holds for them (the message's middle part)."""


def _check_storage(key: str, declared: int, held: int) -> None:
    if declared > held:
        raise _Oversized(f"tensor storage {key!r} declares {_amount(declared)} but the file holds {held:,} "
                         "bytes for it")


def _amount(nbytes: int) -> str:
    """Exact below a megabyte, where a truncated file's two sizes would round to one."""
    return f"{nbytes:,} bytes" if nbytes < 10**6 else byte_size(nbytes)


class _Damaged(Exception):
    """A pickle that ends early, or a legacy file's storage records that disagree with its pickle."""


class _Stub:
    """Stands for every object a scanned pickle names or builds: it takes any arguments and
    state, so a pickle is read to its end without building anything or running code."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Stub":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> "_Stub":
        return _Stub()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


@functools.cache
def _storage_stub(itemsize: int) -> type:
    """The stand-in for a storage class whose elements take ``itemsize`` bytes (a few sizes)."""
    return type(f"_Storage{itemsize}", (_Stub,), {"itemsize": itemsize})


def _storage_itemsize(module: str, name: str) -> int | None:
    """Bytes per element of torch's storage class ``module.name`` (``torch.FloatStorage``: 4;
    ``UntypedStorage``: 1), or ``None`` for any other global."""
    if module not in ("torch", "torch.storage") or not name.endswith("Storage"):
        return None
    with warnings.catch_warnings():  # the typed storage classes are deprecated, their dtype is not
        warnings.simplefilter("ignore")
        dtype = getattr(getattr(torch, name, None), "dtype", None)
    return dtype.itemsize if isinstance(dtype, torch.dtype) else 1


class ClaimScanner(pickle.Unpickler):
    """Reads a ``torch.save`` pickle with stand-ins, recording each storage it declares:
    ``claims[key] = (elements, bytes per element)``; ``limit``: more bytes in all is ``_Oversized``."""

    def __init__(self, file: Any, claims: dict[str, tuple[int, int]], limit: int | None = None) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 strings of old files decode, whatever they hold
        self.claims, self.limit, self.total = claims, limit, 0

    def find_class(self, module: str, name: str) -> type:
        itemsize = _storage_itemsize(module, name)
        return _Stub if itemsize is None else _storage_stub(itemsize)

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) >= 2 and pid[0] in ("module", b"module"):
            return pid[1]  # the legacy format's pickled module class, as torch returns it
        # ("storage", type, key, location, elements[, view]) in both formats
        if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] in ("storage", b"storage"):
            key, numel = _key(pid[2]), pid[4]
            if key is not None and key not in self.claims and type(numel) is int and numel >= 0:
                self.claims[key] = (numel, getattr(pid[1], "itemsize", 1))
                self.total += numel * self.claims[key][1]
                if self.limit is not None and self.total > self.limit:  # before torch allocates past the file
                    raise _Oversized(f"its tensor storages declare {_amount(self.total)} but the whole file is "
                                     f"{self.limit:,} bytes")
        return _Stub()


def _key(value: Any) -> str | None:
    """A storage key as torch compares them (bytes of Python 2 pickles decoded), or ``None``."""
    if isinstance(value, bytes):
        return value.decode("latin1")
    return value if isinstance(value, str) else None


class Clamped:
    """``read``/``readline`` of a file that never ask for more than it holds: the unpickler
    asks for the length an opcode declares, and a buffered file allocates that much first.
    ``short``: a read came back short, the file ended where a pickle went on."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.size, self.short = fh, size, False

    def read(self, n: int = -1) -> bytes:
        left = max(0, self.size - self.fh.tell())
        data = self.fh.read(left if n < 0 else min(n, left))
        self.short |= 0 <= n and len(data) < n
        return data

    def readline(self) -> bytes:
        line = self.fh.readline(max(0, self.size - self.fh.tell()))
        self.short |= not line.endswith(b"\n")
        return line


def _scan(reader: Clamped | io.BytesIO, claims: dict[str, tuple[int, int]] | None = None,
          limit: int | None = None) -> Any:
    """What the next pickle of ``reader`` holds, built of stand-ins (``ClaimScanner``);
    ``_Damaged`` when it fails because the file ends first, its own error otherwise."""
    try:
        return ClaimScanner(reader, {} if claims is None else claims, limit).load()
    except _Oversized:
        raise
    except Exception:
        if ended(reader):
            raise _Damaged("its pickle ends early") from None
        raise


def ended(reader: Clamped | io.BytesIO) -> bool:
    """Whether a failed scan of ``reader`` ran into its end (the file ends where a pickle went on)."""
    if isinstance(reader, Clamped):
        return reader.short
    with reader.getbuffer() as held:
        return reader.tell() >= len(held)


def _check_legacy(fh: BinaryIO, size: int) -> None:
    """torch's legacy layout: the pickles of the magic number, protocol and system info, the
    object's pickle, the storage keys' pickle, then per key its element count (int64) and bytes."""
    reader, claims = Clamped(fh, size), {}
    for _ in range(3):
        _scan(reader)
    _scan(reader, claims, limit=size)
    keys = _scan(reader)
    if not isinstance(keys, list):
        raise _Damaged("its storage keys are not a list")
    for raw in keys:
        key = _key(raw)
        if key not in claims:
            raise _Damaged(f"it holds a storage record {str(raw)[:40]!r} that no tensor declares")
        numel, itemsize = claims[key]
        count = int.from_bytes(fh.read(8).ljust(8, b"\0"), "little", signed=True)
        held = max(0, size - fh.tell())
        if count != numel and held >= numel * itemsize:
            raise _Damaged(f"storage {key!r} records {count} elements where its tensor declares {numel}")
        _check_storage(key, numel * itemsize, held)
        fh.seek(numel * itemsize, io.SEEK_CUR)


# The top-level pickles of a zip that torch's readers load: ``torch.load`` reads ``data``,
# TorchScript's loader ``data`` and ``constants``. A traced archive's ``traced_inputs`` is
# read only when shapes are restored (never, here), and torch writes its storages empty.
_LOADED_PICKLES = ("data.pkl", "constants.pkl")


def _check_zip_storages(fh: BinaryIO) -> None:
    """torch's zip layout: each top-level ``NAME.pkl`` that is loaded (``_LOADED_PICKLES``)
    keeps its storages as the entries ``NAME/KEY``."""
    try:
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # the reader itself reports the damage
    with archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
        for name in sizes:
            if name.count("/") != 1 or name.split("/")[1] not in _LOADED_PICKLES:
                continue
            claims: dict[str, tuple[int, int]] = {}
            pickled = archive.read(name)  # check_zip bounds the inflation
            # BytesIO never gives (nor allocates) more than it holds, as Clamped makes a file's, and its C
            # reads scan five times faster (1 s for a training record's 6,000 storages through Clamped)
            _scan(io.BytesIO(pickled), claims)
            for key, (numel, itemsize) in claims.items():
                _check_storage(key, numel * itemsize, sizes.get(f"{name.removesuffix('.pkl')}/{key}", 0))


def expands_too_far(dense_bytes: int, stored_bytes: int) -> bool:
    """Whether a sparse tensor's dense form would be far larger than what the file stores:
    what the reader refuses, and so what the writer never stores."""
    return dense_bytes > FREE_INFLATE_BYTES and dense_bytes > MAX_SPARSE_EXPANSION * max(stored_bytes, 1)


def check_expansion(dense_bytes: int, stored_bytes: int, what: str) -> None:
    """Refuse a sparse tensor whose dense form would be far larger than what the file stores."""
    if expands_too_far(dense_bytes, stored_bytes):
        raise ValueError(f"{what} would expand from {byte_size(stored_bytes)} to {byte_size(dense_bytes)}, "
                         f"more than {MAX_SPARSE_EXPANSION:,}-fold (a size bomb?)")


# --- Loaded objects (checkpoint pickles) -------------------------------------------------------
def check_loaded(obj: Any, what: str) -> None:
    """Walk a loaded checkpoint: bounded nesting and size, and no tensor claiming more memory
    than its storage holds (zero-stride / overlapping views beyond ``MAX_EXPANDED_BYTES``)."""
    for name, value in _walk(obj, what):
        if isinstance(value, torch.Tensor):
            check_tensor_layout(value, f"{what}: tensor {name!r}")
    check_expanded_size(obj, what)


def check_expanded_size(obj: Any, what: str) -> None:
    """Refuse containers that refer to themselves, or whose shared references expand beyond
    ``MAX_LOADED_VALUES`` values: the walk above visits each object once, but a writer
    (``export``'s JSON header) expands every reference. Linear in the distinct objects."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(obj, False)]
    while stack:
        value, children_done = stack.pop()
        key = id(value)
        if key in sizes:
            continue
        children = [c for c in _children(value) if isinstance(c, (dict, list, tuple))]
        if not children_done:
            if key in open_:
                raise InputError(f"{what} holds a container that contains itself; it is corrupt or hostile")
            open_.add(key)
            stack.append((value, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        open_.discard(key)
        sizes[key] = 1 + len(_children(value)) - len(children) + sum(sizes[id(c)] for c in children)
        if sizes[key] > MAX_LOADED_VALUES:
            raise InputError(f"{what} expands to over {MAX_LOADED_VALUES:,} values through shared references "
                             "(a pickle bomb?); it is corrupt or hostile")


def _children(value: Any) -> list:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return list(value) if isinstance(value, (list, tuple)) else []


def check_tensor_layout(tensor: torch.Tensor, what: str) -> None:
    """Refuse a strided tensor whose elements overlap in memory when materialising it would be large."""
    if tensor.layout != torch.strided or tensor.device.type == "meta":
        return
    nbytes = tensor.numel() * tensor.element_size()
    if nbytes > MAX_EXPANDED_BYTES and overlapping(tuple(tensor.shape), tuple(tensor.stride())):
        raise InputError(
            f"{what} has shape {tuple(tensor.shape)} with strides {tuple(tensor.stride())}: {byte_size(nbytes)} "
            f"over {byte_size(tensor.untyped_storage().nbytes())} of storage (an expanded view); save it contiguous"
        )


def overlapping(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """True unless a strided layout provably gives each index its own element (stride 0 never).

    Dimensions sorted by stride must each step past everything the smaller ones reach; this
    is conservative (a few interleaved layouts count as overlapping), and every layout torch
    saves from contiguous, transposed or sliced tensors passes.
    """
    if 0 in shape:
        return False
    reach = 0
    for step, size in sorted((st, sz) for sz, st in zip(shape, stride) if sz > 1):
        if step <= reach:
            return True
        reach += (size - 1) * step
    return False


def _walk(obj: Any, what: str) -> Iterator[tuple[str, Any]]:
    """Every (path, container or tensor) under ``obj``, each object once (shared references
    are not re-expanded, so the walk is linear in the pickle's size), refusing deep nesting."""
    seen: set[int] = set()
    queue: deque[tuple[str, Any, int]] = deque([("", obj, 0)])
    while queue:
        name, value, depth = queue.popleft()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if depth > MAX_NESTING:
            raise InputError(f"{what} nests containers over {MAX_NESTING} levels deep; it is corrupt or hostile")
        yield name, value
        if isinstance(value, dict):
            items = ((str(k), v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            items = ((str(i), v) for i, v in enumerate(value))
        else:
            continue
        queue.extend((f"{name}.{k}" if name else k, v, depth + 1) for k, v in items
                     if isinstance(v, (dict, list, tuple, torch.Tensor)))


# --- Text formats ------------------------------------------------------------------------------
def load_yaml(text: str, what: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """The document ``text`` as ``loader`` (``SafeLoader`` or a subclass: plain values only)
    builds it, after checking nesting depth and the alias-expanded node count.

    The scan runs on PyYAML's event stream, which is iterative, so even 20,000 levels of
    nesting or a "billion laughs" file cost only a pass over the text.
    """
    depth, anchors = 0, {}
    # per open collection: its anchor, expanded size so far, and for a mapping the lines of
    # its keys so far and how many nodes it holds (keys at even positions)
    stack: list[list] = [[None, 0, None, 0]]
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                raise UsageError(f"{what} nests over {MAX_NESTING} levels deep; flatten it")
            stack.append([event.anchor, 1, {} if isinstance(event, yaml.MappingStartEvent) else None, 0])
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            anchor, size, _, _ = stack.pop()
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, anchors.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        else:
            continue
        if anchor is not None:
            anchors[anchor] = size
        parent = stack[-1]
        if parent[2] is not None and parent[3] % 2 == 0 and isinstance(event, yaml.ScalarEvent):
            _check_new_key(parent[2], event, what)
        parent[1] += size
        parent[3] += 1
        if parent[1] > MAX_YAML_VALUES:
            raise UsageError(f"{what} expands to over {MAX_YAML_VALUES:,} values through its aliases (a YAML bomb?)")
    reader = loader(text)
    try:
        return reader.get_single_data()
    finally:
        reader.dispose()


def _check_new_key(lines: dict[str, int], key: "yaml.ScalarEvent", what: str) -> None:
    """Refuse a mapping's key written twice (``lines``: the keys so far, by line): YAML keeps
    the last in silence, so a policy's ``min_ratio: 0.95`` above a ``min_ratio: 0.1`` gated at
    0.1. A merge key (``<<``) is no option: the keys it brings are overridden by design."""
    line = key.start_mark.line + 1
    if key.value != "<<" and key.value in lines:
        raise UsageError(f"{what} line {line}: {key.value} is given twice (also at line {lines[key.value]}); "
                         "YAML would keep the last in silence: write it once")
    lines[key.value] = line


def refuse_standard_input(path: Path, what: str, error: type[PrunelimitError] = InputError) -> None:
    """Refuse ``-``, a Unix filter's name for standard input, unless a file has that name: it
    read as a missing file ("config file - not found"), which hides that inputs are files."""
    if str(path) == "-" and not path.exists():
        raise error(f"{what} - names standard input, which prunelimit does not read; save it to a file and name "
                    "that file")


def require_file(path: Path, what: str, error: type[PrunelimitError] = InputError) -> None:
    """Refuse a path that is no regular file, saying what is there instead: "not found" for a
    path that exists (a folder, a FIFO) would send the user looking for the wrong fix, and
    a device or FIFO never ends or blocks the reader forever."""
    refuse_standard_input(path, what, error)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{what} {path} not found") from None
    except OSError as exc:  # a name too long, a loop of symbolic links, a folder we may not enter
        raise error(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL in the name, which only a --config file can write ("\x00"): stat refuses it
        raise error(f"{what} {str(path)!r} holds a NUL character, which no file name can; give a file name") from None
    if stat.S_ISDIR(info.st_mode):
        noun = what if what.endswith("file") else f"{what} file"
        raise error(f"{what} {path} is a folder; give the {noun} in it")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{what} {path} is a device, FIFO or socket, not a regular file; give a file")


def check_file_size(path: Path, limit: int, what: str, error: type[PrunelimitError] = InputError) -> None:
    """Refuse a file larger than ``limit`` bytes before reading it (a missing file or a folder
    passes: the reader names those), and one that is no regular file: a device such as
    /dev/zero has size 0 and never ends, a FIFO blocks the reader forever."""
    refuse_standard_input(path, what, error)
    try:
        info = path.stat()
    except OSError:
        return
    size = info.st_size
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise error(f"{what} {path} is a device, FIFO or socket, not a regular file; give a file")
    if size > limit:
        raise error(f"{what} {path} is {byte_size(size)}, over the {byte_size(limit)} such a file can need")


def check_csv_rows(rows: list, path: Path) -> None:
    """Refuse a CSV read up to ``MAX_CSV_ROWS + 1`` rows that has more than ``MAX_CSV_ROWS``."""
    if len(rows) > MAX_CSV_ROWS:
        raise InputError(f"{path}: over {MAX_CSV_ROWS:,} rows; a law fit needs hundreds, so thin or split the file")


def out_of_memory(exc: BaseException) -> str | None:
    """For an allocation that failed, what it asked for (" of 1.0 GB", "" when unknown);
    ``None`` when ``exc`` is no such failure. Python raises MemoryError, torch's CPU allocator
    a RuntimeError saying "can't allocate memory", its GPU allocator ``torch.OutOfMemoryError``."""
    text = str(exc)
    if not (isinstance(exc, (MemoryError, torch.OutOfMemoryError))
            or (isinstance(exc, RuntimeError) and "can't allocate memory" in text)):
        return None
    asked = re.search(r"allocate (\d+) bytes", text)
    return f" of {byte_size(int(asked.group(1)))}" if asked else ""


def byte_size(nbytes: float) -> str:
    """A byte count in decimal units, one decimal (e.g. "1.8 MB")."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"
