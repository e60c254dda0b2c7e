"""The papers' networks, built from plain torch modules (no torchvision needed).

Architectures follow the reference code of Zhang et al., NeurIPS 2024
(github.com/QiaozheZhang/Global-One-shot-Pruning):
CIFAR-sized inputs (3×32×32) unless stated, ``num_classes`` overridable.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """``Sequential(Linear, ReLU, ..., Linear)`` with keys ``0.weight``, ``2.weight``, ...

    Inputs with more than two dimensions are flattened by the caller's data; a
    leading ``Flatten`` would shift the keys, so none is added.
    """
    if len(sizes) < 2:
        raise ValueError("an mlp needs at least an input and an output size")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class FlatMLP(nn.Module):
    """An MLP that flattens its input first (FC5, FC12, LeNet-300-100)."""

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        self.net = mlp(sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


def fc5(num_classes: int = 10, in_features: int = 3072) -> nn.Module:
    return FlatMLP([in_features, 1000, 600, 300, 100, num_classes])


def fc12(num_classes: int = 10, in_features: int = 3072) -> nn.Module:
    return FlatMLP([in_features, 1000, 900, 800, 750, 700, 650, 600, 500, 400, 200, 100, num_classes])


def lenet300(num_classes: int = 10, in_features: int = 784) -> nn.Module:
    return FlatMLP([in_features, 300, 100, num_classes])


class LeNet5(nn.Module):
    """LeNet-5 for 1×28×28 inputs (first convolution padded to keep 28×28)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = mlp([16 * 5 * 5, 120, 84, num_classes])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class AlexNetCifar(nn.Module):
    """AlexNet of the reference code: CIFAR inputs upsampled ×7 to 224×224, no BN/dropout."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        )
        self.classifier = mlp([6400, 4096, 4096, num_classes])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=7)
        return self.classifier(self.features(x).flatten(1))


_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG16BN(nn.Module):
    """VGG-16 with BatchNorm for CIFAR, one linear layer 512 → classes."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for v in _VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                channels = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(cin, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.shortcut = _shortcut(cin, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNetCifar(nn.Module):
    """ResNet for CIFAR: 3×3 stem, no max-pool, four stages, global average pool."""

    def __init__(self, block: type, counts: Sequence[int], num_classes: int = 10, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin, stages = width, []
        for i, n in enumerate(counts):
            planes = width * 2**i
            blocks = []
            for j in range(n):
                blocks.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def resnet18_cifar(num_classes: int = 10, width: int = 64) -> nn.Module:
    return ResNetCifar(BasicBlock, [2, 2, 2, 2], num_classes, width)


def resnet50_cifar(num_classes: int = 10, width: int = 64) -> nn.Module:
    return ResNetCifar(Bottleneck, [3, 4, 6, 3], num_classes, width)


ZOO: dict[str, Callable[..., nn.Module]] = {
    "fc5": fc5,
    "fc12": fc12,
    "lenet300": lenet300,
    "lenet5": LeNet5,
    "alexnet-cifar": AlexNetCifar,
    "vgg16-bn-cifar": VGG16BN,
    "resnet18-cifar": resnet18_cifar,
    "resnet50-cifar": resnet50_cifar,
}
