"""The pruning laws as commands: ``nplh``, ``imp`` and ``hyperflux``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from prunelimit.api.curvature import require_data
from prunelimit.api.training import starting_point
from prunelimit.errors import UsageError
from prunelimit.inputs import Inputs
from prunelimit.models.evaluate import evaluate

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------- laws

DEFAULT_PRESSURES = tuple(2.0**k for k in np.arange(-4.0, 6.0, 0.5))  # Γ ladder for --mode pressure


def parse_region(text: str) -> tuple[float, float] | str:
    """``auto`` or ``LOW,HIGH`` density fractions for the pruning-law fit."""
    if text == "auto":
        return "auto"
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--region {text!r}: use auto or LOW,HIGH densities, e.g. 0.005,0.5") from None
    if not 0 < low < high <= 1:
        raise UsageError(f"--region {text!r}: need 0 < LOW < HIGH <= 1 (fractions, not percent)")
    return (low, high)


def nplh(
    inputs: Inputs, metric: str = "magnitude", mode: str = "static", region: tuple[float, float] | str = (0.005, 0.5),
    rate: float = 0.1, finetune_steps: int = 20, pressures: tuple[float, ...] = DEFAULT_PRESSURES,
    epochs_per_level: int = 3, seed: int = 0,
):
    """Record (density, γ) points for a saliency and fit the Neural Pruning Law (laws.md Part A)."""
    from prunelimit.laws.nplh import (
        fit_nplh,
        iterative_points,
        pressure_points,
        static_points,
    )
    from prunelimit.laws.saliency import compute_saliency

    require_data(inputs)
    if mode == "static":
        scores = compute_saliency(inputs.model, inputs.batches, inputs.loss_fn, metric, selection=inputs.selection,
                                  seed=seed).scores
        points = static_points(scores)
    elif mode == "iterative":
        points = iterative_points(inputs.model, inputs.batches, inputs.loss_fn, metric, rate=rate,
                                  finetune_steps=finetune_steps, seed=seed, selection=inputs.selection).points
    elif mode == "pressure":
        points = pressure_points(inputs.model, inputs.batches, inputs.loss_fn, pressures, epochs_per_level, seed)
    else:
        raise UsageError(f"--mode {mode!r}: use static, iterative or pressure")
    return fit_nplh(points, region=region, seed=seed)


def imp(
    source: str, output, data: str | None, eval_data: str | None, rate: float = 0.2, levels: int = 10,
    rewind: str = "init", rewind_steps: int = 10, epochs: int = 5, epochs_dense: int | None = None,
    lr: float = 0.05, model: str | None = None, loss: str = "ce", batch_size: int = 128,
    max_samples: int | None = None, trust_pickle: bool = False, download: bool = False, device: str = "auto",
    seed: int = 0,
):
    """IMP from a checkpoint (``source`` is a file) or from a fresh model (``source`` is a spec)."""
    from pathlib import Path

    from prunelimit.io.outputs import preflight
    from prunelimit.laws.imp import iterative_magnitude_pruning, output_folder

    preflight([output_folder(output)], [source, model, data, eval_data, loss])
    from_file = Path(source).is_file()
    start = starting_point(source if from_file else None, source if not from_file else model, data, eval_data,
                           loss, batch_size, max_samples, trust_pickle, download, device, seed)
    net, train, evaluation, loss_fn = start.model, start.train, start.evaluation, start.loss_fn
    if epochs_dense is None:  # a checkpoint is taken as trained; a fresh model trains like every level
        epochs_dense = 0 if from_file else epochs
    return iterative_magnitude_pruning(net, train, evaluation, loss_fn, rate=rate, levels=levels, rewind=rewind,
                                       rewind_steps=rewind_steps, epochs_per_level=epochs, epochs_dense=epochs_dense,
                                       lr=lr, seed=seed, out_dir=output)


def hyperflux(
    checkpoint, model: str | None, data: str | None, eval_data: str | None, target_density: float, output,
    pruning_epochs: int = 40, regrowth_epochs: int = 10, weight_lr: float = 0.01, gate_lr: float = 1e-2,
    log=None, loss: str = "ce", batch_size: int = 128, max_samples: int | None = None, trust_pickle: bool = False,
    download: bool = False, device: str = "auto", seed: int = 0, force: bool = False,
) -> dict:
    """Hyperflux L0 pruning (laws.md Part A) of a checkpoint or a fresh model; saves the pruned file."""
    import csv
    import io

    from prunelimit.io.atomic import write_text_atomic
    from prunelimit.io.checkpoint import save_checkpoint
    from prunelimit.io.outputs import Output, optional, preflight
    from prunelimit.laws.hyperflux import hyperflux_prune

    preflight([Output("-o", output, "checkpoint"), optional("--log", log, "csv")],
              [checkpoint, model, data, eval_data, loss], force)
    start = starting_point(checkpoint, model, data, eval_data, loss, batch_size, max_samples, trust_pickle,
                           download, device, seed)
    net, batches, evaluation, loss_fn, spec = start.model, start.train, start.evaluation, start.loss_fn, start.spec
    data, eval_data = start.data, start.eval_data
    dense = evaluate(net, evaluation, loss_fn)
    result = hyperflux_prune(net, batches, loss_fn, target_density, pruning_epochs, regrowth_epochs, seed,
                             weight_lr=weight_lr, gate_lr=gate_lr)
    after = evaluate(net, evaluation, loss_fn)
    masks = dict(zip(result.names, result.masks))
    save_checkpoint(output, spec, net.state_dict(), masks, {"data": data, "eval_data": eval_data,
                                                            "pruned": {"method": "hyperflux", "density": result.density}},
                    force)
    if log is not None:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["epoch", "phase", "pressure", "density", "target", "loss"])
        for e in result.log:
            writer.writerow([e.epoch, e.phase, e.pressure, e.density, e.target, e.loss])
        write_text_atomic(log, buf.getvalue(), force)
    return {
        "output": str(output), "requested_density": target_density, "density": result.density,
        "before": {"loss": dense.loss, "accuracy": dense.accuracy},
        "after": {"loss": after.loss, "accuracy": after.accuracy},
        "log": [{"epoch": e.epoch, "phase": e.phase, "pressure": e.pressure, "density": e.density} for e in result.log],
    }
