"""Per-layer curvature: the diagonal blocks H_ll, exact and by lockstep block Lanczos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from prunelimit.curvature.exact import CPU_COLUMN_BLOCK, columns_per_product, exact_hessian
from prunelimit.curvature.hvp import HessianOperator
from prunelimit.curvature.layers import (
    REST,
    Block,
    _Lockstep,
    _Restricted,
    _lockstep_groups,
    exact_block_curvature,
    formed_block_curvature,
    lanczos_block_curvature,
    parameter_blocks,
)
from prunelimit.curvature.operator import DenseOperator
from prunelimit.data.batches import cross_entropy_loss, mse_loss
from prunelimit.errors import UsageError


class TwoProblems(nn.Module):
    """Two independent least-squares problems in one model: ``a`` sees the first ``da``
    inputs and predicts the first target, ``b`` the rest and the second target."""

    def __init__(self, da: int, db: int) -> None:
        super().__init__()
        self.da = da
        self.a = nn.Linear(da, 1, bias=False)
        self.b = nn.Linear(db, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a(x[:, : self.da]), self.b(x[:, self.da :])], dim=1)


def _two_problems(da: int, db: int, n: int = 120, engine: str = "auto"):
    gen = torch.Generator().manual_seed(0)
    # columns of different scales: distinct, well separated block spectra
    x = torch.randn(n, da + db, generator=gen, dtype=torch.float64) * torch.linspace(0.2, 2.0, da + db,
                                                                                      dtype=torch.float64)
    y = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    model = TwoProblems(da, db).double()
    op = HessianOperator(model, list(model.parameters()), [(x[:50], y[:50]), (x[50:], y[50:])], mse_loss,
                         engine=engine)
    # mse_loss is the mean over n·2 entries of squared residuals, so the block of each
    # problem's weights is 2·XᵀX/(2n) = XᵀX/n, and the blocks do not couple.
    closed = [x[:, :da].T @ x[:, :da] / n, x[:, da:].T @ x[:, da:] / n]
    blocks = parameter_blocks(["a.weight", "b.weight"], [da, db], ["a.weight", "b.weight"])
    return op, blocks, closed


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_blocks_one_per_prunable_tensor_then_the_rest_together():
    blocks = parameter_blocks(["0.weight", "0.bias", "2.weight", "2.bias"], [6, 2, 4, 3], ["0.weight", "2.weight"])
    assert [b.name for b in blocks] == ["0.weight", "2.weight", REST]
    assert blocks[0].spans == ((0, 6),) and blocks[1].spans == ((8, 12),)
    assert blocks[2].spans == ((6, 8), (12, 15)) and blocks[2].size == 5
    columns = torch.arange(30.0).reshape(15, 2)
    # take and embed are inverse on the block's entries, zero elsewhere
    back = blocks[2].embed(blocks[2].take(columns), 15)
    assert torch.equal(blocks[2].take(back), blocks[2].take(columns))
    assert float(back[[0, 1, 2, 3, 4, 5, 8, 9, 10, 11]].abs().sum()) == 0.0
    assert [b.name for b in parameter_blocks(["w"], [3], ["w"])] == ["w"]  # no rest block when there is none


@pytest.mark.parametrize("solve", ["dense", "formed", "lanczos"])
def test_block_diagonal_least_squares_matches_the_closed_form_blocks(solve):
    # Blocks of 6 and 9 weights: within Lanczos' 32 steps they are formed exactly, so every
    # solver must give the closed-form trace and λmax to float64 rounding (1e-6 is loose).
    op, blocks, closed = _two_problems(6, 9)
    if solve == "dense":
        found = exact_block_curvature(exact_hessian(op), blocks)
    elif solve == "formed":
        found = formed_block_curvature(op, blocks)
    else:
        found = lanczos_block_curvature(op, blocks)
    for block, h in zip(found, closed):
        assert block.exact
        assert _rel(block.trace, float(torch.trace(h))) < 1e-6
        assert _rel(block.lambda_max, float(torch.linalg.eigvalsh(h)[-1])) < 1e-6
        assert block.quadrature.dim == h.shape[0]
    full = exact_hessian(op)
    assert _rel(sum(b.trace for b in found), float(torch.trace(full))) < 1e-6


def test_block_lanczos_on_blocks_larger_than_its_steps():
    # 40 and 50 weights, one probe of 32 steps (forming them would cost more products):
    # λmax of an SPD block converges to rounding long before the Krylov space is exhausted
    # (1e-6 leaves room for it); the trace is Hutchinson's estimate, unbiased with a stated
    # bound on its standard error, so it is checked against that.
    op, blocks, closed = _two_problems(40, 50, n=200)
    found = lanczos_block_curvature(op, blocks, steps=32, probes=1, seed=3)
    for block, h in zip(found, closed):
        assert not block.exact
        assert _rel(block.lambda_max, float(torch.linalg.eigvalsh(h)[-1])) < 1e-6
        assert abs(block.trace - float(torch.trace(h))) < 4 * block.trace_stderr


def test_lockstep_runs_are_each_blocks_own_run():
    # All blocks advance together through one operator; each block's result is the one it
    # gets alone (the restricted products do not mix the runs).
    op, blocks, _ = _two_problems(40, 50, n=200)
    together = lanczos_block_curvature(op, blocks, steps=16, probes=2, seed=1)
    # Block a draws its probes first either way: its runs must be the same to rounding.
    first = lanczos_block_curvature(op, blocks[:1], steps=16, probes=2, seed=1)
    # Block b alone draws other probes, so only its converged λmax is compared.
    alone = lanczos_block_curvature(op, blocks[1:], steps=16, probes=2, seed=1)
    assert together[0].lambda_max == pytest.approx(first[0].lambda_max, rel=1e-12)
    assert together[0].trace == pytest.approx(first[0].trace, rel=1e-12)
    assert np.allclose(together[0].quadrature.nodes, first[0].quadrature.nodes, rtol=1e-10, atol=1e-12)
    assert alone[0].name == "b.weight" and alone[0].lambda_max == pytest.approx(together[1].lambda_max, rel=1e-6)


def test_blocks_run_in_groups_whose_bases_fit_the_basis_memory():
    """Under a basis budget too small for every block's padded bases at once, the blocks run
    in groups that fit it (the wider block alone, here) and give the blocks of one group:
    the same probes, so the same runs to rounding; one block that cannot fit is refused."""
    op, blocks, _ = _two_problems(40, 50, n=200)
    one_block = 2 * 16 * 8 * 50  # 2 probes × 16 float64 steps of the 50-weight block
    together = lanczos_block_curvature(op, blocks, steps=16, probes=2, seed=1)
    split = lanczos_block_curvature(op, blocks, steps=16, probes=2, seed=1, basis_bytes=1.5 * one_block)
    assert [g for g in _lockstep_groups(blocks, 2 * 16 * 8, 1.5 * one_block)] == [[blocks[1]], [blocks[0]]]
    for a, b in zip(together, split, strict=True):
        assert a.name == b.name and a.trace == pytest.approx(b.trace, rel=1e-10)
        assert a.lambda_max == pytest.approx(b.lambda_max, rel=1e-10)
    with pytest.raises(UsageError, match="b.weight .* need 12.8 KB .* more than the 12.7 KB") as refused:
        lanczos_block_curvature(op, blocks, steps=16, probes=2, seed=1, basis_bytes=one_block - 100)
    assert refused.value.renamed(lambda name: name).endswith("use a larger basis_memory_mb or a narrower basis_dtype")


def test_block_trace_error_bound_covers_where_two_samples_do_not():
    """The stated trace error is a bound on Hutchinson's standard error, not the spread of
    the block's two estimates (one degree of freedom, small by chance). On a low-rank block
    (off-diagonal heavy: the Rademacher variance 2·Σ_{i≠j} A_ij² is large) over 300 seeds,
    ±1.96 of the bound holds the true trace in at least 90 % of runs (the estimates are
    skewed, a weighted χ² of rank 6, so not exactly 95 %), where ±1.96 of the two-sample
    spread held it in 71 %; and the bound is never below the exact standard error on average."""
    n, rank, seeds = 80, 6, 300
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, rank, generator=gen, dtype=torch.float64)
    a = x @ x.T / rank + 0.05 * torch.diag(torch.rand(n, generator=gen, dtype=torch.float64))
    true = float(torch.trace(a))
    off = a - torch.diag(torch.diag(a))
    exact_se = float(torch.sqrt(2 * (off**2).sum() / 2))  # two probes
    block = [Block("w", ((0, n),))]
    bound_hits = spread_hits = stated_hits = 0
    stated = []
    for seed in range(seeds):
        (b,) = lanczos_block_curvature(DenseOperator(a), block, steps=8, probes=2, seed=seed)
        samples = n * b.quadrature.expectation(lambda t: t)
        err = abs(b.trace - true)
        bound_hits += err <= 1.96 * b.trace_stderr
        spread_hits += err <= 1.96 * np.std(samples, ddof=1) / np.sqrt(2)
        stated_hits += err <= b.trace_plus_minus
        stated.append(b.trace_stderr)
    assert bound_hits / seeds >= 0.90 and spread_hits / seeds <= 0.80
    assert stated_hits / seeds >= 0.95  # the stated 95 % ± (prunelimit.curvature.trace)
    assert np.mean(stated) >= exact_se


def test_one_probe_has_a_trace_error_and_bad_plans_are_refused():
    op, blocks, _ = _two_problems(40, 50, n=200)
    (one,) = lanczos_block_curvature(op, blocks[:1], steps=8, probes=1)
    assert 0 < one.trace_stderr < abs(one.trace)
    with pytest.raises(UsageError, match="at least 1 step"):
        lanczos_block_curvature(op, blocks, steps=0)


def test_block_lanczos_lambda_max_on_a_small_mlp():
    # A 64-12-10 MLP on the digits: blocks of 768 and 120 weights by 32-step Lanczos, the 22
    # biases (the rest) exactly. Extreme Ritz values converge first: the measured error was
    # below 1e-15 relative for four seeds; 1e-4 is the claim, with room for other BLAS builds.
    from prunelimit.data.spec import load_dataset, make_batches

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10)).double()
    batches = [(x.double(), y) for x, y in make_batches(load_dataset("digits:train", max_samples=300), 100)]
    names = [n for n, _ in model.named_parameters()]
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss)
    blocks = parameter_blocks(names, [p.numel() for p in model.parameters()], ["0.weight", "2.weight"])
    exact = exact_block_curvature(exact_hessian(op), blocks)
    found = lanczos_block_curvature(op, blocks, seed=0)
    assert [b.name for b in found] == ["0.weight", "2.weight", REST]
    for e, f in zip(exact, found):
        assert _rel(f.lambda_max, e.lambda_max) < 1e-4, (f.name, f.lambda_max, e.lambda_max)
        assert f.lambda_max <= e.lambda_max * (1 + 1e-9)  # Ritz values lie inside the spectrum
    assert found[2].exact and _rel(found[2].trace, exact[2].trace) < 1e-9


def test_exact_blocks_of_a_symmetric_matrix():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(9, 9, generator=gen, dtype=torch.float64)
    h = a + a.T
    blocks = (Block("x", ((0, 4),)), Block("y", ((4, 6), (7, 9))), Block("z", ((6, 7),)))
    found = exact_block_curvature(h, blocks)
    for block, idx in zip(found, ([0, 1, 2, 3], [4, 5, 7, 8], [6])):
        sub = h[idx][:, idx]
        assert block.trace == pytest.approx(float(torch.trace(sub)), rel=1e-12)
        assert block.lambda_max == pytest.approx(float(torch.linalg.eigvalsh(sub)[-1]), rel=1e-12)
        assert block.trace_stderr == 0.0 and block.params == len(idx)


def test_an_empty_tensor_has_no_block_and_shifts_none():
    """An empty layer (``nn.Linear(16, 0)``: a 0 × 16 weight) made a block of size 0, whose
    exact spectrum divided by its dimension: ``bounds --per-layer`` ended in an internal error."""
    blocks = parameter_blocks(["a", "e.weight", "e.bias", "b"], [6, 0, 0, 4], ["a", "e.weight", "b"])
    assert [(b.name, b.spans) for b in blocks] == [("a", ((0, 6),)), ("b", ((6, 10),))]
    h = torch.diag(torch.arange(1.0, 11.0, dtype=torch.float64))
    assert [c.trace for c in exact_block_curvature(h, blocks)] == [21.0, 34.0]


@pytest.mark.parametrize("engine, columns", [("cached", 1), ("revrev", CPU_COLUMN_BLOCK)])
def test_per_layer_operators_carry_the_engine_so_exact_columns_are_sized_by_it(engine, columns):
    # a block formed without a dense Hessian takes its columns as the whole operator would:
    # one at a time on a CPU's kept graph, CPU_COLUMN_BLOCK on the recomputing engine (not 128)
    op, blocks, _ = _two_problems(3, 4, engine=engine)
    assert columns_per_product(op) == columns
    assert columns_per_product(_Restricted(op, blocks[0])) == columns
    assert columns_per_product(_Lockstep(op, 4, lambda: list(blocks))) == columns


class _Widths(DenseOperator):
    """A dense operator that says it is ``engine``'s on a CPU and records each product's width."""

    def __init__(self, matrix: torch.Tensor, engine: str) -> None:
        super().__init__(matrix)
        self.engine, self.widths = engine, []

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        self.widths.append(V.shape[1])
        return super().matmat(V)


@pytest.mark.parametrize("engine, columns", [("cached", 1), ("revrev", CPU_COLUMN_BLOCK)])
def test_small_blocks_take_their_columns_as_the_engine_would(engine, columns):
    # blocks of up to probes × steps weights are formed from unit columns: they went in one
    # batched product of all of them (20 here), every column's activations held at once
    # on a CPU's kept graph; the blocks stay exact (the same columns, float64: 1e-12)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20, 20, generator=gen, dtype=torch.float64)
    h = a @ a.T
    blocks = parameter_blocks(["w", "v"], [12, 8], ["w", "v"])
    op = _Widths(h, engine)
    found = lanczos_block_curvature(op, blocks)
    assert max(op.widths) == columns and sum(op.widths) == 20
    for got, want in zip(found, exact_block_curvature(h, blocks)):
        assert got.exact and abs(got.trace - want.trace) <= 1e-12 * abs(want.trace)


@pytest.mark.parametrize("lockstep", [1, 3])
def test_lockstep_blocks_take_the_products_a_matmat_the_operator_serves(lockstep):
    # the blocks' Lanczos steps went in one batched product of blocks × probes columns
    # whatever the engine; a kept graph's operator (lockstep 1) takes them one at a time.
    # Same products, so the same blocks (float64 rounding: 1e-10 relative)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(200, 200, generator=gen, dtype=torch.float64)
    h = a @ a.T / 200
    blocks = parameter_blocks(["w", "v"], [120, 80], ["w", "v"])
    op = _Widths(h, "cached")
    op.lockstep = lockstep
    found = lanczos_block_curvature(op, blocks, steps=8, probes=2)
    assert max(op.widths) == lockstep
    reference = lanczos_block_curvature(DenseOperator(h), blocks, steps=8, probes=2)
    for got, want in zip(found, reference):
        assert abs(got.trace - want.trace) <= 1e-10 * abs(want.trace)
        assert abs(got.lambda_max - want.lambda_max) <= 1e-10 * want.lambda_max
