"""Does ``bounds``' overshoot flag agree with the measured limit? (results: docs/accuracy.md)

Trains twelve small models on the bundled digits (``digits:train``) and a synthetic
regression set, plainly, with l1 from the start, and plainly then briefly with l1 (SGD,
momentum 0.9, batches of 64, seeded, one torch thread: seconds each), and six plainly
trained MLPs of other kinds of training (label smoothing, near-zero loss, stopped early, a
skip connection, Adam, multi-label BCE), then runs
``prunelimit.verify`` (default method) on each and prints ρ*, ρ_L, the measured limit (loss
criterion), the regime's ``l1_shaped`` and the ``overshoot`` flags, and whether each flag
says what the measured limit says: ``lower`` when ρ_L lies past it, ``predicted`` when ρ*
lies more than 5 points past it. Its first nine rows took 12 minutes on 2 cores shared with
other jobs (load average 5–11).

    PYTHONPATH=. python benchmarks/accuracy_overshoot.py            # every row
    PYTHONPATH=. python benchmarks/accuracy_overshoot.py adam bce   # the rows naming a word
"""

from __future__ import annotations

import functools
import itertools
import sys

import torch
import torch.nn.functional as F
from torch import nn

import prunelimit
from prunelimit.data.spec import load_dataset
from prunelimit.pruning.actual import LARGE_GAP


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16, 10))


def batchnorm_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 48), nn.BatchNorm1d(48), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(48, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))


def regression() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 1))


def regression_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1000, 8, generator=g)
    y = torch.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * x[:, 3] ** 2 + 0.1 * torch.randn(1000, generator=g)
    return x, y[:, None]


class Residual(nn.Module):
    """An MLP whose hidden layer is added to its own input (a skip connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp, self.block, self.out = nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.inp(x))
        return self.out(h + F.relu(self.block(h)))


def fit(model: nn.Module, data, loss_fn, steps: int, lr: float, l1: float = 0.0, seed: int = 0,
        adam: bool = False) -> nn.Module:
    """SGD (or Adam) on ``loss_fn`` (+ ``l1`` · the weight matrices' l1 norm) for ``steps`` batches of 64."""
    x, y = data
    optimizer = torch.optim.Adam(model.parameters(), lr=lr) if adam else \
        torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    draw = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(x), (64,), generator=draw)
        loss = loss_fn(model(x[i]), y[i])
        if l1:
            loss = loss + l1 * sum(p.abs().sum() for n, p in model.named_parameters()
                                   if n.endswith("weight") and p.dim() > 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def models():
    """(name, model, data, loss) for each trained model."""
    digits = load_dataset("digits:train")
    flat, images = (digits.x, digits.y), (digits.x.reshape(-1, 1, 8, 8), digits.y)
    reg = regression_data()
    nets = {"mlp": (mlp, flat, F.cross_entropy, "ce", 0.05), "cnn": (cnn, images, F.cross_entropy, "ce", 0.05),
            "bn-mlp": (batchnorm_mlp, flat, F.cross_entropy, "ce", 0.05),
            "mse-mlp": (regression, reg, F.mse_loss, "mse", 0.02)}
    plans = [("mlp", "plain", 600, 0, 0.0), ("cnn", "plain", 600, 0, 0.0), ("bn-mlp", "plain", 600, 0, 0.0),
             ("mse-mlp", "plain", 1500, 0, 0.0), ("mlp", "l1", 0, 3000, 2e-3), ("cnn", "l1", 0, 3000, 1e-3),
             ("bn-mlp", "l1", 0, 3000, 1e-3), ("mse-mlp", "l1", 0, 4000, 1e-3),
             ("mlp", "plain, then l1", 600, 100, 1e-3), ("cnn", "plain, then l1", 600, 150, 1e-3),
             ("mlp", "l1, short", 0, 700, 1e-3), ("mse-mlp", "plain, then l1", 1500, 300, 1e-3)]
    for net, how, plain_steps, l1_steps, l1 in plans:
        factory, data, loss_fn, loss, lr = nets[net]
        torch.manual_seed(0)
        model = fit(factory(), data, loss_fn, plain_steps, lr)
        model = fit(model, data, loss_fn, l1_steps, lr, l1, seed=5 if plain_steps else 0)
        yield f"{net}, {how}", model, data, loss


def other_training():
    """(name, model, data, loss) for plainly trained MLPs of other kinds of training: label
    smoothing (analysed with plain cross-entropy), to near zero training loss, stopped early at a
    high loss, a skip connection, Adam, and a multi-label model (three binary labels, BCE)."""
    digits = load_dataset("digits:train")
    flat = (digits.x, digits.y)
    labels = torch.stack([digits.y % 2 == 0, digits.y >= 5, digits.y % 3 == 0], 1).float()
    smoothed = functools.partial(F.cross_entropy, label_smoothing=0.1)
    plans = [("label smoothing 0.1", mlp, flat, smoothed, "ce", 600, 0.05, False),
             ("near-zero loss", mlp, flat, F.cross_entropy, "ce", 5000, 0.1, False),
             ("early stop, high loss", mlp, flat, F.cross_entropy, "ce", 30, 0.01, False),
             ("residual", Residual, flat, F.cross_entropy, "ce", 600, 0.05, False),
             ("adam", mlp, flat, F.cross_entropy, "ce", 600, 1e-3, True),
             ("multi-label, bce", lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3)),
              (digits.x, labels), F.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, 600, 0.05,
              False)]
    for name, factory, data, trained_on, loss, steps, lr, adam in plans:
        torch.manual_seed(0)
        yield f"mlp, {name}", fit(factory(), data, trained_on, steps, lr, adam=adam), data, loss


def main() -> None:
    """Every row, or those whose name holds one of the words given (``"label smoothing" adam``)."""
    torch.set_num_threads(1)
    chosen = sys.argv[1:]
    print("| model | l1-shaped | ρ* | ρ_L | measured | Δ | overshoot.lower | overshoot.predicted | agree |")
    print("|---|---|---:|---:|---:|---:|---|---|---|")
    for name, model, data, loss in itertools.chain(models(), other_training()):
        if chosen and not any(word in name for word in chosen):
            continue
        report = prunelimit.verify(model, data, loss=loss)
        rep, actual = report.bounds, report.actual.loss_ratio
        flags = rep.overshoot
        agree = flags.lower_overshoots == (rep.lower > actual) and flags.predicted_overshoots == (
            report.delta > LARGE_GAP)
        print(f"| {name} | {'yes' if rep.regime.l1_shaped else 'no'} | {100 * rep.ratio:.1f} % | "
              f"{100 * rep.lower:.1f} % | {100 * actual:.1f} % | {100 * report.delta:+.1f} | "
              f"{flags.lower_overshoots} | {flags.predicted_overshoots} | {'yes' if agree else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
