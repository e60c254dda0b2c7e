"""Saliency metrics against closed forms on a linear least-squares model.

For f(x) = W x (no bias) and L = mean over samples and outputs of (f(x) − y)², the
gradient w.r.t. the effective weight W̃ = W ⊙ M on a batch (X, Y) of size B is
(2 / (B·out)) · (X W̃ᵀ − Y)ᵀ X. All comparisons are float64, so tolerances are 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from prunelimit.data.batches import mse_loss
from prunelimit.errors import UsageError
from prunelimit.laws.saliency import STE_SCALE, compute_saliency

OUT, IN = 3, 4


def setup(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    model = nn.Linear(IN, OUT, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(OUT, IN, generator=gen, dtype=torch.float64))
    x = torch.randn(23, IN, generator=gen, dtype=torch.float64)
    y = torch.randn(23, OUT, generator=gen, dtype=torch.float64)
    batches = [(x[:10], y[:10]), (x[10:13], y[10:13]), (x[13:], y[13:])]  # unequal sizes
    mask = torch.rand(OUT, IN, generator=gen) > 0.3
    return model, batches, mask


def grad(w_eff: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 2.0 / (x.shape[0] * OUT) * (x @ w_eff.T - y).T @ x


@pytest.mark.parametrize("metric", ["gradient", "taylor", "fisher"])
def test_gradient_metrics_match_closed_form(metric):
    model, batches, mask = setup()
    before = model.weight.detach().clone()
    sal = compute_saliency(model, batches, mse_loss, metric, masks=[mask])
    w = model.weight.detach()
    total = sum(b[0].shape[0] for b in batches)
    gs = [(b[0].shape[0] / total, grad(w * mask, *b)) for b in batches]  # size-weighted means
    mean_abs = sum(p * g.abs() for p, g in gs)
    mean_sq = sum(p * g * g for p, g in gs)
    expected = {"gradient": mean_abs, "taylor": w.abs() * mean_abs, "fisher": 0.5 * mean_sq * w * w}[metric]
    np.testing.assert_allclose(sal.split()["weight"], expected.numpy(), rtol=1e-10, atol=1e-14)
    assert torch.equal(model.weight.detach(), before)  # masks applied without touching the model


def test_magnitude_and_split_over_several_tensors():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(12, 5), nn.BatchNorm1d(5))
    sal = compute_saliency(model, [], mse_loss, "magnitude")
    assert sal.names == ("0.weight", "2.weight") and sal.shapes == ((3, 2, 3, 3), (5, 12))
    np.testing.assert_array_equal(
        sal.scores, torch.cat([model[0].weight.abs().flatten(), model[2].weight.abs().flatten()]).detach().numpy()
    )
    np.testing.assert_array_equal(sal.split()["2.weight"], model[2].weight.abs().detach().numpy())


def test_flux_at_least_squares_optimum_is_kappa_h_theta_squared():
    # At the full-data optimum W*, switching weight (r, c) off alone and differentiating gives
    # ∂L/∂w̃ = −H_cc·θ, H_cc = 2/(n·out)·Σ x_c², hence flux = κ·H_cc·θ² > 0 (it wants back).
    # flux_fraction < 1/N puts every present weight in its own gate-off group.
    model, batches, mask = setup(1)
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y).solution.T)
    sal = compute_saliency(model, batches, mse_loss, "flux", flux_fraction=1 / 20, flux_repeats=2, seed=3)
    h = 2.0 / (x.shape[0] * OUT) * (x * x).sum(0)
    expected = STE_SCALE * h[None, :] * model.weight.detach() ** 2
    np.testing.assert_allclose(sal.split()["weight"], expected.numpy(), rtol=1e-9)


def test_flux_on_masked_network_brute_force():
    # Away from an optimum and with a mask: pruned weights are measured in the masked
    # network, present weights each switched off alone (singleton groups); brute force
    # recomputes the closed-form gradient for every weight's gate-off state.
    model, batches, mask = setup(2)
    w = model.weight.detach()
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    sal = compute_saliency(model, batches, mse_loss, "flux", masks=[mask], flux_fraction=1e-3, flux_repeats=1)
    got = torch.from_numpy(sal.split()["weight"])
    for r in range(OUT):
        for c in range(IN):
            off = mask.clone()
            off[r, c] = False  # pruned weights: already off; present: switched off alone
            g = grad(w * off, x, y)
            assert got[r, c] == pytest.approx(float(-STE_SCALE * w[r, c] * g[r, c]), rel=1e-9, abs=1e-14)


def test_mode_restored_and_bad_arguments():
    model, batches, mask = setup()
    model.train()
    compute_saliency(model, batches, mse_loss, "gradient")
    assert model.training
    with pytest.raises(UsageError, match="unknown saliency metric"):
        compute_saliency(model, batches, mse_loss, "hessian")
    with pytest.raises(UsageError, match="masks for 1 prunable"):
        compute_saliency(model, batches, mse_loss, "gradient", masks=[mask, mask])


@pytest.mark.parametrize("metric", ["gradient", "flux"])
def test_gradient_saliencies_run_without_cudnn_on_a_recurrent_model(monkeypatch, metric):
    """Saliency gradients are taken in eval mode by default, where cuDNN's recurrent kernels
    have no backward: the HVPs turned cuDNN off for such models on CUDA, the laws' gradients
    did not. Every gradient pass now runs inside ``native_recurrence`` (which turns it off
    only for a recurrent model on CUDA)."""
    from contextlib import contextmanager

    from prunelimit.data.batches import cross_entropy_loss
    from prunelimit.laws import saliency

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.GRU(3, 4, batch_first=True), nn.Linear(4, 3)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    entered = []

    @contextmanager
    def recorded(model, device):
        entered.append((model, device))
        yield

    monkeypatch.setattr(saliency, "native_recurrence", recorded)
    torch.manual_seed(0)
    model = Recurrent().eval()
    batches = [(torch.randn(6, 4, 3), torch.arange(6) % 3)]
    compute_saliency(model, batches, cross_entropy_loss, metric, flux_repeats=1, flux_fraction=0.5)
    assert entered and all(m is model and d == torch.device("cpu") for m, d in entered)


class _Checkpointed(nn.Module):
    """Linear(4→3), tanh, then Linear(3→2), with the ``segment`` ("first" or "second") run
    under ``torch.utils.checkpoint``, reentrant or not."""

    def __init__(self, segment: str, reentrant: bool) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(IN, OUT), nn.Linear(OUT, 2)
        self.segment, self.reentrant = segment, reentrant

    def forward(self, x):
        from torch.utils import checkpoint

        run = lambda fn, t: checkpoint.checkpoint(fn, t, use_reentrant=self.reentrant)  # noqa: E731
        first = lambda t: torch.tanh(self.a(t))  # noqa: E731
        h = run(first, x) if self.segment == "first" else first(x)
        return run(self.b, h) if self.segment == "second" else self.b(h)


@pytest.mark.parametrize("segment", ["first", "second"])
def test_a_reentrant_checkpoint_is_refused_as_the_hessian_refuses_it(segment):
    """"first": torch gave the segment's weights no gradient, only a warning, and their
    gradient saliency read 0 (all 12 of a.weight's); "second": torch.autograd.grad's
    RuntimeError escaped. Non-reentrant checkpointing gives the plain model's saliency."""
    import warnings

    from prunelimit.models.activation_checkpointing import reentrant_checkpoint_error
    from prunelimit.data.batches import cross_entropy_loss
    from prunelimit.errors import InputError

    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, IN, generator=gen, dtype=torch.float64), torch.randint(0, 2, (16,), generator=gen))]

    def saliency(reentrant: bool | None):
        torch.manual_seed(0)
        model = _Checkpointed(segment if reentrant is not None else "none", bool(reentrant)).double()
        return compute_saliency(model, batches, cross_entropy_loss, "gradient").scores

    np.testing.assert_allclose(saliency(False), saliency(None), rtol=0, atol=1e-12)
    with pytest.raises(InputError) as refused, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own warning for the "first" segment
        saliency(True)
    assert str(refused.value) == str(reentrant_checkpoint_error())


@pytest.mark.parametrize("segment", ["first", "second"])
@pytest.mark.parametrize("metric", ["gradient", "taylor", "fisher", "flux"])
def test_a_non_reentrant_checkpoint_gives_the_masked_models_saliency(segment, metric):
    """A non-reentrant segment recomputes its forward in the backward pass; taken after
    functional_call had put the module's own weights back, that recomputation used the
    unpruned weights, so the saliencies of a masked network (and flux, which switches weights
    off, on any network) were not the same model's without checkpointing (gradient: off by
    up to a third of the largest score). float64, the same arithmetic: 1e-12 of the largest score."""
    from prunelimit.data.batches import cross_entropy_loss

    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, IN, generator=gen, dtype=torch.float64), torch.randint(0, 2, (16,), generator=gen))]
    masks = [torch.rand(shape, generator=gen) > 0.4 for shape in [(OUT, IN), (2, OUT)]]

    def saliency(segment: str):
        torch.manual_seed(0)
        model = _Checkpointed(segment, reentrant=False).double()
        return compute_saliency(model, batches, cross_entropy_loss, metric, masks=masks, flux_fraction=0.5,
                                flux_repeats=1).scores

    plain = saliency("none")
    scale = np.abs(plain).max()
    assert scale > 0
    np.testing.assert_allclose(saliency(segment) / scale, plain / scale, rtol=0, atol=1e-12)


class _Noisy(nn.Linear):
    def forward(self, x):
        import warnings

        warnings.warn("noisy forward")
        return super().forward(x)


def test_the_reentrant_guard_leaves_the_models_own_warnings_shown_once():
    """Recording warnings per batch to find torch's reentrant one had them re-emitted without
    their registry: a warning of forward was shown once a batch (36 times in a `law nplh
    --metric taylor` of 16 batches), not once."""
    import warnings

    from prunelimit.data.batches import cross_entropy_loss

    torch.manual_seed(0)
    model = _Noisy(IN, 3)
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, IN, generator=gen), torch.randint(0, 3, (8,), generator=gen)) for _ in range(4)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        compute_saliency(model, batches, cross_entropy_loss, "taylor")
    assert [str(w.message) for w in caught] == ["noisy forward"]
