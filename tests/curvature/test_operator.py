"""The curvature operator protocol (``curvature.operator``): who conforms, the SciPy adapter
against an autograd Hessian, block products against single ones, and the one exact-size limit."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import eigsh
from torch import nn
from torch.func import functional_call, hessian

from prunelimit.api import CurvatureOptions, choose_solver
from prunelimit.api.options import TIMED_PRODUCTS
from prunelimit.curvature import CurvatureOperator, as_scipy
from prunelimit.curvature import operator as operator_module
from prunelimit.curvature.exact import MAX_DIM, exact_hessian
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.lanczos import lanczos, ritz
from prunelimit.curvature.operator import Columnwise, DenseOperator
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import UsageError


def _network(engine: str = "auto", dtype: torch.dtype = torch.float64):
    """A 26-parameter tanh network on 20 samples, its operator and the autograd Hessian of
    the same mean loss (``torch.func.hessian`` over the flat parameters) as the oracle."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = torch.randn(20, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (20,), generator=gen)
    batches = [(x[:12], y[:12]), (x[12:], y[12:])]
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, engine=engine,
                         dtype=dtype, probes=3)
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(w: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, (c.view(s) for c, s in zip(w.split([s.numel() for s in shapes]), shapes))))
        return nn.functional.cross_entropy(functional_call(model, params, (x,)), y)

    return op, hessian(loss)(flat)


def _symmetric(dim: int, seed: int) -> torch.Tensor:
    a = torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (a + a.T) / 2


def test_operators_conform_to_the_protocol() -> None:
    op, _ = _network()
    dense = DenseOperator(_symmetric(5, 0))
    for candidate in (op, dense, Columnwise(op)):
        assert isinstance(candidate, CurvatureOperator)
    assert op.shape == (op.dim, op.dim) == (26, 26) and op.dtype == torch.float64 and op.device.type == "cpu"
    assert dense.shape == (5, 5) and dense.dtype == torch.float64
    assert not isinstance(lambda v: v, CurvatureOperator)  # a bare matvec is not an operator


def test_eigsh_on_the_scipy_adapter_finds_the_top_eigenvalues() -> None:
    """ARPACK on ``as_scipy(HessianOperator)`` against the eigenvalues of the autograd
    Hessian. Both sides are float64: the HVPs and the oracle agree to ~1e-15 relative, so
    by Weyl's inequality the eigenvalues do too, and ARPACK's default tolerance is machine
    precision; 1e-8 relative leaves room for its stopping rule, not for a wrong operator."""
    op, oracle = _network()
    linear = as_scipy(op)
    assert linear.shape == (26, 26) and linear.dtype == np.float64
    top = np.sort(eigsh(linear, k=3, which="LA", v0=np.ones(26), return_eigenvectors=False))
    exact = np.linalg.eigvalsh(oracle.numpy())[-3:]
    np.testing.assert_allclose(top, exact, rtol=1e-8)


def test_scipy_adapter_converts_to_the_operators_dtype() -> None:
    """A float32 operator behind float64 NumPy: products match the float64 ones to float32 rounding."""
    op32, oracle = _network(dtype=torch.float32)
    v = np.random.default_rng(1).normal(size=(26, 2))
    linear = as_scipy(op32)
    got = linear.matmat(v)
    assert got.dtype == np.float64 and got.shape == (26, 2)
    expected = oracle.numpy() @ v
    assert np.abs(got - expected).max() < 1e-5 * np.abs(expected).max()  # float32 HVPs: ~1e-7 relative
    np.testing.assert_array_equal(linear.matvec(v[:, 0]), linear.rmatvec(v[:, 0]))  # symmetric


@pytest.mark.parametrize("engine", ["cached", "revrev"])
def test_block_product_equals_single_products(engine: str) -> None:
    """``matmat`` is ``matvec`` column by column: to float64 rounding on the batched (vmapped)
    second backward, whose summation order differs (~1e-16 relative measured); exactly
    through ``Columnwise``, which takes the single products themselves."""
    op, oracle = _network(engine)
    V = torch.randn(26, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    columns = torch.stack([op.matvec(v) for v in V.T], dim=1)
    block = op.matmat(V)
    assert block.shape == (26, 4)
    assert float((block - columns).abs().max()) < 1e-12 * float(columns.abs().max())
    assert float((block - oracle @ V).abs().max()) < 1e-12 * float(columns.abs().max())
    assert torch.equal(Columnwise(op).matmat(V), columns)
    dense = DenseOperator(oracle)
    np.testing.assert_allclose(dense.matmat(V), torch.stack([dense.matvec(v) for v in V.T], dim=1),
                               rtol=0, atol=1e-13 * float(oracle.abs().max()))


def test_blocks_of_the_wrong_shape_are_refused() -> None:
    op, _ = _network()
    with pytest.raises(UsageError, match=r"\(26, k\)"):
        op.matmat(torch.zeros(3, 26, dtype=torch.float64))  # rows, not columns
    with pytest.raises(UsageError, match="square"):
        DenseOperator(torch.zeros(3, 4))


def test_lanczos_on_a_known_diagonal_finds_its_extremes() -> None:
    """Diagonal entries with isolated extremes (-3 and 7, the rest in [0, 1]): extreme Ritz
    values converge geometrically, so 40 steps in float64 reach them to rounding (1e-10)."""
    diag = torch.cat([torch.tensor([-3.0, 7.0]), torch.linspace(0.0, 1.0, 198)]).to(torch.float64)
    op = DenseOperator(torch.diag(diag))
    result = lanczos(op, 40, torch.ones(200, dtype=torch.float64))
    nodes, _ = ritz(result.alpha, result.beta)
    assert abs(nodes[-1] - 7.0) < 1e-10 and abs(nodes[0] + 3.0) < 1e-10


class _Sized:
    """Only a shape: ``exact_hessian`` must refuse it before taking any product."""

    def __init__(self, dim: int) -> None:
        self.shape, self.dtype, self.device = (dim, dim), torch.float64, torch.device("cpu")

    def matvec(self, v):
        raise AssertionError("no product expected")

    matmat = matvec


def test_one_limit_decides_exact_and_bounds_the_exact_hessian() -> None:
    """The default takes the exact spectrum only up to the size ``exact_hessian`` accepts
    (once 10,000 there and 16,384 in the default's memory rule: D in between was chosen
    exact, then refused)."""
    fast = 1e-9  # seconds a column: time never decides here
    roomy = 2 * 8 * (MAX_DIM + 1) ** 2  # the host memory never decides either (exact_host_bytes)
    assert choose_solver(CurvatureOptions(), MAX_DIM, fast, host_bytes=roomy).solver == "exact"
    assert choose_solver(CurvatureOptions(), MAX_DIM + 1, fast, host_bytes=roomy).solver == "slq-h"
    with pytest.raises(UsageError, match=f"{MAX_DIM:,}"):
        exact_hessian(_Sized(MAX_DIM + 1))


def test_module_example_runs() -> None:
    """The module doc's example (eigsh on a tiny model's Hessian) runs and holds."""
    result = doctest.testmod(operator_module)
    assert result.attempted > 0 and result.failed == 0


def test_the_default_prices_the_eigenvalues_and_a_given_max_hvps() -> None:
    """D columns at 10 ms are 10 s: exact within 60 s, and up to 1.5× that (a tie), until
    the eigenvalues' predicted 85 s push the total over 90 s; a --max-hvps below D + the
    timed products rules exact out whatever the time."""
    options = CurvatureOptions()
    assert choose_solver(options, 1000, 0.01, eigen_seconds=45.0).solver == "exact"
    assert choose_solver(options, 1000, 0.01, eigen_seconds=85.0).solver == "slq-h"
    assert choose_solver(CurvatureOptions(max_hvps=1000 + TIMED_PRODUCTS - 1), 1000, 1e-9).solver == "slq-h"
    assert choose_solver(CurvatureOptions(max_hvps=1000 + TIMED_PRODUCTS), 1000, 1e-9).solver == "exact"


def test_exact_hessian_is_symmetric_and_stops_when_its_check_raises() -> None:
    rng = np.random.default_rng(0)
    a = torch.tensor(rng.normal(size=(300, 300)))
    h = exact_hessian(DenseOperator(a))  # a non-symmetric "Hessian": the result is its symmetric part
    torch.testing.assert_close(h, (a + a.T) / 2, rtol=0, atol=1e-15)
    seen = []

    def check(done: int) -> None:
        seen.append(done)
        if done >= 200:
            raise RuntimeError("over budget")

    with pytest.raises(RuntimeError, match="over budget"):
        exact_hessian(DenseOperator(a), check=check)
    assert seen == [128, 256]


def test_progress_total_waits_for_the_timing_where_it_decides() -> None:
    """The bar's first total: none while the default has still to time its products, the
    columns for --method exact, the first stage's products for --method slq."""
    from prunelimit.api import curvature_steps
    from prunelimit.library import inputs_from

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))  # D = 23
    given = inputs_from(model, (torch.randn(16, 4), torch.randint(0, 2, (16,))), batch_size=8)
    assert curvature_steps(given, CurvatureOptions()) == 0
    assert curvature_steps(given, CurvatureOptions(method="exact")) == 23
    assert curvature_steps(given, CurvatureOptions(method="slq")) == 3 * 23  # 3 probes × min(32 steps, D)
