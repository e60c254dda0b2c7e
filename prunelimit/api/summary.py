"""``info``: parameter counts, prunable layers and, with data, loss and accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prunelimit.inputs import Inputs
from prunelimit.models.evaluate import evaluate
from prunelimit.models.params import hessian_parameters, prunable_parameters

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class LayerInfo:
    name: str
    shape: tuple[int, ...]
    count: int
    zeros: int


@dataclass(frozen=True)
class InfoReport:
    """Architecture summary: parameter counts, prunable layers and, with data, loss/accuracy."""

    checkpoint: str
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

    def to_json(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "model": self.model,
            "format": self.source,
            "params": {"total": self.params_total, "prunable": self.params_prunable, "hessian": self.params_hessian},
            "layers": [{"name": l.name, "shape": list(l.shape), "count": l.count, "zeros": l.zeros} for l in self.layers],
            "masks": self.masks,
            "data": self.data,
            "loss": self.loss,
            "accuracy": self.accuracy,
        }


def info(inputs: Inputs) -> InfoReport:
    """Parameter counts (docs/theory.md), per-layer sizes and zeros, and loss/accuracy with data."""
    model = inputs.model
    prunable = prunable_parameters(model, inputs.selection)
    layers = [
        LayerInfo(name, tuple(p.shape), p.numel(), int((p == 0).sum())) for name, p in prunable
    ]
    ev = evaluate(model, inputs.batches, inputs.loss_fn) if inputs.batches else None
    return InfoReport(
        checkpoint=str(inputs.loaded.path),
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
    )
