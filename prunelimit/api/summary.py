"""``info``: parameter counts, prunable layers and, with data, loss and accuracy."""

from __future__ import annotations

from dataclasses import dataclass

from prunelimit.equality import compared_by_value
from prunelimit.inputs import Inputs, recorded_selection
from prunelimit.models.evaluate import evaluate
from prunelimit.models.params import ParamSelection, hessian_parameters, prunable_parameters
from prunelimit.report.notebook import info_summary, shown


@dataclass(frozen=True)
class LayerInfo:
    name: str
    shape: tuple[int, ...]
    count: int
    zeros: int


@shown("info", info_summary)
@compared_by_value
@dataclass(frozen=True)
class InfoReport:
    """Architecture summary: parameter counts, prunable layers and, with data, loss/accuracy."""

    checkpoint: str | None  # None for a model in memory (``prunelimit.info``)
    model: str | None
    source: str
    params_total: int
    params_prunable: int
    params_hessian: int
    layers: list[LayerInfo]
    masks: int
    loss: float | None = None
    accuracy: float | None = None
    data: str | None = None
    # the prunable set N counts and where it came from (``selection_source``)
    selection: ParamSelection = ParamSelection()
    selection_from: str = "default"
    # what qualifies the N it counts (``Inputs.qualified``; layers left out of it), as other reports say it
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "model": self.model,
            "format": self.source,
            "params": {"total": self.params_total, "prunable": self.params_prunable, "hessian": self.params_hessian},
            "prunable_set": {**self.selection.to_meta(), "from": self.selection_from},
            "layers": [{"name": l.name, "shape": list(l.shape), "count": l.count, "zeros": l.zeros} for l in self.layers],
            "masks": self.masks,
            "data": self.data,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "warnings": list(self.warnings),
        }


def selection_source(selection: ParamSelection, recorded: ParamSelection | None) -> str:
    """Where the prunable set in use came from: ``checkpoint`` (the set the file was pruned
    with, ``meta.pruned``), else ``options`` (``--include``/``--exclude``), else ``default``."""
    if recorded is not None and recorded == selection:
        return "checkpoint"
    return "options" if selection.include or selection.exclude else "default"


def info(inputs: Inputs) -> InfoReport:
    """Parameter counts (docs/theory.md), per-layer sizes and zeros, and loss/accuracy with data."""
    from prunelimit.api.limit import unrecognised_warnings

    model = inputs.model
    prunable = prunable_parameters(model, inputs.selection)
    layers = [
        LayerInfo(name, tuple(p.shape), p.numel(), int((p == 0).sum())) for name, p in prunable
    ]
    ev = evaluate(model, inputs.batches, inputs.loss_fn) if inputs.batches else None
    return InfoReport(
        checkpoint=None if inputs.loaded.path is None else str(inputs.loaded.path),
        model=inputs.loaded.spec,
        source=inputs.loaded.source,
        params_total=sum(p.numel() for p in model.parameters()),
        params_prunable=sum(l.count for l in layers),
        params_hessian=sum(p.numel() for _, p in hessian_parameters(model, inputs.selection)),
        layers=layers,
        masks=len(inputs.loaded.masks),
        loss=ev.loss if ev else None,
        accuracy=ev.accuracy if ev else None,
        data=inputs.data_spec,
        selection=inputs.selection,
        selection_from=selection_source(inputs.selection, recorded_selection(inputs.loaded.meta, inputs.loaded.path)),
        warnings=inputs.qualified(unrecognised_warnings(inputs)),
    )
