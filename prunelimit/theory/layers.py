"""Where the limit comes from: each layer's part in F, in R(ρ*) and its own limit.

Given each block's curvature (``prunelimit.curvature.layers``: ``tr H_ll``, ``λmax(H_ll)``
and the spectrum of the diagonal block ``H_ll``, ``n_l`` eigenvalues ``λ_i^(l)``), the
pruning path and ρ*, for every prunable tensor l (and "the rest" of the Hessian
parameters, which has curvature but is never pruned):

* ``width`` — the block's statistical dimension at ``R* = R(ρ*)``:
  ``w_l = Σ_i 2ε / (2ε + |λ_i^(l)| R*²) = n_l·F_l(R*)``, with ``F_l`` the block's own F;
  a flat layer counts all its ``n_l`` directions, a stiff one few.
* ``share_of_width`` — ``w_l / Σ_k w_k``: the layer's share of the width of the
  block-diagonal Hessian (``H`` with its off-diagonal blocks dropped), whose ``F`` is
  ``Σ_k w_k / D``. That sum equals ``D·F(R*)`` exactly when the blocks do not couple;
  otherwise ``block_diagonal_f`` beside ``F(R*) = ρ*`` shows how far apart they are.
* ``sparsity_at_rho`` — the fraction of the layer's weights that magnitude pruning at ρ*
  removes on the report's path (global: one ranking over all prunable weights, exactly
  ``ceil(ρ*·N)`` removed in all). Above ``COLLAPSE_SPARSITY`` the layer is flagged as
  collapsed: one-shot pruning that empties a layer cuts the network, whatever F says (a
  layer from which pruning removes only weights zero already is not flagged: it leaves the
  layer as it was, all zeros or pruned before).
* ``radius_share`` — the layer's share of ``R(ρ*)²``: the sum of squares of its removed
  weights over that of all removed weights (the shares sum to 1).
* ``limit_alone`` — the largest ratio the theory allows for that layer alone, all other
  weights kept at their trained values: the same fixed point ``ρ = F_l(R_l(ρ))`` applied
  to the loss as a function of the layer's weights only, so with ``F_l`` from ``H_ll``
  and ``R_l(ρ)`` the projection distance of pruning the fraction ρ of that layer alone.
  ``limit_alone_plus_minus`` is its 95 % ± from the block's own quadrature, as the global
  ρ*'s steps and probes parts are stated (``theory.uncertainty.ratio_uncertainty``): 0 for
  an exact block, the bracket of its Lanczos runs' rules plus its probes' noise otherwise.
  Over a ``--hessian-samples`` subset a block formed exactly there carries its block on the
  subset less each of its parts (``BlockCurvature.part_quadratures``), whose own ρ* give a
  data part as ρ*'s data check gives its (``left_out_sd``); a Lanczos block's ± holds none, and
  ``prunelimit.api.layers`` says so in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from prunelimit.curvature.layers import BlockCost, BlockCurvature
from prunelimit.errors import option
from prunelimit.report.notebook import brief
from prunelimit.report.rounding import percent
from prunelimit.theory.limit import predict_from_quadrature
from prunelimit.theory.profile import MagnitudeProfile, PruningPath, removed_count
from prunelimit.theory.statdim import stat_dim_fraction
from prunelimit.theory.uncertainty import left_out_sd, ratio_uncertainty, rounding_part

COLLAPSE_SPARSITY = 0.99  # a layer losing more than this fraction of its weights is flagged
COLLAPSE = "layer collapse: "  # how a collapsed layer's warning begins


@dataclass(frozen=True)
class LayerShare:
    """One block's curvature and its part in the limit (see the module doc).

    Fields that need ρ* (``width``, ``share_of_width``, ``sparsity_at_rho``,
    ``radius_share``) are ``None`` where ρ* is undefined; those of pruning are ``None`` for
    the rest block; curvature fields are ``None`` for a prunable tensor outside the Hessian.
    """

    name: str
    params: int
    prunable: bool
    trace: float | None
    trace_stderr: float | None
    trace_plus_minus: float | None
    lambda_max: float | None
    width: float | None
    share_of_width: float | None
    sparsity_at_rho: float | None
    radius_share: float | None
    limit_alone: float | None
    limit_alone_plus_minus: float | None = None  # its 95 % ± from the block's quadrature (module doc)
    unchanged: bool = False  # pruning at ρ* removes only weights zero already: the layer stays as it was

    @property
    def collapsed(self) -> bool:
        """Pruning at ρ* leaves the layer over ``COLLAPSE_SPARSITY`` sparse; a layer it removes
        no non-zero weight from is not emptied by pruning (the network computes as it did)."""
        return self.sparsity_at_rho is not None and self.sparsity_at_rho > COLLAPSE_SPARSITY and not self.unchanged

    def to_json(self) -> dict:
        return {"name": self.name, "params": self.params, "prunable": self.prunable, "trace": self.trace,
                "trace_stderr": self.trace_stderr, "trace_plus_minus": self.trace_plus_minus, "lambda_max": self.lambda_max, "width": self.width,
                "share_of_width": self.share_of_width, "sparsity_at_rho": self.sparsity_at_rho,
                "radius_share": self.radius_share, "limit_alone": self.limit_alone,
                "limit_alone_plus_minus": self.limit_alone_plus_minus, "collapsed": self.collapsed}


@brief
@dataclass(frozen=True)
class LayerBreakdown:
    """Every block's :class:`LayerShare` at ρ* (``ratio``, ``None`` when undefined), R(ρ*) on
    the continuous path of ``scope``, the block-diagonal F there, and what the block
    curvature cost."""

    layers: tuple[LayerShare, ...]
    ratio: float | None
    radius: float | None
    scope: str
    block_diagonal_f: float | None
    cost: BlockCost
    notes: tuple[str, ...] = ()  # how the blocks' computation stands to the caller's options

    @property
    def warnings(self) -> list[str]:
        """``notes``, then one line per collapsed layer, with what avoids it on this path: on
        the global path, layer-wise pruning; on the layer-wise path (the one that emptied it)
        only leaving the layer out or pruning less."""
        return [*self.notes] + [collapse_warning(self.ratio, f"at ρ* = {percent(self.ratio)}", layer.name,
                                                 layer.params, layer.sparsity_at_rho, self.scope,
                                                 " whatever the prediction says")
                                for layer in self.layers if layer.collapsed]

    def to_json(self) -> dict:
        return {"ratio": self.ratio, "radius": self.radius, "scope": self.scope,
                "block_diagonal_f": self.block_diagonal_f, **self.cost.to_json()}


def collapse_warning(ratio: float, at: str, name: str, params: int, sparsity: float, scope: str,
                     tail: str = "") -> str:
    """The warning of a layer that magnitude pruning to ``ratio`` (``at``, in words) empties
    (``sparsity`` of its ``params`` weights removed), with what avoids it on the path of
    ``scope``: on the global path, layer-wise pruning where that keeps the layer; otherwise
    (and on a path that prunes each layer alone, the one that emptied it) only leaving the
    layer out or pruning less."""
    # options as the reader gives them: a library call's warnings said --scope layer and --exclude
    exclude = option("exclude", in_file=False)
    if scope == "global" and removed_count(ratio, params) <= COLLAPSE_SPARSITY * params:
        advice = f"prune layer-wise: {option('scope', 'layer')}"
    elif scope == "global":
        advice = (f"layer-wise pruning, ceil(ρ·n) of its n weights, empties it too: leave it out with {exclude}, "
                  "or prune less")
    elif scope == "2:4":
        advice = f"leave it out with {exclude}"
    else:
        advice = ("on the layer-wise path each layer loses ceil(ρ·n) of its n weights: leave it out with "
                  f"{exclude}, or prune less")
    return (f"{COLLAPSE}magnitude pruning {at} removes {percent(sparsity)} of {name} ({params:,} "
            f"weights); one-shot pruning that empties a layer breaks the network{tail} ({advice})")


def layer_shares(
    blocks: Sequence[BlockCurvature],
    names: Sequence[str],
    weights: Sequence[torch.Tensor],
    path: PruningPath,
    epsilon: float | None,
    ratio: float | None,
    cost: BlockCost,
    negative: str = "abs",
    scope: str = "global",
) -> LayerBreakdown:
    """Each prunable tensor's (``names``/``weights``, in ``path``'s order) and each other
    block's share at ``ratio`` = ρ* on ``path`` (of ``scope``).

    ``epsilon``/``ratio`` ``None``: ρ* is undefined, only the curvature is reported.
    """
    curvature = {b.name: b for b in blocks}
    defined = epsilon is not None and ratio is not None
    radius = path.radius_continuous(ratio) if defined else None
    widths = {b.name: b.params * _block_f(b, radius, epsilon, negative) for b in blocks} if defined else {}
    total_width = sum(widths.values())
    removed = _removed(path, weights, ratio) if defined else None
    removed_sq = None if removed is None else sum(r.squares for r in removed)
    out = []
    for i, (name, w) in enumerate(zip(names, weights, strict=True)):
        b = curvature.get(name)
        sparsity = None if removed is None else removed[i].count / max(w.numel(), 1)
        share = None if removed is None else (removed[i].squares / removed_sq if removed_sq > 0 else 0.0)
        limit = (None, None) if b is None or epsilon is None else _limit_alone(b, w, epsilon, negative)
        out.append(replace(_share(name, int(w.numel()), True, b, widths, total_width, sparsity, share, limit),
                           unchanged=removed is not None and removed[i].nonzero == 0))
    prunable = set(names)
    for b in blocks:
        if b.name not in prunable:
            out.append(_share(b.name, b.params, False, b, widths, total_width, None, None, (None, None)))
    block_f = total_width / sum(b.params for b in blocks) if defined and blocks else None
    return LayerBreakdown(tuple(out), ratio, radius, scope, block_f, cost)


def _share(name, params, prunable, b: BlockCurvature | None, widths, total_width, sparsity, radius_share,
           limit: tuple[float | None, float | None]) -> LayerShare:
    width = widths.get(name)
    return LayerShare(
        name, params, prunable,
        None if b is None else b.trace, None if b is None else b.trace_stderr,
        None if b is None else b.trace_plus_minus, None if b is None else b.lambda_max,
        width, None if width is None or total_width <= 0 else width / total_width, sparsity, radius_share, *limit)


def _block_f(block: BlockCurvature, radius: float, epsilon: float, negative: str) -> float:
    q = block.quadrature
    return stat_dim_fraction(q.nodes, q.weights, radius, epsilon, negative=negative, signed=q.signed)


@dataclass(frozen=True)
class _Removed:
    """One tensor's weights removed at ρ*: how many, how many of them non-zero (a square can
    underflow to 0, a count cannot), and the sum of their squares."""

    count: int
    nonzero: int
    squares: float


def _removed(path: PruningPath, weights: Sequence[torch.Tensor], ratio: float) -> list[_Removed]:
    """Per tensor: what ``ratio`` on ``path`` removes from it."""
    out = []
    for w, keep in zip(weights, path.keep_masks(ratio), strict=True):
        gone = ~keep.reshape(-1).numpy()
        values = w.detach().to("cpu", torch.float64).reshape(-1).numpy()[gone]
        out.append(_Removed(int(gone.sum()), int(np.count_nonzero(values)), float(np.sum(values**2))))
    return out


def _limit_alone(block: BlockCurvature, weight: torch.Tensor, epsilon: float, negative: str) -> tuple[float, float]:
    """Root of ``ρ = F_l(R_l(ρ))`` for this tensor alone and its 95 % ± (see the module doc)."""
    own = MagnitudeProfile.from_tensors([weight])

    def root(quadrature) -> float:
        return predict_from_quadrature(own, quadrature, epsilon, bound_mode="none", negative=negative).ratio

    ratio, parts = root(block.quadrature), block.part_quadratures
    # a block formed over a subset: its own ρ* on the subset less each part gives the data part, as ρ*'s
    data = left_out_sd(tuple(root(q) for q in parts), *block.sampled) if parts and block.sampled else None
    stated = ratio_uncertainty(own, block.quadrature, epsilon, ratio, negative, data=data,
                               data_parts=len(parts) if data is not None else None)
    # the products' rounding, as ρ*'s rounding part: a block formed from float32 columns of an MLP
    # fitted near zero loss stated its own ρ* 65.87 % ± 0 against 72.02 % exact
    precision = torch.finfo(torch.float64 if block.quadrature.float64_products else torch.float32).eps
    return ratio, replace(stated, rounding=rounding_part(own, block.quadrature, epsilon, ratio, precision)).plus_minus
