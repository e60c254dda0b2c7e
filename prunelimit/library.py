"""prunelimit on in-memory objects: an ``nn.Module``, data and a loss; no files.

The functions here are what ``import prunelimit`` offers (``prunelimit.bounds``, …). Each
builds :class:`prunelimit.inputs.Inputs` from the objects with :func:`inputs_from` and calls
the command of :mod:`prunelimit.api` the CLI calls, so the numbers are the CLI's.

``data`` is a tensor pair ``(x, y)`` (cut into ``batch_size`` batches in order, default
128 samples), or any re-iterable of ``(x, y)`` batches, used as they are: a list, or a
``DataLoader`` without shuffling (a ``batch_size`` that cuts no pair is refused). It is
read twice and must give the same batches both times: the curvature is taken over a fixed
sample, so a shuffling or augmenting loader is refused, and so is a re-iterable whose second
pass gives nothing (an ``IterableDataset`` holding one iterator). A one-pass iterator (a generator,
``iter(loader)``) is read once and its batches kept. The data are constants: read detached
from any graph that made them. ``loss`` is ``"ce"``, ``"mse"``
or a criterion ``loss(output, target) -> mean loss`` such as ``nn.CrossEntropyLoss()``.
Curvature options are keyword arguments named as the fields of
:class:`prunelimit.api.CurvatureOptions` (``method``, ``tolerance``, ``epsilon``, …).

The model is analysed in eval mode (BatchNorm and dropout as at inference) and is left
unchanged: each function gives every module back its ``training`` flag, and ``prune``
returns masks rather than pruning in place. A call under ``torch.no_grad()``,
``torch.inference_mode()`` or ``torch.autocast`` computes what it computes outside, and
torch's random state is as it was afterwards; so are the weights' autograd version counters
after a return, so a graph the caller built before the call still runs backward.

Example: a small MLP trained on the bundled digits, then its limit (a few seconds on a
CPU; the examples of the functions below go on from here and run as doctests):

>>> import copy
>>> import torch
>>> import prunelimit
>>> from prunelimit.data.spec import load_dataset
>>> train, test = load_dataset("digits:train"), load_dataset("digits:test")
>>> _ = torch.manual_seed(0)
>>> model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
>>> optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
>>> for _ in range(300):
...     optimiser.zero_grad()
...     torch.nn.functional.cross_entropy(model(train.x), train.y).backward()
...     optimiser.step()
>>> result = prunelimit.bounds(model, (train.x, train.y), loss=torch.nn.CrossEntropyLoss())
>>> bool(0 < result.lower <= result.ratio <= result.upper < 1)
True
>>> pruning = prunelimit.prune(model, result.ratio)  # masks; the model is not changed
>>> pruned = pruning.apply(copy.deepcopy(model))  # torch.nn.utils.prune's weight_orig * weight_mask
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sized, TypeVar, cast

import torch
from torch import Tensor, nn

from prunelimit import api, validate
from prunelimit.data.batches import Batch
from prunelimit.equality import compared_by_value
from prunelimit.errors import CallError, InputError, OptionError, UsageError, option, quoted, warn
from prunelimit.inputs import Inputs
from prunelimit.laws.nplh import NplhConfig, NplhFit
from prunelimit.models.load import LoadedModel, recorded_meta, wrapped_module
from prunelimit.models.params import ParamSelection
from prunelimit.pruning.masks import LayerSparsity, Masks, require_one_pruning_a_tie
from prunelimit.report.notebook import pruning_summary, shown

FINETUNE_EPOCHS, FINETUNE_LR = 5, 0.01  # verify --finetune-epochs and --finetune-lr's defaults (with --refit)
DEFAULT_BATCH_SIZE = 128  # the CLI's --batch-size default: an (x, y) pair's batches when batch_size is None
# how the curvature work calls progress= (docs/library.md): total and text are not always passed
_PROGRESS = ("(done, total=None, text=None)", (1, 2, 3))
# A function the decorators below wrap, typed as it was: a caller's type checker reads each
# function's own signature and result, where ``Callable`` made every call ``(*Any, **Any) -> Any``
Command = TypeVar("Command", bound=Callable[..., Any])


def loss_function(loss: str | Callable[[Tensor, Tensor], Tensor]):
    """``"ce"``/``"mse"`` (or a ``file.py:fn`` spec) as the CLI reads it, or a criterion;
    torch's default squared error is the built-in ``mse``, its other criteria read their
    targets as they mean them (``prunelimit.data.loss.criterion_loss``)."""
    from prunelimit.baseline import plain_criterion
    from prunelimit.data.loss import criterion_loss, resolve_loss

    if isinstance(loss, str):
        return resolve_loss(loss)
    if isinstance(loss, type):  # called as loss(output, target) it builds a criterion, then fails deep inside
        raise UsageError(f"loss is the class {loss.__name__}, not a criterion; give an instance, loss={loss.__name__}()")
    if not callable(loss):
        raise UsageError(f"loss must be 'ce', 'mse' or a callable criterion(output, target), got {type(loss).__name__}")
    # reports record it as mse, so it must compute what mse does: nn.MSELoss() broadcast a (N, 1)
    # output against a (N,) y to N × N, where mse reshapes y to the output. (Torch's default
    # cross-entropy computes what ce does; as a criterion it also takes soft, real-valued targets.)
    if plain_criterion(loss) == "mse":
        return resolve_loss("mse")
    return criterion_loss(loss)


def as_batches(data: Any, batch_size: int = DEFAULT_BATCH_SIZE, device: torch.device | str = "cpu",
               option: str = "data") -> list["Batch"]:
    """``data`` as a fixed list of ``(x, y)`` batches on ``device`` (see the module docstring);
    a ``UsageError`` or ``InputError`` naming ``option`` (``data``, ``eval_data``) when it is not."""
    from prunelimit.cache import data_fingerprint
    from prunelimit.data.batches import to_device
    from prunelimit.data.spec import check_finite, make_batches

    if _is_pair(data):
        x, y = data
        _require_data_values(x, y, option)
        _require_samples(x, y, option, "give the same non-zero number")
        check_finite(x, y, option)
        return _tracked(to_device(make_batches(_Pair(_int64(x), _int64(y)), batch_size), device))
    if isinstance(data, (str, os.PathLike)):
        raise UsageError(f"{option} is the spec or path {str(data)!r}; the library takes tensors or batches: "
                         "load a data spec with prunelimit.data.spec.load_dataset(SPEC), then give (ds.x, ds.y)")
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(_is_array(t) for t in data):
        raise UsageError(f"{option} is a pair of {type(data[0]).__name__}s, not tensors; give {_tensors_of(data[0])}")
    if _is_array(data):  # iterated, its rows were read as batches: "data batch 0 is a ndarray"
        raise UsageError(f"{option} is one {type(data).__name__} of shape {tuple(data.shape)}, not an (x, y) pair of "
                         f"tensors; give the inputs and the labels apart, as tensors: {_tensors_of(data)}")
    if inspect.isfunction(data) or inspect.ismethod(data):  # what makes the batches (a generator's), not them
        call = f"{data.__name__}()" if data.__name__.isidentifier() else "f()"  # a lambda has no name to call
        kept = f" (read once; list({call}) for several calls)" if inspect.isgeneratorfunction(data) else ""
        raise UsageError(f"{option} is a function, not its batches; give what it returns: {option}={call}{kept}")
    if isinstance(data, (itertools.cycle, itertools.repeat)):  # a training loop's endless batches: read forever
        raise UsageError(f"{option} is an endless iterator (itertools.{type(data).__name__}), whose batches never end: "
                         "every call reads all the data it is given; give one pass, the DataLoader or list it cycles "
                         f"(or list(itertools.islice({option}, n)), its first n batches)")
    if isinstance(data, Tensor):  # the inputs alone: iterated, its rows would be read as batches
        raise UsageError(f"{option} is one Tensor of shape {tuple(data.shape)}, not an (x, y) pair of tensors; give "
                         f"the labels (targets) beside the inputs, {option}=(x, y)")
    samples = _dataset_fix(data)
    if not isinstance(data, Iterable) or samples:
        raise UsageError(f"{option} must be an (x, y) tensor pair or an iterable of (x, y) batches, "
                         f"got {type(data).__name__}{samples}")
    if isinstance(data, Mapping):  # iterating it would give its keys, read as batches
        keys = list(data)
        entries = f"{len(keys)} entr{'y' if len(keys) == 1 else 'ies'}" + (f" ({_keys(keys)})" if keys else "")
        example = f", {_keyed_pair(keys, option, '{}', 'dict')}" if keys else ""
        raise UsageError(f"{option} is a {type(data).__name__} of {entries}, not an (x, y) pair; {_FORMS}{example}")
    listed = _samples_listed(data, option)
    if listed:
        raise UsageError(listed)
    if isinstance(data, (tuple, list)) and any(isinstance(v, Tensor) for v in data):
        # a batch list holds pairs, never a tensor: this is a malformed pair, not a list of batches
        raise UsageError(f"{option} is a {type(data).__name__} ({_kinds(data)}), not an (x, y) pair of tensors"
                         f"{_pair_fault(data)}; {_FORMS}{_inputs_and_labels(data, option, batches=False)}")
    loader = isinstance(data, torch.utils.data.DataLoader)
    with _loader_generators_kept(data):
        batches = [_batch(b, i, option, loader) for i, b in enumerate(data)]
        if not batches:
            raise UsageError(f"{option} yielded no batches{_why_empty(data)}")
        # a one-pass iterator has no second pass to compare: the batches read are the fixed sample;
        # the second pass is hashed as it is read, not held beside the first (a second copy of the data)
        again = (_batch(b, i, option, loader) for i, b in enumerate(data))
        if not isinstance(data, Iterator) and data_fingerprint(again) != data_fingerprint(batches):
            if next(iter(data), None) is None:  # a third pass is empty too: used up, not reordered
                raise UsageError(f"{option} gave batches on a first pass and none on a later one: {_ONE_ITERATOR}")
            raise UsageError(f"{option} gave different batches on a second pass (a shuffling or augmenting loader?): "
                             "the curvature and training need a fixed sample (train reshuffles it itself, seeded); "
                             f"{_fixed_order(data)}")
    for i, (x, y) in enumerate(batches):
        check_finite(x, y, f"{option} batch {i}")
    dropped = _dropped_samples(data, batches)
    if dropped:  # the loss, ε and curvature are of the samples read: say which were not
        warn(f"{option}: the DataLoader drops its short last batch (drop_last=True): {dropped} of its "
             f"{dropped + sum(len(y) for _, y in batches)} samples are left out of the loss, epsilon and "
             "curvature; use drop_last=False to use them all", stacklevel=3)
    return _tracked(to_device([(_int64(x), _int64(y)) for x, y in batches], device))


# a re-iterable whose __iter__ continues one iterator (an IterableDataset or a class holding a generator,
# a loader over one) gives its batches once: an empty later pass says so, not a shuffling loader
_ONE_ITERATOR = ("its __iter__ (or its dataset's) continues one iterator, which a pass uses up, and every call "
                 "reads the data twice; give a list of its batches, read from a fresh one (batches = list(...)), "
                 "or make __iter__ start anew on each call (a generator function that yields them)")


def _fixed_order(data: Iterable) -> str:
    """How to give ``data``'s batches in one order on every pass: ``shuffle=False``, or, for a
    ``DataLoader`` whose own sampler draws anew each pass (which ``shuffle=False`` leaves as it
    is), one draw of it held in a ``Subset``."""
    sampler = getattr(data, "sampler", None)
    if isinstance(data, torch.utils.data.DataLoader) and isinstance(
            sampler, (torch.utils.data.SubsetRandomSampler, torch.utils.data.WeightedRandomSampler)):
        return (f"its sampler, {type(sampler).__name__}, draws the samples anew on each pass, shuffle=False or not: "
                "give one draw of it, DataLoader(torch.utils.data.Subset(loader.dataset, list(loader.sampler)), "
                f"batch_size={data.batch_size}) of the loader given")
    return "use DataLoader(..., shuffle=False) without random transforms"


def _dataset_fix(data: Any) -> str:
    """What to do with a dataset of samples (a map-style ``Dataset``, ``TensorDataset``, or any
    object with ``len`` and ``__getitem__`` whose items are samples: a Hugging Face
    ``datasets.Dataset``'s rows), which a ``DataLoader`` batches; else ``""``. Items that are
    dicts are batched as dicts, so the fix reads each batch's pair by the items' keys: told only
    to wrap it in a DataLoader, its caller met the dict batches' refusal next, and a dataset that
    iterates its rows was refused as 'data batch 0 is a dict', a sample read as a batch."""
    if isinstance(data, (Tensor, tuple, list, Mapping, str, bytes, torch.utils.data.DataLoader)) \
            or not (isinstance(data, Sized) and hasattr(data, "__getitem__")):
        return ""
    try:
        item = data[0] if len(data) else None
    except Exception:  # noqa: BLE001 (a container that is no dataset: it is read as batches, or refused, as before)
        return ""
    loader = "DataLoader(dataset, batch_size=128, shuffle=False)"
    # a map-style Dataset that does not iterate holds samples; one that does may hold batches
    mapped = isinstance(data, torch.utils.data.Dataset) and not isinstance(data, Iterable)
    if isinstance(item, Mapping) and item and (mapped or all(_one_sample(v) for v in item.values())):
        keys = list(item)
        return (f"; its items are samples of {_keys(keys)}: batch them and give each batch's (x, y) pair, "
                f"{_keyed_pair(keys, 'b', '[{} for b in ' + loader + ']', 'sample')}")
    if mapped or _is_sample(item) or (isinstance(item, (tuple, list)) and len(item) == 2
                                      and all(isinstance(t, Tensor) for t in item) and item[1].dim() == 0):
        return "; wrap it in DataLoader(dataset, batch_size=..., shuffle=False)"
    return ""


def _one_sample(value: Any) -> bool:
    """Whether a dict item's ``value`` is one sample's (a number, a 0-d or 1-D tensor), not a
    batch's, whose inputs have a sample dimension besides."""
    return isinstance(value, (int, float, str)) or isinstance(value, Tensor) and value.dim() <= 1


@contextlib.contextmanager
def _loader_generators_kept(data: Iterable) -> Iterator[None]:
    """Give the generators a ``DataLoader`` given as ``data`` draws from back their states, also
    on an error: its ``generator=`` (torch's global one without it), which each pass draws the
    workers' base seed from, and its sampler's. The caller's loader was left drawing other seeds
    and orders than it would have, and ``inputs_from``, which keeps no other state, moved torch's
    global generator."""
    sampler = getattr(getattr(data, "batch_sampler", None), "sampler", None)
    found = (torch.default_generator, getattr(data, "generator", None),
             getattr(getattr(data, "sampler", None), "generator", None), getattr(sampler, "generator", None))
    states = [(generator, generator.get_state()) for generator in found if isinstance(generator, torch.Generator)]
    try:
        yield
    finally:
        for generator, state in states:
            generator.set_state(state)


def _dropped_samples(data: Iterable, batches: list["Batch"]) -> int:
    """How many samples a ``drop_last`` DataLoader left out of ``batches``: a stream
    (an ``IterableDataset`` without ``len``) is counted by one pass over its samples."""
    if not (isinstance(data, torch.utils.data.DataLoader) and data.drop_last):
        return 0
    samples = len(data.dataset) if isinstance(data.dataset, Sized) else sum(1 for _ in data.dataset)
    return max(samples - sum(len(y) for _, y in batches), 0)


def _why_empty(data: Iterable) -> str:
    """Why ``data`` gave no batches, with the fix, where its kind tells: an iterator read
    already (a generator passed to an earlier call), a loader that drops its only batch."""
    if isinstance(data, Iterator):
        return (": a one-pass iterator (a generator, iter(loader)) gives its batches once, so a second read gives "
                "none; pass a list of batches or the DataLoader itself")
    if isinstance(getattr(data, "dataset", data), torch.utils.data.IterableDataset):
        return f": if it gave batches before, {_ONE_ITERATOR}"
    if isinstance(data, torch.utils.data.DataLoader) and data.drop_last and data.batch_size:
        samples = len(data.dataset) if isinstance(data.dataset, Sized) else "its"
        return (f": the DataLoader drops a short last batch (drop_last=True), and its {samples} samples fill no batch "
                f"of {data.batch_size}; use drop_last=False or a smaller batch_size in the DataLoader")
    return ""


def _tracked(batches: list["Batch"]) -> list["Batch"]:
    """Batches autograd can use, as constants: a tensor made under ``torch.inference_mode()``
    (features of a frozen backbone) cannot be saved for backward, so it is read as a plain
    copy of it; one with a graph (features computed with gradients on) or ``requires_grad``
    is read detached, or training would write the caller's ``x.grad`` and step back through
    the backbone's graph, freed after the first step."""
    with torch.inference_mode(False):
        return [tuple((t.clone() if t.is_inference() else t).detach() for t in batch) for batch in batches]


def _int64(values: Tensor) -> Tensor:
    """Integer class labels or inputs (token ids) as int64, as a data spec reads them:
    torch's cross-entropy takes no other integer type, ``nn.Embedding`` int32 at the
    narrowest (int32 labels, uint8 or int16 ids from numpy or a CSV reader are common)."""
    return values.long() if not values.is_floating_point() and not values.is_complex() \
        and values.dtype != torch.bool else values


@dataclass(frozen=True)
class _Pair:
    """The ``Dataset`` shape ``make_batches`` slices."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _is_pair(data: Any) -> bool:
    """Two tensors (not two batches, which are pairs themselves) with a sample dimension."""
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data) \
        and data[0].dim() > 0 and data[1].dim() > 0


def _is_array(value: Any) -> bool:
    """A numpy array (or another array type torch can convert) rather than a tensor."""
    return not isinstance(value, Tensor) and hasattr(value, "__array__") and hasattr(value, "shape")


def _tensors_of(x: Any) -> str:
    """The code that makes ``(x, y)`` tensors of arrays, given ``x``, the inputs' array."""
    return f"({_tensor_of('x', x)}, {_tensor_of('y', None)})"


def _tensor_of(name: str, value: Any) -> str:
    """The code that makes a tensor of the array ``name`` holds (``value``; labels as they are)."""
    # integer x are token ids, read as integers: made floats, an nn.Embedding refuses them
    return f"torch.from_numpy({name})" + (".float()" if name == "x" and not _is_integer_array(value) else "")


def _is_integer_array(value: Any) -> bool:
    """An array of integers (``dtype.kind`` ``i`` or ``u``, as numpy writes it)."""
    return getattr(getattr(value, "dtype", None), "kind", None) in ("i", "u")


_FORMS = "give an (x, y) pair of tensors, or an iterable of (x, y) batches (a list of pairs, a DataLoader)"


def _kinds(values: Any) -> str:
    """What each of a few values is, for a message: a tensor with its shape, else its type."""
    shown = [f"Tensor of shape {tuple(v.shape)}" if isinstance(v, Tensor) else type(v).__name__ for v in values[:4]]
    return ", ".join(shown) + (", …" if len(values) > 4 else "")


def _keys(keys: list[Any]) -> str:
    """A dict's keys, for a message: "keys 'x', 'y'" (the first six)."""
    return ("key " if len(keys) == 1 else "keys ") + ", ".join(repr(k) for k in keys[:6]) + (", …" if len(keys) > 6 else "")


def _keyed_pair(keys: list[Any], holder: str, form: str, what: str) -> str:
    """An example that reads an (x, y) pair from the dict ``holder`` by its own ``keys`` (at
    least one), put in ``form``: its first key as x, its last as y (inputs, then labels, as
    dict batches order them); a dict of one key has no y to name. ``what``: the dict, said."""
    if len(keys) == 1:
        return f"e.g. {form.format(f'({holder}[{keys[0]!r}], y)')}: the {what} holds no second tensor to be y"
    return f"e.g. {form.format(f'({holder}[{keys[0]!r}], {holder}[{keys[-1]!r}])')}"


def _pair_fault(pair: Any) -> str:
    """Why the sequence ``pair`` is not an (x, y) pair of tensors, with the fix."""
    if len(pair) != 2:
        return f": it holds {len(pair)} item{'s' if len(pair) > 1 else ''}"
    if isinstance(pair[0], int) and isinstance(pair[1], (tuple, list, Mapping)):  # its x was the index
        return (": it is an (index, batch) pair, as enumerate() gives them; give the batches alone, the loader itself "
                "rather than enumerate(loader)")
    for name, value in zip("xy", pair):
        if name == "x" and isinstance(value, (tuple, list)) and len(value) > 1 \
                and all(isinstance(t, Tensor) for t in value):
            return _several_inputs(value)
        if _is_array(value):
            return f": {name} is of type {type(value).__name__}; make it a tensor, {_tensor_of(name, value)}"
        if not isinstance(value, Tensor):
            return f": {name} is of type {type(value).__name__}; make it a tensor, one row per sample"
    return ": a 0-d tensor has no sample dimension; give one row per sample"


def _samples_listed(data: Any, option: str) -> str:
    """Why ``data``, an (x, y) pair of per-sample lists (``([x0, x1, …], [y0, y1, …])``, as a
    loop appending samples makes), is refused, with the fix; else ``""``. Its x was read as batch
    0 ('holds 100 items'), or, beside a tensor of labels, as the inputs of a model whose forward
    takes several. A batch's labels are never single numbers, and several inputs each hold one
    row per label, so neither form is read as this one."""
    if not isinstance(data, (tuple, list)) or len(data) != 2 or not isinstance(data[0], (tuple, list)):
        return ""
    xs, ys = data
    if isinstance(ys, Tensor) and ys.dim() > 0:
        labels, count = "y", len(ys)
        if all(isinstance(t, Tensor) and t.dim() > 0 and len(t) == count for t in xs):
            return ""  # the inputs of a model whose forward takes several: _several_inputs says so
    elif isinstance(ys, (tuple, list)) and all(validate.real(v) or isinstance(v, Tensor) and v.dim() == 0 for v in ys):
        labels, count = "torch.tensor(ys)", len(ys)
    else:
        return ""
    if not xs or len(xs) != count:
        return ""
    inputs = "torch.stack(xs)" if all(isinstance(t, Tensor) for t in xs) else "torch.tensor(xs)"
    return (f"{option} is an (x, y) pair of a {type(xs).__name__} of {count} samples and {count} labels, not of "
            f"tensors; stack the samples into tensors, one row per sample: {option}=({inputs}, {labels}), or give "
            "a DataLoader of a Dataset of them")


def _several_inputs(inputs: tuple | list) -> str:
    """Why an ``x`` of several tensors (the inputs of a model whose forward takes several) is
    refused, with the fix: every command calls ``model(x)`` on one tensor, so the inputs are
    joined into one and a module around the model splits them (its 2-D widths, where all are)."""
    kinds = f"a {type(inputs).__name__} of {len(inputs)} tensors"
    join = _join(inputs, _names(inputs)) if _by_widths(inputs) else _join(inputs, "inputs")
    return (f": x is {kinds}, the inputs of a model whose forward takes several; every call runs model(x) on one "
            f"tensor: join them, x = {join}, and give a module whose forward takes that x and calls the model "
            f"({_split(inputs)})")


def _inputs_and_labels(items: tuple | list, option: str, batches: bool) -> str:
    """For a pair or batch of three or more tensors of one sample count (a loader's ``(ids,
    attention_mask, labels)``), the fix where all but the last are the inputs of a model whose
    forward takes several, as for an ``x`` of several tensors; else ``""``."""
    if len(items) < 3 or not all(isinstance(t, Tensor) and t.dim() > 0 and len(t) == len(items[0]) for t in items):
        return ""
    inputs, names = items[:-1], _names(items[:-1])
    if not batches:
        given = f"{option}=({_join(inputs, names if _by_widths(inputs) else f'({names})')}, y)"
    elif _by_widths(inputs):
        given = f"[({_join(inputs, names)}, y) for {names}, y in {option}]"
    else:
        given = f"[({_join(inputs, 'b[:-1]')}, b[-1]) for b in {option}]"
    return (f"; where all but the last are the inputs of a model whose forward takes several, every call runs model(x) "
            f"on one tensor: join them, {given}, and give a module whose forward takes that x and calls the model "
            f"({_split(inputs)})")


def _names(inputs: tuple | list) -> str:
    """A model's several inputs named for a message: ``x1, x2, …``."""
    return ", ".join(f"x{i + 1}" for i in range(len(inputs)))


def _by_widths(inputs: tuple | list) -> bool:
    """Whether a model's several inputs joined as one ``x`` split back by their widths: all
    2-D and of one dtype, which ``torch.cat`` keeps (it promotes a mix: token ids to floats)."""
    return all(t.dim() == 2 for t in inputs) and len({t.dtype for t in inputs}) == 1


def _join(inputs: tuple | list, held: str) -> str:
    """The code that joins a model's several ``inputs`` into one ``x``: ``held`` names them,
    one by one where they split back by their widths, else as one sequence, each made a row a
    sample (``flatten(1)`` fails on a 1-D input, a sequence's length)."""
    return f"torch.cat([{held}], 1)" if _by_widths(inputs) else f"torch.cat([t.reshape(len(t), -1) for t in {held}], 1)"


def _split(inputs: tuple | list) -> str:
    """What the module around the model does to ``x`` to call it on its several ``inputs``."""
    if _by_widths(inputs):
        return f"return model(*x.split({[int(t.shape[1]) for t in inputs]}, 1))"
    return "split x and give each part its shape and dtype back"


def _batch(batch: Any, index: int, option: str, loader: bool) -> "Batch":
    """``batch`` checked as an (x, y) pair of tensors of several samples (``loader``: read from a
    ``DataLoader``, which batches samples itself)."""
    # a batch of more items (ids, attention mask, labels) is refused, as such a pair is: read
    # as its first two, its y would be whichever came second
    if not isinstance(batch, (tuple, list)) or len(batch) != 2 or not all(isinstance(t, Tensor) for t in batch):
        # a dict batch (keys of the user's choosing) has no order to read x and y from
        hint = f"; give (x, y) pairs, {_keyed_pair(list(batch), 'b', '[{} for b in loader]', 'batch')}" \
            if isinstance(batch, Mapping) and batch else f"; {_FORMS}{_inputs_and_labels(batch, option, batches=True)}"
        if isinstance(batch, (tuple, list)) and len(batch) == 2 and all(_is_array(t) for t in batch):
            hint = f"; give each batch as tensors, [{_tensors_of(batch[0])} for x, y in {option}]"
        if _is_sample(batch):  # a list of (x, label) samples, as a Dataset's items come
            hint = (f"; {option} holds samples, not batches: give them as one pair, "
                    f"(torch.stack([x for x, _ in {option}]), torch.tensor([y for _, y in {option}]))")
        kinds = (f" ({_kinds(batch)})" if isinstance(batch, (tuple, list)) else
                 f" ({_keys(list(batch))})" if isinstance(batch, Mapping) and batch else "")
        fault = _pair_fault(batch) if isinstance(batch, (tuple, list)) else ""
        raise UsageError(f"{option} batch {index} is a {type(batch).__name__}{kinds}, not an (x, y) pair of "
                         f"tensors{fault}{hint}")
    x, y = batch[0], batch[1]
    _require_data_values(x, y, f"{option} batch {index}")
    if x.dim() == 0 or y.dim() == 0:  # DataLoader(batch_size=None) yields samples, with 0-d labels
        # as does a list of a Dataset's items, (x, label) with a 0-d label tensor: no loader to batch it
        fix = "give batches: DataLoader(..., batch_size=N)" if loader or x.dim() == 0 else \
            (f"{option} holds samples, not batches: give them as one pair, (torch.stack([x for x, _ in {option}]), "
             f"torch.stack([y for _, y in {option}]))")
        raise UsageError(f"{option} batch {index} is a single sample (x of shape {tuple(x.shape)}, y of shape "
                         f"{tuple(y.shape)}); {fix}")
    # as a tensor pair is checked: an empty batch has no mean loss
    _require_samples(x, y, f"{option} batch {index}", "give every batch the same non-zero number")
    return (x, y)


def _is_sample(batch: Any) -> bool:
    """One ``(x, label)`` sample: a tensor beside a Python number."""
    return isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], Tensor) \
        and isinstance(batch[1], (int, float)) and not isinstance(batch[1], bool)


def _require_data_values(x: Tensor, y: Tensor, where: str) -> None:
    """Refuse data on the ``meta`` device (shapes without values), which cannot be read."""
    if x.is_meta or y.is_meta:
        raise UsageError(f"{where}: its tensors are on the meta device (shapes without values); give tensors "
                         "that hold the data, e.g. on the CPU")


def _require_samples(x: Tensor, y: Tensor, where: str, fix: str) -> None:
    """Refuse ``x`` and ``y`` of different or no samples, naming ``where`` and ``fix``."""
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise UsageError(f"{where}: x has {x.shape[0]} samples and y {y.shape[0]}; {fix}")


def checked_module(model: Any) -> nn.Module:
    """``model`` unwrapped (``models.load.wrapped_module``: the module a ``DataParallel`` or
    ``torch.compile`` wrapper runs); refused when it is not an ``nn.Module``, naming what it
    is, when its tensors have no values (``require_values``) or its parameters are complex
    (``require_real``), or when autograd cannot use its
    parameters (made under ``torch.inference_mode()``)."""
    if not isinstance(model, nn.Module):
        # torch.load of a checkpoint gives its state dict: the weights without the module
        hint = "; build the module and load_state_dict(...) into it" if isinstance(model, Mapping) else \
            "; give its model, inputs.model, and the data (an Inputs goes to prunelimit.api's commands)" \
            if isinstance(model, Inputs) else path_fix(model)
        raise UsageError(f"model must be a torch.nn.Module, got {validate.not_a_module(model)}{hint}")
    model = wrapped_module(model)
    require_values([*model.named_parameters(), *model.named_buffers()])
    require_real(model.named_parameters())
    if any(p.is_inference() for p in model.parameters()):  # autograd refuses them mid-run, in torch's words
        raise UsageError("model: its parameters were made under torch.inference_mode(), which autograd cannot use; "
                         "build or load it outside inference mode, or pass copy.deepcopy(model) made outside it")
    return model


def path_fix(model: Any) -> str:
    """For a checkpoint's file name given as the model (as the command line takes it), how to
    give the module the library reads; else nothing. "got str" named neither."""
    if not isinstance(model, (str, os.PathLike)):
        return ""
    name = repr(str(model))
    return (f" (the file name {name}); the library takes the module in memory: build it and load the file's "
            f"weights into it, model.load_state_dict(torch.load({name}, weights_only=True)), or give the "
            "file to the command line, which reads it")


def require_real(parameters: Iterable[tuple[str, Tensor]]) -> None:
    """Refuse complex parameters, naming the first: the Hessian, the weights' magnitudes and
    the pruning masks are of real weights (the products failed with torch's 'mat1 and mat2
    must have the same dtype', and ``prune`` ranked such weights by their real part alone)."""
    name, param = next(((n, p) for n, p in parameters if p.is_complex()), (None, None))
    if name is not None:
        raise UsageError(f"model: parameter {name!r} is complex ({str(param.dtype).removeprefix('torch.')}), and "
                         "the Hessian, magnitudes and masks are of real weights; hold its real and imaginary parts as "
                         "two real parameters (e.g. one of shape (..., 2) read with torch.view_as_complex in forward)")


def require_values(tensors: Iterable[tuple[str, Tensor]]) -> None:
    """Refuse a model's named tensors that have no values: those of a lazy module not yet run
    (``nn.LazyLinear``: no shape either, and torch's own error is a ``ValueError`` from deep
    inside), and those on the ``meta`` device (shapes without values: a model built with
    ``device="meta"`` or under an empty-weights context, its weights not yet loaded)."""
    named = list(tensors)
    lazy = next((name for name, t in named if nn.parameter.is_lazy(t)), None)
    if lazy is not None:
        raise UsageError(f"model: {lazy} is an uninitialized parameter of a lazy module (nn.LazyLinear, …), which "
                         "takes its shape on its first forward pass; run one first, e.g. model(x[:1]) on a batch "
                         "of the data")
    if any(t.is_meta for _, t in named):
        raise UsageError("model: its tensors are on the meta device (shapes without values); give them values first: "
                         "model.to_empty(device='cpu'), then model.load_state_dict(state)")


@contextlib.contextmanager
def rng_kept(model: nn.Module) -> Iterator[None]:
    """Give torch's global random state (the CPU's and that of the GPUs ``model`` is on)
    back its state, also on an error: the runs that train seed torch's generator, and a
    ``DataLoader``'s iterator draws its seed from it on each of the data's two passes."""
    cuda = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        yield


@contextlib.contextmanager
def _autocast_off(model: nn.Module) -> Iterator[None]:
    """Run without the caller's ``torch.autocast`` on the CPU and the model's devices: the
    commands compute in the model's float type, and autocast caches its low-precision copy
    of each weight for the region, so the pruned weights of a limit search were never read
    (``verify`` under a bfloat16 autocast found every ratio free: 0.999)."""
    with contextlib.ExitStack() as stack:
        for device_type in sorted({"cpu", *(p.device.type for p in model.parameters())}):
            stack.enter_context(torch.autocast(device_type, enabled=False))
        yield


@contextlib.contextmanager
def _caller_state_kept(model: nn.Module) -> Iterator[None]:
    """Run with gradients on and autocast off, and give the caller back its session: every
    module its ``training`` flag (the analysis runs in eval mode; a model in the middle of
    training, or with some modules frozen in eval, must stay as it was), torch's random
    state, and the grad mode of a call made under ``torch.no_grad()`` or
    ``torch.inference_mode()`` (the Hessian products, saliencies and training need gradients
    whatever the caller's mode)."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        with rng_kept(model), torch.inference_mode(False), torch.enable_grad(), _autocast_off(model):
            yield
    finally:
        for module, training in modes:
            module.training = training


# One library call at a time in a process: the runs seed torch's one global generator (dropout
# draws from it) and set its thread count, so two calls from a thread pool mixed their draws
_ONE_AT_A_TIME = threading.RLock()  # re-entrant: a call's progress= may make another


def library_call(command: Command) -> Command:
    """``command`` as a library function: its messages name keyword arguments, not flags
    (``errors.library_call``), it uses no process group (``distributed.local``): one a
    DDP script made is the script's, and a call that one rank makes alone would wait in its
    collectives for ranks that never join them; calls from several threads run one after
    another (:data:`_ONE_AT_A_TIME`); and NumPy's BLAS runs on torch's thread count
    (``threads.blas_as_torch``)."""
    from prunelimit.cache import one_look
    from prunelimit.distributed import local
    from prunelimit.errors import library_call as named_for_library
    from prunelimit.threads import blas_as_torch

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _refuse_command_line_only(command, kwargs)
        _refuse_misfit_call(command, args, kwargs)
        with _ONE_AT_A_TIME, local(), named_for_library(), blas_as_torch(), one_look():
            return command(*map(validate.plain_number, args),
                           **{name: validate.plain_number(value) for name, value in kwargs.items()})
    return cast(Command, wrapper)


# The command line's options that no function takes as a keyword argument (docs/library.md's
# table of them, its "—" rows), by the keyword a caller types for one, with what to do instead.
# Typed as a keyword they were refused as unknown curvature options, with a list of those (or
# "did you mean 'hessian_samples'?" for max_samples), or as Python's "unexpected keyword argument".
_NO_FILES = "a call reads and writes no files"
COMMAND_LINE_ONLY = {
    "max_samples": "slice the tensors instead, (x[:n], y[:n])",
    "threads": "set torch's thread count before the call, torch.set_num_threads(n)",
    "device": "a call computes on the model's own device; move it first, model.to(device)",
    "json": "the result's to_json() is the --json document (without its schema key)",
    "quiet": "a call writes no progress; pass progress= to follow it",
    "debug": "exceptions propagate with their traceback",
    "trust_pickle": f"{_NO_FILES}; give the module itself",
    "download": f"{_NO_FILES}; give the data as tensors or batches",
    "config": "pass a YAML file's options as keyword arguments, **yaml.safe_load(file)",
    "plot": _NO_FILES, "report": f"{_NO_FILES}; in Jupyter a result shows its HTML report's summary",
    "output": _NO_FILES, "force": _NO_FILES, "junit": _NO_FILES,
    "cache_dir": "a call caches nothing (prunelimit.api's store= does)", "no_cache": "a call caches nothing",
    "from_": "verify, gate and prune read a saved report or a BoundsReport as prediction_from=",
    "exit_zero": "the verdict is the result's passed",
}
# ... and those of one command, which another function does, or which takes another name there
COMMAND_LINE_ONLY_OF = {
    "prune": {"finetune_epochs": "prune leaves the model alone; fine-tune it after, "
                                 "prunelimit.train(pruning.apply(model), data, l1=0.0, epochs=...)",
              "finetune_lr": "prune leaves the model alone; fine-tune it after, "
                             "prunelimit.train(pruning.apply(model), data, l1=0.0, lr=...)",
              "format": "pruning.apply(model) prunes with torch.nn.utils.prune; prunelimit.export writes safetensors",
              **dict.fromkeys(("eval_data", "acc_drop", "strict"), "prunelimit.verify(model, data, eval_data=...) "
                                                                    "measures the accuracy pruning costs")},
    "gate": {"allow_incompatible_baseline": "give it as allow_incompatible=True"},
    "train": {"l1_biases": "give it as l1_scope='reference'"},
    "hyperflux": {"target_density": "give it as density=", "log": "the result's log holds it"},
    "imp": {"output": "give it as out_dir=", "epochs": "give it as epochs_per_level="},
}


def _refuse_command_line_only(command: Callable, given: Mapping[str, Any]) -> None:
    """A ``CallError`` for a keyword that is a command-line option ``command`` does not take
    (:data:`COMMAND_LINE_ONLY`), naming what to do instead."""
    parameters = inspect.signature(command).parameters
    name = command.__name__
    for keyword in given:
        instead = {**COMMAND_LINE_ONLY, **COMMAND_LINE_ONLY_OF.get(name, {})}.get(keyword)
        if instead is not None and keyword not in parameters:
            flag = "--" + keyword.rstrip("_").replace("_", "-")
            raise CallError(f"{name}() takes no argument {keyword!r}, the command line's {flag}: {instead}")


def _refuse_misfit_call(command: Callable, args: tuple, kwargs: Mapping[str, Any]) -> None:
    """A ``CallError`` naming the call to make where ``args`` and ``kwargs`` do not fit
    ``command``'s signature as a notebook user types it: the data as ``x, y`` apart (or
    ``x=``, ``y=``), a keyword-only argument by position, a required one left out. Python's
    ``TypeError`` ('bounds() takes 2 positional arguments but 3 were given') named no fix, and
    ``prune(model, x, y)`` was refused as a ratio that is a Tensor."""
    signature = inspect.signature(command)
    params = signature.parameters
    positional = [name for name, p in params.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    name = command.__name__
    shown = [p for p in positional if p == "data" or params[p].default is params[p].empty]
    call = f"prunelimit.{name}({', '.join('(x, y)' if p == 'data' else p for p in shown)})"
    if "data" in positional:
        at = positional.index("data")
        # two tensors in a row where the data's slot is one of them: x and y given apart
        split = any(_data_tensor(args[i]) and _data_tensor(args[i + 1]) for i in (at - 1, at) if 1 <= i < len(args) - 1)
        if split or ("data" not in kwargs and len(args) <= at and {"x", "y"} <= set(kwargs)):
            raise CallError(f"{name}() takes the data as one argument, an (x, y) pair of tensors (or a DataLoader or a "
                            f"list of (x, y) batches), not x and y apart: {call}")
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        keywords = [p for p, value in params.items() if value.kind == value.KEYWORD_ONLY]
        named = ", ".join(f"{p}=" for p in keywords[:3]) + (", …" if len(keywords) > 3 else "")
        takes = f"{name}() takes {', '.join(positional)} by position" + (f" and {named} by name" if keywords else "")
        if len(args) > len(positional):
            example = f"e.g. {call.removesuffix(')')}, {keywords[0]}=…)" if keywords else call
            raise CallError(f"{takes}, and {len(args)} arguments were given by position: {example}") from None
        missing = [p for p in positional[len(args):] if params[p].default is params[p].empty and p not in kwargs]
        if missing:
            raise CallError(f"{name}() needs {' and '.join(missing)}: {call}") from None
        raise CallError(f"{name}() {exc}; it {takes.removeprefix(f'{name}() ')}: {call}") from None


def _data_tensor(value: Any) -> bool:
    """A tensor of samples (not a 0-d one, a number such as a ratio given as a tensor)."""
    return isinstance(value, Tensor) and value.dim() > 0


def keeps_caller_state(command: Command) -> Command:
    """``command(model, ...)`` as a :func:`library_call` on a checked ``model`` (the module a
    wrapper runs: :func:`checked_module`), run under :func:`_caller_state_kept`, its help
    ending in the shared arguments it does not describe itself (:func:`with_arguments`)."""
    @library_call
    @functools.wraps(command)
    def wrapper(model: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_other_names(command, kwargs)
        module = checked_module(model)
        if module is not model:  # a wrapper's: the fix names its modules as the caller's model holds them
            require_one_pruning_a_tie(model)
            kwargs.update({key: _unwrapped_patterns(kwargs[key], module) for key in ("include", "exclude")
                           if key in kwargs})
        model = module
        with _caller_state_kept(model), _compiled_backward_named(model):
            return command(model, *args, **kwargs)
    return cast(Command, with_arguments(wrapper))


@contextlib.contextmanager
def _compiled_backward_named(model: nn.Module) -> Iterator[None]:
    """Name the module compiled within ``model`` whose backward the Hessian products could not
    differentiate again, with the fix: torch's ``RuntimeError`` ('torch.compile with
    aot_autograd does not currently support double backward') came from deep inside. Only
    where it fails: a module compiled with ``backend="eager"`` runs them."""
    from prunelimit.models.load import compiled_modules

    try:
        yield
    except RuntimeError as exc:
        compiled = compiled_modules(model)
        if not compiled or "double backward" not in str(exc):
            raise
        raise UsageError(f"module {compiled[0]!r} of the model is compiled with torch.compile, whose backward cannot "
                         "be differentiated again, as every Hessian-vector product needs; give the model with its "
                         "uncompiled module (its ._orig_mod) in its place, or compile the whole model instead") from None


# Other libraries' names for the arguments here (a training loop's ``criterion``, ``loss_fn``,
# ``val_loader``): taken as a curvature option or setting, they were refused as unknown ones,
# with a list that does not name the argument meant
OTHER_NAMES = {"loss_fn": "loss", "criterion": "loss", "loss_function": "loss", "loss_func": "loss",
               "eval_loader": "eval_data", "val_loader": "eval_data", "val_data": "eval_data",
               "test_loader": "eval_data", "test_data": "eval_data", "validation_data": "eval_data",
               "train_loader": "data", "train_data": "data", "dataloader": "data", "loader": "data"}


def _refuse_other_names(command: Callable, given: Mapping[str, Any]) -> None:
    """A ``UsageError`` for a keyword of :data:`OTHER_NAMES` where ``command`` takes the
    argument it means, naming that argument."""
    parameters = inspect.signature(command).parameters
    for name in given:
        meant = OTHER_NAMES.get(name)
        if name not in parameters and meant in parameters:
            raise UsageError(f"{command.__name__}() takes no argument {name!r}; give it as {meant}=: "
                             f"{SHARED_ARGUMENTS[meant]}")


# What help() says of the arguments the functions share, where a function's own text does not
SHARED_ARGUMENTS = {
    "model": "the ``torch.nn.Module`` (a ``DataParallel``, ``DistributedDataParallel`` or ``torch.compile`` "
             "wrapper is read as the module it runs).",
    "data": "an ``(x, y)`` pair of tensors, cut into ``batch_size`` batches in order, or a re-iterable of "
            "``(x, y)`` batches used as they are (a list, a ``DataLoader`` without shuffling; a generator is "
            "read once); read as constants, detached from any graph.",
    "eval_data": "data in the same forms, on which accuracy and loss are measured; default ``None``: ``data``.",
    "loss": "``'ce'`` (default: cross-entropy on integer class labels), ``'mse'``, or a criterion "
            "``loss(output, target) -> mean loss`` such as ``torch.nn.CrossEntropyLoss()``.",
    "batch_size": "samples per batch an ``(x, y)`` pair is cut into; default ``None``: 128. Refused where it "
                  "cuts nothing (data given in batches, or no data).",
    "include": "module-name glob patterns (a tuple or list, such as ``('0',)``) of the prunable set; default ``()``: "
               "the set ``Pruning.apply`` recorded on the model, else every weight the default set takes.",
    "exclude": "module-name glob patterns (a tuple or list) left out of the prunable set; default ``()``.",
    "scope": "the pruning path: ``'global'`` (default: one magnitude ranking over all layers), ``'layer'`` "
             "(the same ratio in each layer) or, to ``prune``, ``'2:4'`` (the 2 largest of every 4 along the input).",
    "progress": "``None`` (default) or a function the curvature work calls as it advances: "
                "``progress(done, total=None, text=None)``, in Hessian-vector products.",
    "options": "curvature options, the fields of ``prunelimit.api.CurvatureOptions`` with the command line's "
               "defaults: ``method`` (``'default'``, ``'slq'``, ``'exact'``, ``'paper'``), ``tolerance`` (0.01, "
               "half-width in ρ*), ``max_hvps`` (products), ``time_budget`` (seconds), ``hessian_samples``, "
               "``epsilon``, ``eta`` (0.01), ``bound_mode``, ``negative``, ``seed`` (0), …",
}


def with_arguments(command: Command, described: Mapping[str, str] = SHARED_ARGUMENTS) -> Command:
    """``command`` with its docstring ending in an ``Arguments`` list of those of its
    parameters in ``described`` that its own text does not name (help() shows only the
    function's docstring, not the module's, where the shared forms are described)."""
    text = command.__doc__ or ""
    left = [name for name in inspect.signature(command).parameters
            if name in described and not re.search(rf"``{name}\b", text)]  # ``name``, ``name(…)``, ``name=…``
    if left:
        listed = "\n".join(f"    * ``{name}``: {described[name]}" for name in left)
        command.__doc__ = f"{text.rstrip()}\n\n    Arguments:\n\n{listed}\n    "
    return command


@with_arguments
@library_call
def inputs_from(
    model: nn.Module, data: Any = None, *, loss: str | Callable | None = None, batch_size: int | None = None,
    include: tuple[str, ...] | list[str] = (), exclude: tuple[str, ...] | list[str] = (), masks: Masks | None = None,
) -> Inputs:
    """The ``Inputs`` every command takes, from objects: the model on its own device, the
    batches moved there and checked against the model and loss (one forward pass). The
    model is left in eval mode, as the commands of :mod:`prunelimit.api` need it; a float16 or
    bfloat16 model is held as a float32 copy in eval mode, the data's floats in float32, as the
    command line loads a checkpoint stored in that type (the model given is left as it is).
    ``masks``: the model's keep-masks, as a pruned checkpoint's (what it pruned stays pruned),
    keyed by parameter name, each of its parameter's shape (a float 0/1 mask is kept where nonzero).
    The prunable set is ``include``/``exclude`` when given, else the one ``Pruning.apply``
    recorded on the model (a given set that differs is used, with a warning), else the default.
    A model still carrying ``torch.nn.utils.prune`` is refused with the steps that give it
    (``prune.remove``, its masks as ``masks``): the Inputs outlive this call.
    ``loss`` (default ``"ce"``) and ``batch_size`` without ``data`` are refused: nothing reads them.

    >>> inputs = prunelimit.inputs_from(copy.deepcopy(model), (train.x, train.y), batch_size=256)
    >>> len(inputs.batches), len(train.x)  # in order, the last batch shorter
    (6, 1437)
    """
    from prunelimit.pruning.masks import check_masks, torch_pruned

    refuse_loss_without_data(data, loss)
    module = checked_module(model)
    pruned = torch_pruned(module)
    if pruned:  # refused, not read: its pruned weights are no parameters, in the Inputs' calls as in this one
        raise UsageError(_torch_pruned_fix(pruned))
    chosen = checked_masks(masks, module)
    check_masks(module, chosen)  # a mask of no parameter, or of another shape, was read in silence
    module, dtypes = _float32_copy(module)
    return settled_inputs(module, data, loss="ce" if loss is None else loss,
                          batch_size=batch_size_for(batch_size, data), include=include, exclude=exclude,
                          masks=chosen, dtypes=dtypes)


def _float32_copy(module: nn.Module) -> tuple[nn.Module, dict[str, torch.dtype]]:
    """``module`` and ``{}``, or for a float16 or bfloat16 one a float32 copy and the types its
    tensors had, as the command line loads a checkpoint stored in them (``widened_to_float32``):
    ``inputs_from``'s Inputs outlive the call, so the other functions' widening for their call
    cannot serve, and those Inputs computed in float16 (a 64-16-10 digits MLP's dense loss
    0.209873 where ``prunelimit.verify``'s is 0.209844) and recorded ``dtype='float16'``. A copy, as the caller's model in float32 would no longer take its data."""
    from prunelimit.models.clone import clone_model
    from prunelimit.models.load import narrow_tensors, widened_to_float32

    if not narrow_tensors(module):
        return module, {}
    held = clone_model(module)  # deepcopy refuses a weight-normed module's computed weight
    for parameter in held.parameters():
        parameter.grad = None  # the caller's gradients, in the narrow type: no part of the Inputs
    return held, widened_to_float32(held)


def refuse_loss_without_data(data: Any, loss: str | Callable | None) -> None:
    """A ``loss`` given (not ``None``, the default) with no ``data`` is an ``OptionError``: only
    the loss over data reads it, and it was ignored in silence, as the command line refuses --loss."""
    if data is None and loss is not None:
        raise OptionError("loss", "{0} has no effect: no data is given, and only the loss and accuracy over it "
                          "read it; drop it, or give data")


def _torch_pruned_fix(pruned: list[tuple[str, str]]) -> str:
    """Why ``inputs_from`` refuses a model with ``torch.nn.utils.prune`` reparametrisations
    (``pruned``: module name, attribute), and the steps that give it with its masks."""
    module, attribute = pruned[0]
    key = f"{module}.{attribute}" if module else attribute
    held = f"model.get_submodule({module!r})"
    return (f"the model carries torch.nn.utils.prune masks on {len(pruned)} weight(s) ({key!r}: weight_orig · "
            "weight_mask), which inputs_from cannot hold as pruned for the calls its Inputs go to; make them "
            f"permanent and pass their masks: masks = {{{key!r}: {held}.{attribute}_mask.bool()}}, "
            f"torch.nn.utils.prune.remove({held}, {attribute!r}){' for each' if len(pruned) > 1 else ''}, then "
            "inputs_from(model, data, masks=masks); prunelimit.bounds(model, data) and the other functions read "
            "the model as pruned as it is")


def _unwrapped_patterns(patterns: Any, module: nn.Module) -> Any:
    """``include``/``exclude`` patterns given with a wrapper's module names (``module.0``, as
    ``nn.DataParallel``'s ``named_modules`` gives them) read without the prefix where only that
    form names a module of the ``module`` it runs, as ``masks=`` keys are read: they were refused
    as 'matches no module in the model'. Anything else is left to the checks that follow."""
    import fnmatch

    from prunelimit.io.checkpoint import unprefixed

    if not isinstance(patterns, (tuple, list)):
        return patterns
    names = [name for name, _ in module.named_modules()]

    def read(pattern: Any) -> Any:
        if not isinstance(pattern, str) or any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return pattern
        bare = unprefixed(pattern)
        return bare if any(fnmatch.fnmatchcase(name, bare) for name in names) else pattern

    return type(patterns)(map(read, patterns))


def checked_masks(masks: Any, module: nn.Module | None = None) -> "Masks":
    """``masks=`` as bool keep-masks of ``module`` (the module a wrapper runs: a float 0/1 mask,
    as ``weight_mask``, reads as kept where nonzero). A name keyed as a wrapper's state dict keys
    it (``module.``/``_orig_mod.``) that names no parameter of ``module`` is read without the
    prefix, as ``export`` reads every name (``module`` ``None``): the wrapper's own names were
    refused, or held under a name no parameter has. Two keys read as one name (``0.weight`` and
    ``module.0.weight``) are one mask when equal and refused when not: the last was kept in silence."""
    from prunelimit.io.checkpoint import unprefixed

    if masks is None:
        return {}
    wanted = "masks must map parameter names to bool tensors (True = kept)"
    if not isinstance(masks, Mapping):
        fix = "give its masks, masks=pruning.masks" if isinstance(masks, Pruning) else \
            "e.g. prunelimit.prune(model, 0.5).masks"
        raise UsageError(f"{wanted}, got {type(masks).__name__}; {fix}")
    # the value at fault, not the dict ("got dict" was said of a dict of mask.numpy() arrays)
    for key, mask in masks.items():
        if not isinstance(mask, Tensor):
            fix = "give tensors, {name: torch.from_numpy(mask) for name, mask in masks.items()}" if _is_array(mask) \
                else "e.g. prunelimit.prune(model, 0.5).masks"
            raise UsageError(f"{wanted}, but masks[{key!r}] is {quoted(mask)}; {fix}")
    # a torch-pruned weight is the parameter weight_orig until the run folds it
    names = [name for name, _ in (() if module is None else module.named_parameters())]
    own = {*names, *(name.removesuffix("_orig") for name in names)}
    chosen: dict[str, Tensor] = {}
    given: dict[str, str] = {}  # the name read → the key it was given as
    for key, mask in masks.items():
        key, mask = str(key), mask.bool()
        name = unprefixed(key) if module is None or (key not in own and unprefixed(key) in own) else key
        other = given.setdefault(name, key)
        if other != key and not (mask.shape == chosen[name].shape and torch.equal(mask.cpu(), chosen[name].cpu())):
            raise UsageError(f"masks: keys {other!r} and {key!r} both name {name!r} (a wrapper's prefix "
                             "dropped) and hold different masks; give one mask for it")
        chosen[name] = mask
    return chosen


def batch_size_for(batch_size: int | None, data: Any, *more: Any) -> int:
    """The size ``batch_size`` cuts the (x, y) pairs among ``data`` and ``more`` (``eval_data``)
    into, the command line's default for ``None``. One given where it cuts nothing (no data,
    or every data given in batches, which are used as they are) is an ``OptionError``: it was
    ignored in silence, and the call ran on batches other than the ones its caller named."""
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    given = [d for d in (data, *more) if d is not None]
    if not given:
        raise OptionError("batch_size", f"{{0}}={quoted(batch_size)} has no effect: no data is given; drop it")
    if all(_in_batches(d) for d in given):
        raise OptionError("batch_size", f"{{0}}={quoted(batch_size)} has no effect: data is given in batches, which "
                          "are used as they are; drop {0}, or set the batch size where the batches are made "
                          f"(DataLoader(..., batch_size={quoted(batch_size)})), or give data as an (x, y) pair of "
                          "tensors, which {0} cuts")
    return batch_size


def _in_batches(data: Any) -> bool:
    """``data`` in a form ``as_batches`` reads as batches given (a loader, a list of pairs, an
    iterator), not an (x, y) pair; a form it refuses is neither, and is refused there."""
    if _is_pair(data) or isinstance(data, (str, os.PathLike, Tensor, Mapping)):
        return False
    if isinstance(data, (tuple, list)) and any(isinstance(v, Tensor) or _is_array(v) for v in data):
        return False  # a malformed pair
    return isinstance(data, Iterable)


def settle_warning_filters() -> None:
    """Import now what the work imports later and which adds warning filters as it is imported
    (SciPy's solvers; sympy, which autograd imports at its first product): any change of the
    filters resets Python's once-per-place record, so a model's own warning in ``forward``
    showed again after each, three times in a process's first ``bounds`` call."""
    import scipy.optimize  # noqa: F401
    import torch.fx.experimental.symbolic_shapes  # noqa: F401


def settled_inputs(model: nn.Module, data: Any, *, loss: str | Callable, batch_size: int,
                   include: tuple[str, ...] | list[str] = (), exclude: tuple[str, ...] | list[str] = (),
                   masks: "Masks | None" = None, dtypes: Mapping[str, torch.dtype] | None = None) -> "Inputs":
    """:func:`inputs_from` with ``batch_size`` settled (:func:`batch_size_for`); ``dtypes``: the
    narrower float types of a model widened to float32 (:func:`narrow_floats_widened`), whose
    data's floats are read in float32 (:func:`checked_batches`)."""
    from prunelimit.cache_opened import Ran, recording_opens, recording_ran
    from prunelimit.inputs import Inputs, resolve_selection, unreached_warnings
    from prunelimit.models.load import LoadedModel

    model = checked_module(model)
    validate.patterns("include", include)
    validate.patterns("exclude", exclude)
    if data is not None:
        settle_warning_filters()
    device = next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")
    model.eval()
    loaded = LoadedModel(model, None, dict(masks or {}), source="module", meta=recorded_meta(model),
                         dtypes=dict(dtypes or {}))
    resolved = resolve_selection(loaded, tuple(include), tuple(exclude))
    for warning in resolved.warnings:  # a set other than the recorded one, masks the set in use does not count
        warn(warning, stacklevel=3)
    loss_fn = loss_function(loss)
    if dtypes:  # its class weight in the model's type joins it in float32
        loss_fn = float32_loss(loss_fn)
    batches = None if data is None else checked_batches(loaded, loss_fn, data, batch_size, device, "data")
    # the files the first batch's forward and gradient open, as the command line records them (a report's
    # weights.reads keys their bytes); not while the data loads: the data counts by its tensors
    opened: set[str] = set()
    ran: Ran = {}  # and the user's code they run
    with recording_opens(opened), recording_ran(ran):
        unreached = () if batches is None else unreached_warnings(loaded, batches[0], loss_fn, resolved.selection)
    for warning in unreached:  # parameters forward never uses: zero-curvature directions in N and D
        warn(warning, stacklevel=3)
    return Inputs(loaded, batches, loss_fn, device, None, resolved.selection, loss if isinstance(loss, str) else None,
                  (*resolved.warnings, *unreached), frozenset(opened), tuple(ran.values()))


def checked_batches(loaded: "LoadedModel", loss_fn, data: Any, batch_size: int, device: torch.device | str,
                    option: str) -> list["Batch"]:
    """``as_batches`` of ``data``, checked against the model and loss (one forward pass): an
    ``InputError`` naming ``option`` (``data``, ``eval_data``) when they do not fit. A model
    widened from float16 or bfloat16 (``loaded.dtypes``) takes its data's floats in float32."""
    from prunelimit.inputs import check_compatible

    batches = as_batches(data, batch_size, device, option)
    if loaded.dtypes:
        batches = widened_batches(batches)
    try:
        check_compatible(loaded, batches, loss_fn, None, option)
    except InputError:
        if loaded.dtypes:
            _require_float32_loss(loaded.model, batches[0], loss_fn, next(iter(loaded.dtypes.values())))
        raise
    return batches


def _require_float32_loss(model: nn.Module, batch: Any, loss_fn: Any, held: torch.dtype) -> None:
    """An ``InputError`` saying why, where the loss fails on the widened model's first batch
    naming a narrow type (one pass, no gradients): a tensor a function holds of its own (a class
    weight a lambda captures) stays in the model's narrow type, and torch said only ``expected
    scalar type Float but found Half``."""
    from prunelimit.specs import user_failure

    kind = str(held).removeprefix("torch.")
    try:
        with torch.no_grad():
            loss_fn(model, batch)
    except RuntimeError as exc:
        if not any(name in str(exc) for name in (kind, "Half", "BFloat16")):
            return  # another failure, which the data check names
        raise InputError(f"the loss fails on the model widened to float32, as the command line reads a {kind} "
                         f"checkpoint ({user_failure(exc)}): a tensor the loss holds of its own (a class weight a "
                         f"lambda captures) may be {kind}; compute with it in the output's type "
                         "(weight=w.to(output.dtype)), or give torch's criterion, nn.CrossEntropyLoss(weight=w), whose "
                         "tensors join the model's type") from exc


@contextlib.contextmanager
def _inputs(model: nn.Module, data: Any, *, batch_size: int | None, eval_data: Any = None,
            **given: Any) -> Iterator["Inputs"]:
    """``inputs_from`` for the length of a command (``batch_size`` settled by
    :func:`batch_size_for` over ``data`` and ``eval_data``), the model's ``torch.nn.utils.prune``
    reparametrisations (``Pruning.apply`` leaves them) folded into plain parameters and their
    masks read as a pruned checkpoint's: a pruned weight is otherwise no parameter, and the
    model had no prunable weights. A float16 or bfloat16 model is analysed as the command line
    analyses a checkpoint stored in that type: as a float32 model (:func:`narrow_floats_widened`),
    its data's floats read in float32 with it. The model gets them back afterwards. A ``time_budget``
    counts from here: turning ``data`` into batches is part of the call. Too few batches for
    ε are refused with the fix for the form of ``data``."""
    from prunelimit.data.batches import total_samples
    from prunelimit.distributed import budget_counted_from
    from prunelimit.pruning.masks import torch_pruning_folded
    from prunelimit.theory.epsilon import require_batches

    size = batch_size_for(batch_size, data, eval_data)
    with budget_counted_from(), _versions_kept(model), torch_pruning_folded(model) as held, \
            narrow_floats_widened(model) as narrow:
        inputs = settled_inputs(model, data, batch_size=size, masks=held, dtypes=named_types(model, narrow), **given)
        try:
            yield inputs
        except OptionError as exc:  # too few batches for ε: batch_size cuts a pair, not the batches given
            if exc.option == "epsilon" and inputs.batches is not None and len(inputs.batches) < 2 and not _is_pair(data):
                require_batches(len(inputs.batches), total_samples(inputs.batches), cut=False)
            raise


@contextlib.contextmanager
def narrow_floats_widened(model: nn.Module) -> Iterator[dict[int, torch.dtype]]:
    """``model``'s float16 and bfloat16 parameters and buffers widened to float32 in place for the
    block, as the command line loads a checkpoint stored in those types into its float32 model
    (the same ``Parameter`` objects, their gradients set aside: :func:`grads_kept` gives
    them back), and given their types back afterwards, also on an error (float32 holds their
    values exactly, so they come back bit for bit). In its own type a bfloat16 digits MLP's measured
    limit was 31.7 % where the command line's on its file is 31.4 %, and a result recorded
    ``dtype='bfloat16'``, which the command line's report was refused as ``prediction_from`` for.
    Yields each widened tensor's type by its ``id`` (:func:`named_types`)."""
    from prunelimit.models.load import narrow_tensors

    narrow = {id(t): (t, t.dtype) for t in narrow_tensors(model)}
    if not narrow:
        yield {}
        return
    with grads_kept(model):
        with torch.no_grad():
            for tensor, _ in narrow.values():
                tensor.data = tensor.data.float()
                tensor.grad = None
        try:
            yield {key: dtype for key, (_, dtype) in narrow.items()}
        finally:
            with torch.no_grad():
                for tensor, dtype in narrow.values():
                    tensor.data = tensor.data.to(dtype)


def named_types(model: nn.Module, narrow: Mapping[int, torch.dtype]) -> dict[str, torch.dtype]:
    """:func:`narrow_floats_widened`'s types (``narrow``, by tensor ``id``) by the names ``model``'s
    state dict gives them now (a torch-pruned weight's ``weight_orig`` is its plain ``weight``
    while folded): a checkpoint's ``LoadedModel.dtypes``, which a run rounds to as it goes."""
    return {name: narrow[id(t)] for name, t in model.state_dict(keep_vars=True).items() if id(t) in narrow}


def float32_loss(loss_fn: Any) -> Any:
    """``loss_fn`` for a model :func:`narrow_floats_widened` widens: torch's criterion with its own
    float tensors (a class ``weight``) in float32 (``CriterionLoss.to``), any other as it is."""
    from prunelimit.data.loss import CriterionLoss

    return loss_fn.to(torch.float32) if isinstance(loss_fn, CriterionLoss) else loss_fn


def widened_batches(batches: list["Batch"]) -> list["Batch"]:
    """``batches`` with their float16 and bfloat16 tensors in float32: the data of a model
    :func:`narrow_floats_widened` widens, as the command line reads a spec's for its float32 model."""
    from prunelimit.models.load import NARROW_FLOATS

    return [tuple(t.float() if t.dtype in NARROW_FLOATS else t for t in batch) for batch in batches]


@contextlib.contextmanager
def _versions_kept(model: nn.Module) -> Iterator[None]:
    """Give ``model``'s parameters and buffers back their autograd version counters when the
    block returns: the analyses write pruned weights into them and the values back, so a graph
    the caller built before the call (``loss = crit(model(x), y)``, then ``bounds``, then
    ``loss.backward()``) raised 'one of the variables needed for gradient computation has been
    modified by an inplace operation' on weights as they were. Only on a return, where the
    values are known to be back: after an exception autograd's check stays armed."""
    from torch.autograd.grad_mode import _unsafe_preserve_version_counter

    with contextlib.ExitStack() as stack:
        for tensor in (*model.parameters(), *model.buffers()):
            if not tensor.is_inference():  # an inference tensor has no version counter
                stack.enter_context(_unsafe_preserve_version_counter(tensor))
        try:
            yield
        except BaseException:
            stack.pop_all()  # not set back: the values may not be
            raise


def check_training_output(given: "Inputs") -> None:
    """Refuse a model whose forward in training mode gives no one output tensor (auxiliary
    logits, ``(logits, aux) if self.training``) before a run that trains it: the data check
    runs it in eval mode, and training failed on its first step with torch's ``TypeError``
    (``cross_entropy_loss(): argument 'input' … must be Tensor, not tuple``). One pass on the
    first batch, under no gradients; its buffers (BatchNorm's statistics), modes and torch's
    random state are given back."""
    from prunelimit.data.batches import cross_entropy_loss, mse_loss
    from prunelimit.data.loss import CriterionLoss
    from prunelimit.errors import InputError

    model, loss_fn = given.model, given.loss_fn
    if given.batches is None or not (loss_fn in (cross_entropy_loss, mse_loss) or isinstance(loss_fn, CriterionLoss)):
        return  # a loss of the caller's own (fn(model, batch)) picks its output itself
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    modes = [(m, m.training) for m in model.modules()]
    try:
        with torch.no_grad(), rng_kept(model):
            out = model.train()(given.batches[0][0])
    finally:
        for module, training in modes:
            module.training = training
        with torch.no_grad():
            for buffer, values in buffers:
                buffer.copy_(values)
    if not isinstance(out, Tensor):
        raise InputError(f"the model returns a {type(out).__name__} in training mode (model.train()), not one output "
                         "tensor, which training feeds to the loss; return one tensor from forward in both modes (a "
                         "module wrapping the model can pick it)")


def curvature_options(**options: Any) -> "api.CurvatureOptions":
    """``CurvatureOptions`` from keyword arguments; an unknown name is a ``UsageError`` listing
    the known ones, one the plan would ignore an ``OptionError`` (``api.check_plan``, as on
    the command line)."""
    validate.known_fields(api.CurvatureOptions, options, "curvature options")
    result = api.CurvatureOptions(**options)
    api.check_plan(result, options.keys())
    return result


@keeps_caller_state
def info(model: nn.Module, data: Any = None, *, loss: str | Callable | None = None, batch_size: int | None = None,
         include: tuple[str, ...] | list[str] = (), exclude: tuple[str, ...] | list[str] = ()) -> api.InfoReport:
    """Parameter counts, the prunable layers with their zeros and, with ``data``, loss and
    accuracy (``prunelimit info``); ``warnings`` says what qualifies the prunable set.
    ``loss`` (default ``"ce"``) and ``batch_size`` without ``data`` are refused: nothing reads them.

    >>> summary = prunelimit.info(model, (train.x, train.y))
    >>> summary.params_prunable, summary.params_hessian, [layer.name for layer in summary.layers]
    (1184, 1210, ['0.weight', '2.weight'])
    >>> bool(summary.accuracy > 0.9), summary.warnings
    (True, ())
    """
    refuse_loss_without_data(data, loss)
    with _inputs(model, data, loss="ce" if loss is None else loss, batch_size=batch_size, include=include,
                 exclude=exclude) as given:
        return api.info(given)


@keeps_caller_state
def spectrum(model: nn.Module, data: Any, *, loss: str | Callable = "ce", batch_size: int | None = None,
             per_layer: bool = False, include: tuple[str, ...] | list[str] = (),
             exclude: tuple[str, ...] | list[str] = (), progress: Callable[..., object] | None = None,
             **options: Any) -> api.SpectrumReport:
    """The Hessian spectrum of the mean loss over ``data`` (``prunelimit spectrum``);
    ``per_layer`` adds each layer's curvature (``result.layers``), as ``spectrum --per-layer``.

    >>> found = prunelimit.spectrum(model, (train.x, train.y))
    >>> found.solver, found.params_hessian  # D = 1,210 is small enough for the exact spectrum
    ('exact', 1210)
    >>> bool(found.lambda_min <= found.trace / found.params_hessian <= found.lambda_max)
    True
    """
    validate.boolean("per_layer", per_layer)
    validate.callback("progress", progress, *_PROGRESS)
    chosen = curvature_options(**options)  # refused before the data are read
    with _inputs(model, data, loss=loss, batch_size=batch_size, include=include, exclude=exclude) as given:
        return api.spectrum_report(given, chosen, progress, per_layer=per_layer)


@keeps_caller_state
def bounds(model: nn.Module, data: Any, *, loss: str | Callable = "ce", batch_size: int | None = None,
           scope: str = "global", per_layer: bool = False, include: tuple[str, ...] | list[str] = (),
           exclude: tuple[str, ...] | list[str] = (), progress: Callable[..., object] | None = None,
           **options: Any) -> api.BoundsReport:
    """The predicted pruning limit ρ* (``result.ratio``) and its bounds (``result.lower``,
    ``result.upper``) with ρ*'s uncertainty (``result.uncertainty``): ``prunelimit bounds``.
    ``per_layer`` adds each layer's curvature and part in the limit (``result.layers``).

    >>> result = prunelimit.bounds(model, (train.x, train.y), per_layer=True)
    >>> result.uncertainty.plus_minus  # the exact spectrum: no estimation error
    0.0
    >>> [layer.name for layer in result.layers.layers]
    ['0.weight', '2.weight', '(rest)']
    """
    validate.boolean("per_layer", per_layer)
    validate.callback("progress", progress, *_PROGRESS)
    chosen = curvature_options(**options)  # refused before the data are read
    with _inputs(model, data, loss=loss, batch_size=batch_size, include=include, exclude=exclude) as given:
        return api.bounds(given, chosen, progress, scope, per_layer=per_layer)


@keeps_caller_state
def verify(model: nn.Module, data: Any, *, eval_data: Any = None, loss: str | Callable = "ce",
           batch_size: int | None = None, acc_drop: float = 0.5, sweep: int = 0, scope: str = "global",
           refit: bool = False, finetune_epochs: int = FINETUNE_EPOCHS, finetune_lr: float = FINETUNE_LR,
           include: tuple[str, ...] | list[str] = (), exclude: tuple[str, ...] | list[str] = (),
           progress: Callable[..., object] | None = None,
           prediction_from: str | os.PathLike | api.BoundsReport | None = None,
           **options: Any) -> api.VerifyReport:
    """The prediction beside the limit one-shot pruning really reaches (``prunelimit verify``);
    accuracy is measured on ``eval_data`` (default: ``data``). ``acc_drop`` is the accuracy
    criterion's allowed drop in percentage points (default 0.5); ``sweep`` (default 0) also
    records a curve of that many evenly spaced ratios. ``refit`` also measures the
    limit after ``finetune_epochs`` epochs of masked fine-tuning at ``finetune_lr`` of each
    probed ratio (``result.refit``; ``--refit``). The model's weights are restored.
    ``prediction_from``: the prediction of a ``bounds`` result in hand or a saved ``bounds
    --json`` file (``verify --from``) instead of computing it, refused when computed for
    other weights, data or tensors, or along another ``scope``; the curvature options are its own.

    The example's model was trained without l1, and the prediction overshoots what one-shot
    pruning reaches, as a warning says:

    >>> report = prunelimit.verify(model, (train.x, train.y), eval_data=(test.x, test.y))
    >>> bool(report.actual.loss_ratio < report.prediction.ratio), report.delta > 0.1
    (True, True)
    >>> any("does not look l1-trained" in warning for warning in report.warnings)
    True
    """
    validate.callback("progress", progress, *_PROGRESS)
    epochs = refit_epochs(refit, finetune_epochs, finetune_lr)
    prediction_from = _prediction_source(prediction_from, options, refit=bool(epochs))
    size = batch_size_for(batch_size, data, eval_data)
    chosen = curvature_options(**options)  # refused before the data are read
    # the refit fine-tunes the caller's model: its gradients come back with its weights
    with _inputs(model, data, loss=loss, batch_size=batch_size, eval_data=eval_data, include=include,
                 exclude=exclude) as given, _state_kept(model) if epochs else contextlib.nullcontext():
        evaluation = None if eval_data is None else checked_batches(given.loaded, given.loss_fn, eval_data, size,
                                                                    given.device, "eval_data")
        if epochs:  # refit fine-tunes each probed ratio, on the data joined (before the spectrum's work)
            from prunelimit.pruning.lomp import require_joinable

            check_training_output(given)
            require_joinable(given.batches)
        return api.verify(given, chosen, evaluation, acc_drop, sweep, scope, progress,
                          epochs, finetune_lr, prediction_from=prediction_from)


def _prediction_source(source: Any, options: Mapping[str, Any],
                       refit: bool | None = None) -> "str | api.BoundsReport | None":
    """``prediction_from`` as the commands take it: a ``BoundsReport`` or a file name (an
    ``OptionError`` naming it for anything else). A curvature option beside it is refused, as
    the command line refuses the flags beside ``--from``: the saved prediction's are its own;
    but ``seed`` seeds ``verify``'s fine-tuning (``refit``: ``None`` where a call never fine-tunes),
    as ``--seed`` beside ``--refit``."""
    from prunelimit.gate_rules import file_name

    if source is None:
        return None
    unused = [name for name in options if not (refit and name == "seed")]
    if unused == ["seed"] and refit is False:
        raise UsageError.naming("{1} has no effect: the prediction is read from {0}, and nothing is fine-tuned "
                                "without {2}=True; add {2}=True (its fine-tuning is seeded), or drop {1}",
                                "prediction_from", "seed", "refit")
    if unused:
        raise UsageError.naming("{1} has no effect: the prediction and its ε are read from {0}; drop it, or drop {0} "
                                "to compute the prediction", "prediction_from", unused[0])
    if isinstance(source, api.BoundsReport):
        return source
    _refuse_result("prediction_from", source, "a BoundsReport or ")
    return file_name("prediction_from", source)


# The result types a saved report of theirs is read as, and the command that names the document
_SAVED_AS = {"BoundsReport": "bounds", "VerifyReport": "verify", "GateReport": "gate"}


def _refuse_result(option: str, value: Any, taken: str = "") -> None:
    """Refuse a result in hand where ``option`` takes a saved report's file name (``taken``:
    what else it takes), saying what to give: a verify report's ``bounds``, or the report saved
    with its ``schema`` key. It was refused as no file name ('got VerifyReport(…)'), without a fix."""
    kind = type(value).__name__
    saved = ("to a file with its schema key, json.dump(prunelimit.report.jsonout.document("
             f"{_SAVED_AS.get(kind, 'bounds')!r}, report.to_json()), file), and give the file's name")
    if isinstance(value, Mapping):  # a report's JSON document in hand: a result's to_json(), a saved file's json.load
        loaded = "schema" in value
        held = "a saved report's json.load" if loaded else "a result's to_json()"
        fix = "give the name of the file it was read from" if loaded else f"save the result {saved}"
        raise OptionError(option, f"{{0}} takes {taken}the file name of a saved report, got a {kind}, {held}; "
                          f"{fix}{', or the BoundsReport itself' if taken else ''}")
    if not callable(getattr(value, "to_json", None)) or isinstance(value, (str, os.PathLike)):
        return
    if taken and isinstance(getattr(value, "bounds", None), api.BoundsReport):
        fix = f"give the BoundsReport it computed, {option}=report.bounds"
    elif kind in _SAVED_AS:
        fix = f"save it {saved}"
    elif isinstance(value, api.SpectrumReport):  # told only of saved reports, its reader did not learn how to get one
        use = f"give {option}=report" if taken else f"save the report {saved}"
        fix = ("a spectrum holds no ε or bounds: compute them, report = prunelimit.bounds(model, data, …) "
               f"with the spectrum's keywords, and {use}")
    else:
        fix = "give a saved bounds, verify or gate report"
    raise OptionError(option, f"{{0}} takes {taken}the file name of a saved report, got a {kind}; {fix}")


def refit_epochs(refit: bool, epochs: int, lr: float) -> int:
    """The fine-tuning epochs of ``verify``'s refit search (0: none), checked as ``--refit``,
    ``--finetune-epochs`` and ``--finetune-lr`` are; a setting other than its default without
    ``refit`` would change nothing, and is refused."""
    from prunelimit.pruning.finetune import FinetuneConfig

    validate.boolean("refit", refit)
    try:
        FinetuneConfig(epochs=epochs, lr=lr)
    except OptionError as exc:  # FinetuneConfig names its fields
        raise OptionError(f"finetune_{exc.option}", exc.template, *exc.others) from None
    if refit and epochs < 1:
        raise OptionError("finetune_epochs", f"refit=True needs {{0}} of at least 1, got {epochs}")
    changed = [name for name, value, default in [("finetune_epochs", epochs, FINETUNE_EPOCHS),
                                                 ("finetune_lr", lr, FINETUNE_LR)] if value != default]
    if changed and not refit:
        raise UsageError.naming("{1} has no effect: only {0}=True fine-tunes; add {0}=True or drop it", "refit",
                                changed[0])
    return epochs if refit else 0


@keeps_caller_state
def gate(model: nn.Module, data: Any, *, min_ratio: float | None = None, use: str = "lower",
         baseline: str | os.PathLike | None = None, max_drop: float | None = None, rules: Iterable[dict] = (),
         fail_on_overshoot: bool = False, allow_incompatible: bool = False, loss: str | Callable = "ce", batch_size: int | None = None,
         include: tuple[str, ...] | list[str] = (), exclude: tuple[str, ...] | list[str] = (),
         progress: Callable[..., object] | None = None,
         prediction_from: str | os.PathLike | api.BoundsReport | None = None, **options: Any) -> api.GateReport:
    """A CI verdict on the limit (``prunelimit gate``): ``min_ratio`` on ρ_L (``use="lower"``),
    ρ* (``"predicted"``) or the measured one-shot limit (``"actual"``), a predicted value
    minus its stated ± (a ± that leaves out a known error fails the rule); ``baseline`` (a
    saved ``bounds``/``verify`` JSON report) with ``max_drop``; ``rules``: more rules as
    mappings, the entries of a YAML policy's ``rules:`` list, or a verdict's own
    (``outcome.rule``). ``fail_on_overshoot`` (default
    ``False``) fails a rule on ρ_L or ρ* where the overshoot check measured it past the limit
    one-shot pruning reaches (``overshoot.lower`` / ``.predicted`` true), whatever its value;
    a rule mapping's own ``fail_on_overshoot`` key overrides it. ``allow_incompatible``
    (default ``False``) compares a baseline of other data, loss or tensors anyway, with a
    warning, where it is refused. ``result.passed`` and each rule's outcome with its reason
    and, where it failed, what to do (``result.result.outcomes``: ``reason``, ``fix``).
    ``prediction_from``: a ``bounds`` result or saved report
    to gate on instead of computing one (``gate --from``, as for :func:`verify`), so a
    notebook pays for the spectrum once.

    >>> verdict = prunelimit.gate(model, (train.x, train.y), min_ratio=0.2, use="actual")
    >>> verdict.passed
    True
    """
    from prunelimit.api.options import PREDICTION_ONLY
    from prunelimit.gate_rules import needs_spectrum, reads_baseline, rules_from_options

    _refuse_result("baseline", baseline)
    checked = rules_from_options(min_ratio, use, baseline, max_drop, _rule_list(rules),
                                 fail_on_overshoot=fail_on_overshoot)
    # the seed draws only SLQ's probes and the Hessian's subset, which the measured limit's search never draws
    unused = [name for name in options if name in (*PREDICTION_ONLY, "seed")]
    if unused and not needs_spectrum(checked):  # ignored in silence otherwise, as the command line refuses the flag
        why = f"every rule uses the measured limit ({option('use', 'actual')}), which computes no spectrum"
        why = f"nothing is drawn at random ({why})" if unused[0] == "seed" else why
        raise UsageError.naming(f"{{1}} has no effect: {why}; drop it, or gate on {option('use', 'lower')} or "
                                f"{option('use', 'predicted')}", "use", unused[0])
    validate.boolean("allow_incompatible", allow_incompatible)
    if allow_incompatible and not reads_baseline(checked):  # as the flag is refused
        raise UsageError.naming("{0} has no effect: no rule reads a baseline; drop it, or add {1} and {2}",
                                "allow_incompatible", "baseline", "max_drop")
    validate.callback("progress", progress, *_PROGRESS)
    prediction_from = _prediction_source(prediction_from, options)
    chosen = curvature_options(**options)  # refused before the data are read
    with _inputs(model, data, loss=loss, batch_size=batch_size, include=include, exclude=exclude) as given:
        return api.gate(given, checked, chosen, progress=progress,
                        allow_incompatible=allow_incompatible, prediction_from=prediction_from)


def _rule_list(rules: Any) -> list:
    """``gate``'s ``rules`` as a list of rule mappings (a ``GateRule`` as its keys): one mapping or
    a YAML text given as it was read as its keys or characters, each refused as 'gate rule 1'
    that was no rule."""
    if isinstance(rules, (str, bytes, Mapping)) or not isinstance(rules, Iterable):
        example = f"[{dict(rules)!r}]" if isinstance(rules, Mapping) else "[{'min_ratio': 0.1, 'use': 'lower'}]"
        raise UsageError(f"rules must be a list of rule mappings, the entries of a YAML policy's rules: list, got "
                         f"{type(rules).__name__}; e.g. rules={example}")
    from prunelimit.gate_rules import RULE_KEYS, GateRule

    # a verdict's rules (outcome.rule) as the mappings they were made of: refused as no mapping
    listed = [{key: getattr(entry, key) for key in RULE_KEYS} if isinstance(entry, GateRule) else entry
              for entry in rules]
    for i, entry in enumerate(listed):  # a result in hand, as baseline= is told: it said 'must be a file name'
        if isinstance(entry, Mapping):
            try:
                _refuse_result("baseline", entry.get("baseline"))
            except OptionError as exc:
                raise UsageError(f"gate rule {entry.get('name') or f'rule {i + 1}'!r}: {exc}") from None
    return listed


@shown("prune", pruning_summary)
@compared_by_value
@dataclass(frozen=True)
class Pruning:
    """Keep-masks of magnitude pruning (parameter name → bool tensor, ``True`` = kept),
    the ratio asked for and the one the masks reach (removed fractions), and for ``"auto"``
    or ``"lower"`` the warnings of the prediction behind it and the spectrum it stood on
    (``spectrum.cached``, ``hvps``, ``seconds``: what it cost, as ``prune --json``'s ``timing``;
    ``None`` for a given ratio); ``source`` (``given``, ``auto (bounds)``, ``lower (bounds)``)
    and ``selection``, the prunable set the masks were ranked over (``include``/``exclude``),
    which ``apply`` records on the model for the calls that read it next (``recorded``)."""

    requested: float
    achieved: float
    scope: str
    masks: dict[str, Tensor]  # a tensor a layer
    layers: list["LayerSparsity"]
    warnings: tuple[str, ...] = ()
    spectrum: api.SpectrumReport | None = None
    source: str = "given"
    selection: ParamSelection = ParamSelection()
    uncertainty: dict | None = None  # ρ*'s stated ± behind ``ratio="auto"`` or ``"lower"`` (``prediction.uncertainty``)
    collapsed: tuple[str, ...] = ()  # the layers the masks empty (as ``prune --json``'s ``layers[].collapsed``)
    epsilon: float | None = None  # the ε behind a predicted ratio, and its source (``None`` for a given one)
    epsilon_source: str | None = None
    # a saved report's spectrum and timing as read (``prediction_from``), as ``prune --json`` states them
    read: dict | None = None
    # the overshoot check of the prediction behind ``"auto"``/``"lower"`` (bounds' ``overshoot``); ``None`` for a given one
    overshoot: dict | None = None

    @property
    def recorded(self) -> dict:
        """``meta.pruned`` as ``prunelimit prune -o`` records it in the file it writes."""
        from prunelimit.api.pruning import pruned_meta

        return pruned_meta(self.requested, self.source, self.scope, 0, self.selection, self.uncertainty)

    def apply(self, model: nn.Module) -> nn.Module:
        """Prune ``model`` with ``torch.nn.utils.prune.custom_from_mask`` (``weight_orig`` and
        ``weight_mask``; ``prune.remove`` makes it permanent), and record on it the prunable
        set, which the later calls on the model (``bounds``, ``verify``, ``export``, …) then
        count, as the commands count the set a pruned file records.

        >>> pruned = prunelimit.prune(model, 0.5).apply(copy.deepcopy(model))
        >>> int((pruned[0].weight == 0).sum() + (pruned[2].weight == 0).sum())  # ceil(0.5 · 1,184)
        592
        """
        from prunelimit.pruning.masks import prune_with_torch

        return prune_with_torch(model, self.masks, self.recorded)

    def to_json(self) -> dict:
        """``prunelimit prune --json``'s document, less its schema and what needs files or an
        evaluation: ``ratio``, ``layers``, ``overshoot``, ``warnings``, ``spectrum`` and ``timing``."""
        from prunelimit.api.pruning import layers_json, ratio_json, spectrum_json, spectrum_timing
        from prunelimit.report.jsonout import plain

        return {"ratio": ratio_json(self.requested, self.achieved, self.source, self.scope, self.uncertainty,
                                    self.epsilon, self.epsilon_source),
                "layers": layers_json(self.layers, self.collapsed),
                "overshoot": plain(self.overshoot),
                "warnings": list(self.warnings),
                "spectrum": plain(spectrum_json(self.spectrum, self.read)),
                # as ``prune --json`` writes it, less the pruning's own seconds (``timing.prune``):
                # no curvature work (zero) for a given ratio or a saved report
                "timing": plain(spectrum_timing(self.spectrum, self.read))}


@keeps_caller_state
def prune(model: nn.Module, ratio: float | str, data: Any = None, *, scope: str = "global",
          loss: str | Callable = "ce", batch_size: int | None = None, include: tuple[str, ...] | list[str] = (),
          exclude: tuple[str, ...] | list[str] = (), progress: Callable[..., object] | None = None,
          prediction_from: str | os.PathLike | api.BoundsReport | None = None, **options: Any) -> Pruning:
    """Magnitude-pruning masks for ``ratio`` (a removed fraction, a number, or ``"auto"`` for
    ρ* and ``"lower"`` for ρ_L, which need ``data``); ``model`` is not changed (``Pruning.apply``). Curvature ``options`` set
    the prediction, so with a number they are refused, as the command line refuses the flags;
    ``data``, ``loss``, ``batch_size`` and ``progress`` too, which a number reads not at all
    (the command's ``--data`` then gives its loss and accuracy: ``info``'s here).
    ``prediction_from``: ρ* or ρ_L of a ``bounds`` result or saved report (``prune --from``, as for :func:`verify`).

    >>> pruning = prunelimit.prune(model, 0.5)
    >>> pruning.achieved, sorted(pruning.masks)
    (0.5, ['0.weight', '2.weight'])
    >>> layerwise = prunelimit.prune(model, 0.5, scope="layer")  # every tensor loses half
    >>> [round(layer.zeros / layer.total, 2) for layer in layerwise.layers]
    [0.5, 0.5]
    """
    from prunelimit.api.limit import unrecognised_warnings
    from prunelimit.models.params import prunable_parameters
    from prunelimit.pruning.magnitude import (
        beyond_ratio, check_ratio, collapse_warnings, emptied, magnitude_masks, removed_on_path,
    )
    from prunelimit.pruning.masks import LayerSparsity, overall_ratio, pruning_held, sparsity_table

    validate.callback("progress", progress, *_PROGRESS)
    predicted = isinstance(ratio, str) and ratio in ("auto", "lower")
    if not (predicted or validate.real(ratio)):  # a text "0.5" too: numbers are numbers, as everywhere here
        got = _result_as_ratio(ratio) or _choice_as_typed(ratio) or quoted(ratio) + validate.not_a_number(ratio)
        raise OptionError("ratio", "{0} must be a removed fraction in [0, 1), 'auto' or 'lower', got "
                                   f"{got}{validate.percent_fix(ratio)}")
    chosen = curvature_options(**options)
    given_options = [*options, *(["prediction_from"] if prediction_from is not None else [])]
    # a number reads none of these (they were ignored in silence); the command's --data gives its
    # loss and accuracy before and after, which a Pruning does not carry. A batch_size goes with
    # data, refused first; alone it is refused as every function refuses it without data.
    default_loss = isinstance(loss, str) and loss == "ce"
    unread = [name for name, value in (("data", data), ("loss", None if default_loss else loss),
                                       ("progress", progress)) if value is not None]
    if (given_options or unread) and not predicted:  # ignored in silence otherwise, as the command line refuses the flag
        why = "" if given_options else (", and the masks are all it returns (a model's loss and accuracy: "
                                        "prunelimit.info(model, data))")
        raise UsageError.naming(f"{{1}} has no effect: {option('ratio', ratio)} is given, nothing is predicted{why}; "
                                f"drop it, or use {option('ratio', 'auto')} or {option('ratio', 'lower')}", "ratio",
                                (given_options or unread)[0])
    prediction_from = _prediction_source(prediction_from, options)
    with _inputs(model, data, loss=loss, batch_size=batch_size, include=include, exclude=exclude) as given:
        if predicted:
            api.require_data(given)
            resolved = api.resolve_ratio(ratio, given, chosen, prediction_from, progress, scope)
        else:
            resolved = api.ResolvedRatio(check_ratio(ratio), "given")
        value = resolved.value
        # a pruned model stays pruned, as prune keeps a pruned checkpoint's masks (or zeros)
        held = pruning_held(given.loaded, given.selection)
        # the prediction's path along ``scope`` ranks the analysed module's weights: the caller's own
        # here, unless the inputs hold another module (sorted again then, as for a number)
        path = resolved.path if given.model is model else None
        masks = magnitude_masks(model, value, scope, given.selection, held, path)
        # zeros after pruning: the removed weights and any that were zero already
        named = prunable_parameters(model, given.selection)
        layers = [LayerSparsity(name, p.numel(), int(((p.detach() == 0) | ~masks[name]).sum())) for name, p in named]
        removed = removed_on_path(value, scope, [p for _, p in named])
        collapsed = emptied(sparsity_table(model, given.selection), layers)
        # read while torch's pruning is folded: afterwards a pruned weight is computed by its
        # pre-hook again, and was warned of as a parametrized layer left out of N
        unrecognised = unrecognised_warnings(given)
    # a given ratio has no bounds to say which layers N leaves out: they stay dense
    return Pruning(float(value), overall_ratio(layers), scope, masks, layers,
                   given.qualified((*resolved.warnings, *unrecognised,
                                    *beyond_ratio(value, layers, removed, scope),
                                    *collapse_warnings(value, scope, layers, collapsed))),
                   resolved.spectrum, resolved.source, given.selection, resolved.uncertainty, collapsed,
                   resolved.epsilon, resolved.epsilon_source, resolved.read, resolved.overshoot)


def _choice_as_typed(ratio: Any) -> str:
    """``'AUTO'``, ``' lower'``: one of the ratio's named choices written otherwise, with the
    choice to write, or ``""``; it was refused as "got 'AUTO', a str, not a number"."""
    meant = ratio.strip().lower() if isinstance(ratio, str) else None
    return f"{ratio!r}; write {meant!r}" if meant in ("auto", "lower") else ""


def _result_as_ratio(ratio: Any) -> str:
    """What a ``bounds`` or ``verify`` result in hand given as ``prune``'s ``ratio`` is, with
    the fix, or ``""``: it was refused as 'got BoundsReport(spectrum=…, a BoundsReport, not a
    number'. A verify result holds its ``bounds`` only where it computed or was given them; a spectrum
    none (it was told no more than 'not a number')."""
    if isinstance(ratio, api.SpectrumReport):
        return (f"a {type(ratio).__name__}, which holds no ε or bounds; give ratio='auto' (ρ*) or 'lower' (ρ_L) with "
                "the data and prediction_from=prunelimit.bounds(model, data, …), or a number")
    if not isinstance(ratio, (api.BoundsReport, api.VerifyReport)):
        return ""
    if isinstance(ratio, api.VerifyReport) and ratio.bounds is None:
        return (f"a {type(ratio).__name__}; give a number, result.prediction.ratio (its ρ*) or "
                "result.prediction.lower (its ρ_L)")
    held = "result" if isinstance(ratio, api.BoundsReport) else "result.bounds"
    return (f"a {type(ratio).__name__}; give ratio='auto' (its ρ*) or 'lower' (its ρ_L) with the data and "
            f"prediction_from={held}, or a number, such as {held}.ratio")


@contextlib.contextmanager
def _state_kept(model: nn.Module) -> Iterator[None]:
    """Give ``model`` back its weights and buffers and its parameters their gradients
    (:func:`grads_kept`), also on an error: a run that prunes and fine-tunes (``nplh``
    iterative or pressure, ``verify``'s refit) works on the caller's model."""
    saved = {name: value.detach().clone() for name, value in model.state_dict().items()}
    try:
        with grads_kept(model):
            yield
    finally:
        with torch.no_grad():
            model.load_state_dict(saved)


@contextlib.contextmanager
def grads_kept(model: nn.Module) -> Iterator[None]:
    """Give each parameter of ``model`` back its ``.grad`` (the same tensor with its values,
    ``None`` where it was ``None``), also on an error: a caller accumulating gradients keeps
    them, and a run's last step leaves none behind for the caller's next ``backward()`` to add to."""
    grads = [(p, p.grad, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()]
    try:
        yield
    finally:
        with torch.no_grad():
            for param, grad, values in grads:
                if grad is not None:
                    grad.copy_(values)
                param.grad = grad


@keeps_caller_state
def nplh(model: nn.Module, data: Any, *, loss: str | Callable = "ce", batch_size: int | None = None,
         include: tuple[str, ...] | list[str] = (), exclude: tuple[str, ...] | list[str] = (),
         config: NplhConfig | None = None, **settings: Any) -> NplhFit:
    """Record (density, γ) points of a saliency and fit the Neural Pruning Law
    (``prunelimit law nplh``); ``settings`` are fields of
    :class:`prunelimit.laws.nplh.NplhConfig` (``metric``, ``mode``, ``region``, ``rate``, …),
    or ``config``, a whole ``NplhConfig`` (default ``None``: its defaults).

    The model's weights, its gradients and torch's random state are as they were afterwards,
    also in the modes that prune and fine-tune (``iterative``, ``pressure``).

    >>> law = prunelimit.nplh(model, (train.x, train.y))  # magnitude saliency, one shot
    >>> bool(law.alpha0 > 0 and law.r2 > 0.5)
    True
    """
    from prunelimit.laws.nplh import NplhConfig

    if config is not None and not isinstance(config, NplhConfig):
        raise UsageError(f"config must be a prunelimit.laws.nplh.NplhConfig or None, got {type(config).__name__}; "
                         "or give its fields as keyword arguments")
    validate.known_fields(NplhConfig, settings, "NPLH settings")
    with _inputs(model, data, loss=loss, batch_size=batch_size, include=include, exclude=exclude) as given, \
            _state_kept(model):
        if (settings.get("mode") or (config or NplhConfig()).mode) != "static":  # they fine-tune
            check_training_output(given)
        return api.nplh(given, config, **settings)
