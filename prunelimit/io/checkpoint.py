"""Checkpoint formats in and out (docs/guide.md, "Your own model").

Read: plain state dicts, ``{"state_dict": ...}`` / ``{"model_state_dict": ...}`` /
``{"model": ...}`` (torchvision's and timm's training scripts; nested in one another too),
prunelimit's own ``prunelimit/1`` files, ``.safetensors`` (sparse exports of
``prunelimit export`` included, decoded to dense tensors with their masks), ``torch.nn.utils.prune``
state dicts (``weight_orig`` + ``weight_mask``), with ``module.`` / ``_orig_mod.``
prefixes stripped; the format is read from a file's first bytes, not its name. Everything
loads with ``weights_only=True``; a whole pickled module or a TorchScript archive (which is
code: loading runs its ``__setstate__``, calling it its ``forward``) only with ``trust_pickle=True``.
Tensors must be dense, real and hold values (no sparse, complex or meta-device weights).
Written, atomically: the own format, and a pruned TorchScript model as a TorchScript archive
with its masks (``torchscript_writer``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import pickle
import pickletools
import re
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from prunelimit.errors import InputError, first_line
from prunelimit.io.atomic import write_atomic
from prunelimit.sparse.formats import float_bits, storage_key
from prunelimit.limits import (LEGACY_TORCH_MAGIC, MAX_REPORT_BYTES, ClaimScanner, Clamped, check_complete,
                               check_loaded, check_torch_file, is_zip, require_file)
from prunelimit.report.safe import listed

FORMAT = "prunelimit/1"
_TORCHSCRIPT_EXTRA = "prunelimit.pt"  # masks and meta in a pruned TorchScript archive (torchscript_writer)
_PREFIXES = ("module.", "_orig_mod.")
# the header metadata key of a plain safetensors file `prune --format safetensors` writes: its meta.pruned, as JSON
SAFETENSORS_PRUNED = "prunelimit.pruned"


@dataclass
class RawCheckpoint:
    """What a checkpoint file holds, before a model is built around it."""

    path: Path
    kind: str  # "prunelimit", "state_dict", "nested", "safetensors", "sparse", "module", "torchscript"
    state_dict: dict[str, Tensor] = field(default_factory=dict)
    model_spec: str | None = None
    masks: dict[str, Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    module: nn.Module | None = None
    # a training record: where its weights were read (``model_state_dict``) and what beside
    # them is not used (``epoch``, ``optimizer_state_dict``), dotted when nested
    weights_from: str | None = None
    ignored: tuple[str, ...] = ()


def read_checkpoint(path: str | Path, trust_pickle: bool = False) -> RawCheckpoint:
    """Read any supported checkpoint file; raise ``InputError`` with the fix otherwise."""
    path = Path(path)
    require_file(path, "checkpoint")
    if path.stat().st_size == 0:
        raise InputError(f"checkpoint {path} is empty")
    check_complete(path, "checkpoint")
    kind = file_format(path)  # by content: a name's extension may be wrong either way
    shards = shard_index(path) if kind == "unknown" else None
    if shards is not None:  # torch.load read it as "corrupt pickle data"
        raise InputError(f"checkpoint {path} is the index of a checkpoint sharded over {len(shards)} file(s) "
                         f"({listed(shards, 2)}), not weights; {MERGE_SHARDS}")
    if kind == "unknown" and (start := text_start(path)) is not None:  # else read as a pickle, "--trust-pickle" advised
        raise InputError(f"checkpoint {path} is a text file (it begins {start!r}), not a PyTorch or safetensors "
                         "checkpoint; give the file torch.save(model.state_dict(), FILE) wrote")
    if kind == "safetensors" or (kind == "unknown" and path.suffix == ".safetensors"):
        return _checked(_read_safetensors(path))  # the safetensors reader checks shapes against the stored bytes
    if kind in _NUMPY_FORMATS:
        raise InputError(f"checkpoint {path} is a numpy {_NUMPY_FORMATS[kind]}, not a PyTorch or safetensors "
                         "checkpoint; save the weights with torch.save(model.state_dict(), FILE)")
    check_torch_file(path, "checkpoint")  # declared sizes, before anything inflates an entry or allocates
    if is_exported_program(path):  # torch.load reads no data.pkl there: 'an internal miniz error'
        raise InputError(f"checkpoint {path} is a torch.export program (torch.export.save), which is not read here; "
                         "save the weights with torch.save(model.state_dict(), FILE) and give the architecture "
                         "with --model FILE.py:FUNCTION")
    if is_torchscript(path):
        if not trust_pickle:
            raise InputError(
                f"checkpoint {path} is a TorchScript archive, and TorchScript is code (loading it runs "
                "its __setstate__, using it its forward); if you trust its source, pass --trust-pickle"
            )
        return _checked(_read_torchscript(path))
    try:
        obj = load_quietly(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = pickled_global(exc)
        opcode = unread_opcode(exc)
        if opcode and not trust_pickle:
            raise InputError(f"checkpoint {path} {opcode}; save it again with torch.save's default protocol "
                             "(or as safetensors), or, if you trust its source, pass --trust-pickle") from None
        if not found and not opcode:
            raise InputError(f"checkpoint {path} is not a readable PyTorch file (corrupt pickle data)") from None
        if not trust_pickle:
            raise InputError(
                f"checkpoint {path} contains pickled Python objects ({found}), and unpickling "
                "can run code; if you trust its source, pass --trust-pickle"
            ) from None
        obj = _load_untrusted(path)
    except Exception as exc:  # truncated zip, random bytes, wrong magic number, ...
        if not tarfile.is_tarfile(path):
            raise InputError(f"checkpoint {path} is not a readable PyTorch file ({first_line(exc)})") from None
        if not trust_pickle:  # torch's pre-1.0 format, which only its full unpickler reads
            raise InputError(f"checkpoint {path} is in PyTorch's legacy .tar format, which is read only by "
                             "unpickling, and unpickling can run code; if you trust its source, pass --trust-pickle"
                             ) from None
        obj = _load_untrusted(path)
    check_loaded(obj.state_dict() if isinstance(obj, nn.Module) else obj, f"checkpoint {path}")
    return _checked(_interpret(path, obj))


MERGE_SHARDS = ("prunelimit reads one file: merge the shards into one (safetensors.torch.save_file of the union of "
                "each shard's load_file) and give that")
_SHARD_NAME = re.compile(r"-(\d+)-of-(\d+)\.(?:safetensors|bin)$")  # Hugging Face's model-00001-of-00002.safetensors


def shard_index(path: Path) -> list[str] | None:
    """The shard files a Hugging Face index (``model.safetensors.index.json``: a JSON object
    whose ``weight_map`` maps each tensor to its file) names, else ``None``."""
    import json

    with path.open("rb") as fh:
        text = fh.read(MAX_REPORT_BYTES + 1)
    if len(text) > MAX_REPORT_BYTES or not text.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return None
    try:
        index = json.loads(text.decode("utf-8-sig"))
    except ValueError:  # not JSON (bad UTF-8 included): torch's reader names what it is
        return None
    weights = index.get("weight_map") if isinstance(index, dict) else None
    return sorted({str(f) for f in weights.values()}) if isinstance(weights, dict) else None


def shard_of(path: Path) -> tuple[int, int] | None:
    """Which shard ``path`` is, by its name (``model-00001-of-00002.safetensors``: 1 of 2), when one of several."""
    found = _SHARD_NAME.search(path.name)
    return (int(found[1]), int(found[2])) if found and int(found[2]) > 1 else None


def pickled_global(exc: pickle.UnpicklingError) -> str | None:
    """The Python object a file's pickle names, which ``torch.load(weights_only=True)`` refused
    to build (unpickling it could run code), or ``None`` for a file that is merely damaged."""
    found = re.search(r"GLOBAL (\S+)|but got <class '([^']+)'>", str(exc))  # a class named, or built
    return (found.group(1) or found.group(2)) if found else None


def unread_opcode(exc: pickle.UnpicklingError) -> str | None:
    """Why ``torch.load(weights_only=True)`` stopped at a valid opcode it does not implement
    (``FRAME``, ``MEMOIZE``, ... of pickle protocol 4 and later: ``torch.save(...,
    pickle_protocol=4)``), in words, or ``None`` where it did not: such a file is not damaged."""
    found = re.search(r"Unsupported operand (\d+)", str(exc))
    op = pickletools.code2op.get(chr(int(found.group(1)))) if found else None
    if op is None:
        return None
    return (f"uses pickle opcode {op.name} (pickle protocol {op.proto}), which torch's weights-only loader "
            "does not read")


def load_quietly(path: Path, weights_only: bool = True) -> Any:
    """``torch.load`` to the CPU without torch's deprecation and beta warnings: what a file
    holds is checked (and named) by prunelimit, and stderr stays one line. It reads an open
    file, not the name: torch reads any name ending in ``.safetensors`` as safetensors.
    Weights-only, it also builds the values of :func:`harmless_globals`."""
    harmless = harmless_globals() if weights_only else []
    if harmless:
        refuse_unsafe_numpy(path)
    allowed = torch.serialization.safe_globals(harmless) if harmless else contextlib.nullcontext()
    with warnings.catch_warnings(), allowed, path.open("rb") as fh:
        warnings.simplefilter("ignore")
        return torch.load(fh, map_location="cpu", weights_only=weights_only)


@functools.cache
def harmless_globals() -> list[Any]:
    """What training records pickle beside their tensors that builds plain values and runs no
    code: numpy scalars and arrays (a best accuracy, a loss history) and ``argparse.Namespace``
    (the ``args`` timm's and DeiT's scripts save). ``weights_only`` refuses them unless listed,
    and such a file then needed ``--trust-pickle``, which lets it run anything. numpy 1 and 2
    name the reconstructors differently (``numpy.core`` / ``numpy._core``): both are listed.
    Empty before torch 2.6, which cannot list a function under another name."""
    if tuple(int(part) for part in re.findall(r"\d+", torch.__version__)[:2]) < (2, 6):
        return []
    multiarray = importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray")
    # not object (or variable-width string) arrays: numpy fills every element of the shape the
    # file declares before it compares the element count, so a few bytes can ask for gigabytes.
    # Nor structured (void) ones, which hold objects in a field; numpy.dtype itself can still
    # make both, which refuse_unsafe_numpy refuses before torch reads the file
    dtypes = [c for c in vars(getattr(np, "dtypes", np)).values() if isinstance(c, type) and issubclass(c, np.dtype)
              and c.__name__ not in ("ObjectDType", "StringDType", "VoidDType")]
    named = [(getattr(multiarray, f), f"numpy.{core}.multiarray.{f}")
             for core in ("core", "_core") for f in ("scalar", "_reconstruct")]
    return [np.dtype, np.ndarray, *dtypes, *named, argparse.Namespace]


class _UnsafeNumpy(Exception):
    """A numpy value in a pickle that weights-only loading would build but is not plain numbers."""


class _DtypeCheck:
    """Stands for ``numpy.dtype`` in a scanned pickle: the dtype its arguments make must hold
    plain numbers, and the state numpy's ``__setstate__`` is given must be the one numpy writes
    for it (``load_quietly``)."""

    def __new__(cls, *args: Any) -> "_DtypeCheck":
        self = object.__new__(cls)
        try:
            self.dtype = np.dtype(*args)
        except Exception:  # noqa: BLE001 - torch's reader names the damage
            self.dtype = None
        if self.dtype is not None and (self.dtype.hasobject or self.dtype.fields is not None
                                       or self.dtype.subdtype is not None or self.dtype.kind not in "biufcmMSU"):
            raise _UnsafeNumpy(f"numpy.dtypes.{type(self.dtype).__name__}")
        return self

    def __setstate__(self, state: Any) -> None:
        # the byte order (a file from a big-endian machine) and a datetime's unit may differ;
        # fields, sizes and flags (whose object bits make numpy read raw bytes as pointers) may not
        mine = self.dtype.__reduce__()[2] if self.dtype is not None else None
        if not (isinstance(state, tuple) and isinstance(mine, tuple) and len(state) == len(mine)
                and all(a == b for i, (a, b) in enumerate(zip(state, mine)) if i not in (1, 8))):
            raise _UnsafeNumpy("numpy.dtype")


class _NumpyScanner(ClaimScanner):
    """Reads a pickle with stand-ins, checking each numpy dtype it builds (``_DtypeCheck``); a
    dtype class named outright (numpy pickles none) is refused by its name."""

    def find_class(self, module: str, name: str) -> type:
        if module == "numpy" and name == "dtype":
            return _DtypeCheck
        if module.startswith("numpy") and name.endswith("DType"):
            raise _UnsafeNumpy(f"{module}.{name}")
        return super().find_class(module, name)


def refuse_unsafe_numpy(path: Path) -> None:
    """Raise ``pickle.UnpicklingError`` naming the numpy value, as ``torch.load`` names a global
    it refuses, when the file's pickle builds a numpy dtype that holds Python objects or fields
    (``np.dtype([("a", "O")])``, made by the listed ``numpy.dtype`` without an ``ObjectDType``
    to refuse) or sets one's flags or fields through its state: weights-only loading builds
    them (:func:`harmless_globals`), and such an array made numpy fill gigabytes, read the
    file's bytes as pointers or crash (SIGSEGV). Damage is left to torch's reader to name."""
    try:
        with path.open("rb") as fh:
            size = path.stat().st_size
            if fh.read(len(LEGACY_TORCH_MAGIC)) == LEGACY_TORCH_MAGIC:  # magic, protocol, system info, then the object
                fh.seek(0)
                reader = Clamped(fh, size)
                for _ in range(4):
                    _NumpyScanner(reader, {}).load()
                return
            with zipfile.ZipFile(fh) as archive:
                for name in archive.namelist():
                    if name.count("/") == 1 and name.endswith("/data.pkl"):
                        pickled = archive.read(name)  # check_torch_file bounded its inflation
                        _NumpyScanner(io.BytesIO(pickled), {}).load()  # as check_torch_file scans it
    except _UnsafeNumpy as exc:
        raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {exc}") from None
    except Exception:  # noqa: BLE001 - not a zip, a damaged pickle: torch's reader names it
        return


# what file_format calls numpy's files in messages
_NUMPY_FORMATS = {"npz": ".npz archive", "npy": ".npy array"}


def file_format(path: Path) -> str:
    """What a file holds, by its first bytes whatever its name: ``"safetensors"``, ``"npz"``,
    ``"npy"``, ``"torch"`` (``torch.save``'s zip or legacy format, TorchScript archives) or
    ``"unknown"`` (damaged or foreign, torch's pre-1.0 .tar included)."""
    with path.open("rb") as fh:
        head = fh.read(len(LEGACY_TORCH_MAGIC))
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(LEGACY_TORCH_MAGIC):
        return "torch"
    if is_zip(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return "unknown"
        return "npz" if names and all(n.endswith(".npy") for n in names) else "torch"
    # safetensors: a little-endian u64 header length, then the JSON header, inside the file
    if len(head) > 8 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= path.stat().st_size:
        return "safetensors"
    return "unknown"


def text_start(path: Path) -> str | None:
    """The first line of a text file (a CSV, JSON or YAML file given as a checkpoint or as
    tensors), shortened, else ``None``. torch reads such a file as a pickle of protocol 0, whose
    opcodes are letters, and names an opcode (``density,…`` starts with ``d``, DICT) or a
    ``KeyError``; a real protocol-0 pickle parses as one and is left to torch's reader."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if b"\0" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not a character cut at the end of the bytes read
            return None
        text = head[:exc.start].decode("utf-8")
    try:
        for _ in pickletools.genops(io.BytesIO(head)):
            pass
        return None  # a whole pickle
    except ValueError as exc:
        if "exhausted" in str(exc):  # a pickle longer than the bytes read, as far as they go
            return None
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else text
    return first if len(first) <= 40 else first[:40] + "…"


def _load_untrusted(path: Path) -> Any:
    try:
        return load_quietly(path, weights_only=False)
    except (AttributeError, ImportError) as exc:  # a class defined in the script that saved it, say
        raise InputError(f"checkpoint {path} could not be unpickled ({first_line(exc)}); the classes it names "
                         "must be importable here, or save model.state_dict() and pass --model SPEC") from None
    except Exception as exc:
        raise InputError(f"checkpoint {path} could not be unpickled ({first_line(exc)})") from None


def _interpret(path: Path, obj: Any) -> RawCheckpoint:
    if isinstance(obj, nn.Module):
        return RawCheckpoint(path, "module", state_dict=dict(obj.state_dict()), module=obj)
    if not isinstance(obj, Mapping):
        raise InputError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict or model")
    if obj.get("format") == FORMAT:
        return RawCheckpoint(
            path,
            "prunelimit",
            state_dict=_tensors(path, _entry(path, obj, "state_dict", Mapping, {})),
            model_spec=_entry(path, obj, "model", str, None),
            masks=_tensors(path, _entry(path, obj, "masks", Mapping, {})),
            meta=_meta(path, _entry(path, obj, "meta", Mapping, {})),
        )
    for key in _NESTED_KEYS:
        # nested deeper still too: {"state_dict": {"model": weights}}; {"model": model, "optimizer": ...}
        # holds a whole module, read with trust_pickle
        if isinstance(obj.get(key), (Mapping, nn.Module)):
            raw = _interpret(path, obj[key])
            kind = "nested" if raw.kind == "state_dict" else raw.kind
            return replace(raw, kind=kind, weights_from=key if raw.weights_from is None else f"{key}.{raw.weights_from}",
                           ignored=(*(str(k) for k in obj if k != key), *(f"{key}.{k}" for k in raw.ignored)))
    if not obj:
        raise InputError(f"checkpoint {path} holds no tensors")
    # a training record keeping its weights under a name of its own ("net", "ema", ...)
    inner = [str(k) for k, v in obj.items() if isinstance(v, Mapping) and v
             and all(isinstance(t, Tensor) for t in v.values())]
    if inner and not any(isinstance(v, Tensor) for v in obj.values()):
        raise InputError(f"checkpoint {path} holds dicts of tensors under {', '.join(map(repr, inner))}, not a "
                         f"state dict; save the model's alone: torch.save(ckpt[{inner[0]!r}], 'weights.pt')")
    return RawCheckpoint(path, "state_dict", state_dict=_tensors(path, obj))


# where training scripts nest the model's state dict, tried in this order
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")


def training_notes(raw: RawCheckpoint) -> tuple[str, ...]:
    """What a training record holds beside its weights, said once: the epoch and optimizer
    state were read past, not resumed or analysed (``info`` alone showed ``format nested``)."""
    if not raw.ignored:
        return ()
    return (f"checkpoint {raw.path} is a training record: the weights were read from {raw.weights_from!r}; "
            f"{listed([repr(k) for k in raw.ignored])} beside them are not used",)


def _entry(path: Path, obj: Mapping, key: str, kind: type, default: Any) -> Any:
    """An entry of a prunelimit file, of the type the format defines (absent or None: ``default``)."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        expected = {Mapping: "dict", str: "string"}[kind]
        raise InputError(f"checkpoint {path}: entry {key!r} is a {type(value).__name__}, not a {expected}; "
                         "the file is damaged (write it again with prunelimit)")
    return value


# meta entries that name a data set: read as spec strings, so they must be strings
_META_SPECS = ("data", "eval_data")


def _meta(path: Path, meta: Mapping) -> dict[str, Any]:
    for key in _META_SPECS:
        _entry(path, meta, key, str, None)
    return {str(k): v for k, v in meta.items()}


def _checked(raw: RawCheckpoint) -> RawCheckpoint:
    """Refuse tensors the analysis cannot use as real weights, naming the first one."""
    for key, value in (*raw.state_dict.items(), *raw.masks.items()):
        problem = tensor_problem(value)
        if problem:
            raise InputError(f"checkpoint {raw.path}: tensor {key!r} {problem}; save dense real-valued weights")
    return raw


def tensor_problem(value: Tensor) -> str | None:
    """Why a tensor from a file cannot be used as dense real numbers (weights or data), or ``None``."""
    if value.is_meta:
        return "is on the meta device (it holds no values)"
    if value.layout != torch.strided:
        return f"has layout {str(value.layout).removeprefix('torch.')} (sparse or opaque, not a dense tensor)"
    if value.is_quantized:
        return f"is quantized ({str(value.dtype).removeprefix('torch.')})"
    if value.is_complex():
        return f"is complex ({str(value.dtype).removeprefix('torch.')}), its imaginary part would be lost"
    if not (value.dtype.is_floating_point or value.dtype in _NUMBER_DTYPES):  # e.g. bits8: raw bits, no numbers
        return f"has dtype {str(value.dtype).removeprefix('torch.')}, which holds no numbers"
    return None


# integer and boolean dtypes whose values convert to floats (floating dtypes all do)
_NUMBER_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
                  torch.uint16, torch.uint32, torch.uint64)


def _tensors(path: Path, mapping: Mapping) -> dict[str, Tensor]:
    bad = [k for k, v in mapping.items() if not isinstance(v, Tensor)]
    if bad:
        raise InputError(f"checkpoint {path}: entry {bad[0]!r} is not a tensor; expected a state dict")
    return {str(k): v for k, v in mapping.items()}


def _read_safetensors(path: Path) -> RawCheckpoint:
    from safetensors import SafetensorError

    from prunelimit.io.safetensors_bytes import read_safetensors
    from prunelimit.sparse.sparse_file import FORMAT, decode_sparse

    try:
        tensors, metadata = read_safetensors(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"checkpoint {path} is not a readable safetensors file ({first_line(exc)})") from None
    if metadata.get("format") == FORMAT:  # written by `prunelimit export`: weights, masks, spec and meta
        sparse = decode_sparse(path, metadata, tensors)
        return RawCheckpoint(path, "sparse", state_dict=sparse.state_dict, masks=sparse.masks,
                             model_spec=sparse.model_spec, meta=_meta(path, sparse.meta))
    return RawCheckpoint(path, "safetensors", state_dict=tensors, meta=_safetensors_meta(path, metadata))


def _safetensors_meta(path: Path, metadata: Mapping[str, str]) -> dict[str, Any]:
    """``{"pruned": ...}`` from a plain safetensors file's metadata (``SAFETENSORS_PRUNED``), else ``{}``."""
    import json

    text = metadata.get(SAFETENSORS_PRUNED)
    if text is None:
        return {}
    try:
        pruned = json.loads(text)
    except ValueError:
        pruned = None
    if not isinstance(pruned, dict):
        raise InputError(f"checkpoint {path}: its {SAFETENSORS_PRUNED!r} metadata is not a JSON object; the file is "
                         "damaged (prune the model again)")
    return {"pruned": pruned}


def _archive_names(path: Path) -> list[str]:
    """The names in a zip archive below its top folder (``[]`` for any other file)."""
    if not is_zip(path):
        return []
    try:
        with zipfile.ZipFile(path) as z:
            return [n.split("/", 1)[-1] for n in z.namelist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return []


def is_torchscript(path: Path) -> bool:
    """A zip with TorchScript's ``code/`` folder or ``constants.pkl`` (torch's own test)."""
    return any(n.startswith("code/") or n == "constants.pkl" for n in _archive_names(path))


def is_exported_program(path: Path) -> bool:
    """A ``torch.export.save`` archive: a program graph (``models/*.json``, or the older
    ``serialized_exported_program.json``), no pickle of a state dict."""
    names = _archive_names(path)
    return "data.pkl" not in names and any(
        n == "archive_format" or n.startswith("models/") or n == "serialized_exported_program.json" for n in names)


def _read_torchscript(path: Path) -> RawCheckpoint:
    extra = {_TORCHSCRIPT_EXTRA: b""}
    try:
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:
        raise InputError(f"TorchScript checkpoint {path} could not be loaded ({first_line(exc)})") from None
    if next(module.parameters(), None) is None:
        raise InputError(f"TorchScript checkpoint {path} holds no parameters (torch.jit.freeze makes the weights "
                         "constants of its code), so nothing in it can be pruned; save it before freezing")
    masks, meta = _torchscript_extra(path, extra[_TORCHSCRIPT_EXTRA])
    return RawCheckpoint(path, "torchscript", state_dict=dict(module.state_dict()), masks=masks, meta=meta,
                         module=module)


def _torchscript_extra(path: Path, payload: bytes) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The masks and meta ``torchscript_writer`` wrote into an archive (none in other archives)."""
    if not payload:
        return {}, {}
    check_torch_file(path, f"the {_TORCHSCRIPT_EXTRA} entry of TorchScript checkpoint", data=payload)
    record = io.BytesIO(payload)
    try:
        obj = torch.load(record, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"TorchScript checkpoint {path}: its {_TORCHSCRIPT_EXTRA} entry is not a readable "
                         f"PyTorch file ({first_line(exc)})") from None
    if not isinstance(obj, Mapping) or obj.get("format") != FORMAT:
        raise InputError(f"TorchScript checkpoint {path}: its {_TORCHSCRIPT_EXTRA} entry is not a {FORMAT} record")
    check_loaded(obj, f"checkpoint {path}")
    return (_tensors(path, _entry(path, obj, "masks", Mapping, {})),
            _meta(path, _entry(path, obj, "meta", Mapping, {})))


def state_and_masks(raw: RawCheckpoint) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The file's weights and pruning masks (its own, and ``torch.nn.utils.prune``'s folded in);
    a mask that matches no weight of its shape is an ``InputError`` for every command alike."""
    collision = prefix_collision(raw.state_dict)
    if collision is not None:
        raise InputError(f"checkpoint {raw.path}: keys {collision[0]!r} and {collision[1]!r} both name "
                         f"{unprefixed(collision[0])!r} once the {'/'.join(_PREFIXES)} prefixes are dropped, and hold "
                         "different values; save one model's state_dict")
    state, masks = normalise_state_dict(raw.state_dict)
    masks.update(raw.masks)
    unmatched = unmatched_mask(state, masks)
    if unmatched is not None:
        raise InputError(f"checkpoint {raw.path}: the mask {unmatched!r} matches no weight of its shape; "
                         "the file is damaged (prune the model again)")
    for name, mask in masks.items():
        unsign_pruned_zeros(state[name], mask)
    return state, masks


def unmatched_mask(state: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> str | None:
    """The first mask name that names no tensor of ``state`` of the mask's shape (a
    ``weight_mask`` of another shape than its ``weight_orig`` is left unfolded, so it is one)."""
    return next((name for name, mask in masks.items() if name not in state or mask.shape != state[name].shape), None)


@torch.no_grad()
def unsign_pruned_zeros(tensor: Tensor, keep: Tensor) -> None:
    """Make each pruned zero (``keep`` False) of ``tensor`` +0.0, in place (a tensor tied
    under several keys stays one): ``p * mask`` (hyperflux and imp files,
    ``torch.nn.utils.prune``) leaves −0.0 for a pruned negative weight where ``prune``
    writes +0.0, and the same pruned model must give the same weights, fingerprint and
    exported bytes whichever wrote it (docs/export.md). Values are never changed."""
    if tensor.is_floating_point():  # through the bits: all zero is +0.0 in every float format, float8 included
        float_bits(tensor).masked_fill_(~keep.to(tensor.device, torch.bool) & (tensor == 0), 0)


def unprefixed(key: str) -> str:
    """``key`` without the wrapper prefixes (``module.``, ``_orig_mod.``) it starts with, in any order."""
    while key.startswith(_PREFIXES):
        key = key.split(".", 1)[1]
    return key


def prefix_collision(state: Mapping[str, Tensor]) -> tuple[str, str] | None:
    """Two keys of ``state`` that name one tensor once the wrapper prefixes are dropped and
    hold different values (only one of them could be loaded), or ``None``."""
    seen: dict[str, str] = {}
    for key, value in state.items():
        other = seen.setdefault(unprefixed(key), key)
        if other != key and not (value.shape == state[other].shape and torch.equal(value, state[other])):
            return other, key
    return None


def normalise_state_dict(state: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Strip wrapper prefixes and fold ``weight_orig``/``weight_mask`` pairs.

    Returns ``(state_dict, masks)``; masks are boolean keep-masks keyed by the weight name.
    A folded weight takes the place of its ``weight_orig`` (the file is then written in the
    same order whichever reads it).
    """
    clean = {unprefixed(key): value for key, value in state.items()}
    masks = {key.removesuffix("_orig"): clean[key.removesuffix("_orig") + "_mask"].bool() for key in clean
             if key.endswith("_orig") and key.removesuffix("_orig") + "_mask" in clean}
    folded: dict[str, Tensor] = {}
    products: dict[tuple, list[tuple[Tensor, Tensor]]] = {}  # a tied weight_orig → its (mask, product)s
    for key, value in clean.items():
        base = key.removesuffix("_orig")
        if key.endswith("_orig") and base in masks and value.shape == masks[base].shape:
            folded[base] = _folded(value, clean[base + "_mask"], masks[base], products)
        elif key.endswith("_orig") and base in masks:  # left unfolded: the caller names the damaged mask
            folded[key] = value
        elif key.removesuffix("_mask") not in masks:  # the mask itself, or a plain copy the fold replaces
            folded[key] = value
    # torch pruning of one module of a tied Parameter leaves its other keys the bare weight_orig:
    # they are the same Parameter, so they read as its one fold (load_state_dict writes them last)
    for key, value in folded.items():
        found = products.get(storage_key(value), []) if key not in masks and value.numel() else []
        if len(found) == 1:
            folded[key] = found[0][1]
    return folded, masks


def _folded(orig: Tensor, mask: Tensor, keep: Tensor, products: dict[tuple, list[tuple[Tensor, Tensor]]]) -> Tensor:
    """``orig * mask`` with pruned zeros +0.0, as one tensor wherever a tie allows, so the tie
    survives the fold (the export stores it once, ``load_state_dict`` keeps it): ``orig``
    itself when it is already pruned bit for bit (``prune --format torch-prune`` writes it so,
    and a tied Parameter's later key, unmasked, holds the same tensor), and one product for
    every key of a tied ``weight_orig`` (one Parameter in two modules) pruned by the same mask."""
    earlier = products.setdefault(storage_key(orig), []) if orig.numel() else []  # empty: no address to share
    for seen, product in earlier:
        if torch.equal(seen, keep):
            return product
    # a float32 mask beside bfloat16 weights must not promote them, nor be refused beside float8 (0/1: exact)
    product = orig * mask.to(orig.dtype)
    unsign_pruned_zeros(product, keep)
    if torch.equal(*(float_bits(t) if t.is_floating_point() else t for t in (product, orig))):
        product = orig
    earlier.append((keep, product))
    return product


def torchscript_writer(
    module: torch.jit.ScriptModule,
    masks: Mapping[str, Tensor],
    meta: Mapping[str, Any] | None = None,
) -> Callable[[Path], None]:
    """The function that writes a pruned TorchScript model as a TorchScript archive: its code
    stays with its weights (the own format holds no architecture to rebuild it from), and the
    masks and meta go into the archive's extra file ``prunelimit.pt`` (read weights-only)."""
    record = io.BytesIO()
    torch.save({"format": FORMAT, "masks": {k: v.detach().cpu().bool() for k, v in masks.items()},
                "meta": dict(meta or {})}, record)
    return lambda tmp: save_torch(module, tmp, lambda m, file: torch.jit.save(
        m, file, _extra_files={_TORCHSCRIPT_EXTRA: record.getvalue()}))


def save_checkpoint(
    path: str | Path,
    model_spec: str | None,
    state_dict: Mapping[str, Tensor],
    masks: Mapping[str, Tensor] | None = None,
    meta: Mapping[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Write prunelimit's own format atomically (loadable with ``weights_only=True``)."""
    return write_atomic(path, checkpoint_writer(model_spec, state_dict, masks, meta), force)


def checkpoint_writer(
    model_spec: str | None,
    state_dict: Mapping[str, Tensor],
    masks: Mapping[str, Tensor] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Callable[[Path], None]:
    """The function that writes prunelimit's own format to a (temporary) path."""
    payload = {
        "format": FORMAT,
        "model": model_spec,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "masks": {k: v.detach().cpu().bool() for k, v in (masks or {}).items()},
        "meta": dict(meta or {}),
    }
    return lambda tmp: save_torch(payload, tmp)


def save_torch(obj: Any, path: Path, save: Callable[[Any, Any], None] | None = None) -> None:
    """``save(obj, ...)`` (``torch.save``, or ``torch.jit.save`` for a module) into ``path`` through a
    file object. Given a path, torch names the archive's folder inside the file after it, and an
    atomic write's path is a random temporary name: the same content saved twice differed in its
    bytes. A file object gets torch's fixed folder name ``archive``.

    torch's C++ writer calls the file's ``write`` and turns a KeyboardInterrupt (or SIGTERM's
    ``Terminated``) raised there into a RuntimeError ("unexpected pos"), which read as an
    internal error instead of Ctrl-C: the interruption is raised again as itself."""
    try:
        with open(path, "wb") as file:
            (save or torch.save)(obj, file)
    except RuntimeError as exc:
        interrupted = exc.__context__
        if isinstance(interrupted, BaseException) and not isinstance(interrupted, Exception):
            raise interrupted from None
        raise
