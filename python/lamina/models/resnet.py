"""A small residual network (He, Zhang, Ren, Sun 2016, "Deep residual learning for image
recognition"; the CIFAR variant of section 4.2) for 28x28 and 32x32 images:

    conv 3x3 (widths[0]) -> BN -> ReLU -> stage 1 .. stage S -> global average pool -> Linear

Stage ``i`` holds ``blocks[i]`` basic blocks of width ``widths[i]``; every stage after the first
halves the resolution in its first block. A basic block is conv3x3-BN-ReLU-conv3x3-BN plus the
shortcut (the identity, or a strided 1x1 convolution + BN when the shape changes), then ReLU.
Names follow torchvision's ``ResNet`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ``downsample``,
``fc``) so weights move to an equivalent torch module unchanged.

>>> import lamina
>>> from lamina.models import resnet
>>> resnet()(lamina.randn(2, 1, 28, 28)).shape
lamina.Size([2, 10])
"""

from __future__ import annotations

from .. import nn
from ..nn import functional as F

__all__ = ["BasicBlock", "ResNet", "resnet"]


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths=(16, 32, 64), blocks=(2, 2, 2)) -> None:
        super().__init__()
        widths, blocks = tuple(widths), tuple(blocks)
        if len(widths) != len(blocks) or not widths:
            raise ValueError(f"lamina.models.resnet: 'widths' and 'blocks' must have the same non-zero length, got "
                             f"{widths!r} and {blocks!r}")
        if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in widths + blocks):
            raise ValueError(f"lamina.models.resnet: 'widths' and 'blocks' must be positive integers, got "
                             f"{widths!r} and {blocks!r}")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stage = []
            for j in range(n):
                stage.append(BasicBlock(in_planes, w, stride=2 if (i > 0 and j == 0) else 1))
                in_planes = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.num_stages = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet(in_channels: int = 1, num_classes: int = 10, input_size: int = 28, widths=(16, 32, 64),
           blocks=(2, 2, 2)) -> ResNet:
    """A ResNet of basic blocks (defaults: 3 stages of 2 blocks, widths 16-32-64: ResNet-14 in the
    CIFAR family, 0.17 M parameters). ``input_size`` (28 or 32) is checked against the number of
    stages: each stage after the first halves the resolution."""
    for name, v in (("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"lamina.models.resnet: argument '{name}' must be a positive integer, got {v!r}")
    if input_size < 2 ** (len(tuple(widths)) - 1):
        raise ValueError(f"lamina.models.resnet: input_size {input_size} is too small for {len(tuple(widths))} "
                         "stages (each stage after the first halves it)")
    return ResNet(in_channels, num_classes, widths, blocks)
