"""``lamina.Tensor``: a C++ tensor (``lamina._C.Tensor``) plus autograd state.

Arithmetic runs in C++; this file handles Python's side of it: type promotion, scalars,
indexing, and recording differentiable ops on the tape (``lamina._functions``).
"""

from __future__ import annotations

import builtins
import numbers
from typing import Any, Sequence

import numpy as np

from . import _C
from . import _functions as F
from ._dtype import bool_, device, dtype, float32, float64, int64, to_dtype
from .autograd.function import AccumulateGrad
from .autograd.grad_mode import is_grad_enabled

_DTYPES = {"float32": float32, "float64": float64, "int64": int64, "bool": bool_}


def _cat(d: dtype) -> int:
    return 2 if d.is_floating_point else (1 if d is int64 else 0)


def _join(dts):
    best = None
    for d in dts:
        if best is None or (_cat(d), d.itemsize) > (_cat(best), best.itemsize):
            best = d
    return best


def result_type(*operands) -> dtype:
    """PyTorch's type promotion: tensors with dims win over 0-d tensors, which win over Python
    numbers, unless a lower group holds a higher category (bool < int < float)."""
    dims, zeros, scalar_cat = [], [], -1
    for o in operands:
        if isinstance(o, Tensor):
            (dims if o.ndim > 0 else zeros).append(o.dtype)
        elif isinstance(o, bool):
            scalar_cat = max(scalar_cat, 0)
        elif isinstance(o, numbers.Integral):
            scalar_cat = max(scalar_cat, 1)
        elif isinstance(o, numbers.Real):
            scalar_cat = max(scalar_cat, 2)
        else:
            raise TypeError(f"lamina: unsupported operand type {type(o).__name__}")
    r = _join(dims)
    z = _join(zeros)
    if r is None:
        r = z
    elif z is not None and _cat(z) > _cat(r):
        r = z
    default = {0: bool_, 1: int64, 2: float32}
    if r is None:
        return default[scalar_cat]
    if scalar_cat > _cat(r):
        return default[scalar_cat]
    return r


def _shape_arg(args, op: str) -> list:
    """Accepts f(2, 3), f((2, 3)) and f([2, 3])."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    out = []
    for a in args:
        if isinstance(a, Tensor):
            a = a.item()
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise TypeError(f"lamina.{op}: sizes must be integers, got {a!r} in {tuple(args)}")
        out.append(int(a))
    return out


def _dim_list(dim, op: str):
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        dims = list(dim)
    else:
        dims = [dim]
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"lamina.{op}: argument 'dim' must be an int or a tuple of ints, got {dim!r}")
    return [int(d) for d in dims]


class Size(tuple):
    """``Tensor.shape``: a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self) -> str:
        return f"lamina.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    """An n-dimensional array on the CPU or a CUDA device, with autograd.

    >>> import lamina
    >>> x = lamina.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """

    __slots__ = ("_t", "_requires_grad", "grad", "grad_fn", "_output_nr", "_accum",
                 "_leaf_hooks", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # numpy defers to our operators

    # ------------------------------------------------------------------ construction
    def __init__(self, *args, **kwargs):
        raise TypeError("lamina.Tensor cannot be constructed directly; use lamina.tensor(data), "
                        "lamina.zeros(shape) or lamina.from_numpy(array)")

    @classmethod
    def _wrap(cls, t: _C.Tensor, grad_fn=None, output_nr: int = 0, requires_grad: bool = False):
        self = object.__new__(cls)
        self._t = t
        self._requires_grad = requires_grad
        self.grad = None
        self.grad_fn = grad_fn
        self._output_nr = output_nr
        self._accum = None
        self._leaf_hooks = None
        self._retains_grad = False
        return self

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        return Size(self._t.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._t.shape)
        n = self._t.ndim
        if not -max(n, 1) <= dim < max(n, 1):
            raise IndexError(f"lamina.size: dimension out of range (expected to be in range of "
                             f"[{-max(n, 1)}, {max(n, 1) - 1}], but got {dim})")
        return self._t.shape[dim] if n else 1

    def stride(self, dim: int | None = None):
        return self._t.strides if dim is None else self._t.strides[dim]

    def storage_offset(self) -> int:
        return self._t.offset

    @property
    def dtype(self) -> dtype:
        return _DTYPES.get(self._t.dtype) or to_dtype(self._t.dtype)

    @property
    def device(self) -> device:
        return device(self._t.device)

    @property
    def is_cuda(self) -> bool:
        return self._t.device != "cpu"

    @property
    def ndim(self) -> int:
        return self._t.ndim

    def dim(self) -> int:
        return self._t.ndim

    def numel(self) -> int:
        return self._t.numel

    def nelement(self) -> int:
        return self._t.numel

    def element_size(self) -> int:
        return self._t.itemsize

    def data_ptr(self) -> int:
        return self._t.data_ptr

    def is_contiguous(self) -> bool:
        return self._t.is_contiguous

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._t.shape[0]

    # ------------------------------------------------------------------ autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad or self.grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "lamina.requires_grad_: you can only change requires_grad flags of leaf tensors; "
                    "use .detach() to get a tensor that does not require grad")
            return self
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(
                f"lamina.requires_grad_: only tensors of floating point dtype can require gradients, "
                f"got {self.dtype}")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> "Tensor":
        return Tensor._wrap(self._t)

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"lamina.Tensor.data: expected a Tensor, got {type(value).__name__}")
        self._t = value._t

    def _grad_edge(self):
        if self.grad_fn is not None:
            return self.grad_fn, self._output_nr
        if self._requires_grad:
            if self._accum is None or self._accum.variable() is not self:
                self._accum = AccumulateGrad(self)
            return self._accum, 0
        return None, 0

    def detach(self) -> "Tensor":
        """A tensor sharing this one's storage, outside the graph."""
        return Tensor._wrap(self._t)

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for a non-leaf tensor after backward."""
        if self.grad_fn is None:
            return
        if self._retains_grad:
            return
        self._retains_grad = True
        import weakref

        ref = weakref.ref(self)

        def hook(g):
            t = ref()
            if t is not None:
                t.grad = g.detach().clone() if t.grad is None else t.grad + g.detach()

        self.register_hook(hook)

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed."""
        if not self.requires_grad:
            raise RuntimeError("lamina.register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self.grad_fn is None:
            self._leaf_hooks = (self._leaf_hooks or []) + [hook]
        else:
            node = self.grad_fn
            if node._hooks is None:
                node._hooks = {}
            node._hooks.setdefault(self._output_nr, []).append(hook)
        return hook

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulates d(self)/d(leaf) into every leaf's ``.grad`` (as ``torch.Tensor.backward``)."""
        from .autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The same memory as a numpy array (CPU). Call ``detach()`` first if it requires grad."""
        if self.requires_grad and not force:
            raise RuntimeError("lamina.numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy() instead")
        t = self._t
        if t.device != "cpu":
            if not force:
                raise TypeError(f"lamina.numpy: can't convert a tensor on {t.device} to numpy; "
                                "copy it to the host first with .cpu()")
            t = _C.to_device(t, "cpu")
        return np.asarray(t)

    def __array__(self, dtype=None, copy=None):
        a = self.detach().cpu().numpy()
        return a.astype(dtype) if dtype is not None else a

    def tolist(self):
        return self.detach().cpu().numpy().tolist()

    def item(self):
        return self._t.item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"lamina: the truth value of a tensor with {self.numel()} elements "
                               "is ambiguous; use .any() or .all()")
        return bool(self.item())

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        if self.requires_grad:
            raise RuntimeError("lamina.__dlpack__: can't export a tensor that requires grad; "
                               "use tensor.detach() first")
        return _C.to_dlpack(self._t)

    def __dlpack_device__(self):
        d = self.device
        return (1, 0) if d.type == "cpu" else (2, d.index)

    # ------------------------------------------------------------------ dtype / device moves
    def to(self, *args, **kwargs) -> "Tensor":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``; keyword forms too."""
        dev = kwargs.pop("device", None)
        dt = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"lamina.to: unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif isinstance(a, (dtype,)) or (not isinstance(a, (str, device)) and
                                             type(a).__name__ == "dtype"):
                dt = a
            elif isinstance(a, (str, device)) or type(a).__module__.startswith("torch"):
                if isinstance(a, str) and a.replace("lamina.", "") in ("float32", "float64", "int64", "bool"):
                    dt = a
                else:
                    dev = a
            elif a is float or a is int or a is bool:
                dt = a
            else:
                raise TypeError(f"lamina.to: cannot interpret argument {a!r}")
        out = self
        if dt is not None:
            out = out._to_dtype(to_dtype(dt, "to"))
        if dev is not None:
            d = device(dev)
            if d != out.device:
                out = F.ToDevice.apply(out, d._c)
        if copy and out is self:
            out = self.clone()
        return out

    def _to_dtype(self, dt: dtype) -> "Tensor":
        if dt is self.dtype:
            return self
        return F.ToDtype.apply(self, dt.name)

    def cuda(self, device_index: int | None = None) -> "Tensor":
        return self.to(device("cuda", device_index if device_index is not None else 0))

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def double(self) -> "Tensor":
        return self._to_dtype(float64)

    def float(self) -> "Tensor":
        return self._to_dtype(float32)

    def long(self) -> "Tensor":
        return self._to_dtype(int64)

    def bool(self) -> "Tensor":
        return self._to_dtype(bool_)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self._to_dtype(other.dtype)

    def contiguous(self) -> "Tensor":
        return self if self._t.is_contiguous else F.Contiguous.apply(self)

    def clone(self) -> "Tensor":
        return F.Clone.apply(self)

    # ------------------------------------------------------------------ in-place
    def _check_inplace(self, op: str) -> None:
        if is_grad_enabled() and self.requires_grad:
            kind = "a leaf tensor that requires grad" if self.is_leaf else "a tensor that is part of a graph"
            raise RuntimeError(f"lamina.{op}: in-place operation on {kind}; wrap it in "
                               "lamina.no_grad() or use the out-of-place op")

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        _C.fill_(self._t, value.item() if isinstance(value, Tensor) else value)
        return self

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    def copy_(self, src) -> "Tensor":
        self._check_inplace("copy_")
        src = src if isinstance(src, Tensor) else tensor(src)
        _C.copy_(self._t, src._t)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> "Tensor":
        self._check_inplace("uniform_")
        _C.uniform_(self._t, float(a), float(b))
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> "Tensor":
        self._check_inplace("normal_")
        _C.normal_(self._t, float(mean), float(std))
        return self

    def _inplace(self, op: int, other, name: str) -> "Tensor":
        self._check_inplace(name)
        o = other._t if isinstance(other, Tensor) else _C.full([], other, self._t.dtype, self._t.device)
        if isinstance(other, Tensor) and other._t.dtype != self._t.dtype:
            if result_type(self, other) is not self.dtype:
                raise TypeError(f"lamina.{name}: result type {result_type(self, other)} can't be cast "
                                f"to the desired output type {self.dtype}")
            o = _C.to_dtype(o, self._t.dtype)
        _C.binary_(op, self._t, o)
        return self

    def add_(self, other, alpha=1) -> "Tensor":
        return self._inplace(F.ADD, other if alpha == 1 else other * alpha, "add_")

    def sub_(self, other, alpha=1) -> "Tensor":
        return self._inplace(F.SUB, other if alpha == 1 else other * alpha, "sub_")

    def mul_(self, other) -> "Tensor":
        return self._inplace(F.MUL, other, "mul_")

    def div_(self, other) -> "Tensor":
        return self._inplace(F.DIV, other, "div_")

    def clamp_(self, min=None, max=None) -> "Tensor":
        self._check_inplace("clamp_")
        _C.copy_(self._t, _C.clamp(self._t, min, max))
        return self

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, o): return binary_op(self, o, F.ADD, "add")
    def __radd__(self, o): return binary_op(o, self, F.ADD, "add")
    def __sub__(self, o): return binary_op(self, o, F.SUB, "sub")
    def __rsub__(self, o): return binary_op(o, self, F.SUB, "sub")
    def __mul__(self, o): return binary_op(self, o, F.MUL, "mul")
    def __rmul__(self, o): return binary_op(o, self, F.MUL, "mul")
    def __truediv__(self, o): return binary_op(self, o, F.DIV, "div")
    def __rtruediv__(self, o): return binary_op(o, self, F.DIV, "div")
    def __floordiv__(self, o): return binary_op(self, o, F.FLOORDIV, "floor_divide")
    def __rfloordiv__(self, o): return binary_op(o, self, F.FLOORDIV, "floor_divide")
    def __mod__(self, o): return binary_op(self, o, F.REMAINDER, "remainder")
    def __rmod__(self, o): return binary_op(o, self, F.REMAINDER, "remainder")
    def __pow__(self, o): return binary_op(self, o, F.POW, "pow")
    def __rpow__(self, o): return binary_op(o, self, F.POW, "pow")
    def __matmul__(self, o): return matmul(self, o)
    def __rmatmul__(self, o): return matmul(o, self)
    def __neg__(self): return unary_op(self, F.NEG, "neg")
    def __pos__(self): return self
    def __abs__(self): return unary_op(self, F.ABS, "abs")
    def __invert__(self):
        if self.dtype is not bool_:
            raise TypeError("lamina.bitwise_not: only bool tensors are supported")
        return unary_op(self, F.LNOT, "logical_not")
    def __and__(self, o): return binary_op(self, o, F.LAND, "logical_and")
    def __or__(self, o): return binary_op(self, o, F.LOR, "logical_or")
    def __eq__(self, o): return binary_op(self, o, F.EQ, "eq")  # type: ignore[override]
    def __ne__(self, o): return binary_op(self, o, F.NE, "ne")  # type: ignore[override]
    def __lt__(self, o): return binary_op(self, o, F.LT, "lt")
    def __le__(self, o): return binary_op(self, o, F.LE, "le")
    def __gt__(self, o): return binary_op(self, o, F.GT, "gt")
    def __ge__(self, o): return binary_op(self, o, F.GE, "ge")
    __hash__ = object.__hash__

    def add(self, other, alpha=1): return binary_op(self, other if alpha == 1 else other * alpha, F.ADD, "add")
    def sub(self, other, alpha=1): return binary_op(self, other if alpha == 1 else other * alpha, F.SUB, "sub")
    def mul(self, other): return binary_op(self, other, F.MUL, "mul")
    def div(self, other): return binary_op(self, other, F.DIV, "div")
    def pow(self, e): return binary_op(self, e, F.POW, "pow")
    def maximum(self, o): return binary_op(self, o, F.MAXIMUM, "maximum")
    def minimum(self, o): return binary_op(self, o, F.MINIMUM, "minimum")
    def floor_divide(self, o): return binary_op(self, o, F.FLOORDIV, "floor_divide")
    def remainder(self, o): return binary_op(self, o, F.REMAINDER, "remainder")
    def eq(self, o): return binary_op(self, o, F.EQ, "eq")
    def ne(self, o): return binary_op(self, o, F.NE, "ne")
    def lt(self, o): return binary_op(self, o, F.LT, "lt")
    def le(self, o): return binary_op(self, o, F.LE, "le")
    def gt(self, o): return binary_op(self, o, F.GT, "gt")
    def ge(self, o): return binary_op(self, o, F.GE, "ge")
    def logical_and(self, o): return binary_op(self, o, F.LAND, "logical_and")
    def logical_or(self, o): return binary_op(self, o, F.LOR, "logical_or")
    def logical_not(self): return unary_op(self, F.LNOT, "logical_not")

    def neg(self): return unary_op(self, F.NEG, "neg")
    def exp(self): return unary_op(self, F.EXP, "exp")
    def log(self): return unary_op(self, F.LOG, "log")
    def sqrt(self): return unary_op(self, F.SQRT, "sqrt")
    def rsqrt(self): return unary_op(self, F.RSQRT, "rsqrt")
    def abs(self): return unary_op(self, F.ABS, "abs")
    def sign(self): return unary_op(self, F.SIGN, "sign")
    def reciprocal(self): return unary_op(self, F.RECIPROCAL, "reciprocal")
    def sin(self): return unary_op(self, F.SIN, "sin")
    def cos(self): return unary_op(self, F.COS, "cos")
    def tanh(self): return unary_op(self, F.TANH, "tanh")
    def sigmoid(self): return unary_op(self, F.SIGMOID, "sigmoid")
    def relu(self): return unary_op(self, F.RELU, "relu")
    def log1p(self): return unary_op(self, F.LOG1P, "log1p")
    def expm1(self): return unary_op(self, F.EXPM1, "expm1")
    def floor(self): return unary_op(self, F.FLOOR, "floor")
    def ceil(self): return unary_op(self, F.CEIL, "ceil")
    def round(self): return unary_op(self, F.ROUND, "round")
    def square(self): return binary_op(self, self, F.MUL, "square")

    def clamp(self, min=None, max=None):
        return clamp(self, min, max)

    clip = clamp

    def clamp_min(self, min):
        return clamp(self, min, None)

    def clamp_max(self, max):
        return clamp(self, None, max)

    def where(self, condition, other):
        return where(condition, self, other)

    def matmul(self, other): return matmul(self, other)
    def mm(self, other): return mm(self, other)
    def bmm(self, other): return bmm(self, other)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        x = self
        if dtype is not None:
            x = x._to_dtype(to_dtype(dtype, "sum"))
        elif x.dtype is bool_:
            x = x._to_dtype(int64)
        return _reduce(x, F.R_SUM, dim, keepdim, "sum")

    def mean(self, dim=None, keepdim: bool = False, dtype=None):
        x = self if dtype is None else self._to_dtype(to_dtype(dtype, "mean"))
        return _reduce(x, F.R_MEAN, dim, keepdim, "mean")

    def var(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
        return _reduce(self, F.R_VAR, dim, keepdim, "var", _correction(unbiased, correction))

    def std(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
        return _reduce(self, F.R_STD, dim, keepdim, "std", _correction(unbiased, correction))

    def amax(self, dim=(), keepdim: bool = False):
        return _reduce(self, F.R_AMAX, dim if dim != () else None, keepdim, "amax")

    def amin(self, dim=(), keepdim: bool = False):
        return _reduce(self, F.R_AMIN, dim if dim != () else None, keepdim, "amin")

    def max(self, dim=None, keepdim: bool = False):
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return _max_min(self, dim, keepdim, False)

    def min(self, dim=None, keepdim: bool = False):
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return _max_min(self, dim, keepdim, True)

    def argmax(self, dim: int | None = None, keepdim: bool = False):
        return Tensor._wrap(_C.argmax(_arg_input(self), dim, keepdim, False))

    def argmin(self, dim: int | None = None, keepdim: bool = False):
        return Tensor._wrap(_C.argmax(_arg_input(self), dim, keepdim, True))

    def all(self, dim=None, keepdim: bool = False):
        return (self.bool().logical_not().long().sum(dim, keepdim)) == 0

    def any(self, dim=None, keepdim: bool = False):
        return self.bool().long().sum(dim, keepdim) > 0

    # ------------------------------------------------------------------ views
    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (dtype,)):
            raise TypeError("lamina.view: reinterpreting dtypes is not supported")
        return F.View.apply(self, _shape_arg(shape, "view"))

    def view_as(self, other: "Tensor"):
        return self.view(other.shape)

    def reshape(self, *shape):
        return F.Reshape.apply(self, _shape_arg(shape, "reshape"))

    def reshape_as(self, other: "Tensor"):
        return self.reshape(other.shape)

    def permute(self, *dims):
        return F.Permute.apply(self, _shape_arg(dims, "permute"))

    def transpose(self, dim0: int, dim1: int):
        return F.Transpose.apply(self, dim0, dim1)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"lamina.t: expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self):
        return self.permute(list(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        n = self.ndim
        s, e = start_dim % n, end_dim % n
        if s > e:
            raise ValueError(f"lamina.flatten: start_dim ({start_dim}) comes after end_dim ({end_dim})")
        shape = list(self.shape)
        new = shape[:s] + [int(np.prod(shape[s:e + 1], dtype=np.int64))] + shape[e + 1:]
        return self.reshape(new)

    def unflatten(self, dim: int, sizes):
        shape = list(self.shape)
        d = dim % self.ndim
        return self.reshape(shape[:d] + list(sizes) + shape[d + 1:])

    def squeeze(self, dim=None):
        if dim is None:
            steps = [("squeeze", d) for d in range(self.ndim - 1, -1, -1)]
        else:
            dims = sorted({d % max(self.ndim, 1) for d in _dim_list(dim, "squeeze")}, reverse=True)
            for d in dims:  # validate
                self._t.squeeze(d)
            steps = [("squeeze", d) for d in dims]
        if not steps:
            return self
        return F.ViewOps.apply(self, tuple(steps))

    def unsqueeze(self, dim: int):
        self._t.unsqueeze(dim)  # validates dim
        return F.ViewOps.apply(self, (("unsqueeze", dim),))

    def expand(self, *sizes):
        return F.Expand.apply(self, _shape_arg(sizes, "expand"))

    def expand_as(self, other: "Tensor"):
        return self.expand(other.shape)

    def narrow(self, dim: int, start: int, length: int):
        self._t.narrow(dim, start, length)
        return F.ViewOps.apply(self, (("narrow", dim, start, length),))

    def select(self, dim: int, index: int):
        self._t.select(dim, index)
        return F.ViewOps.apply(self, (("select", dim, index),))

    def chunk(self, chunks: int, dim: int = 0):
        if chunks <= 0:
            raise ValueError(f"lamina.chunk: argument 'chunks' must be positive, got {chunks}")
        n = self.size(dim)
        step = -(-n // chunks) if n else 0
        return self.split(max(step, 1), dim) if n else (self,)

    def split(self, split_size_or_sections, dim: int = 0):
        n = self.size(dim)
        if isinstance(split_size_or_sections, numbers.Integral):
            s = int(split_size_or_sections)
            if s <= 0:
                raise ValueError(f"lamina.split: split_size must be positive, got {s}")
            sizes = [min(s, n - i) for i in range(0, n, s)] or [0]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"lamina.split: split sizes {sizes} must sum to the size of dim {dim} ({n})")
        out, at = [], 0
        for s in sizes:
            out.append(self.narrow(dim, at, s))
            at += s
        return tuple(out)

    def unbind(self, dim: int = 0):
        return tuple(self.select(dim, i) for i in range(self.size(dim)))

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __getitem__(self, index):
        steps = _index_steps(self, index)
        return F.ViewOps.apply(self, steps) if steps else F.ViewOps.apply(self, ())

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        view = _C_apply_steps(self._t, _index_steps(self, index))
        if isinstance(value, Tensor):
            _C.copy_(view, value._t)
        elif isinstance(value, (numbers.Number, np.generic)):
            _C.fill_(view, value)
        else:
            _C.copy_(view, tensor(value, dtype=self.dtype)._t)

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        arr = np.asarray(self.detach().cpu()._t)
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4,
                               threshold=1000, edgeitems=3)
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (float32, int64, bool_) or (arr.size == 0):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self.item(), spec)
        return repr(self)

    def __reduce_ex__(self, protocol):
        raise TypeError("lamina tensors are not pickled; save weights with lamina.io (safetensors)")


# ---------------------------------------------------------------------- indexing

def _index_steps(t: Tensor, index) -> tuple:
    """Basic indexing (ints, slices, None, Ellipsis) as a chain of view steps."""
    if not isinstance(index, tuple):
        index = (index,)
    for i in index:
        if isinstance(i, (Tensor, np.ndarray, list)):
            raise IndexError("lamina: only basic indexing (integers, slices, None, ...) is "
                             f"supported, got an index of type {type(i).__name__}")
    n_real = builtins.sum(1 for i in index if i is not None and i is not Ellipsis)
    if builtins.sum(1 for i in index if i is Ellipsis) > 1:
        raise IndexError("lamina: an index can only have a single ellipsis ('...')")
    if n_real > t.ndim:
        raise IndexError(f"lamina: too many indices for tensor of dimension {t.ndim} (got {n_real})")
    expanded = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (t.ndim - n_real))
        else:
            expanded.append(i)
    steps = []
    dim = 0  # the dimension of the current view the next index applies to
    shape = list(t.shape)
    for i in expanded:
        if i is None:
            steps.append(("unsqueeze", dim))
            shape.insert(dim, 1)
            dim += 1
        elif isinstance(i, slice):
            start, stop, step = i.start, i.stop, i.step
            step = 1 if step is None else int(step)
            if step <= 0:
                raise ValueError("lamina: slice step must be positive (negative strides are not supported)")
            size = shape[dim]
            start = 0 if start is None else int(start)
            stop = size if stop is None else int(stop)
            steps.append(("slice", dim, start, stop, step))
            s, e, st = slice(start, stop, step).indices(size)
            shape[dim] = len(range(s, e, st))
            dim += 1
        elif isinstance(i, (numbers.Integral, np.integer)) and not isinstance(i, bool):
            size = shape[dim]
            if not -size <= int(i) < size:
                raise IndexError(f"lamina: index {int(i)} is out of bounds for dimension {dim} with size {size}")
            steps.append(("select", dim, int(i)))
            shape.pop(dim)
        else:
            raise IndexError(f"lamina: unsupported index {i!r} of type {type(i).__name__}")
    return tuple(steps)


def _C_apply_steps(t: _C.Tensor, steps) -> _C.Tensor:
    return F.apply_view_steps(t, steps)


# ---------------------------------------------------------------------- op helpers

def _to_tensor_operand(x, dt: dtype, dev: device, op: str) -> _C.Tensor:
    if isinstance(x, Tensor):
        t = x._t
        if t.dtype != dt.name:
            t = _C.to_dtype(t, dt.name)
        return t
    return _C.full([], x, dt.name, dev._c)


def _device_of(a, b, op: str) -> device:
    da = a.device if isinstance(a, Tensor) else None
    db = b.device if isinstance(b, Tensor) else None
    if da is not None and db is not None and da != db:
        # As in PyTorch, a 0-d CPU tensor may join a CUDA tensor.
        if a.ndim == 0 and da.type == "cpu":
            return db
        if b.ndim == 0 and db.type == "cpu":
            return da
        raise ValueError(f"lamina.{op}: expected all tensors on the same device, got {da} and {db}")
    return da or db


def _prepare(a, dt: dtype, dev: device, op: str):
    """A lamina Tensor of dtype dt on dev (differentiable casts/moves when needed)."""
    if isinstance(a, Tensor):
        out = a
        if out.dtype is not dt:
            out = out._to_dtype(dt)
        if out.device != dev:
            out = F.ToDevice.apply(out, dev._c)
        return out
    if isinstance(a, (numbers.Number, np.generic)):
        return Tensor._wrap(_C.full([], a.item() if isinstance(a, np.generic) else a, dt.name, dev._c))
    raise TypeError(f"lamina.{op}: unsupported operand type {type(a).__name__}")


_ARITH = {F.ADD: F.Add, F.SUB: F.Sub, F.MUL: F.Mul, F.DIV: F.Div, F.POW: F.Pow}


_NUMERIC = ("float32", "float64", "int64")


def binary_op(a, b, op: int, name: str) -> Tensor:
    # Fast path: two tensors of one numeric dtype on one device, or a tensor and a Python
    # number that doesn't change its dtype (the common cases in a training step).
    if isinstance(a, Tensor):
        ta = a._t
        if isinstance(b, Tensor):
            tb = b._t
            same = ta.dtype == tb.dtype and ta.device == tb.device
        elif type(b) is float or type(b) is int:
            same = ta.dtype != "int64" or type(b) is int
            tb = _C.full([], b, ta.dtype, ta.device) if same and ta.dtype in _NUMERIC else None
        else:
            same = False
        if same and ta.dtype in _NUMERIC and tb is not None and not (op == F.DIV and ta.dtype == "int64"):
            fn = _ARITH.get(op)
            if fn is not None:
                return fn.apply(a, b if isinstance(b, Tensor) else Tensor._wrap(tb))
            if op < F.MAXIMUM or op > F.MINIMUM:
                return Tensor._wrap(_C.binary(op, ta, tb))
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"lamina.{name}: expected at least one tensor operand")
    for o in (a, b):
        if not isinstance(o, (Tensor, numbers.Number, np.generic)):
            if isinstance(o, (list, tuple, np.ndarray)):
                raise TypeError(f"lamina.{name}: unsupported operand of type {type(o).__name__}; "
                                "convert it with lamina.tensor(...) first")
            return NotImplemented
    a_ = a.item() if isinstance(a, np.generic) else a
    b_ = b.item() if isinstance(b, np.generic) else b
    dt = result_type(a_, b_)
    if op == F.DIV and not dt.is_floating_point:
        dt = float32
    if dt is bool_ and op in (F.ADD, F.MUL, F.MAXIMUM, F.MINIMUM):
        op = F.LOR if op in (F.ADD, F.MAXIMUM) else F.LAND  # as torch: True + True is True
    elif dt is bool_ and op == F.SUB:
        raise TypeError("lamina.sub: subtraction of bool tensors is not supported; use "
                        "logical_xor or convert with .long()")
    elif dt is bool_ and op in (F.POW, F.FLOORDIV, F.REMAINDER):
        dt = int64
    if op in (F.LAND, F.LOR):
        dt = result_type(a_, b_)
    dev = _device_of(a_, b_, name)
    x = _prepare(a_, dt, dev, name)
    y = _prepare(b_, dt, dev, name)
    fn = _ARITH.get(op)
    if fn is not None:
        return fn.apply(x, y)
    if op in (F.MAXIMUM, F.MINIMUM):
        return F.MaxMin.apply(x, y, op == F.MINIMUM)
    # comparisons, logical ops, floor_divide, remainder: no gradient (piecewise constant)
    return Tensor._wrap(_C.binary(op, x._t, y._t))


_FLOAT_ONLY = {F.EXP, F.LOG, F.SQRT, F.RSQRT, F.RECIPROCAL, F.SIN, F.COS, F.TANH, F.SIGMOID,
               F.LOG1P, F.EXPM1}


def unary_op(x: Tensor, op: int, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"lamina.{name}: expected a Tensor, got {type(x).__name__}")
    if op in _FLOAT_ONLY and not x.dtype.is_floating_point:
        x = x._to_dtype(float32)
    if op == F.LNOT:
        return Tensor._wrap(_C.unary(op, x._t))
    if x.dtype is bool_ and op != F.LNOT:
        x = x._to_dtype(int64)
    return F.Unary.apply(x, op)


def _correction(unbiased, correction) -> int:
    if correction is not None and unbiased is not None:
        raise ValueError("lamina.var: pass either 'unbiased' or 'correction', not both")
    if correction is not None:
        return int(correction)
    return 0 if unbiased is False else 1


def _reduce(x: Tensor, op: int, dim, keepdim: bool, name: str, correction: int = 1) -> Tensor:
    dims = _dim_list(dim, name)
    if op in (F.R_MEAN, F.R_VAR, F.R_STD) and not x.dtype.is_floating_point:
        raise TypeError(f"lamina.{name}: could not infer output dtype; input dtype must be floating "
                        f"point, got {x.dtype}")
    if x.dtype is bool_:
        x = x._to_dtype(int64)
    return F.Reduce.apply(x, op, tuple(dims) if dims is not None else None, bool(keepdim), correction)


def _arg_input(x: Tensor) -> _C.Tensor:
    return _C.to_dtype(x._t, "int64") if x.dtype is bool_ else x._t


def _max_min(x: Tensor, dim, keepdim: bool, is_min: bool):
    if dim is None:
        return _reduce(x, F.R_AMIN if is_min else F.R_AMAX, None, False, "min" if is_min else "max")
    vals, idx = F.MaxDim.apply(x if x.dtype is not bool_ else x._to_dtype(int64), int(dim), bool(keepdim), is_min)
    return _MaxResult(vals, idx)


class _MaxResult(tuple):
    """``(values, indices)`` as ``torch.return_types.max``."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


# ---------------------------------------------------------------------- module-level ops

def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """``torch.clamp``: NaN stays NaN; either bound may be None."""
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = out.maximum(min)
        if max is not None:
            out = out.minimum(max)
        return out
    if min is None and max is None:
        raise ValueError("lamina.clamp: at least one of 'min' or 'max' must not be None")
    if x.dtype is bool_:
        raise TypeError("lamina.clamp: not supported for bool tensors")
    if not x.dtype.is_floating_point and any(isinstance(v, float) for v in (min, max)):
        x = x._to_dtype(float32)
    return F.Clamp.apply(x, min, max)


def where(condition: Tensor, input, other) -> Tensor:
    """``torch.where(condition, input, other)`` with broadcasting."""
    if not isinstance(condition, Tensor):
        raise TypeError(f"lamina.where: argument 'condition' must be a Tensor, got {type(condition).__name__}")
    if condition.dtype is not bool_:
        raise TypeError(f"lamina.where: argument 'condition' must be a bool tensor, got {condition.dtype}")
    dt = result_type(input, other)
    dev = condition.device
    for o in (input, other):
        if isinstance(o, Tensor):
            dev = o.device if o.ndim > 0 or dev.type == "cpu" else dev
    x = _prepare(input, dt, dev, "where")
    y = _prepare(other, dt, dev, "where")
    return F.Where.apply(condition, x, y)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``torch.matmul``: 1-D operands are promoted to matrices and the added dim removed."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"lamina.matmul: expected two tensors, got {type(a).__name__} and {type(b).__name__}")
    an, bn = a._t.ndim, b._t.ndim
    if an == 0 or bn == 0:
        raise ValueError(f"lamina.matmul: both arguments need at least 1 dimension, got shapes "
                         f"{list(a.shape)} and {list(b.shape)}")
    if a._t.dtype != b._t.dtype:
        raise TypeError(f"lamina.matmul: expected both operands of the same dtype, got {a.dtype} and {b.dtype}")
    x = a.unsqueeze(0) if an == 1 else a
    y = b.unsqueeze(-1) if bn == 1 else b
    out = F.Matmul.apply(x, y)
    if bn == 1:
        out = out.squeeze(-1)
    if an == 1:
        out = out.squeeze(-2 if bn > 1 else -1)
    return out


def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"lamina.mm: expected 2-D tensors, got shapes {list(a.shape)} and {list(b.shape)}")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"lamina.bmm: expected 3-D tensors, got shapes {list(a.shape)} and {list(b.shape)}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"lamina.bmm: batch sizes differ: {list(a.shape)} and {list(b.shape)}")
    return matmul(a, b)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """``torch.cat``: all tensors share a dtype after promotion and a device."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("lamina.cat: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"lamina.cat: expected a sequence of Tensors, element {i} is {type(t).__name__}")
    dt = result_type(*[t for t in tensors if t.ndim > 0] or tensors)
    tensors = [t._to_dtype(dt) for t in tensors]
    return F.Cat.apply(int(dim), *tensors)


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """``torch.stack``: all tensors must have the same shape."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("lamina.stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"lamina.stack: expected a sequence of Tensors, element {i} is {type(t).__name__}")
        if t.shape != tensors[0].shape:
            raise ValueError(f"lamina.stack: expects each tensor to be equal size, but got "
                             f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at entry {i}")
    n = tensors[0].ndim + 1
    if not -n <= dim < n:
        raise IndexError(f"lamina.stack: dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    d = dim % n
    return cat([t.unsqueeze(d) for t in tensors], d)


# ---------------------------------------------------------------------- creation

def _infer_dtype_from_data(data) -> dtype:
    arr = np.asarray(data)
    if arr.dtype == np.bool_:
        return bool_
    if np.issubdtype(arr.dtype, np.integer):
        return int64
    if arr.dtype == np.float64 and isinstance(data, np.ndarray):
        return float64
    return float32


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, numpy arrays, tensors).

    >>> import lamina
    >>> lamina.tensor([[1, 2], [3, 4]]).dtype
    lamina.int64
    """
    if isinstance(data, Tensor):
        out = data.detach().clone()
        if dtype is not None:
            out = out._to_dtype(to_dtype(dtype, "tensor"))
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            data = _nested_to_numpy(data)
        try:
            arr = np.array(data, copy=True)
        except (ValueError, TypeError) as e:
            raise ValueError(f"lamina.tensor: could not convert data to an array (nested sequences "
                             f"must be rectangular and numeric): {e}") from None
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise TypeError(f"lamina.tensor: can't build a tensor from data of type {arr.dtype} "
                            "(nested sequences must be rectangular and numeric)")
        dt = to_dtype(dtype, "tensor") if dtype is not None else _infer_dtype_from_data(data)
        if dt._np is None:
            raise TypeError(f"lamina.tensor: dtype {dt} can't be created from host data yet")
        arr = np.array(arr, dtype=dt._np, order="C", copy=True)
        out = Tensor._wrap(_C.from_numpy(arr))
    if device is not None:
        out = out.to(device)
    if requires_grad:
        out = out.detach()
        out.requires_grad_(True)
    return out


def _flat(seq):
    for x in seq:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _nested_to_numpy(seq):
    return [(_nested_to_numpy(x) if isinstance(x, (list, tuple)) else
             (x.detach().cpu().numpy() if isinstance(x, Tensor) else x)) for x in seq]


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with numpy arrays and tensors when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray) and (dtype is None or to_dtype(dtype)._np == data.dtype):
        try:
            out = from_numpy(data)
        except (TypeError, ValueError):
            return tensor(data, dtype=dtype, device=device)
        return out.to(device) if device is not None else out
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (float32, float64, int64, bool).

    >>> import numpy as np, lamina
    >>> a = np.zeros(3, dtype=np.float32)
    >>> t = lamina.from_numpy(a)
    >>> t[0] = 5.0
    >>> a[0]
    np.float32(5.0)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"lamina.from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(_C.from_numpy(array))


def from_dlpack(ext) -> Tensor:
    """A tensor sharing memory with any object that implements ``__dlpack__`` (or a capsule)."""
    if hasattr(ext, "__dlpack__"):
        dev_type = None
        if hasattr(ext, "__dlpack_device__"):
            dev_type, _ = ext.__dlpack_device__()
        if dev_type == 2:  # CUDA: ask the producer to sync with the default stream
            capsule = ext.__dlpack__(stream=1)
        else:
            capsule = ext.__dlpack__()
    else:
        capsule = ext
    if type(capsule).__name__ != "PyCapsule":
        raise TypeError(f"lamina.from_dlpack: expected an object with __dlpack__ or a DLPack capsule, "
                        f"got {type(ext).__name__}")
    return Tensor._wrap(_C.from_dlpack_capsule(capsule))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)
