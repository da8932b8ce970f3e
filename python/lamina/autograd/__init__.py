"""Reverse-mode automatic differentiation: a tape of Functions in Python, arithmetic in C++."""

from __future__ import annotations

from .. import _C
from .engine import run_backward
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "gradcheck", "GradcheckError"]


def _make_grads(tensors, grad_tensors):
    from ..tensor import Tensor

    out = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t.requires_grad:
            raise RuntimeError(f"lamina.backward: element {i} of tensors does not require grad and "
                               "does not have a grad_fn")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(f"lamina.backward: grad can be implicitly created only for scalar "
                                   f"outputs, got a tensor of shape {list(t.shape)}; pass gradient=")
            out.append(_C.full(list(t.shape), 1, t._t.dtype, t._t.device))
        else:
            if not isinstance(g, Tensor):
                raise TypeError(f"lamina.backward: gradient must be a Tensor, got {type(g).__name__}")
            if tuple(g.shape) != tuple(t.shape):
                raise ValueError(f"lamina.backward: gradient has shape {list(g.shape)} but the output "
                                 f"has shape {list(t.shape)}")
            gt = g._t
            if gt.dtype != t._t.dtype:
                gt = _C.to_dtype(gt, t._t.dtype)
            out.append(gt)
    return out


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulates gradients of ``tensors`` into the leaves' ``.grad``."""
    from ..tensor import Tensor

    if create_graph:
        raise NotImplementedError("lamina.backward: create_graph=True (higher-order gradients) is "
                                  "not supported yet")
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    grads = _make_grads(tensors, list(grad_tensors))
    run_backward(tensors, grads, bool(retain_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         allow_unused: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated."""
    from ..tensor import Tensor

    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    saved = [(t.grad, t._leaf_hooks) for t in inputs]
    results = []
    # Capture gradients with hooks on the inputs (leaves or not), without touching .grad.
    captured = {}
    handles = []
    for i, t in enumerate(inputs):
        def hook(g, i=i):
            captured[i] = g if i not in captured else captured[i] + g
        t.register_hook(hook)
        handles.append(hook)
    try:
        for t in inputs:
            t.grad = None
        outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        backward(outs, grad_outputs, retain_graph=retain_graph)
        for i in range(len(inputs)):
            if i not in captured and not allow_unused:
                raise RuntimeError(f"lamina.autograd.grad: input {i} was not used in the graph; "
                                   "pass allow_unused=True")
            results.append(captured.get(i))
    finally:
        for t, (g, hooks) in zip(inputs, saved):
            t.grad = g
            if t.grad_fn is None:
                t._leaf_hooks = hooks
            else:
                hs = t.grad_fn._hooks.get(t._output_nr, [])
                for h in handles:
                    if h in hs:
                        hs.remove(h)
    return tuple(results)
