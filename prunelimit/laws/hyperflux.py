"""Hyperflux: L0 pruning with gates, flux and a global pressure.

Barbulescu, Alexoaie & Busoniu, "The Neural Pruning Law Hypothesis" / "Hyperflux"
(arXiv 2504.05349); where the paper is silent the authors' code is the reference.

Every prunable weight θ_i gets a real gate t_i; the forward pass uses θ_i·H(t_i)
(H(0) = 1) and the backward pass treats H as κ·identity (straight-through, κ = 0.25).
The loss is L_D + Γ·mean(t): the pressure Γ pushes every gate down equally, the flux
(−∂L_D/∂t_i) pushes a useful weight's gate back up, so at equilibrium the kept set is
{i : flux_i > Γ/N}. Gates are trained with Adam, weights with SGD + momentum.

Two drivers:

* :func:`hyperflux_prune` — the pruning run (the authors' code): a pressure controller steers
  the density along a sigmoid trajectory to the target, then a regrowth phase with
  Γ = 0 and an exponentially decaying gate learning rate.
* :func:`pressure_ladder` — the NPLH measurement (the authors' code): Γ held constant for
  a number of epochs per level on a ladder of pressures, density recorded per level.

Deviations from the reference code, for small models and a CPU budget:

* the data loss is the caller's ``loss_fn`` (the reference uses label smoothing 0.1);
* no mixed precision; learning rates, epochs, gate-lr and the controller step Δ are
  :class:`HyperfluxConfig` fields (the reference defaults are for ResNet-50 on CIFAR);
* the regrowth phase's weight learning rate is tied to ``weight_lr``: it restarts at
  ``weight_lr/10`` and falls by a cosine to ``weight_lr/100``, where the reference restarts
  at its pruning rate/100 and falls to /1000 (0.1 → 0.001 → 1e-4 on CIFAR), so regrowth
  here trains the weights 10× faster than the reference's would at the same ``weight_lr``;
* the regrowth phase restarts the gates' Adam moments: kept, they carried the pressure
  phase's Γ/N into Γ = 0 and closed gates for epochs (a gate with zero flux went on falling);
* the trajectory targets ``target_density · regrowth_headroom`` at the end of the
  pruning phase, leaving room for the regrowth phase to bring weights back (the
  reference's older setups shrank the request by 10/13 for the same reason); with no
  regrowth epochs it targets ``target_density`` itself;
* the pressure is cut (Γ = 0, the gates' Adam first moments zeroed) for the rest of an
  epoch from the step the density reaches that epoch's target. Adam moves every gate whose
  flux is below Γ/N by about ``gate_lr`` a step whatever Γ is, so the gates fall together
  and the density drops in a block once they reach 0; the reference's hundreds of steps an
  epoch hide that, but on a few batches an epoch the controller, which sees the density only
  at the epoch's end, had kept raising Γ while the gates were still on their way down
  (windup) and the density fell far past its target (0.3 from 40 % ended at 12 %);
* a run whose gates cannot fall from ``gate_init`` to 0 in its pressure steps
  (:func:`gate_travel`) is refused before training: it ended unpruned.

Both drivers leave the model's prunable weights masked (θ·m) in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler

from prunelimit import validate
from prunelimit.data.batches import Batches, LossFn
from prunelimit.errors import InputError, OptionError, UsageError, fields_named, option, quoted, said
from prunelimit.laws.saliency import STE_SCALE, WeightOverride, check_substitutable
from prunelimit.models.activation_checkpointing import checkpoint_runs
from prunelimit.models.params import ParamSelection, required_prunable
from prunelimit.pruning.masks import Masks, apply_masks
from prunelimit.pruning.training import (
    EpochLoss, StepHook, cosine, factor_schedule, sgd, train_masked,
)
from prunelimit.report.rounding import percent

R_INF = 0.999  # asymptotic per-epoch retention of the trajectory (the authors' code)


class _StraightThroughStep(torch.autograd.Function):
    """H(t) = 1[t ≥ 0] forward; κ·identity backward (the authors' code)."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:  # type: ignore[override]
        return (t >= 0).to(t.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return STE_SCALE * grad


def _sigmoid_ramp(pruning_epochs: int) -> np.ndarray:
    e = np.arange(1, pruning_epochs + 1, dtype=float)
    return 1.0 / (1.0 + np.exp(-(6.0 / pruning_epochs) * (e - pruning_epochs / 2.0)))


def trajectory_floor(pruning_epochs: int) -> float:
    """The lowest density a trajectory of ``pruning_epochs`` epochs can end at (r0 = 0)."""
    return float(np.prod(R_INF * _sigmoid_ramp(pruning_epochs)))


def retention_trajectory(target_density: float, pruning_epochs: int, start: float = 1.0) -> np.ndarray:
    """Expected density after epochs 1..E_p (the authors' code), from ``start`` (the density
    the model starts at: 1 unless it is already pruned) ending exactly at the target.

    Per-epoch retention r(e) = r0 + (R_INF − r0)·σ(6/E_p·(e − E_p/2)); r0 is the root
    of start·∏ r(e) = target on [0, R_INF] (found with ``brentq`` instead of bisection).
    """
    if pruning_epochs < 1:
        raise UsageError("Hyperflux needs at least one pruning epoch")
    sig = _sigmoid_ramp(pruning_epochs)
    kept = target_density / start  # the fraction of the start's weights the trajectory keeps
    # what a pruned start keeps is named: the limits are fractions of it, not of every weight
    of_start = "" if start == 1.0 else f" (a fraction {kept:.4g} of the density {start:.4g} the model starts at)"

    def log_final(r0: float) -> float:
        return float(np.sum(np.log(r0 + (R_INF - r0) * sig)) - math.log(kept))

    if log_final(R_INF) < 0:
        raise UsageError(
            f"target density {target_density:.4g}{of_start} is above what {pruning_epochs} pruning epochs "
            f"reach at minimum pruning ({R_INF ** pruning_epochs:.4f}{' of it' if of_start else ''}); "
            "use fewer epochs"
        )
    if kept < trajectory_floor(pruning_epochs):  # it ended above the target (r0 was clipped)
        raise UsageError(
            f"target density {target_density:.4g}{of_start} is below what {pruning_epochs} pruning epochs' "
            f"trajectory reaches at its fastest ({trajectory_floor(pruning_epochs):.4g}"
            f"{' of it' if of_start else ''}); use more pruning epochs"
        )
    from scipy.optimize import brentq  # here: the command line imports this module to start

    r0 = brentq(log_final, 0.0, R_INF, xtol=1e-12)
    return start * np.cumprod(r0 + (R_INF - r0) * sig)


def gate_travel(target_density: float, start: float, gate_init: tuple[float, float]) -> float:
    """How far gates must fall for the density to go from ``start`` to ``target_density``: the
    open gates start uniform in ``gate_init`` = (lo, hi), and closing the fraction
    f = 1 − target/start of them takes at least the f-quantile of their start, lo + (hi − lo)·f."""
    closing = 1.0 - target_density / start
    lo, hi = gate_init
    return lo + (hi - lo) * closing if closing > 0 else 0.0


def check_gate_travel(target_density: float, start: float, c: "HyperfluxConfig", batches: int) -> None:
    """Refuse a run whose gates cannot reach the target: Adam moves a gate about ``gate_lr`` a
    step, so its ``pruning_epochs · batches`` steps must cover :func:`gate_travel` (below it, a
    run ended at density 1.0 having trained every epoch)."""
    travel = gate_travel(target_density, start, c.gate_init)
    steps = c.pruning_epochs * batches
    needed = math.ceil(travel / c.gate_lr - 1e-9)  # the steps that cover it (less round-off)
    if steps >= needed:
        return
    lr = travel / steps
    scale = 10.0 ** (math.floor(math.log10(lr)) - 1)
    lr = math.ceil(lr / scale - 1e-9) * scale  # two digits, rounded up: the value shown must pass
    lo, hi = c.gate_init
    raise OptionError(  # target_density a field: the library's hyperflux() calls it density
        "pruning_epochs",
        f"{option('pruning_epochs', c.pruning_epochs)} × {_batches(batches)} = "
        f"{steps} gate steps at {option('gate_lr', c.gate_lr)} move a gate about {steps * c.gate_lr:.2g}, and "
        f"{option('target_density', target_density, '{1}')} closes {percent(1 - target_density / start, 0)} of the open gates, "
        f"which start in [{lo:g}, {hi:g}]: the last of them must fall {travel:.2g}; use "
        f"{option('pruning_epochs', math.ceil(needed / batches))}, {option('gate_lr', float(f'{lr:.2g}'))}, or "
        f"{math.ceil(needed / c.pruning_epochs)} batches an epoch ({_more_batches()})", "target_density")


def check_ladder_travel(levels: int, epochs_per_level: int, c: "HyperfluxConfig", batches: int) -> None:
    """Refuse a pressure ladder whose gates cannot close at all: its ``levels · epochs_per_level
    · batches`` steps move a gate about ``gate_lr`` each, and the lowest gate starts at
    ``gate_init[0]`` (below it, every level ended at density 1.0 after all its training)."""
    steps = levels * epochs_per_level * batches
    lo = c.gate_init[0]
    if steps * c.gate_lr >= lo:
        return
    per_level = math.ceil(lo / c.gate_lr / (levels * batches) - 1e-9)
    raise OptionError(
        "epochs_per_level",
        f"{levels} pressure level{'s' if levels > 1 else ''} × {option('epochs_per_level', epochs_per_level)} × "
        f"{_batches(batches)} = {steps} gate steps at a gate learning rate of {c.gate_lr:g} move a gate about "
        f"{steps * c.gate_lr:.2g}, less than the {lo:g} the lowest gate starts at: no weight can be pruned; use "
        f"{option('epochs_per_level', per_level)} or more batches an epoch ({_more_batches()})")


def _batches(count: int) -> str:
    return f"{count} batch{'es' if count > 1 else ''}"


def _more_batches() -> str:
    """How a reader gets more gate steps an epoch without more epochs."""
    return said("more samples (--max-samples) or a smaller --batch-size", "more or smaller batches")


@dataclass
class PressureController:
    """Accelerating up/down controller on the pressure state g; Γ = g^β (the authors' code).
    ``cut``: Γ is 0 until the next :meth:`step` (the density reached its target mid-epoch)."""

    delta: float = 0.2
    beta: float = 1.5
    g: float = 0.0
    up: float = 0.0
    down: float = 0.0
    cut: bool = False

    @property
    def pressure(self) -> float:
        """The epoch's Γ, as the controller set it."""
        return self.g**self.beta

    @property
    def applied(self) -> float:
        """The Γ a training step applies: 0 once the epoch's pressure is cut."""
        return 0.0 if self.cut else self.pressure

    def step(self, observed_density: float, expected_density: float) -> float:
        self.cut = False
        if observed_density > expected_density:
            self.g += self.delta + self.up
            self.up += self.delta / 4
            self.down = 0.0
        else:
            self.g = max(0.0, self.g - self.delta - self.down)
            self.down += self.delta / 4
            self.up = 0.0
        return self.pressure


@dataclass(frozen=True)
class HyperfluxEpoch:
    """One epoch of a run: phase, pressure used, density after it, target, mean loss."""

    epoch: int
    phase: str  # "prune", "regrow" or "level"
    pressure: float
    density: float
    target: float | None
    loss: float


@dataclass(frozen=True)
class HyperfluxResult:
    """Final keep-masks (parameter name → bool tensor, ``prunable_parameters`` order),
    achieved density, the epoch log and the density the run started at (below 1 for a
    pruned model: its trajectory starts there)."""

    masks: Masks
    density: float
    requested_density: float
    log: tuple[HyperfluxEpoch, ...]
    start_density: float = 1.0

    def pressure_density(self) -> tuple[tuple[float, float], ...]:
        """(Γ, density) of each pruning-phase epoch with Γ > 0."""
        return tuple((e.pressure, e.density) for e in self.log if e.phase == "prune" and e.pressure > 0)


@dataclass(frozen=True)
class PressureLadder:
    """Density reached at the end of each constant-pressure level; final keep-masks by name."""

    masks: Masks
    pressures: tuple[float, ...]
    densities: tuple[float, ...]
    log: tuple[HyperfluxEpoch, ...]


@dataclass(frozen=True)
class HyperfluxConfig:
    """Hyperflux settings (the command line's defaults); the first block also drives
    :func:`pressure_ladder`.

    Weights train with SGD (``weight_lr``, ``momentum``, ``weight_decay``), gates with
    Adam (``gate_lr``), gates start uniform in ``gate_init``. The pruning run: the
    controller's step Δ and exponent β (Γ = g^β), the phase lengths, and the regrowth
    phase's gate learning rate (``gate_lr·regrowth_gate_lr_factor``, times
    ``regrowth_gate_decay`` each epoch); the trajectory aims at
    ``target_density·regrowth_headroom`` so that regrowth has room to bring weights back
    (``target_density`` itself when ``regrowth_epochs`` is 0).
    """

    weight_lr: float = 0.01
    gate_lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    gate_init: tuple[float, float] = (0.2, 0.5)
    seed: int = 0
    pruning_epochs: int = 40
    regrowth_epochs: int = 10
    pressure_step: float = 0.2
    pressure_exponent: float = 1.5
    regrowth_gate_lr_factor: float = 1.0
    regrowth_gate_decay: float = 0.75
    regrowth_headroom: float = 0.9

    @fields_named
    def __post_init__(self) -> None:
        """Refuse invalid values (``OptionError``, a ``ValueError``, naming the field)."""
        validate.plain_fields(self)  # NumPy scalars and 0-d tensors as the numbers they hold
        validate.positive("weight_lr", self.weight_lr)
        validate.positive("gate_lr", self.gate_lr)
        validate.momentum("momentum", self.momentum)
        validate.non_negative("weight_decay", self.weight_decay)
        validate.pair("gate_init", self.gate_init)
        validate.non_negative("gate_init", self.gate_init[0])
        validate.integer("seed", self.seed, 0)
        validate.integer("pruning_epochs", self.pruning_epochs, 1)
        validate.integer("regrowth_epochs", self.regrowth_epochs, 0)
        validate.positive("pressure_step", self.pressure_step)
        validate.positive("pressure_exponent", self.pressure_exponent)
        validate.non_negative("regrowth_gate_lr_factor", self.regrowth_gate_lr_factor)
        validate.positive("regrowth_gate_decay", self.regrowth_gate_decay)
        if not (validate.real(self.regrowth_headroom) and 0.0 < self.regrowth_headroom <= 1.0):
            raise OptionError("regrowth_headroom", f"{{0}} must lie in (0, 1], got {quoted(self.regrowth_headroom)}")
        # a regrowth setting away from its default beside no regrowth phase: ignored in silence
        check_regrowth_settings(list(validate.changed_fields(self)), self)


# the settings only the regrowth phase reads
REGROWTH_SETTINGS = ("regrowth_gate_lr_factor", "regrowth_gate_decay")


def check_regrowth_settings(given: Iterable[str], config: HyperfluxConfig) -> None:
    """Regrowth settings given (field names) beside ``regrowth_epochs=0``, which runs no
    regrowth phase: ignored, the run would not be the one asked for."""
    unused = [name for name in REGROWTH_SETTINGS if name in given]
    if unused and not config.regrowth_epochs:
        raise OptionError(unused[0], f"{{0}} applies to the regrowth phase, which {option('regrowth_epochs', 0)} "
                          f"does not run; raise {{1}} or drop it", "regrowth_epochs")


# Either form of torch.utils.checkpoint recomputes its segment in backward, after functional_call
# has put the module's own weights back: the gradients inside it were of the unpruned weights
# (measured: other densities than the same model's without checkpointing), or none at all.
CHECKPOINTED = ("the model runs torch.utils.checkpoint (activation checkpointing), whose backward recomputes the "
                "segment with the module's own weights, not the gated ones Hyperflux trains "
                "(torch.func.functional_call), reentrant or not: the gradients inside it would be wrong; run "
                "Hyperflux on the model without activation checkpointing (it saves memory, it does not change "
                "the model)")


class _GatedNet:
    """The prunable weights of ``model`` with one gate per weight and both optimisers."""

    def __init__(self, model: nn.Module, selection: ParamSelection, c: HyperfluxConfig,
                 held: Masks | None = None) -> None:
        named = required_prunable(model, selection)
        self.model = model
        self.names = tuple(n for n, _ in named)
        self.params = [p for _, p in named]
        gen = torch.Generator().manual_seed(c.seed)
        lo, hi = c.gate_init
        self.gates = [
            (lo + (hi - lo) * torch.rand(p.shape, generator=gen, dtype=p.dtype))
            .to(p.device)
            for p in self.params
        ]
        self.held = held or None
        if self.held:
            # A pruned weight's gate starts closed (any negative value): the loss's gradient on a
            # gate is zero for a zero weight, so only the pressure moves it, and only down.
            self.gates = [torch.where(self.held[n].to(t.device, torch.bool), t, torch.full_like(t, -1.0))
                          if n in self.held else t for n, t in zip(self.names, self.gates)]
        for t in self.gates:
            t.requires_grad_(True)
        self.n = sum(p.numel() for p in self.params)
        self.weight_opt = sgd(model, c.weight_lr, c.momentum, c.weight_decay)
        self.gate_opt = torch.optim.Adam(self.gates, lr=c.gate_lr)

    def density(self) -> float:
        with torch.no_grad():
            return sum(int((t >= 0).sum()) for t in self.gates) / self.n

    def masks(self) -> Masks:
        return {n: t.detach() >= 0 for n, t in zip(self.names, self.gates)}

    def train(
        self, batches: Batches, loss_fn: LossFn, epochs: int, pressure: Callable[[], float],
        on_epoch: Callable[[EpochLoss], None], schedulers: Sequence[LRScheduler] = (),
        on_step: StepHook | None = None,
    ) -> None:
        """Epochs of loss = L_D(θ·H(t)) + Γ·mean(t); both optimisers step per batch."""

        def gated_loss(model: nn.Module, batch) -> Tensor:
            eff = {n: p * _StraightThroughStep.apply(t) for n, p, t in zip(self.names, self.params, self.gates)}
            with checkpoint_runs() as runs:
                loss = loss_fn(WeightOverride(model, eff), batch)
            if runs:
                raise InputError(CHECKPOINTED)
            return loss

        def gate_pressure() -> Tensor:
            return pressure() * (sum(t.sum() for t in self.gates) / self.n)

        train_masked(self.model, self.weight_opt, gated_loss, batches, epochs=epochs, penalty=gate_pressure,
                     extra_optimizers=(self.gate_opt,), schedulers=schedulers, on_epoch=on_epoch, masks=self.held,
                     on_step=on_step)

    def forget_pressure(self) -> None:
        """Zero the gates' Adam first moments, the running mean of past gradients, Γ/N among
        them, which would keep pushing every gate down for tens of steps after Γ drops to 0.
        The second moments stay: they set the step size, not its direction."""
        for state in self.gate_opt.state.values():
            state["exp_avg"].zero_()

    def prune(self) -> Masks:
        """Zero the weights whose gate is closed; their masks."""
        masks = self.masks()
        apply_masks(self.model, masks)
        return masks


def hyperflux_prune(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    target_density: float,
    config: HyperfluxConfig | None = None,
    *,
    selection: ParamSelection = ParamSelection(),
    masks: Masks | None = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> HyperfluxResult:
    """Prune ``model`` in place to about ``target_density`` (kept fraction) with Hyperflux.

    Pruning phase (epochs 1..E_p): the controller compares the observed density with the
    trajectory after each epoch and sets Γ for the next one; the weight lr follows a
    cosine from ``weight_lr`` to ``weight_lr/30``. Regrowth phase: Γ = 0, weight lr reset
    to ``weight_lr/10`` with a cosine to ``weight_lr/100``, gate lr reset to
    ``gate_lr·regrowth_gate_lr_factor`` and multiplied by ``regrowth_gate_decay`` each
    epoch (zero after 50 epochs, as in the authors' code) and its Adam moments restarted, so
    Γ = 0 moves a gate only by its flux. ``options`` are :class:`HyperfluxConfig`
    fields overriding ``config`` (default ``HyperfluxConfig()``). Returns the final masks;
    the model's prunable weights are left masked. ``masks``: the keep-masks of an already
    pruned model; its pruned weights stay pruned (held at zero, their gates closed).
    ``progress(epoch, epochs)`` is called after each epoch of both phases. From the step the
    density reaches an epoch's target the pressure is cut for the rest of that epoch (the
    module's deviations); a run whose gates cannot fall far enough in its steps is refused
    before training (:func:`check_gate_travel`).
    """
    validate.open_unit("target_density", target_density)
    # before the checks of its epochs and rates: their fixes cannot make such a model run
    check_substitutable(model)
    c = replace(config or HyperfluxConfig(), **options)
    pruning_epochs, regrowth_epochs, weight_lr = c.pruning_epochs, c.regrowth_epochs, c.weight_lr
    # the headroom is room for the regrowth phase to bring weights back: without one the
    # pressure phase's end is the result, and aiming below the target only missed it
    headroom = c.regrowth_headroom if regrowth_epochs else 1.0
    aim = target_density * headroom
    torch.manual_seed(c.seed)
    net = _GatedNet(model, selection, c, masks)
    if target_density * net.n < 1:  # the run would remove every prunable weight, and miss the target by all of it
        raise OptionError("target_density", f"{option('target_density', target_density, '{0}')} keeps "
                          f"{target_density * net.n:.3g} of the {net.n:,} prunable weights, less than one; give at "
                          f"least {1 / net.n:.3g} (one weight)")
    if target_density > (start := net.density()):  # a pruned weight's gate never opens: the density only falls
        raise OptionError("target_density", f"{option('target_density', target_density, '{0}')} is above the density {start:.4g} the model "
                          f"starts at (what it has pruned stays pruned); ask for at most {start:.4g}, or start "
                          "from the unpruned model")
    if aim < start * trajectory_floor(pruning_epochs):  # the trajectory would end above it, and the run with it
        enough = next(e for e in range(pruning_epochs, 10_001) if start * trajectory_floor(e) <= aim)
        aimed = f" (the target {target_density:g} times the regrowth headroom {headroom:g})" if headroom < 1 else ""
        raise OptionError("pruning_epochs", f"{option('pruning_epochs', pruning_epochs)} cannot take the trajectory "
                          f"down to {aim:.4g}{aimed}, only to {start * trajectory_floor(pruning_epochs):.4g}; use "
                          f"{option('pruning_epochs', enough)} or more")
    _check_slowest_trajectory(target_density, aim, headroom, start, pruning_epochs)
    check_gate_travel(target_density, start, c, len(batches))
    # from the density the model starts at: a pruned start's trajectory began at 1.0, above it, and
    # the controller held Γ at 0 for the epochs the trajectory took to come down to it
    trajectory = retention_trajectory(aim, pruning_epochs, start)
    controller = PressureController(delta=c.pressure_step, beta=c.pressure_exponent)
    log: list[HyperfluxEpoch] = []

    def after_pruning_epoch(done: EpochLoss) -> None:
        density, target = net.density(), float(trajectory[done.epoch])
        log.append(HyperfluxEpoch(done.epoch + 1, "prune", controller.pressure, density, target, done.loss))
        controller.step(density, target)  # Γ for the next epoch
        if progress is not None:
            progress(len(log), pruning_epochs + regrowth_epochs)

    def cut_at_target(step: int, _total: int) -> None:
        # anti-windup: Γ stops the step the density reaches the epoch's target, and so does
        # the push Adam's first moments still carry, which would close gates for ~10 more steps
        if not controller.cut and controller.pressure > 0 and net.density() <= trajectory[(step - 1) // len(batches)]:
            controller.cut = True
            net.forget_pressure()

    def after_regrowth_epoch(done: EpochLoss) -> None:
        log.append(HyperfluxEpoch(pruning_epochs + done.epoch + 1, "regrow", 0.0, net.density(), None, done.loss))
        if progress is not None:
            progress(len(log), pruning_epochs + regrowth_epochs)

    # Base 1: each lambda gives the learning rate itself, the authors' formulas evaluated as written.
    net.train(batches, loss_fn, pruning_epochs, lambda: controller.applied, after_pruning_epoch, [
        factor_schedule(net.weight_opt, 1.0, lambda e: cosine(e, pruning_epochs, weight_lr, weight_lr / 30)),
    ], on_step=cut_at_target)
    if regrowth_epochs:
        net.forget_pressure()
        net.train(batches, loss_fn, regrowth_epochs, lambda: 0.0, after_regrowth_epoch, [
            factor_schedule(net.weight_opt, 1.0, lambda j: cosine(j, regrowth_epochs, weight_lr / 10, weight_lr / 100)),
            factor_schedule(net.gate_opt, 1.0,
                            lambda j: c.gate_lr * c.regrowth_gate_lr_factor * c.regrowth_gate_decay**j
                            if j < 50 else 0.0),
        ])
    return HyperfluxResult(
        masks=net.prune(),
        density=net.density(),
        requested_density=target_density,
        log=tuple(log),
        start_density=start,
    )


def _check_slowest_trajectory(target_density: float, aim: float, headroom: float, start: float,
                              pruning_epochs: int) -> None:
    """Refuse, naming ``pruning_epochs`` and the most that fit, a target the slowest trajectory
    (retention ``R_INF`` every epoch) falls past: ``start·R_INF^E`` below the ``aim``. The
    trajectory's own refusal ("use fewer epochs") named no setting, and the aim, the target
    times the regrowth headroom, as a "target density" the caller had not given."""
    if start * R_INF ** pruning_epochs >= aim:
        return
    most = math.floor(math.log(aim / start) / math.log(R_INF))
    while most > 0 and start * R_INF ** most < aim:  # the floor of a rounded quotient may be one too many
        most -= 1
    aimed = f"the aim {aim:.4g} (the target {target_density:g} times the regrowth headroom {headroom:g})" \
        if headroom < 1 else f"the target {aim:g}"
    if most < 1:  # not even one epoch: the target is the setting to change
        raise OptionError("target_density", f"{{0}} {target_density:g}: one pruning epoch of the slowest trajectory "
                          f"(it keeps {R_INF:g} of the weights an epoch) falls to {start * R_INF:.4g}, below "
                          f"{aimed}; ask for at most {start * R_INF / headroom:.4g}")
    raise OptionError("pruning_epochs", f"{option('pruning_epochs', pruning_epochs)} of the slowest trajectory "
                      f"(it keeps {R_INF:g} of the weights an epoch) fall to {start * R_INF ** pruning_epochs:.4g}, "
                      f"below {aimed}: the run would end under it; use {option('pruning_epochs', most)} or fewer")


def check_pressures(pressures: Sequence[float]) -> None:
    """A pressure ladder: at least one pressure, each positive and finite, in increasing order,
    each once (a level is one point, its γ the pressure: a repeat is a second point at one γ)."""
    if not isinstance(pressures, (tuple, list)):  # an array raised NumPy's 'operands could not be broadcast'
        raise OptionError("pressures", f"{{0}} must be a tuple of pressures such as (1e-4, 1e-3, 1e-2), "
                          f"got {quoted(pressures)}{validate.as_tuple_fix('pressures', pressures)}")
    values = list(pressures)
    if not values:
        raise OptionError("pressures", "{0}: give at least one pressure")
    for value in values:
        validate.positive("pressures", value)
    if values != sorted(values):
        raise OptionError("pressures", "{0}: give the pressure ladder in increasing order")
    repeated = next((v for v in values if values.count(v) > 1), None)
    if repeated is not None:
        times = values.count(repeated)
        raise OptionError("pressures", f"{{0}}: {repeated:g} is given {'twice' if times == 2 else f'{times} times'}; "
                          "each level is one point of the law, its gamma the pressure: give each pressure once "
                          "(to hold one longer, raise {1})", "epochs_per_level")


def pressure_ladder(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    pressures: Sequence[float],
    epochs_per_level: int,
    config: HyperfluxConfig | None = None,
    *,
    selection: ParamSelection = ParamSelection(),
    masks: Masks | None = None,
    **options: Any,
) -> PressureLadder:
    """Hold each pressure Γ for ``epochs_per_level`` epochs (increasing order, gates carried
    over) and record the density at the end of each level (the authors' code).

    The reference ladder is Γ = 2^k, k = −10, −9, …, 50 epochs per level. The NPLH point of
    a level is (density, γ := Γ); γ = Γ/N would only change the law's c. ``masks``: an
    already pruned model's keep-masks, held as in :func:`hyperflux_prune`.
    """
    check_pressures(pressures)
    validate.integer("epochs_per_level", epochs_per_level, 1)
    c = replace(config or HyperfluxConfig(), **options)
    check_ladder_travel(len(pressures), epochs_per_level, c, len(batches))
    torch.manual_seed(c.seed)
    net = _GatedNet(model, selection, c, masks)
    log: list[HyperfluxEpoch] = []
    densities = []
    for pressure in pressures:
        level = float(pressure)

        def after_epoch(done: EpochLoss, level: float = level) -> None:
            log.append(HyperfluxEpoch(len(log) + 1, "level", level, net.density(), None, done.loss))

        net.train(batches, loss_fn, epochs_per_level, lambda level=level: level, after_epoch)
        densities.append(net.density())
    return PressureLadder(
        masks=net.prune(),
        pressures=tuple(float(p) for p in pressures),
        densities=tuple(densities),
        log=tuple(log),
    )
