"""The training side of prunelimit on in-memory objects: ``train`` (LOMP), ``hyperflux``,
``imp`` and ``export``; :mod:`prunelimit.library` holds the analyses.

``data``, ``eval_data`` (default: ``data``), ``loss`` and ``batch_size`` are read as
:mod:`prunelimit.library` reads them. Settings are keyword arguments named as the fields
of the command's config dataclass (:class:`prunelimit.pruning.lomp.LompConfig`,
:class:`prunelimit.laws.hyperflux.HyperfluxConfig`, :class:`prunelimit.laws.imp.ImpConfig`)
with the command line's defaults: an unknown name is a ``UsageError`` listing the known
ones, a bad value an ``OptionError`` naming it. Each function calls the code its command
calls on the model of a file, so the numbers are the command line's.

Unlike the analyses, ``train``, ``hyperflux`` and ``imp`` change the model they are given,
as a PyTorch optimiser does: they train it in place, and ``hyperflux`` and ``imp`` leave
it pruned (its pruned weights at zero). Keep a ``copy.deepcopy(model)`` to keep the
original; of a model torch's pruning holds, which ``copy.deepcopy`` refuses (its ``weight``
is computed from ``weight_orig``), ``copy.deepcopy(model.state_dict())``, which
``model.load_state_dict`` brings back, masks included. They train in train mode, as ``model.train()`` sets it: BatchNorm layers update
their running statistics, those the caller had put in eval mode included, as torch's
training would. Every module gets its ``training`` flag back afterwards, also when the run
fails or is interrupted, every parameter its ``.grad`` (``None`` where it was: the last
step's gradients are not left for the caller's next ``backward()`` to add to), and torch's
global random state is as it was (the runs seed their own generators).

A pruned model stays pruned: the keep-masks of ``torch.nn.utils.prune`` on the model
(``weight_orig``/``weight_mask``, as ``Pruning.apply`` leaves them) and those given as
``masks=`` (parameter name → bool tensor, ``True`` = kept) hold their pruned weights at
exactly zero through training, as the command line holds a pruned checkpoint's masks;
with neither, a model that records a pruning (``Pruning.apply``'s record, its torch pruning
since removed) has its zeros held, as a pruned safetensors file's.
The model comes back in the form it was given: its torch pruning in place (the same
method and mask objects), with the masks the run ended with.

The examples below go on from that of :mod:`prunelimit.library`, which trains ``model``
on the bundled digits (``train``, ``test``); they run as doctests, each in seconds on a CPU.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import Tensor, nn

from prunelimit import validate
from prunelimit.api.curvature import require_data
from prunelimit.api.laws import HyperfluxReport
from prunelimit.errors import OptionError, UsageError
from prunelimit.inputs import Inputs
from prunelimit.laws.imp import ImpResult, ImpRow
from prunelimit.library import (batch_size_for, check_training_output, checked_batches, checked_masks, grads_kept,
                                keeps_caller_state, library_call, named_types, narrow_floats_widened, path_fix,
                                recorded_meta, require_values, settled_inputs)
from prunelimit.models.load import PRUNED_ATTRIBUTE, wrapped_module
from prunelimit.pruning.lomp import TrainResult
from prunelimit.pruning.masks import Masks
from prunelimit.sparse.exporter import ExportReport


@keeps_caller_state
def train(model: nn.Module, data: Any, *, eval_data: Any = None, loss: str | Callable = "ce",
          batch_size: int | None = None, preset: str | None = None, masks: Mapping[str, Tensor] | None = None,
          progress: Callable[[int, int], object] | None = None, **settings: Any) -> TrainResult:
    """LOMP training (``prunelimit train``): SGD with momentum on the mean loss over ``data``
    plus λ‖w‖₁, **in place** on ``model``, as an optimiser trains it. ``settings`` are fields
    of :class:`~prunelimit.pruning.lomp.LompConfig`: ``l1`` (λ), ``epochs``, ``lr``,
    ``momentum``, ``warmup_epochs``, ``schedule``, ``milestones``, ``seed`` (the shuffling
    of each epoch), …, with ``prunelimit train``'s defaults or ``preset``'s. ``batch_size``
    is the SGD batch (default 128, or ``preset``'s): the batches of a loader are joined
    and cut into it again. ``eval_data`` is evaluated after every epoch; ``progress(step, total)``
    is called after every step. ``masks`` (parameter name → bool tensor, ``True`` = kept;
    default ``None``) hold pruned weights at zero beside the model's own torch pruning.

    The result holds one record per epoch (``history``: learning rate, training loss, λ‖w‖₁,
    evaluation loss and accuracy), the steps, the seconds and the settings (``config``);
    ``to_json()`` is ``prunelimit train --json`` without its ``output``.

    >>> result = prunelimit.train(model, (train.x, train.y), eval_data=(test.x, test.y), epochs=5, l1=1e-4)
    >>> [record.epoch for record in result.history], result.config.lr  # the command line's lr
    ([1, 2, 3, 4, 5], 0.05)
    >>> bool(result.history[-1].eval_accuracy > 0.8)
    True
    """
    from prunelimit.pruning.lomp import lomp_config, train as lomp_train

    config = lomp_config(preset, **({} if batch_size is None else {"batch_size": batch_size}), **settings)
    validate.callback("progress", progress, "(step, total)", (2,))
    with _training_inputs(model, data, eval_data, False, loss=loss, batch_size=config.batch_size) as \
            (given, evaluation, _), _masks_held(model, masks, given) as (_, held):
        return lomp_train(model, given.batches, given.loss_fn, config, eval_batches=evaluation,
                          masks=held or None, selection=given.selection, progress=progress)


@keeps_caller_state
def hyperflux(model: nn.Module, data: Any, density: float, *, eval_data: Any = None, loss: str | Callable = "ce",
              batch_size: int | None = None, masks: Mapping[str, Tensor] | None = None,
              progress: Callable[[int, int], object] | None = None, include: tuple[str, ...] | list[str] = (),
              exclude: tuple[str, ...] | list[str] = (), **settings: Any) -> HyperfluxReport:
    """Hyperflux L0 pruning (``prunelimit hyperflux``) of ``model``, **in place**, to about
    ``density`` (the kept fraction of the prunable weights): weights and gates train
    together under a pressure that closes gates, then a regrowth phase. ``settings`` are
    fields of :class:`~prunelimit.laws.hyperflux.HyperfluxConfig` (``pruning_epochs``,
    ``regrowth_epochs``, ``weight_lr``, ``gate_lr``, ``seed``, …). ``include``/``exclude``
    (module-name globs, as ``prunelimit hyperflux --include/--exclude``) choose the prunable
    set, else the one ``Pruning.apply`` recorded on the model, else the default; a module
    left out stays dense, and the set is recorded on the model, as ``Pruning.apply`` records
    it, for the calls that read it next.

    The model is left pruned, its pruned weights zero, as the command line saves it; the
    result holds the keep-masks (``masks``, parameter name → bool tensor as
    ``Pruning.masks``; ``result.apply(model)`` hands them to ``torch.nn.utils.prune``, as
    ``Pruning.apply``), the density asked for and reached, loss and
    accuracy on ``eval_data`` before and after (``None``: on ``data``, and ``warnings`` says
    so), the per-epoch log, and a warning when the run ended more than 10 % off its target. ``to_json()`` is ``prunelimit hyperflux
    --json`` without its ``output``. ``progress(epoch, epochs)`` is called after each epoch
    of both phases.

    >>> pruned = copy.deepcopy(model)
    >>> report = prunelimit.hyperflux(pruned, (train.x, train.y), 0.3, pruning_epochs=4, regrowth_epochs=1)
    >>> kept = sum(int(mask.sum()) for mask in report.masks.values())
    >>> kept / sum(mask.numel() for mask in report.masks.values()) == report.density
    True
    >>> bool((pruned[0].weight[~report.masks["0.weight"]] == 0).all())  # the model is pruned
    True
    >>> held = report.apply(pruned)  # torch's weight_mask: further training keeps the zeros
    >>> torch.equal(held[0].weight_mask.bool(), report.masks["0.weight"])
    True
    """
    from prunelimit.api.laws import run_hyperflux
    from prunelimit.laws.hyperflux import HyperfluxConfig, check_regrowth_settings

    validate.open_unit("density", density)
    validate.known_fields(HyperfluxConfig, settings, "Hyperflux settings")
    config = HyperfluxConfig(**settings)
    check_regrowth_settings(settings, config)
    validate.callback("progress", progress, "(epoch, epochs)", (2,))
    size = batch_size_for(batch_size, data, eval_data)
    with _training_inputs(model, data, eval_data, True, loss=loss, batch_size=size, include=include,
                          exclude=exclude) as (given, evaluation, narrow):
        with _masks_held(model, masks, given) as (pruned, held):
            try:
                report = run_hyperflux(model, given.batches, evaluation, given.loss_fn, density, config, masks=held,
                                       selection=given.selection, progress=progress,
                                       dtypes=named_types(model, narrow))
            except OptionError as exc:  # the command's target_density is this function's density argument
                if "target_density" not in exc.names:
                    raise
                first, *others = ["density" if name == "target_density" else name for name in exc.names]
                raise OptionError(first, exc.template, *others) from None
            pruned.update({name: report.masks.get(name, mask) for name, mask in pruned.items()})
    setattr(model, PRUNED_ATTRIBUTE, report.recorded)  # as the saved file's
    return report


@keeps_caller_state
def imp(model: nn.Module, data: Any, *, eval_data: Any = None, out_dir: str | os.PathLike | None = None,
        loss: str | Callable = "ce", batch_size: int | None = None, masks: Mapping[str, Tensor] | None = None,
        progress: Callable[["ImpRow"], object] | None = None, include: tuple[str, ...] | list[str] = (),
        exclude: tuple[str, ...] | list[str] = (), **settings: Any) -> ImpResult:
    """Iterative magnitude pruning with rewinding (``prunelimit imp``) of ``model``, **in
    place**: level 0 trains the dense model ``epochs_dense`` epochs (default
    ``epochs_per_level``, as for a fresh model; give ``epochs_dense=0`` for a trained one,
    which the command line assumes of a checkpoint), each level ``k`` keeps
    ``d0·(1 − rate)^k`` of the prunable weights (``d0``: a pruned model's density, level 0's),
    rewinds the survivors and retrains.
    ``settings`` are fields of :class:`~prunelimit.laws.imp.ImpConfig` (``rate``,
    ``levels``, ``rewind``, ``rewind_steps``, ``epochs_per_level``, ``epochs_dense``,
    ``lr``, ``seed``, …). The error is 1 − accuracy on ``eval_data`` (``None``: on ``data``,
    and ``warnings`` says so); ``progress(row)`` is called after each level.
    ``include``/``exclude`` choose the prunable set as for ``hyperflux``; the densities count
    it, and the model and each level's checkpoint record it.

    ``out_dir`` ``None``: no files. With a folder: the command line's files there (one
    checkpoint and one CSV row per level), and a later call with the same settings resumes
    after the last level recorded. The model is left at the last level's weights, pruned;
    the result holds the rows (``rows``: level, density, error, loss, width, depth), the
    last level's keep-masks (``masks``), ``warnings`` and ``points()``, the error law's points.
    ``to_json()`` is ``prunelimit imp --json`` without its ``output``.

    >>> sweep = prunelimit.imp(copy.deepcopy(model), (train.x, train.y), eval_data=(test.x, test.y),
    ...                        levels=5, rate=0.5, epochs_per_level=2, epochs_dense=0)
    >>> [round(row.density, 4) for row in sweep.rows]
    [1.0, 0.5, 0.25, 0.125, 0.0625, 0.0312]
    >>> fit = prunelimit.fit_error_law(sweep.points())
    >>> fit.points, fit.density_range  # one point a level, level 0 included
    (6, (0.03125, 1.0))
    """
    from prunelimit.api.laws import recorded_set
    from prunelimit.io.outputs import preflight
    from prunelimit.laws.imp import ImpConfig, check_rewind_steps, iterative_magnitude_pruning, output_folder

    validate.known_fields(ImpConfig, settings, "IMP settings")
    config = ImpConfig(**settings)
    check_rewind_steps("rewind_steps" in settings, config.rewind)
    validate.callback("progress", progress, "(row)", (1,))
    if out_dir is not None:
        validate.path("out_dir", out_dir)
        preflight([output_folder(out_dir, "out_dir")])
    size = batch_size_for(batch_size, data, eval_data)
    with _training_inputs(model, data, eval_data, True, loss=loss, batch_size=size, include=include,
                          exclude=exclude) as (given, evaluation, narrow):
        with _masks_held(model, masks, given) as (pruned, held):
            result = iterative_magnitude_pruning(model, given.batches, evaluation, given.loss_fn, config,
                                                 out_dir=out_dir, masks=held, progress=progress,
                                                 meta=recorded_set(given.selection), selection=given.selection,
                                                 dtypes=named_types(model, narrow))
            pruned.update({name: result.masks.get(name, mask) for name, mask in pruned.items()})
    setattr(model, PRUNED_ATTRIBUTE, recorded_set(given.selection)["pruned"])  # as the levels' files
    return result


@library_call
def export(model: nn.Module | Mapping[str, Tensor], output: str | os.PathLike, *,
           masks: Mapping[str, Tensor] | None = None, model_spec: str | None = None, meta: Mapping | None = None,
           force: bool = False) -> ExportReport:
    """Write a pruned ``model`` (a module, or its state dict) as ``prunelimit export`` writes a pruned
    checkpoint: a ``.safetensors`` file holding each tensor in its smallest layout (dense,
    bitmap or CSR) with the keep-masks; ``prunelimit.load_sparse(output)`` gives the dense
    state dict back, bit for bit. The masks are those of ``torch.nn.utils.prune`` on the
    model (``Pruning.apply``: the effective ``weight_orig · weight_mask`` is written under
    the plain name ``weight``) and ``masks`` (a weight is exported zero where its mask says
    pruned); a model without either is refused. ``model_spec`` and ``meta`` go into the
    file's header, as the command line copies them from the checkpoint (a ``model_spec`` whose model
    the tensors do not fit is refused, an ``InputError``); ``force`` replaces
    an existing ``output``. The model is not changed.

    The result gives the sizes per tensor and in total (``file_bytes``, ``dense_bytes``,
    ``ratio``); ``to_json()`` is ``prunelimit export --json`` (``checkpoint`` is ``None``).

    >>> import tempfile
    >>> pruned = prunelimit.prune(model, 0.9).apply(copy.deepcopy(model))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = prunelimit.export(pruned, Path(folder) / "model.safetensors")
    ...     back = prunelimit.load_sparse(Path(folder) / "model.safetensors")
    >>> bool(torch.equal(back["0.weight"], pruned[0].weight)), bool(report.ratio < 0.5)
    (True, True)
    """
    from prunelimit.sparse.exporter import check_output, model_names, require_masks, write_export
    from prunelimit.io.checkpoint import (normalise_state_dict, prefix_collision, tensor_problem, unmatched_mask,
                                          unprefixed)
    from prunelimit.io.outputs import Output, preflight
    from prunelimit.pruning.masks import keep_both
    from prunelimit.sparse.formats import zeroed
    from prunelimit.sparse.sparse_file import tied

    validate.path("output", output)
    check_output(output, "output")
    validate.boolean("force", force)
    if model_spec is not None and not isinstance(model_spec, str):
        raise UsageError(f"model_spec must be a model spec string (as the command line's --model) or None, "
                         f"got {type(model_spec).__name__}")
    if meta is not None and not isinstance(meta, Mapping):
        raise UsageError(f"meta must be a mapping (a checkpoint's meta) or None, got {type(meta).__name__}")
    if isinstance(model, nn.Module):
        model = wrapped_module(model)  # the record Pruning.apply left is on the module a wrapper runs
        state = model.state_dict()
        # a module's get_extra_state may give any object, which a safetensors file cannot hold
        other = next(((k, v) for k, v in state.items() if not isinstance(v, Tensor)), None)
        if other is not None:
            raise UsageError(f"model: its state dict entry {other[0]!r} is a {type(other[1]).__name__}, not a tensor "
                             "(a module's get_extra_state), and the file holds tensors only; export the state dict's "
                             "tensors instead and load them back with load_state_dict(..., strict=False)")
    elif isinstance(model, Mapping) and all(isinstance(v, Tensor) for v in model.values()):
        state = dict(model)
    else:
        raise UsageError(f"model must be a torch.nn.Module or a state dict of tensors, got {validate.not_a_module(model)}"
                         f"{path_fix(model)}")
    require_values(state.items())
    # as the command line refuses such a tensor in a checkpoint: safetensors stores dense ones only
    opaque = next(((k, v) for k, v in state.items() if v.layout != torch.strided or v.is_quantized), None)
    if opaque is not None:
        raise UsageError(f"model: tensor {opaque[0]!r} {tensor_problem(opaque[1])}, which the file cannot store; "
                         "make it dense first (.to_dense(), .dequantize())")
    if (collision := prefix_collision(state)) is not None:  # the later key's values were written, in silence
        raise UsageError(f"model: keys {collision[0]!r} and {collision[1]!r} both name {unprefixed(collision[0])!r} "
                         "once the wrapper prefixes are dropped, and hold different values; give one model's state_dict")
    state, found = normalise_state_dict(state)
    if (name := unmatched_mask(state, found)) is not None:
        raise UsageError(f"model: its torch.nn.utils.prune mask {name}_mask has shape {tuple(found[name].shape)}, "
                         f"not that of {name}_orig; prune it again (torch.nn.utils.prune.custom_from_mask)")
    # keyed as the state dict given keys them (a wrapper's module./_orig_mod.), read as its keys are
    given = checked_masks(masks)
    if (name := unmatched_mask(state, given)) is not None:
        raise UsageError(f"masks: {name!r} names no tensor of the model of shape {tuple(given[name].shape)}; key masks "
                         "by parameter name, as prunelimit.prune(model, ratio).masks does")
    ties = tied(state, {})  # a later key of a tied tensor → its first key
    own: dict[str, Tensor] = {}  # a tied tensor is pruned once, under its first key, as prune masks it
    for name, mask in given.items():
        first = ties.get(name, name)
        own[first] = own[first] & mask if first in own else mask
    for name, mask in own.items():
        state[name] = zeroed(state[name], ~mask)  # +0.0, as pruning writes it
    # masking made new tensors: every key of a tied tensor must hold the pruned one, or the
    # file keeps the unpruned weights under the later key (and load_state_dict writes them last)
    state.update({name: state[first] for name, first in ties.items()})
    held = keep_both(own, found)
    require_masks(held, "the model holds no pruning masks; prune it first (prunelimit.prune(model, ratio).apply(model)) "
                        "or pass masks=")
    # the header records model_spec: tensors it does not fit would make the file unreadable, as on the command line
    state, held = model_names(state, held, model_spec, trusted=True, source="of the model given")
    # preflight's own refusal names the command line's --force; a folder or device is preflight's to name
    if not force and Path(output).is_file():
        raise UsageError(f"output {output} already exists; pass force=True to replace it")
    preflight([Output("output", Path(output), "safetensors")], [], force)
    # the prunable set Pruning.apply recorded, as `prunelimit export` copies a pruned file's meta.pruned
    return write_export(output, state, held, model_spec, {**recorded_meta(model), **(meta or {})}, force, None)


@contextlib.contextmanager
def _training_inputs(model: nn.Module, data: Any, eval_data: Any, on_data: bool,
                     **given: Any) -> Iterator[tuple["Inputs", Any, dict[int, torch.dtype]]]:
    """The inputs of a run that trains ``model``, its gradients set aside (:func:`grads_kept`), and
    ``eval_data``'s batches, checked against the model and loss (without it: the data's where
    ``on_data``, else ``None``). A float16 or bfloat16 ``model`` is trained as the command line
    trains such a checkpoint: as a float32 model (:func:`narrow_floats_widened`), rounded to its
    types as the run goes (``named_types``, the runs' ``dtypes``), its data's floats and a
    criterion's own float tensors read in float32 as the analyses read them, so float32 data is
    taken as they take it (it was refused, 'the model has float16 parameters but data is float32',
    the model being widened only after its data were checked). Trained in float16, SGD's small
    steps were rounded away: Hyperflux to density 0.5 of a digits MLP ended at 0.16, its accuracy
    99.6 % → 40.8 %, where the command line's run on a float16 file of the same weights ends at
    0.45, keeping 99.6 %. Yields the inputs, the evaluation's batches and each widened tensor's
    type by its ``id``."""
    with grads_kept(model), narrow_floats_widened(model) as narrow:
        inputs = settled_inputs(model, data, dtypes=named_types(model, narrow), **given)
        # data=None: train named the command line's --data, hyperflux and imp raised a TypeError
        require_data(inputs, "training")
        check_training_output(inputs)
        if eval_data is not None:
            evaluation = checked_batches(inputs.loaded, inputs.loss_fn, eval_data, given["batch_size"],
                                         inputs.device, "eval_data")
        else:
            evaluation = inputs.batches if on_data else None
        yield inputs, evaluation, narrow


@contextlib.contextmanager
def _masks_held(model: nn.Module, masks: Any, given: "Inputs") -> Iterator[tuple["Masks", "Masks"]]:
    """The model's torch pruning folded into plain parameters (restored afterwards from the
    first dict, which the caller updates with the masks its run ended with) and the masks
    the run must hold: those and ``masks``, where both are given a weight is kept only if
    both keep it; with neither, for a model that records a pruning (``Pruning.apply``'s
    record, its torch pruning since removed), its zeros, as for a pruned safetensors file."""
    from prunelimit.pruning.masks import check_masks, held_masks, keep_both, torch_pruning_folded

    chosen = checked_masks(masks, model)
    with torch_pruning_folded(model) as pruned:
        held = keep_both(chosen, pruned) or held_masks(given.loaded, given.selection)
        check_masks(model, held)
        yield pruned, held
