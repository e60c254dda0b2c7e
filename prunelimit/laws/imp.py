"""Iterative magnitude pruning (IMP), the sweep behind the error law
(Rosenfeld et al., ICML 2021, whose IMP protocol this follows).

Level 0 trains the dense network; level k prunes globally by magnitude to density
``(1 − rate)^k`` of the prunable weights (exactly ``N − ceil((1 − (1 − rate)^k)·N)`` kept,
so rounding never compounds), resets the surviving weights to the rewind point (the
initial weights, an early-training copy, or the current weights for plain fine-tuning)
and retrains with the mask re-applied after every optimizer step. Each level ends with
one checkpoint and one CSV row (``level,density,error,loss,width,depth,evaluated_on``) in ``out_dir``;
a later call resumes after the last level recorded there. Level ``k`` seeds torch with
``seed + k``, so a resumed sweep reproduces an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, astuple, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, get_args

import numpy as np
import torch
from torch import nn

from prunelimit import validate
from prunelimit.data.batches import Batches, LossFn, batch_size, total_samples
from prunelimit.equality import compared_by_value
from prunelimit.errors import InputError, OptionError, UsageError, fields_named, option, quoted
from prunelimit.io.atomic import staged, write_atomic, write_text_atomic
from prunelimit.io.outputs import FOLDER, Output
from prunelimit.io.checkpoint import load_quietly, save_torch
from prunelimit.inputs import recorded_selection
from prunelimit.limits import MAX_CSV_BYTES, check_file_size, check_loaded, check_torch_file
from prunelimit.models.evaluate import class_labels, evaluate, gives_class_scores
from prunelimit.models.load import check_fits, in_dtypes, load_state_strict, round_to_dtypes
from prunelimit.models.params import ParamSelection, module_class, required_prunable
from prunelimit.pruning.masks import Masks, full_masks
from prunelimit.pruning.training import frozen_warnings, sgd, train_masked
from prunelimit.report.notebook import imp_summary, shown
from prunelimit.sparse.formats import storage_key
from prunelimit.report.safe import clipped
from prunelimit.theory.profile import MagnitudeProfile, removed_count

if TYPE_CHECKING:
    from prunelimit.laws.errorlaw import ErrorPoints

Rewind = Literal["init", "early", "none"]
CSV_NAME = "imp.csv"
REWIND_NAME = "rewind.pt"
CSV_HEADER = ("level", "density", "error", "loss", "width", "depth", "evaluated_on")
# what a row's error is measured on, so that ``law error-fit`` reading the CSV can say so; a
# sweep an older version wrote has no such column (its header is CSV_HEADER[:-1]) and resumes
EVALUATED_ON = ("eval_data", "training_data")
FORMAT = "prunelimit/1"
# the sweep's inputs, recorded by fingerprint with its settings, and how a refusal names them
INPUTS = {"start_weights": "start weights", "train_data": "training batches", "eval_data": "evaluation batches"}
_NO_CLASSES = ("IMP error needs classification eval data (integer class labels) and class scores from model(x) "
               "(a row of two or more a sample)")


@dataclass(frozen=True)
class ImpRow:
    """One level: density of the prunable weights, eval error (1 − accuracy) and loss, and
    what they are measured on (``evaluated_on``: ``"eval_data"`` or ``"training_data"``;
    ``None`` for a row of a sweep an older version wrote, which did not record it)."""

    level: int
    density: float
    error: float
    loss: float
    width: int | None
    depth: int | None
    evaluated_on: str | None = None


@shown("imp", imp_summary)
@compared_by_value
@dataclass(frozen=True)
class ImpResult:
    """The sweep's rows (level 0 first), the number of prunable weights, where it resumed,
    its CSV (``None`` without ``out_dir``), the last level's keep-masks, the prunable set
    it pruned within and what qualifies its errors (``warnings``)."""

    rows: tuple[ImpRow, ...]
    prunable: int
    resumed_after: int | None  # last level found in out_dir, None for a fresh sweep
    csv_path: Path | None
    masks: Masks = field(default_factory=dict)
    selection: ParamSelection = ParamSelection()
    warnings: tuple[str, ...] = ()

    def points(self) -> "ErrorPoints":
        """The rows as the error law's points (``fit_error_law(result.points())``), as
        ``read_points`` reads the CSV: width and depth only where the model has them."""
        from prunelimit.laws.errorlaw import ErrorPoints

        zero = next((r for r in self.rows if r.error <= 0), None)
        if zero is not None:
            raise UsageError(f"IMP level {zero.level} has error 0 on the evaluation data, and the error law fits "
                             "relative errors; evaluate on more (held-out) data")
        columns = [np.array(c, dtype=float) for c in zip(*((r.density, r.error) for r in self.rows))]
        if all(r.width is not None and r.depth is not None for r in self.rows):
            columns += [np.array(c, dtype=float) for c in zip(*((r.width, r.depth) for r in self.rows))]
        return ErrorPoints(*columns, on_training_data=any(r.evaluated_on == EVALUATED_ON[1] for r in self.rows))

    @property
    def density(self) -> float:
        """The final density: the last level's kept fraction of the prunable weights."""
        return self.rows[-1].density

    def to_json(self) -> dict:
        """What ``prunelimit imp --json`` prints, less the ``output`` folder it names."""
        return {"csv": None if self.csv_path is None else str(self.csv_path), "prunable": self.prunable,
                "prunable_set": self.selection.to_meta(), "resumed_after": self.resumed_after,
                "density": self.density, "rows": [asdict(r) for r in self.rows], "warnings": list(self.warnings)}


def mlp_shape(model: nn.Module) -> tuple[int | None, int | None]:
    """(hidden width, number of Linear layers) of an ``nn.Sequential`` MLP, else (None, None).

    The joint error law needs one width, so an MLP whose hidden layers differ in width
    also gives (None, None).
    """
    if not issubclass(module_class(model), nn.Sequential):
        return None, None
    # the Sequential's layers in order (a TorchScript Sequential cannot be iterated in Python)
    with_params = [m for m in model._modules.values() if any(True for _ in m.parameters())]
    linears = [m for m in with_params if issubclass(module_class(m), nn.Linear)]
    if len(linears) < 2 or len(linears) != len(with_params):
        return None, None
    hidden = {int(m.weight.shape[0]) for m in linears[:-1]}  # a traced Linear keeps no out_features
    return (hidden.pop(), len(linears)) if len(hidden) == 1 else (None, None)


def level_density_count(level: int, rate: float, n: int) -> int:
    """Number of prunable weights kept at ``level``: N − ceil((1 − (1 − rate)^level)·N)."""
    return n - removed_count(1.0 - (1.0 - rate) ** level, n)


@dataclass(frozen=True)
class ImpConfig:
    """Settings of an IMP sweep (the command line's defaults; a resumed sweep needs the same).

    ``rate``: fraction of the remaining prunable weights removed per level. ``rewind``:
    ``"init"`` resets survivors to the weights the model has on entry, ``"early"`` to a
    copy taken after ``rewind_steps`` optimizer steps of dense training, ``"none"`` keeps
    training the current weights (fine-tuning). ``epochs_dense`` trains level 0 (``None``:
    ``epochs_per_level``; 0: the model is already trained). SGD with momentum, constant ``lr``.
    """

    rate: float = 0.2
    levels: int = 10
    rewind: Rewind = "init"
    rewind_steps: int = 10
    epochs_per_level: int = 5
    epochs_dense: int | None = None
    lr: float = 0.05
    momentum: float = 0.9
    seed: int = 0

    @fields_named
    def __post_init__(self) -> None:
        """Refuse invalid values (``OptionError``, a ``ValueError``, naming the field)."""
        validate.plain_fields(self)  # NumPy scalars and 0-d tensors as the numbers they hold
        validate.open_unit("rate", self.rate)
        validate.integer("levels", self.levels, 0)
        validate.choice("rewind", self.rewind, get_args(Rewind))
        validate.integer("rewind_steps", self.rewind_steps, 0)
        validate.integer("epochs_per_level", self.epochs_per_level, 0)
        if self.epochs_dense is not None:
            validate.integer("epochs_dense", self.epochs_dense, 0)
        validate.positive("lr", self.lr)
        validate.momentum("momentum", self.momentum)
        validate.integer("seed", self.seed, 0)
        if self.rewind == "early" and (self.rewind_steps < 1 or self.epochs_dense == 0):
            raise OptionError("rewind", f"{option('rewind', 'early')} rewinds to a point of dense training: it needs "
                              "{1} > 0 (a checkpoint's default is 0) and {2} >= 1", "epochs_dense", "rewind_steps")
        # rewind_steps away from its default beside another rewind: ignored in silence, as the command line refuses it
        check_rewind_steps(self.rewind_steps != ImpConfig.rewind_steps, self.rewind)


def check_rewind_steps(given: bool, rewind: str) -> None:
    """``rewind_steps`` given with another rewind than ``early``: it would be ignored, so the
    run would not be the one asked for."""
    if given and rewind != "early":
        raise OptionError("rewind_steps", f"{{0}} applies to {option('rewind', 'early', in_file=False)}, not "
                          f"{rewind}; add {option('rewind', 'early')} or drop it")


def iterative_magnitude_pruning(
    model: nn.Module,
    train_batches: Batches,
    eval_batches: Batches,
    loss_fn: LossFn,
    config: ImpConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    resume: bool = True,
    progress: Callable[[ImpRow], None] | None = None,
    masks: Masks | None = None,
    model_spec: str | None = None,
    meta: dict[str, Any] | None = None,
    selection: ParamSelection = ParamSelection(),
    dtypes: Mapping[str, torch.dtype] | None = None,
    **options: Any,
) -> ImpResult:
    """Run IMP for ``config.levels`` pruning levels after the dense level 0; the model is updated.

    ``model_spec`` and ``meta`` (data, loss) are recorded in every level's checkpoint, as
    ``prunelimit prune`` records them, so a level loads without ``--model``.

    ``selection``: the prunable set to prune (a checkpoint's recorded one).
    ``dtypes``: a checkpoint's narrower float types (``LoadedModel.dtypes``): each level's
    weights are rounded to them after training, evaluated and pruned further so, and saved in
    them, as the checkpoint was (a resumed sweep then goes on from exactly what it saved).
    ``masks``: the keep-masks of an already-pruned model (a name left out keeps every weight);
    its pruned weights stay pruned, level 0 has its density ``d0`` and level ``k`` keeps
    ``d0·(1 − rate)^k``.
    ``options`` are :class:`ImpConfig` fields overriding ``config`` (default ``ImpConfig()``).
    Training walks ``train_batches`` in their fixed order; each level's row is also passed
    to ``progress``.
    """
    c = replace(config or ImpConfig(), **options)
    dtypes = dict(dtypes or {})
    epochs_dense = c.epochs_per_level if c.epochs_dense is None else c.epochs_dense
    params = required_prunable(model, selection)
    if not (all(class_labels(batch) for batch in eval_batches) and gives_class_scores(model, eval_batches[0])):
        raise UsageError(_NO_CLASSES)  # refused before any training, not after it
    n = sum(p.numel() for _, p in params)
    width, depth = mlp_shape(model)
    # the training batches' shape too: another --batch-size or --max-samples trains other levels
    settings = {"rate": c.rate, "rewind": c.rewind, "rewind_steps": c.rewind_steps, "seed": c.seed,
                "epochs_per_level": c.epochs_per_level, "epochs_dense": epochs_dense, "lr": c.lr,
                "momentum": c.momentum, "train_samples": total_samples(train_batches),
                "batch_size": max((batch_size(b) for b in train_batches), default=0),
                # what the rows were measured from: a start checkpoint rewritten in place, or a data file
                # rewritten under the same spec, resumed the old sweep (read it back whole at its --levels)
                **_input_fingerprints(model, masks, train_batches, eval_batches)}
    out = Path(out_dir) if out_dir is not None else None
    evaluated_on = EVALUATED_ON[eval_batches is train_batches]

    rows: list[ImpRow] = []
    # pruned tensors IMP does not rank (a bias pruned with torch) are held as they were given
    fixed = {name: m.to(torch.bool) for name, m in (masks or {}).items() if name not in dict(params)}
    masks = full_masks(params, masks or {})
    kept0 = sum(int(m.sum()) for m in masks.values())
    _check_levels_keep_weights(c, n, kept0)
    rewind_state = None
    resumed_after = None
    if out is not None:  # the folder itself is made by the first write (nothing is left if none happens)
        if (out / CSV_NAME).exists():
            if not resume:
                raise UsageError(
                    f"{out} already holds an IMP sweep; resume it or choose an empty directory"
                )
            rows, masks, rewind_state = _load_progress(out, model, params, settings, (model_spec, meta), kept0 / n,
                                                       selection, c.levels)
            resumed_after = rows[-1].level

    if not rows:
        if c.rewind == "early":
            _check_rewind_point(c.rewind_steps, epochs_dense, len(train_batches))
        rewind_state = in_dtypes(_state_copy(model), dtypes) if c.rewind == "init" else None
        early = _train(model, train_batches, loss_fn, {**masks, **fixed}, epochs_dense, c.lr, c.momentum, c.seed,
                       dtypes, snapshot_after=c.rewind_steps if c.rewind == "early" else None)
        if c.rewind == "early":
            rewind_state = early
        row = _record(model, eval_batches, loss_fn, 0, n, masks, width, depth, evaluated_on)
        _save_level(out, model, dtypes, {**masks, **fixed}, row, rows, settings, rewind_state, (model_spec, meta))
        rows.append(row)
        if progress:
            progress(row)

    for level in range(rows[-1].level + 1, c.levels + 1):
        # Pruned weights rank first (before live weights that are exactly zero), so each level
        # removes them all again and keeps exactly its scheduled count, a subset of the last.
        profile = MagnitudeProfile.from_tensors([p for _, p in params], [masks[name] for name, _ in params])
        keep = profile.keep_masks(1.0 - rows[0].density * (1.0 - c.rate) ** level)
        masks = {name: k.to(p.device) for k, (name, p) in zip(keep, params)}
        if rewind_state is not None:
            model.load_state_dict(rewind_state)
        _train(model, train_batches, loss_fn, {**masks, **fixed}, c.epochs_per_level, c.lr, c.momentum,
               c.seed + level, dtypes)
        row = _record(model, eval_batches, loss_fn, level, n, masks, width, depth, evaluated_on)
        _save_level(out, model, dtypes, {**masks, **fixed}, row, rows, settings, rewind_state, (model_spec, meta))
        rows.append(row)
        if progress:
            progress(row)

    return ImpResult(tuple(rows), n, resumed_after, out / CSV_NAME if out else None, {**masks, **fixed}, selection,
                     on_training_data(eval_batches is train_batches)
                     + frozen_warnings(params, "IMP prunes them by magnitude with the others", selection))


def on_training_data(same: bool) -> tuple[str, ...]:
    """The warning of a sweep evaluated on the batches it trains on (``same``): the law is of
    held-out error, and training error stays lower as the network fits those very samples."""
    if not same:
        return ()
    return (f"the error of every level is 1 − accuracy on the training data the sweep trains on, not on held-out "
            f"data as the error law's is; give held-out data with {option('eval_data')}",)


def _check_levels_keep_weights(c: ImpConfig, n: int, kept0: int) -> None:
    """Refuse, before any training, a sweep whose last levels keep no weight: their density 0
    lies outside the error law (and ``law error-fit`` refuses the CSV's rows); and one whose
    rate is so low that a level prunes no weight: it would train again to the same density."""
    kept = [kept0] + [n - removed_count(1.0 - kept0 / n * (1.0 - c.rate) ** k, n) for k in range(1, c.levels + 1)]
    empty = next((k for k in range(1, c.levels + 1) if kept[k] == 0), None)
    if empty is not None:
        raise OptionError("levels", f"{option('levels', c.levels)}: level {empty} would keep none of the {kept0} "
                          f"weights at {option('rate', c.rate)}; use {option('levels', empty - 1)} or a lower {{1}}",
                          "rate")
    idle = next((k for k in range(1, c.levels + 1) if kept[k] == kept[k - 1]), None)
    if idle is not None:  # level 1 always prunes: ceil rounds any positive share up to a weight
        raise OptionError("rate", f"{option('rate', c.rate)}: level {idle} would prune none of the {kept[idle]:,} "
                          f"weights level {idle - 1} keeps; use {option('levels', idle - 1)} or a higher {{0}}")


def _check_rewind_point(rewind_steps: int, epochs_dense: int, batches: int) -> None:
    """Refuse, before training, an early rewind point past the end of dense training: the
    snapshot was then the trained dense network, and the sweep rewound to it in silence."""
    steps = epochs_dense * batches
    if rewind_steps > steps:
        raise OptionError("rewind_steps", f"{option('rewind_steps', rewind_steps)} lies past the end of dense "
                          f"training, {steps} step(s) ({option('epochs_dense', epochs_dense)} × {batches} "
                          f"batch(es)): the sweep would rewind to the trained dense network, not to a point of its "
                          f"training; use {option('rewind_steps', steps)} or fewer, or a larger {{1}}", "epochs_dense")


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's state; a tied tensor (one storage under several keys) copied once,
    so the copy, and the file saved from it, keeps the tie rather than two tensors."""
    state, copies = model.state_dict(), {}
    for value in state.values():
        if storage_key(value) not in copies:
            copies[storage_key(value)] = value.detach().clone()
    return {k: copies[storage_key(v)] for k, v in state.items()}


def _train(model, batches, loss_fn, masks, epochs, lr, momentum, seed, dtypes: Mapping[str, torch.dtype],
           snapshot_after: int | None = None):
    """SGD epochs with the masks held, the weights rounded to ``dtypes`` after them; returns the
    weights after ``snapshot_after`` steps, in ``dtypes``, if asked."""
    snapshot = None

    def take_snapshot(done: int, total: int) -> None:
        nonlocal snapshot
        if done == snapshot_after:
            snapshot = _state_copy(model)

    train_masked(model, sgd(model, lr, momentum), loss_fn, batches, epochs=epochs, masks=masks, seed=seed,
                 on_step=take_snapshot if snapshot_after is not None else None)
    if snapshot_after is not None and snapshot is None:
        snapshot = _state_copy(model)  # fewer steps than asked: rewind to the trained dense net
    round_to_dtypes(model, dtypes)
    return None if snapshot is None else in_dtypes(snapshot, dtypes)


def _record(model, eval_batches, loss_fn, level, n, masks, width, depth, evaluated_on) -> ImpRow:
    ev = evaluate(model, eval_batches, loss_fn)
    if ev.accuracy is None:  # a distributed rank without classes voids accuracy everywhere
        raise UsageError(_NO_CLASSES)
    kept = int(sum(int(m.sum()) for m in masks.values()))
    return ImpRow(level, kept / n, 1.0 - ev.accuracy, ev.loss, width, depth, evaluated_on)


# ------------------------------------------------------------------ files


def output_folder(out_dir: str | Path, option: str = "-o") -> Output:
    """The sweep folder as an output to check before any work: the files it holds are the sweep's."""
    return Output(option, Path(out_dir), FOLDER, members=("level_*.pt", REWIND_NAME, CSV_NAME))


def _checkpoint_path(out: Path, level: int) -> Path:
    return out / f"level_{level:03d}.pt"


def _save_level(out, model, dtypes, masks, row, previous_rows, settings, rewind_state, record=(None, None)) -> None:
    """A level's files (its checkpoint, the CSV with its row, at level 0 the rewind state) are
    renamed into place together: a failed save leaves the folder as the last level left it.
    ``dtypes``: the float types the weights are saved in; ``record``: the model spec and meta
    the checkpoint records."""
    if out is None:
        return
    payload = {
        "format": FORMAT,
        "model": record[0],
        "meta": dict(record[1] or {}),
        "state_dict": in_dtypes(_state_copy(model), dtypes),
        "masks": {name: m.clone() for name, m in masks.items()},
        "level": row.level,
        "density": row.density,
        "imp": settings,
    }
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in (*previous_rows, row):
        writer.writerow(["" if v is None else v for v in astuple(r)])
    with staged():
        if row.level == 0 and rewind_state is not None:
            write_atomic(out / REWIND_NAME, lambda p: save_torch(
                {"format": FORMAT, "state_dict": rewind_state, "imp": settings}, p), force=True, parents=True)
        write_atomic(_checkpoint_path(out, row.level), lambda p: save_torch(payload, p), force=True, parents=True)
        write_text_atomic(out / CSV_NAME, text.getvalue(), force=True)


def _load_progress(out: Path, model, params, settings, record=(None, None), density0: float = 1.0,
                   selection: ParamSelection = ParamSelection(), levels: int | None = None):
    """Rows, masks and rewind state after the last level recorded in ``out``; ``record`` (model
    spec, meta) must match what its last checkpoint records, where both say; ``density0``:
    the density the sweep starts from (level 0's); ``selection``: the prunable set, the one
    its last checkpoint records (none recorded: the default set); ``levels``: the levels asked
    for, at least the sweep's (refused before the model is loaded otherwise)."""
    path = out / CSV_NAME
    check_file_size(path, MAX_CSV_BYTES, "IMP progress file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a BOM (as Excel saves CSVs) is no header text
            # a blank line (an editor's, at the end) is no row, as csv.DictReader skips it
            header, *lines = [line for line in csv.reader(fh) if line] or [[]]
        # every field of every row: a row cut short read its missing width and depth as "none"
        if tuple(header) not in (CSV_HEADER, CSV_HEADER[:-1]) or any(len(line) != len(header) for line in lines):
            raise ValueError(f"not the header {','.join(CSV_HEADER)} (an older version's without evaluated_on) "
                             "with one field per column in every row")
        rows = [ImpRow(int(level), float(density), float(error), float(loss), int(width) if width else None,
                       int(depth) if depth else None, _evaluated_on(rest))
                for level, density, error, loss, width, depth, *rest in lines]
    except (OSError, ValueError, csv.Error) as exc:
        raise InputError(f"{path}: unreadable IMP progress ({exc}); use a fresh directory") from None
    if not rows or [r.level for r in rows] != list(range(len(rows))):
        raise InputError(f"{path}: levels are not 0, 1, 2, ...; use a fresh directory")
    last = _checkpoint_path(out, rows[-1].level)
    ckpt = _load(out, last, settings)
    # which sweep it is, before its rows' values, which another set or start would make look damaged
    spec, meta = record  # where the sweep and this call both say, they must agree: rows of two sweeps would mix
    saved = {"model": ckpt.get("model"), **(ckpt.get("meta") if isinstance(ckpt.get("meta"), dict) else {})}
    # the set always agrees, recorded or not: densities over two sets would mix in one column
    swept = recorded_selection(saved, last) or ParamSelection()
    if swept != selection:
        raise UsageError(f"{out} holds an IMP sweep of {swept.described()}, not {selection.described()}; resume it "
                         f"with {swept.described()}, or use a fresh directory")
    differ = _changed({k: v for k, v in saved.items() if k != "pruned"},
                      {"model": spec, **{k: v for k, v in (meta or {}).items() if k != "pruned"}}, where_both_say=True)
    if differ:
        raise UsageError(f"{out} holds an IMP sweep of {', '.join(differ)}; resume it with the same model, data "
                         "and loss, or use a fresh directory")
    if rows[0].density == 1.0 and density0 < 1.0:  # not damage: a dense level 0, and a pruned start
        raise UsageError(
            f"{out} holds an IMP sweep whose level 0 is dense (density 1), but this start is pruned (it keeps "
            f"{density0:g} of its prunable weights): an older prunelimit wrote it, one that took a pruned "
            "safetensors file's zeros for weights, or it began from the unpruned model; resume it from that "
            "start (with that version), or use a fresh directory")
    inputs = [what for key, what in INPUTS.items() if ckpt["imp"][key] != settings[key]]
    if inputs:
        raise UsageError(f"{out} holds an IMP sweep of other {' and '.join(inputs)} than these (its rows were measured "
                         "from those); resume it from the checkpoint and data it began with, or use a fresh directory")
    bad = _bad_row(rows, density0)
    if bad:
        raise InputError(f"{path}: {bad}; the file is damaged, use a fresh directory")
    shape = mlp_shape(model)
    odd = next((r for r in rows if (r.width, r.depth) != shape), None)
    if odd is not None:
        raise InputError(f"{path}: level {odd.level} has width,depth {odd.width},{odd.depth}, not this model's "
                         f"{shape[0]},{shape[1]}; resume with the sweep's model, or use a fresh directory")
    if ckpt.get("level") != rows[-1].level or ckpt.get("density") != rows[-1].density:
        raise InputError(f"{path}: its last row (level {rows[-1].level}, density {rows[-1].density}) is not what "
                         f"{last.name} records; the folder is damaged, use a fresh directory")
    if levels is not None and rows[-1].level > levels:  # its rows past them would answer another --levels
        raise OptionError("levels", f"{option('levels', levels)}: {out} already holds levels 0–{rows[-1].level} of "
                          f"this sweep; give {option('levels', rows[-1].level)} or more to read or extend it, or "
                          "another folder for a shorter sweep")
    rewind_state = None
    if settings["rewind"] != "none":
        rewind_state = _tensors(_load(out, out / REWIND_NAME, settings), "state_dict", out / REWIND_NAME)
        check_fits(model.state_dict(), rewind_state, str(out / REWIND_NAME))
    saved_masks = _tensors(ckpt, "masks", last)
    bad = next((name for name, p in params if name not in saved_masks or saved_masks[name].shape != p.shape), None)
    if bad is not None:
        raise InputError(f"{last}: no mask of the weight's shape for {bad!r}; the file is damaged, use a fresh directory")
    load_state_strict(model, _tensors(ckpt, "state_dict", last), str(last))
    masks = {name: saved_masks[name].to(p.device, torch.bool) for name, p in params}
    return rows, masks, rewind_state


def _evaluated_on(cells: list[str]) -> str | None:
    """A row's ``evaluated_on`` cell (none in an older version's CSV, or empty: ``None``)."""
    if not cells or not cells[0]:
        return None
    if cells[0] not in EVALUATED_ON:
        raise ValueError(f"evaluated_on {quoted(cells[0])} is none of {', '.join(EVALUATED_ON)}")
    return cells[0]


def _bad_row(rows: list[ImpRow], density0: float) -> str | None:
    """What is wrong with resumed rows, or ``None``. They go on into the result and the CSV
    (a NaN or a density of 2.5 reached ``law error-fit``), and level 0's density sets every
    later level's: each value must be one a sweep writes."""
    for r, before in zip(rows, (None, *rows)):
        if not all(math.isfinite(v) for v in (r.density, r.error, r.loss)):
            return f"level {r.level} holds a NaN or infinite value"
        if not (0.0 < r.density <= (density0 if before is None else before.density)) or not 0.0 <= r.error <= 1.0:
            return (f"level {r.level} has density {r.density:g} and error {r.error:g}: densities fall from "
                    f"{density0:g} (this model's level 0) and errors are fractions in [0, 1]")
        if any(v is not None and v < 1 for v in (r.width, r.depth)):
            return f"level {r.level} has width,depth {r.width},{r.depth}, not positive"
    if rows[0].density != density0:
        return f"level 0 has density {rows[0].density:g}, not this model's {density0:g}"
    return None


def _load(out: Path, path: Path, settings) -> dict:
    # The folder's files are read like any checkpoint: declared sizes first, weights only.
    check_torch_file(path, "IMP checkpoint")
    try:
        ckpt = load_quietly(path, weights_only=True)
    except Exception as exc:  # missing, truncated, or pickled objects weights_only refuses
        raise InputError(f"{path}: cannot load IMP checkpoint ({type(exc).__name__}); use a fresh directory") from None
    check_loaded(ckpt, f"IMP checkpoint {path}")
    recorded = ckpt.get("imp") if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT else None
    written = ckpt.get("format") if isinstance(ckpt, dict) and isinstance(ckpt.get("imp"), dict) else FORMAT
    if written != FORMAT:  # a sweep's level, of another version's format: not damaged, not readable here
        raise InputError(f"{path}: an IMP level in format {clipped(written)}, which another prunelimit version wrote "
                         f"(this one reads {FORMAT}); resume the sweep with that version, or use a fresh directory")
    if not isinstance(recorded, dict):
        raise InputError(f"{path}: not a checkpoint of an IMP sweep; use a fresh directory")
    unrecorded = [key for key in settings if key not in recorded]
    if unrecorded:  # no setting of this run matches what a version before them did not record
        raise UsageError(f"{out} holds an IMP sweep an older prunelimit wrote: it records no "
                         f"{', '.join(unrecorded)}, which this version checks to resume the same run; resume it with "
                         "the version that wrote it, or use a fresh directory")
    differ = _changed(recorded, {k: v for k, v in settings.items() if k not in INPUTS})
    if differ:
        raise UsageError(f"{out} holds an IMP sweep with other settings: {', '.join(differ)}; resume it with "
                         "the same settings or use a fresh directory")
    return ckpt


def _input_fingerprints(model: nn.Module, masks: Masks | None, train_batches: Batches,
                        eval_batches: Batches) -> dict[str, str | None]:
    """sha256 hex of the start (its state and any keep-masks) and of the training and evaluation
    batches' contents, under the keys of ``INPUTS``."""
    from prunelimit.cache import data_fingerprint, tensors_fingerprint

    start = [*sorted(model.state_dict().items()), *sorted((f"mask {k}", m) for k, m in (masks or {}).items())]
    return {"start_weights": tensors_fingerprint(start), "train_data": data_fingerprint(train_batches),
            "eval_data": data_fingerprint(eval_batches)}


def _changed(saved: dict, now: dict, where_both_say: bool = False) -> list[str]:
    """``key saved (now value)`` for each entry of ``now`` that ``saved`` records otherwise;
    ``where_both_say``: only where neither is ``None`` (a value one side cannot know)."""
    return [f"{k} {clipped(saved.get(k))} (now {v})" for k, v in now.items()
            if saved.get(k) != v and not (where_both_say and (v is None or saved.get(k) is None))]


def _tensors(ckpt: dict, key: str, path: Path) -> dict[str, torch.Tensor]:
    """The ``key`` entry of an IMP checkpoint: a dict of tensors, or an ``InputError``."""
    value = ckpt.get(key)
    if not isinstance(value, dict) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise InputError(f"{path}: entry {key!r} is not a dict of tensors; the file is damaged, use a fresh directory")
    return value
