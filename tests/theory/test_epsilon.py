"""ε (docs/theory.md): population std of per-batch mean losses, eval mode, fixed order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from prunelimit.data.batches import mse_loss
from prunelimit.errors import NumericalError, UsageError
from prunelimit.theory.epsilon import batch_losses, epsilon_from_losses, mean_loss


def _regression(n: int = 70, d: int = 5, batch: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = x @ torch.randn(d, 1, generator=g, dtype=torch.float64) + 0.3 * torch.randn(
        n, 1, generator=g, dtype=torch.float64
    )
    torch.manual_seed(seed)
    model = nn.Linear(d, 1).double()
    batches = [(x[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)]
    return model, batches, x, y


def test_epsilon_is_numpy_std_of_batch_losses():
    model, batches, _, _ = _regression()
    w, b = model.weight.detach(), model.bias.detach()
    # Oracle: the per-batch mean squared error written out by hand.
    manual = np.array([float(((xb @ w.T + b - yb) ** 2).mean()) for xb, yb in batches])
    losses = batch_losses(model, batches, mse_loss)
    # float64 throughout; only summation order differs -> 1e-12 relative.
    np.testing.assert_allclose(losses, manual, rtol=1e-12)
    assert epsilon_from_losses(losses) == pytest.approx(float(np.std(manual)), rel=1e-12)
    # population std (ddof=0), not the sample std
    assert epsilon_from_losses(losses) != pytest.approx(float(np.std(manual, ddof=1)), rel=1e-6)


def test_mean_loss_is_size_weighted_over_all_samples():
    model, batches, x, y = _regression(n=70, batch=16)  # last batch has 6 samples
    losses = batch_losses(model, batches, mse_loss)
    sizes = [len(b[0]) for b in batches]
    with torch.no_grad():
        full = float(mse_loss(model, (x, y)))
    assert mean_loss(losses, sizes) == pytest.approx(full, rel=1e-12)
    assert float(np.mean(losses)) != pytest.approx(full, rel=1e-6)


def test_batch_losses_use_eval_mode_and_restore_it():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1)).double()
    x = torch.randn(32, 4, dtype=torch.float64)
    batches = [(x[:16], torch.zeros(16, 1, dtype=torch.float64)), (x[16:], torch.ones(16, 1, dtype=torch.float64))]
    model.train()
    first = batch_losses(model, batches, mse_loss)
    second = batch_losses(model, batches, mse_loss)
    assert model.training  # mode restored
    np.testing.assert_array_equal(first, second)  # dropout off -> deterministic
    model.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(first, [float(mse_loss(model, b)) for b in batches])


def test_degenerate_inputs_are_refused():
    with pytest.raises(UsageError):
        epsilon_from_losses([0.3])
    with pytest.raises(UsageError):
        epsilon_from_losses([0.3, 0.3, 0.3])
    with pytest.raises(UsageError):
        mean_loss([0.1, 0.2], [3])
    model, batches, _, _ = _regression()
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    with pytest.raises(NumericalError):
        batch_losses(model, batches, mse_loss)


def test_one_batch_names_the_arguments_that_fix_it():
    """The library caller reads the argument names (``batch_size``, ``epsilon``), the
    command line its flags, from one message."""
    from prunelimit.errors import OptionError

    with pytest.raises(OptionError) as caught:
        epsilon_from_losses([0.3])
    assert str(caught.value) == ("epsilon from per-batch losses needs at least 2 analysis batches, got 1; "
                                 "use a smaller batch_size or give epsilon explicitly")
    assert caught.value.renamed(lambda name: "--" + name.replace("_", "-")).endswith(
        "use a smaller --batch-size or give --epsilon explicitly")


@pytest.mark.parametrize("samples, fix", [(40, "use a smaller batch_size"), (1, "use more data")])
def test_one_batch_says_whether_a_smaller_batch_size_can_help(samples, fix):
    """A single sample makes one batch at every batch size: only more data (or ε) helps."""
    from prunelimit.errors import OptionError
    from prunelimit.theory.epsilon import require_batches

    with pytest.raises(OptionError, match=rf"got 1 \(the data holds {samples} samples?\); {fix} or give epsilon"):
        require_batches(1, samples)
    require_batches(2, 1 + samples)
