"""The differentiable ops of the tensor core, each a Function over one or a few C++ calls.

Forward and backward receive and return ``lamina._C.Tensor``. Gradients of broadcast operands
are summed back to their shapes with ``sum_to_size``.
"""

from __future__ import annotations

from . import _C
from .autograd.function import Function

# Op codes: the order of BinaryOp / UnaryOp / ReduceOp in csrc/ops/*.h.
ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, FLOORDIV, REMAINDER = range(9)
EQ, NE, LT, LE, GT, GE, LAND, LOR = range(9, 17)
(NEG, EXP, LOG, SQRT, RSQRT, ABS, SIGN, RECIPROCAL, SIN, COS, TANH, SIGMOID, LOG1P, EXPM1,
 FLOOR, CEIL, ROUND, LNOT, RELU) = range(19)
R_SUM, R_MEAN, R_VAR, R_STD, R_AMAX, R_AMIN = range(6)

b = _C.binary
u = _C.unary


def scalar_like(x: _C.Tensor, value) -> _C.Tensor:
    return _C.full([], value, x.dtype, x.device)


def reduce_to(g: _C.Tensor, shape) -> _C.Tensor:
    return _C.sum_to_size(g, list(shape)) if tuple(g.shape) != tuple(shape) else g


def zeros_like(x: _C.Tensor) -> _C.Tensor:
    return _C.full(list(x.shape), 0, x.dtype, x.device)


# ---------------------------------------------------------------- elementwise binary


class Add(Function):
    @staticmethod
    def forward(ctx, a, b_):
        ctx.shapes = (a.shape, b_.shape)
        return b(ADD, a, b_)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (reduce_to(g, sa) if ctx.needs_input_grad[0] else None,
                reduce_to(g, sb) if ctx.needs_input_grad[1] else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b_):
        ctx.shapes = (a.shape, b_.shape)
        return b(SUB, a, b_)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (reduce_to(g, sa) if ctx.needs_input_grad[0] else None,
                reduce_to(u(NEG, g), sb) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b_):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b_ if ctx.needs_input_grad[0] else None)
        ctx.shapes = (a.shape, b_.shape)
        return b(MUL, a, b_)

    @staticmethod
    def backward(ctx, g):
        a, b_ = ctx.saved_tensors
        sa, sb = ctx.shapes
        return (reduce_to(b(MUL, g, b_), sa) if ctx.needs_input_grad[0] else None,
                reduce_to(b(MUL, g, a), sb) if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b_):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b_)
        ctx.shapes = (a.shape, b_.shape)
        return b(DIV, a, b_)

    @staticmethod
    def backward(ctx, g):
        a, b_ = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = gb = None
        g_over_b = b(DIV, g, b_)
        if ctx.needs_input_grad[0]:
            ga = reduce_to(g_over_b, sa)
        if ctx.needs_input_grad[1]:  # -g * a / b^2
            gb = reduce_to(u(NEG, b(DIV, b(MUL, g_over_b, a), b_)), sb)
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx, a, e):
        out = b(POW, a, e)
        ctx.save_for_backward(a, e, out if ctx.needs_input_grad[1] else None)
        ctx.shapes = (a.shape, e.shape)
        return out

    @staticmethod
    def backward(ctx, g):
        a, e, out = ctx.saved_tensors
        sa, se = ctx.shapes
        ga = ge = None
        if ctx.needs_input_grad[0]:
            # g * e * a^(e-1), and 0 where e == 0 (as PyTorch defines it).
            one = scalar_like(e, 1)
            d = b(MUL, e, b(POW, a, b(SUB, e, one)))
            d = _C.where(b(EQ, e, scalar_like(e, 0)), scalar_like(d, 0), d)
            ga = reduce_to(b(MUL, g, d), sa)
        if ctx.needs_input_grad[1]:
            # g * a^e * log(a), and 0 where a == 0 and e >= 0.
            d = b(MUL, out, u(LOG, a))
            mask = b(LAND, b(EQ, a, scalar_like(a, 0)), b(GE, e, scalar_like(e, 0)))
            d = _C.where(mask, scalar_like(d, 0), d)
            ge = reduce_to(b(MUL, g, d), se)
        return ga, ge


class MaxMin(Function):
    """maximum/minimum: the gradient goes to the larger (smaller) input, split evenly on ties."""

    @staticmethod
    def forward(ctx, a, b_, is_min):
        ctx.save_for_backward(a, b_)
        ctx.shapes = (a.shape, b_.shape)
        ctx.is_min = is_min
        return b(MINIMUM if is_min else MAXIMUM, a, b_)

    @staticmethod
    def backward(ctx, g):
        a, b_ = ctx.saved_tensors
        sa, sb = ctx.shapes
        win = b(LT if ctx.is_min else GT, a, b_)
        tie = b(EQ, a, b_)
        half = b(MUL, g, scalar_like(g, 0.5))
        zero = scalar_like(g, 0)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = reduce_to(_C.where(win, g, _C.where(tie, half, zero)), sa)
        if ctx.needs_input_grad[1]:
            lose = b(LAND, u(LNOT, win), u(LNOT, tie))
            gb = reduce_to(_C.where(lose, g, _C.where(tie, half, zero)), sb)
        return ga, gb, None


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b_):
        ctx.save_for_backward(cond)
        ctx.shapes = (a.shape, b_.shape)
        return _C.where(cond, a, b_)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        sa, sb = ctx.shapes
        zero = scalar_like(g, 0)
        return (None,
                reduce_to(_C.where(cond, g, zero), sa) if ctx.needs_input_grad[1] else None,
                reduce_to(_C.where(cond, zero, g), sb) if ctx.needs_input_grad[2] else None)


class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return _C.clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = None
        if lo is not None:
            mask = b(GE, x, scalar_like(x, lo))
        if hi is not None:
            m2 = b(LE, x, scalar_like(x, hi))
            mask = m2 if mask is None else b(LAND, mask, m2)
        return _C.where(mask, g, scalar_like(g, 0)), None, None


# ---------------------------------------------------------------- elementwise unary


def _unary_backward(op, x, out, g):
    if op == NEG:
        return u(NEG, g)
    if op == EXP:
        return b(MUL, g, out)
    if op == LOG:
        return b(DIV, g, x)
    if op == SQRT:
        return b(DIV, g, b(MUL, out, scalar_like(out, 2)))
    if op == RSQRT:  # -0.5 * g * out^3
        return b(MUL, g, b(MUL, scalar_like(out, -0.5), b(MUL, out, b(MUL, out, out))))
    if op == ABS:
        return b(MUL, g, u(SIGN, x))
    if op == RECIPROCAL:
        return u(NEG, b(MUL, g, b(MUL, out, out)))
    if op == SIN:
        return b(MUL, g, u(COS, x))
    if op == COS:
        return u(NEG, b(MUL, g, u(SIN, x)))
    if op == TANH:
        return b(MUL, g, b(SUB, scalar_like(out, 1), b(MUL, out, out)))
    if op == SIGMOID:
        return b(MUL, g, b(MUL, out, b(SUB, scalar_like(out, 1), out)))
    if op == LOG1P:
        return b(DIV, g, b(ADD, x, scalar_like(x, 1)))
    if op == EXPM1:
        return b(MUL, g, b(ADD, out, scalar_like(out, 1)))
    if op == RELU:
        return _C.where(b(GT, out, scalar_like(out, 0)), g, scalar_like(g, 0))
    # sign, floor, ceil, round: zero almost everywhere
    return zeros_like(g)


_SAVES_OUT = {EXP, SQRT, RSQRT, RECIPROCAL, TANH, SIGMOID, EXPM1, RELU}
_SAVES_IN = {LOG, ABS, SIN, COS, LOG1P}


class Unary(Function):
    @staticmethod
    def forward(ctx, x, op):
        out = u(op, x)
        ctx.op = op
        ctx.save_for_backward(x if op in _SAVES_IN else None, out if op in _SAVES_OUT else None)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return _unary_backward(ctx.op, x, out, g), None


# ---------------------------------------------------------------- reductions


def _expand_back(g, in_shape, dims, keepdim):
    """Undo a reduction's shape change: unsqueeze the reduced dims, then expand."""
    if not keepdim:
        for d in sorted(dims):
            g = g.unsqueeze(d)
    return g.expand(list(in_shape))


def _norm_dims(dims, ndim):
    if dims is None or len(dims) == 0:
        return list(range(ndim))
    n = max(ndim, 1)
    return sorted({d % n for d in dims}) if ndim > 0 else []


class Reduce(Function):
    @staticmethod
    def forward(ctx, x, op, dims, keepdim, correction):
        out = _C.reduce(op, x, list(dims or []), keepdim, correction)
        ctx.op, ctx.keepdim, ctx.correction = op, keepdim, correction
        ctx.dims = _norm_dims(dims, x.ndim)
        ctx.in_shape = x.shape
        ctx.save_for_backward(x if op != R_SUM and op != R_MEAN else None,
                              out if op in (R_STD, R_AMAX, R_AMIN) else None)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        shape, dims, keep = ctx.in_shape, ctx.dims, ctx.keepdim
        n = 1
        for d in dims:
            n *= shape[d]
        op = ctx.op
        ge = _expand_back(g, shape, dims, keep)
        if op == R_SUM:
            return _C.contiguous(ge), None, None, None, None
        if op == R_MEAN:
            return b(DIV, ge, scalar_like(g, n)), None, None, None, None
        if op in (R_VAR, R_STD):
            mean = _C.reduce(R_MEAN, x, dims, True, 0)
            centered = b(SUB, x, mean)
            denom = scalar_like(g, max(0, n - ctx.correction))
            d = b(DIV, b(MUL, centered, scalar_like(g, 2)), denom)  # d var / dx
            if op == R_STD:
                d = b(DIV, d, b(MUL, _expand_back(out, shape, dims, keep), scalar_like(g, 2)))
            return b(MUL, ge, d), None, None, None, None
        # amax / amin: evenly among the elements equal to the extreme
        mask = _C.to_dtype(b(EQ, x, _expand_back(out, shape, dims, keep)), x.dtype)
        count = _C.reduce(R_SUM, mask, dims, True, 0)
        return b(DIV, b(MUL, ge, mask), count), None, None, None, None


class MaxDim(Function):
    """torch.max(x, dim) / torch.min(x, dim): values and int64 indices."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_min):
        values, indices = _C.max_dim(x, dim, keepdim, is_min)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim % max(x.ndim, 1), keepdim
        return values, indices

    @staticmethod
    def backward(ctx, g, _gi):
        (indices,) = ctx.saved_tensors
        shape, dim = ctx.in_shape, ctx.dim
        if len(shape) == 0:
            return g, None, None, None
        if not ctx.keepdim:
            g = g.unsqueeze(dim)
            indices = indices.unsqueeze(dim)
        pos = _C.arange(0, shape[dim], 1, "int64", g.device)
        view = [1] * len(shape)
        view[dim] = shape[dim]
        hit = b(EQ, pos.view(view), indices)
        return _C.where(hit, g, scalar_like(g, 0)), None, None, None


# ---------------------------------------------------------------- views and copies


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return _C.reshape(x, list(shape))

    @staticmethod
    def backward(ctx, g):
        return _C.reshape(g, list(ctx.in_shape)), None


class View(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.view(list(shape))

    @staticmethod
    def backward(ctx, g):
        return _C.reshape(g, list(ctx.in_shape)), None


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = [d % max(x.ndim, 1) for d in dims]
        return x.permute(list(dims))

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inv[d] = i
        return g.permute(inv), None


class Transpose(Function):
    @staticmethod
    def forward(ctx, x, d0, d1):
        ctx.d = (d0, d1)
        return x.transpose(d0, d1)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(*ctx.d), None, None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.expand(list(shape))

    @staticmethod
    def backward(ctx, g):
        return reduce_to(g, ctx.in_shape), None


class ViewOps(Function):
    """A chain of view steps (basic indexing): backward scatters into zeros through the same
    chain."""

    @staticmethod
    def forward(ctx, x, steps):
        ctx.in_meta = (x.shape, x.dtype, x.device)
        ctx.steps = steps
        return apply_view_steps(x, steps)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, device = ctx.in_meta
        if all(step[0] in ("unsqueeze", "squeeze") for step in ctx.steps):
            return _C.reshape(g, list(shape)), None  # the same elements: no zeros to scatter into
        gx = _C.full(list(shape), 0, dtype, device)
        _C.copy_(apply_view_steps(gx, ctx.steps), g)
        return gx, None


def apply_view_steps(x, steps):
    for step in steps:
        kind = step[0]
        if kind == "select":
            x = x.select(step[1], step[2])
        elif kind == "slice":
            x = x.slice(step[1], step[2], step[3], step[4])
        elif kind == "unsqueeze":
            x = x.unsqueeze(step[1])
        elif kind == "squeeze":
            x = x.squeeze(step[1])
        elif kind == "narrow":
            x = x.narrow(step[1], step[2], step[3])
    return x


class Contiguous(Function):
    @staticmethod
    def forward(ctx, x):
        return _C.contiguous(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return _C.clone(x)

    @staticmethod
    def backward(ctx, g):
        return g


class ToDtype(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return _C.to_dtype(x, dtype)

    @staticmethod
    def backward(ctx, g):
        return _C.to_dtype(g, ctx.in_dtype), None


class ToDevice(Function):
    @staticmethod
    def forward(ctx, x, device):
        ctx.in_device = x.device
        return _C.to_device(x, device)

    @staticmethod
    def backward(ctx, g):
        return _C.to_device(g, ctx.in_device), None


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *xs):
        out = _C.cat(list(xs), dim)
        ctx.dim = dim % max(out.ndim, 1)
        ctx.sizes = [x.shape[ctx.dim] if not (x.ndim == 1 and x.numel == 0) else None for x in xs]
        return out

    @staticmethod
    def backward(ctx, g):
        grads, at = [None], 0
        for i, n in enumerate(ctx.sizes):
            if n is None:
                grads.append(_C.full([0], 0, g.dtype, g.device) if ctx.needs_input_grad[i + 1] else None)
                continue
            grads.append(g.narrow(ctx.dim, at, n) if ctx.needs_input_grad[i + 1] else None)
            at += n
        return tuple(grads)


class Matmul(Function):
    """a [..., M, K] @ b [..., K, N] with broadcast batch dims."""

    @staticmethod
    def forward(ctx, a, b_):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b_ if ctx.needs_input_grad[0] else None)
        ctx.shapes = (a.shape, b_.shape)
        return _C.matmul(a, b_)

    @staticmethod
    def backward(ctx, g):
        a, b_ = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = reduce_to(_C.matmul(g, b_.transpose(-1, -2)), sa)
        if ctx.needs_input_grad[1]:
            gb = reduce_to(_C.matmul(a.transpose(-1, -2), g), sb)
        return ga, gb
