"""Backward: walks the graph from the roots in dependency order, newest first."""

from __future__ import annotations

from collections import deque

from .. import _C
from .function import AccumulateGrad


def _zeros(meta) -> _C.Tensor:
    shape, dtype, device = meta
    return _C.full(list(shape), 0, dtype, device)


def run_backward(roots, grad_roots, retain_graph: bool) -> None:
    """roots: tensors with a grad_fn or leaves requiring grad; grad_roots: matching _C tensors."""
    # Seed the buffers.
    buffers: dict = {}
    start = []
    for t, g in zip(roots, grad_roots):
        node, nr = t._grad_edge()
        if node is None:
            continue
        if isinstance(node, AccumulateGrad):
            node.accumulate(g)
            continue
        buf = buffers.setdefault(node, [None] * len(node._out_meta))
        buf[nr] = g if buf[nr] is None else _C.binary(0, buf[nr], g)
        start.append(node)

    # Count, for every node reachable from the roots, how many edges point at it.
    deps: dict = {}
    seen = set()
    stack = list(start)
    for n in start:
        seen.add(n)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)

    ready = deque(n for n in dict.fromkeys(start) if deps.get(n, 0) == 0)
    while ready:
        node = ready.popleft()
        if isinstance(node, AccumulateGrad):
            buf = buffers.pop(node, None)
            if buf is not None and buf[0] is not None:
                node.accumulate(buf[0])
            continue
        grads = buffers.pop(node, None) or [None] * len(node._out_meta)
        if node._hooks:
            from ..tensor import Tensor

            for nr, hooks in node._hooks.items():
                if grads[nr] is None:
                    continue
                for hook in hooks:
                    out = hook(Tensor._wrap(grads[nr]))
                    if out is not None:
                        grads[nr] = out._t
        if any(g is not None for g in grads):
            full = grads if not node._materialize else [
                g if g is not None else (_zeros(m) if m is not None else None)
                for g, m in zip(grads, node._out_meta)]
            node.frees_saved = not retain_graph
            try:
                in_grads = node.backward(node, *full)
            except BaseException:
                if not retain_graph:  # its saved buffers may be half overwritten: never reuse them
                    node._release()
                raise
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(node.next_functions):
                raise RuntimeError(
                    f"lamina.autograd: {node.name()}.backward returned {len(in_grads)} gradients "
                    f"for {len(node.next_functions)} inputs")
        else:
            in_grads = (None,) * len(node.next_functions)
        if not retain_graph:
            node._release()
        for (nxt, nr), g in zip(node.next_functions, in_grads):
            if nxt is None:
                continue
            if g is not None:
                buf = buffers.setdefault(nxt, [None] * (1 if isinstance(nxt, AccumulateGrad)
                                                        else len(nxt._out_meta)))
                buf[nr] = g if buf[nr] is None else _C.binary(0, buf[nr], g)
            deps[nxt] -= 1
            if deps[nxt] == 0:
                ready.append(nxt)
        # Only the buffers keep the gradients now, so that AccumulateGrad can tell when it holds
        # the last reference to one (function._can_adopt).
        in_grads = grads = full = g = None
