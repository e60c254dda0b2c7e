"""Architectures of the time-to-answer benchmark that the built-in zoo lacks.

Loaded as a ``file.py:factory`` model spec, e.g.
``--model benchmarks/time_to_answer_nets.py:digits_cnn`` (run from the repository root).
"""

from __future__ import annotations

from torch import nn


def digits_cnn(width: int = 16, num_classes: int = 10) -> nn.Module:
    """A small CNN with BatchNorm for the 1×8×8 digits (``digits:train:image=1``).

    Two 3×3 convolutions (``width``, ``2·width`` channels) each followed by BatchNorm and
    ReLU, one 2×2 max-pool, and a linear classifier: 9,930 Hessian parameters at
    ``width=16`` (BatchNorm's affine parameters are outside the Hessian), just under the
    10,000 at which the exact spectrum was the default.
    """
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(2 * width * 4 * 4, num_classes),
    )


def digits_cnn_small(channels: int = 4, hidden: int = 32, num_classes: int = 10) -> nn.Module:
    """A lighter CNN with BatchNorm for the 1×8×8 digits: pooling before the second
    convolution and a small hidden layer; 4,794 Hessian parameters by default.

    Its exact float64 spectrum is affordable as a reference on a shared 2-core machine,
    where float64 convolutions (no oneDNN kernels) make every HVP of ``digits_cnn`` slow.
    """
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.BatchNorm2d(2 * channels), nn.ReLU(),
        nn.Flatten(), nn.Linear(2 * channels * 4 * 4, hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
    )


def digits_lenet(num_classes: int = 10) -> nn.Module:
    """A LeNet-style CNN without normalisation for the 1×8×8 digits: two 3×3 convolutions
    (8, 16 channels) with ReLU, one 2×2 max-pool and a 256→32→10 classifier; 9,802
    parameters. docs/benchmarks.md times the default on it plainly trained (no l1)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 32), nn.ReLU(), nn.Linear(32, num_classes),
    )
