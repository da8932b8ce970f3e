"""The tape. A differentiable op is a ``Function`` whose ``forward`` and ``backward`` are
static methods working on ``lamina._C.Tensor`` values (C++ holds the arithmetic); an
instance of it, made per call, is the graph node (``grad_fn``) and the ``ctx``.

Graph edges point at the producers' nodes (or at an ``AccumulateGrad`` node for a leaf), so
a graph keeps alive only what backward needs: the tensors saved with ``save_for_backward``.
"""

from __future__ import annotations

import sys
import weakref

from .. import _C
from .grad_mode import is_grad_enabled

_Tensor = None  # lamina.Tensor, looked up once (tensor.py imports this module)


def _tensor_class():
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor

        _Tensor = Tensor
    return _Tensor


class Node:
    """A graph node: ``next_functions`` are (node, output_nr) pairs, one per input."""

    __slots__ = ("next_functions", "_out_meta", "_hooks", "__weakref__")

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class AccumulateGrad(Node):
    """Writes (or adds) an incoming gradient into a leaf's ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = weakref.ref(variable)
        self.next_functions = ()
        self._hooks = None

    def accumulate(self, grad: _C.Tensor) -> None:
        Tensor = _Tensor or _tensor_class()

        var = self.variable()
        if var is None:
            return
        for hook in var._leaf_hooks or ():
            out = hook(Tensor._wrap(grad))
            if out is not None:
                grad = out._t
        if var.grad is None:
            # The first gradient becomes .grad, which later accumulation updates in place. It is
            # adopted as it is when nothing else can see it (as PyTorch steals it): no other
            # tensor or view holds its storage, no other reference to it exists (add's backward
            # hands one tensor to both inputs; a ctx or a hook may keep one), and it is dense and
            # shaped as the leaf. Otherwise .grad is a copy.
            refs = sys.getrefcount(grad)
            if _can_adopt(grad, var, refs):
                var.grad = Tensor._wrap(grad)
            else:
                var.grad = Tensor._wrap(_C.clone(grad))
        else:
            _C.binary_(0, var.grad._t, grad)


class _RefProbe:
    def probe(self, obj) -> int:
        return sys.getrefcount(obj)


def _baseline_refs() -> int:
    # What sys.getrefcount reports inside accumulate for a gradient that only the engine's
    # buffer holds, measured through the same call shape (`node.accumulate(buf[0])`) rather than
    # assumed: how many references a call adds depends on the interpreter's version.
    buf = [object()]
    return _RefProbe().probe(buf[0])


_ADOPT_REFS = _baseline_refs()


def _can_adopt(grad: _C.Tensor, var, refs: int) -> bool:
    return (refs <= _ADOPT_REFS and grad.storage_use_count == 1 and grad.is_contiguous
            and grad.offset == 0 and grad.storage_nbytes == grad.numel * grad.itemsize
            and grad.shape == var._t.shape and grad.dtype == var._t.dtype and grad.device == var._t.device)


class Function(Node):
    """Base class for differentiable ops.

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static
    methods. Tensor arguments arrive as ``lamina._C.Tensor``; ``backward`` returns one gradient
    (a ``_C.Tensor`` or ``None``) per ``forward`` argument.

    >>> import lamina
    >>> from lamina.autograd import Function
    >>> class Square(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return lamina._C.binary(2, x, x)
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         two_x = lamina._C.binary(0, x, x)
    ...         return lamina._C.binary(2, g, two_x)
    >>> x = lamina.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).sum().backward()
    >>> x.grad.tolist()
    [6.0]
    """

    __slots__ = ("needs_input_grad", "_saved", "_saved_versions", "_released", "_non_diff",
                 "frees_saved", "_materialize", "__dict__")

    def __init__(self):
        self.needs_input_grad = ()
        self._saved = ()
        self._saved_versions = ()
        self._released = False
        self._non_diff = ()
        self._hooks = None
        # Set by the engine before it calls backward: True when the saved tensors are freed right
        # after it (no retain_graph), so that backward may reuse a saved buffer that nothing else
        # holds (one forward made and saved, never returned) as scratch memory.
        self.frees_saved = False
        self._materialize = True

    # ---- ctx API ----
    def save_for_backward(self, *tensors) -> None:
        self._saved = tensors
        self._saved_versions = tuple(t.version if t is not None else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._released:
            raise RuntimeError(
                f"lamina.autograd: trying to backward through {self.name()} a second time (or to "
                "access saved tensors after they have been freed). Pass retain_graph=True to the "
                "first backward() if you need to backward through the graph again.")
        for t, v in zip(self._saved, self._saved_versions):
            if t is not None and t.version != v:
                raise RuntimeError(
                    f"lamina.autograd: a tensor saved by {self.name()} for backward (shape "
                    f"{list(t.shape)}, dtype {t.dtype}) was modified by an in-place operation "
                    f"after it was saved (version {v} -> {t.version}); use an out-of-place op")
        return self._saved

    def set_materialize_grads(self, value: bool) -> None:
        """As PyTorch's: with False, backward receives None (not a tensor of zeros) for an
        output whose gradient nothing produced."""
        self._materialize = bool(value)

    def mark_non_differentiable(self, *outputs) -> None:
        self._non_diff = tuple(id(o) for o in outputs)

    def _release(self) -> None:
        self._saved = ()
        self._released = True

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        Tensor = _Tensor or _tensor_class()

        # isinstance, not type(a) is Tensor: nn.Parameter is a Tensor subclass.
        raw = [a._t if isinstance(a, Tensor) else a for a in args]
        needs = tuple(isinstance(a, Tensor) and (a._requires_grad or a.grad_fn is not None)
                      for a in args)
        record = True in needs and is_grad_enabled()
        ctx = cls()
        ctx.needs_input_grad = needs
        out = cls.forward(ctx, *raw)
        single = type(out) is not tuple
        if not record:
            if single:
                return Tensor._wrap(out) if type(out) is _C.Tensor else out
            return tuple(Tensor._wrap(o) if type(o) is _C.Tensor else o for o in out)
        outs = (out,) if single else out
        ctx.next_functions = tuple(
            (a._grad_edge() if need else (None, 0)) for a, need in zip(args, needs))
        ctx._out_meta = tuple((o.shape, o.dtype, o.device) if isinstance(o, _C.Tensor) else None
                              for o in outs)
        wrapped = []
        for i, o in enumerate(outs):
            if isinstance(o, _C.Tensor):
                diff = id(o) not in ctx._non_diff and o.dtype in ("float32", "float64", "float16",
                                                                   "bfloat16")
                t = Tensor._wrap(o, grad_fn=ctx if diff else None, output_nr=i)
                wrapped.append(t)
            else:
                wrapped.append(o)
        ctx._non_diff = ()
        return wrapped[0] if single else tuple(wrapped)
