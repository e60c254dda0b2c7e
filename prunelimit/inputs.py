"""Everything a command reads, loaded and checked once: model, data batches, loss."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from prunelimit.cache_opened import Ran, recording_opens, recording_ran
from prunelimit.data.batches import Batch, LossFn, batch_form, cross_entropy_loss, mse_loss, to_device
from prunelimit.data.loss import (BUILTIN_LOSSES, LOSS_CONTRACT, ClassLoss, CriterionLoss, PointwiseLoss, resolve_loss,
                                  user_loss_name)
from prunelimit.data.spec import load_dataset, make_batches
from prunelimit.device import resolve_device
from prunelimit import errors
from prunelimit.errors import InputError, OptionError, said, warn
from prunelimit.limits import MAX_RECORDED_PATTERNS, MAX_RECORDED_SPEC_CHARS
from prunelimit.models.load import LoadedModel, load_model
from prunelimit.models.spec import imports_code
from prunelimit.models.params import (ParamSelection, check_selection, hessian_parameters, prunable_parameters,
                                      weight_matrices)
from prunelimit.report.notebook import brief
from prunelimit.report.safe import listed
from prunelimit.specs import USER_CODE_ERRORS, user_failure


@brief  # inputs_from's result at a prompt: its batches, every tensor written, were 10,173 characters for 1,437 digits
@dataclass
class Inputs:
    """A loaded model on its device, the analysis batches (fixed order) and the loss."""

    loaded: LoadedModel
    batches: list[Batch] | None
    loss_fn: LossFn
    device: torch.device
    data_spec: str | None
    selection: ParamSelection
    loss: str | None = None  # the loss spec in use (typed or recorded); None for a loss object
    # what qualifies the inputs as loaded, for the reports' warnings: the prunable set in use
    # (``resolve_selection``), a training record's unused entries, parameters the loss never reaches
    load_warnings: tuple[str, ...] = ()
    # the files the user's code opened, and the environment variables it read (``$NAME``), while the model and
    # the loss were loaded and run on the first batch (``cache_opened.recording_opens``): the result cache keys
    # their bytes and values
    opened: frozenset[str] = frozenset()
    # the user's code the first batch ran (``cache_opened.recording_ran``): each code object with the globals it
    # ran in; the result cache and a report's weights.python key what of it no walk of the model reaches (not in
    # the repr: a module's globals)
    ran: tuple[tuple[Any, dict[str, Any]], ...] = field(default=(), repr=False, compare=False)

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    def qualified(self, warnings: "tuple[str, ...] | list[str]") -> tuple[str, ...]:
        """``warnings`` and, once each, ``load_warnings``: every report says in its JSON what
        qualifies its inputs (a prunable set other than the recorded one, masks outside it, a
        training record's optimizer state left unused), not only on stderr."""
        return qualified(warnings, self.load_warnings)


def qualified(warnings: "tuple[str, ...] | list[str]", load_warnings: tuple[str, ...]) -> tuple[str, ...]:
    """``warnings``, then ``load_warnings`` (what reading the inputs warned), each once."""
    return tuple(dict.fromkeys((*warnings, *load_warnings)))


def load_batches(
    data: str, batch_size: int = 128, max_samples: int | None = None,
    device: torch.device | str = "cpu", download: bool = False, recorded: bool = False,
    dtype: torch.dtype = torch.float32,
) -> list[Batch]:
    """``recorded``: ``data`` was read from a checkpoint, not typed (see ``load_dataset``);
    ``dtype``: the float type of the model the data feeds (``data_dtype``)."""
    dataset = load_dataset(data, download=download, max_samples=max_samples, recorded=recorded, dtype=dtype)
    return to_device(make_batches(dataset, batch_size), device)


# the float types a model computes in, and so the data a spec names is read in for it
COMPUTED_FLOAT_TYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def data_dtype(model: torch.nn.Module) -> torch.dtype:
    """The float type real inputs are read in for ``model``: its parameters' one float type,
    as the library takes the caller's data in it (a float64 factory's model was refused,
    the data being float32); float32 where they hold several, or one no layer computes in
    (float8), which ``check_compatible`` then refuses naming the fix."""
    kinds = {p.dtype for p in model.parameters() if p.is_floating_point()}
    return kinds.pop() if len(kinds) == 1 and kinds <= set(COMPUTED_FLOAT_TYPES) else torch.float32


def float_types(model: torch.nn.Module) -> list[str]:
    """The float types of ``model``'s parameters, by name (``float64``), sorted."""
    return sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.is_floating_point()})


def load_inputs(
    checkpoint: str | Path,
    model: str | None = None,
    data: str | None = None,
    loss: str | None = None,
    batch_size: int = 128,
    max_samples: int | None = None,
    device: str = "auto",
    trust_pickle: bool = False,
    download: bool = False,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    data_from_checkpoint: bool = False,
) -> Inputs:
    """Load the checkpoint and, when given, the data; check that the two fit together.

    ``data_from_checkpoint``: without ``data``, use the analysis data recorded in a
    prunelimit file (its ``meta.data``), so the bundled example needs no flags.
    ``loss`` ``None``: the loss the file records (``meta.loss``, see :func:`checkpoint_loss`), else ``ce``.
    """
    dev = resolve_device(device)
    opened: set[str] = set()  # not while the data loads: the data counts by its tensors
    with recording_opens(opened):
        loaded = load_model(checkpoint, model, trust_pickle=trust_pickle, device=dev)
    resolved = resolve_selection(loaded, include, exclude)
    read = (*loaded.notes, *resolved.warnings)
    for warning in read:  # every command reading the file says so, once
        warn(warning, stacklevel=2)
    recorded = data is None and data_from_checkpoint
    if recorded:
        data = loaded.recorded_spec("data")
    if data is not None or data_from_checkpoint:
        loss = checkpoint_loss(loaded, loss, trust_pickle)
    with recording_opens(opened):
        loss_fn = resolve_loss(loss or "ce")  # else nothing is evaluated (``info`` without data): no recorded code runs
    batches, unreached = None, ()
    ran: Ran = {}  # the user's code the first batch runs
    if data is not None:
        batches = load_batches(data, batch_size, max_samples, dev, download, recorded, data_dtype(loaded.model))
        with recording_opens(opened), recording_ran(ran):
            check_compatible(loaded, batches, loss_fn, data)
            unreached = unreached_warnings(loaded, batches[0], loss_fn, resolved.selection)
        for warning in unreached:
            warn(warning, stacklevel=2)
    return Inputs(loaded, batches, loss_fn, dev, data, resolved.selection, loss, (*read, *unreached), frozenset(opened),
                  tuple(ran.values()))


@dataclass(frozen=True)
class ResolvedSelection:
    """The prunable set a command uses and the warnings that qualify it."""

    selection: ParamSelection
    warnings: tuple[str, ...] = ()


def resolve_selection(loaded: LoadedModel, include: tuple[str, ...] = (),
                      exclude: tuple[str, ...] = ()) -> ResolvedSelection:
    """The prunable set: ``include``/``exclude`` when given, else the one the file was pruned
    with (``recorded_selection``), else the default; checked against the model.

    What was pruned is what is measured: a file pruned with ``--include rnn`` read without it
    would count the head alone in N and the sparsity. A given set that differs from the
    recorded one is used, with one warning naming both; masks on tensors outside the set in
    use are warned about (they stay applied, but nothing counts them)."""
    given = ParamSelection(tuple(include), tuple(exclude))
    recorded = recorded_selection(loaded.meta, loaded.path)
    if recorded is not None and recorded != given and not (include or exclude):
        try:
            return ResolvedSelection(check_selection(loaded.model, recorded), _outside_masks(loaded, recorded))
        except OptionError as exc:
            raise InputError.naming(
                f"{_source(loaded)} was pruned with {recorded.described()}, which does not fit this model "
                f"({exc.named('the recorded ' + exc.option)}); pass {{0}}/{{1}} for this model's modules",
                "include", "exclude") from None
    selection = check_selection(loaded.model, given)
    if recorded is None or recorded == given:
        return ResolvedSelection(selection, _outside_masks(loaded, selection))
    return ResolvedSelection(selection, (" ".join((f"{_source(loaded)} was pruned with {recorded.described()}; this "
                                                   f"run uses {given.described()}, as given.",
                                                   *_outside_masks(loaded, selection, "It"))),))


def _outside_masks(loaded: LoadedModel, selection: ParamSelection, subject: str = "") -> tuple[str, ...]:
    """A warning naming the masked tensors that ``selection`` does not count as prunable: their
    pruned weights stay zero, but N, the sparsity and the per-layer tables leave them out."""
    counted = {name for name, _ in prunable_parameters(loaded.model, selection)}
    outside = [name for name in loaded.masks if name not in counted]
    if not outside:
        return ()
    modules = dict(loaded.model.named_modules())
    # the modules whose weight matrices they are, where --include would count them (an excluded one stays out)
    matrices = list(dict.fromkeys(module for module, _, leaf in (name.rpartition(".") for name in outside)
                                  if module in modules and leaf in dict(weight_matrices(modules[module]))
                                  and selection.decide(module, True)))
    fix = f"; {ParamSelection(include=matrices[:1]).described()} (a glob of module names) counts them" if matrices else ""
    return (f"{subject or _source(loaded)} has pruning masks on {len(outside)} tensor(s) outside the prunable set in use "
            f"({listed(outside)}): their pruned weights stay zero but are not counted in N or the sparsity{fix}",)


def unreached_warnings(loaded: LoadedModel, batch: Batch, loss_fn: LossFn,
                       selection: ParamSelection) -> tuple[str, ...]:
    """A warning naming the Hessian parameters the loss on ``batch`` gives no gradient (a
    module forward never calls, such as a spare head), and another naming those forward uses
    without gradients (a backbone under ``torch.no_grad()``): they stay in N and D, as
    docs/theory.md defines them, but as zero-curvature directions they raise ρ*; ``--exclude``
    leaves them out."""
    from prunelimit.models.activation_checkpointing import gradient_checkpoints, reentrant_checkpoint_error

    named = hessian_parameters(loaded.model, selection)
    if not named:
        return ()
    with torch.enable_grad(), gradient_checkpoints() as segments:
        loss = loss_fn(loaded.model, batch)
        if loss.grad_fn is None:  # no graph at all: the Hessian operator refuses that, naming it
            return ()
        grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    unreached = [name for (name, _), grad in zip(named, grads) if grad is None]
    if not unreached:
        return ()
    if "reentrant" in segments:  # forward does use them, inside a segment torch gives no gradient
        raise reentrant_checkpoint_error()
    used = _used_without_gradients(loaded.model, batch, loss_fn, [(name, p) for name, p in named if name in unreached])
    prunable = {name for name, _ in prunable_parameters(loaded.model, selection)}
    return tuple(_unreached_warning(loaded, names, prunable, names is used)
                 for names in ([n for n in unreached if n not in used], used) if names)


def _unreached_warning(loaded: LoadedModel, unreached: list[str], prunable: set[str], used: bool) -> str:
    """What ``unreached_warnings`` says of ``unreached``: parameters forward never uses, or
    (``used``) uses without gradients, which pruning them moves the loss all the same."""
    counted = "N and D" if prunable.intersection(unreached) else "D"
    # --exclude takes module globs: a parameter of the model itself has no module of its own to name
    modules = [module for module in dict.fromkeys(name.rpartition(".")[0] for name in unreached) if module]
    exclude = f"leave them out with {ParamSelection(exclude=modules[:1]).described()} (a glob of module names)"
    if used:
        how = "forward uses them without gradients (under torch.no_grad(), or through .detach() or .data)"
        effect = "raise ρ* although pruning them changes the loss"
        fix = f"{exclude}, or compute forward with gradients" if modules else "compute forward with gradients"
    else:
        how, effect = "forward never uses them", "raise ρ*"
        fix = exclude if modules else "remove them from the model, or use them in forward"
    return (f"{_source(loaded)} has {len(unreached)} parameter(s) the loss gives no gradient ({listed(unreached)}): "
            f"{how}, so they count in {counted} as zero-curvature directions, which {effect}; {fix}")


def _used_without_gradients(model: torch.nn.Module, batch: Batch, loss_fn: LossFn,
                            named: list[tuple[str, torch.Tensor]]) -> list[str]:
    """The names among ``named`` (parameters the loss gives no gradient) that a pass of the
    loss hands to a torch function all the same (under ``torch.no_grad()``, through
    ``.detach()``): one pass, each torch call's tensors seen by a ``TorchFunctionMode``. A
    compiled forward (TorchScript) calls none that Python sees: its parameters read as unused."""
    from torch.overrides import TorchFunctionMode

    wanted, seen = {id(p): name for name, p in named}, set()

    class Seen(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            seen.update(wanted[id(a)] for a in _leaves((args, kwargs)) if id(a) in wanted)
            return func(*args, **kwargs)

    try:
        with torch.enable_grad(), Seen():  # as the loss ran before: one may take gradients of its own
            loss_fn(model, batch)
    except USER_CODE_ERRORS:  # it ran before: code that fails under the mode (compiled) only loses the wording
        return []
    return [name for name, _ in named if name in seen]


def _leaves(value: Any) -> Iterator[Any]:
    """The values within nested lists, tuples and dicts (a recurrent layer's flat weights are a list)."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


def _source(loaded: LoadedModel) -> str:
    return f"checkpoint {loaded.path}" if loaded.path else "the model"


def recorded_selection(meta: Mapping, path: Path | None) -> ParamSelection | None:
    """The prunable set a file was pruned with (``meta.pruned``'s ``include``/``exclude``,
    written by ``prune``); ``None`` for a file that records none (an older or unpruned one)."""
    pruned = meta.get("pruned")
    if pruned is not None and not isinstance(pruned, Mapping):  # it was read as no set, and N counted another
        raise InputError(f"checkpoint {path}: meta.pruned is a {type(pruned).__name__}, not a dict; the file is "
                         "damaged (prune the model again)")
    if pruned is None or not ({"include", "exclude"} & set(pruned)):
        return None
    patterns = [pruned.get(key) or [] for key in ("include", "exclude")]
    # a file's patterns are matched against every module and named in messages: as many and as
    # long as a command line holds (100,000 of them were a 1.9 MB error line)
    if not all(isinstance(p, (list, tuple)) and len(p) <= MAX_RECORDED_PATTERNS
               and all(isinstance(x, str) and len(x) <= MAX_RECORDED_SPEC_CHARS for x in p) for p in patterns):
        raise InputError(f"checkpoint {path}: meta.pruned's include/exclude are not lists of module-name patterns "
                         f"(at most {MAX_RECORDED_PATTERNS:,}, of at most {MAX_RECORDED_SPEC_CHARS:,} characters); the "
                         "file is damaged (prune the model again)")
    return ParamSelection(tuple(patterns[0]), tuple(patterns[1]))


def checkpoint_loss(loaded: LoadedModel, loss: str | None, trust_pickle: bool = False) -> str:
    """The loss to use: ``loss`` when given, else the one the file records, else ``ce``.

    A model trained with ``mse`` would otherwise be analysed with ``ce`` unless every command
    repeated ``--loss``. A recorded ``file.py:fn`` would run code the user never typed, so it
    is refused like a recorded model factory (docs/guide.md), unless ``trust_pickle``."""
    if loss is not None:
        return loss
    recorded = loaded.recorded_spec("loss")
    if recorded is None:
        return "ce"
    if recorded not in BUILTIN_LOSSES and not imports_code(recorded):
        raise InputError(f"checkpoint {loaded.path} records an unknown loss {recorded!r}; pass --loss ce|mse|file.py:fn")
    if imports_code(recorded) and not trust_pickle:
        raise InputError(f"checkpoint {loaded.path} records the loss {recorded!r}, which would import and run "
                         f"code; if you trust it, pass --loss {recorded} (or --trust-pickle)")
    return recorded


@torch.no_grad()
def check_compatible(loaded: LoadedModel, batches: list[Batch], loss_fn: LossFn, data: str | None,
                     option: str = "data") -> None:
    """Run the first batch once, so a shape or label mismatch is a clear input error.

    ``data`` is the spec the batches were read from (``None`` for in-memory data), ``option``
    the option that gave them (``data``, ``eval_data``): the errors name it, the loss and the
    model as options (``InputError.naming``: the command line says ``--data``, the library
    ``data``). A model that changes its buffers in that pass (it runs in eval mode, as every
    analysis does) is an input error too, its buffers set back: each pass would be another
    function, with no one Hessian, and the passes would change the caller's model."""
    before = {name: (b, b.detach().clone()) for name, b in loaded.model.named_buffers()}
    try:
        value = _check_every_form(loaded, batches, loss_fn, data, option)
    finally:
        written = _restore_written_buffers(loaded.model, before)
    if written:
        more = ", …" if len(written) > 3 else ""
        raise InputError(
            f"{_model_name(loaded)} changes its buffers ({', '.join(written[:3])}{more}) when it runs in eval mode, "
            "so each pass computes another function and there is no one Hessian; in its forward, update them "
            "only in training mode (if self.training: ...)")
    _check_same_on_every_rank(loaded, batches, option)
    what = "{1}" if data is None else f"data {data}"
    again = _loss(loss_fn, loaded.model, batches[0], what, ("loss", option, "model"))
    # the tolerance of the Hessian operator's own check of two passes (``HessianOperator``)
    if not torch.allclose(again, value, rtol=1e-6, atol=1e-9):
        raise InputError.naming(
            f"{_model_name(loaded)} gives another loss each time it runs on the same batch of {what} in eval mode "
            f"({float(value):.6g}, then {float(again):.6g}): a random function (dropout with training=True, added "
            "noise) has no one Hessian; make forward, and {0}, deterministic in eval mode "
            "(e.g. F.dropout(x, p, training=self.training))", "loss", option, "model")


def _check_same_on_every_rank(loaded: LoadedModel, batches: list[Batch], option: str) -> None:
    """Under torchrun every rank must hold the same weights and ``option`` batches: each node
    reads its own copy of the files, and ranks that differ would sum the shards of different
    models or data sets into one number, or, holding different batch counts, meet in
    collectives of different sizes and wait forever. Two collectives (a plain process: none),
    so every rank refuses alike (exit 3)."""
    from prunelimit.cache import data_fingerprint, weights_fingerprint
    from prunelimit.distributed import active, all_agree

    if not active():
        return
    for what, token in (("the model's weights", weights_fingerprint(loaded.model)),
                        ("the batches of {0}", data_fingerprint(batches) or "-")):
        if not all_agree(token):
            raise InputError.naming(
                f"{what} differ between the torchrun ranks (each node reads its own copy of the files): give "
                "every node the same checkpoint and data", option)


def _model_name(loaded: LoadedModel) -> str:
    return "the model" if not (loaded.spec or loaded.path) else f"model {loaded.spec or loaded.path}"


def _restore_written_buffers(model: torch.nn.Module, before: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> list[str]:
    """Names of the buffers whose values are no longer ``before``'s (a tensor and a copy of it,
    per name), each set back to both. A buffer recomputed to the same values, in place or as a
    new tensor (a mask or scale rebuilt on each call), is the same function: not a change."""
    written = []
    modules = dict(model.named_modules())  # a TorchScript model has no get_submodule
    for name, buffer in model.named_buffers():
        original, values = before.get(name, (buffer, buffer))
        if _same_values(buffer, values) and _same_values(original, values):
            continue
        written.append(name)
        owner, _, leaf = name.rpartition(".")
        setattr(modules[owner], leaf, original)  # forward may have put another tensor there
        with torch.no_grad():
            original.copy_(values)
    return written


def _same_values(tensor: torch.Tensor, values: torch.Tensor) -> bool:
    """Whether ``tensor`` holds ``values``: the same shape, type and device and equal entries
    (NaN equals NaN)."""
    if (tensor.shape, tensor.dtype, tensor.device) != (values.shape, values.dtype, values.device):
        return False
    return bool((tensor.eq(values) | (tensor.ne(tensor) & values.ne(values))).all())


def output_part(out: Any) -> str:
    """Where a model's output holds the tensor the losses want, as code after ``model(x)``:
    ``.logits`` (a Hugging Face-style output), ``['logits']`` (a dict, by that key or its
    first tensor's), ``[0]`` (a tuple, ``(logits, aux)``); ``""`` where none is seen."""
    if isinstance(getattr(out, "logits", None), torch.Tensor):
        return ".logits"
    if isinstance(out, Mapping):
        keys = [key for key, value in out.items() if isinstance(value, torch.Tensor)]
        return f"[{('logits' if 'logits' in keys else keys[0])!r}]" if keys else ""
    return "[0]" if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor) else ""


def _check_every_form(loaded: LoadedModel, batches: list[Batch], loss_fn: LossFn, data: str | None,
                      option: str) -> torch.Tensor:
    """:func:`_check_fit` on the first batch of each form (the shapes of x and y past their
    samples, and their types), the messages naming a later one by its index; the first
    batch's loss. Batches given in hand may differ (a loader that pads each batch to its own
    length); a later one that did not fit (a feature missing, float64, a label column) failed
    in the middle of the work with torch's own error and traceback ("mat1 and mat2 shapes
    cannot be multiplied"), or here, joining labels of other shapes."""
    forms: dict[tuple, list[int]] = {}
    for index, batch in enumerate(batches):
        forms.setdefault(batch_form(batch), []).append(index)
    first, *others = forms.values()
    value = _check_fit(loaded, [batches[i] for i in first], loss_fn, data, option)
    for indices in others:
        _check_fit(loaded, [batches[i] for i in indices], loss_fn, data, option, f" batch {indices[0]}")
    return value


def _check_fit(loaded: LoadedModel, batches: list[Batch], loss_fn: LossFn, data: str | None,
               option: str, batch_named: str = "") -> torch.Tensor:
    """``check_compatible``'s checks of the model, data and loss on the first batch; its loss.
    ``batch_named``: how the messages name that batch where it is not the data's first."""
    model, batch = loaded.model, batches[0]
    what = ("{1}" if data is None else f"data {data}") + batch_named
    model_name = _model_name(loaded)
    names = ("loss", option, "model")
    # the built-in losses and the library's criteria feed x as is and need one output tensor
    if loss_fn in (cross_entropy_loss, mse_loss) or isinstance(loss_fn, CriterionLoss):
        _check_dtype(model, batch[0], model_name, what, names, in_memory=data is None, pickled=loaded.spec is None,
                     held=_held_types(loaded) if data is None else None)
        out = _forward(model, batch[0], model_name, what, names)
        if not isinstance(out, torch.Tensor):
            kind = type(out).__name__
            part = output_part(out)
            pick = f" (its {part}, say)" if part else ""
            wrap = f": its forward returns model(x){part}" if part else ""
            raise InputError.naming(
                f"{model_name} returns {'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}, not one output tensor; "
                f"return one tensor{pick} from forward" + said(", or pass {0} file.py:fn (fn(model, batch) -> mean loss) that picks it",
                                 f" (a module wrapping the model can pick it{wrap})"), *names)
    if (loss_fn is mse_loss or isinstance(loss_fn, PointwiseLoss)) and batch[1].numel() != out.numel():
        # it said "shape '[20, 10]' is invalid ..."; a criterion broadcast the two in silence
        n = max(len(batch[1]), 1)
        raise InputError.naming(
            f"{what}: y holds {batch[1].numel() // n} value(s) per sample but the model gives {out.numel() // n} "
            f"outputs; {_loss_name(loss_fn)} needs one target per output (class labels: use {errors.option('loss', 'ce', '{0}')})", *names)
    if loss_fn is cross_entropy_loss or isinstance(loss_fn, ClassLoss):
        _check_class_labels(torch.cat([b[1] for b in batches]), out, loss_fn, what, names)
    if loss_fn not in (cross_entropy_loss, mse_loss) and any(p.requires_grad for p in model.parameters()):
        # a user's loss must depend on the weights; the no-grad pass below comes last, so state a
        # forward hook computes (the old weight_norm's weight) is left without a graph, as before
        # quiet: a loss that returns float(loss) draws torch's warning about it before the refusal
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graded = _loss(loss_fn, model, batch, what, names)
        _check_loss_value(graded, loss_fn, what, names)  # first: an integer result has no gradient either
        if graded.grad_fn is None:
            fix = ("{0} must compute it from model(x)" if isinstance(loss_fn, CriterionLoss) else
                   f"{{0}} {user_loss_name(loss_fn)} must be {LOSS_CONTRACT}, computed from model(x)")
            raise InputError.naming(f"the loss on {what} does not depend on the model's weights (it has no "
                                    f"gradient: detached, or computed under torch.no_grad); {fix}", *names)
    value = _loss(loss_fn, model, batch, what, names)
    _check_loss_value(value, loss_fn, what, names)
    _check_last_batch(model, batches, loss_fn, what, names)
    if not torch.isfinite(value).all():
        source = f"checkpoint {loaded.path}" if loaded.path else model_name
        raise InputError.naming(f"the loss of {source} on {what} is NaN or Inf; check the weights and the scale of "
                                "the data", *names)
    return value


def _check_last_batch(model, batches: list[Batch], loss_fn: LossFn, what: str, names: tuple[str, ...]) -> None:
    """A last batch of another size runs too: a model that fixes the batch size (``x.view(64,
    -1)``) passes the first batch and would fail midway through the work, as an internal error."""
    first, last = len(batches[0][0]), len(batches[-1][0])
    if last == first:
        return
    try:
        loss_fn(model, batches[-1])
    except USER_CODE_ERRORS as exc:
        raise InputError.naming(
            f"the loss failed on the last batch of {what}, of {last} samples where the others hold {first} "
            f"({user_failure(exc)}); if {{2}} or {{0}} fixes the batch size (x.view({first}, -1)), make it take any "
            "(x.flatten(1)), or pass a {3} that divides the number of samples", *names, "batch_size") from None


def _check_loss_value(value, loss_fn: LossFn, what: str, names: tuple[str, ...]) -> None:
    """The loss is one real number (a one-element float tensor): not one a sample, an integer
    or a Python float (which carries no gradient)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return
    got = (f"a tensor of shape {tuple(value.shape)} and dtype {str(value.dtype).removeprefix('torch.')}"
           if isinstance(value, torch.Tensor) else f"a {type(value).__name__}")
    fix = (f"{_loss_name(loss_fn)} must return the batch's mean loss" if isinstance(loss_fn, CriterionLoss) else
           f"{{0}} {user_loss_name(loss_fn)} must be {LOSS_CONTRACT}, the batch's mean")
    raise InputError.naming(f"the loss returned {got} on {what}, not one real number; {fix} as a scalar float tensor",
                            *names)


def _loss_name(loss_fn: LossFn) -> str:
    """How messages name a built-in loss or a library criterion."""
    if isinstance(loss_fn, CriterionLoss):
        return loss_fn.name
    return f"the {'ce' if loss_fn is cross_entropy_loss else 'mse'} loss"


def _check_class_labels(labels: torch.Tensor, out: torch.Tensor, loss_fn: LossFn, what: str,
                        names: tuple[str, ...]) -> None:
    """Labels for a loss of class indices (``ce``, torch's cross-entropy, NLL or multi-margin
    criteria): integers, one a sample, each below the output count; a criterion said
    "expected target dtype to be Long" or "0D or 1D target tensor expected"."""
    _check_class_output(labels, out, loss_fn, what, names)
    if isinstance(loss_fn, ClassLoss) and loss_fn.soft and labels.is_floating_point() \
            and labels.shape[1:] == out.shape[1:]:
        return  # probabilities, one per output: soft targets
    if labels.is_floating_point():
        criterion = isinstance(loss_fn, ClassLoss)
        taken = f", and {_loss_name(loss_fn)} takes class indices" if criterion else ""
        soft = (f"; as soft targets, give probabilities of the output's shape (N, {', '.join(map(str, out.shape[1:]))})"
                if criterion and loss_fn.soft else "")
        raise InputError.naming(f"{what} has real-valued targets{taken}; {_real_labels_fix(labels, out)}{soft}",
                                *names)
    if labels.dtype == torch.bool:  # torch's criteria refuse it ("expected target dtype to be Long")
        raise InputError.naming(f"{what}: y is bool, but {_loss_name(loss_fn)} takes class indices as integers; "
                                "give y.long() (False as class 0, True as class 1)", *names)
    if out.dim() == 2 and labels.dim() != 1:
        raise InputError.naming(
            f"{what}: y has shape {tuple(labels.shape)}, but {_loss_name(loss_fn)} needs one class index per "
            "sample (a 1-D y); convert one-hot labels with y.argmax(1), a column with y.squeeze(1)", *names)
    classes = out.shape[1] if out.dim() >= 2 else out.shape[-1]  # (N, C, ...): C classes
    if int(labels.min()) < 0:
        # -100 is torch's ignore_index: such samples were counted in N and ε yet left out of the loss's mean
        raise InputError.naming(
            f"{what} has label {int(labels.min())}, below 0; class labels index the model's {classes} outputs, 0 to "
            f"{classes - 1}: leave out the samples without one (keep = y >= 0, then x[keep], y[keep])", *names)
    if int(labels.max()) >= classes:
        # a model spec's num_classes is the command line's; the library's caller built the module
        binary = ("; for two classes as one logit a sample, give loss=nn.BCEWithLogitsLoss()"
                  if classes == 1 and int(labels.max()) == 1 else "")
        raise InputError.naming(
            f"{what} has label {int(labels.max())} but the model has {classes} outputs; check {{1}} and {{2}} "
            + said("(e.g. :num_classes=...)", f"(its last layer's out_features, one a class){binary}"), *names)


def _check_class_output(labels: torch.Tensor, out: torch.Tensor, loss_fn: LossFn, what: str,
                        names: tuple[str, ...]) -> None:
    """An output a class-index loss can read beside ``labels``: one score a class, (N, C), or
    (N, C, d…) beside labels (N, d…). One value a sample (N,) was read by torch's cross-entropy
    as one sample's C = N scores: real-valued labels passed as its probabilities and the loss
    came out in silence, 299 on 256 samples; and an (N, T, C) output beside (N, T) labels (classes
    last, as a sequence model gives them) or (N, C, d) beside (N,) (an x of one dimension too
    many, carried through the model) was named by the first label past out.shape[1], "label 2
    but the model has 2 outputs" of a model with 3, or torch's "Expected target size"."""
    if out.dim() == 1:
        raise InputError.naming(
            f"the model gives one value a sample on {what} (an output of shape {tuple(out.shape)}), but "
            f"{_loss_name(loss_fn)} needs one score a class, an output of shape (N, C); return the class scores "
            "from forward", *names)
    if out.dim() == 2 or labels.shape[1:] in (out.shape[2:], out.shape[1:]):
        return  # (N, C) outputs and (N, d…) labels: their own checks follow; labels of the output's shape: soft targets
    wanted = _per_sample(out.shape[2:])
    if labels.shape[1:] == out.shape[1:-1]:
        fix = ("its classes are in the last dimension: give them in dim 1, a module whose forward returns "
               "model(x).movedim(-1, 1)")
    elif labels.dim() == 1:
        fix = ("one class index a sample needs an output of shape (N, C): check the shape of x, which the model "
               "carries through to its output, or pool or flatten the output to (N, C) in the model")
    else:
        fix = f"give y of shape {wanted}"
    raise InputError.naming(
        f"{what}: the model's output has shape {_per_sample(out.shape[1:])} and y {_per_sample(labels.shape[1:])}; "
        f"{_loss_name(loss_fn)} reads an output of more than 2 dimensions as (N, C, …), {out.shape[1]} classes in "
        f"dim 1 and a class index at each of the other positions, y of shape {wanted}; {fix}", *names)


def _per_sample(shape: torch.Size) -> str:
    """A tensor's shape with N for its samples: a batch's output and all the labels differ there."""
    return f"({', '.join(['N', *map(str, shape)])}{',' if not shape else ''})"


def _real_labels_fix(labels: torch.Tensor, out: torch.Tensor) -> str:
    """What to change for real-valued ``labels`` under the ce loss (``{0}``: the loss option)."""
    if labels.dim() == 2 and bool(((labels == 0) | (labels == 1)).all()) and bool((labels.sum(1) == 1).all()):
        return f"it is one-hot: give class indices y.argmax(1), or use {errors.option('loss', 'mse', '{0}')}"
    if _are_probabilities(labels, out):
        # soft targets (distillation): torch's cross-entropy takes them; mse "for regression" misled
        return ("they are probabilities (soft targets): give class indices y.argmax(1), or keep them with " + errors.said(
            "{0} file.py:fn, an fn(model, batch) returning F.cross_entropy(model(x), y), which takes probabilities",
            "loss=nn.CrossEntropyLoss(), which takes probabilities"))
    if labels.dim() == 1 and bool((labels == labels.round()).all()) and bool((labels >= 0).all()):
        return ("they are whole numbers: give class indices as integers y.long(), or use "
                f"{errors.option('loss', 'mse', '{0}')} for regression")
    return f"use {errors.option('loss', 'mse', '{0}')} for regression"


def _are_probabilities(labels: torch.Tensor, out: torch.Tensor) -> bool:
    """Whether ``labels`` are one distribution over the outputs a sample: of the output's
    shape, non-negative, summing to 1 over the class dimension (to the rounding of the type
    they were stored in, as a curvature subset reads them: ``ROW_SUM_ROUNDING``)."""
    from prunelimit.data.subsample import ROW_SUM_ROUNDING

    if labels.dim() < 2 or labels.shape[1:] != out.shape[1:] or not bool((labels >= 0).all()):
        return False
    return bool(torch.allclose(labels.sum(1, dtype=torch.float64), torch.ones((), dtype=torch.float64),
                               atol=ROW_SUM_ROUNDING))


def _loss(loss_fn: LossFn, model, batch: Batch, what: str, names: tuple[str, ...]):
    try:
        return loss_fn(model, batch)
    except USER_CODE_ERRORS as exc:
        raise InputError.naming(
            f"the loss failed on {what} ({user_failure(exc)}); check that {{1}}, {{2}} and {{0}} fit together",
            *names) from None


def _held_types(loaded: LoadedModel) -> list[str] | None:
    """The float types of the caller's module's parameters where the library widened its float16
    or bfloat16 ones for the call (``loaded.dtypes``), sorted; ``None`` where it widened none."""
    if not loaded.dtypes:
        return None
    return sorted({str(loaded.dtypes.get(name, p.dtype)).removeprefix("torch.")
                   for name, p in loaded.model.named_parameters() if p.is_floating_point()})


def _check_dtype(model, x: torch.Tensor, model_name: str, what: str, names: tuple[str, ...],
                 in_memory: bool = False, pickled: bool = False, held: list[str] | None = None) -> None:
    """A model whose parameters are of another float type than the data fails on its first
    layer with a message about matrices; say what to change instead. Data read from a spec
    is read in the model's float type (``data_dtype``), float32 where the model has none it
    computes in (several, or float8), so there the factory is what to change, or for a whole
    module pickled in the file (``pickled``: no spec built it) the saved module; the caller's
    own tensors may be of any float type, and either side can be converted. ``held``: the types
    the caller's module holds (:func:`_held_types`), named in place of the float32 it computes in
    for the call (a float16 module with float64 data was said to have 'float32 parameters')."""
    kinds = float_types(model)
    wanted = str(x.dtype).removeprefix("torch.")
    if x.is_floating_point() and kinds and kinds != [wanted]:
        kinds = held or kinds
        fix = (f"give its parameters one float type: model.to(torch.{wanted})" if in_memory and len(kinds) > 1 else
               f"convert one of them: x.to(torch.{kinds[0]}) for every batch, or model.to(torch.{wanted})"
               if in_memory else
               f"save the module in {wanted} (model.to(torch.{wanted}) before torch.save), or pass {{2}} SPEC to "
               f"load its weights into a {wanted} model" if pickled else
               "build the model in one float type of float32, float64, float16 or bfloat16, which the data is "
               "then read in (e.g. end the factory with model.float(): weights of any float type load into it)")
        # a spec's data is cast to that type as it is read, whatever its file holds: say so, not "is"
        read = "is" if in_memory else "is read as"
        raise InputError.naming(f"{model_name} has {'/'.join(kinds)} parameters but {what} {read} {wanted}; {fix}",
                                *names)


def _forward(model, x, model_name: str, what: str, names: tuple[str, ...]):
    try:
        return model(x)
    except USER_CODE_ERRORS as exc:
        if not _takes_one_input(model):  # data gives x alone; what else forward needs, only the user knows
            raise InputError.naming(
                f"{model_name} fails on {what} ({user_failure(exc)}): its forward takes other inputs than x; "
                + said("pass {0} file.py:fn (fn(model, batch) -> mean loss) that calls it",
                       "wrap the model in a module whose forward takes x alone"), *names) from None
        # integer x is kept as int64 (token ids), which a model of real inputs cannot take
        # integer images (uint8 pixels) are read as int64 too: the library's caller converts x in hand
        hint = ("; if x holds real values stored as integers, "
                + said("save it as floats (x.float())", "give it as floats (x.float())")) \
            if not x.is_floating_point() else ""
        if x.dim() == 1 and x.is_floating_point():  # one value a sample: a Linear(1, …) read the batch as one sample
            hint = "; x is 1-D, one value a sample: give it as a column, x.unsqueeze(1)"
        raise InputError.naming(
            f"{model_name} fails on {what} "
            f"({user_failure(exc)}); check {{2}} and {{1}}{hint}",
            *names) from None


def _takes_one_input(model) -> bool:
    """Whether ``model.forward`` can be called with one argument (a compiled forward, whose
    signature Python cannot read, is given the benefit of the doubt)."""
    try:
        inspect.signature(model.forward).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature to read
        return True
    return True
