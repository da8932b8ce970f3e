"""One helper runs an op forward and backward in Lamina and in PyTorch and compares both, then
checks Lamina's gradient against finite differences in float64. Each test case is one line:

    check_op([(3, 4), (4,)], lambda x, y: x + y)
"""

from __future__ import annotations

import numpy as np
import pytest

import lamina

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

TORCH_REASON = "PyTorch is not installed (pip install torch==2.13.0): parity test skipped"

_rng = np.random.default_rng(1234)


def make_inputs(shapes, low=-2.0, high=2.0, dtype=np.float32, positive=False, away_from=None):
    """Random, never-zero inputs; `away_from` keeps values off kinks (e.g. 0 for abs)."""
    out = []
    for s in shapes:
        a = _rng.uniform(low, high, size=s)
        if positive:
            a = np.abs(a) + 0.1
        if away_from is not None:
            near = np.abs(a - away_from) < 0.05
            a[near] += 0.1
        out.append(np.ascontiguousarray(a.astype(dtype)))
    return out


def to_numpy(t):
    if isinstance(t, lamina.Tensor):
        return t.detach().cpu().numpy()
    return t.detach().cpu().numpy()


def check_op(shapes, fn, torch_fn=None, *, low=-2.0, high=2.0, positive=False, away_from=None,
             rtol=1e-5, atol=1e-6, grad=True, gradcheck=True, grad_rtol=None, grad_atol=None,
             device="cpu"):
    """Forward/backward parity with torch (float32) and a float64 gradcheck."""
    torch_fn = torch_fn or fn
    arrays = make_inputs(shapes, low, high, np.float32, positive, away_from)

    # 1. float64 gradient check against finite differences (no torch needed).
    if grad and gradcheck:
        xs64 = [lamina.tensor(a.astype(np.float64), requires_grad=True, device=device) for a in arrays]
        assert lamina.autograd.gradcheck(fn, xs64, eps=1e-6, atol=1e-5, rtol=1e-4)

    # 2. parity with torch in float32, forward and backward.
    if torch is None:
        pytest.skip(TORCH_REASON)
    xs = [lamina.tensor(a, requires_grad=grad, device=device) for a in arrays]
    ts = [torch.tensor(a, requires_grad=grad) for a in arrays]
    out = fn(*xs)
    ref = torch_fn(*ts)
    outs = out if isinstance(out, tuple) else (out,)
    refs = ref if isinstance(ref, tuple) else (ref,)
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        assert tuple(o.shape) == tuple(r.shape), f"shape {tuple(o.shape)} != torch {tuple(r.shape)}"
        np.testing.assert_allclose(to_numpy(o), to_numpy(r), rtol=rtol, atol=atol)
        assert not np.isnan(to_numpy(o)).any() or np.isnan(to_numpy(r)).any()
    if not grad:
        return
    o0, r0 = outs[0], refs[0]
    g = _rng.standard_normal(tuple(r0.shape)).astype(np.float32)
    o0.backward(lamina.tensor(g, device=device))
    r0.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        if t.grad is None:
            assert x.grad is None or np.all(to_numpy(x.grad) == 0)
            continue
        assert x.grad is not None, "lamina produced no gradient where torch did"
        np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), rtol=grad_rtol or rtol * 10,
                                   atol=grad_atol or atol * 10)
