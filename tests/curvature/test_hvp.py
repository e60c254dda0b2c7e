"""HessianOperator against oracles: autograd's dense Hessian and least-squares closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel

from prunelimit.curvature.exact import exact_hessian
from prunelimit.curvature.hvp import HessianOperator, native_recurrence
from prunelimit.data.batches import cross_entropy_loss, mse_loss
from prunelimit.errors import InputError, NumericalError, UsageError


def _tiny_problem(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    x = torch.randn(15, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (15,), generator=gen)
    # Uneven batches (7, 3, 5): a wrong weighting (e.g. plain mean of batch means) shows.
    batches = [(x[:7], y[:7]), (x[7:10], y[7:10]), (x[10:], y[10:])]
    return model, x, y, batches


def _autograd_hessian(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Oracle: the Hessian of the mean loss over all samples, as a function of flat params."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    numels = [p.numel() for _, p in model.named_parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(flat: torch.Tensor) -> torch.Tensor:
        parts = {n: c.view(s) for n, c, s in zip(names, flat.split(numels), shapes)}
        return nn.functional.cross_entropy(functional_call(model, parts, (x,)), y)

    return torch.autograd.functional.hessian(loss, flat0)


@pytest.mark.parametrize("engine", ["cached", "revrev", "auto"])
def test_matvec_equals_autograd_hessian(engine):
    model, x, y, batches = _tiny_problem()
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, engine=engine)
    assert op.engine in ("cached", "revrev")
    oracle = _autograd_hessian(model, x, y)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = torch.randn(op.dim, generator=gen, dtype=torch.float64)
        # float64 throughout: only rounding separates the two routes (~1e-15 relative).
        assert float((op.matvec(v) - oracle @ v).abs().max()) < 1e-10
    assert float((exact_hessian(op) - oracle).abs().max()) < 1e-10
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(model(x), y))
    assert op.loss() == pytest.approx(expected, rel=1e-12)


class _Attention(nn.Module):
    """A transformer block over 5 tokens of 4 features: its self-attention is
    ``F.scaled_dot_product_attention``, whose fused CPU kernel has no double backward."""

    def __init__(self):
        super().__init__()
        self.block = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(x).mean(1))


@pytest.mark.parametrize("engine", ["cached", "revrev"])
def test_attention_products_equal_autograd_hessian(engine):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = _Attention().double().eval()
    x = torch.randn(12, 5, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=gen)
    op = HessianOperator(model, list(model.parameters()), [(x[:7], y[:7]), (x[7:], y[7:])],
                         cross_entropy_loss, engine=engine)
    with sdpa_kernel(SDPBackend.MATH):  # the oracle differentiates twice too
        oracle = _autograd_hessian(model, x, y)
    v = torch.randn(op.dim, generator=gen, dtype=torch.float64)
    # float64 throughout: only rounding separates the two routes
    assert float((op.matvec(v) - oracle @ v).abs().max()) < 1e-10
    assert float((exact_hessian(op) - oracle).abs().max()) < 1e-10


class _Recurrent(nn.Module):
    """A GRU or LSTM over 4 steps of 3 features, classified from its last state."""

    def __init__(self, kind: type[nn.RNNBase]):
        super().__init__()
        self.rnn = kind(3, 4, batch_first=True)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][:, -1])


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM])
def test_recurrent_products_equal_autograd_hessian(kind):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = _Recurrent(kind).double().eval()
    x = torch.randn(12, 4, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=gen)
    op = HessianOperator(model, list(model.parameters()), [(x[:7], y[:7]), (x[7:], y[7:])], cross_entropy_loss)
    assert float((exact_hessian(op) - _autograd_hessian(model, x, y)).abs().max()) < 1e-10


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM, nn.RNN])
def test_recurrent_layers_on_cuda_build_their_graphs_without_cudnn(kind):
    """cuDNN's RNN kernels have no backward in eval mode and no double backward: on CUDA the
    products of a model with a recurrent layer are built on torch's native recurrence. The
    switch is set back afterwards, and other models and devices keep cuDNN."""
    enabled = torch.backends.cudnn.enabled
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    try:
        torch.backends.cudnn.enabled = True
        with native_recurrence(_Recurrent(kind), cuda):
            assert not torch.backends.cudnn.enabled
        assert torch.backends.cudnn.enabled
        for model, device in ((_Recurrent(kind), cpu), (_Attention(), cuda)):
            with native_recurrence(model, device):
                assert torch.backends.cudnn.enabled
    finally:
        torch.backends.cudnn.enabled = enabled


@pytest.mark.parametrize("compile_", ["script", "trace"])
def test_a_torchscript_recurrent_model_on_cuda_builds_its_graphs_without_cudnn(compile_):
    """A scripted or traced GRU is no ``nn.RNNBase`` instance (TorchScript keeps its class's
    name only): cuDNN stayed on, whose recurrent kernels have no backward in eval mode."""
    enabled = torch.backends.cudnn.enabled
    model = _Recurrent(nn.GRU)
    compiled = torch.jit.script(model) if compile_ == "script" else torch.jit.trace(model, torch.randn(2, 4, 3))
    try:
        torch.backends.cudnn.enabled = True
        with native_recurrence(compiled, torch.device("cuda")):
            assert not torch.backends.cudnn.enabled
        assert torch.backends.cudnn.enabled
    finally:
        torch.backends.cudnn.enabled = enabled


def test_gradient_and_losses():
    model, x, y, batches = _tiny_problem()
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss)
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    expected = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert float((op.gradient() - expected).abs().max()) < 1e-12
    assert op.batch_losses().shape == (3,)


def test_memory_budget_falls_back_to_recomputing():
    model, _, _, batches = _tiny_problem()
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, memory_budget_mb=0)
    assert op.engine == "revrev"
    with pytest.warns(UserWarning, match="budget"):
        op = HessianOperator(
            model, list(model.parameters()), batches, cross_entropy_loss, engine="cached", memory_budget_mb=0
        )
    assert op.engine == "revrev"


def test_lockstep_is_the_probes_on_the_recomputing_engine_only():
    model, _, _, batches = _tiny_problem()
    revrev = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, engine="revrev", probes=4)
    cached = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, engine="cached", probes=4)
    assert (revrev.lockstep, cached.lockstep) == (4, 1)
    with pytest.raises(UsageError, match="probes"):
        HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, probes=0)


def test_an_operator_serves_other_probes_only_where_they_change_nothing():
    """SLQ reuses the solver choice's operator (built for one probe) where ``serves`` says an
    operator built for its probes would be the same: a CPU's cached engine, not the
    recomputing one, whose ``lockstep`` is its probes."""
    model, _, _, batches = _tiny_problem()
    params = list(model.parameters())
    cached = HessianOperator(model, params, batches, cross_entropy_loss, engine="cached")
    revrev = HessianOperator(model, params, batches, cross_entropy_loss, engine="revrev")
    assert cached.serves(1) and cached.serves(4)
    assert revrev.serves(1) and not revrev.serves(4)
    built = HessianOperator(model, params, batches, cross_entropy_loss, engine="cached", probes=4)
    assert (built.chunk_sizes(), built.engine, built.lockstep) == (cached.chunk_sizes(), cached.engine, cached.lockstep)


def test_graph_estimate_counts_activations_not_data():
    """Batches that are views of one data tensor (as data sets slice them) and batches that
    own their samples hold the same graphs; cached keeps every batch's, revrev one at a time."""
    model, _, _, views = _tiny_problem()
    copies = [tuple(t.clone() for t in b) for b in views]
    params = list(model.parameters())
    kept = [HessianOperator(model, params, b, cross_entropy_loss, chunk_samples="batches").graph_bytes()
            for b in (views, copies)]
    assert kept[0] == kept[1] > 0
    rebuilt = HessianOperator(model, params, views, cross_entropy_loss, engine="revrev", chunk_samples="batches")
    assert rebuilt.graph_bytes() * 15 == pytest.approx(kept[0] * 7, abs=15)  # largest batch 7 of 15; int bytes


def test_subset_of_parameters():
    model, x, y, batches = _tiny_problem()
    params = [model[2].weight]  # last-layer weight only: the matching block of the full Hessian
    op = HessianOperator(model, params, batches, cross_entropy_loss)
    full = _autograd_hessian(model, x, y)
    start = sum(p.numel() for p in list(model.parameters())[:2])
    block = full[start : start + 12, start : start + 12]
    assert float((exact_hessian(op) - block).abs().max()) < 1e-10


def test_least_squares_hessian_is_2xtx_over_n():
    # mse_loss = mean((Xw + b - y)^2) over n samples and 1 output, so H = 2 [X 1]ᵀ[X 1] / n.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(40, generator=gen, dtype=torch.float64)
    model = nn.Linear(6, 1).double()
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    op = HessianOperator(model, list(model.parameters()), batches, mse_loss)
    xa = torch.cat([x, torch.ones(40, 1, dtype=torch.float64)], dim=1)
    closed = 2 * xa.T @ xa / 40
    # The loss is quadratic: HVPs are exact up to float64 rounding.
    assert float((exact_hessian(op) - closed).abs().max()) < 1e-10


def test_nondeterministic_loader_refused():
    model, x, y, _ = _tiny_problem()

    class Augmenting:
        """Yields noisy copies on every pass, like a loader with random augmentation."""

        def __iter__(self):
            yield (x + 0.1 * torch.randn_like(x), y)

        def __len__(self):
            return 1

    with pytest.raises(InputError, match="not deterministic"):
        HessianOperator(model, list(model.parameters()), Augmenting(), cross_entropy_loss)


def test_nan_loss_and_bad_inputs():
    model, x, y, _ = _tiny_problem()
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(NumericalError):
        HessianOperator(model, list(model.parameters()), [(bad, y)], cross_entropy_loss)
    with pytest.raises(UsageError):
        HessianOperator(model, list(model.parameters()), [(x, y)], cross_entropy_loss, engine="magic")
    with pytest.raises(UsageError, match="10"):
        op = HessianOperator(model, list(model.parameters()), [(x, y)], cross_entropy_loss)
        exact_hessian(op, max_dim=10)
    assert np.isfinite(op.loss())


def test_model_put_in_eval_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 2)).double()
    model.train()
    x = torch.randn(8, 4, dtype=torch.float64)
    y = torch.randint(0, 2, (8,))
    HessianOperator(model, list(model.parameters()), [(x, y)], cross_entropy_loss)
    assert not model.training


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")
@pytest.mark.parametrize("engine", ["cached", "revrev"])
def test_weight_normalised_layers_match_finite_differences(engine):
    """Weight norm (``parametrizations.weight_norm``, and the older ``weight_norm`` over the
    whole tensor): PyTorch's fused kernel has a wrong double backward, so the oracle is
    central differences of the exact gradient (float64, step 1e-5: error ~1e-9)."""
    from torch.nn.utils import parametrizations, weight_norm

    torch.manual_seed(4)
    model = nn.Sequential(
        parametrizations.weight_norm(nn.Linear(5, 4)), nn.Tanh(), weight_norm(nn.Linear(4, 3), dim=None)
    ).double()
    _, _, _, batches = _tiny_problem()
    params = list(model.parameters())
    op = HessianOperator(model, params, batches, cross_entropy_loss, engine=engine)

    def gradient() -> torch.Tensor:
        total = sum(len(b[1]) * torch.cat([g.reshape(-1) for g in torch.autograd.grad(
            cross_entropy_loss(model, b), params)]) for b in batches)
        return total / sum(len(b[1]) for b in batches)

    gen = torch.Generator().manual_seed(2)
    vs = torch.randn(op.dim, 2, generator=gen, dtype=torch.float64)
    flat = nn.utils.parameters_to_vector(params).detach()
    step = 1e-5
    expected = []
    for v in vs.T:
        nn.utils.vector_to_parameters(flat + step * v, params)
        plus = gradient()
        nn.utils.vector_to_parameters(flat - step * v, params)
        expected.append((plus - gradient()) / (2 * step))
    nn.utils.vector_to_parameters(flat, params)
    expected = torch.stack(expected, dim=1)
    scale = float(expected.abs().max())
    assert float((op.matvec(vs[:, 0]) - expected[:, 0]).abs().max()) < 1e-6 * scale
    assert float((op.matmat(vs) - expected).abs().max()) < 1e-6 * scale


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch's deprecation of the older weight_norm
@pytest.mark.parametrize("norm", [nn.utils.weight_norm, nn.utils.spectral_norm])
def test_a_float64_operator_copies_a_model_holding_a_computed_weight(norm):
    """The older weight and spectral norm keep ``weight`` as a tensor computed from their
    parameters by a forward pre-hook, a non-leaf after any pass with gradients, which
    ``deepcopy`` refuses: the float64 copy the exact spectrum takes failed with an internal
    error. The copy's products are the float32 model's (tolerance: float32 rounding of
    the float32 products, ~1e-6 relative)."""
    torch.manual_seed(0)
    model = nn.Sequential(norm(nn.Linear(5, 4)), nn.Tanh(), nn.Linear(4, 3))
    _, _, _, batches = _tiny_problem()
    model(batches[0][0].float()).sum().backward()  # a pass with gradients: weight is now a non-leaf
    params = list(model.parameters())
    batches = [tuple(t.float() if t.is_floating_point() else t for t in b) for b in batches]
    v = torch.randn(sum(p.numel() for p in params), generator=torch.Generator().manual_seed(1))
    wide = HessianOperator(model, params, batches, cross_entropy_loss, dtype=torch.float64)
    narrow = HessianOperator(model, params, batches, cross_entropy_loss)
    expected = narrow.matvec(v).double()
    assert float((wide.matvec(v.double()) - expected).abs().max()) < 1e-5 * float(expected.abs().max())


class _Bag(nn.Module):
    """``nn.EmbeddingBag``: PyTorch has no second derivative of its backward."""

    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(6, 3, mode="mean")
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bag(x).tanh())


@pytest.mark.parametrize("engine", ["cached", "revrev"])
def test_operation_without_second_derivative_is_an_input_error(engine):
    """A model PyTorch cannot differentiate twice is an input the curvature cannot take
    (exit 3, naming the operation and the fix), not an internal error; with the layer's
    parameters left out the products run."""
    torch.manual_seed(0)
    model = _Bag().double()
    x = torch.randint(0, 6, (8, 4))
    batches = [(x, torch.randint(0, 2, (8,)))]
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, engine=engine)
    for product in (lambda: op.matvec(torch.ones(op.dim, dtype=torch.float64)),
                    lambda: op.matmat(torch.ones(op.dim, 3, dtype=torch.float64))):
        with pytest.raises(InputError, match=r"_embedding_bag_backward, which PyTorch cannot differentiate twice") as info:
            product()
        assert info.value.exit_code == 3 and "exclude" in str(info.value)
    head = list(model.head.parameters())
    op = HessianOperator(model, head, batches, cross_entropy_loss, engine=engine)
    assert torch.isfinite(op.matmat(torch.ones(op.dim, 2, dtype=torch.float64))).all()


def test_the_first_product_pays_no_one_off_set_up() -> None:
    """A fresh process's first product with given grad_outputs imported torch.fx's symbolic
    shapes (487 modules, 0.2-1.3 s against 0.5 ms a product on a 99-parameter MLP), and a
    time budget priced the next products at that rate: `--method slq --time-budget 3`
    stopped after one step of a run that takes 0.7 s in all. The operator now pays it when
    built, so neither engine's first product nor first batched product imports a module."""
    import subprocess
    import sys

    code = """
import sys, torch
from prunelimit.curvature.hvp import HessianOperator
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
batches = [(torch.randn(8, 3), torch.randint(0, 2, (8,))) for _ in range(2)]
loss = lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1])
for engine in ("cached", "revrev"):
    op = HessianOperator(model, list(model.parameters()), batches, loss, engine=engine, probes=2)
    before = set(sys.modules)
    op.matmat(torch.ones(op.dim, 2, dtype=torch.float64))
    op.matvec(torch.ones(op.dim, dtype=torch.float64))
    print(engine, sorted(set(sys.modules) - before)[:3])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["cached []", "revrev []"]
