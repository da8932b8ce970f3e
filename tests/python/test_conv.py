"""conv2d and nn.Conv2d: float64 gradcheck and float32 forward/backward parity with PyTorch over
every parameter combination, the module's state_dict and init, and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import TORCH_REASON, make_inputs, torch

import lamina
import lamina.nn.functional as LF
from lamina import nn

if torch is not None:
    import torch.nn.functional as TF

# torch notes that it copies the input for "same" with even kernels; nothing to act on here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """The oracle runs single-threaded: these shapes are tiny, and on a busy machine each of
    torch's parallel regions can cost milliseconds."""
    if torch is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


STRIDES = [1, 2]
PADDINGS = [0, 1, (1, 2), "same", "valid"]
DILATIONS = [1, 2]
KERNELS = [1, 3, (3, 2), 5]
# groups -> (in_channels, out_channels)
GROUPS = {1: (3, 4), 2: (4, 6), "depthwise": (3, 6)}
N, H, W = 2, 7, 5
W_WIDE = 17  # rows wide enough for the direct float32 kernels (stride 1)
_rng = np.random.default_rng(4321)


def _out_size(size, pad_total, k, d, s):
    return (size + pad_total - d * (k - 1) - 1) // s + 1


def _valid(kernel, stride, padding, dilation, w=W):
    """Whether torch accepts the combination (else both libraries must raise)."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    if padding == "same":
        return stride == 1
    if padding == "valid":
        ph = pw = 0
    else:
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return _out_size(H, 2 * ph, kh, dilation, stride) >= 1 and _out_size(w, 2 * pw, kw, dilation, stride) >= 1


def check_conv(shapes, kw_args, *, gradcheck=True, rtol=1e-5):
    """float64 gradcheck, then float32 forward and backward against torch's float64 result.

    The float32 error of a sum of K products depends on the size of its terms, not of the
    result (a 0.05 made of terms of size 4 carries their rounding), so each element's error is
    measured against the same convolution on absolute values, |x| * |w| + |b| (and, for the
    gradients, the backward of that with |grad|): |ours - exact| <= rtol * sum of |terms|.
    Torch's own float32 conv meets this at about 1.5e-7; a missed or extra term fails it.
    """
    arrays = make_inputs(shapes)
    fn = (lambda x, w, b=None: LF.conv2d(x, w, b, **kw_args))
    if gradcheck:
        xs64 = [lamina.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
        assert lamina.autograd.gradcheck(fn, xs64, eps=1e-6, atol=1e-5, rtol=1e-4)
    if torch is None:
        pytest.skip(TORCH_REASON)
    xs = [lamina.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    g = _rng.standard_normal(tuple(out.shape)).astype(np.float32)
    out.backward(lamina.tensor(g))

    def torch_run(arrs, grad):
        ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrs]
        y = TF.conv2d(*ts, **kw_args)
        y.backward(torch.tensor(grad, dtype=torch.float64))
        return y.detach().numpy(), [t.grad.numpy() for t in ts]

    ref, ref_grads = torch_run(arrays, g)
    scale, scale_grads = torch_run([np.abs(a) for a in arrays], np.abs(g))
    pairs = [("output", out.detach().numpy(), ref, scale)]
    pairs += [(f"grad of input {i}", x.grad.numpy(), r, sc)
              for i, (x, r, sc) in enumerate(zip(xs, ref_grads, scale_grads))]
    for what, got, want, sc in pairs:
        assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
        assert not np.isnan(got).any(), f"{what}: NaN"
        err = np.abs(got.astype(np.float64) - want)
        worst = np.unravel_index(np.argmax(err - rtol * sc), err.shape)
        assert np.all(err <= rtol * sc + 1e-30), (
            f"{what}: at {worst} got {got[worst]}, want {want[worst]} (|terms| {sc[worst]:.3g})")


def _cases():
    for kernel, padding, groups in itertools.product(KERNELS, PADDINGS, GROUPS):
        yield pytest.param(kernel, padding, groups, id=f"k{kernel}-p{padding}-g{groups}".replace(" ", ""))


@pytest.mark.parametrize("kernel,padding,groups", list(_cases()))
def test_conv2d_parity_and_gradcheck(kernel, padding, groups):
    c_in, c_out = GROUPS[groups]
    g = c_in if groups == "depthwise" else groups
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    subcases = list(itertools.product(STRIDES, DILATIONS, [True, False]))
    # every item gradchecks one of its subcases, rotating so that all of them are covered overall
    pick = (KERNELS.index(kernel) + PADDINGS.index(padding) + list(GROUPS).index(groups)) % len(subcases)
    for i, (stride, dilation, bias) in enumerate(subcases):
        kw_args = dict(stride=stride, padding=padding, dilation=dilation, groups=g)
        shapes = [(N, c_in, H, W), (c_out, c_in // g, kh, kw)] + ([(c_out,)] if bias else [])
        if not _valid(kernel, stride, padding, dilation):
            x, w = lamina.randn(*shapes[0]), lamina.randn(*shapes[1])
            with pytest.raises(ValueError, match=r"lamina\.conv2d"):
                LF.conv2d(x, w, **kw_args)
            continue
        check_conv(shapes, kw_args, gradcheck=(i == pick))
    # stride 1 on wide rows, where float32 takes the direct kernels (float64 never does: its
    # gradients are the im2col path's, checked above)
    for dilation, bias in zip(DILATIONS, [pick % 2 == 0, pick % 2 == 1]):
        kw_args = dict(stride=1, padding=padding, dilation=dilation, groups=g)
        shapes = [(N, c_in, H, W_WIDE), (c_out, c_in // g, kh, kw)] + ([(c_out,)] if bias else [])
        if _valid(kernel, 1, padding, dilation, W_WIDE):
            check_conv(shapes, kw_args, gradcheck=False)


@pytest.mark.parametrize("kw_args", [
    dict(padding=1), dict(stride=2, padding=(1, 2), dilation=2), dict(padding="same", groups=3),
])
def test_conv2d_unbatched(kw_args):
    check_conv([(3, 7, 5), (6, 3 // kw_args.get("groups", 1), 3, 2), (6,)], kw_args)


@pytest.mark.parametrize("kernel,dilation", [((2, 4), 1), ((4, 2), 3), ((2, 2), (1, 2))])
def test_conv2d_same_padding_asymmetric(kernel, dilation):
    """padding="same" with an odd total pads one more at the bottom/right, as torch."""
    check_conv([(2, 3, 7, 6), (4, 3, *kernel)], dict(padding="same", dilation=dilation))


def test_conv2d_wide_rows_take_the_direct_kernels():
    """The wide cases above really run the direct kernels where the CPU has AVX2+FMA."""
    if not lamina.info()["cpu_features"].get("avx2") or not lamina.info()["cpu_features"].get("fma"):
        pytest.skip("no AVX2+FMA: the direct kernels are not used on this CPU")
    path = LF._conv._kernel_path
    x = lamina.randn(N, 3, H, W_WIDE)
    assert path(x, lamina.randn(4, 3, 3, 3), padding=1) == "direct"
    assert path(x, lamina.randn(4, 3, 3, 3), padding="same", dilation=2) == "direct"
    assert path(x, lamina.randn(4, 3, 5, 5), padding="same", dilation=2) == "im2col"  # long, wasteful rows
    assert path(x, lamina.randn(6, 1, 3, 2), padding=(1, 2), groups=3) == "direct"
    assert path(x.double(), lamina.randn(4, 3, 3, 3, dtype=lamina.float64), padding=1) == "im2col"
    assert path(x, lamina.randn(4, 3, 3, 3), stride=2) == "im2col"
    assert path(x, lamina.randn(4, 3, 1, 1)) == "gemm"
    assert path(lamina.randn(N, 3, H, W), lamina.randn(4, 3, 3, 3), padding=1) == "im2col"


def test_conv2d_larger_layers_float32():
    """Shapes that take the kernel's other paths (one sample cut in tiles, batched tiles, 1x1
    GEMM, the batch split across threads and not), checked against torch in float32."""
    for shapes, kw_args in [
        ([(2, 64, 24, 24), (8, 64, 3, 3), (8,)], dict(padding=1)),
        ([(9, 32, 6, 6), (16, 32, 3, 3), (16,)], dict(padding=1)),
        ([(8, 32, 9, 9), (16, 32, 1, 1), (16,)], {}),
        ([(3, 16, 12, 12), (8, 16, 3, 3), (8,)], dict(stride=2, dilation=2, padding=2)),
        ([(4, 48, 14, 18), (8, 48, 3, 3), (8,)], dict(padding=1)),  # direct, long reduction
        ([(8, 3, 19, 21), (16, 3, 3, 3), (16,)], dict(padding=1)),  # direct, RGB-like first layer
        ([(8, 1, 28, 28), (6, 1, 5, 5), (6,)], {}),  # direct, LeNet-like
    ]:
        for threads in (1, 2):
            lamina.set_num_threads(threads)
            try:
                check_conv(shapes, kw_args, gradcheck=False)
            finally:
                lamina.set_num_threads(2)


def test_conv2d_grad_only_for_some_inputs():
    x = lamina.randn(2, 3, 7, 5)
    w = lamina.randn(4, 3, 3, 3, requires_grad=True)
    b = lamina.randn(4)
    LF.conv2d(x, w, b, padding=1).sum().backward()
    assert x.grad is None and b.grad is None and w.grad is not None
    x.requires_grad_(True)
    w.grad = None
    LF.conv2d(x, w.detach(), b, padding=1).sum().backward()
    assert x.grad is not None and tuple(x.grad.shape) == (2, 3, 7, 5)


def test_conv2d_noncontiguous_input():
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.random.default_rng(0).standard_normal((2, 5, 7, 3)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
    x = lamina.tensor(a).permute(0, 3, 1, 2)  # (2, 3, 5, 7), strided
    ours = LF.conv2d(x, lamina.tensor(w), padding=1).numpy()
    ref = TF.conv2d(torch.tensor(a).permute(0, 3, 1, 2), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- nn.Conv2d

MODULE_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=2, padding=(1, 2), dilation=2, groups=2,
         bias=False),
    dict(in_channels=3, out_channels=6, kernel_size=3, padding="same", groups=3),
    dict(in_channels=3, out_channels=4, kernel_size=(2, 3), padding="valid"),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding=1, padding_mode="reflect"),
    dict(in_channels=3, out_channels=4, kernel_size=(2, 4), padding="same", padding_mode="replicate"),
    dict(in_channels=3, out_channels=4, kernel_size=3, padding=(2, 1), padding_mode="circular"),
]


@pytest.mark.parametrize("kw_args", MODULE_CASES)
def test_conv2d_module_matches_torch(kw_args):
    if torch is None:
        pytest.skip(TORCH_REASON)
    ours = nn.Conv2d(**kw_args)
    ref = torch.nn.Conv2d(**kw_args)
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    for k, v in ref.state_dict().items():
        assert tuple(ours.state_dict()[k].shape) == tuple(v.shape)
    # torch's weights into ours (through numpy), same outputs and gradients
    ours.load_state_dict({k: lamina.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    a = np.random.default_rng(2).standard_normal((2, 3 if kw_args["in_channels"] == 3 else 4, 7, 5))
    a = a.astype(np.float32)
    x, tx = lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = ours(x), ref(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    # and ours back into torch
    ref2 = torch.nn.Conv2d(**kw_args)
    ref2.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(ref2(tx).detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_conv2d_module_default_init():
    """kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias."""
    conv = nn.Conv2d(6, 16, (3, 5), groups=2)
    fan_in = 3 * 3 * 5
    bound = 1 / math.sqrt(fan_in)
    w = conv.weight.detach().numpy()
    b = conv.bias.detach().numpy()
    assert w.shape == (16, 3, 3, 5) and b.shape == (16,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.5 * bound
    assert abs(w.mean()) < 0.1 * bound  # centred
    assert conv.weight.requires_grad and conv.bias.requires_grad
    lamina.manual_seed(3)
    w1 = nn.Conv2d(2, 3, 3).weight.detach().numpy()
    lamina.manual_seed(3)
    w2 = nn.Conv2d(2, 3, 3).weight.detach().numpy()
    np.testing.assert_array_equal(w1, w2)
    assert nn.Conv2d(2, 3, 3, bias=False).bias is None
    assert nn.Conv2d(2, 3, 3).double().weight.dtype == lamina.float64


def test_conv2d_module_unbatched_and_float64():
    conv = nn.Conv2d(3, 4, 3, padding=1).double()
    x = lamina.randn(3, 7, 5, dtype=lamina.float64, requires_grad=True)
    assert tuple(conv(x).shape) == (4, 7, 5)
    assert lamina.autograd.gradcheck(lambda t: conv(t), [x], eps=1e-6, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------- bad input


def test_conv2d_bad_input():
    x = lamina.randn(2, 3, 4, 4)
    w = lamina.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"lamina\.conv2d: .*\[2, 3, 4, 4\].*kernel.*\[4, 3, 7, 7\]"):
        LF.conv2d(x, lamina.randn(4, 3, 7, 7))  # kernel larger than the padded input
    with pytest.raises(ValueError, match=r"lamina\.conv2d: .*dilated\) kernel 5 x 5"):
        LF.conv2d(x, w, dilation=2)
    with pytest.raises(ValueError, match=(
            r"lamina\.conv2d: in_channels \(3.*\[2, 3, 4, 4\]\) must be divisible "
            r"by groups \(2\)")):
        LF.conv2d(x, lamina.randn(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"lamina\.conv2d: out_channels \(5.*must be divisible by groups \(2\)"):
        LF.conv2d(lamina.randn(2, 4, 5, 5), lamina.randn(5, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=(
            r"lamina\.conv2d: 'input' of shape \[2, 3, 4, 4\] has 3 channels.*\[4, "
            r"2, 3, 3\]")):
        LF.conv2d(x, lamina.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"lamina\.conv2d: expected a 3-D \(unbatched\) or 4-D .*got shape \[3, 4\]"):
        LF.conv2d(lamina.randn(3, 4), w)
    with pytest.raises(ValueError, match=r"got shape \[1, 2, 3, 4, 4\]"):
        LF.conv2d(lamina.randn(1, 2, 3, 4, 4), w)
    with pytest.raises(ValueError, match=r"lamina\.conv2d: expected a 4-D 'weight'.*got shape \[4, 3, 3\]"):
        LF.conv2d(x, lamina.randn(4, 3, 3))
    with pytest.raises(ValueError, match=r"lamina\.conv2d: expected 'bias' of shape \[4\].*got shape \[3\]"):
        LF.conv2d(x, w, lamina.randn(3))
    with pytest.raises(TypeError, match=r"lamina\.conv2d: expected a float32 or float64 'input', got dtype int64"):
        LF.conv2d(lamina.ones(2, 3, 4, 4, dtype=lamina.int64), w)
    with pytest.raises(TypeError, match=(
            r"lamina\.conv2d: expected 'input' and 'weight' of the same dtype, got "
            r"float32 and float64")):
        LF.conv2d(x, w.double())
    with pytest.raises(TypeError, match=r"lamina\.conv2d: expected 'bias' of dtype float32"):
        LF.conv2d(x, w, lamina.randn(4, dtype=lamina.float64))
    with pytest.raises(ValueError, match=r"lamina\.conv2d: padding='same' is not supported for strided convolutions"):
        LF.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"lamina\.conv2d: invalid padding string 'full'"):
        LF.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match=r"lamina\.conv2d: 'padding' must be non-negative"):
        LF.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"lamina\.conv2d: 'stride' must be positive, got \[0, 0\]"):
        LF.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"lamina\.conv2d: 'dilation' must be positive"):
        LF.conv2d(x, w, dilation=(1, 0))
    with pytest.raises(ValueError, match=r"lamina\.conv2d: 'groups' must be positive, got 0"):
        LF.conv2d(x, w, groups=0)
    with pytest.raises(ValueError, match=r"lamina\.conv2d: argument 'stride' must be an int or a tuple of 2 ints"):
        LF.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(TypeError, match=r"lamina\.conv2d: argument 'input' must be a lamina\.Tensor, got ndarray"):
        LF.conv2d(np.zeros((2, 3, 4, 4), np.float32), w)
    with pytest.raises(TypeError, match=r"lamina\.conv2d: argument 'groups' must be an int"):
        LF.conv2d(x, w, groups=1.5)


def test_conv2d_backward_bad_grad_output():
    x = lamina.randn(2, 3, 4, 4)
    w = lamina.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=(
            r"lamina\.conv2d: expected 'grad_output' of shape \[2, 4, 2, 2\].*got "
            r"\[2, 4, 3, 3\]")):
        lamina._C.conv2d_backward(lamina.randn(2, 4, 3, 3)._t, x._t, w._t, [1, 1], [0, 0, 0, 0], [1, 1], 1,
                                  [True, True, True])


def test_conv2d_module_bad_arguments():
    with pytest.raises(ValueError, match=r"in_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"out_channels \(5\) must be divisible by groups \(2\)"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        nn.Conv2d(4, 4, 3, padding="full")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="'in_channels' must be a positive integer"):
        nn.Conv2d(0, 4, 3)
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"lamina\.conv2d: 'input' of shape \[2, 5, 7, 7\] has 5 channels"):
        conv(lamina.randn(2, 5, 7, 7))
