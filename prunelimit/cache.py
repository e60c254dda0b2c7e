"""A content-keyed result store: a repeated command on unchanged inputs spends no curvature work.

The key (:func:`input_key`) is a sha256 over what the result depends on, taken from the
inputs as loaded: the members of a checkpoint that holds code (TorchScript, a pickled
module: :func:`archive_fingerprint`; not a training record around one, whose epoch and optimizer
are not read) and the weights, buffers (non-persistent ones included), masks, the Hessian's tensors and module structure built
from any checkpoint, the values the model's and the loss's code computes with besides
tensors (plain attributes, hooks, closures, the globals the user's functions read and what
they read of the user's other modules, by the names in their code and its strings,
and what the user's code put on installed modules and classes (``F.relu = scaled_relu``), TorchScript
it holds by the archive it would save (:func:`scripted_fingerprints`, :func:`compiled_fingerprint`):
``_Values``; and the files, folders and environment variables every string they hold
names, by what those hold: :mod:`prunelimit.cache_reads`; and the files the code opened and the
environment variables it read while the model loaded and the first batch ran, however their names
were built, by their bytes and values: :mod:`prunelimit.cache_opened`), the analysis batches themselves (so a
rewritten ``tensors:`` file, an edited image folder or a new ``--max-samples`` all change
it), the source files of user code (``--model``/``--loss`` files and modules, and those defining
the model's classes) by their module names and bytes, the parameter selection (by the prunable and Hessian sets it resolves to), the device type and torch's float
precision switches, every field of the options (as the caller keys them: the exact
spectrum's without the seed it never reads), the versions of Python, torch, numpy, scipy and
the installed packages the model and loss use (with their installers' records of their
files: :func:`package_identity`), and prunelimit's own source (its version
and a digest of its files, so an edited or reinstalled copy under the same version
number never reads an older copy's results). No folder enters it: a checkout moved or
cloned elsewhere (a CI runner's new workspace) with the same files, data and checkpoint
reads the entries it stored.

An entry stores its key, a sha256 digest over its content and a witness: the loss of the first
analysis batch (:func:`loss_witness`). A read that finds another loss for the same key (something
the key cannot follow changed what the model computes, or the entry is another model's) is a
miss with a warning, so a stale key costs a recomputation, not a verdict. Anything that does not
read back as a well-formed entry for the expected key (wrong encoding, truncated, edited,
another kind) is a miss: the result is recomputed and the entry replaced atomically.
The digest detects damage, not an attacker: whoever can write the cache folder can also
recompute a digest, so the folder must be writable by its owner only. A folder or entry
that is world-writable or owned by another user is not used (a warning says so).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import inspect
import itertools
import json
import logging
import math
import operator
import os
import re
import stat
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np

from prunelimit import __version__
from prunelimit.cache_opened import opened_lines, recording_opens
from prunelimit.cache_reads import (
    BigFile, file_sha256, fstring_patterns, named_paths, named_variables, portable, sibling_paths, text_bytes,
)
from prunelimit.errors import UsageError

if TYPE_CHECKING:
    from prunelimit.inputs import Inputs

FORMAT = "prunelimit-cache/3"
# dtypes an entry's arrays may have (little-endian, so entries move between machines)
ARRAY_DTYPES = ("<f8", "<f4", "<i8", "|b1")
# the longest header line an entry file is read for (its payload: the result's numbers and names
# besides its arrays, a few kB a layer); the arrays after it are read as far as it declares them
HEADER_BYTES = 64 * 2**20
# checkpoint kinds (``RawCheckpoint.kind``) whose file holds code besides tensors: keyed by its bytes
CODE_FORMATS = ("torchscript", "module")
# the address in an object's default repr (``<function relu at 0x7f…>``): another in every process
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def default_cache_dir() -> Path:
    """``$PRUNELIMIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/prunelimit``, else ``~/.cache/prunelimit``;
    a leading ``~`` is the home folder (a CI file's ``env:`` sets it unexpanded: it made a folder
    named ``~`` in the checkout)."""
    if os.environ.get("PRUNELIMIT_CACHE_DIR"):
        return _home_expanded(Path(os.environ["PRUNELIMIT_CACHE_DIR"]))
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return _home_expanded(Path(base)) / "prunelimit"


def _home_expanded(path: Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; as given when that names no home
    folder (``~nosuchuser``), for :func:`open_store` to refuse."""
    try:
        return path.expanduser()
    except RuntimeError:  # no such user, or no home folder: it was an internal error (exit 5)
        return path


# --------------------------------------------------------------------------- the key


def input_key(inputs: "Inputs", kind: str, options: Any, big: "BigFile | None" = None) -> str:
    """The key of a ``kind`` result computed from ``inputs`` with ``options`` (a dataclass): the
    sha256 hex of what it depends on, with the :func:`loss_witness` (:func:`with_witness`).
    ``big`` keys a file the code names or opens above ``cache_reads.FILE_BYTES_KEYED``
    (:func:`remembered_digest`: by its bytes; else by its stat).

    Every field of ``options`` counts, so a field added later is covered without a change here.
    ``TypeError`` when an attribute of the model or the loss cannot be read: the result is
    then computed and not stored.
    """
    return InputKeys(inputs, big)(kind, options)


class InputKeys:
    """:func:`input_key` of one ``inputs`` under several kinds and options: a lookup tries several
    (the options given, the engines the defaults choose, the adaptive answer...), and what the
    inputs hold (their tensors, code, data, and the loss witness, a forward pass) is read once, at
    the first key, where each key read them again (three keys of a 5.8M-parameter MLP over 4,096
    samples: 0.29 s, now 0.09 s). The keys a command stores under after it computes are so those
    it looked under before."""

    def __init__(self, inputs: "Inputs", big: "BigFile | None" = None) -> None:
        self.inputs, self.big = inputs, big
        self._held: tuple[str, float | None] | None = None
        self.unread: str | None = None  # why the inputs could not be read, once they could not

    def __call__(self, kind: str, options: Any) -> str:
        """The key of a ``kind`` result computed with ``options``; ``TypeError`` as :func:`input_key`."""
        import torch

        from prunelimit.models.params import prunable_parameters
        from prunelimit.report.jsonout import plain

        if self._held is None and self.unread is None:
            try:
                self._held = _inputs_digest(self.inputs, self.big)
            except TypeError as exc:
                self.unread = str(exc)
        if self._held is None:
            raise TypeError(self.unread)
        inputs = self.inputs
        digest = hashlib.sha256()
        # --include/--exclude by the sets they resolve to, the prunable weights here and the Hessian's
        # tensors in the inputs' digest, each in order: the results read nothing else of them (the patterns
        # enter only the warnings a run adds to what it reads), so `--include '*'` on an MLP, whose weights
        # are all prunable by default, reads what a run without it stored
        header = {"format": FORMAT, "kind": kind, "prunelimit": __version__, "source": package_fingerprint(),
                  "torch": torch.__version__, "python": python_version(), "precision": float_precision(),
                  "options": plain(dataclasses.asdict(options)), "device": inputs.device.type,
                  "prunable": [name for name, _ in prunable_parameters(inputs.model, inputs.selection)],
                  "spec": _keyed_spec(inputs.loaded.spec)}
        _update_json(digest, header)
        held, witness = self._held
        digest.update(b"inputs:" + held.encode())
        return with_witness(digest.hexdigest(), witness)


def _inputs_digest(inputs: "Inputs", big: "BigFile | None") -> tuple[str, float | None]:
    """sha256 hex of what ``inputs`` hold that a result depends on besides its kind and options
    (:class:`InputKeys`), and their :func:`loss_witness`. ``TypeError`` as :func:`input_key`."""
    from prunelimit.models.params import hessian_parameters

    digest = hashlib.sha256()
    # The content of a file that holds code covers what the loaded tensors do not (TorchScript
    # code, a pickled module's class names) when that file is the model; with a model spec
    # (--model) only its weights are read. Other files count by what was loaded from them
    # (below; their recorded specs and prunable set by the spec, data, loss and selection),
    # so a re-save of the same weights with another timestamp or optimizer state is a hit; so is
    # a training record holding a pickled module (``{"model": net, "epoch": 5}``): its epoch and
    # optimizer are not read, and the module counts as loaded (its classes, values and tensors).
    path = inputs.loaded.path
    holds_code = (inputs.loaded.source in CODE_FORMATS and inputs.loaded.spec is None and path is not None
                  and inputs.loaded.weights_from is None and Path(path).is_file())
    digest.update(b"checkpoint:" + (archive_fingerprint(path).encode() if holds_code else b"-"))
    # a module a spec built (a trace a factory made) is keyed by its own code, not the file's
    if not (holds_code and inputs.loaded.source == "torchscript"):  # else that file is the module
        digest.update(b"scripted:" + ",".join(scripted_fingerprints(inputs.model)).encode())
    # a custom operator the TorchScript calls, which the archive names alone: its Python implements it
    digest.update(b"operators:" + (script_operators(inputs.model)[1] or "-").encode())
    # a function or object a module's repr shows (``Act(fn=<function relu at 0x7f…>)``) without its
    # address, which differs in every process: the value itself is keyed with the attributes below
    digest.update(b"structure:" + text_bytes(_ADDRESS.sub("", repr(inputs.model))))
    # the Hessian's tensors: a parameter frozen (requires_grad False, as a pickled module keeps it) or
    # two tied leave the state dict as it was
    digest.update(b"hessian:" + text_bytes(",".join(n for n, _ in hessian_parameters(inputs.model, inputs.selection))))
    _update_tensors(digest, "state", sorted(inputs.model.state_dict().items()))
    # buffers the state dict leaves out (persistent=False: e.g. normalisation constants a
    # factory reads from a file of its own) change what the model computes as much as weights
    _update_tensors(digest, "buffers", sorted(inputs.model.named_buffers()))
    _update_tensors(digest, "masks", sorted(inputs.loaded.masks.items()))
    # what a forward or the loss reads besides tensors: plain attributes (a constant a factory
    # read from a data file), hooks, class constants and the globals the user's code reads
    values = _Values(digest, inputs.model.modules())
    try:
        values.code_run(inputs.model.named_modules(), inputs.ran, loss=inputs.loss_fn)
    except Exception as exc:  # reading user objects can run their code (__getattribute__): anything
        first = str(exc).splitlines()[0][:120] if str(exc) else ""
        raise TypeError(f"an attribute of the model or the loss cannot be read for the cache key: "
                        f"{type(exc).__name__}: {first}") from None
    # the installed code they run (torchvision's models, a loss from another package) and
    # the numerics under prunelimit's own: their versions and installed files
    _update_json(digest, {name: package_identity(name) for name in sorted(values.packages | {"numpy", "scipy"})})
    digest.update(b"data:" + (data_fingerprint(inputs.batches) or "-").encode())
    code = code_files(inputs)
    for name, sha in sorted((name, file_sha256(source)) for source, name in code.items()):
        digest.update(text_bytes(f"code:{name}:{sha}"))
    # what the code's strings name, read while it runs (open("scale.txt"), os.environ["SCALE"])
    _update_json(digest, _named_reads(values, code, big))
    # what it opened and the variables it read, however their names were built (a library call's model
    # opens its files here)
    with recording_opens(set(inputs.opened)) as opened:
        witness = loss_witness(inputs)
    _update_json(digest, {"opened": _opened_reads(inputs, opened, big)})
    return digest.hexdigest(), witness


def _named_reads(values: "_Values", code: dict[str, str], big: "BigFile | None") -> dict[str, list[str]]:
    """The files, folders and environment variables the strings ``values`` met name (``code``: the
    user's code files, :func:`code_files`), by what they hold."""
    folders = sorted({Path(source).parent for source in code})
    named = values.strings | sibling_paths(values.strings, code)
    return {"paths": named_paths(named, folders, big), "environment": named_variables(values.strings)}


def _opened_reads(inputs: "Inputs", opened: Iterable[str], big: "BigFile | None") -> list[str]:
    """The files in ``opened`` by their bytes, but installed code's and the checkpoint (keyed by what was loaded)."""
    path = inputs.loaded.path
    checkpoint = Path(path).resolve() if path is not None else None
    return opened_lines(opened, lambda p: is_installed(p) or Path(p).resolve() == checkpoint, big)


def reads_fingerprint(inputs: "Inputs", big: "BigFile | None" = None) -> str | None:
    """sha256 of what the model and the loss of ``inputs`` read besides the state dict and their code, as
    the result cache keys it: the buffers the state dict leaves out (``persistent=False``: a factory's
    constants from a file, a fixed random projection), the files, folders and environment variables their
    code's strings name and the files it opened and variables it read while it was loaded and run on the first
    batch, each file by its bytes, never by where it lies; ``None`` where they read none of these. A report records it
    (``weights.reads``): ``weights.fingerprint`` and ``weights.python`` see none of it, and a change there
    that moves the gradient alone keeps the loss ``--from`` compares. ``TypeError`` where the model's
    attributes cannot be read, or a folder named is too large to key. ``big``: a file above
    ``cache_reads.FILE_BYTES_KEYED`` by its digest remembered (:func:`remembered_digest`), else hashed."""
    model = inputs.model
    kept = model.state_dict().keys()
    buffers = [(name, buffer) for name, buffer in sorted(model.named_buffers()) if name not in kept]
    values = _Values(hashlib.sha256(), model.modules())  # its strings alone are read
    try:  # TorchScript reads no file or variable, but the Python it calls back (an ignored method) can
        values.code_run(eager_modules(model), inputs.ran)
        for label, called in python_called(model):
            values.update(label, called)
    except Exception as exc:  # noqa: BLE001 - reading user objects runs their code: anything can fail
        raise TypeError(f"an attribute of the model cannot be read: {type(exc).__name__}") from None
    with contextlib.suppress(Exception):  # a loss that cannot be read is recorded so by its name (loss_name)
        values.update("loss", inputs.loss_fn)
        values.modules_held()
    # by its bytes, never its stat: a report moves between checkouts (a remembered digest is of the bytes too)
    whole = big or (lambda path, info: file_sha256(path))
    code = code_files(inputs) if values.strings else {}  # they name nothing without a string (a built-in model)
    read = {**_named_reads(values, code, whole), "opened": _opened_reads(inputs, inputs.opened, whole)}
    if not buffers and not any(read.values()):
        return None
    digest = hashlib.sha256()
    _update_tensors(digest, "buffers", buffers)
    _update_json(digest, read)
    return digest.hexdigest()


# how far the first batch's loss may move between the run that stored an entry and one that reads
# it: summation order (another --threads, another CPU's kernels) moves it by ~1e-7 of itself
WITNESS_RTOL = 1e-5


def loss_witness(inputs: "Inputs") -> float | None:
    """The loss of the first analysis batch (eval mode, no gradients), stored with an entry and
    checked when it is read (:func:`decode_entry`): whatever the key cannot follow (a file the
    code reads by a path built at run time, installed code edited in place) and changes the
    model's output makes a stored result a miss, not a stale verdict. ``None`` without data or
    for a loss that is not finite (the spectrum refuses it)."""
    from prunelimit.errors import NumericalError
    from prunelimit.theory.epsilon import batch_losses

    if not inputs.batches:
        return None
    try:
        return float(batch_losses(inputs.model, inputs.batches[:1], inputs.loss_fn)[0])
    except NumericalError:
        return None


def with_witness(digest: str, witness: float | None) -> str:
    """A key: the sha256 hex ``digest`` of the inputs, then ``~`` and the :func:`loss_witness`
    (``repr``, which reads back exactly) when there is one."""
    return digest if witness is None else f"{digest}~{witness!r}"


def split_key(key: str) -> tuple[str, float | None]:
    """A key's digest (an entry's file name) and its witness, as :func:`with_witness` joined them."""
    digest, _, witness = key.partition("~")
    return digest, float(witness) if witness else None


def python_version() -> str:
    """The interpreter, as the key holds it: its standard library (``random``, ``statistics``)
    runs under prunelimit's numerics and the user's code."""
    import platform

    return f"{platform.python_implementation()} {platform.python_version()}"


# members of a code-holding zip archive that change on every save without changing what it
# computes: torch's random serialization id, TorchScript's source ranges for error messages, and
# the files a caller puts beside the code (``_extra_files``: a training script's epoch or date),
# which TorchScript code cannot read; not prunelimit's own (its masks and meta)
_ARCHIVE_NOISE = re.compile(r"(\.data/serialization_id|.*\.debug_pkl|extra/(?!prunelimit\.pt$).+)")
# the example inputs a trace was made on (their shapes; torch writes their storages empty), which
# torch reads only to restore shapes on request, never to run: the same module traced on a batch
# of another size computes alike, and an archive loaded and saved again (the checkpoint as read) has none
_TRACED_INPUTS = re.compile(r"traced_inputs(\.pkl|/.+)")
# the namespace TorchScript gives a class compiled again in one process (``pkg.___torch_mangle_7.Net``
# and its file ``pkg/___torch_mangle_7.py`` for every trace of ``pkg.Net`` after the first): the same
# module traced twice differs by it alone
_MANGLE = re.compile(rb"[./]___torch_mangle_\d+")
# a line declaring a TorchScript class's constant (``  in_features : Final[int] = 64``): torch emits a
# class's constants in the order of a set of their names, so another order in every process (hash salt)
_CONSTANT_LINE = re.compile(rb"[ \t]+\w+ : Final\[.*\] = .*")


def _canonical_pickle(data: bytes) -> bytes:
    """``data`` with its unused memo entries dropped and the rest renumbered in order
    (``pickletools.optimize`` parses, never runs, a pickle); as it is where that fails."""
    import pickletools

    try:
        return pickletools.optimize(data)
    except Exception:  # not a pickle pickletools can read: its bytes as they are
        return data


def _canonical_code(data: bytes) -> bytes:
    """TorchScript ``data`` with each run of constant declarations (:data:`_CONSTANT_LINE`) sorted."""
    runs = itertools.groupby(data.split(b"\n"), lambda line: bool(_CONSTANT_LINE.fullmatch(line)))
    return b"\n".join(line for constant, lines in runs for line in (sorted(lines) if constant else lines))


def archive_fingerprint(path: "str | Path | IO[bytes]", code_only: bool = False, traced_inputs: bool = False,
                        by_file: bool = False, printed: bool = False) -> str:
    """sha256 of a TorchScript archive or pickled module by what it computes with: its members
    by their names inside the archive (not the folder name torch gives them after the file it
    saved to), pickles in a canonical form (a re-save numbers its memo otherwise), code by its
    top-level definitions (:func:`_definitions`: torch writes the classes of one module into one
    file, but each into a file of its own when the saving process compiled another class of that
    name first, a notebook cell run again) with their constants in order (:data:`_CONSTANT_LINE`), save-time
    noise (:data:`_ARCHIVE_NOISE`) and TorchScript's class numbering (:data:`_MANGLE`) left out,
    but not which class's code each module runs (:func:`_class_codes`); another file by its
    bytes. A re-saved, renamed or copied archive of the same module, or one traced again, keeps
    its key. ``code_only``: without the module's tensors (``data/``): what the code computes
    with besides its weights (code, constants, plain attributes), and not which class each module
    runs: a report's ``weights.code``, as reports saved before this was keyed compare it (its
    ``weights.classes`` records that: :func:`archive_variants`). A trace's recorded example inputs
    (:data:`_TRACED_INPUTS`) are left out; ``traced_inputs``: kept, as a report's ``weights.code`` of
    a trace made in its process kept them before they were left out (such reports still compare);
    ``by_file``: code by its files, temporaries as each file numbers them (:func:`_renumbered`), as a
    report's ``weights.code`` and ``weights.tensors`` were computed before (such reports still compare);
    ``printed``: by its definitions as torch printed them, a numbered name it bound to a temporary for its
    length alone not put back (:func:`_unhoisted`), as they were computed before (such reports still compare)."""
    return archive_fingerprints(path, code_only, traced_inputs, by_file, (printed,))[0]


def archive_fingerprints(path: "str | Path | IO[bytes]", code_only: bool = False, traced_inputs: bool = False,
                         by_file: bool = False, printed: tuple[bool, ...] = (False, True)) -> tuple[str, ...]:
    """:func:`archive_fingerprint` with each of ``printed``, in one pass over the archive: ``printed``
    reads no member otherwise, so the members' digest (its tensors' storages: a report's
    ``weights.tensors`` streamed them once for each) is taken once and copied for each."""
    import zipfile

    from prunelimit.limits import is_zip

    if not is_zip(path):
        return (file_sha256(path),) * len(printed)
    digest = hashlib.sha256()
    definitions: dict[bool, list[tuple[str, bytes]]] = {way: [] for way in printed}
    with zipfile.ZipFile(path) as archive:
        members = sorted(((_MANGLE.sub(b"", info.filename.split("/", 1)[-1].encode()).decode(), info)
                          for info in archive.infolist() if not info.is_dir()), key=lambda member: member[0])
        for name, info in members:
            if _ARCHIVE_NOISE.fullmatch(name) or (not traced_inputs and _TRACED_INPUTS.fullmatch(name)):
                continue
            if name.endswith(".py") and not by_file:
                code = _canonical_code(archive.read(info))
                for way in printed:
                    definitions[way] += _definitions(name, code, way)
                continue
            if name.endswith((".pkl", ".py")):
                data = archive.read(info)
                data = _MANGLE.sub(b"", _canonical_code(data) if name.endswith(".py") else _canonical_pickle(data))
                digest.update(f"{name}:{len(data)}:".encode() + data)
                continue
            if code_only and name.startswith("data/"):  # the module's tensors (a traced constant's are in constants/)
                continue
            digest.update(f"{name}:{info.file_size}:".encode())
            with archive.open(info) as member:  # tensors' storages: streamed, not read whole
                for block in iter(lambda: member.read(1 << 20), b""):
                    digest.update(block)
        found = []
        for way in printed:
            one = digest.copy()
            for name, code in sorted(definitions[way]):  # two variants of one class (numbering left out) by their code
                one.update(f"def {name}:{len(code)}:".encode() + code)
            if not code_only:  # not in a report's weights.code (code_only): reports saved before still compare
                # which code each module runs: with the numbering left out, two variants of one class (two
                # constants) read alike wherever they sit, and which module is numbered follows what the
                # saving process compiled before (gradient scales 0.2 then 1.0 keyed as 1.0 then 0.2)
                codes = _module_codes(archive, renumbered=not by_file, printed=way)
                one.update(text_bytes("modules:" + ",".join(code for _, code in codes)))
                called = _called_variants(archive, way)
                if called is not None:  # the key of any other archive as before
                    one.update(text_bytes("called:" + called))
            found.append(one.hexdigest())
    return tuple(found)


def archive_variants(path: "str | Path | IO[bytes]", by_file: bool = False, printed: bool = False,
                     called: bool = True) -> str | None:
    """sha256 of which code each module of a TorchScript archive runs (what :func:`archive_fingerprint`
    keys beyond ``code_only``), where it holds two variants of one class whose methods differ
    (a constant compiled into them: a gradient scale, a convolution's stride); ``None`` where it
    holds none, as a file of another kind: its ``code_only`` fingerprint tells then which code each
    module runs. Constants' declarations are left out: two ``Linear`` variants of other sizes
    (``in_features : Final[int] = 64``) run one method, on weights the report compares anyway.
    ``by_file``: each class's temporaries as its file numbers them, as a report's ``weights.classes``
    was computed before (:func:`_renumbered`; such reports still compare); ``printed``: as
    :func:`archive_fingerprint` reads it; ``called``: with which variant of a function compiled twice each
    call names (:func:`_called_variants`), which reports saved before did not record."""
    import zipfile

    from prunelimit.limits import is_zip

    if not is_zip(path):
        return None
    with zipfile.ZipFile(path) as archive:
        codes = _module_codes(archive, constants=False, renumbered=not by_file, printed=printed)
        # not in the digests reports recorded before it was (by_file): such reports still compare
        calls = _called_variants(archive, printed) if called and not by_file else None
    variants: dict[str, set[str]] = {}
    for name, code in codes:
        variants.setdefault(_MANGLE.sub(b"", name.encode()).decode(), set()).add(code)
    if all(len(found) < 2 for found in variants.values()) and calls is None:
        return None
    modules = ",".join(code for _, code in codes)
    return hashlib.sha256(text_bytes(modules if calls is None else f"{modules};called:{calls}")).hexdigest()


def _module_codes(archive: Any, constants: bool = True, renumbered: bool = False,
                  printed: bool = False) -> list[tuple[str, str]]:
    """Each TorchScript class the ``data.pkl`` of ``archive`` (a ``zipfile.ZipFile``) names (the
    module tree's), in the order it first names each, by its name as saved with the digest of its
    code (``-`` for one no code file holds); ``constants``: with its constants' declarations;
    ``renumbered``: its temporaries numbered within it (:func:`_renumbered`, ``printed`` as it takes it)."""
    classes: dict[str, str] = {}
    modules: list[str] = []
    for info in archive.infolist():
        member = info.filename.split("/", 1)[-1]
        if info.is_dir() or _ARCHIVE_NOISE.fullmatch(_MANGLE.sub(b"", member.encode()).decode()):
            continue
        if member.endswith(".py"):
            code = _canonical_code(archive.read(info))
            if not constants:
                code = b"\n".join(line for line in code.split(b"\n") if not _CONSTANT_LINE.fullmatch(line))
            classes.update(_class_codes(member, code, renumbered, printed))
        elif member == "data.pkl":
            modules += _pickled_classes(archive.read(info))
    return [(name, classes.get(name, "-")) for name in modules]


def _called_variants(archive: Any, printed: bool = False) -> str | None:
    """sha256 of which variant each call of the TorchScript code in ``archive`` (a ``zipfile.ZipFile``)
    names, where it holds two variants of one function or of a class no module is (a scripted
    function compiled again in the saving process, a notebook cell run again between scripting two
    submodules: ``fns.scaled`` and ``fns.___torch_mangle_0.scaled``): with the numbering left out, which
    module calls which read alike, so the archive with them swapped between its modules was the same
    (modules' classes: :func:`_module_codes`). ``None`` where it holds none whose code differs.

    Each such variant is named by its code with the variants it names named so in turn, until no
    two more are told apart (a name refined as a partition is: cycles, a class naming itself, end);
    the digest is of every definition with the calls so named (``printed``: :func:`_renumbered`)."""
    found: dict[str, bytes] = {}
    modules: set[str] = set()
    for info in archive.infolist():
        member = info.filename.split("/", 1)[-1]
        if info.is_dir() or _ARCHIVE_NOISE.fullmatch(_MANGLE.sub(b"", member.encode()).decode()):
            continue
        if member.endswith(".py"):
            found.update((name, block if printed else _unhoisted(block))
                         for name, block in _blocks(member, _canonical_code(archive.read(info)), _DEFINITION_LINE)[1:])
        elif member == "data.pkl":
            modules.update(_pickled_classes(archive.read(info)))
    groups: dict[str, set[str]] = {}
    for name in found:
        groups.setdefault(_MANGLE.sub(b"", name.encode()).decode(), set()).add(name)
    variants = sorted(name for group in groups.values() if len(group) > 1 and not group & modules for name in group)
    if not variants:
        return None
    # longest first, so that no name is matched within a longer one
    named = re.compile(rb"(?<![\w.])(" + b"|".join(re.escape(name.encode()) for name in
                                                     sorted(variants, key=len, reverse=True)) + rb")(?![\w])")

    def code(name: str, labels: dict[str, str]) -> bytes:
        """Its code, numbering left out, each variant it names by its label."""
        text = named.sub(lambda m: m.group().split(b".")[-1] + b"@" + labels[m.group().decode()].encode(),
                         found[name])
        return _MANGLE.sub(b"", _renumbered(text, printed))

    labels = {name: "" for name in variants}
    for _ in range(len(variants)):
        again = {name: hashlib.sha256(code(name, labels)).hexdigest() for name in variants}
        if len(set(again.values())) == len(set(labels.values())):
            break
        labels = again
    if all(len({labels[name] for name in group}) < 2 for group in groups.values() if set(group) <= set(labels)):
        return None
    named_code = sorted((_MANGLE.sub(b"", name.encode()), code(name, labels)) for name in found)
    return hashlib.sha256(b"".join(b"def %s:%d:%s" % (name, len(text), text) for name, text in named_code)).hexdigest()


# a top-level class of TorchScript code (``class Block(Module):``): each runs to the next
_CLASS_LINE = re.compile(rb"^class (\w+)\b", re.MULTILINE)


def _class_codes(member: str, code: bytes, renumbered: bool = False, printed: bool = False) -> dict[str, str]:
    """The sha256 of each class's code (numbering left out; ``renumbered``: its temporaries too,
    :func:`_renumbered`, ``printed`` as it takes it) in the archive's ``member`` (``code/__torch__/___torch_mangle_3.py``), by
    its name as saved (``__torch__.___torch_mangle_3.Block``)."""
    return {name: hashlib.sha256(_MANGLE.sub(b"", _renumbered(block, printed) if renumbered else block)).hexdigest()
            for name, block in _blocks(member, code, _CLASS_LINE)[1:]}


# a top-level definition of TorchScript code: a class, or a function its methods call (``def helper(``)
_DEFINITION_LINE = re.compile(rb"^(?:class|def) (\w+)\b", re.MULTILINE)


def _definitions(member: str, code: bytes, printed: bool = False) -> list[tuple[str, bytes]]:
    """The top-level definitions of the TorchScript code in the archive's ``member`` (its name with
    the numbering left out: ``code/__torch__/net.py`` for ``code/__torch__/net/___torch_mangle_3.py``)
    by their qualified names (``__torch__.net.Block``), numbering left out, and what precedes the
    first by ``member``: which file torch wrote a class into is no part of what it computes (``printed``:
    :func:`_renumbered`)."""
    found = [(name, _MANGLE.sub(b"", _renumbered(block, printed)))
             for name, block in _blocks(member, code, _DEFINITION_LINE)]
    return [(name, block) for name, block in found if block]


# a temporary TorchScript's printer names (``_0``, ``_1``, …; not an attribute, ``self._1``), or a string
# literal, whose text is left as it is
_TEMPORARY = re.compile(rb'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|(?<![\w.])_\d+\b')


def _renumbered(code: bytes, printed: bool = False) -> bytes:
    """``code`` (one definition) with its temporaries renamed ``_0``, ``_1``, … in the order they
    first appear: torch numbers them on through the definitions it writes into one file, so a class
    after another in one file read ``_2 = …`` where the same class in a file of its own reads ``_0 = …``;
    a numbered name torch bound to one for its length alone put back (:func:`_unhoisted`; ``printed``: as
    torch wrote it, as reports saved before read it)."""
    names: dict[bytes, bytes] = {}

    def renamed(found: "re.Match[bytes]") -> bytes:
        token = found.group()
        return token if token[:1] in b"\"'" else names.setdefault(token, b"_%d" % len(names))

    return _TEMPORARY.sub(renamed, code if printed else _unhoisted(code))


# a temporary TorchScript's printer binds a function or class to on a line of its own
# (``    _0 = __torch__.fns.___torch_mangle_0.scaled``), which it does where the name and the line's
# indent reach _PRINTED_INLINE characters, and prints inline below that
_NAME_TEMPORARY = re.compile(rb"^([ \t]*)(_\d+) = (__torch__(?:\.\w+)+)\n", re.MULTILINE)
_PRINTED_INLINE = 40


def _unhoisted(code: bytes) -> bytes:
    """``code`` (one definition) with each temporary bound to a numbered name (:data:`_MANGLE`) that
    torch would print inline without its number put in its one use, its line dropped: the same code
    calling ``fns.scaled`` reads ``return __torch__.fns.scaled(h, )``, and calling the function compiled
    again, numbered, ``_0 = __torch__.fns.___torch_mangle_0.scaled`` then ``return _0(h, )`` (the name is
    longer), so that the process that compiled it first had another key. A name is a constant, read
    alike wherever it is put; any other temporary is left as torch wrote it (putting a call in its use
    can move when it runs)."""
    for bound in reversed(list(_NAME_TEMPORARY.finditer(code))):
        indent, temporary, name = bound.groups()
        if not _MANGLE.search(name) or len(_MANGLE.sub(b"", name)) + len(indent) >= _PRINTED_INLINE:
            continue
        rest = code[bound.end():]
        uses = [found for found in _TEMPORARY.finditer(rest) if found.group() == temporary]
        if len(uses) == 1:  # one use, as torch prints a name it binds
            code = code[:bound.start()] + rest[:uses[0].start()] + name + rest[uses[0].end():]
    return code


def _blocks(member: str, code: bytes, line: "re.Pattern[bytes]") -> list[tuple[str, bytes]]:
    """``code`` (the archive's ``member``) cut before each match of ``line``: what precedes the first
    by ``member``, then each block by its qualified name (``__torch__.___torch_mangle_3.Block``)."""
    namespace = member.removeprefix("code/").removesuffix(".py").replace("/", ".")
    starts = list(line.finditer(code))
    cuts = [start.start() for start in starts] + [len(code)]
    return [(member, code[:cuts[0]])] + [(f"{namespace}.{start.group(1).decode()}", code[begin:end])
                                         for start, begin, end in zip(starts, cuts, cuts[1:])]


def _pickled_classes(data: bytes) -> list[str]:
    """The TorchScript classes a pickle names (its ``GLOBAL`` opcodes: ``__torch__.___torch_mangle_3.Block``),
    in order; parsed, never run."""
    import pickletools

    try:
        return [arg.replace(" ", ".") for op, arg, _ in pickletools.genops(data)
                if op.name == "GLOBAL" and arg.startswith("__torch__")]
    except Exception:  # not a pickle pickletools can read: no classes
        return []


def scripted_fingerprints(model: Any, code_only: bool = False) -> list[str]:
    """:func:`archive_fingerprint` of each outermost TorchScript module in ``model`` as it would
    be saved (``code_only``: without its weights): a traced or scripted module keeps its code
    and constants (a value baked in when it was traced) in TorchScript, not in attributes the
    key reads. ``TypeError`` for one that cannot be saved."""
    return [f"{name}:{archive_fingerprint(archive, code_only)}" for name, archive in scripted_archives(model)]


def scripted_archives(model: Any) -> Iterator[tuple[str, IO[bytes]]]:
    """Each outermost TorchScript module in ``model`` by its name, saved to memory, one at a time;
    ``TypeError`` for one that cannot be saved."""
    for name, module in scripted_modules(model):
        yield name, saved_archive(name, module)


def scripted_modules(model: Any) -> Iterator[tuple[str, Any]]:
    """Each outermost TorchScript module in ``model`` by its name."""
    import torch

    scripted: list[str] = []
    for name, module in model.named_modules():
        inside = any(p == "" or name.startswith(p + ".") for p in scripted)
        if isinstance(module, torch.jit.ScriptModule) and not inside:
            scripted.append(name)
            yield name, module


def eager_modules(model: Any) -> list[tuple[str, Any]]:
    """``model``'s (name, module) pairs outside TorchScript (:func:`scripted_modules` and theirs)."""
    scripted = [name for name, _ in scripted_modules(model)]
    return [(name, module) for name, module in model.named_modules()
            if not any(s == "" or name == s or name.startswith(s + ".") for s in scripted)]


def saved_archive(name: str, module: Any) -> IO[bytes]:
    """The TorchScript ``module`` (``name`` in its model) saved to memory; ``TypeError`` where it cannot be."""
    import io

    import torch

    archive = io.BytesIO()
    try:
        torch.jit.save(module, archive)
    except Exception as exc:  # torch's own errors for what TorchScript cannot save
        raise TypeError(f"TorchScript module {name or 'model'} cannot be saved for the cache key: "
                        f"{type(exc).__name__}") from None
    return archive


def unsaved_fingerprint(module: Any) -> str:
    """sha256 of a scripted ``module`` that cannot be saved (a ``@torch.jit.ignore`` method is a call
    of Python, which TorchScript cannot export), as ``archive_fingerprint(..., code_only=True)`` keys the
    code of one that can: each of its modules' compiled methods by their code (numbering left out), the
    values they hold besides parameters and buffers, and the Python their ignored methods and the ignored
    functions they call run, with what it reads, as the user's code is keyed (``_Values``); a trace around
    such a module (its only form: a trace's own methods are saved) likewise, with the tensor constants its code
    names (``CONSTANTS.c0``: a global tensor the traced code read). ``TypeError`` where any of it cannot be read."""
    digest = hashlib.sha256()
    values = _Values(digest, module.modules())
    try:
        for name, sub in module.named_modules():
            tensors = {key for key, _ in itertools.chain(sub.named_parameters(recurse=False),
                                                         sub.named_buffers(recurse=False))}
            for method in sorted(sub._c._method_names()):
                compiled = sub._c._get_method(method)
                code, constants = compiled.code_with_constants
                digest.update(text_bytes(f"def {name}.{method}:") + _MANGLE.sub(b"", text_bytes(code)))
                for key, constant in sorted(constants.items()):  # none in a scripted method's code
                    values._tag(f"constant:{name}.{method}.{key}")
                    values.update(key, constant)
                # an ignored function it calls (the code names it alone); an ignored method is one of the
                # module's values, below
                for pyname, called in _python_ops(compiled):
                    values.update(f"python:{pyname}", called)
            for key in sorted(sub._concrete_type.get_attributes()):
                if key not in tensors:
                    values._tag(f"attr:{name}.{key}")
                    values.update(key, sub._c.getattr(key))
            # a traced module's compiled half, the module whose methods and attributes are read here
            values.module(name, sub, compiled=("_actual_script_module",))
    except Exception as exc:  # a traced module of an older torch has no concrete type; the user's objects run their code
        raise TypeError(f"TorchScript module cannot be read: {type(exc).__name__}") from None
    return digest.hexdigest()


def python_called(model: Any) -> Iterator[tuple[str, Any]]:
    """The Python the TorchScript in ``model`` calls back (``@torch.jit.ignore`` methods and functions),
    each by the method calling it: what it reads is the model's as much as an eager module's (a file
    opened only for the Hessian's products, past the first batch, is named by its strings alone)."""
    for outer, module in scripted_modules(model):
        for name, sub in module.named_modules(prefix=outer):
            for method in sorted(sub._c._method_names()):
                for pyname, called in _python_ops(sub._c._get_method(method)):
                    yield f"python:{name}.{method}:{pyname}", called


def _python_ops(compiled: Any) -> list[tuple[str, Any]]:
    """The Python a compiled method calls (``prim::PythonOp``: an ignored function, or the binding torch makes
    of an ignored method, which holds it as ``original_fn``), by name, in its graph's order."""
    return [(node.pyname(), node.pyobj()) for node in compiled.graph.findAllNodes("prim::PythonOp")]


def compiled_fingerprint(obj: Any) -> str:
    """What keys TorchScript that the user's code holds as a value, not as a module
    (:func:`scripted_fingerprints`): a compiled function (``torch.jit.script(fn)``, one of a
    ``torch.jit.CompilationUnit``) by its signature (its defaults) and the archive it would save
    (its code and the functions it calls, constants compiled in), a compilation unit by each of
    its functions, a method of a scripted module (``.mix`` of a loaded archive) or a module's
    compiled half (``._c``) by its module's archive. ``TypeError`` for one that cannot be saved."""
    import io

    import torch

    if isinstance(obj, torch.jit.CompilationUnit):
        return ",".join(compiled_fingerprint(fn) for fn in sorted(obj.get_functions(), key=lambda fn: fn.name))
    try:
        if isinstance(obj, torch._C.ScriptMethod):
            return f"{obj.name}:{obj.schema}:{archive_fingerprint(io.BytesIO(obj.owner.save_to_buffer()))}"
        signature = f"{obj.schema}:" if isinstance(obj, torch.jit.ScriptFunction) else ""
        return signature + archive_fingerprint(io.BytesIO(obj.save_to_buffer()))
    except Exception as exc:  # torch's own errors for what TorchScript cannot save
        raise TypeError(f"TorchScript {type(obj).__name__} cannot be saved for the cache key: "
                        f"{type(exc).__name__}") from None


def _keyed_spec(text: str | None) -> str | None:
    """A model spec as keyed: by the arguments its factory was called with (``models.spec.keyed_spec``:
    ``make:hidden=8`` keys as ``make`` where 8 is the default), and a ``file.py`` by its name alone
    (its bytes are keyed with the code files), so ``model.py:make`` and ``/ci/build/7/model.py:make`` key alike."""
    from prunelimit.models.spec import keyed_spec
    from prunelimit.specs import with_file_part

    return None if text is None else with_file_part(keyed_spec(text), "model", lambda part: Path(part).name)


# the operations torch 2.9 sets a float32 precision for, each its own or its owners'
# (``torch.backends.cuda.matmul.fp32_precision = "tf32"``, ``torch.backends.mkldnn.matmul.fp32_precision
# = "bf16"``: bfloat16 products on a CPU that has them, ``torch.backends.fp32_precision`` for all)
FP32_PRECISION_OPS = ("cuda.matmul", "cudnn.conv", "cudnn.rnn", "mkldnn.matmul", "mkldnn.conv", "mkldnn.rnn")

# ``torch.backends.cuda.matmul``'s switches that let float16/bfloat16 products sum in reduced precision
HALF_MATMUL_SWITCHES = ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction",
                        "allow_fp16_accumulation")


def float_precision() -> dict[str, Any]:
    """torch's process-wide settings that change float results: the default dtype and whether
    float32 products may round through TF32 or bfloat16 (``torch.set_float32_matmul_precision``,
    ``torch.backends.cudnn.allow_tf32`` and the per-backend ``fp32_precision`` of
    :data:`FP32_PRECISION_OPS`: a library caller or the model's module may set them), those of
    float16 and bfloat16 products (:data:`HALF_MATMUL_SWITCHES`), and
    ``NVIDIA_TF32_OVERRIDE``, which turns TF32 off under torch's switches (``0``)."""
    import torch

    backends = torch.backends
    switches = {"matmul": torch.get_float32_matmul_precision,
                "cuda_matmul_tf32": lambda: backends.cuda.matmul.allow_tf32,
                "cudnn_tf32": lambda: backends.cudnn.allow_tf32}
    # how float16 and bfloat16 products on a GPU sum (in their own precision, not float32's)
    switches |= {name: functools.partial(getattr, backends.cuda.matmul, name) for name in HALF_MATMUL_SWITCHES}
    switches |= {f"fp32_precision:{op}": functools.partial(fp32_precision, backends, op) for op in FP32_PRECISION_OPS}
    return {"default_dtype": str(torch.get_default_dtype()), **{name: _switch(read) for name, read in switches.items()},
            "tf32_override": os.environ.get("NVIDIA_TF32_OVERRIDE")}


def fp32_precision(backends: Any, op: str) -> str:
    """The precision ``op`` computes float32 in: its own setting, else (``none``) its owners'
    (``cudnn``, then ``torch.backends``), else IEEE; so the legacy API's ``highest`` (``ieee``)
    and the default (``none``) key alike. IEEE too before torch 2.9, which has none of them."""
    parts = op.split(".")
    for depth in range(len(parts), -1, -1):
        value = getattr(functools.reduce(getattr, parts[:depth], backends), "fp32_precision", "none")
        if value != "none":
            return value
    return "ieee"


def _switch(read: Callable[[], Any]) -> Any:
    """A precision switch's value; ``None`` where this torch has none (before 2.9), or where a
    legacy getter refuses to answer once the per-backend settings were used ("a mix of the
    legacy and new APIs": it was the key's RuntimeError, exit 5), those settings being keyed."""
    try:
        return read()
    except (AttributeError, RuntimeError):
        return None


def data_fingerprint(batches: Iterable[Any] | None) -> str | None:
    """sha256 hex of the analysis batches' contents (dtype, shape and bytes of every tensor,
    in order), the same hashing the key uses; ``None`` without data. Two reports with the
    same fingerprint were computed on the same samples."""
    if not batches:
        return None
    digest = hashlib.sha256()
    for i, batch in enumerate(batches):
        _update_tensors(digest, f"batch {i}", [(str(j), t) for j, t in enumerate(batch)])
    return digest.hexdigest()


def weights_fingerprint(model: Any) -> str:
    """sha256 hex of a model's state (names, dtypes, shapes and bytes, in name order): two
    reports with the same fingerprint describe the same weights."""
    return tensors_fingerprint(sorted(model.state_dict().items()))


def tensors_fingerprint(named: Iterable[tuple[str, Any]]) -> str:
    """sha256 hex of named tensors (names, dtypes, shapes and bytes, in the order given)."""
    digest = hashlib.sha256()
    _update_tensors(digest, "state", named)
    return digest.hexdigest()


@functools.cache
def package_fingerprint() -> str:
    """:func:`source_fingerprint` of the running prunelimit, once per process."""
    import prunelimit

    return source_fingerprint(Path(prunelimit.__file__).parent)


def source_fingerprint(root: Path) -> str:
    """sha256 over the Python files under ``root``: each one's relative path and bytes."""
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(f"{source.relative_to(root).as_posix()}:{file_sha256(source)}\n".encode())
    return digest.hexdigest()


def code_files(inputs: "Inputs") -> dict[str, str]:
    """Source files of user code the result depends on: the files or modules named by the
    model and loss specs, the files defining the model's module classes and the loss, and
    every other imported module outside the Python installation (a helper that the model
    file imports and its ``forward`` calls changes the result as much as the file itself).
    Each maps to the name the key gives it: the modules imported from it (``pkg.helper``, a
    ``file.py``'s ``specs.user_module_name``), else its file name; never its folder, so a
    checkout moved elsewhere (a CI runner's new workspace) keeps its key.

    Files of prunelimit and torch are covered by the key's source digest and torch version;
    the standard library and other installed packages are taken as fixed (``--no-cache``
    after changing them in place).
    """
    # installed ones resolved once a process (``_resolved``), and only the user's asked of the disk
    modules = {name: source for name in list(sys.modules)
               if (source := _module_source(name)) is not None and not _installed_resolved(source)}
    # the modules of the model's classes are among the imported ones
    found = {_spec_file(inputs.loaded.spec), _object_file(inputs.loss_fn), *modules.values()}
    files = {f for f in found if f is not None and not _installed_resolved(f) and os.path.isfile(f)}
    names: dict[str, list[str]] = {}
    for name, source in sorted(modules.items()):
        if source in files:
            names.setdefault(source, []).append(name)
    return {f: ",".join(names.get(f, ())) or Path(f).name for f in files}


def is_installed(path: str | None) -> bool:
    """Whether ``path`` lies in installed code (``_installed_folders``), not the user's."""
    return path is not None and _installed_resolved(os.path.realpath(path))


def _installed_resolved(resolved: str) -> bool:
    """``is_installed`` of a path already resolved: a folder of ``_installed_folders`` or below
    it, by its text (``Path.is_relative_to`` of each folder took 60 µs a file)."""
    folders = _installed_folders()
    return resolved in folders or resolved.startswith(_below(folders))


@functools.cache
def _below(folders: tuple[str, ...]) -> tuple[str, ...]:
    """The prefixes of the paths below ``folders``: made again for each of a key's thousands of
    module files, they took ~10 ms of it."""
    return tuple(os.path.join(f, "") for f in folders)


@functools.cache
def _installed_folders() -> tuple[str, ...]:
    """Folders of code that is installed, not the user's: torch, prunelimit, the standard
    library, the site-packages folders and the folders of installed scripts (the ``prunelimit``
    console script: the process's ``__main__``, which ``python -m prunelimit`` is not)."""
    import site
    import sysconfig

    import torch

    import prunelimit

    folders = [Path(torch.__file__).parent, Path(prunelimit.__file__).parent]
    # not the prefix itself: it may hold the user's own folders too
    folders += [Path(p) for k, p in sysconfig.get_paths().items()
                if k in ("stdlib", "platstdlib", "purelib", "platlib", "scripts")]
    folders += [Path(p) for p in (*site.getsitepackages(), site.getusersitepackages())]
    folders.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")))  # pip install --user's
    return tuple(os.path.realpath(f) for f in folders)


def _spec_file(text: str | None) -> str | None:
    """The file behind a ``file.py:factory`` or ``package.module:factory`` spec."""
    if not text:
        return None
    head = text.strip().split(":", 1)[0]
    if head.endswith(".py"):
        return str(Path(head).resolve()) if Path(head).is_file() else None
    return _module_file(head) if "." in head else None


def _module_file(name: str) -> str | None:
    """The file module ``name`` was loaded from, resolved; ``None`` where it has none."""
    source = _module_source(name)
    return source if source is not None and os.path.isfile(source) else None


def _module_source(name: str) -> str | None:
    """The ``__file__`` of module ``name``, resolved (``_resolved``), whether or not it is a file."""
    source = getattr(sys.modules.get(name), "__file__", None)
    return _resolved(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else None


# ``_resolved``'s answers that lie in installed code, by the ``__file__`` resolved
_INSTALLED_FILES: dict[str, str] = {}


def _resolved(path: str) -> str:
    """``os.path.realpath`` of a loaded module's file. Remembered once a process where it lies in
    installed code (taken as fixed): resolving the thousands of them again took ~0.1 s of each
    cache key. The user's few are resolved each time: a symlinked folder re-pointed, a module
    imported again from it keeps its ``__file__`` and runs the new target's code."""
    if (known := _INSTALLED_FILES.get(path)) is not None:
        return known
    resolved = os.path.realpath(path)
    if _installed_resolved(resolved):
        _INSTALLED_FILES[path] = resolved
    return resolved


def _object_file(obj: Any) -> str | None:
    try:
        source = inspect.getsourcefile(obj if inspect.isfunction(obj) else type(obj))
    except TypeError:  # a builtin: no source file
        return None
    return str(Path(source).resolve()) if source and Path(source).is_file() else None


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def package_identity(name: str) -> str | None:
    """What keys the installed top-level package ``name``: each distribution that installs it by
    its name, version and RECORD (the sha256 of every file of its code it installed,
    :func:`_record_digest`, so a ``pip install .`` of edited code under an unchanged version
    changes it, and a distribution named otherwise
    than the package, which need not state a ``__version__``, still counts), else its
    ``__version__`` and its files' bytes; ``None`` for the standard library and prunelimit
    (Python's version and prunelimit's source digest are keyed)."""
    if name in sys.stdlib_module_names or name == "prunelimit":
        return None
    parts = [f"{dist.metadata['Name']} {dist.version} {_record_digest(dist, name)}" for dist in _installing(name)]
    if not parts:  # copied into place by hand, or an installer that writes no metadata
        parts.append(f"{getattr(sys.modules.get(name), '__version__', None)} {_package_files(name)}")
    return "; ".join(parts)


def _installing(name: str) -> list[Any]:
    """The distributions that install top-level package ``name``: the one of its name when its
    RECORD lists the package (torch, numpy: no search), else those the installed metadata
    names (``scikit-learn`` for ``sklearn``; reading them all takes a while, once a process)."""
    from importlib import metadata

    try:
        own = metadata.distribution(name)
    except (metadata.PackageNotFoundError, ValueError):
        own = None
    if own is not None and re.search(rf"^{re.escape(name)}[/.]", own.read_text("RECORD") or "", re.MULTILINE):
        return [own]
    found = []
    for dist_name in sorted(set(_distributions(tuple(sys.path)).get(name, ()))):
        try:
            found.append(metadata.distribution(dist_name))
        except (metadata.PackageNotFoundError, ValueError):
            continue
    return found


def _record_digest(dist: Any, name: str) -> str | None:
    """sha256 over the lines of ``dist``'s RECORD that hash a file of its own installed code
    (:func:`_code_line`), sorted; the files' bytes of package ``name`` where it has none."""
    return _code_lines_digest(dist.read_text("RECORD") or "") or _package_files(name)


@functools.lru_cache(maxsize=16)
def _code_lines_digest(record: str) -> str | None:
    """sha256 over a RECORD's ``_code_line`` lines, sorted; ``None`` where it has none. Remembered
    by the RECORD's text: sorting torch's 14,600 lines again took ~15 ms of each key."""
    lines = sorted(line for line in record.splitlines() if _code_line(line))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest() if lines else None


def _code_line(line: str) -> bool:
    """Whether a RECORD line hashes installed code: not a file installed outside the package
    folders (``../../../bin/f2py``: a launcher whose first line names the interpreter's absolute
    path, so numpy's RECORD differed in every virtual environment made elsewhere, a CI job's in
    its own workspace, and every key missed), not the ``.dist-info`` record of the install itself
    (``direct_url.json`` names the folder ``pip install .`` read, ``INSTALLER`` pip or uv) and not
    a line with no hash (the ``.pyc`` files pip compiled, absent under ``--no-compile``)."""
    path, _, rest = line.rpartition(",")[0].rpartition(",")
    return bool(path) and rest.startswith("sha256=") and not path.startswith("../") \
        and ".dist-info/" not in path


@functools.cache
def _distributions(path: tuple[str, ...]) -> dict[str, list[str]]:
    """The distributions installing each top-level package on ``path`` (``sys.path``)."""
    from importlib import metadata

    return metadata.packages_distributions()


def _package_files(name: str) -> str | None:
    """sha256 over the Python files of the imported package ``name`` (the file of a module)."""
    module = sys.modules.get(name)
    folders = list(getattr(module, "__path__", None) or ())
    if folders:
        return hashlib.sha256("".join(source_fingerprint(Path(f)) for f in folders).encode()).hexdigest()
    source = getattr(module, "__file__", None)
    return file_sha256(source) if source and Path(source).is_file() else None


@functools.cache
def _module_internals() -> frozenset[str]:
    """The attributes every ``nn.Module`` has (parameters, buffers, children, hooks, ``training``)."""
    from torch import nn

    return frozenset(vars(nn.Module()))


@functools.lru_cache(maxsize=4096)
def _installed_code(filename: str) -> bool:
    return is_installed(filename)


def _user_modules_read(namespace: dict[str, Any], names: set[str]) -> list[Any]:
    """The user's modules (not installed code) a function with globals ``namespace`` reaches
    through the ``names`` its code reads: a global that is one (``import cfg``), one it
    imports in its body (``sys.modules``), and those reached from them (``pkg.cfg``), by name."""
    found: dict[str, Any] = {}
    todo = [namespace.get(n, sys.modules.get(n)) for n in sorted(names)]
    while todo:
        module = todo.pop()
        if isinstance(module, types.ModuleType) and _users_module(module) and module.__name__ not in found:
            found[module.__name__] = module
            todo += [vars(module)[n] for n in sorted(names) if n in vars(module)]
    return [found[name] for name in sorted(found)]


# the loaded modules' names, the modules and their files when ``_users_loaded`` last looked, and its answer
_USERS_LAST: list[tuple[list[str], list[Any], list[Any], frozenset[str]] | None] = [None]


def _users_loaded() -> frozenset[str]:
    """The names of the loaded modules that are the user's code (:func:`_users_module`); the last
    answer while the same modules are loaded under the same names from the same files (asking each
    of 2,400 modules again took 2.5 ms, five times a gate; ``importlib.reload`` may find a module
    elsewhere, in the same module object)."""
    names, modules = zip(*list(sys.modules.items())) if sys.modules else ((), ())
    files = [getattr(module, "__file__", None) for module in modules]
    last = _USERS_LAST[0]
    if last is not None and last[0] == list(names) and all(map(operator.is_, last[1], modules)) \
            and last[2] == files:
        return last[3]
    users = frozenset(name for name, module in zip(names, modules) if _users_module(module))
    _USERS_LAST[0] = (list(names), list(modules), files, users)
    return users


def _users_module(module: Any) -> bool:
    """Whether ``module`` is the user's code: its file or folder lies outside the installation
    (``is_installed``), or it is a notebook's ``__main__``, which has none. A module whose file is
    no path (``torch.ops``'s ``_ops.py``) is installed code's stand-in."""
    where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", None) or ()), None)
    if where is None:
        return getattr(module, "__name__", None) == "__main__"
    return isinstance(where, str) and os.path.isabs(where) and not _installed_code(where)


def _prunelimits(module_name: str) -> bool:
    return module_name.partition(".")[0] == "prunelimit"


# what ``_attributes_put`` found on each installed module and class (by id), with the objects its
# attributes were then, held so that no id of theirs is reused while they are; for the user's modules
# of ``_PUT_USERS`` (another set of them clears it)
_PUT_SEEN: dict[int, tuple[Any, tuple[str, ...], tuple[Any, ...], list[tuple[str, Any]], list[type]]] = {}
_PUT_USERS: list[frozenset[str]] = [frozenset()]


def _attributes_put(owner: Any, users: frozenset[str]) -> tuple[list[tuple[str, Any]], list[type]]:
    """The attributes of the installed module or class ``owner`` that the user's code (the modules
    named ``users``, those of ``_PUT_USERS``) put there (``_users_callable``), and the installed
    classes among them but prunelimit's. Remembered while its attributes are the same objects under
    the same names: looking at every loaded module's and class's values again (some 130,000) took
    60 ms in each report and cache key where nothing had been put since; the values found are read
    again by the digest each time."""
    space = vars(owner)
    names, values = tuple(space), tuple(space.values())
    seen = _PUT_SEEN.get(id(owner))
    if seen is not None and seen[0] is owner and seen[1] == names and all(map(operator.is_, seen[2], values)):
        return seen[3], seen[4]
    put, classes = [], []
    for name, value in zip(names, values):
        if _users_callable(value, users):
            put.append((name, value))
        elif issubclass(type(value), type) and not _prunelimits(str(getattr(value, "__module__", ""))):
            classes.append(value)
    _PUT_SEEN[id(owner)] = (owner, names, values, put, classes)
    return put, classes


# what the user's code was found to have put on installed code in the ``one_look`` running, by the
# user's modules it was looked for with; ``None`` outside one
_LOOKS: contextvars.ContextVar[dict[frozenset[str], dict[str, Any]] | None] = \
    contextvars.ContextVar("prunelimit_looks", default=None)


@contextlib.contextmanager
def one_look() -> Iterator[None]:
    """Within it (a command, a library call), what the user's code put on installed modules and
    classes is looked for once (:meth:`_Values.put_on_installed`): a gate's three cache keys and
    two ``weights.python`` looked five times, ~35 ms each over some 190,000 values, half of a
    small gate's time. The values found are still read by every digest; code the command runs
    does not put its own on installed code (the first look is the one its cache key read)."""
    if _LOOKS.get() is not None:  # a call within a command: the command's look
        yield
        return
    token = _LOOKS.set({})
    try:
        yield
    finally:
        _LOOKS.reset(token)


def _found_on_installed(users: frozenset[str]) -> dict[str, Any]:
    """What the user's code (the modules named ``users``) put on installed modules and classes, by
    ``module.attribute`` or ``module.Class.attribute`` (:meth:`_Values.put_on_installed`)."""
    found: dict[str, Any] = {}
    classes: dict[int, type] = {}  # one class reached under several names is looked at once
    if users != _PUT_USERS[0]:  # what was found was found for other modules of the user's
        _PUT_SEEN.clear()
        _PUT_USERS[0] = users
    for name, module in sorted(list(sys.modules.items())):
        if name in users or _prunelimits(name) or not isinstance(module, types.ModuleType):
            continue  # the user's own modules are keyed as code and by the values their functions read
        put, held = _attributes_put(module, users)
        found.update((f"{name}.{attr}", value) for attr, value in put)
        for cls in held:
            classes.setdefault(id(cls), cls)
    for cls in classes.values():
        found.update((f"{_qualname(cls)}.{attr}", value) for attr, value in _attributes_put(cls, users)[0])
    return found


def _users_callable(value: Any, users: frozenset[str]) -> bool:
    """Whether ``value``, found on installed code, is something the user's code (the modules
    named ``users``: ``_Values.users``) put there: a function of theirs (a lambda
    too), a class of theirs or an instance of one (a callable object), a ``functools.partial``,
    method or descriptor around one, or an installed method bound to one (``MyFunction.apply``
    of an ``autograd.Function``). By ``type``, not ``isinstance``: a module's value may be a
    deprecation proxy that warns when asked its class."""
    kind = type(value)
    if kind is types.FunctionType:  # by its module: code a package generates (a dataclass's or a
        return value.__module__ in users  # namedtuple's methods, from ``<string>``) is that package's
    if kind is functools.partial:
        return _users_callable(value.func, users)
    if kind is types.MethodType:
        owner = value.__self__
        return (_users_callable(value.__func__, users)
                or getattr(owner if issubclass(type(owner), type) else type(owner), "__module__", None) in users)
    if kind in (staticmethod, classmethod):
        return _users_callable(value.__func__, users)
    return getattr(value if issubclass(kind, type) else kind, "__module__", None) in users


# objects of the Python installation that stand for state of the whole process, not values the
# user's code computes with: ``os.environ`` (every variable, another in each CI job; the ones
# the code names count by their values, ``cache_reads.named_variables``) and loggers (their
# manager holds every logger created, in the order they were), keyed by their class and name
_PROCESS_WIDE = (type(os.environ), logging.Logger, logging.Manager)


def _cell(cell: Any) -> Any:
    """A closure cell's value; ``None`` for one not yet assigned (a name bound after the function)."""
    try:
        return cell.cell_contents
    except ValueError:
        return None


class _Values:
    """Feeds a digest with the value of Python objects: what user code computes with besides
    the model's tensors. Plain values by their repr, tensors and arrays by their bytes,
    containers item by item, the user's functions by their code, defaults, closure cells
    and the globals they read, the user's classes by their attributes and methods, other
    objects by their class and attributes. Installed functions and classes (torch's,
    prunelimit's, the standard library's) count by name: their code is fixed by the versions
    in the key. Nothing depends on addresses or the process's hash salt, so the same
    objects give the same digest in every process."""

    DEPTH = 40  # deeper structures count by their type alone (not a key worth a RecursionError)

    def __init__(self, digest, known: Iterable[Any]) -> None:
        self.digest = digest
        # by id, holding each object: a freed temporary's id is reused by the next one
        self.seen: dict[int, Any] = {id(obj): obj for obj in known}  # the model's modules: described by name
        self.packages: set[str] = set()  # top-level packages of the installed code met
        self.strings: set[str] = set()  # every string and path met (cache_reads: what they name)
        self.names: set[str] = set()  # every name the user's functions read
        self.held: dict[str, Any] = {}  # the user's modules met as values (``self.settings = cfg``)
        self.codes: dict[int, Any] = {}  # the code objects keyed, by id (held: an id stays its own)
        self.operators: set[str] = set()  # the custom operators met (:meth:`operator`), by name

    def _tag(self, text: str) -> None:
        self.digest.update(text_bytes(text) + b"\0")

    def module(self, name: str, module: Any, compiled: tuple[str, ...] = ()) -> None:
        """A module of the model: its mode, its own attributes and its hooks (its tensors and
        children are keyed elsewhere); ``compiled``: attributes left out that hold its compiled half,
        read elsewhere."""
        import torch

        self._tag(f"module:{name}:{module.training}")
        self.update("class", type(module))
        internals = _module_internals()
        # a scripted module's own compiled half and methods (``_c``, ``forward``): its code, keyed by the
        # archive it is part of (``archive_fingerprint``, ``scripted_fingerprints``), not saved again here
        own = (torch._C.ScriptModule, torch._C.ScriptMethod) if isinstance(module, torch.jit.ScriptModule) else ()
        for key, value in vars(module).items():
            if isinstance(value, own) or key in compiled:
                continue
            if key not in internals:
                self._tag(f"attr:{key}")
                self.update(key, value)
            elif key.endswith("hooks"):  # keyed by handle ids, which differ between processes
                self._tag(f"hooks:{key}")
                self.update(key, list(value.values()))

    def code_run(self, modules: Iterable[tuple[str, Any]], ran: Iterable[tuple[Any, dict[str, Any]]] = (),
                 **named: Any) -> None:
        """What the ``modules`` (name, module) run besides their tensors, as the result cache key and a
        report's ``weights.python`` read it: each module (:meth:`module`), torch's global hooks, the
        ``named`` values (the loss), the code of ``ran`` none of these reached (:meth:`code_ran`), what the
        user's code put on installed code and the values of the user's modules met on the way."""
        for name, module in modules:
            self.module(name, module)
        self.global_hooks()
        for key, value in named.items():
            self.update(key, value)
        self.code_ran(ran)
        self.put_on_installed()
        self.modules_held()

    def code_ran(self, ran: Iterable[tuple[Any, dict[str, Any]]]) -> None:
        """The user's code the first batch ran (``Inputs.ran``: code objects with the globals they ran in) that
        the walk did not key: a helper the forward executes from a file by a path built at run time, or imports
        by a name built so, which no object of the model holds. Each by its code and the module-level values it
        reads, as a function's, once by what it is (a file executed at each forward runs new code objects of
        the same code), in an order of its file's name and place, never its folder."""
        fresh: dict[tuple[str, int, str, bytes], tuple[Any, dict[str, Any]]] = {}
        for code, namespace in ran:
            if id(code) not in self.codes:
                fresh.setdefault((Path(code.co_filename).name, code.co_firstlineno, code.co_name, code.co_code),
                                 (code, namespace))
        for (file, _, name, _), (code, namespace) in sorted(fresh.items()):
            if id(code) not in self.codes:  # not nested in one keyed just now
                self._tag(f"ran:{file}:{name}")
                self._globals_read("ran", namespace, self._code(code), 1)

    def global_hooks(self) -> None:
        """The hooks torch runs around every module (``register_module_forward_hook``...)."""
        from torch.nn.modules import module as torch_module

        for key, hooks in sorted(vars(torch_module).items()):
            if key.startswith("_global_") and isinstance(hooks, dict):
                self._tag(f"hooks:{key}")
                self.update(key, list(hooks.values()))

    @functools.cached_property
    def users(self) -> frozenset[str]:
        """The names of the loaded modules that are the user's code (:func:`_users_module`)."""
        return _users_loaded()

    def put_on_installed(self) -> None:
        """What the user's code put on installed modules and classes (``torch.nn.functional.relu =
        scaled_relu``, ``torch.relu = ...``, ``torch.Tensor.relu = ...`` in their models.py):
        installed code counts by its name, and the name now calls the user's code, keyed here
        with what it reads (a scale loaded at import, a partial's arguments). Every loaded
        module is looked at, since installed code calls its own by name wherever it lives, but
        prunelimit's own: its source is keyed, and what a caller puts on it (a test's stand-in
        for a clock, a progress hook) runs the tool, not the model or the loss."""
        users = self.users
        looks = _LOOKS.get()
        found = looks.get(users) if looks is not None else None
        if found is None:
            found = _found_on_installed(users)
            if looks is not None:
                looks[users] = found
        if found:
            self._tag("put on installed code")
            self.update("installed", dict(sorted(found.items())))

    def modules_held(self) -> None:
        """The values of the user's modules met as values (an attribute ``self.settings = cfg``, a
        closure's or a default's module) under every name the user's functions read
        (``self.settings.SCALE``): a module counts by its name, and a value it loads at import
        (``SCALE`` from a file) need not change its file. Until no module or name is new."""
        done: dict[str, set[str]] = {}
        while todo := [(name, module) for name, module in sorted(self.held.items())
                       if not self.names | {"__getattr__"} <= done.get(name, set())]:
            for name, module in todo:
                read = (self.names | {"__getattr__"}) - done.get(name, set())
                done.setdefault(name, set()).update(read)
                self._tag(f"values of module:{name}")
                self.update(name, {n: vars(module)[n] for n in sorted(read) if n in vars(module)})

    def update(self, label: str, obj: Any, depth: int = 0) -> None:
        import torch

        if isinstance(obj, str):  # it may name a file, folder or variable the code reads: keyed after the walk
            self.strings.add(obj)
            if _a_name(obj):  # or what the code reads of the user's modules by it: getattr(helpers, self.fn)
                self.names.add(obj)
            return self._tag(f"str:{portable(obj)!r}")
        if obj is None or isinstance(obj, (bool, int, float, complex, bytes)):
            return self._tag(f"{type(obj).__name__}:{obj!r}")
        if isinstance(obj, torch.Tensor):
            self._tag("tensor")
            return _update_tensors(self.digest, label, [("", obj)])
        if isinstance(obj, np.ndarray) and obj.dtype != object:
            self._tag(f"array:{obj.dtype.str}:{obj.shape}")
            return self.digest.update(np.ascontiguousarray(obj).tobytes())
        if isinstance(obj, (np.generic, torch.dtype, torch.device, torch.layout, torch.memory_format)):
            return self._tag(f"{_qualname(type(obj))}:{obj!r}")
        if isinstance(obj, PurePath):  # by its name; what it holds is keyed with the strings, never where it lies
            self.strings.add(str(obj))
            return self._tag(portable(str(obj)) if os.path.isdir(obj) else f"path:{obj.name}")
        # torch's objects, which hold the operator's state, by its Python (``torch.ops.ns`` is a module too)
        if called := _custom_operators_of(obj):
            for name in called:
                self.operator(name)
            return
        if isinstance(obj, types.ModuleType):  # its file, if the user's, is keyed with the code files,
            if _users_module(obj):  # and the values the code reads of it (modules_held)
                self.held.setdefault(obj.__name__, obj)
            else:  # an installed one by its distribution (``pkg.act(x)`` reaches no function of it here)
                self.packages.add(str(obj.__name__).partition(".")[0])
            return self._tag(f"module:{obj.__name__}")
        if isinstance(obj, (types.BuiltinFunctionType, types.MethodWrapperType, types.WrapperDescriptorType,
                            types.MethodDescriptorType)):
            self._tag(f"builtin:{_qualname(obj)}")
            # one bound to a value (``torch.tensor(3.0).mul``, ``(0.5).__mul__``) computes with it
            owner = getattr(obj, "__self__", None)
            if owner is not None and not isinstance(owner, (types.ModuleType, type)):
                self.update(label, owner, depth + 1)
            return
        if isinstance(obj, _PROCESS_WIDE):  # by name: their fields hold the whole process's state
            return self._tag(f"{_qualname(type(obj))}:{getattr(obj, 'name', '')}")
        if id(obj) in self.seen or depth > self.DEPTH:
            return self._tag(f"seen:{_qualname(type(obj))}")
        self.seen[id(obj)] = obj
        deeper = depth + 1
        if isinstance(obj, np.ndarray):
            self._tag(f"objects:{obj.shape}")
            obj = obj.ravel().tolist()
        if isinstance(obj, (list, tuple)):
            self._tag(f"{type(obj).__name__}:{len(obj)}")
            for item in obj:
                self.update(label, item, deeper)
        elif isinstance(obj, dict):
            self._tag(f"dict:{len(obj)}")
            for key, value in obj.items():
                self.update(label, key, deeper)
                self.update(label, value, deeper)
        elif isinstance(obj, (set, frozenset)):  # iteration order follows the hash salt: sort
            parts = []
            for item in obj:
                one = _Values(hashlib.sha256(), self.seen.values())
                one.update(label, item, deeper)
                parts.append(one.digest.hexdigest())
                self.packages |= one.packages
                self.strings |= one.strings
                self.names |= one.names  # what the code reads of the user's modules by them, and those modules
                self.codes.update(one.codes)
                for name, module in one.held.items():
                    self.held.setdefault(name, module)
            self._tag(f"set:{','.join(sorted(parts))}")
        elif isinstance(obj, types.MappingProxyType):  # a class's __dict__, singledispatch's registry
            self.update(label, dict(obj), deeper)
        elif isinstance(obj, (classmethod, staticmethod)):  # the function they wrap is no field of theirs
            self._tag(type(obj).__name__)
            self.update(label, obj.__func__, deeper)
        elif isinstance(obj, property):
            self._tag("property")
            for part in (obj.fget, obj.fset, obj.fdel):
                self.update(label, part, deeper)
        elif isinstance(obj, functools.partial):
            self._tag("partial")
            for part in (obj.func, obj.args, obj.keywords):
                self.update(label, part, deeper)
        elif isinstance(obj, types.MethodType):
            self._tag("method")
            self.update(label, obj.__func__, deeper)
            self.update(label, obj.__self__, deeper)
        elif isinstance(obj, types.FunctionType):
            self._function(label, obj, deeper)
        elif isinstance(obj, type):
            self._class(label, obj, deeper)
        elif isinstance(obj, (torch.jit.ScriptFunction, torch.jit.CompilationUnit, torch._C.ScriptMethod,
                              torch._C.ScriptModule)):  # its code and constants live in TorchScript alone
            self._tag("torchscript:" + compiled_fingerprint(obj))
        elif isinstance(obj, torch.nn.Module):  # one outside the model (in a list, a closure, the loss)
            self._tag("foreign module")
            _update_tensors(self.digest, label, sorted(obj.state_dict().items()))
            # a trace's constants (a scale read when the loss's module was imported) live in its code
            self._tag("scripted:" + ",".join(scripted_fingerprints(obj)))
            for name, module in obj.named_modules():
                self.seen[id(module)] = module
                self.module(name, module)
        else:
            self._tag(f"object:{_qualname(type(obj))}")
            self.update(label, type(obj), deeper)
            fields = dict(vars(obj) if hasattr(obj, "__dict__") else {})
            fields.update({s: getattr(obj, s) for cls in type(obj).__mro__ for s in getattr(cls, "__slots__", ())
                           if hasattr(obj, s)})
            if fields:
                self.update(label, fields, deeper)
            else:  # a value of a compiled class (Decimal, datetime) shows itself only by its repr
                self._tag("repr:" + _ADDRESS.sub("", repr(obj)))

    def _function(self, label: str, fn: Any, depth: int) -> None:
        self._tag(f"function:{_qualname(fn)}")
        if _installed_code(fn.__code__.co_filename):
            self.packages.add(str(fn.__module__).partition(".")[0])
            # an installed decorator's wrapper keeps the user's function beside it (``__wrapped__``,
            # singledispatch's ``registry``): its own code is fixed, what it wraps is not
            if vars(fn):
                self.update(label, dict(sorted(vars(fn).items())), depth)
            return
        names = self._code(fn.__code__)
        for part in (fn.__defaults__, fn.__kwdefaults__, [_cell(c) for c in fn.__closure__ or ()]):
            self.update(label, part, depth)
        self._globals_read(label, fn.__globals__, names, depth)

    def _globals_read(self, label: str, namespace: dict[str, Any], names: set[str], depth: int) -> None:
        """The ``names`` code read of its globals ``namespace``: the module-level values (a constant loaded from a
        data file at import), and those of the user's other modules (``cfg.SCALE``): a module counts by name
        alone, and its file need not change when the value it loads does."""
        self.names |= names
        # ``torch.ops.ns.op(x)``: torch's namespace is installed code, and the operator it calls is the user's
        for name in _custom_operators_named(names):
            self.operator(name)
        self.update(label, {n: namespace[n] for n in sorted(names) if n in namespace}, depth)
        for module in _user_modules_read(namespace, names):
            self._tag(f"values of module:{module.__name__}")
            # a name the module lacks is computed by its __getattr__ (PEP 562: a lazy config)
            read = sorted(names | {"__getattr__"})
            self.update(label, {n: vars(module)[n] for n in read if n in vars(module)}, depth)

    def operator(self, name: str) -> None:
        """A custom operator defined in Python (``torch.library.custom_op``, ``ns::op``) by its Python: its
        kernels (the functions they wrap, not torch's wrappers, whose closures hold the operator's state),
        backward, its context's setup, fake and dispatch rules; a backward scaled otherwise moves the
        gradient alone. Once: named again where met again."""
        from torch._library.custom_ops import OPDEFS

        if name in self.operators:
            return self._tag(f"seen operator:{name}")
        self.operators.add(name)
        op = OPDEFS[name]
        kernels = {str(device): _kernel(fn) for device, fn in op._backend_fns.items()}
        self.update(f"operator:{name}", [op._schema, op._init_fn, kernels, op._abstract_fn, op._setup_context_fn,
                                         op._backward_fn, op._torch_dispatch_fns, op._vmap_fn, op._autocast_dtype])

    def _code(self, code: Any) -> set[str]:
        """Feed the bytecode and constants of ``code`` (nested code too); the names it reads."""
        self.codes[id(code)] = code
        self.digest.update(code.co_code)
        self._tag(repr((code.co_names, code.co_varnames, code.co_argcount, code.co_kwonlyargcount)))
        self.strings.update(fstring_patterns(code))  # f"conf/{name}.json": the paths it may build
        names = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names |= self._code(const)
            else:
                self.update("const", const)
            # a name in a string is read as well: getattr(cfg, "SCALE"), import_module("cfg")
            if isinstance(const, str) and _a_name(const):
                names.add(const)
        return names

    def _class(self, label: str, cls: type, depth: int) -> None:
        self._tag(f"class:{_qualname(cls)}")
        # by its module's file: a class defined in a notebook has none, and is the user's
        source = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if cls.__module__ == "builtins" or (source is not None and _installed_code(source)):
            self.packages.add(cls.__module__.partition(".")[0])
            # but not what the user's code put on it (``nn.Linear.forward = scaled_forward``); code
            # its own package generated (a dataclass's ``__init__``, compiled from ``<string>``) is its own
            patched = {f"{c.__qualname__}.{k}": v for c in cls.__mro__ for k, v in vars(c).items()
                       if _users_callable(v, self.users)}
            if patched:
                self.update(label, patched, depth)
            return
        for base in cls.__mro__[1:]:
            self.update(label, base, depth)
        self.update(label, {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__", "__doc__")},
                    depth)


def script_operators(model: Any) -> tuple[str | None, str | None]:
    """The custom operators defined in Python (``torch.library.custom_op``) that ``model``'s TorchScript
    calls, by name, and a sha256 of their Python (kernels, backward, its context's setup, fake and
    dispatch rules) as the result cache keys the user's code (:class:`_Values`); ``(None, None)``
    where it calls none. ``TypeError`` where that Python cannot be read."""
    from torch._library.custom_ops import OPDEFS

    def kinds(block: Any) -> Iterator[str]:
        for node in block.nodes():
            yield node.kind()
            for inner in node.blocks():
                yield from kinds(inner)

    def graphs(module: Any) -> Iterator[Any]:
        # each method with what it calls inlined (the functions it calls among it), and a submodule's own too,
        # where Python calls it: inlining each of those again took 0.4 s on 48 convolution blocks
        for method in module._c._method_names():
            yield module._c._get_method(method).inlined_graph
        for sub in module.modules():
            for method in sub._c._method_names():
                yield sub._c._get_method(method).graph

    called = sorted({kind for _, module in scripted_modules(model) for graph in graphs(module)
                     for kind in kinds(graph) if kind in OPDEFS})
    if not called:
        return None, None
    digest = hashlib.sha256()
    values = _Values(digest, ())
    try:
        for name in called:
            values.operator(name)
    except Exception as exc:  # noqa: BLE001 - the user's objects run their code: anything can fail
        raise TypeError(f"a custom operator of the model cannot be read: {type(exc).__name__}") from None
    return ", ".join(called), digest.hexdigest()


def _custom_operators_named(names: set[str]) -> list[str]:
    """The custom operators defined in Python whose namespace and name are both among ``names`` (the
    names a function reads: ``torch.ops.ns.op``, ``getattr(torch.ops.ns, "op")``), sorted."""
    from torch._library.custom_ops import OPDEFS

    return sorted(name for name in OPDEFS if all(part in names for part in name.split("::")))


# the classes of torch's objects that stand for a custom operator: _custom_operators_of's
_OPERATOR_TYPES = frozenset({"_OpNamespace", "CustomOpDef", "OpOverload", "OpOverloadPacket"})


def _custom_operators_of(obj: Any) -> list[str]:
    """The custom operators defined in Python that ``obj`` is or calls: the operator (``custom_op``'s
    result), ``torch.ops.ns.op`` or one of its overloads, or every one of a namespace (``torch.ops.ns``);
    none for any other object."""
    if type(obj).__name__ not in _OPERATOR_TYPES:  # every other value the key walks: not a 3 µs import
        return []
    import torch
    from torch._library.custom_ops import OPDEFS, CustomOpDef

    if isinstance(obj, torch._ops._OpNamespace):
        return sorted(name for name in OPDEFS if name.partition("::")[0] == obj.name)
    if isinstance(obj, CustomOpDef):
        name = f"{obj._namespace}::{obj._name}"
    elif isinstance(obj, torch._ops.OpOverload):
        name = obj.overloadpacket._qualified_op_name
    elif isinstance(obj, torch._ops.OpOverloadPacket):
        name = obj._qualified_op_name
    else:
        return []
    return [name] if name in OPDEFS else []  # one whose library was destroyed: as any other object


def _kernel(registered: Any) -> Any:
    """The function a custom operator's kernel registration wraps (``register_kernel``'s ``fn``), not
    torch's wrapper, whose closure holds the operator's state; the wrapper where it holds none."""
    import inspect

    wrapper = inspect.unwrap(registered)
    code = getattr(wrapper, "__code__", None)  # a callable object or a partial: as it is
    cells = dict(zip(code.co_freevars, wrapper.__closure__ or ())) if code is not None else {}
    return cells["fn"].cell_contents if "fn" in cells else wrapper


def _a_name(text: str) -> bool:
    """Whether ``text`` can name what a module holds (``SCALE``, ``cfg.SCALE``), as ``getattr`` and
    ``import_module`` read a name in a string."""
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _update_json(digest, obj: Any) -> None:
    digest.update(json.dumps(obj, sort_keys=True, default=str).encode() + b"\n")


def _update_tensors(digest, label: str, named: Iterable[tuple[str, Any]]) -> None:
    """Name, dtype, shape and bytes of each tensor (any dtype, layout or device)."""
    import torch

    for name, tensor in named:
        t = tensor.detach()
        t = (t if t.layout == torch.strided else t.to_dense()).cpu().contiguous().reshape(-1)
        digest.update(text_bytes(f"{label}:{name}:{t.dtype}:{tuple(tensor.shape)}:"))
        digest.update(t.view(torch.uint8).numpy().data)


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class Entry:
    """A stored result: a JSON ``payload`` and numeric ``arrays`` it refers to by index."""

    payload: Any
    arrays: tuple[np.ndarray, ...] = ()


def _warn_stderr(message: str) -> None:
    print(f"prunelimit: warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Store:
    """A checked cache folder (see :func:`open_store`); ``warn`` reports entries it ignores."""

    path: Path
    warn: Callable[[str], None] = field(default=_warn_stderr, compare=False)
    # the write that failed, if one did (or the folder, when it takes no file): a full disk fails
    # every later one too, said once
    failed: list[str] = field(default_factory=list, compare=False)

    def entry_path(self, key: str) -> Path:
        return self.path / f"{split_key(key)[0]}.entry"

    @property
    def recomputing(self) -> str:
        """What happens to an entry a read ignores: replaced, unless this store writes nothing
        more (a folder that takes no file, or a write that failed)."""
        return "recomputing it" if self.failed else "recomputing and replacing it"

    def load(self, key: str, kind: str) -> Entry | None:
        """The entry stored under ``key`` for ``kind``, or ``None`` (a miss) when it is absent or
        not a well-formed, intact entry of that key written by this user."""
        path = self.entry_path(key)
        try:
            info = path.lstat()
        except OSError:
            return None
        problem = _unsafe(info, "entry") if stat.S_ISREG(info.st_mode) else "it is not a regular file"
        if problem:
            self.warn(f"ignoring cache entry {path}: {problem}; recomputing")
            return None
        try:
            # not following a link put there since, nor waiting on a FIFO: only a regular file is read
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
            with open(fd, "rb") as file:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise ValueError("it is no longer a regular file")
                return read_entry(file, info.st_size, key, kind)
        except StaleEntry as exc:
            self.warn(f"ignoring cache entry {path} ({exc}); {self.recomputing}")
            return None
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested deeper than Python reads
            self.warn(f"ignoring damaged cache entry {path} ({exc}); {self.recomputing}")
            return None

    def save(self, key: str, kind: str, entry: Entry) -> None:
        """Write atomically; a failure to write only costs the next run a recomputation. After
        one, this store writes nothing more (the run goes on uncached, with one warning)."""
        from prunelimit.io.atomic import write_atomic

        if self.failed:
            return
        data = encode_entry(entry, key, kind)
        try:  # private whatever the umask: under umask 0 (some CI containers) an entry writable
            # by every user would be refused by the next load, and the cache would never hit
            write_atomic(self.entry_path(key), lambda tmp: tmp.write_bytes(data), force=True, mode=0o600)
        except (OSError, UsageError) as exc:
            self.failed.append(str(self.entry_path(key)))
            self.warn(f"could not write cache entry {self.entry_path(key)} ({exc}); this run stores no more results")


# the kind of the entries that remember a large file's digest (:func:`remembered_digest`)
FILE_DIGEST_KIND = "file digest"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def remembered_digest(store: Store) -> BigFile:
    """The sha256 of a file's bytes, for a file above ``cache_reads.FILE_BYTES_KEYED`` (``BigFile``):
    hashed once for its stat (folder, device, inode, size, modification and change times, as
    such a file was keyed before, trusted alike) and remembered in ``store``, so that the next
    command reads it back rather than the file. A key of those times alone missed in every fresh
    checkout (git sets every time anew; a restored data set gets new change times and inodes)
    though the bytes were the same, and a CI job paid for the spectrum in each run."""
    def digest(path: Path, info: os.stat_result) -> str:
        seen = f"{os.path.realpath(path)}\0{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
        key = hashlib.sha256(text_bytes(seen)).hexdigest()
        entry = store.load(key, FILE_DIGEST_KIND)
        if entry is not None and isinstance(entry.payload, str) and _SHA256_HEX.fullmatch(entry.payload):
            return entry.payload
        sha = file_sha256(path)
        store.save(key, FILE_DIGEST_KIND, Entry(sha))
        return sha
    return digest


def open_store(path: Path | None, explicit: bool, warn: Callable[[str], None] = _warn_stderr) -> Store | None:
    """The store in ``path`` (created if missing), checked before any work starts.

    A folder the user named (``explicit``) that cannot be used is a usage error (exit 2);
    the default folder that cannot be used gives a warning and the command runs uncached.
    One that takes no new file (a CI cache restored read-only) is read, and stores nothing:
    one warning says so. ``path`` ``None`` (``--no-cache``) disables the store.
    """
    if path is None:
        return None
    path = _home_expanded(Path(path))  # '~/c' quoted, or from --config: it made a folder '~' here
    problem = _folder_problem(path)
    if problem is None:  # as checked here: the user's code may change the working folder before a read
        unwritable = _unwritable(path)
        if unwritable is not None:  # a CI cache restored read-only: its entries still answer (it was exit 2)
            warn(f"cache folder {path} is not writable ({unwritable}): reading the results stored there, "
                 "storing none")
        return Store(path.absolute(), warn, failed=[] if unwritable is None else [str(path)])
    if explicit:
        raise UsageError(f"cache folder {path}: {problem}; pass another --cache-dir or --no-cache")
    warn(f"not caching results: cache folder {path}: {problem} (set --cache-dir or PRUNELIMIT_CACHE_DIR)")
    return None


def _folder_problem(path: Path) -> str | None:
    if path.parts[:1] == ("-",):  # as for every output (io.atomic.refuse_stdout); it made a folder '-' whose
        return "'-' is standard output, never a folder; name a folder"  # every entry was then refused
    if path.parts[:1] and path.parts[0].startswith("~") and _home_expanded(path) == path:
        # else it made a folder '~nosuchuser' in the current one
        return f"{path.parts[0]} names no home folder on this machine; write the folder's full path"
    try:
        # a file in the way is named, not reported as mkdir's "File exists" or "Not a directory"
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return "it is a file, not a folder" if blocker == path else f"{blocker} is a file, not a folder"
        # a link to nothing (a CI cache step's link whose target was not restored) is named, not
        # reported as mkdir's "File exists"
        dangling = next((p for p in (path, *path.parents) if p.is_symlink() and not p.exists()), None)
        if dangling is not None:
            what = "it" if dangling == path else str(dangling)
            return f"{what} is a symbolic link to {os.readlink(dangling)}, which does not exist"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:  # exists() too raises for a name longer than the file system takes (it was exit 3)
        return f"cannot be created ({exc.strerror})"
    return _unsafe(info, "folder")


def _unwritable(path: Path) -> str | None:
    """The OS's words when no file can be created in the folder ``path``, else ``None``."""
    import tempfile

    try:  # os.access says yes to root on read-only file systems; a real probe does not
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _unsafe(info: os.stat_result, what: str) -> str | None:
    """Why a cache file or folder could hold entries someone else wrote, or ``None``."""
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"the {what} belongs to another user (uid {info.st_uid})"
    if info.st_mode & stat.S_IWOTH:
        return f"the {what} is writable by every user; make it private (chmod o-w)"
    return None


# --------------------------------------------------------------------------- entry format
# One line of UTF-8 JSON (format, key, kind, array descriptors, payload, digest), then the
# arrays' raw bytes back to back. The digest is sha256 over the header without it and the bytes.


class StaleEntry(ValueError):
    """An intact entry of this key whose :func:`loss_witness` is not this model's."""


def encode_entry(entry: Entry, key: str, kind: str) -> bytes:
    arrays = [np.ascontiguousarray(a, dtype=np.dtype(a.dtype).newbyteorder("<")) for a in entry.arrays]
    digest, witness = split_key(key)
    header = {"format": FORMAT, "key": digest, "witness": witness, "kind": kind,
              "arrays": [{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays], "payload": entry.payload}
    blob = b"".join(a.tobytes() for a in arrays)
    header["digest"] = _entry_digest(header, blob)
    return json.dumps(header, sort_keys=True, allow_nan=False).encode() + b"\n" + blob


def decode_entry(data: bytes, key: str, kind: str) -> Entry:
    """The entry in ``data``; ``ValueError`` (one line) for anything but an intact entry of ``key``/``kind``,
    :class:`StaleEntry` for one whose witness (the first batch's loss) is not ``key``'s."""
    import io

    return read_entry(io.BytesIO(data), len(data), key, kind)


def read_entry(file: IO[bytes], size: int, key: str, kind: str) -> Entry:
    """:func:`decode_entry` of the ``size`` bytes in ``file``, reading no more than the header
    line (up to :data:`HEADER_BYTES`) and the arrays it declares: a file that is no entry of
    ``key``, or holds other than the header's arrays (a sparse file of terabytes, one still
    growing), is refused before the rest is read."""
    line = file.readline(HEADER_BYTES + 1)
    if not line.endswith(b"\n"):
        raise ValueError("no header line" if len(line) <= HEADER_BYTES else
                         f"no header line in its first {HEADER_BYTES // 2**20} MiB")
    try:
        header = json.loads(line[:-1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the header is not UTF-8 JSON") from None
    if not isinstance(header, dict) or set(header) != {"format", "key", "witness", "kind", "arrays", "payload",
                                                       "digest"}:
        raise ValueError("the header is not an entry")
    digest, witness = split_key(key)
    if (header["format"], header["key"], header["kind"]) != (FORMAT, digest, kind):
        raise ValueError("written for other inputs or another version")
    specs = header["arrays"]
    if not isinstance(specs, list) or not all(_array_spec_ok(s) for s in specs):
        raise ValueError("bad array descriptors")
    sizes = [np.dtype(s["dtype"]).itemsize * math.prod(s["shape"]) for s in specs]
    if len(line) + sum(sizes) != size:
        raise ValueError("truncated" if len(line) + sum(sizes) > size else "trailing bytes")
    blob = file.read(sum(sizes) + 1)  # one more: a file that grew since its size was taken
    if len(blob) != sum(sizes):
        raise ValueError("its size changed while it was read")
    if header["digest"] != _entry_digest({k: v for k, v in header.items() if k != "digest"}, blob):
        raise ValueError("its digest does not match its content (edited or truncated)")
    _check_witness(header["witness"], witness)
    arrays = (np.frombuffer(blob, s["dtype"], math.prod(s["shape"]), offset).reshape(s["shape"])
              for s, offset in zip(specs, itertools.accumulate(sizes, initial=0)))
    return Entry(header["payload"], tuple(arrays))


def _check_witness(stored: Any, expected: float | None) -> None:
    """:class:`StaleEntry` unless an entry's ``stored`` witness is the ``expected`` one, to
    :data:`WITNESS_RTOL`."""
    if expected is None:
        return
    if not isinstance(stored, (int, float)) or isinstance(stored, bool):
        raise StaleEntry("it records no loss of the first analysis batch to check this model against")
    if not math.isclose(stored, expected, rel_tol=WITNESS_RTOL, abs_tol=1e-12):
        raise StaleEntry(f"this model's loss on the first analysis batch is {expected:.6g}, not the {stored:.6g} "
                         "stored with it: something the model or the loss reads that the key does not follow "
                         "changed, or the entry is another model's")


def _array_spec_ok(spec: Any) -> bool:
    return (isinstance(spec, dict) and set(spec) == {"dtype", "shape"} and spec["dtype"] in ARRAY_DTYPES
            and isinstance(spec["shape"], list)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in spec["shape"]))


def _entry_digest(header: dict, blob: bytes) -> str:
    digest = hashlib.sha256(json.dumps(header, sort_keys=True, allow_nan=False).encode())
    digest.update(blob)
    return digest.hexdigest()


# --------------------------------------------------------------------------- results as entries
# A result is a tree of prunelimit dataclasses, dicts, lists, tuples, numbers, strings,
# numpy arrays and torch tensors. Arrays and tensors go to the entry's arrays; the rest
# is JSON with tagged nodes. Reading back builds only the dataclasses of RESULT_CLASSES.

# The classes a stored result is built of: the spectrum, the per-layer blocks, the measured limit, the overshoot
# check and the classes their fields declare (tests/cache/test_cache_decoding.py checks it against those fields). An
# entry naming any other class (another module of the package: importing it could have side
# effects; a class whose methods no result has) is damaged, not decoded.
RESULT_CLASSES = frozenset({
    "prunelimit.api.curvature:CurvatureData", "prunelimit.api.curvature:SpectrumReport",
    "prunelimit.api.layers:StoredBlocks", "prunelimit.api.options:MemoryUse", "prunelimit.api.options:SolverChoice",
    "prunelimit.api.verification:StoredSearch", "prunelimit.pruning.actual:ActualLimit",
    "prunelimit.pruning.actual:CurvePoint", "prunelimit.pruning.actual:OvershootCheck",
    "prunelimit.curvature.adaptive:Stage", "prunelimit.curvature.layers:BlockCost",
    "prunelimit.curvature.layers:BlockCurvature", "prunelimit.curvature.quadrature:SpectralQuadrature",
    "prunelimit.theory.layers:LayerBreakdown", "prunelimit.theory.layers:LayerShare",
    "prunelimit.theory.uncertainty:Uncertainty",
})


def to_entry(result: Any) -> Entry:
    """``TypeError`` for a value that cannot be stored (the result is then not cached)."""
    arrays: list[np.ndarray] = []
    return Entry(_encode(result, arrays), tuple(arrays))


def from_entry(entry: Entry, expected: type) -> Any:
    """The stored result, or ``ValueError`` when it is not an ``expected`` built from known parts."""
    try:
        result = _decode(entry.payload, entry.arrays)
    except Exception as exc:  # pure data building: whatever fails, the entry is not a result
        raise ValueError(f"not a stored result ({type(exc).__name__})") from None
    if not isinstance(result, expected):
        raise ValueError(f"not a stored {expected.__name__}")
    misfit = _misfit(result)
    if misfit:  # an entry rewritten with its digest recomputed: a field of another type would fail later (exit 5)
        from prunelimit.report.safe import clipped

        raise ValueError(f"not a stored {expected.__name__}: {clipped(misfit, 200)}")  # it may name a stored key
    return result


def _misfit(value: Any, hint: Any = Any, where: str = "") -> str | None:
    """Where a decoded result departs from its dataclasses' declared field types (``"field
    x.y is a str, not float"``), or ``None``: decoding builds any prunelimit dataclass from
    whatever values an entry holds, and its fields are read as declared."""
    import typing

    import torch

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        misfits = [_misfit(value, arg, where) for arg in args]
        return None if None in misfits else misfits[0]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hint is not Any and not isinstance(value, _as_class(hint)):
            return _wrong(value, hint, where)
        for name, field_hint in _field_hints(type(value)).items():
            misfit = _misfit(getattr(value, name), field_hint, f"{where}.{name}" if where else name)
            if misfit:
                return misfit
        return None
    if hint is Any or isinstance(hint, typing.TypeVar):
        return None
    if hint is None or hint is type(None):
        return None if value is None else _wrong(value, hint, where)
    if hint is float:  # an integral float is stored as an int
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else _wrong(value, hint, where)
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else _wrong(value, hint, where)
    if origin is typing.Literal:
        return None if value in args else f"field {where} is {value!r}, not one of {args}"
    cls = _as_class(origin or hint)
    if cls is None:  # a Callable, a Protocol: not stored in a result
        return None
    if not isinstance(value, cls):
        return _wrong(value, hint, where)
    if isinstance(value, (np.ndarray, torch.Tensor)) or not args:
        return None
    if isinstance(value, dict):
        return next(filter(None, (_misfit(k, args[0], f"{where} key") or _misfit(v, args[1], f"{where}[{k!r}]")
                                  for k, v in value.items())), None)
    items = args[:1] * len(value) if len(args) == 1 or args[1:] == (Ellipsis,) else args
    if len(items) != len(value):
        return f"field {where} holds {len(value)} items, not {len(items)}"
    return next(filter(None, (_misfit(v, h, f"{where}[{i}]") for i, (v, h) in enumerate(zip(value, items)))), None)


def _wrong(value: Any, hint: Any, where: str) -> str:
    return f"field {where} is a {type(value).__name__}, not {getattr(hint, '__name__', hint)}"


def _as_class(hint: Any) -> type | None:
    return hint if isinstance(hint, type) else None


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    """The declared type of each field of dataclass ``cls``, names imported only for type
    checking (``if TYPE_CHECKING:``) resolved by :class:`_Names`."""
    import typing

    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls, localns=_Names(vars(module)))
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}


class _Names(dict):
    """Names an annotation may use that its module does not define at run time: ``torch``,
    ``np``, and a class imported under ``TYPE_CHECKING`` (a :class:`_Named` stand-in)."""

    def __init__(self, module_names: dict[str, Any]) -> None:
        super().__init__()
        self._module = module_names

    def __missing__(self, name: str) -> Any:
        import builtins

        import torch

        if name in self._module or hasattr(builtins, name):
            raise KeyError(name)  # eval falls back to the module's globals and the builtins
        return {"torch": torch, "np": np}.get(name) or _Named(name, (), {})


class _Named(type):
    """The class of a stand-in for a class imported only for type checking: an instance of a
    prunelimit dataclass of the same name is an instance of the stand-in."""

    def __instancecheck__(cls, value: Any) -> bool:
        return (dataclasses.is_dataclass(value) and type(value).__name__ == cls.__name__
                and type(value).__module__.startswith("prunelimit."))


def _encode(obj: Any, arrays: list) -> Any:
    import torch

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        name = f"{cls.__module__}:{cls.__qualname__}"
        if name not in RESULT_CLASSES:  # it would never read back
            raise TypeError(f"cannot store a {cls.__name__}")
        return {"dataclass": name,
                "fields": {f.name: _encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(obj)}}
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        tensor = isinstance(obj, torch.Tensor)
        array = obj.detach().cpu().numpy() if tensor else obj
        if array.dtype.newbyteorder("<").str not in ARRAY_DTYPES:
            raise TypeError(f"cannot store a {array.dtype} array")
        arrays.append(array)
        return {"tensor" if tensor else "array": len(arrays) - 1}
    if isinstance(obj, dict):
        return {"dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"tuple" if isinstance(obj, tuple) else "list": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else {"float": repr(float(obj))}
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__}")


def _decode(node: Any, arrays: tuple[np.ndarray, ...]) -> Any:
    import importlib

    import torch

    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) not in (1, 2):
        raise TypeError("bad node")
    if "dataclass" in node:
        if not (isinstance(node["dataclass"], str) and node["dataclass"] in RESULT_CLASSES):
            raise TypeError("not a result class")
        module, _, name = node["dataclass"].partition(":")
        cls = getattr(importlib.import_module(module), name)
        if not isinstance(node["fields"], dict):
            raise TypeError("no fields")
        return cls(**{k: _decode(v, arrays) for k, v in node["fields"].items()})
    (tag, value), = node.items()
    if tag in ("array", "tensor"):
        if not (type(value) is int and 0 <= value < len(arrays)):
            raise TypeError("bad array index")
        array = arrays[value].copy()  # writable, and no longer tied to the file's buffer
        return torch.from_numpy(array) if tag == "tensor" else array
    if tag == "dict":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value}
    if tag in ("list", "tuple"):
        items = [_decode(v, arrays) for v in value]
        return tuple(items) if tag == "tuple" else items
    if tag == "float" and value in ("nan", "inf", "-inf"):
        return float(value)
    raise TypeError("bad node")
