"""Which parameters count (docs/theory.md, Conventions), defined once.

* prunable weights: ``weight`` of every ``nn.Linear`` and convolution;
* Hessian parameters: every trainable parameter except normalisation affine ones.

Both can be narrowed or widened with module-name glob patterns. A parameter shared by
several modules (tied weights) counts once, decided by and named after its first module
(the name ``named_parameters`` gives it): listed twice it would be pruned twice and enter
the Hessian as two copies of one coordinate.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from torch import nn

PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORM_TYPES = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
)


@dataclass(frozen=True)
class ParamSelection:
    """Module-name glob patterns that narrow (exclude) or widen (include) a default set."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def decide(self, module_name: str, default: bool) -> bool:
        if any(fnmatch.fnmatchcase(module_name, p) for p in self.exclude):
            return False
        if any(fnmatch.fnmatchcase(module_name, p) for p in self.include):
            return True
        return default


def prunable_parameters(
    model: nn.Module, selection: ParamSelection = ParamSelection()
) -> list[tuple[str, nn.Parameter]]:
    """Named prunable weight tensors, in ``named_modules`` order.

    By default the ``weight`` of every Linear/Conv module. ``include`` patterns add the
    ``weight`` of other matching modules that have one; ``exclude`` removes matches.
    """
    out, seen = [], set()
    for mname, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, nn.Parameter) or id(weight) in seen:
            continue
        seen.add(id(weight))
        if selection.decide(mname, isinstance(module, PRUNABLE_TYPES)):
            out.append((f"{mname}.weight" if mname else "weight", weight))
    return out


def hessian_parameters(
    model: nn.Module, selection: ParamSelection = ParamSelection()
) -> list[tuple[str, nn.Parameter]]:
    """Named parameters entering the Hessian: trainable, minus normalisation affine params."""
    out, seen = [], set()
    for mname, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            if selection.decide(mname, not isinstance(module, NORM_TYPES)):
                out.append((f"{mname}.{pname}" if mname else pname, p))
    return out
