"""Same functions, cheaper or correct double backward: how HVP graphs evaluate batch norm,
convolution and weight normalisation.

An HVP differentiates the gradient graph once more, so what a layer costs in an HVP is
the cost of its *double* backward. For two common layers PyTorch's generic double
backward is much slower than it needs to be; ``CheapDoubleBackward`` (a
``TorchFunctionMode`` active while HVP graphs are built) evaluates them differently:

* **Eval-mode batch norm** becomes the per-channel affine map it is, ``x·s + t`` with
  ``s = weight/√(running_var + eps)`` and ``t = bias − running_mean·s``, and when it
  follows a convolution it is folded into it, ``conv(x, w·s) + (b·s + t)``: the same
  function up to rounding, whose products act on the weights instead of on activations.
  Its activation-sized products and zero-fills were the largest items left in a profile
  of a LeNet-with-BatchNorm HVP; the gain is in docs/benchmarks.md §1.
* **Convolution** (``F.conv1d/2d/3d`` with numeric padding) becomes three mutually
  recursive autograd functions, each bilinear in its two tensor arguments::

      conv(x, w)               backward: ∂x = input_grad(g, w),   ∂w = weight_grad(x, g)
      input_grad(g, w)         backward: ∂g = conv(h, w),         ∂w = weight_grad(h, g)
      weight_grad(x, g)        backward: ∂x = input_grad(g, h),   ∂g = conv(x, h)

  so every derivative of any order, reverse or forward mode (``f(da, b) + f(a, db)``),
  is a forward convolution or one half of the native ``convolution_backward`` kernel.
  PyTorch's own ``_convolution_double_backward`` forms the weight-gradient terms as
  convolutions of transposed tensors, which on a CPU miss the fast kernels (their share
  and this rewrite's gain: docs/benchmarks.md §1).

* **Weight normalisation** (``torch._weight_norm``, what ``nn.utils.weight_norm`` and
  ``nn.utils.parametrizations.weight_norm`` call) becomes its composite form
  ``v · g / ‖v‖`` (``torch.norm_except_dim``). PyTorch's fused kernel is the same
  function, but its double backward is wrong (``gradgradcheck`` fails, torch 2.13): every
  HVP through a weight-normalised layer would be off by tens of percent, silently.

Training-mode batch norm, string padding (``"same"``/``"valid"``) and transposed
convolutions pass through unchanged. ``tests/curvature/test_rewrites.py`` checks values,
first, second and third derivatives against PyTorch's with ``gradcheck`` (weight norm's
against finite differences). docs/benchmarks.md
§1 gives the measurements and their commands.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

_aten = torch.ops.aten
_CONVOLUTIONS = {F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}
# (stride, padding, dilation, groups): the geometry every function below passes along
Geometry = tuple[list[int], list[int], list[int], int]


class _Conv(torch.autograd.Function):
    """``conv(x, w)`` without bias."""

    generate_vmap_rule = True  # batched HVPs (``is_grads_batched``) vmap over these

    @staticmethod
    def forward(x: Tensor, w: Tensor, stride, padding, dilation, groups) -> Tensor:
        return _aten.convolution(x, w, None, stride, padding, dilation, False, [0] * len(stride), groups)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, w, *geometry = inputs
        ctx.save_for_backward(x, w)
        ctx.save_for_forward(x, w)
        ctx.geometry = geometry

    @staticmethod
    def backward(ctx, g: Tensor):
        x, w = ctx.saved_tensors
        dx = _ConvInputGrad.apply(g, w, x.shape, *ctx.geometry) if ctx.needs_input_grad[0] else None
        dw = _ConvWeightGrad.apply(x, g, w.shape, *ctx.geometry) if ctx.needs_input_grad[1] else None
        return dx, dw, None, None, None, None

    @staticmethod
    def jvp(ctx, dx: Tensor | None, dw: Tensor | None, *_) -> Tensor:
        x, w = ctx.saved_tensors
        return _bilinear_tangent(lambda a, b: _Conv.apply(a, b, *ctx.geometry), x, w, dx, dw)


def _convolution_backward(g: Tensor, x: Tensor, w: Tensor, geometry: Geometry, which: int) -> Tensor:
    """Half ``which`` (0: input, 1: weight) of the native convolution backward kernel."""
    stride, padding, dilation, groups = geometry
    mask = [which == 0, which == 1, False]
    return _aten.convolution_backward(
        g, x, w, None, stride, padding, dilation, False, [0] * len(stride), groups, mask
    )[which]


class _ConvGradient(torch.autograd.Function):
    """Shared by the two halves of the convolution's gradient: bilinear in the first two
    inputs, then the shape of the third tensor and the geometry."""

    generate_vmap_rule = True

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        first, second, shape, *geometry = inputs
        ctx.save_for_backward(first, second)
        ctx.save_for_forward(first, second)
        ctx.shape, ctx.geometry = shape, geometry

    @classmethod
    def jvp(cls, ctx, d_first: Tensor | None, d_second: Tensor | None, *_) -> Tensor:
        first, second = ctx.saved_tensors
        return _bilinear_tangent(lambda a, b: cls.apply(a, b, ctx.shape, *ctx.geometry), first, second, d_first, d_second)


class _ConvInputGrad(_ConvGradient):
    """``∂conv/∂x`` applied to the output gradient ``g``: bilinear in ``(g, w)``."""

    @staticmethod
    def forward(g: Tensor, w: Tensor, x_shape, *geometry) -> Tensor:
        return _convolution_backward(g, g.new_empty(x_shape), w, geometry, 0)  # x: shape only

    @staticmethod
    def backward(ctx, h: Tensor):
        g, w = ctx.saved_tensors
        dg = _Conv.apply(h, w, *ctx.geometry) if ctx.needs_input_grad[0] else None
        dw = _ConvWeightGrad.apply(h, g, w.shape, *ctx.geometry) if ctx.needs_input_grad[1] else None
        return dg, dw, None, None, None, None, None


class _ConvWeightGrad(_ConvGradient):
    """``∂conv/∂w`` applied to the output gradient ``g``: bilinear in ``(x, g)``."""

    @staticmethod
    def forward(x: Tensor, g: Tensor, w_shape, *geometry) -> Tensor:
        return _convolution_backward(g, x, x.new_empty(w_shape), geometry, 1)  # w: shape only

    @staticmethod
    def backward(ctx, h: Tensor):
        x, g = ctx.saved_tensors
        dx = _ConvInputGrad.apply(g, h, x.shape, *ctx.geometry) if ctx.needs_input_grad[0] else None
        dg = _Conv.apply(x, h, *ctx.geometry) if ctx.needs_input_grad[1] else None
        return dx, dg, None, None, None, None, None


def _bilinear_tangent(f, a: Tensor, b: Tensor, da: Tensor | None, db: Tensor | None) -> Tensor:
    """Forward-mode derivative of a bilinear ``f``: ``f(da, b) + f(a, db)``."""
    terms = ([f(da, b)] if da is not None else []) + ([f(a, db)] if db is not None else [])
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def convolution(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """``F.convNd(x, weight, bias, stride, padding, dilation, groups)`` (N = ``x.dim() − 2``)
    with the cheap derivatives of the module doc, to any order."""
    n = weight.dim() - 2
    y = _Conv.apply(x, weight, _expanded(stride, n), _expanded(padding, n), _expanded(dilation, n), groups)
    return y if bias is None else y + bias.view(1, -1, *([1] * n))


def batch_norm_affine(
    running_mean: Tensor, running_var: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float
) -> tuple[Tensor, Tensor]:
    """``(s, t)`` with eval-mode batch norm ``= x·s + t`` per channel."""
    scale = torch.rsqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return scale, shift


class CheapDoubleBackward(TorchFunctionMode):
    """Evaluates eval-mode ``F.batch_norm``, ``F.conv1d/2d/3d`` and ``torch._weight_norm``
    by the formulations of the module doc while active; every other call passes through
    unchanged.

    A batch norm applied to the output of the convolution just evaluated, unchanged since
    (no in-place op on it), is folded into it, ``conv(x, w·s) + (b·s + t)``. That evaluates the convolution twice while the graph
    is built (once per HVP graph, not per HVP); the first result is dropped unless
    something else uses it.
    """

    _BN_ARGS = ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps")
    _CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")

    def __init__(self) -> None:
        super().__init__()
        # (output, arguments, the output's version): an in-place op on the output since
        # (conv → ReLU(inplace=True) → BN) bumps the version, and folding would skip that op
        self._last_conv: tuple[Tensor, dict, int] | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.batch_norm:
            a = {"weight": None, "bias": None, "training": False, "eps": 1e-5, **dict(zip(self._BN_ARGS, args)), **kwargs}
            if not a["training"] and a["running_mean"] is not None and a["running_var"] is not None:
                return self._batch_norm(a["input"], *batch_norm_affine(
                    a["running_mean"], a["running_var"], a["weight"], a["bias"], a["eps"]))
        elif func is torch._weight_norm:
            a = {"dim": 0, **dict(zip(("v", "g", "dim"), args)), **kwargs}
            return a["v"] * (a["g"] / torch.norm_except_dim(a["v"], 2, a["dim"]))
        elif func in _CONVOLUTIONS:
            a = {("x" if k == "input" else k): v for k, v in dict(zip(self._CONV_ARGS, args), **kwargs).items()}
            if not isinstance(a.get("padding", 0), str) and a["x"].dim() == _CONVOLUTIONS[func] + 2:
                out = convolution(**a)
                self._last_conv = (out, a, out._version)
                return out
        return func(*args, **kwargs)

    def _batch_norm(self, x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        trailing = (1,) * (x.dim() - 2)
        if self._last_conv is not None and self._last_conv[0] is x and x._version == self._last_conv[2]:
            conv = dict(self._last_conv[1])
            self._last_conv = None
            weight = conv["weight"]
            conv["weight"] = weight * scale.view(-1, *([1] * (weight.dim() - 1)))
            bias = conv.get("bias")
            conv["bias"] = shift if bias is None else bias * scale + shift
            return convolution(**conv)
        return x * scale.view(1, -1, *trailing) + shift.view(1, -1, *trailing)


def _expanded(value: int | Sequence[int], n: int) -> list[int]:
    return [int(value)] * n if isinstance(value, int) else [int(v) for v in value]
