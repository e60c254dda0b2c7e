"""LOMP training: SGD with momentum on ``loss + λ‖w‖₁`` (LOMP of Zhang et al., NeurIPS 2024,
and its reference code).

The schedule is a closed form of the step counter (linear warm-up, then constant,
cosine or step decay), so the whole scheduler state is one integer and a resumed run
continues bit-for-bit. ``schedule_unit="epoch"`` changes the learning rate once per
epoch (what the paper intends); ``"iteration"`` steps it every iteration like the
reference code, with warm-up still lasting ``warmup_epochs`` epochs but ``t_max`` and
``milestones`` counted in iterations (the reference's ``T_max=200`` then gives a cosine
that cycles with a period of 400 iterations).

Shuffling is seeded per epoch from ``(seed, epoch)``, so resuming needs no generator
state. Optional keep-masks hold pruned weights at exactly zero (masked fine-tuning).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from bisect import bisect_right
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Literal, Mapping, get_args

import torch
from torch import Tensor, nn

from prunelimit import validate
from prunelimit.data.batches import Batch, Batches, LossFn, batch_form
from prunelimit.equality import compared_by_value
from prunelimit.errors import InputError, OptionError, UsageError, fields_named, option, quoted, said, warn
from prunelimit.models.evaluate import evaluate
from prunelimit.models.params import ParamSelection, prunable_parameters
from prunelimit.pruning.training import (
    EpochLoss, ScheduleUnit, StepHook, cosine, factor_schedule, l1_norm, require_normalisable, sgd, train_masked,
)
from prunelimit.report.notebook import train_summary, shown

Schedule = Literal["none", "cosine", "step"]
SCHEDULES = ("none", "cosine", "step")
L1Scope = Literal["prunable", "reference"]
Progress = StepHook
Checkpoint = Callable[[dict], None]


# the settings only one schedule reads
_SCHEDULE_SETTINGS = {"t_max": "cosine", "milestones": "step", "gamma": "step"}


def check_schedule_settings(typed: Mapping[str, Any], config: LompConfig, late: bool = True) -> None:
    """Typed settings that would change nothing: those of another schedule (``t_max``,
    ``milestones``, ``gamma``) are ignored by it, and (``late``) a milestone at or past the last
    epoch is never reached (a preset's own are left to the preset)."""
    for name, schedule in _SCHEDULE_SETTINGS.items():
        if typed.get(name) not in (None, ()) and config.schedule != schedule:
            raise OptionError(name, f"{{0}} applies to {option('schedule', schedule)}, not {config.schedule}; add "
                              f"{option('schedule', schedule)}")
    if not late:
        return
    never = [m for m in typed.get("milestones", ()) if not 0 < m < config.epochs]
    if never:
        given = option("milestones", tuple(never), "{0}", ",".join(map(str, never)))
        raise OptionError("milestones", f"{given}: each must lie in 1..{config.epochs - 1}, the epochs"
                          f" after which lr drops (at 0 it only lowers {{1}}; at {config.epochs} or later "
                          "it never acts)", "lr")


@dataclass(frozen=True)
class LompConfig:
    """Hyperparameters of LOMP training (defaults: the reference code's SGD setup).

    ``l1`` is λ. ``l1_scope="prunable"`` penalises the prunable weights only;
    ``"reference"`` adds every weight and bias parameter (a name whose last part holds
    ``weight`` or ``bias``: normalisation parameters and an LSTM's ``bias_ih_l0`` included), as
    the reference code does; each parameter counts once. ``t_max`` is the
    cosine half-period in schedule steps (default: the steps after warm-up);
    ``milestones`` are absolute step indices at which ``step`` multiplies by ``gamma``.
    """

    epochs: int
    lr: float
    l1: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    batch_size: int = 128
    warmup_epochs: int = 0
    schedule: Schedule = "none"
    schedule_unit: ScheduleUnit = "epoch"
    t_max: int | None = None
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    l1_scope: L1Scope = "prunable"
    shuffle: bool = True
    seed: int = 0

    @fields_named
    def __post_init__(self) -> None:
        """Refuse invalid values (``OptionError``, a ``ValueError``, naming the field as its
        caller wrote it: ``t_max=``, or the flag on the command line), and a setting of another
        schedule set away from its default (``t_max`` without ``schedule="cosine"``, …), which
        the schedule would ignore in silence (:func:`check_schedule_settings`)."""
        validate.plain_fields(self)  # NumPy scalars and 0-d tensors as the numbers they hold
        validate.integer("epochs", self.epochs, 1)
        validate.positive("lr", self.lr)
        validate.non_negative("l1", self.l1)
        validate.momentum("momentum", self.momentum)
        validate.non_negative("weight_decay", self.weight_decay)
        validate.boolean("nesterov", self.nesterov)
        validate.integer("batch_size", self.batch_size, 1)
        validate.integer("warmup_epochs", self.warmup_epochs, 0)
        if self.warmup_epochs > self.epochs:
            raise OptionError("warmup_epochs", f"{{0}} must lie in [0, {{1}}={self.epochs}], got {self.warmup_epochs}",
                              "epochs")
        validate.choice("schedule", self.schedule, SCHEDULES)
        if not isinstance(self.milestones, (tuple, list)):  # before its truth: an array's raised a ValueError
            raise OptionError("milestones", f"{{0}} must be a tuple of epochs such as (10, 20), got {quoted(self.milestones)}"
                              f"{validate.as_tuple_fix('milestones', self.milestones)}")
        if self.schedule == "step" and not self.milestones:  # else the rate never steps: a constant schedule
            raise OptionError("milestones", "the step schedule needs milestones, the epochs after which lr drops; "
                              f"pass them, e.g. {option('milestones', (10, 20), '{0}', '10,20')}")
        validate.choice("schedule_unit", self.schedule_unit, get_args(ScheduleUnit))
        if self.t_max is not None:
            validate.integer("t_max", self.t_max, 1)
        for milestone in self.milestones:
            validate.integer("milestones", milestone, 0)
        validate.positive("gamma", self.gamma)
        validate.choice("l1_scope", self.l1_scope, get_args(L1Scope))
        validate.boolean("shuffle", self.shuffle)
        validate.integer("seed", self.seed, 0)
        check_schedule_settings(validate.changed_fields(self), self, late=False)


# The configs of Zhang et al., NeurIPS 2024's reference code ( batch 128, momentum 0.9, wd 0, 200 epochs).
PRESETS: dict[str, LompConfig] = {
    "fc5": LompConfig(epochs=200, lr=0.01, l1=5e-5),
    "fc12": LompConfig(epochs=200, lr=0.01, l1=5e-5),
    "alexnet-cifar": LompConfig(
        epochs=200, lr=0.01, l1=3e-5, warmup_epochs=5, schedule="step",
        milestones=(60, 120, 160), gamma=0.5,
    ),
    "vgg16-bn-cifar": LompConfig(epochs=200, lr=0.01, l1=1e-4, warmup_epochs=5),
    "resnet18-cifar": LompConfig(epochs=200, lr=0.1, l1=5e-5, warmup_epochs=5, schedule="cosine", t_max=200),
    "resnet50-cifar": LompConfig(epochs=200, lr=0.1, l1=2e-5, warmup_epochs=5, schedule="cosine", t_max=200),
}

# The train command's settings where no preset gives them (its --help states them).
TRAIN_DEFAULTS = LompConfig(epochs=30, lr=0.05, l1=1e-4)


def lomp_config(preset: str | None = None, **settings: Any) -> LompConfig:
    """``preset``'s settings (else :data:`TRAIN_DEFAULTS`) with ``settings``, fields of
    :class:`LompConfig`, replaced: an unknown name is a ``UsageError`` listing the known
    ones, a bad value an ``OptionError`` naming it; typed ``milestones`` that would change
    nothing are refused (:func:`check_schedule_settings`)."""
    if preset is not None:
        validate.choice("preset", preset, PRESETS)
    validate.known_fields(LompConfig, settings, "training settings")
    base = PRESETS[preset] if preset else TRAIN_DEFAULTS
    epochs = settings.get("epochs")
    if preset and "warmup_epochs" not in settings and isinstance(epochs, int) and 0 < epochs < base.warmup_epochs:
        # the warm-up is the preset's, not typed: name what was typed and the way out
        raise OptionError("epochs", f"{{0}} {epochs} is shorter than the {base.warmup_epochs} warm-up epochs of "
                          f"{option('preset', preset)}; give {{0}} at least {base.warmup_epochs}, or {{1}} at most "
                          f"{epochs}", "warmup_epochs")
    schedule = settings.get("schedule", base.schedule)
    # a preset's settings of its own schedule, left unread by another one asked for, go back to
    # their defaults (a LompConfig refuses them beside it); the typed ones are refused there
    unread = {name: getattr(LompConfig, name) for name, own in _SCHEDULE_SETTINGS.items()
              if own != schedule and name not in settings}
    config = dataclasses.replace(base, **{**unread, **settings})
    check_schedule_settings(settings, config)
    return config


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: learning rate at its first step, mean data loss, λ‖w‖₁ at its end, eval."""

    epoch: int
    lr: float
    train_loss: float
    penalty: float
    eval_loss: float | None
    eval_accuracy: float | None


@shown("train", train_summary)
@compared_by_value
@dataclass(frozen=True)
class TrainResult:
    """Per-epoch history (resumed epochs included), iterations run in this call, wall time,
    and the final resumable state (same form as the checkpoint callback's)."""

    history: tuple[EpochRecord, ...]
    steps: int
    seconds: float
    final_state: dict
    config: LompConfig | None = None
    warnings: tuple[str, ...] = ()  # a start training cannot move far from (all prunable weights zero)

    def to_json(self) -> dict:
        """What ``prunelimit train --json`` prints, less the ``output`` it wrote."""
        from prunelimit.report.jsonout import plain

        return plain({"config": self.config, "history": self.history, "seconds": self.seconds,
                      "warnings": list(self.warnings)})


def zero_start_warnings(weights: list[Tensor]) -> tuple[str, ...]:
    """A warning when every prunable weight training may move (``weights``: those the masks
    keep) is exactly zero: no gradient reaches a weight behind a zero layer, the units of a
    layer get equal gradients (nothing tells them apart) and λ‖w‖₁'s subgradient is 0 at 0,
    so training moves the biases and little else. Weights the masks prune are zero by
    design: a fine-tuning whose masks keep none (``verify --refit``'s probe at 0.999) is
    no model left uninitialised."""
    count = sum(w.numel() for w in weights)
    if not count or any(bool(w.any()) for w in weights):
        return ()
    fix = said("give --model a spec or factory that initialises them (a built-in spec does)",
               "initialise the model's weights before training (a new nn.Linear's are random)")
    return (f"all {count:,} prunable weights are exactly zero at the start: no gradient reaches a weight "
            "behind a zero layer, the units of each layer stay alike and the l1 penalty has no pull at 0, so "
            f"training moves the biases and little else; {fix}",)


def lr_factor(step: int, warmup_steps: int, config: LompConfig, total_steps: int) -> float:
    """Multiplier of the base learning rate at schedule step ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if config.schedule == "cosine":
        period = config.t_max or max(total_steps - warmup_steps, 1)
        return cosine(step - warmup_steps, period)
    if config.schedule == "step":
        return config.gamma ** bisect_right(sorted(config.milestones), step)
    return 1.0


def _epoch_batches(data: list[Tensor], config: LompConfig, epoch: int) -> Iterator[Batch]:
    n = data[0].shape[0]
    if config.shuffle:
        gen = torch.Generator().manual_seed((config.seed * 1_000_003 + epoch) % 2**64)  # same for every seed < 2**44
        index = torch.randperm(n, generator=gen).to(data[0].device)
    else:
        index = torch.arange(n, device=data[0].device)
    for start in range(0, n, config.batch_size):
        idx = index[start : start + config.batch_size]
        yield tuple(t[idx] for t in data)


def _l1_parameters(model: nn.Module, config: LompConfig, selection: ParamSelection) -> list[Tensor]:
    prunable = [p for _, p in prunable_parameters(model, selection)]
    if config.l1_scope == "prunable":
        return prunable
    # the reference's weights and biases added to the prunable set, never taken from it: an LSTM's
    # weight_ih_l0 and bias_ih_l0 end in neither word
    named = [p for n, p in model.named_parameters() if any(w in n.rsplit(".", 1)[-1] for w in ("weight", "bias"))]
    return list({id(p): p for p in (*prunable, *named)}.values())


def require_joinable(train_batches: Batches) -> None:
    """Refuse training data that cannot be joined, to be reshuffled and cut into
    ``batch_size`` batches every epoch: batches given in hand of their own lengths (a loader
    padding each batch). torch's "Sizes of tensors must match" came from joining them, in
    train, and in verify's refit after its whole spectrum."""
    other = next((i for i, b in enumerate(train_batches) if batch_form(b) != batch_form(train_batches[0])), None)
    if other is not None:
        shapes = [" and ".join(f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}" for t in train_batches[i])
                  for i in (0, other)]
        raise InputError(f"training reshuffles the samples of every batch of its data and cuts them into batch_size "
                         f"batches every epoch, so they need one shape past the samples, but data batch 0 holds "
                         f"{shapes[0]}, batch {other} {shapes[1]}: pad every batch to one length")


def train(
    model: nn.Module,
    train_batches: Batches,
    loss_fn: LossFn,
    config: LompConfig,
    *,
    eval_batches: Batches | None = None,
    selection: ParamSelection = ParamSelection(),
    masks: Mapping[str, Tensor] | None = None,
    progress: Progress | None = None,
    checkpoint: Checkpoint | None = None,
    resume_state: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` in place with SGD on ``loss_fn + λ‖w‖₁``.

    ``train_batches`` are re-batched to ``config.batch_size`` (shuffled when
    ``config.shuffle``). After every epoch the model is evaluated on ``eval_batches``
    (if given) and ``checkpoint`` receives a resumable state (see :func:`_state`);
    passing that state back as ``resume_state`` continues from the next epoch.
    ``masks`` (keep-masks by parameter name) hold pruned weights, their gradients and
    momentum at zero. ``progress(step, total_steps)`` is called after each iteration.
    """
    if not train_batches:
        raise InputError("the training data has no batches; check --data and --max-samples")
    require_joinable(train_batches)
    data = [torch.cat([b[i] for b in train_batches]) for i in range(len(train_batches[0]))]
    iters = math.ceil(data[0].shape[0] / config.batch_size)
    require_normalisable(model, [data[0].shape[0] % config.batch_size])  # the last batch of each epoch
    per_iter = config.schedule_unit == "iteration"
    warmup = config.warmup_epochs * (iters if per_iter else 1)
    sched_total = config.epochs * (iters if per_iter else 1)
    penalised = _l1_parameters(model, config, selection)
    notes = zero_start_warnings([p.detach()[masks[name].to(p.device, torch.bool)] if masks and name in masks
                                 else p.detach() for name, p in prunable_parameters(model, selection)])
    for note in notes:  # said at the start: the epochs that follow would be spent in vain
        warn(note, stacklevel=2)
    optimizer = sgd(model, config.lr, config.momentum, config.weight_decay, config.nesterov)
    start, history = 0, []
    if resume_state is not None:
        start, history = _resume(model, optimizer, config, resume_state)
    schedule = factor_schedule(optimizer, config.lr, lambda k: lr_factor(k, warmup, config, sched_total),
                               start * iters if per_iter else start)

    def end_of_epoch(done: EpochLoss) -> None:
        with torch.no_grad():
            penalty = config.l1 * float(l1_norm(penalised))
        ev = evaluate(model, eval_batches, loss_fn) if eval_batches is not None else None
        history.append(EpochRecord(
            epoch=done.epoch + 1, lr=done.lr, train_loss=done.loss, penalty=penalty,
            eval_loss=ev.loss if ev else None, eval_accuracy=ev.accuracy if ev else None,
        ))
        if checkpoint is not None:
            checkpoint(_state(model, optimizer, config, done.epoch + 1, done.step, history))

    t0 = time.perf_counter()
    run = train_masked(
        model, optimizer, loss_fn, lambda epoch: _epoch_batches(data, config, epoch), epochs=config.epochs,
        start_epoch=start, steps_per_epoch=iters, masks=masks, l1=config.l1, l1_params=penalised,
        schedulers=(schedule,), schedule_unit=config.schedule_unit, on_step=progress, on_epoch=end_of_epoch,
    )
    final = _state(model, optimizer, config, config.epochs, config.epochs * iters, history)
    return TrainResult(
        history=tuple(history), steps=run.steps, seconds=time.perf_counter() - t0, final_state=final,
        config=config, warnings=notes,
    )


def _state(
    model: nn.Module, optimizer: torch.optim.Optimizer, config: LompConfig,
    epoch: int, step: int, history: list[EpochRecord],
) -> dict:
    """Everything a resumed run needs, as plain containers (``torch.load(weights_only=True)`` safe).

    Deep-copied so the caller may keep it in memory while training goes on.
    """
    return copy.deepcopy({
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": {"unit": config.schedule_unit, "epoch": epoch, "iteration": step},
        "config": _config_dict(config),
        "history": [asdict(h) for h in history],
        "rng": torch.get_rng_state(),
    })


def _config_dict(config: LompConfig) -> dict:
    d = asdict(config)
    d["milestones"] = list(config.milestones)
    return d


def check_resume_state(state: Any, config: LompConfig, what: str = "the resume state") -> None:
    """Refuse a resume state (read from a checkpoint file, so from anyone) that :func:`_resume`
    could not apply: ``InputError`` naming ``what`` for a damaged one, ``UsageError`` for one
    trained with other settings. Checked before any data is loaded or any step taken."""
    problem = _resume_state_problem(state, config)
    if problem:
        raise InputError(f"{what} is damaged ({problem}); train again without --resume, or with another -o")
    saved, now = state["config"], _config_dict(config)
    # Any change (even epochs, which sets the cosine period) would alter the finished epochs;
    # a setting of another schedule than both runs' does not (one a preset set and an older
    # version kept beside another schedule: lomp_config now puts it back to its default)
    diff = sorted(k for k in now
                  if saved.get(k) != now[k] and _SCHEDULE_SETTINGS.get(k, config.schedule) == config.schedule)
    if diff:
        values = ", ".join(f"{key} {_setting_text(saved.get(key))} there and {_setting_text(now[key])} here"
                           for key in diff)
        raise UsageError(f"{what} was trained with different settings ({', '.join(diff)}): {values}; "
                         f"{_same_settings(diff, saved)}")


# the settings the command line sets by a flag of their own name (the rest by --preset or --l1-biases)
_FLAGGED_SETTINGS = ("epochs", "lr", "l1", "momentum", "batch_size", "warmup_epochs", "schedule", "seed")


def _setting_text(value: Any) -> str:
    """A saved or given training setting as a message shows it: a float as ``:g`` writes it."""
    return f"{value:g}" if isinstance(value, float) else str(list(value) if isinstance(value, tuple) else value)


def _same_settings(diff: list[str], saved: Mapping[str, Any]) -> str:
    """How to resume with the settings the state was trained with: each by its flag, or to a
    library caller by its field ("use the same config" named none of them, nor their values)."""
    if said("", "library"):
        return "resume with " + ", ".join(option(key, saved.get(key)) for key in diff)
    flags = [option(key, saved.get(key)) for key in diff if key in _FLAGGED_SETTINGS]
    biases = saved.get("l1_scope") == "reference"
    if "l1_scope" in diff and biases:
        flags.append("--l1-biases")
    rest = [key for key in diff if key not in _FLAGGED_SETTINGS and key != "l1_scope"]
    parts = (f"with {' '.join(flags)}" if flags else "", "without --l1-biases" if "l1_scope" in diff and not biases
             else "", f"with the --preset that set {', '.join(rest)} there" if rest else "")
    return "resume " + " and ".join(part for part in parts if part)


def _resume_state_problem(state: Any, config: LompConfig) -> str | None:
    """What is wrong with the structure of a resume state, or ``None`` (the layout of :func:`_state`)."""
    if not isinstance(state, Mapping):
        return f"a {type(state).__name__}, not a dict"
    kinds = {"epoch": (int, "an integer"), "optimizer": (Mapping, "a dict"), "config": (Mapping, "a dict"),
             "history": (list, "a list"), "rng": (Tensor, "a tensor")}
    for key, (kind, name) in kinds.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            return f"entry {key!r} is missing or not {name}"
    # the epochs of the run that wrote it: a file of a longer run resumed with a smaller --epochs
    # is another setting (a UsageError below), not damage (it said "damaged", exit 3)
    saved = state["config"].get("epochs")
    limit = saved if isinstance(saved, int) and not isinstance(saved, bool) else config.epochs
    if not 0 <= state["epoch"] <= limit:
        return f"epoch {state['epoch']} is outside 0..{limit}"
    if len(state["history"]) != state["epoch"]:
        return f"{len(state['history'])} history rows for {state['epoch']} epochs"
    fields = {f.name for f in dataclasses.fields(EpochRecord)}
    if not all(isinstance(h, Mapping) and set(h) == fields for h in state["history"]):
        return "a history row is not an epoch record"
    rng, own = state["rng"], torch.get_rng_state()
    if rng.dtype != own.dtype or rng.shape != own.shape:
        return f"random generator state of {rng.dtype} {tuple(rng.shape)}, not {own.dtype} {tuple(own.shape)}"
    return None


def _resume(
    model: nn.Module, optimizer: torch.optim.Optimizer, config: LompConfig, state: Mapping[str, Any]
) -> tuple[int, list[EpochRecord]]:
    check_resume_state(state, config)
    model.load_state_dict(state["model"])
    try:  # the structure is checked; the optimizer's own check compares its groups with the model's
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        history = [EpochRecord(**h) for h in state["history"]]
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise InputError(f"the resume state does not fit this model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:150] if str(exc) else ''}); train again without --resume, "
                         "or with another -o") from None
    return state["epoch"], history
