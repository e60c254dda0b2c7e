"""Every HVP engine and chunking against a plain per-batch double-backward reference.

The reference is the definition of docs/theory.md written out directly: for each of the
caller's batches, ``∇(v·∇L_b)`` by two backward passes, weighted by ``|b|/n``. All in
float64, so any engine or chunking that computes the same Hessian agrees with it to
rounding (~1e-15 relative); 1e-10 absolute leaves room for summation order only.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunelimit.curvature.hvp import HessianOperator, _rechunked
from prunelimit.data.batches import cross_entropy_loss
from prunelimit.errors import InputError, UsageError

TOL = 1e-10  # float64 rounding only (see module doc)


def _reference_hvp(model: nn.Module, batches: list, loss_fn, v: torch.Tensor) -> torch.Tensor:
    params = list(model.parameters())
    n = sum(len(b[0]) for b in batches)
    parts = [c.view_as(p) for c, p in zip(v.split([p.numel() for p in params]), params)]
    total = torch.zeros_like(v)
    for b in batches:
        grads = torch.autograd.grad(loss_fn(model, b), params, create_graph=True)
        hv = torch.autograd.grad(grads, params, grad_outputs=parts)
        total += len(b[0]) / n * torch.cat([h.reshape(-1) for h in hv])
    return total


def _mlp_problem():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x = torch.randn(23, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (23,), generator=gen)
    # Uneven batches, short last one: a chunking that mis-weights samples shows.
    cuts = [0, 8, 16, 20, 23]
    return model, [(x[a:b], y[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


def _bn_cnn_problem():
    """A conv net with BatchNorm whose running statistics are not the identity."""
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)
    ).double()
    x = torch.randn(13, 1, 6, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (13,), generator=gen)
    with torch.no_grad():
        model.train()
        model(x * 2 + 1)  # running stats ≠ (0, 1); eval mode must use them, not batch stats
    return model.eval(), [(x[:5], y[:5]), (x[5:10], y[5:10]), (x[10:], y[10:])]


def _strided_cnn_problem():
    """Grouped, strided, padded and dilated convolutions, a "same"-padded one (not
    rewritten) and max pooling: every path of ``prunelimit.curvature.rewrites``."""
    torch.manual_seed(5)
    gen = torch.Generator().manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2), nn.BatchNorm2d(4), nn.Softplus(),
        nn.Conv2d(4, 4, 3, padding="same", bias=False), nn.Tanh(), nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 2, dilation=2, padding=(1, 2)), nn.Flatten(), nn.LazyLinear(3),
    ).double()
    x = torch.randn(11, 2, 9, 9, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (11,), generator=gen)
    with torch.no_grad():
        model.train()
        model(x * 2 + 1)
    return model.eval(), [(x[:6], y[:6]), (x[6:], y[6:])]


@pytest.mark.parametrize("problem", [_mlp_problem, _bn_cnn_problem, _strided_cnn_problem])
@pytest.mark.parametrize("engine", ["cached", "revrev", "auto"])
@pytest.mark.parametrize("chunking", ["auto", "batches", 1, 3, 7, 100])
def test_engine_and_chunking_match_reference(problem, engine, chunking):
    model, batches = problem()
    op = HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss,
                         engine=engine, chunk_samples=chunking)
    assert op.batch_sizes() == [len(b[0]) for b in batches]
    assert sum(op.chunk_sizes()) == sum(op.batch_sizes())
    if isinstance(chunking, int):
        assert max(op.chunk_sizes()) == min(chunking, sum(op.batch_sizes()))
    gen = torch.Generator().manual_seed(2)
    vs = torch.randn(3, op.dim, generator=gen, dtype=torch.float64)
    expected = torch.stack([_reference_hvp(model, batches, cross_entropy_loss, v) for v in vs])
    assert float((torch.stack([op.matvec(v) for v in vs]) - expected).abs().max()) < TOL
    assert float((op.matmat(vs.T).T - expected).abs().max()) < TOL


def test_gradient_and_loss_do_not_depend_on_chunking():
    model, batches = _mlp_problem()
    ops = [HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, chunk_samples=c)
           for c in ("batches", 5, 100)]
    for op in ops[1:]:
        assert float((op.gradient() - ops[0].gradient()).abs().max()) < TOL
        assert op.loss() == pytest.approx(ops[0].loss(), rel=1e-12)
        assert (op.batch_losses() == ops[0].batch_losses()).all()  # per caller's batch, unchunked


def _sum_loss(model: nn.Module, batch) -> torch.Tensor:
    """Not a per-sample mean: merging batches would change the Hessian."""
    return nn.functional.cross_entropy(model(batch[0]), batch[1], reduction="sum")


def test_loss_that_is_not_a_mean_keeps_the_batches():
    model, batches = _mlp_problem()
    # the fix it names is the loss's own: no command takes chunk_samples, which it named
    with pytest.warns(UserWarning, match=r"not a per-sample mean .*; return the batch's mean loss \(a sum weighs "
                                         r"each batch by its size once more\)$") as caught:
        op = HessianOperator(model, list(model.parameters()), batches, _sum_loss, chunk_samples=7)
    assert not any("chunk_samples" in str(w.message) for w in caught)
    assert op.chunk_sizes() == op.batch_sizes()
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert float((op.matvec(v) - _reference_hvp(model, batches, _sum_loss, v)).abs().max()) < TOL


def test_batches_that_cannot_be_concatenated_are_kept():
    model, batches = _mlp_problem()
    tagged = [(x, y, torch.tensor(i)) for i, (x, y) in enumerate(batches)]  # a per-batch scalar
    assert _rechunked(tagged, 7) is None
    op = HessianOperator(model, list(model.parameters()), tagged, cross_entropy_loss, chunk_samples=7)
    assert op.chunk_sizes() == op.batch_sizes()


def test_nondeterministic_loader_refused_when_chunking():
    model, batches = _mlp_problem()

    class Augmenting:
        """Several noisy batches per pass: the chunked check must still see the noise."""

        def __iter__(self):
            for x, y in batches:
                yield (x + 0.1 * torch.randn_like(x), y)

    with pytest.raises(InputError, match="not deterministic"):
        HessianOperator(model, list(model.parameters()), Augmenting(), cross_entropy_loss, chunk_samples=7)


@pytest.mark.parametrize("bad", [0, -3, "big", 2.5])
def test_bad_chunking_refused(bad):
    model, batches = _mlp_problem()
    with pytest.raises(UsageError, match="chunk_samples"):
        HessianOperator(model, list(model.parameters()), batches, cross_entropy_loss, chunk_samples=bad)


def test_rechunked_batches_of_one_data_set_are_views_of_it():
    """A loaded data set's batches lie end to end in its storage: the chunks are views of it,
    not a second copy of the data (300 MB more beside a 100,000 × 784 float32 set)."""
    x, y = torch.randn(50, 3), torch.arange(50) % 3
    batches = [(x[i : i + 8], y[i : i + 8]) for i in range(0, 50, 8)]
    chunks = _rechunked(batches, 16)
    assert [len(c[0]) for c in chunks] == [16, 16, 16, 2]
    assert chunks[1][0].data_ptr() == x[16].data_ptr() and chunks[3][1].data_ptr() == y[48].data_ptr()
    assert torch.equal(torch.cat([c[0] for c in chunks]), x)
    # batches out of order, or copies: joined by copying, in the order given
    swapped = [batches[1], batches[0], *batches[2:]]
    moved = torch.cat([c[0] for c in _rechunked(swapped, 16)])
    assert torch.equal(moved, torch.cat([b[0] for b in swapped])) and moved.data_ptr() != x.data_ptr()
    copied = torch.cat([c[0] for c in _rechunked([(a.clone(), b.clone()) for a, b in batches], 16)])
    assert torch.equal(copied, x)
