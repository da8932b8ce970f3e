"""``gradcheck``: compares analytical gradients with central finite differences in float64,
like ``torch.autograd.gradcheck``."""

from __future__ import annotations

import numpy as np

from .. import _C


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical Jacobians differ."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0) -> bool:
    """Checks d func(*inputs) / d inputs for every input that requires grad.

    Inputs that require grad must be float64 (single precision is too coarse for finite
    differences). For each output element the analytical row of the Jacobian comes from one
    backward pass; each numerical column from two forward passes with the input nudged by
    ``eps``. Passes when ``|analytical - numerical| <= atol + rtol * |numerical|`` everywhere.

    >>> import lamina
    >>> x = lamina.randn(3, dtype=lamina.float64, requires_grad=True)
    >>> lamina.autograd.gradcheck(lambda t: (t * t).sum(), (x,))
    True
    """
    from ..autograd.grad_mode import no_grad
    from ..tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("lamina.gradcheck: at least one input must require grad")
    for i in diff:
        if inputs[i].dtype.name != "float64":
            raise TypeError(f"lamina.gradcheck: input {i} requires grad but is {inputs[i].dtype}; "
                            "gradcheck needs float64 inputs")

    def run():
        return tuple(o for o in _as_tuple(func(*inputs)))

    outs = run()
    out_sizes = [o.numel() for o in outs]
    # Numerical Jacobians: d out_j / d in_i, one column per input element.
    numerical = {}
    with no_grad():
        for i in diff:
            x = inputs[i]
            host = _C.to_device(x._t, "cpu")
            arr = np.asarray(host)
            flat_idx = list(np.ndindex(*arr.shape)) if arr.ndim else [()]
            cols = [np.zeros((len(flat_idx), n)) for n in out_sizes]
            for k, idx in enumerate(flat_idx):
                orig = arr[idx].item()
                arr[idx] = orig + eps
                _C.copy_(x._t, host) if not host.shares_storage(x._t) else None
                plus = [np.asarray(_C.to_device(_C.to_dtype(o._t, "float64"), "cpu")).ravel().copy() for o in run()]
                arr[idx] = orig - eps
                _C.copy_(x._t, host) if not host.shares_storage(x._t) else None
                minus = [np.asarray(_C.to_device(_C.to_dtype(o._t, "float64"), "cpu")).ravel().copy() for o in run()]
                arr[idx] = orig
                _C.copy_(x._t, host) if not host.shares_storage(x._t) else None
                for j in range(len(outs)):
                    cols[j][k] = (plus[j] - minus[j]) / (2 * eps)
            numerical[i] = cols

    # Analytical Jacobians: one backward per output element.
    analytical = {i: [np.zeros((inputs[i].numel(), n)) for n in out_sizes] for i in diff}
    from . import grad as autograd_grad

    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for e in range(out_sizes[j]):
            onehot = np.zeros(out_sizes[j])
            onehot[e] = 1.0
            g = Tensor._wrap(_C.to_device(_C.to_dtype(_C.from_numpy(onehot.reshape(tuple(o.shape))), o._t.dtype), o._t.device))
            res = autograd_grad([o], [inputs[i] for i in diff], grad_outputs=[g], retain_graph=True,
                                allow_unused=True)
            for i, r in zip(diff, res):
                if r is not None:
                    analytical[i][j][:, e] = np.asarray(_C.to_device(_C.to_dtype(r._t, "float64"), "cpu")).ravel()

    for i in diff:
        for j in range(len(outs)):
            a, n = analytical[i][j], numerical[i][j]
            if not np.all(np.isfinite(a) == np.isfinite(n)) or not np.allclose(a, n, rtol=rtol, atol=atol, equal_nan=False):
                bad = np.argmax(np.abs(a - n) - rtol * np.abs(n))
                msg = (f"lamina.gradcheck: Jacobian mismatch for output {j} with respect to input {i}\n"
                       f"numerical:\n{n}\nanalytical:\n{a}\n"
                       f"worst element {np.unravel_index(bad, a.shape)}: analytical "
                       f"{a.flat[bad]!r} vs numerical {n.flat[bad]!r}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True
