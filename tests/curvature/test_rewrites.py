"""The rewritten layers of ``prunelimit.curvature.rewrites`` are the same functions.

Values against PyTorch's layers in float64 (rounding only, 1e-12); derivatives of
first, second and third order, reverse and forward mode, by ``gradcheck`` (finite
differences in float64 at its default tolerances), so the hand-written derivative chain
is proven to any order an HVP, a forward-over-reverse HVP or an HVP of an HVP needs.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from prunelimit.curvature.rewrites import CheapDoubleBackward, convolution

# (dims, in, out, kernel, stride, padding, dilation, groups)
GEOMETRIES = [
    (1, 2, 3, 3, 1, 0, 1, 1),
    (2, 3, 4, 3, 1, 1, 1, 1),
    (2, 4, 6, 3, 2, 0, 1, 2),
    (2, 2, 4, 3, (2, 1), (1, 2), 2, 1),
    (3, 2, 2, 2, 1, 1, 1, 2),
]


def _conv_case(dims, cin, cout, k, stride, padding, dilation, groups):
    gen = torch.Generator().manual_seed(dims * 100 + cin * 10 + cout)
    x = torch.randn(2, cin, *([{1: 7, 2: 6, 3: 4}[dims]] * dims), generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(cout, cin // groups, *([k] * dims), generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(cout, generator=gen, dtype=torch.float64, requires_grad=True)
    reference = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    return x, w, b, lambda fn: (lambda x, w, b: fn(x, w, b, stride, padding, dilation, groups)), reference


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_convolution_equals_torch_and_its_derivatives_check(geometry):
    x, w, b, bind, reference = _conv_case(*geometry)
    ours, theirs = bind(convolution), bind(reference)
    assert float((ours(x, w, b) - theirs(x, w, b)).detach().abs().max()) < 1e-12
    assert torch.autograd.gradcheck(ours, (x, w, b), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(ours, (x, w, b), check_fwd_over_rev=True)

    def input_gradient(x, w, b):  # its gradgradcheck is a third-derivative check
        (gx,) = torch.autograd.grad(ours(x, w, b).pow(2).sum(), x, create_graph=True)
        return gx

    assert torch.autograd.gradgradcheck(input_gradient, (x, w, b))


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_hessian_vector_products_equal_torch(geometry):
    """The HVP through the rewrite equals the HVP through PyTorch's own double backward."""
    x, w, b, bind, reference = _conv_case(*geometry)
    v = [torch.randn_like(t) for t in (x, w, b)]

    def hvp(fn):
        loss = fn(x, w, b).tanh().pow(2).sum()
        grads = torch.autograd.grad(loss, (x, w, b), create_graph=True)
        return torch.autograd.grad(grads, (x, w, b), grad_outputs=v)

    for ours, theirs in zip(hvp(bind(convolution)), hvp(bind(reference))):
        assert float((ours - theirs).abs().max()) < 1e-10 * max(1.0, float(theirs.abs().max()))


def test_batched_second_backward_needs_no_fallback():
    """``is_grads_batched`` (vmap over the second backward, ``HessianOperator.matmat``)
    runs through the rewritten functions and gives the row-by-row products."""
    x, w, b, bind, _ = _conv_case(*GEOMETRIES[2])
    x = x.detach()
    grads = torch.autograd.grad(bind(convolution)(x, w, b).sin().sum(), (w, b), create_graph=True)
    gen = torch.Generator().manual_seed(9)
    vs = [torch.randn(4, *g.shape, generator=gen, dtype=torch.float64) for g in grads]
    batched = torch.autograd.grad(grads, (w, b), grad_outputs=vs, retain_graph=True, is_grads_batched=True)
    for i in range(4):
        rows = torch.autograd.grad(grads, (w, b), grad_outputs=[v[i] for v in vs], retain_graph=True)
        for got, expected in zip(batched, rows):
            assert float((got[i] - expected).abs().max()) < 1e-12


def test_mode_rewrites_convolutions_and_passes_the_rest_through():
    torch.manual_seed(3)
    layers = [
        nn.Conv2d(2, 3, 3, padding=1).double(),
        nn.Conv2d(2, 3, 3, padding="same").double(),  # string padding: passed through
        nn.ConvTranspose2d(2, 3, 3).double(),  # transposed: passed through
        nn.Conv1d(2, 3, 3).double(),
    ]
    inputs = [torch.randn(2, 2, 6, 6, dtype=torch.float64)] * 3 + [torch.randn(2, 2, 6, dtype=torch.float64)]
    for layer, x in zip(layers, inputs):
        expected = layer(x)
        with CheapDoubleBackward():
            got = layer(x)
        assert float((got - expected).detach().abs().max()) < 1e-12
    with CheapDoubleBackward():
        rewritten = layers[0](inputs[0])
        passed = layers[1](inputs[1])
    assert type(rewritten.grad_fn).__name__.startswith("AddBackward")  # conv + bias, rewritten
    assert type(passed.grad_fn).__name__ == "ConvolutionBackward0"


class _ConvBnResidual(nn.Module):
    """conv → BN folded; the conv output also feeds a residual sum (kept unfolded there)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        c = self.conv(x)
        return (self.bn(c) + c).tanh().flatten(1).sum(1)


def test_batch_norm_after_a_convolution_is_folded_into_it_exactly():
    torch.manual_seed(6)
    model = _ConvBnResidual().double()
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        model.train()
        model(x * 3 + 1)  # running statistics ≠ (0, 1)
        model.bn.weight.uniform_(0.5, 2.0)
        model.bn.bias.uniform_(-1.0, 1.0)
    model.eval()
    params = list(model.parameters())
    v = [torch.randn_like(p) for p in params]

    def hvp(mode):
        with mode:
            loss = model(x).pow(2).mean()
            grads = torch.autograd.grad(loss, params, create_graph=True)
        return loss, torch.autograd.grad(grads, params, grad_outputs=v)

    expected_loss, expected = hvp(contextlib.nullcontext())
    loss, got = hvp(CheapDoubleBackward())
    assert float((loss - expected_loss).detach().abs()) < 1e-12
    for g, e in zip(got, expected):
        assert float((g - e).abs().max()) < 1e-10 * max(1.0, float(e.abs().max()))
    with CheapDoubleBackward():
        folded = model.bn(model.conv(x))
    # conv(x, w·s) + t: the shift's sum, whose input is the rewritten convolution itself
    assert type(folded.grad_fn.next_functions[0][0]).__name__ == "_ConvBackward"


@pytest.mark.parametrize("between", [nn.ReLU(inplace=True), nn.Hardtanh(inplace=True)])
def test_batch_norm_after_an_in_place_op_on_the_convolution_is_not_folded(between):
    """conv → in-place activation → BN: the BN's input is the conv's output tensor, modified
    in place; folding BN into the conv would drop the activation from the gradient graph."""
    torch.manual_seed(7)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), between, nn.BatchNorm2d(3)).double()
    with torch.no_grad():
        model[2].running_mean.uniform_(-0.5, 0.5)
        model[2].running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.randn(4, 2, 5, 5, dtype=torch.float64)
    params = list(model.parameters())
    v = [torch.randn_like(p) for p in params]

    def gradient_and_hvp(mode):
        with mode:
            grads = torch.autograd.grad(model(x).sin().sum(), params, create_graph=True)
        return grads, torch.autograd.grad(grads, params, grad_outputs=v)

    for got, expected in zip(gradient_and_hvp(CheapDoubleBackward()), gradient_and_hvp(contextlib.nullcontext())):
        for g, e in zip(got, expected):
            assert float((g - e).detach().abs().max()) < 1e-10 * max(1.0, float(e.detach().abs().max()))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (6, 3, 5), (6, 3, 4, 4)])
def test_eval_batch_norm_as_affine_equals_batch_norm(affine, shape):
    torch.manual_seed(4)
    bn = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}[len(shape)](3, affine=affine).double()
    with torch.no_grad():
        bn.train()
        bn(torch.randn(*shape, dtype=torch.float64) * 3 + 2)  # non-trivial running statistics
        if affine:
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.uniform_(-1.0, 1.0)
    x = torch.randn(*shape, dtype=torch.float64)
    for training in (False, True):  # training mode (batch statistics) must pass through untouched
        bn.train(training)
        with torch.no_grad():
            expected = bn(x)
            with CheapDoubleBackward():
                got = bn(x)
        # The same function, reassociated: float64 rounding only.
        assert float((got - expected).abs().max()) < 1e-12


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_weight_norm_is_torchs_function_with_correct_second_derivatives(dim):
    """PyTorch's own ``torch._weight_norm`` fails ``gradgradcheck`` (its double backward is
    wrong); under the mode it is the same function and passes it, so HVPs through
    ``nn.utils.parametrizations.weight_norm`` are exact (finite differences, float64)."""
    gen = torch.Generator().manual_seed(11)
    v = torch.randn(5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    g_shape = {0: (5, 1), 1: (1, 4), -1: ()}[dim]
    g = torch.randn(g_shape, generator=gen, dtype=torch.float64).requires_grad_()

    def ours(v, g):
        with CheapDoubleBackward():
            return torch._weight_norm(v, g, dim)

    assert float((ours(v, g) - torch._weight_norm(v, g, dim)).detach().abs().max()) < 1e-12
    assert torch.autograd.gradgradcheck(ours, (v, g))
