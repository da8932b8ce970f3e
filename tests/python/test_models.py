"""lamina.models: each network against the same architecture built in PyTorch: state_dict keys
and shapes, parameter counts, and outputs after loading Lamina's weights into torch."""

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina
from lamina import models

RTOL, ATOL = 1e-4, 1e-5  # float32 through up to ~15 layers


def _torch_mlp(in_features, hidden, num_classes, dropout):
    n = torch.nn
    layers = [n.Flatten()]
    w = in_features
    for h in hidden:
        layers += [n.Linear(w, h), n.ReLU()] + ([n.Dropout(dropout)] if dropout > 0 else [])
        w = h
    return n.Sequential(*layers, n.Linear(w, num_classes))


def _torch_lenet5(c, k, pad, s):
    n = torch.nn
    return n.Sequential(n.Conv2d(c, 6, 5, padding=pad), n.ReLU(), n.MaxPool2d(2), n.Conv2d(6, 16, 5), n.ReLU(),
                        n.MaxPool2d(2), n.Flatten(), n.Linear(16 * s * s, 120), n.ReLU(), n.Linear(120, 84), n.ReLU(),
                        n.Linear(84, k))


def _torch_small_cnn(c, k, size):
    n = torch.nn
    return n.Sequential(n.Conv2d(c, 32, 3, padding=1, bias=False), n.BatchNorm2d(32), n.ReLU(),
                        n.Conv2d(32, 64, 3, padding=1, bias=False), n.BatchNorm2d(64), n.ReLU(), n.MaxPool2d(2),
                        n.Dropout(0.25), n.Flatten(), n.Linear(64 * (size // 2) ** 2, 128), n.ReLU(), n.Dropout(0.25),
                        n.Linear(128, k))


def _torch_resnet(c, k, widths, blocks):
    n = torch.nn

    class Block(n.Module):
        def __init__(self, i, o, stride):
            super().__init__()
            self.conv1 = n.Conv2d(i, o, 3, stride, 1, bias=False)
            self.bn1 = n.BatchNorm2d(o)
            self.conv2 = n.Conv2d(o, o, 3, 1, 1, bias=False)
            self.bn2 = n.BatchNorm2d(o)
            self.downsample = None
            if stride != 1 or i != o:
                self.downsample = n.Sequential(n.Conv2d(i, o, 1, stride, bias=False), n.BatchNorm2d(o))

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = n.Conv2d(c, widths[0], 3, 1, 1, bias=False)
            self.bn1 = n.BatchNorm2d(widths[0])
            i = widths[0]
            for s, (w, b) in enumerate(zip(widths, blocks)):
                stage = []
                for j in range(b):
                    stage.append(Block(i, w, 2 if s > 0 and j == 0 else 1))
                    i = w
                setattr(self, f"layer{s + 1}", n.Sequential(*stage))
            self.avgpool = n.AdaptiveAvgPool2d((1, 1))
            self.fc = n.Linear(i, k)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            for s in range(len(widths)):
                x = getattr(self, f"layer{s + 1}")(x)
            return self.fc(self.avgpool(x).flatten(1))

    return Net()


CASES = [
    ("mlp", dict(in_features=784, hidden=(512, 512), num_classes=10), lambda: _torch_mlp(784, (512, 512), 10, 0.0),
     (3, 1, 28, 28)),
    ("mlp", dict(in_features=64, hidden=(33,), num_classes=7, dropout=0.2), lambda: _torch_mlp(64, (33,), 7, 0.2),
     (5, 1, 8, 8)),
    ("lenet5", dict(), lambda: _torch_lenet5(1, 10, 2, 5), (3, 1, 28, 28)),
    ("lenet5", dict(in_channels=3, num_classes=5, input_size=32), lambda: _torch_lenet5(3, 5, 0, 5), (2, 3, 32, 32)),
    ("small_cnn", dict(), lambda: _torch_small_cnn(1, 10, 8), (5, 1, 8, 8)),
    ("small_cnn", dict(in_channels=1, num_classes=10, input_size=28), lambda: _torch_small_cnn(1, 10, 28),
     (2, 1, 28, 28)),
    ("resnet", dict(), lambda: _torch_resnet(1, 10, (16, 32, 64), (2, 2, 2)), (3, 1, 28, 28)),
    ("resnet", dict(in_channels=3, num_classes=7, input_size=32, widths=(8, 12), blocks=(1, 3)),
     lambda: _torch_resnet(3, 7, (8, 12), (1, 3)), (2, 3, 32, 32)),
]


@pytest.mark.parametrize("name,kw,build_torch,xshape", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_model_matches_torch(name, kw, build_torch, xshape):
    if torch is None:
        pytest.skip(TORCH_REASON)
    ours = models.get(name, **kw)
    theirs = build_torch()
    sd_o, sd_t = ours.state_dict(), theirs.state_dict()
    assert list(sd_o) == list(sd_t)
    for k in sd_t:
        assert tuple(sd_o[k].shape) == tuple(sd_t[k].shape), k
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    # train one forward/backward step so BN running stats are non-trivial, then compare in eval mode
    x = np.random.default_rng(0).random(xshape, dtype=np.float32)
    ours.train()
    ours(lamina.from_numpy(x)).sum().backward()
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.detach().numpy())) for k, v in ours.state_dict().items()})
    ours.eval()
    theirs.eval()
    out_o = ours(lamina.from_numpy(x)).detach().numpy()
    with torch.no_grad():
        out_t = theirs(torch.from_numpy(x)).numpy()
    assert out_o.shape == (xshape[0], kw.get("num_classes", 10))
    np.testing.assert_allclose(out_o, out_t, rtol=RTOL, atol=ATOL)


def test_lenet5_has_the_papers_shapes():
    m = models.lenet5()
    assert sum(p.numel() for p in m.parameters()) == 61706  # LeNet-5 with a 10-way linear output
    x = lamina.randn(2, 1, 28, 28)
    shapes = []
    for layer in m:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[0] == (6, 28, 28) and shapes[2] == (6, 14, 14) and shapes[3] == (16, 10, 10)
    assert shapes[5] == (16, 5, 5) and shapes[-1] == (10,)


def test_resnet_resolutions_and_shortcuts():
    m = models.resnet(input_size=28)
    assert m.layer1[0].downsample is None and m.layer2[0].downsample is not None
    assert m.layer2[1].downsample is None
    assert tuple(m(lamina.randn(2, 1, 28, 28)).shape) == (2, 10)
    assert tuple(models.resnet(input_size=32)(lamina.randn(2, 1, 32, 32)).shape) == (2, 10)


def test_registry_and_for_dataset():
    assert {"mlp", "lenet5", "resnet", "small_cnn"} <= set(models.names())
    m = models.for_dataset("mlp", {"input_shape": (1, 8, 8), "num_classes": 10})
    assert tuple(m(lamina.randn(4, 1, 8, 8)).shape) == (4, 10)
    m = models.for_dataset("lenet5", {"input_shape": (3, 32, 32), "num_classes": 4})
    assert tuple(m(lamina.randn(2, 3, 32, 32)).shape) == (2, 4)
    m = models.for_dataset("resnet", {"input_shape": (1, 28, 28), "num_classes": 10}, widths=(8, 16), blocks=(1, 1))
    assert tuple(m(lamina.randn(2, 1, 28, 28)).shape) == (2, 10)

    @models.register("tiny_test_model")
    def tiny(num_classes=10, in_features=4):
        return lamina.nn.Linear(in_features, num_classes)

    try:
        assert "tiny_test_model" in models.names()
        m = models.for_dataset("tiny_test_model", {"input_shape": (1, 2, 2), "num_classes": 3})
        assert tuple(m.weight.shape) == (3, 4)
    finally:
        models._REGISTRY.pop("tiny_test_model")


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.get("vgg")
    with pytest.raises(ValueError, match="'input_size' must be a positive integer"):
        models.lenet5(input_size=0)
    with pytest.raises(ValueError, match="too small for 3 stages"):
        models.resnet(input_size=3)
    with pytest.raises(ValueError, match="'hidden' must be positive"):
        models.mlp(hidden=(0,))
    with pytest.raises(ValueError, match="'dropout'"):
        models.mlp(dropout=1.0)
    with pytest.raises(ValueError, match="same non-zero length"):
        models.resnet(widths=(16, 32), blocks=(2,))
    with pytest.raises(ValueError, match="num_classes"):
        models.small_cnn(num_classes=0)
